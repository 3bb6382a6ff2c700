#!/bin/sh
# Runs inside the VM: show the kernel under test delegating a bpffs.
#   guest-demo.sh RESULTS SELFTEST_DIR
results=$1 tests=$2
exec >"$results/demo.txt" 2>&1
echo "kernel: $(uname -r)"
echo
echo "== Brauner's flow: the container opens a bpffs context in its user namespace,"
echo "   the privileged side sets 'delegate' and 'abilities', the container creates,"
echo "   mounts and uses it; then the privileged side narrows and resets it =="
"$tests/delegation_test" -t brauner_flow_end_to_end -t reconfigure_widen_narrow_reset \
	-t container_cannot_change_its_delegation
rc=$?
echo
echo "== today's upstream token flow still works =="
"$tests/upstream_compat_test" -t token_allows_delegated_map_type
rc2=$?
echo
echo "== KUnit, from the kernel log =="
dmesg | sed -n 's/^\[[ 0-9.]*\] *//p' | grep -E '^(# Subtest|ok|not ok|    (ok|not ok))' || echo "(no KUnit suites in this kernel)"
[ $rc = 0 ] && [ $rc2 = 0 ] && echo "DEMO OK"
