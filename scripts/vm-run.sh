#!/usr/bin/env bash
# Boot a kernel under virtme-ng and run one command in it as root.
#   scripts/vm-run.sh BZIMAGE RESULTS_DIR TIMEOUT_S -- CMD ARGS...
# RESULTS_DIR is shared read-write with the guest; the guest command writes
# its results there (vng's own exit status is not reliable: it runs the
# command on the serial console when its script channel is missing, and then
# exits 255 whatever the command did).  The console goes to RESULTS_DIR/console.log.
#
# /dev/kvm may exist while a KVM guest hangs without output, so KVM is probed
# with a short time limit first and TCG is used when the probe fails.  The
# verdict is a property of the machine: it is kept in out/vm-accel and the
# probe runs once per out/ (remove the file to probe again).
# VM_ACCEL=kvm|tcg skips the probe.  VM_CPUS (default 2), VM_APPEND (more of
# the kernel's command line) and VM_QEMU_OPTS (more QEMU options) are passed on.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup

kernel=$1 results=$2 limit=$3
shift 3
[ "${1:-}" = -- ] && shift
[ -f "$kernel" ] || die "no kernel image at $kernel"
mkdir -p "$results"
results=$(cd "$results" && pwd)
# vng runs its helpers (virtme-run, virtme-init) from PATH.
export PATH="$TOOLS/venv/bin:$PATH"
VNG="$TOOLS/venv/bin/vng"

vng_boot() { # $1 = accel, $2 = time limit, rest = command
	local accel=$1 t=$2
	shift 2
	# root=/dev/root: the 9p tag vng gives the host root; without root= a
	# kernel without CONFIG_BLOCK mounts nothing and init is not found.
	local opts=(--run "$kernel" --user root --rwdir "$results" --cpus "${VM_CPUS:-2}" --memory 1G -v
		--append "root=/dev/root${VM_APPEND:+ $VM_APPEND}")
	[ "$accel" = tcg ] && opts+=(--disable-kvm)
	[ -n "${VM_QEMU_OPTS:-}" ] && opts+=(--qemu-opts="$VM_QEMU_OPTS")
	timeout --kill-after=10 "$t" "$VNG" "${opts[@]}" -- "$@" </dev/null
}

accel=${VM_ACCEL:-}
if [ -z "$accel" ] && [ -f "$OUT/vm-accel" ]; then
	accel=$(cat "$OUT/vm-accel")
	log "using ${accel^^}, as the KVM probe of this out/ found ($OUT/vm-accel)"
fi
if [ -z "$accel" ]; then
	accel=tcg
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		rm -f "$results/.kvm-probe"
		vng_boot kvm 30 touch "$results/.kvm-probe" >"$results/kvm-probe.log" 2>&1 || true
		if [ -f "$results/.kvm-probe" ]; then
			accel=kvm
		else
			log "KVM guest did not come up within 30 s (see $results/kvm-probe.log): using TCG"
		fi
		rm -f "$results/.kvm-probe"
	fi
	echo "$accel" >"$OUT/vm-accel"
fi
log "booting $(basename "$kernel") under ${accel^^}, time limit ${limit} s"
echo "$accel" >"$results/accel"

start=$(date +%s.%N)
rc=0
vng_boot "$accel" "$limit" "$@" >"$results/console.log" 2>&1 || rc=$?
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '%.1f\n' "$elapsed" >"$results/vm-seconds"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	printf 'error: the VM did not finish within %s s; console log: %s\n' "$limit" "$results/console.log" >&2
	exit 124
fi
log "VM finished in $(cat "$results/vm-seconds") s (console log: $results/console.log)"
