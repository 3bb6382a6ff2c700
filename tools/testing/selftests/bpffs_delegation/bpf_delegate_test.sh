#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The privileged side's CLI (tools/bpf/bpf-delegate) against the running
# kernel: delegate to a command in a new user namespace, use it from an
# external libbpf client, narrow, reset and show a live instance, and refuse
# a container's symlinks, and reach an instance the container hid by its
# user namespace alone.  TAP output.
here=$(dirname "$(readlink -f "$0")")
tool=${BPF_DELEGATE:-$here/bpf-delegate}
client=${LIBBPF_CLIENT:-$here/libbpf_client}
tmp=$(mktemp -d)
chmod 1777 "$tmp"	# containers run as uid 1000 too
n=0 failed=0
echo "TAP version 13"
echo "1..10"
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; sed 's/^/# /' "$tmp/out"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

echo 2 > /proc/sys/kernel/unprivileged_bpf_disabled

run_shows_delegation() {
	"$tool" run --cmds map_create --maps stack -- cat /proc/self/mountinfo >"$tmp/out" 2>&1 &&
		grep ' /sys/fs/bpf .* - bpf ' "$tmp/out" |
		grep -q 'delegate,delegate_cmds=map_create,delegate_maps=stack$'
}
check run_shows_delegation run_shows_delegation

run_libbpf_client() {
	"$tool" run --cmds map_create,btf_load,prog_load --maps stack --progs socket_filter \
		--attachs cgroup_inet_ingress -- "$client" /sys/fs/bpf >"$tmp/out" 2>&1
}
check run_libbpf_client run_libbpf_client

bad_name_lists_valid_ones() {
	"$tool" run --maps stack,hsah -- true >"$tmp/out" 2>&1
	[ $? = 2 ] && grep -q "unknown name 'hsah'; valid names: any, unspec, hash" "$tmp/out"
}
check bad_name_lists_valid_ones bad_name_lists_valid_ones

# A long-lived container for set/reset/show.
"$tool" run --cmds map_create --maps stack -- \
	sh -c "ln -s /sys/fs/bpf $tmp/link; echo \$\$ > $tmp/pid; exec sleep 60" \
	>"$tmp/container.log" 2>&1 &
for _ in $(seq 50); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
pid=$(cat "$tmp/pid" 2>/dev/null)

set_show_reset() {
	"$tool" set /sys/fs/bpf --pid "$pid" --cmds map_create --maps queue >"$tmp/out" 2>&1 &&
		"$tool" show /sys/fs/bpf --pid "$pid" >"$tmp/out" 2>&1 &&
		grep -q 'delegate_maps=queue' "$tmp/out" &&
		"$tool" reset /sys/fs/bpf --pid "$pid" >"$tmp/out" 2>&1 &&
		"$tool" show /sys/fs/bpf --pid "$pid" >"$tmp/out" 2>&1 &&
		grep -q '(nothing delegated)' "$tmp/out" && grep -q ': delegated' "$tmp/out"
}
check set_show_reset set_show_reset

containers_symlinks_are_not_followed() {
	"$tool" reset "$tmp/link" --pid "$pid" >"$tmp/out" 2>&1
	[ $? = 1 ] && grep -q ELOOP "$tmp/out"
}
check containers_symlinks_are_not_followed containers_symlinks_are_not_followed

not_a_bpffs() {
	"$tool" reset /tmp --pid "$pid" >"$tmp/out" 2>&1
	[ $? = 2 ] && grep -q 'not a bpffs' "$tmp/out"
}
check not_a_bpffs not_a_bpffs

# An unprivileged user's container: works through libbpf, then loses it all
# at 'reset' with the token and fd it still holds.
unprivileged_container_loses_it_on_reset() {
	"$tool" run --user 1000 --cmds map_create,btf_load,prog_load --maps stack \
		--progs socket_filter --attachs cgroup_inet_ingress -- \
		sh -c "echo \$\$ > $tmp/pid2; exec $client /sys/fs/bpf --revoked-after $tmp/rev" \
		>"$tmp/out" 2>&1 &
	runner=$!
	# Up to 30 s: a debug kernel under TCG is slow.
	for _ in $(seq 300); do
		[ -e "$tmp/rev.waiting" ] && break
		kill -0 "$runner" 2>/dev/null || break
		sleep 0.1
	done
	pid2=$(cat "$tmp/pid2")
	if [ "$(stat -c %u "/proc/$pid2" 2>&1)" != 1000 ]; then
		wait "$runner"
		echo "client $pid2 is not running as uid 1000; the runner exited with $?" >>"$tmp/out"
		return 1
	fi
	"$tool" reset /sys/fs/bpf --pid "$pid2" >>"$tmp/out" 2>&1 || return 1
	touch "$tmp/rev"
	refused='after revocation, token: bpf_map_create(stack): Operation not permitted'
	wait "$runner" && grep -q "$refused" "$tmp/out"
}
check unprivileged_container_loses_it_on_reset unprivileged_container_loses_it_on_reset

