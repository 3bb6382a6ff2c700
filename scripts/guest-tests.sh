#!/bin/sh
# Runs inside the VM as root: every kselftest binary given, each one's TAP
# into RESULTS/<name>.tap and its exit status into RESULTS/<name>.rc, then the
# kernel log (with the KUnit KTAP the boot produced) into RESULTS/dmesg.txt.
#   guest-tests.sh RESULTS TEST...
results=$1
shift
echo "guest: $(uname -r), $(nproc) CPUs" >"$results/guest-info"
cat /proc/sys/kernel/unprivileged_bpf_disabled >>"$results/guest-info" 2>/dev/null
for t in "$@"; do
	name=$(basename "$t")
	start=$(date +%s)
	"$t" >"$results/$name.tap" 2>&1 </dev/null
	echo $? >"$results/$name.rc"
	echo "$name: $(($(date +%s) - start)) s" >>"$results/guest-info"
done
# Debug kernels: ask kmemleak for unreferenced objects.  It reports only
# objects older than 5 s, so wait that long after the last test; a second
# scan confirms what the first found.  Its summary lands in the kernel log.
kml=/sys/kernel/debug/kmemleak
[ -e "$kml" ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -w "$kml" ]; then
	sleep 6
	echo scan >"$kml" && echo scan >"$kml" && cat "$kml" >"$results/kmemleak.txt"
fi
dmesg >"$results/dmesg.txt"
echo done >"$results/guest-done"
