#!/usr/bin/env bash
# Where the delegated bpf() path spends its instructions: for the vanilla and
# the patched kernel, boot under QEMU (icount, one vCPU, no KASLR) with a
# gdbstub, run delegation_bench with trace marks (-T), and single-step each
# marked call of the commands in TRACE_CMDS (map create and BTF load by
# default, program loads on request; as init root, through a token and
# through the bpffs root fd) from __x64_sys_bpf's entry until the close()
# after it has returned to user space.
# scripts/insn-trace-report.py then writes out/trace/report.md: totals per
# call and, function by function, what differs from the vanilla kernel.
#
#   scripts/insn-trace.sh      (~5 min a kernel for map + BTF after the kernels
#                              are built; ~25 more a kernel with programs)
#
# Not part of `make check` or CI: it is a measuring tool for issue-sized
# questions ("what are the remaining instructions spent on?").  Settings:
# TRACE_OUT (default out/trace), TRACE_NO_BUILD=1 (use the kernels as they
# are), TRACE_KINDS (default "vanilla patched"; the report needs both).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup
command -v gdb >/dev/null || die "gdb is missing (make setup installs it)"

T=${TRACE_OUT:-$OUT/trace}
rm -rf "$T"
mkdir -p "$T"
T=$(cd "$T" && pwd)
export VM_ACCEL=${VM_ACCEL:-tcg}

port=$((20000 + $$ % 20000))
kinds=${TRACE_KINDS:-vanilla patched}
# bpf() commands to step: BPF_MAP_CREATE (0) and BPF_BTF_LOAD (18); add
# BPF_PROG_LOAD (5) with TRACE_CMDS="0,18,5" (about 25 more minutes a kernel).
cmds=${TRACE_CMDS:-0,18}
for kind in $kinds; do
	base_only=0
	[ "$kind" = vanilla ] && base_only=1
	B="$OUT/build-$kind"
	if [ "${TRACE_NO_BUILD:-0}" != 1 ]; then
		BASE_ONLY=$base_only NO_DELEGATION=0 "$top/scripts/build.sh" ||
			die "the $kind kernel did not build"
	fi
	[ -f "$B/vmlinux" ] || die "no $kind vmlinux at $B"
	ln -sf "$B/vmlinux" "$T/$kind.vmlinux"
	gcc -static -O2 -Wall -pthread -isystem "$B/usr/include" -o "$T/bench-$kind" \
		"$top/tools/testing/selftests/bpffs_delegation/delegation_bench.c"
	# The flows the bench compares: the series' delegation on the patched
	# kernel, upstream's delegate_* options on vanilla.
	args="-r 1 -n 20 -w 1 -S -T -c 0"
	if [ "$kind" = patched ]; then args+=" -f -m delegate"; else args+=" -m upstream"; fi
	R="$T/run-$kind"
	mkdir -p "$R"
	port=$((port + 1))
	log "$kind: tracing the marked calls (gdb on port $port)"
	entry=$(nm "$B/vmlinux" | awk '$3 == "__x64_sys_bpf" { print "0x" $1 }')
	[ -n "$entry" ] || die "no __x64_sys_bpf in the $kind vmlinux"
	gdb -q -batch -nx -ex "python TRACE_PORT=$port; TRACE_OUT='$T/$kind.json'; TRACE_ENTRY=$entry; TRACE_CMDS=[$cmds]" \
		-x "$top/scripts/insn-trace-gdb.py" >"$R/gdb.log" 2>&1 &
	gdb_pid=$!
	rc=0
	VM_CPUS=1 VM_APPEND=nokaslr \
		VM_QEMU_OPTS="-icount shift=0,sleep=off -gdb tcp:127.0.0.1:$port" \
		"$top/scripts/vm-run.sh" "$B/arch/x86/boot/bzImage" "$R" 1800 -- \
		sh -c "echo 0 >/proc/sys/kernel/randomize_va_space; $T/bench-$kind $args >$R/out.txt 2>$R/err.txt; echo \$? >$R/rc" ||
		rc=$?
	wait "$gdb_pid" || true
	if [ "$rc" != 0 ] || [ "$(cat "$R/rc" 2>/dev/null)" != 0 ] || [ ! -s "$T/$kind.json" ]; then
		sed 's/^/    /' "$R/gdb.log" "$R/err.txt" >&2 2>/dev/null || true
		die "tracing the $kind kernel failed (vm-run $rc, bench rc $(cat "$R/rc" 2>/dev/null || echo none))"
	fi
	# The bench names each marked call's op and bpf() command.
	want=$(grep -cE "^trace op=[a-z]+ cmd=(${cmds//,/|}) " "$R/out.txt" || true)
	got=$(grep -c '^insn-trace: cmd' "$R/gdb.log" || true)
	[ "$want" = "$got" ] && [ "$want" -gt 0 ] ||
		die "$kind: the bench marked $want calls, gdb traced $got (see $R/gdb.log)"
	grep '^insn-trace: cmd' "$R/gdb.log" | sed "s/^/  $kind /" >&2
	! grep -q 'INCOMPLETE' "$R/gdb.log" ||
		log "warning: $kind: some traces did not come back straight to the caller (marked (cut) in the report)"
done
[ "$kinds" = "vanilla patched" ] || { log "traces in $T (no report: it compares vanilla and patched)"; exit 0; }
python3 "$top/scripts/insn-trace-report.py" "$T" >"$T/report.md"
log "report: $T/report.md"
