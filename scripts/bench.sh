#!/usr/bin/env bash
# Benchmark the bpf() paths bpffs delegation touches, on the vanilla and the
# patched kernel, and write out/bench/report.md.
#
#   scripts/bench.sh                 full variant (~10 min on 2 cores, TCG)
#   BENCH_SHORT=1 scripts/bench.sh   short variant for CI (~3 min)
#
# For each kernel: build it if needed (scripts/build.sh), build
# delegation_bench against its uAPI headers, boot it under QEMU icount
# ("-icount shift=0,sleep=off": a guest nanosecond is one guest instruction,
# so the figures are instruction counts and repeat across runs) and once
# more without icount for wall-clock figures.  Then scripts/devloop.sh
# measures the developer loop and scripts/bench-report.py writes the report.
#
# Exits non-zero when a kernel does not build, a VM does not finish or the
# bench program fails; a ratio above its goal is reported (ABOVE), never an
# error.  Settings: BENCH_OUT (results, default out/bench), BENCH_NO_BUILD=1
# (use the kernels as they are), BENCH_ICOUNT_BOOTS / BENCH_WALL_BOOTS (boots
# per kernel), BENCH_ROUNDS, BENCH_ITERS, BENCH_SCALE, BENCH_CONC_MS and
# BENCH_CONC_ROUNDS (the concurrency case: milliseconds a run, rounds),
# BENCH_NO_DEVLOOP=1.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup

t_start=$(date +%s)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
BENCH=${BENCH_OUT:-$OUT/bench}
if [ "${BENCH_SHORT:-0}" = 1 ]; then
	variant=short
	: "${BENCH_ROUNDS:=5}" "${BENCH_ITERS:=40}" "${BENCH_SCALE:=100}"
	: "${BENCH_ICOUNT_BOOTS:=1}" "${BENCH_WALL_BOOTS:=1}"
	: "${BENCH_CONC_MS:=300}" "${BENCH_CONC_ROUNDS:=3}"
else
	variant=full
	: "${BENCH_ROUNDS:=15}" "${BENCH_ITERS:=200}" "${BENCH_SCALE:=1000}"
	: "${BENCH_ICOUNT_BOOTS:=3}" "${BENCH_WALL_BOOTS:=2}"
	: "${BENCH_CONC_MS:=1000}" "${BENCH_CONC_ROUNDS:=7}"
fi
# /dev/kvm is there but a KVM guest hangs here: do not spend 30 s probing it
# on every boot unless asked.
export VM_ACCEL=${VM_ACCEL:-tcg}
ICOUNT_OPTS="-icount shift=0,sleep=off"

mkdir -p "$BENCH"
rm -rf "$BENCH"/run-* "$BENCH"/bin "$BENCH/report.md" "$BENCH/bench.env"
mkdir -p "$BENCH/bin"
log "bench ($variant): $BENCH_ROUNDS rounds x $BENCH_ITERS iterations, scale $BENCH_SCALE," \
	"$BENCH_ICOUNT_BOOTS icount + $BENCH_WALL_BOOTS wall-clock boot(s) per kernel"

# 1. Kernels and the bench program, built against each kernel's uAPI headers.
declare -A build_s=()
for kind in vanilla patched; do
	base_only=0
	[ "$kind" = vanilla ] && base_only=1
	B="$OUT/build-$kind"
	if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
		t=$(date +%s)
		BASE_ONLY=$base_only NO_DELEGATION=0 "$top/scripts/build.sh" ||
			die "the $kind kernel did not build"
		build_s[$kind]=$(($(date +%s) - t))
	fi
	[ -f "$B/arch/x86/boot/bzImage" ] || die "no $kind kernel at $B (run without BENCH_NO_BUILD)"
	[ -d "$B/usr/include/linux" ] || die "no uAPI headers in $B/usr/include"
	gcc -static -O2 -Wall -pthread -isystem "$B/usr/include" \
		-o "$BENCH/bin/delegation_bench-$kind" \
		"$top/tools/testing/selftests/bpffs_delegation/delegation_bench.c" ||
		die "delegation_bench does not build against the $kind headers"
done

# 2. Boots.  The bench pins itself to CPU 0 (-c 0): the child user namespace,
# its parent and the kworkers they wake then share one CPU, which makes
# the instruction counts repeat.  The concurrency case (-K) runs in the
# patched kernel's wall-clock boots: two threads on the guest's two vCPUs
# (QEMU's multi-threaded TCG runs them in parallel; icount would run them
# in turn).
bench_args() { # $1 = kind, $2 = icount|wall
	local a=(-r "$BENCH_ROUNDS" -n "$BENCH_ITERS" -s "$BENCH_SCALE" -c 0)
	if [ "$1" = patched ]; then
		# The series' own flow, and upstream's on the same kernel for the scale case.
		a+=(-f -m delegate -M delegate,upstream)
		[ "$2" = wall ] && a+=(-K "$BENCH_CONC_MS" -k "$BENCH_CONC_ROUNDS")
	else
		a+=(-m upstream -M upstream)
	fi
	echo "${a[@]}"
}

