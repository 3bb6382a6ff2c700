#!/usr/bin/env bash
# Fuzz the delegation policy on the host: build the cargo-fuzz targets of
# host/fuzz/ (libFuzzer over the kernel's own kernel/bpf/delegation/*.rs)
# and run each for FUZZ_SECONDS (default 600) from a work copy of the
# committed seeds in out/fuzz/corpus/ (new inputs stay there, never in the
# repo).  A crash or a property failure fails its target and leaves the
# input in out/fuzz/artifacts/TARGET/.
#
#   FUZZ_SECONDS=10 scripts/fuzz.sh        # the smoke run of the test suite
#   FUZZ_TARGETS="params" scripts/fuzz.sh  # only some targets
#   FUZZ_FRESH=1 ...                       # start again from the seeds only
#
# Ends with one line per target, 'fuzz TARGET: N execs in S s, 0 crashes',
# then 'fuzz: N passed, M failed' (progress goes to stderr); exits non-zero
# if any target failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-600}
case $FUZZ_SECONDS in '' | *[!0-9]* | 0) die "FUZZ_SECONDS must be a positive number of seconds" ;; esac
fuzz_dir=$top/host/fuzz
work=$OUT/fuzz
target_dir=$OUT/fuzz-target
bin_dir=$target_dir/x86_64-unknown-linux-gnu/release
[ -x "$TOOLS/cargo-fuzz/bin/cargo-fuzz" ] || die "cargo-fuzz is missing: run 'make setup' first"

# cargo-fuzz passes -Z flags and cfg(fuzzing); the stable toolchain takes
# them with RUSTC_BOOTSTRAP=1, so no nightly is needed.  The policy is safe
# Rust without unsafe code, so no sanitizer: coverage, debug assertions and
# overflow checks only.
cargo_fuzz() {
	PATH="$TOOLS/cargo-fuzz/bin:$PATH" RUSTC_BOOTSTRAP=1 cargo fuzz "$@" --fuzz-dir "$fuzz_dir"
}

read -ra targets <<<"${FUZZ_TARGETS:-$(cargo_fuzz list | paste -sd' ')}"
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets"

mkdir -p "$work"
# cargo fuzz build has no --locked: check the committed lock file first.
cargo fetch --locked --manifest-path "$fuzz_dir/Cargo.toml" >"$work/build.log" 2>&1 ||
	{ cat "$work/build.log" >&2; die "host/fuzz/Cargo.lock is out of date"; }
log "building fuzz targets: ${targets[*]} (log: $work/build.log)"
t0=$(date +%s)
if ! cargo_fuzz build -O --debug-assertions --sanitizer none --target-dir "$target_dir" \
	>>"$work/build.log" 2>&1; then
	tail -n 30 "$work/build.log" >&2
	echo "fuzz: 0 passed, ${#targets[@]} failed (build)"
	exit 1
fi
log "built in $(($(date +%s) - t0)) s"

passed=0
failed=0
summary=()
for t in "${targets[@]}"; do
	corpus=$work/corpus/$t
	artifacts=$work/artifacts/$t
	[ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
	mkdir -p "$corpus" "$artifacts"
	[ -d "$fuzz_dir/corpus/$t" ] && cp -n "$fuzz_dir/corpus/$t"/* "$corpus"/ 2>/dev/null || true
	log "fuzz $t for $FUZZ_SECONDS s (corpus: $corpus, log: $work/$t.log)"
	start=$(date +%s.%N)
	rc=0
	# -max_len: the blob target must reach sizes over a page (4096).
	"$bin_dir/$t" "$corpus" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		-max_len=4200 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
		>"$work/$t.log" 2>&1 || rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -n1)
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/$t.log" | tail -n1)
	if [ "$rc" = 0 ] && [ -z "$crash" ] && [ -n "$execs" ]; then
		passed=$((passed + 1))
		line=$(printf 'fuzz %s: %s execs in %.0f s, 0 crashes (%s execs/s)' "$t" "$execs" "$secs" "${rate:-?}")
	else
		failed=$((failed + 1))
		# The property that failed: the panic message, or libFuzzer's error.
		grep -m1 -A3 -E "panicked at|^==[0-9]+== ERROR|ERROR: libFuzzer" "$work/$t.log" >&2 || tail -n 20 "$work/$t.log" >&2
		line=$(printf 'fuzz %s: %s execs in %.0f s, 1 crash (exit %s): %s' "$t" "${execs:-?}" "$secs" "$rc" "${crash:-no artefact, see $work/$t.log}")
		[ -n "$crash" ] && log "reproduce: FUZZ_DEBUG=1 $bin_dir/$t $crash"
	fi
	log "$line"
	summary+=("$line")
done

printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