# Without a path: every instance of the container's user namespace.
set_and_show_by_pid() {
	"$tool" set --pid "$pid" --cmds map_create --maps queue >"$tmp/out" 2>&1 &&
		"$tool" show --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q ': 1 live, 0 pending' "$tmp/out" &&
		grep -q 'live: delegate_cmds=map_create delegate_maps=queue' "$tmp/out" &&
		"$tool" show /sys/fs/bpf --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q 'delegate_maps=queue' "$tmp/out"
}
check set_and_show_by_pid set_and_show_by_pid

# A container that detaches its instance after making its token leaves the
# privileged side no path; 'reset --pid' reaches it all the same.
hidden_instance_is_reset_by_pid() {
	rm -f "$tmp/rev3" "$tmp/rev3.waiting"
	"$tool" run --user 1000 --cmds map_create,btf_load,prog_load --maps stack \
		--progs socket_filter --attachs cgroup_inet_ingress -- \
		sh -c "echo \$\$ > $tmp/pid3; exec $client /sys/fs/bpf --revoked-after $tmp/rev3" \
		>"$tmp/out" 2>&1 &
	runner=$!
	for _ in $(seq 300); do
		[ -e "$tmp/rev3.waiting" ] && break
		kill -0 "$runner" 2>/dev/null || break
		sleep 0.1
	done
	pid3=$(cat "$tmp/pid3")
	nsenter -t "$pid3" -m umount -l /sys/fs/bpf >>"$tmp/out" 2>&1 || return 1
	if "$tool" reset /sys/fs/bpf --pid "$pid3" >>"$tmp/out" 2>&1; then
		echo "reset by path reached an instance that is no longer there" >>"$tmp/out"
		return 1
	fi
	"$tool" reset --pid "$pid3" >>"$tmp/out" 2>&1 || return 1
	touch "$tmp/rev3"
	refused='after revocation, token: bpf_map_create(stack): Operation not permitted'
	wait "$runner" && grep -q "$refused" "$tmp/out"
}
check hidden_instance_is_reset_by_pid hidden_instance_is_reset_by_pid

# The container moves its instance away and leaves the host's bpffs, which
# its copy of the host's mount tree has below, at the path the operator
# names: the tool must refuse it, not reset the host's instance.
moved_instance_is_not_the_hosts() {
	hostbpf=$tmp/hostbpf
	mkdir -p "$hostbpf"
	mount -t bpf -o delegate_cmds=map_create bpf "$hostbpf" || return 1
	"$tool" run --mount "$hostbpf" --cmds map_create --maps stack -- \
		sh -c "echo \$\$ > $tmp/pid4; while [ ! -e $tmp/go4 ]; do sleep 0.1; done; umount -l $hostbpf; touch $tmp/moved4; exec sleep 30" \
		>"$tmp/out" 2>&1 &
	for _ in $(seq 300); do [ -s "$tmp/pid4" ] && break; sleep 0.1; done
	pid4=$(cat "$tmp/pid4")
	touch "$tmp/go4"
	for _ in $(seq 300); do [ -e "$tmp/moved4" ] && break; sleep 0.1; done
	rc=0
	"$tool" reset "$hostbpf" --pid "$pid4" >>"$tmp/out" 2>&1 || rc=$?
	kill "$pid4" 2>/dev/null
	opts=$(grep " $hostbpf " /proc/self/mountinfo)
	umount "$hostbpf"
	echo "exit $rc; host instance: $opts" >>"$tmp/out"
	[ $rc = 1 ] && grep -q "not a bpffs of process $pid4's user namespace" "$tmp/out" &&
		echo "$opts" | grep -q 'delegate_cmds=map_create'
}
check moved_instance_is_not_the_hosts moved_instance_is_not_the_hosts

[ -n "$pid" ] && kill "$pid" 2>/dev/null
wait
rm -rf "$tmp"
[ $failed = 0 ]
