#!/usr/bin/env bash
# Developer-loop figures, measured, for the bench report:
#   rebuild_noop    scripts/build.sh with nothing changed
#   rebuild_rust    scripts/build.sh after an edit of kernel/bpf/delegation.rs
#   boot_host       scripts/vm-run.sh of a trivial command: boot, command, power-off
#   boot_guest      the guest's uptime when its first command starts
#                   (DEVLOOP_BOOT=0 skips the boot; DEVLOOP_BOOT_FROM=DIR takes
#                   boot_guest from a bench boot's DIR/uptime-at-start instead)
#   make_check      'make check' (only with DEVLOOP_FULL=1)
#   cold_setup      scripts/setup.sh into an empty OUT (only with DEVLOOP_COLD=1)
#   cold_build      scripts/build.sh into that OUT (only with DEVLOOP_COLD=1)
# A figure not measured in this run is taken from the last run that measured
# it (out/bench/devloop-history.tsv), marked so, or reported as not measured.
# Writes DEVLOOP_OUT (default out/bench/devloop.txt): key, value, "yes" when
# measured now or the date it was, and a note, tab-separated.
#
# The edit is simulated on the assembled tree, not on the repository: the
# assembled copy of kernel/bpf/delegation.rs gets a new mtime, its content
# stays the repo's, so kbuild rebuilds it as after an edit and nothing in
# the repository changes (assemble.sh rewrites a file only when its content
# differs, so touching the repo's copy would rebuild nothing).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup

BENCH=${BENCH_OUT:-$OUT/bench}
mkdir -p "$BENCH"
out=${DEVLOOP_OUT:-$BENCH/devloop.txt}
history="$BENCH/devloop-history.tsv"
now=$(date -u '+%Y-%m-%d %H:%M UTC')
: >"$out"
export VM_ACCEL=${VM_ACCEL:-tcg}

# Seconds, to a tenth, that "$@" takes; its output goes to $dl_log.
dl_log=$(mktemp)
trap 'rm -f "$dl_log"' EXIT
timed() {
	local t0 rc=0
	t0=$(date +%s.%N)
	"$@" >"$dl_log" 2>&1 || rc=$?
	printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)"
	return "$rc"
}

record() { # key value note
	printf '%s\t%s\tyes\t%s\n' "$1" "$2" "$3" >>"$out"
	printf '%s\t%s\t%s\t%s\n' "$now" "$1" "$2" "$3" >>"$history"
	log "devloop: $1 = $2 s ($3)"
}

# The last recorded value of a figure, or a fallback.
recall() { # key fallback-note
	local line=""
	[ -f "$history" ] &&
		line=$(awk -F'\t' -v k="$1" '$2 == k { l = $0 } END { print l }' "$history")
	if [ -n "$line" ]; then
		IFS=$'\t' read -r d _ v n <<<"$line"
		printf '%s\t%s\t%s\t%s\n' "$1" "$v" "$d" "$n" >>"$out"
	else
		printf '%s\t\tno\t%s\n' "$1" "$2" >>"$out"
	fi
}

waited() { grep -q 'waiting for another build' "$dl_log" && echo ", waited for another build" || true; }
kbuild_s() { sed -n 's/.*kernel built in \([0-9]*\) s.*/\1/p' "$dl_log" | tail -n 1; }

# Wait until nobody else builds the patched kernel (build.sh's lock), so that
# the time measured is the build's; a build that still has to wait says so.
wait_for_builds() {
	mkdir -p "$OUT"
	flock "$OUT/.build-patched.lock" true
}

# 1. Incremental rebuilds of the patched kernel.
if [ "${DEVLOOP_REBUILD:-1}" = 1 ]; then
	wait_for_builds
	l=$(cut -d' ' -f1 /proc/loadavg)
	if t=$(timed "$top/scripts/build.sh"); then
		record rebuild_noop "$t" "scripts/build.sh, nothing changed (kbuild $(kbuild_s) s$(waited), host load $l)"
		rs="$OUT/src-patched/kernel/bpf/delegation.rs"
		if [ -f "$rs" ]; then
			wait_for_builds
			touch "$rs"
			l=$(cut -d' ' -f1 /proc/loadavg)
			if t=$(timed "$top/scripts/build.sh"); then
				record rebuild_rust "$t" "scripts/build.sh after an edit of kernel/bpf/delegation.rs (kbuild $(kbuild_s) s$(waited), host load $l)"
			else
				log "devloop: the rebuild failed: $(tail -n 5 "$dl_log")"
				recall rebuild_rust "the rebuild failed in this run"
			fi
		else
			recall rebuild_rust "no assembled tree"
		fi
	else
		log "devloop: scripts/build.sh failed: $(tail -n 5 "$dl_log")"
		recall rebuild_noop "scripts/build.sh failed in this run"
		recall rebuild_rust "scripts/build.sh failed in this run"
	fi
