#!/bin/sh
# Runs inside the VM: the main job's demonstration.  The privileged side's
# CLI (bpf-delegate) delegates a bpffs to an unprivileged user's container,
# which creates a map and loads a program through it with libbpf, is refused
# a type it was not given (and the privileged side reads why), and loses
# everything after 'bpf-delegate reset';
# then a container scoped to its cgroup is refused an attach outside it;
# last, a container crun made gets its bpffs from 'bpf-delegate oci-hook',
# uses it and loses it at 'bpf-delegate reset --pid'.
#   guest-demo.sh RESULTS SELFTEST_DIR
results=$1 tests=$2
exec >"$results/demo.txt" 2>&1
PATH=$tests:$PATH
say() { printf '%s\n' "$*"; }
para() { printf '\n%s\n' "$*"; }
cmd() { printf '  $ %s\n' "$*"; }
rc=0
# Root writes and reads in $tmp only (the container cannot write there);
# $ctr is the container's (it runs as uid 1000), where root only looks.
tmp=$(mktemp -d)
chmod 755 "$tmp"
ctr=$tmp/ctr
mkdir -m 1777 "$ctr"
echo "Kernel $(uname -r) with bpffs delegation.  kernel.unprivileged_bpf_disabled=2:"
echo "without delegation, no user namespace may create maps or load programs."
echo 2 > /proc/sys/kernel/unprivileged_bpf_disabled

para "1. User 1000 starts a container (a new user and mount namespace).  The"
say "   privileged side (root, here bpf-delegate) lets it have a bpffs that"
say "   delegates creating stack maps, loading BTF and loading socket filters,"
say "   and nothing else.  The container creates and mounts the bpffs itself."
say "   bpf-delegate writes the container's pid for what follows (--pid-file)."
cmd bpf-delegate run --user 1000 --pid-file "$tmp/pid" --cmds map_create,btf_load,prog_load \
	--maps stack --progs socket_filter --attachs cgroup_inet_ingress -- libbpf_client /sys/fs/bpf ...
bpf-delegate run --user 1000 --pid-file "$tmp/pid" --cmds map_create,btf_load,prog_load \
	--maps stack --progs socket_filter --attachs cgroup_inet_ingress -- \
	"$tests/libbpf_client" /sys/fs/bpf --revoked-after "$ctr/revoked" &
runner=$!
for _ in $(seq 100); do [ -e "$ctr/revoked.waiting" ] && break; sleep 0.1; done
pid=$(cat "$tmp/pid")
para "2. Inside the container, through libbpf: a token from the bpffs, then the"
say "   bpffs fd itself.  Stack maps, BTF and socket filters work; a queue map,"
say "   which was not delegated, is refused (EPERM).  (The lines above.)"

para "3. What the instance delegates, and why the container was refused, seen"
say "   by the privileged side in the container's mount namespace (process $pid,"
say "   owned by uid $(stat -c %u /proc/$pid)).  The container got a bare EPERM;"
say "   the instance keeps its newest refusals for the privileged side only:"
cmd bpf-delegate show /sys/fs/bpf --pid "$pid"
bpf-delegate show /sys/fs/bpf --pid "$pid" >"$tmp/show" || rc=1
cat "$tmp/show"
grep -q 'map_create of queue: maps does not delegate queue' "$tmp/show" || rc=1
say "   The same for scripts (one JSON object):"
cmd bpf-delegate show --json --pid "$pid"
bpf-delegate show --json --pid "$pid" >"$tmp/json" || rc=1
cat "$tmp/json"
grep -q '"why": *"map_type"' "$tmp/json" || rc=1

para "4. The privileged side revokes it.  The container keeps its token and its"
say "   bpffs fd, and both stop working at once."
cmd bpf-delegate reset /sys/fs/bpf --pid "$pid"
bpf-delegate reset /sys/fs/bpf --pid "$pid" && bpf-delegate show /sys/fs/bpf --pid "$pid" || rc=1
mkdir "$ctr/revoked"
wait "$runner" || rc=1
say "   When the command exits, 'bpf-delegate run' revokes its instance too, so"
say "   that nothing the container left behind keeps the delegation."

para "5. Names are checked before the kernel is asked, and a container whose"
say "   root would be the host's root (no --user) is refused unless asked for"
say "   with --allow-host-root:"
cmd bpf-delegate run --user 1000 --maps stack,hsah -- true
bpf-delegate run --user 1000 --maps stack,hsah -- true
[ $? = 2 ] || rc=1
cmd bpf-delegate run --maps stack -- true
bpf-delegate run --maps stack -- true
[ $? = 2 ] || rc=1

