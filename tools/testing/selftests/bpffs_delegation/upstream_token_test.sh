#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Upstream's own BPF token selftest (tools/testing/selftests/bpf/prog_tests/
# token.c of the base, unmodified), run by a test_progs built from the base's
# sources next to this script (scripts/build-test-progs.sh), reported as TAP:
# one result per subtest.  A subtest test_progs skips is reported as a
# failure: on a kernel with BTF and the BPF LSM every subtest must run.
# Needs root, vmlinux BTF and the BPF LSM; without them the whole test is
# skipped with the reason.
dir=$(dirname "$0")
out=${TMPDIR:-/tmp}/upstream_token_test.$$

echo "TAP version 13"
skip_all() {
	echo "1..0 # SKIP $*"
	exit 4
}
[ "$(id -u)" = 0 ] || skip_all "needs root"
[ -x "$dir/test_progs" ] || skip_all "no test_progs next to this script"
[ -r /sys/kernel/btf/vmlinux ] || skip_all "the kernel has no vmlinux BTF"
lsm=/sys/kernel/security/lsm
[ -r "$lsm" ] || mount -t securityfs none /sys/kernel/security 2>/dev/null
grep -qw bpf "$lsm" 2>/dev/null || skip_all "the BPF LSM is not active"

# Upstream runs its BPF selftests with unprivileged BPF allowed
# (tools/testing/selftests/bpf/config: BPF_UNPRIV_DEFAULT_OFF is not set):
# libbpf's feature probes fall back to the unprivileged path when a token
# does not cover them.  Run it the same way (2 can be set back to 0 by root),
# and restore the setting afterwards.
sysctl=/proc/sys/kernel/unprivileged_bpf_disabled
saved=$(cat "$sysctl")
[ "$saved" = 0 ] || echo 0 >"$sysctl" || skip_all "cannot set $sysctl to 0 (it is $saved)"
# test_progs looks for its extra files (bpf_testmod.ko) in its cwd.
cd "$dir" || exit 1
./test_progs -t token >"$out" 2>&1
rc=$?
echo "$saved" >"$sysctl"
sed 's/^/# /' "$out"
# One line per subtest, before test_progs repeats the failed ones with
# their logs.
sed -i '/^All error logs:/,$d' "$out"
n=$(grep -cE '^#[0-9]+/[0-9]+ +token/' "$out")
echo "1..$n"
i=0
failed=0
grep -E '^#[0-9]+/[0-9]+ +token/' "$out" | while read -r _ name; do
	i=$((i + 1))
	case "$name" in
	*:OK) echo "ok $i ${name%:OK}" ;;
	*:SKIP) echo "not ok $i ${name%:SKIP} # test_progs skipped it" ;;
	*) echo "not ok $i ${name%:*}" ;;
	esac
done
[ "$rc" = 0 ] || failed=1
grep -qE '^#[0-9]+/[0-9]+ +token/.*:(SKIP|FAIL)' "$out" && failed=1
rm -f "$out"
[ "$failed" = 0 ] && [ "$n" -gt 0 ]