else
	recall rebuild_noop "not measured in this run"
	recall rebuild_rust "not measured in this run"
fi

# 2. Boot to the first guest command (the patched kernel, TCG, no icount).
load() { cut -d' ' -f1 /proc/loadavg; }
if [ "${DEVLOOP_BOOT:-1}" = 1 ]; then
	R="$BENCH/devloop-boot"
	rm -rf "$R"
	mkdir -p "$R"
	R=$(cd "$R" && pwd)
	l=$(load)
	if VM_QEMU_OPTS="" "$top/scripts/vm-run.sh" "$OUT/build-patched/arch/x86/boot/bzImage" "$R" 120 -- \
		sh -c "cat /proc/uptime >$R/uptime" >"$dl_log" 2>&1 && [ -s "$R/uptime" ]; then
		record boot_host "$(cat "$R/vm-seconds")" "scripts/vm-run.sh of a trivial command: QEMU start, boot, command, power-off ($(cat "$R/accel"), host load $l)"
		record boot_guest "$(cut -d' ' -f1 "$R/uptime")" "guest uptime when its first command starts (host load $l)"
	else
		log "devloop: the trivial boot failed: $(tail -n 5 "$dl_log")"
		recall boot_host "the trivial boot failed in this run"
		recall boot_guest "the trivial boot failed in this run"
	fi
else
	recall boot_host "not measured in this run"
	if [ -s "${DEVLOOP_BOOT_FROM:-/nonexistent}/uptime-at-start" ]; then
		record boot_guest "$(cut -d' ' -f1 "$DEVLOOP_BOOT_FROM/uptime-at-start")" "guest uptime when the bench's first command started (wall-clock boot, host load $(cat "$DEVLOOP_BOOT_FROM/load-before" 2>/dev/null || echo ?))"
	else
		recall boot_guest "not measured in this run"
	fi
fi

# 3. The whole test command.
if [ "${DEVLOOP_FULL:-0}" = 1 ]; then
	verdict() { grep -E '[0-9]+ passed, [0-9]+ failed' "$dl_log" | tail -n 1; }
	if t=$(timed make -s -C "$top" check); then
		record make_check "$t" "make check: $(verdict)"
	else
		record make_check "$t" "make check FAILED: $(verdict)"
	fi
else
	recall make_check "not measured in this run (DEVLOOP_FULL=1 measures it)"
fi

# 4. Cold setup and build, into an OUT of their own.
if [ "${DEVLOOP_COLD:-0}" = 1 ]; then
	cold="$BENCH/cold-out"
	rm -rf "$cold"
	if t=$(OUT="$cold" TOOLS="$cold/tools" timed "$top/scripts/setup.sh"); then
		record cold_setup "$t" "scripts/setup.sh into an empty OUT (Debian packages already present)"
		if t=$(OUT="$cold" TOOLS="$cold/tools" timed "$top/scripts/build.sh"); then
			record cold_build "$t" "scripts/build.sh into an empty OUT: unpack, configure, kernel, headers, selftests"
		else
			log "devloop: the cold build failed: $(tail -n 5 "$dl_log")"
			recall cold_build "the cold build failed in this run"
		fi
	else
		log "devloop: the cold setup failed: $(tail -n 5 "$dl_log")"
		recall cold_setup "the cold setup failed in this run"
		recall cold_build "the cold setup failed in this run"
	fi
	rm -rf "$cold"
else
	recall cold_setup "not measured in this run (DEVLOOP_COLD=1 measures it)"
	recall cold_build "not measured in this run (DEVLOOP_COLD=1 measures it)"
fi

column -t -s $'\t' "$out" >&2 || cat "$out" >&2
