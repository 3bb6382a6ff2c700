#!/usr/bin/env bash
# The whole test suite: host unit tests (cargo), kernel build, then in one VM
# boot the kselftests and the KUnit results from the kernel log.  Prints every
# failure by name and ends with 'N passed, N failed'; exits non-zero on any
# failure, a hung VM or a kernel splat.  BASE_ONLY=1 runs the compatibility
# tests against the vanilla kernel, NO_DELEGATION=1 against the patched tree
# built without Rust (the new keys must fail with EOPNOTSUPP there).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

t0=$(date +%s)
"$top/scripts/setup.sh"
t_setup=$(date +%s)

host_args=()
if has_delegation; then
	log "host unit tests (cargo test): the kernel's own policy sources, the CLI"
	mkdir -p "$OUT"
	: >"$OUT/host-tests.log"
	for manifest in host/Cargo.toml tools/bpf/bpf-delegate/Cargo.toml; do
		rc=0
		cargo test --locked --manifest-path "$top/$manifest" --target-dir "$OUT/cargo-target" 2>&1 |
			tee -a "$OUT/host-tests.log" || rc=$?
		[ "$rc" = 0 ] || echo "test result: FAILED. 0 passed; 1 failed; ($manifest)" >>"$OUT/host-tests.log"
	done
	passed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$OUT/host-tests.log" | paste -sd+ | bc)
	failed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$OUT/host-tests.log" | paste -sd+ | bc)
	host_args+=(--host "cargo test:${passed:-0}:${failed:-0}")

	# A short libFuzzer run over the same policy sources (make fuzz: longer).
	log "host fuzz smoke run (${FUZZ_SECONDS:=10} s per target)"
	rc=0
	FUZZ_SECONDS=$FUZZ_SECONDS "$top/scripts/fuzz.sh" 2>&1 | tee "$OUT/host-fuzz.log" || rc=$?
	verdict=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1:\2/p' "$OUT/host-fuzz.log")
	fpassed=${verdict%%:*} ffailed=${verdict##*:}
	if [ -z "$verdict" ] || { [ "$rc" != 0 ] && [ "$ffailed" = 0 ]; }; then
		ffailed=1
	fi
	host_args+=(--host "fuzz:${fpassed:-0}:${ffailed}")
fi
t_host=$(date +%s)

"$top/scripts/build.sh"
t_build=$(date +%s)
B=$(build_dir)
SRC=$(src_dir)

# Every flavour keeps upstream's behaviour; each adds its own tests.
TESTS=(upstream_compat_test)
kind=$(flavour)
[ "$kind" = debug ] && kind=patched # the debug kernel runs the whole suite
case "$kind" in
patched) TESTS+=(delegation_test gating_test consent_test cgroup_scope_test libbpf_test bpf_delegate_test.sh storm_test race_test lifetime_test) ;;
nodelegation) TESTS+=(nodelegation_test) ;;
esac
# Upstream's own token selftest needs vmlinux BTF and the BPF LSM.
has_btf && TESTS+=(upstream_token_test.sh)
kunit_args=()
has_delegation && kunit_args+=(--kunit-suite bpf_delegation)
[ "$(flavour)" = patched ] && kunit_args+=(--kunit-suite rust_doctests_kernel)
[ "$(flavour)" = debug ] && kunit_args+=(--kmemleak)

R=${RESULTS:-$OUT/results-$(flavour)}
rm -rf "$R"
mkdir -p "$R"
vm_rc=0
"$top/scripts/vm-run.sh" "$B/arch/x86/boot/bzImage" "$R" "${VM_TIMEOUT:-900}" -- \
	"$top/scripts/guest-tests.sh" "$R" "${TESTS[@]/#/$B/selftests/}" || vm_rc=$?
t_vm=$(date +%s)

log "times: setup $((t_setup - t0)) s, host tests $((t_host - t_setup)) s, build $((t_build - t_host)) s, VM $((t_vm - t_build)) s ($(cat "$R/accel" 2>/dev/null)), total $((t_vm - t0)) s"
[ -f "$R/guest-info" ] && sed 's/^/    /' "$R/guest-info" >&2
if [ "$vm_rc" != 0 ] && [ ! -f "$R/guest-done" ]; then
	echo "--- last 40 lines of the console ($R/console.log) ---" >&2
	tail -n 40 "$R/console.log" >&2 || true
fi
for t in "${TESTS[@]}"; do
	[ -f "$R/$t.tap" ] && grep -E '^(not ok|ok|#)' "$R/$t.tap" | grep -vE '^# (PASSED|OK|RUN|Totals)' | sed "s/^/$t: /" >&2
done
python3 "$top/scripts/report.py" "$R" "${TESTS[@]/#/--kselftest=}" "${kunit_args[@]}" "${host_args[@]}"