para "6. Programs that attach to cgroups.  Unscoped, a container could attach"
say "   one to any cgroup it can open an fd of, the host's root included, and"
say "   bpf-delegate warns about it:"
cmd bpf-delegate run --user 1000 --cmds prog_load --progs cgroup_sock_addr --attachs cgroup_inet4_connect -- true
bpf-delegate run --user 1000 --cmds prog_load --progs cgroup_sock_addr \
	--attachs cgroup_inet4_connect -- true || rc=1
say "   Scoped (--cgroup), the container runs in its own cgroup and its"
say "   cgroup_sock_addr program attaches there as one of several programs"
say "   (BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, and BPF_LINK_CREATE), never"
say "   as the one legacy program that would displace another, and is refused"
say "   (EPERM) on the host's root cgroup and on a sibling cgroup:"
cg=/sys/fs/cgroup
grep -q "^[^ ]* $cg cgroup2 " /proc/mounts || mount -t cgroup2 cgroup2 "$cg" || rc=1
mkdir -p "$cg/demo/ctr" "$cg/demo/other"
cmd bpf-delegate run --user 1000 --cgroup "$cg/demo/ctr" --cmds prog_load --progs cgroup_sock_addr \
	--attachs cgroup_inet4_connect -- libbpf_client --cgroup-scope /sys/fs/bpf "$cg/demo/ctr" "$cg" "$cg/demo/other"
bpf-delegate run --user 1000 --cgroup "$cg/demo/ctr" --cmds prog_load --progs cgroup_sock_addr \
	--attachs cgroup_inet4_connect -- \
	"$tests/libbpf_client" --cgroup-scope /sys/fs/bpf "$cg/demo/ctr" "$cg" "$cg/demo/other" || rc=1
rmdir "$cg/demo/ctr" "$cg/demo/other" "$cg/demo" 2>/dev/null

para "7. The kernel's own tests of the policy (KUnit, run at boot):"
dmesg | sed -n 's/^\[[ 0-9.]*\] *//p' | grep -E '^(# Subtest|ok|not ok|    (ok|not ok))' | sed 's/^/  /'

para "8. A container a runtime made: crun runs one from a busybox rootfs, in its"
say "   own user namespace (uids 100000-165535), with bpf-delegate oci-hook as"
say "   its createRuntime hook and these annotations:"
p=org.kernel.bpf.delegate
ann="\"$p.cmds\": \"map_create,btf_load,prog_load\", \"$p.maps\": \"stack\",
 \"$p.progs\": \"socket_filter\", \"$p.attachs\": \"cgroup_inet_ingress\""
say "   $ann" | tr -d '\n'
echo
if command -v crun >/dev/null && command -v busybox >/dev/null; then
	crun_() { crun --root "$tmp/crun-state" --cgroup-manager=disabled "$@"; }
	"$tests/oci_bundle.sh" "$tmp/bundle" "$tests/bpf-delegate" "$tests" "$ctr" \
		"/t/libbpf_client /sys/fs/bpf --revoked-after /x/crun.rev" "$ann" || rc=1
	say "   The hook mounts the delegated bpffs at /sys/fs/bpf before the container"
	say "   starts; inside, libbpf uses it through a token and through the bpffs fd:"
	cmd crun run --bundle "$tmp/bundle" demo
	crun_ run --bundle "$tmp/bundle" demo >"$tmp/crun.out" 2>&1 &
	runner=$!
	for _ in $(seq 300); do
		[ -e "$ctr/crun.rev.waiting" ] && break
		kill -0 $runner 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/  /' "$tmp/crun.out"
	cpid=$(crun_ state demo | sed -n 's/^ *"pid": *\([0-9]*\),*$/\1/p')
	say "   The host resets it by the container's pid (crun state says $cpid):"
	cmd bpf-delegate reset --pid "$cpid"
	bpf-delegate reset --pid "$cpid" || rc=1
	mkdir "$ctr/crun.rev"
	wait $runner || rc=1
	say "   and the container's token and bpffs fd are refused from then on:"
	sed -n 's/^# after revocation/  # after revocation/p' "$tmp/crun.out"
	grep -q '^# after revocation, token: bpf_map_create(stack): Operation not permitted' \
		"$tmp/crun.out" || rc=1
	# 'crun run' deleted the container when its command exited.
	crun_ state demo >/dev/null 2>&1 && rc=1
else
	say "   crun or busybox is missing (make setup installs both)."
	rc=1
fi
rm -rf "$tmp"
if [ $rc = 0 ]; then
	para "Every step did what it should."
	echo "DEMO OK"
else
	para "Something did not go as it should: see above."
fi