failed=0
run_boot() { # $1 = kind, $2 = icount|wall, $3 = index
	local kind=$1 clock=$2 i=$3 R rc=0 limit
	R="$BENCH/run-$kind-$clock-$i"
	mkdir -p "$R"
	R=$(cd "$R" && pwd)
	limit=$([ "$variant" = short ] && echo 300 || echo 900)
	local cmd dump=""
	# Every sample of the icount boots, for the report's look at the modes.
	[ "$clock" = icount ] && dump="-D $R/samples.txt"
	cmd="cat /proc/uptime >$R/uptime-at-start;"
	# Without address-space randomisation in the guest, the instruction
	# counts of one kernel agree from boot to boot to a few tenths of a
	# percent; with it, they moved by up to several percent.
	cmd+=" echo 0 >/proc/sys/kernel/randomize_va_space;"
	cmd+=" $BENCH/bin/delegation_bench-$kind $(bench_args "$kind" "$clock") $dump >$R/out.txt 2>$R/err.txt;"
	cmd+=" echo \$? >$R/rc"
	local qopts=""
	[ "$clock" = icount ] && qopts=$ICOUNT_OPTS
	log "$kind kernel, $clock, boot $i (host load: $(cut -d' ' -f1-3 /proc/loadavg))"
	# Wall-clock figures mean little on a busy host: keep its load with them.
	cut -d' ' -f1 /proc/loadavg >"$R/load-before"
	VM_QEMU_OPTS="$qopts" "$top/scripts/vm-run.sh" "$OUT/build-$kind/arch/x86/boot/bzImage" \
		"$R" "$limit" -- sh -c "$cmd" || rc=$?
	cut -d' ' -f1 /proc/loadavg >"$R/load-after"
	if [ "$rc" != 0 ] || [ "$(cat "$R/rc" 2>/dev/null)" != 0 ] ||
		! grep -q '^result ok' "$R/out.txt" 2>/dev/null; then
		printf 'error: delegation_bench failed on the %s kernel (%s, boot %s), vm-run %s, rc %s\n' \
			"$kind" "$clock" "$i" "$rc" "$(cat "$R/rc" 2>/dev/null || echo none)" >&2
		[ -s "$R/err.txt" ] && sed 's/^/    /' "$R/err.txt" >&2
		[ -f "$R/out.txt" ] || tail -n 20 "$R/console.log" >&2 || true
		failed=1
	fi
}

# Kernels alternate, so that a slow phase of the host hits both.
for ((i = 1; i <= BENCH_ICOUNT_BOOTS; i++)); do
	for kind in vanilla patched; do run_boot "$kind" icount "$i"; done
done
for ((i = 1; i <= BENCH_WALL_BOOTS; i++)); do
	for kind in vanilla patched; do run_boot "$kind" wall "$i"; done
done
t_boots=$(date +%s)

# 3. The developer loop (its own script).  Short: only what is cheap, i.e.
# no rebuild and no extra boot; the boot figure comes from a bench boot and
# the no-op build from step 1.
if [ "${BENCH_NO_DEVLOOP:-0}" != 1 ]; then
	dl_env=(DEVLOOP_OUT="$BENCH/devloop.txt")
	[ "$variant" = short ] && dl_env+=(DEVLOOP_REBUILD=0 DEVLOOP_BOOT=0
		DEVLOOP_BOOT_FROM="$BENCH/run-patched-wall-1")
	env "${dl_env[@]}" "$top/scripts/devloop.sh" ||
		log "devloop.sh failed; the report says so"
fi

# 4. Machine and the report.
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "variant=$variant"
	echo "rounds=$BENCH_ROUNDS"
	echo "iters=$BENCH_ITERS"
	echo "scale=$BENCH_SCALE"
	echo "conc_ms=$BENCH_CONC_MS"
	echo "conc_rounds=$BENCH_CONC_ROUNDS"
	echo "icount_boots=$BENCH_ICOUNT_BOOTS"
	echo "wall_boots=$BENCH_WALL_BOOTS"
	echo "icount_opts=$ICOUNT_OPTS"
	echo "nproc=$(nproc)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1)"
	echo "accel=$(cat "$BENCH"/run-*/accel 2>/dev/null | sort -u | paste -sd, -)"
	echo "host_kernel=$(uname -r)"
	echo "base_version=$(cat "$OUT/base-version" 2>/dev/null || echo unknown)"
	echo "load_at_start=$load_at_start"
	echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "git=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
	for kind in vanilla patched; do
		[ -n "${build_s[$kind]:-}" ] && echo "build_s_$kind=${build_s[$kind]}"
	done
	echo "boots_s=$((t_boots - t_start))"
} >"$BENCH/bench.env"

rc=0
python3 "$top/scripts/bench-report.py" "$BENCH" --elapsed "$(($(date +%s) - t_start))" || rc=$?
if [ "$rc" = 0 ]; then
	# The verdicts, on the terminal too.
	grep -E '^(OK|ABOVE|NOTE) ' "$BENCH/goal-check.txt" || true
fi
log "report: $BENCH/report.md ($variant variant, $(($(date +%s) - t_start)) s)"
[ "$failed" = 0 ] || die "delegation_bench failed (see above); the report covers what ran"
exit "$rc"
