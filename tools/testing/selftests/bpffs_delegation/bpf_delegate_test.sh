#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The privileged side's CLI (tools/bpf/bpf-delegate) against the running
# kernel: delegate to a command in a new user namespace, use it from an
# external libbpf client, narrow, reset and show a live instance, and refuse
# a container's symlinks, and reach an instance the container hid by its
# user namespace alone; 'show' says what an instance refused, and who
# asked, in words and in JSON; the command it runs is the container's, not
# the operator's (no host root unless asked, no terminal, fds, environment or
# working directory of the invoker's); --cgroup scopes where delegated
# programs attach (not through a symlink, never the cgroup2 root), 'set'
# without it keeps the scope and --cgroup none clears it, 'show' names the
# scope, and cgroup programs delegated without one (lsm_cgroup with one)
# are warned about; 'attach' gives a container the tool did not make (a
# plain process in namespaces of its own, as a runtime makes them) a bpffs,
# and refuses a mount point that holds one and the host's namespaces;
# 'oci-hook' does it from an OCI state and the container's annotations.
# TAP output.
here=$(dirname "$(readlink -f "$0")")
tool=${BPF_DELEGATE:-$here/bpf-delegate}
client=${LIBBPF_CLIENT:-$here/libbpf_client}
# kselftest: skip the whole test where it cannot run.
skip_all() {
	echo "TAP version 13"
	echo "1..0 # SKIP $*"
	exit 4
}
[ "$(id -u)" = 0 ] || skip_all "needs root"
# Both are Rust (tools/bpf/bpf-delegate, libbpf_client/): cargo builds them.
[ -x "$tool" ] || skip_all "no bpf-delegate at $tool (or set BPF_DELEGATE)"
[ -x "$client" ] || skip_all "no libbpf client at $client (or set LIBBPF_CLIENT)"
syms=/proc/kallsyms
if grep -q ' T ' $syms 2>/dev/null && ! grep -q ' bpf_delegation_create$' $syms; then
	skip_all "needs bpffs delegation (CONFIG_RUST, CONFIG_BPF_DELEGATION)"
fi
# Root writes and reads only in $tmp, which containers can read but not
# write; $ctr is theirs (they run as uid 1000, some as their own root), and
# root only tests for files there and makes directories.
tmp=$(mktemp -d)
chmod 755 "$tmp"
ctr=$tmp/ctr
mkdir -m 1777 "$ctr"
n=0 failed=0
echo "TAP version 13"
echo "1..34"
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; sed 's/^/# /' "$tmp/out"; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

echo 2 > /proc/sys/kernel/unprivileged_bpf_disabled

run_shows_delegation() {
	"$tool" run --user 1000 --cmds map_create --maps stack -- cat /proc/self/mountinfo >"$tmp/out" 2>&1 &&
		grep ' /sys/fs/bpf .* - bpf ' "$tmp/out" |
		grep -q 'delegate,delegate_cmds=map_create,delegate_maps=stack$'
}
check run_shows_delegation run_shows_delegation

run_libbpf_client() {
	"$tool" run --user 1000 --cmds map_create,btf_load,prog_load --maps stack --progs socket_filter \
		--attachs cgroup_inet_ingress -- "$client" /sys/fs/bpf >"$tmp/out" 2>&1
}
check run_libbpf_client run_libbpf_client

bad_name_lists_valid_ones() {
	"$tool" run --user 1000 --maps stack,hsah -- true >"$tmp/out" 2>&1
	[ $? = 2 ] && grep -q "unknown name 'hsah'; valid names: any, unspec, hash" "$tmp/out"
}
check bad_name_lists_valid_ones bad_name_lists_valid_ones

# Without --user, root's container would be the host's uid 0 (owning every
# file root owns) with root's groups: refused unless asked, and even then
# without the groups.
host_root_only_when_asked() {
	"$tool" run --cmds map_create --maps stack -- true >"$tmp/out" 2>&1
	rc=$?
	echo "run without --user: exit $rc" >>"$tmp/out"
	[ $rc = 2 ] && grep -q 'give --user UID\[:GID\].*or --allow-host-root' "$tmp/out" || return 1
	"$tool" run --user 1000:0 --cmds map_create --maps stack -- true >>"$tmp/out" 2>&1
	rc=$?
	echo "run --user 1000:0: exit $rc" >>"$tmp/out"
	[ $rc = 2 ] || return 1
	as_root_with_groups=
	command -v setpriv >/dev/null && as_root_with_groups="setpriv --groups 4,27 --"
	$as_root_with_groups "$tool" run --allow-host-root --cmds map_create --maps stack -- \
		sh -c 'cat /proc/self/uid_map; grep ^Groups: /proc/self/status' >>"$tmp/out" 2>&1 &&
		grep -Eq '^ *0 +0 +1$' "$tmp/out" && grep -Eq '^Groups:[[:space:]]*$' "$tmp/out"
}
check host_root_only_when_asked host_root_only_when_asked

# The command gets none of the invoker's fds, environment, working directory
# or ignored signals: an inherited directory fd would let the container's
# root leave its mount namespace (fchdir, chroot).
nothing_of_the_invoker_is_inherited() {
	(
		cd "$here" || exit 1
		exec 7</
		trap '' USR1 PIPE
		export SSH_AUTH_SOCK=secret SUDO_USER=secret AWS_SECRET_ACCESS_KEY=secret
		"$tool" run --user 1000 --cmds map_create --maps stack -- \
			sh -c 'echo fds:; ls /proc/$$/fd; echo "cwd: $(readlink /proc/$$/cwd)"'
		echo env:
		"$tool" run --user 1000 --cmds map_create --maps stack -- env
		echo status:
		"$tool" run --user 1000 --cmds map_create --maps stack -- \
			grep -E '^(SigIgn|SigBlk|NoNewPrivs):' /proc/self/status
	) >"$tmp/out" 2>&1 || return 1
	all=$(tr '\n' ' ' <"$tmp/out")
	path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	case "$all" in
	*"fds: 0 1 2 cwd: / env: HOME=/ PATH=$path status: "*) ;;
	*"fds: 0 1 2 cwd: / env: PATH=$path HOME=/ status: "*) ;;
	*) return 1 ;;
	esac
	! grep -q secret "$tmp/out" &&
		grep -qx 'SigIgn:	0000000000000000' "$tmp/out" &&
		grep -qx 'SigBlk:	0000000000000000' "$tmp/out" &&
		grep -qx 'NoNewPrivs:	1' "$tmp/out"
}
check nothing_of_the_invoker_is_inherited nothing_of_the_invoker_is_inherited

# Under a terminal (util-linux script), the command leaves a process behind
# that pushes "X" and a newline into its terminal with TIOCSTI after the
# tool has exited.  The shell the tool was started from must read nothing:
# the command had a new session and a terminal of its own.
left_behind_cannot_type_into_the_terminal() {
	sti=/proc/sys/dev/tty/legacy_tiocsti
	was=$(cat "$sti" 2>/dev/null)
	[ -n "$was" ] && echo 1 >"$sti"
	rm -f "$ctr/sti.pushed" "$ctr/sti.done"
	cat >"$tmp/push.sh" <<-'EOF'
		# Left behind by the container on its terminal, SIGHUP ignored.
		sleep 1
		if command -v python3 >/dev/null; then
			python3 -c 'import fcntl, termios
		for c in b"X\n": fcntl.ioctl(0, termios.TIOCSTI, bytes([c]))'
		else
			perl -e 'for (split //, "X\n") { ioctl(STDIN, 0x5412, $_) or die "TIOCSTI: $!\n" }'
		fi && touch "$1/sti.pushed"
		touch "$1/sti.done"
	EOF
	cat >"$tmp/sti.sh" <<-EOF
		"$tool" run --user 1000 --cmds map_create --maps stack -- \
			sh -c 'trap "" HUP; exec 3<&0; sh $tmp/push.sh $ctr <&3 >/dev/null 2>&1 & exit 0'
		echo "run: exit \$?"
		for i in \$(seq 300); do [ -e $ctr/sti.done ] && break; sleep 0.1; done
		[ -e $ctr/sti.done ] && echo "the push was tried"
		[ -e $ctr/sti.pushed ] && echo "the push went through"
		read -t 2 x
		echo "typed: [\$x]"
	EOF
	rm -f "$tmp/sti.in"
	mkfifo "$tmp/sti.in"
	# The fifo, open for writing too, never ends script's input.
	script -qec "bash $tmp/sti.sh" /dev/null <>"$tmp/sti.in" >"$tmp/out" 2>&1
	[ -n "$was" ] && echo "$was" >"$sti"
	grep -q '^run: exit 0' "$tmp/out" && grep -q '^the push was tried' "$tmp/out" &&
		grep -q '^typed: \[\]' "$tmp/out"
}
if ! command -v script >/dev/null || ! command -v bash >/dev/null; then
	skip left_behind_cannot_type_into_the_terminal "no util-linux script or bash"
elif ! command -v python3 >/dev/null && ! command -v perl >/dev/null; then
	skip left_behind_cannot_type_into_the_terminal "no python3 or perl"
else
	check left_behind_cannot_type_into_the_terminal left_behind_cannot_type_into_the_terminal
fi

# Waits up to 30 s (a debug kernel under TCG is slow) until "test OP FILE"
# holds (-e: FILE exists, -s: it is not empty), or the runner (a background
# job's pid) is gone.
await() { # OP FILE RUNNER
	for _ in $(seq 300); do
		[ "$1" "$2" ] && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# A long-lived container for set/reset/show.  Its pid comes from the tool
# (--pid-file), never from a file the container could write.
"$tool" run --user 1000 --pid-file "$tmp/pid" --cmds map_create --maps stack -- \
	sh -c "mkdir $ctr/d; ln -s /sys/fs/bpf $ctr/d/link; touch $ctr/ready; exec sleep 900" \
	>"$tmp/container.log" 2>&1 &
await -e "$ctr/ready" $!
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
	"$tool" reset "$ctr/d/link" --pid "$pid" >"$tmp/out" 2>&1
	[ $? = 1 ] && grep -q ELOOP "$tmp/out"
}
check containers_symlinks_are_not_followed containers_symlinks_are_not_followed

not_a_bpffs() {
	"$tool" reset /tmp --pid "$pid" >"$tmp/out" 2>&1
	[ $? = 2 ] && grep -q 'not a bpffs' "$tmp/out"
}
check not_a_bpffs not_a_bpffs

# --pid names a container's process: one of the initial user namespace
# (pid 1) would have the tool change the host's instance at that path.
host_process_is_refused() {
	hostbpf=$tmp/hostbpf1
	mkdir -p "$hostbpf"
	mount -t bpf -o delegate_cmds=map_create bpf "$hostbpf" || return 1
	rc=0
	"$tool" set "$hostbpf" --pid 1 --cmds map_create --maps queue >"$tmp/out" 2>&1 || rc=$?
	opts=$(grep " $hostbpf " /proc/self/mountinfo)
	umount "$hostbpf"
	echo "exit $rc; host instance: $opts" >>"$tmp/out"
	[ $rc = 1 ] && grep -q "the initial one, not a container's" "$tmp/out" &&
		echo "$opts" | grep -q 'delegate_cmds=map_create$'
}
check host_process_is_refused host_process_is_refused

# The container covers its /sys with a tmpfs of its own and plants sys/fs
# as a symlink to a directory where the host's bpffs is mounted: the tool
# must not follow it, and the host's instance stays as it is.
planted_symlink_is_refused() {
	hostbpf=$tmp/h/bpf
	mkdir -p "$hostbpf"
	mount -t bpf -o delegate_cmds=map_create bpf "$hostbpf" || return 1
	"$tool" run --user 1000 --pid-file "$tmp/pid5" --cmds map_create --maps stack -- \
		sh -c "mount -t tmpfs -o mode=755 none /sys && ln -s $tmp/h /sys/fs &&
			touch $ctr/planted5 && exec sleep 30" >"$tmp/out" 2>&1 &
	runner=$!
	rc=0
	if await -e "$ctr/planted5" $runner; then
		"$tool" reset /sys/fs/bpf --pid "$(cat "$tmp/pid5")" >>"$tmp/out" 2>&1 || rc=$?
		kill "$(cat "$tmp/pid5")"
	else
		echo "the container did not plant its link" >>"$tmp/out"
	fi
	wait $runner
	opts=$(grep " $hostbpf " /proc/self/mountinfo)
	umount "$hostbpf"
	echo "exit $rc; host instance: $opts" >>"$tmp/out"
	[ $rc = 1 ] && grep -q ELOOP "$tmp/out" && echo "$opts" | grep -q 'delegate_cmds=map_create$'
}
check planted_symlink_is_refused planted_symlink_is_refused

# --pid-file is made anew by root: an existing file or a planted symlink is
# refused before anything runs, and nothing is written through it.
pid_file_is_made_anew() {
	ln -s "$tmp/victim" "$tmp/pidlink"
	"$tool" run --user 1000 --pid-file "$tmp/pidlink" -- true >"$tmp/out" 2>&1
	rc=$?
	echo "exit $rc" >>"$tmp/out"
	[ $rc = 2 ] && grep -q 'EEXIST' "$tmp/out" && [ ! -e "$tmp/victim" ] &&
		"$tool" run --user 1000 --pid-file "$tmp/pid6" -- true >>"$tmp/out" 2>&1 &&
		[ "$(stat -c %a "$tmp/pid6")" = 600 ] && grep -Eq '^[0-9]+$' "$tmp/pid6"
}
check pid_file_is_made_anew pid_file_is_made_anew

# The container names its mount points: one with " - bpf " and a byte that
# is not UTF-8 in its mountinfo must not keep the tool from reading its
# instance back (the tool as it was exited 2 after making the change).
odd_mount_points_are_read_back() {
	"$tool" run --user 1000 --pid-file "$tmp/pid8" --cmds map_create --maps stack -- \
		sh -c 'd=/mnt/$(printf "x\377 - bpf y"); mount -t tmpfs none /mnt && mkdir "$d" &&
			mount -t tmpfs none "$d" && touch '"$ctr/odd8"' && exec sleep 30' >"$tmp/out" 2>&1 &
	runner=$!
	rc=1
	if await -e "$ctr/odd8" $runner; then
		pid8=$(cat "$tmp/pid8")
		"$tool" set /sys/fs/bpf --pid "$pid8" --cmds map_create --maps queue >>"$tmp/out" 2>&1 &&
			"$tool" show /sys/fs/bpf --pid "$pid8" >>"$tmp/out" 2>&1 && rc=0
		kill "$pid8"
	fi
	wait $runner
	echo "exit $rc" >>"$tmp/out"
	[ $rc = 0 ] && grep -q '^  delegate_maps=queue$' "$tmp/out"
}
check odd_mount_points_are_read_back odd_mount_points_are_read_back

# A reader that went away (EPIPE) ends 'show' quietly with 1, not with a
# panic.
closed_output_is_no_panic() {
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	# A pipe whose only reader is closed.
	exec 3<>"$tmp/fifo" 4>"$tmp/fifo" 3<&-
	"$tool" show /sys/fs/bpf --pid "$pid" >&4 2>"$tmp/out"
	rc=$?
	exec 4>&-
	echo "exit $rc" >>"$tmp/out"
	[ $rc = 1 ] && ! grep -q panicked "$tmp/out"
}
check closed_output_is_no_panic closed_output_is_no_panic

# Start the libbpf client in a container of uid 1000 with map, BTF and
# program creation delegated; it waits for the directory REV (made in the
# container's folder) before it checks that the delegation is gone.  Sets
# $runner; the container's pid goes to PIDFILE.
start_client() { # PIDFILE REV
	"$tool" run --user 1000 --pid-file "$1" --cmds map_create,btf_load,prog_load \
		--maps stack --progs socket_filter --attachs cgroup_inet_ingress -- \
		"$client" /sys/fs/bpf --revoked-after "$ctr/$2" >"$tmp/out" 2>&1 &
	runner=$!
	await -e "$ctr/$2.waiting" $runner
}

# An unprivileged user's container: works through libbpf, then loses it all
# at 'reset' with the token and fd it still holds.
unprivileged_container_loses_it_on_reset() {
	start_client "$tmp/pid2" rev
	pid2=$(cat "$tmp/pid2")
	if [ "$(stat -c %u "/proc/$pid2" 2>&1)" != 1000 ]; then
		wait "$runner"
		echo "client $pid2 is not running as uid 1000; the runner exited with $?" >>"$tmp/out"
		return 1
	fi
	"$tool" reset /sys/fs/bpf --pid "$pid2" >>"$tmp/out" 2>&1 || return 1
	mkdir "$ctr/rev"
	refused='after revocation, token: bpf_map_create(stack): Operation not permitted'
	wait "$runner" && grep -q "$refused" "$tmp/out"
}
check unprivileged_container_loses_it_on_reset unprivileged_container_loses_it_on_reset

# 'run' revokes the instance when its command exits: a client the command
# left behind in the background keeps its token and bpffs fd, and is
# refused once 'run' has returned.  'run' exits with the command's status.
left_behind_loses_the_delegation() {
	# Appending: the client goes on writing to it after 'run' returned.
	: >"$tmp/out"
	"$tool" run --user 1000 --cmds map_create,btf_load,prog_load --maps stack \
		--progs socket_filter --attachs cgroup_inet_ingress -- \
		sh -c "$client /sys/fs/bpf --revoked-after $ctr/rev7 &
			while [ ! -e $ctr/rev7.waiting ]; do sleep 0.1; done; exit 7" >>"$tmp/out" 2>&1
	rc=$?
	echo "run: exit $rc" >>"$tmp/out"
	[ $rc = 7 ] || return 1
	mkdir "$ctr/rev7"
	# The client writes its verdict into the same file: 4 lines after the
	# revocation (a map and a program, through the token and the fd).
	for _ in $(seq 300); do
		[ "$(grep -c '^# after revocation' "$tmp/out")" -ge 4 ] && break
		sleep 0.1
	done
	sleep 0.2
	[ "$(grep -c '^# after revocation, .*: Operation not permitted' "$tmp/out")" = 4 ]
}
check left_behind_loses_the_delegation left_behind_loses_the_delegation

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

# Each live instance keeps its newest refusals.  The libbpf client asks for
# a queue map, which its container was not given (through its token and
# through the bpffs fd), and waits; 'show' says so in words, with the
# client's pid and comm, by user namespace and by path (the namespace's
# only live instance), and --json has it for scripts.  Outputs go to files
# of their own while the client writes to $tmp/out.
refusals_are_shown() {
	if ! start_client "$tmp/pid9" rev9; then
		wait "$runner"
		return 1
	fi
	pid9=$(cat "$tmp/pid9")
	comm=$(basename "$client" | cut -c 1-15)
	rc=0
	"$tool" show --pid "$pid9" >"$tmp/show9" 2>&1 &&
		"$tool" show /sys/fs/bpf --pid "$pid9" >>"$tmp/show9" 2>&1 &&
		"$tool" show --pid "$pid9" --json >"$tmp/json9" 2>"$tmp/err9" &&
		"$tool" show /sys/fs/bpf --pid "$pid9" --json >>"$tmp/json9" 2>>"$tmp/err9" || rc=1
	# Let the client go on: it checks that a reset refuses it everything.
	"$tool" reset --pid "$pid9" >>"$tmp/err9" 2>&1 || rc=1
	mkdir "$ctr/rev9"
	wait "$runner" || rc=1
	cat "$tmp/show9" "$tmp/json9" "$tmp/err9" >>"$tmp/out"
	echo "exit $rc" >>"$tmp/out"
	[ $rc = 0 ] || return 1
	words="refused #[0-9]*: map_create of queue: maps does not delegate queue (pid $pid9\(, [0-9]* in its pid namespace\)\?, comm \"$comm\")\$"
	grep -q ': 1 live, 0 pending$' "$tmp/show9" &&
		grep -q "^    $words" "$tmp/show9" && grep -q "^  $words" "$tmp/show9" &&
		[ "$(wc -l <"$tmp/json9")" -eq 2 ] &&
		[ "$(grep -c '"why": "map_type"' "$tmp/json9")" = 2 ] &&
		[ "$(grep -c '"map_type": "queue"' "$tmp/json9")" = 2 ] &&
		grep -q '"refusals_note": null}$' "$tmp/json9" || return 1
	command -v python3 >/dev/null || return 0
	python3 - "$tmp/json9" "$pid9" "$comm" >>"$tmp/out" 2>&1 <<-'EOF'
		import json, sys
		path, pid, comm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		by_ns, by_path = (json.loads(line) for line in open(path))
		assert by_ns["live"] == 1 and by_ns["pending"] == 0, by_ns
		live = [i for i in by_ns["instances"] if i["state"] == "live"]
		assert len(live) == 1, by_ns
		assert by_path["path"] == "/sys/fs/bpf" and by_path["delegated"] is True, by_path
		assert by_path["refusals_note"] is None, by_path
		for inst in (live[0], by_path):
		    assert "stack" in inst["maps"] and "queue" not in inst["maps"], inst
		    rs, n = inst["refusals"], inst["refused"]
		    assert n >= 1 and n == len(rs) + inst["refusals_not_shown"], inst
		    assert [r["seq"] for r in rs] == list(range(n - len(rs) + 1, n + 1)), rs
		    assert any(r["cmd"] == "map_create" and r["map_type"] == "queue"
		               and r["prog_type"] is None and r["attach_type"] is None
		               and r["why"] == "map_type" and r["pid"] == pid
		               and r["comm"] == comm for r in rs), rs
		print("# the JSON says it too")
	EOF
}
check refusals_are_shown refusals_are_shown

# A container that detaches its instance after making its token leaves the
# privileged side no path; 'reset --pid' reaches it all the same.
hidden_instance_is_reset_by_pid() {
	start_client "$tmp/pid3" rev3
	pid3=$(cat "$tmp/pid3")
	nsenter -t "$pid3" -m umount -l /sys/fs/bpf >>"$tmp/out" 2>&1 || return 1
	if "$tool" reset /sys/fs/bpf --pid "$pid3" >>"$tmp/out" 2>&1; then
		echo "reset by path reached an instance that is no longer there" >>"$tmp/out"
		return 1
	fi
	"$tool" reset --pid "$pid3" >>"$tmp/out" 2>&1 || return 1
	mkdir "$ctr/rev3"
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
	"$tool" run --user 1000 --pid-file "$tmp/pid4" --mount "$hostbpf" --cmds map_create \
		--maps stack -- \
		sh -c "while [ ! -e $ctr/go4 ]; do sleep 0.1; done; umount -l $hostbpf; touch $ctr/moved4; exec sleep 30" \
		>"$tmp/out" 2>&1 &
	runner=$!
	await -s "$tmp/pid4" $runner
	pid4=$(cat "$tmp/pid4")
	mkdir "$ctr/go4"
	await -e "$ctr/moved4" $runner
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

# 'attach': a container the tool did not make.  An unprivileged user's
# process in a user and mount namespace of its own (unshare, as a runtime
# would make it; FILE gets its pid, which is the runner's: setpriv, unshare
# and sh exec each other).  Sets $runner.
start_plain() { # NAME COMMAND
	setpriv --reuid 1000 --regid 1000 --clear-groups -- \
		unshare --user --map-root-user --mount -- \
		sh -c "mkdir -p $ctr/$1 && echo \$\$ >$ctr/$1.pid && $2" >>"$tmp/out" 2>&1 &
	runner=$!
	await -s "$ctr/$1.pid" $runner
}

# Attached to a plain process, the container uses the instance through
# libbpf (token and bpffs fd), the host's mount table does not have it, and
# 'reset --pid' takes it away from the token and fd the client holds.
attach_to_a_plain_process() {
	: >"$tmp/out"
	start_plain att "while [ ! -e $ctr/att.go ]; do sleep 0.1; done;
		exec $client $ctr/att --revoked-after $ctr/att.rev" || return 1
	apid=$(cat "$ctr/att.pid")
	rc=0
	"$tool" attach --pid "$apid" --mount "$ctr/att" --cmds map_create,btf_load,prog_load \
		--maps stack --progs socket_filter --attachs cgroup_inet_ingress >"$tmp/attach.out" 2>&1 || rc=$?
	cat "$tmp/attach.out" >>"$tmp/out"
	if [ $rc != 0 ] || grep -q " $ctr/att " /proc/self/mountinfo; then
		kill "$apid"
		return 1
	fi
	grep -q "^attached a bpffs at $ctr/att in the mount namespace of process $apid" "$tmp/attach.out" &&
		grep -q "^narrow, revoke or show it with: bpf-delegate set|reset|show --pid $apid$" "$tmp/attach.out" &&
		grep " $ctr/att " "/proc/$apid/mountinfo" | grep -q 'delegate_maps=stack' || { kill "$apid"; return 1; }
	touch "$ctr/att.go"
	await -e "$ctr/att.rev.waiting" $runner || return 1
	"$tool" reset --pid "$apid" >>"$tmp/out" 2>&1 || return 1
	mkdir "$ctr/att.rev"
	wait "$runner" &&
		grep -q 'after revocation, token: bpf_map_create(stack): Operation not permitted' "$tmp/out"
}
check attach_to_a_plain_process attach_to_a_plain_process

# A second attach at a mount point that holds a bpffs is refused and changes
# nothing; with --replace it mounts over it (two live instances).
attach_refuses_a_bpffs_in_place() {
	: >"$tmp/out"
	start_plain att2 "exec sleep 60" || return 1
	apid=$(cat "$ctr/att2.pid")
	rc=0
	"$tool" attach --pid "$apid" --mount "$ctr/att2" --cmds map_create --maps stack >>"$tmp/out" 2>&1 &&
		"$tool" attach --pid "$apid" --mount "$ctr/att2" --cmds map_create --maps queue >>"$tmp/out" 2>&1 ||
		rc=$?
	echo "second attach: exit $rc" >>"$tmp/out"
	"$tool" show --pid "$apid" >"$tmp/show1" 2>&1
	"$tool" attach --pid "$apid" --mount "$ctr/att2" --replace --cmds map_create --maps queue \
		>>"$tmp/out" 2>&1 && "$tool" show --pid "$apid" >"$tmp/show2" 2>&1
	kill "$apid"
	cat "$tmp/show1" "$tmp/show2" >>"$tmp/out"
	[ $rc = 1 ] && grep -q "$ctr/att2 already holds a bpffs: --replace mounts the new one over it" "$tmp/out" &&
		grep -q ': 1 live, 0 pending' "$tmp/show1" && grep -q ': 2 live, 0 pending' "$tmp/show2" &&
		grep -q 'live: delegate_cmds=map_create delegate_maps=queue' "$tmp/show2"
}
check attach_refuses_a_bpffs_in_place attach_refuses_a_bpffs_in_place

# Never the host's namespaces: not a process of the initial user namespace,
# not one that shares the host's mount namespace, not a pid that is gone.
attach_refuses_the_hosts_namespaces() {
	: >"$tmp/out"
	rc1=0 rc2=0 rc3=0
	"$tool" attach --pid 1 --cmds map_create --maps stack >>"$tmp/out" 2>&1 || rc1=$?
	setpriv --reuid 1000 --regid 1000 --clear-groups -- unshare --user --map-root-user -- \
		sh -c "echo \$\$ >$ctr/att3.pid; exec sleep 60" >>"$tmp/out" 2>&1 &
	runner=$!
	await -s "$ctr/att3.pid" $runner || return 1
	apid=$(cat "$ctr/att3.pid")
	"$tool" attach --pid "$apid" --mount /tmp --cmds map_create --maps stack >>"$tmp/out" 2>&1 || rc2=$?
	kill "$apid"
	wait "$runner"
	"$tool" attach --pid "$apid" --cmds map_create --maps stack >>"$tmp/out" 2>&1 || rc3=$?
	echo "exits: $rc1 $rc2 $rc3" >>"$tmp/out"
	[ "$rc1 $rc2 $rc3" = "1 1 1" ] && grep -q "the initial one, not a container's" "$tmp/out" &&
		grep -q "process $apid shares bpf-delegate's mount namespace" "$tmp/out" &&
		grep -q "ESRCH: pidfd_open($apid)" "$tmp/out"
}
check attach_refuses_the_hosts_namespaces attach_refuses_the_hosts_namespaces

# 'oci-hook' as a runtime runs it, with the container's state on stdin, at
# the moment of a createRuntime hook: the container's process (made with
# unshare here, no runtime) is in its namespaces but has not pivoted into
# the bundle's root yet, so the instance goes to ROOTFS/sys/fs/bpf.  A state
# without the annotations gets nothing; an unknown annotation or name fails
# the hook (which fails the container), as do an annotation asking for more
# than the hook's own arguments grant and a mount point with "..".
oci_hook_attaches_as_annotated() {
	: >"$tmp/out"
	bundle=$tmp/bundle
	mkdir -p "$bundle/rootfs/sys/fs/bpf"
	echo '{"ociVersion": "1.0.2", "root": {"path": "rootfs"}}' >"$bundle/config.json"
	start_plain oci "while [ ! -e $ctr/oci.go ]; do sleep 0.1; done;
		exec $client $bundle/rootfs/sys/fs/bpf" || return 1
	apid=$(cat "$ctr/oci.pid")
	state() { # ANNOTATIONS
		printf '{"ociVersion": "1.0.2", "id": "t1", "status": "creating", "pid": %s, "bundle": "%s", "annotations": {%s}}' \
			"$apid" "$bundle" "$1"
	}
	p=org.kernel.bpf.delegate
	# The operator's word: the most the hook grants.
	hook() {
		"$tool" oci-hook --cmds map_create,btf_load,prog_load --maps stack,queue \
			--progs socket_filter --attachs cgroup_inet_ingress
	}
	rc1=0 rc2=0 rc3=0 rc4=0 rc5=0 rc6=0
	state '"org.opencontainers.image.os": "linux"' | hook >"$tmp/hook0" 2>&1 || rc1=$?
	state "\"$p.map\": \"stack\"" | hook >>"$tmp/out" 2>&1 || rc2=$?
	state "\"$p.maps\": \"stack,hsah\"" | hook >>"$tmp/out" 2>&1 || rc3=$?
	state "\"$p.maps\": \"stack,hash\"" | hook >>"$tmp/out" 2>&1 || rc5=$?
	state "\"$p.maps\": \"stack\", \"$p.mount\": \"/sys/../tmp\"" | hook >>"$tmp/out" 2>&1 || rc6=$?
	mounted_before=$(grep -c " $bundle/rootfs/sys/fs/bpf " "/proc/$apid/mountinfo")
	state "\"$p.cmds\": \"map_create,btf_load,prog_load\", \"$p.maps\": \"stack\", \"$p.progs\": \"socket_filter\", \"$p.attachs\": \"cgroup_inet_ingress\"" |
		hook >"$tmp/hook.out" 2>&1 || rc4=$?
	cat "$tmp/hook0" "$tmp/hook.out" >>"$tmp/out"
	echo "exits: $rc1 $rc2 $rc3 $rc4 $rc5 $rc6; mounted before: $mounted_before" >>"$tmp/out"
	touch "$ctr/oci.go"
	wait "$runner" || return 1
	[ "$rc1 $rc2 $rc3 $rc4 $rc5 $rc6" = "0 2 2 0 2 2" ] && [ "$mounted_before" = 0 ] && [ ! -s "$tmp/hook0" ] &&
		grep -q "unknown annotation $p.map (known:" "$tmp/out" &&
		grep -q "unknown name 'hsah'" "$tmp/out" &&
		grep -q "annotation $p.maps asks for more than this hook grants" "$tmp/out" &&
		grep -q 'mount point "/sys/../tmp": give an absolute path without . or .. components' "$tmp/out" &&
		grep -q "^attached a bpffs at $bundle/rootfs/sys/fs/bpf in the mount namespace of process $apid" "$tmp/hook.out"
}
check oci_hook_attaches_as_annotated oci_hook_attaches_as_annotated

# Under a real runtime: crun runs containers from a busybox rootfs
# (oci_bundle.sh) with a user namespace and oci-hook as a createRuntime hook.
crun_bundle() { # BUNDLE COMMAND ANNOTATIONS
	"$here/oci_bundle.sh" "$1" "$tool" "$(dirname "$client")" "$ctr" "$2" "$3"
}
crun_() { crun --root "$tmp/crun-state" --cgroup-manager=disabled "$@"; }
busybox=$(command -v busybox)
[ -x "$here/oci_bundle.sh" ] || busybox=

# The container creates a map, loads BTF and a program through its token
# and bpffs fd, is refused a queue map, and the host sees that refusal by
# the container's pid; 'set --pid' narrows it to queue maps and 'reset
# --pid' takes the rest, from the token and fd the container holds.  'crun
# run' leaves no container behind.
crun_container_uses_its_bpffs() {
	: >"$tmp/out"
	p=org.kernel.bpf.delegate
	crun_bundle "$tmp/crun1" "/t/$(basename "$client") /sys/fs/bpf --revoked-after /x/crun.rev" \
		"\"$p.cmds\": \"map_create,btf_load,prog_load\", \"$p.maps\": \"stack\",
		 \"$p.progs\": \"socket_filter\", \"$p.attachs\": \"cgroup_inet_ingress\""
	crun_ run --bundle "$tmp/crun1" bpf-test-1 >>"$tmp/out" 2>&1 &
	runner=$!
	await -e "$ctr/crun.rev.waiting" $runner || return 1
	cpid=$(crun_ state bpf-test-1 | sed -n 's/^ *"pid": *\([0-9]*\),*$/\1/p')
	echo "container pid: $cpid" >>"$tmp/out"
	"$tool" show --pid "$cpid" >"$tmp/show" 2>&1
	"$tool" set --pid "$cpid" --cmds map_create --maps queue >"$tmp/narrowed" 2>&1 &&
		"$tool" reset --pid "$cpid" >>"$tmp/out" 2>&1 || return 1
	mkdir "$ctr/crun.rev"
	wait "$runner" || return 1
	cat "$tmp/show" "$tmp/narrowed" >>"$tmp/out"
	[ "$(grep -c '^# after revocation, .*: Operation not permitted' "$tmp/out")" = 4 ] &&
		grep -q 'each delegating delegate_cmds=map_create delegate_maps=queue;' "$tmp/narrowed" &&
		grep -q ': 1 live, 0 pending' "$tmp/show" &&
		grep -q 'map_create of queue: maps does not delegate queue' "$tmp/show" &&
		! crun_ state bpf-test-1 >/dev/null 2>&1
}

# Without the annotations a container gets no bpffs; with an unknown one the
# hook fails, says why, and the container never runs its command.
crun_annotations_decide() {
	: >"$tmp/out"
	crun_bundle "$tmp/crun2" "grep -c ' - bpf ' /proc/self/mountinfo; touch /x/crun2.ran" ""
	crun_ run --bundle "$tmp/crun2" bpf-test-2 >"$tmp/plain.out" 2>&1
	rc1=$?
	crun_ delete bpf-test-2 >/dev/null 2>&1
	# crun passes a hook's stderr on only where this annotation says.
	crun_bundle "$tmp/crun3" "touch /x/crun3.ran" "\"org.kernel.bpf.delegate.map\": \"stack\",
		\"run.oci.hooks.stderr\": \"$tmp/hook3.err\""
	rc2=0
	crun_ run --bundle "$tmp/crun3" bpf-test-3 >>"$tmp/out" 2>&1 || rc2=$?
	crun_ delete -f bpf-test-3 >/dev/null 2>&1
	cat "$tmp/plain.out" "$tmp/hook3.err" >>"$tmp/out"
	echo "exits: $rc1 $rc2" >>"$tmp/out"
	[ $rc1 = 0 ] && [ "$(head -n 1 "$tmp/plain.out")" = 0 ] && [ -e "$ctr/crun2.ran" ] &&
		[ $rc2 != 0 ] && [ ! -e "$ctr/crun3.ran" ] &&
		grep -q 'unknown annotation org.kernel.bpf.delegate.map' "$tmp/out"
}
if ! command -v crun >/dev/null || [ -z "$busybox" ]; then
	skip crun_container_uses_its_bpffs "no crun, busybox or oci_bundle.sh"
	skip crun_annotations_decide "no crun, busybox or oci_bundle.sh"
else
	check crun_container_uses_its_bpffs crun_container_uses_its_bpffs
	check crun_annotations_decide crun_annotations_decide
fi

# The cgroup scope.  A cgroup2 hierarchy (/sys/fs/cgroup, or one mounted
# for the test), a cgroup for the containers with a child, and a sibling.
cgroot= cg= cgname=bpf-delegate-test-$$
if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	cgroot=/sys/fs/cgroup
elif mkdir -p "$tmp/cgroup2" && mount -t cgroup2 none "$tmp/cgroup2"; then
	cgroot=$tmp/cgroup2
fi
if [ -n "$cgroot" ] && mkdir "$cgroot/$cgname" "$cgroot/$cgname/sub" "$cgroot/$cgname-sibling"; then
	cg=$cgroot/$cgname
fi
cg_check() { if [ -n "$cg" ]; then check "$@"; else skip "$1" "no cgroup2 hierarchy"; fi; }
# The super options of the bpffs of the container $pid.
bpffs_options() { grep ' /sys/fs/bpf ' "/proc/$pid/mountinfo" | sed 's/.* - bpf [^ ]* //'; }

# set --cgroup: the scope is the directory's id; mountinfo shows it last,
# 'show' names the directory (by path and by user namespace) apart from the
# masks.
set_cgroup_and_show_it() {
	id=$(stat -c %i "$cg")
	"$tool" set /sys/fs/bpf --pid "$pid" --cgroup "$cg" --cmds map_create --maps queue \
		>"$tmp/out" 2>&1 || return 1
	bpffs_options >>"$tmp/out"
	bpffs_options | grep -q "delegate_maps=queue,delegate_cgroup=$id\$" || return 1
	"$tool" show /sys/fs/bpf --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q "^  cgroup: .*/$cgname (id $id)\$" "$tmp/out" &&
		! grep -q '^  delegate_cgroup' "$tmp/out" &&
		"$tool" show --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q "^  live: delegate_cmds=map_create delegate_maps=queue; cgroup: .*/$cgname (id $id)\$" \
			"$tmp/out" || return 1
	# By path, without --cgroup: the masks change, the scope stays.
	"$tool" set /sys/fs/bpf --pid "$pid" --cmds map_create --maps stack >>"$tmp/out" 2>&1 &&
		bpffs_options | grep -q "delegate_maps=stack,delegate_cgroup=$id\$"
}
cg_check set_cgroup_and_show_it set_cgroup_and_show_it

# Without a path (target_userns): the kernel's report is read back with the
# scope; a set without --cgroup keeps it (the VER0 struct), reset too, and
# --cgroup none clears it.
set_cgroup_by_pid_keep_then_clear_it() {
	id=$(stat -c %i "$cg/sub")
	"$tool" set --pid "$pid" --cgroup "$cg/sub" --cmds map_create --maps queue >"$tmp/out" 2>&1 &&
		grep -q "^user:.*: 1 live, 0 pending, each delegating delegate_cmds=map_create delegate_maps=queue; cgroup: $cg/sub (id $id)\$" \
			"$tmp/out" &&
		bpffs_options | grep -q ",delegate_cgroup=$id\$" || return 1
	"$tool" set --pid "$pid" --cmds map_create --maps stack >>"$tmp/out" 2>&1 &&
		grep -q "^user:.*: 1 live, 0 pending, each delegating delegate_cmds=map_create delegate_maps=stack; cgroup scope kept: $cg/sub (id $id)\$" \
			"$tmp/out" &&
		bpffs_options | grep -q "delegate_maps=stack,delegate_cgroup=$id\$" || return 1
	"$tool" reset --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q "each delegating (nothing delegated); cgroup scope kept: $cg/sub (id $id)\$" \
			"$tmp/out" &&
		bpffs_options | grep -q ",delegate_cgroup=$id\$" &&
		! bpffs_options | grep -q 'delegate_maps' || return 1
	"$tool" set --pid "$pid" --cgroup none --cmds map_create --maps queue >>"$tmp/out" 2>&1 &&
		grep -q '; cgroup: none (any cgroup)$' "$tmp/out" &&
		! bpffs_options | grep -q delegate_cgroup &&
		"$tool" show /sys/fs/bpf --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q '^  cgroup: none (any cgroup)$' "$tmp/out"
}
cg_check set_cgroup_by_pid_keep_then_clear_it set_cgroup_by_pid_keep_then_clear_it

# A scope whose cgroup was removed names nothing: 'show' says so by its id.
removed_cgroup_is_not_found() {
	mkdir "$cg/gone" || return 1
	id=$(stat -c %i "$cg/gone")
	"$tool" set /sys/fs/bpf --pid "$pid" --cgroup "$cg/gone" --cmds map_create --maps queue \
		>"$tmp/out" 2>&1
	rc=$?
	rmdir "$cg/gone" || return 1
	[ $rc = 0 ] && "$tool" show /sys/fs/bpf --pid "$pid" >>"$tmp/out" 2>&1 &&
		grep -q "^  cgroup: id $id (not found)\$" "$tmp/out"
}
cg_check removed_cgroup_is_not_found removed_cgroup_is_not_found

# Delegating a cgroup program type (and an attach type it attaches with)
# without a scope works but warns: 'run' without --cgroup, 'set --cgroup
# none', and 'set' without --cgroup on an instance that has none (told by
# the read-back); a socket filter with attach type 0, or a scope, does not.
warns_without_a_scope() {
	warning="^bpf-delegate: warning: delegating cgroup_skb without a cgroup scope lets the container attach them to any cgroup it can open, including the host's root; use --cgroup"
	"$tool" run --user 1000 --cmds prog_load --progs cgroup_skb,socket_filter \
		--attachs cgroup_inet_ingress -- true >"$tmp/out" 2>&1 &&
		grep -q "$warning" "$tmp/out" || return 1
	"$tool" set --pid "$pid" --cgroup none --cmds prog_load --progs cgroup_sock_addr \
		--attachs cgroup_inet4_connect >>"$tmp/out" 2>&1 &&
		[ "$(grep -c '^bpf-delegate: warning: delegating cgroup_sock_addr without a cgroup scope' \
			"$tmp/out")" = 1 ] || return 1
	"$tool" set --pid "$pid" --cmds prog_load --progs cgroup_sock_addr \
		--attachs cgroup_inet4_connect >>"$tmp/out" 2>&1 &&
		[ "$(grep -c '^bpf-delegate: warning: delegating cgroup_sock_addr without a cgroup scope' \
			"$tmp/out")" = 2 ] || return 1
	"$tool" run --user 1000 --cmds prog_load --progs socket_filter \
		--attachs cgroup_inet_ingress -- true >>"$tmp/out" 2>&1 &&
		"$tool" run --user 1000 --cgroup "$cg" --cmds prog_load --progs cgroup_skb \
			--attachs cgroup_inet_ingress -- true >>"$tmp/out" 2>&1 &&
		"$tool" set --pid "$pid" --cmds map_create --maps stack >>"$tmp/out" 2>&1 &&
		"$tool" set --pid "$pid" --cgroup "$cg" --cmds prog_load --progs cgroup_sock_addr \
			--attachs cgroup_inet4_connect >>"$tmp/out" 2>&1 &&
		"$tool" set /sys/fs/bpf --pid "$pid" --cmds prog_load --progs cgroup_sock_addr \
			--attachs cgroup_inet4_connect >>"$tmp/out" 2>&1 &&
		[ "$(grep -c warning "$tmp/out")" = 3 ]
}
cg_check warns_without_a_scope warns_without_a_scope

# With a scope, lsm programs of attach type lsm_cgroup are delegated but
# warned about: a scoped instance refuses BPF_LSM_CGROUP attaches.
warns_lsm_cgroup_with_a_scope() {
	warning='^bpf-delegate: warning: delegating lsm programs with attach type lsm_cgroup to an instance with a cgroup scope: scoped instances refuse BPF_LSM_CGROUP attaches'
	"$tool" set /sys/fs/bpf --pid "$pid" --cgroup "$cg" --cmds prog_load --progs lsm \
		--attachs lsm_cgroup >"$tmp/out" 2>&1 &&
		[ "$(grep -c "$warning" "$tmp/out")" = 1 ] || return 1
	# Kept by a set without --cgroup: told by the read-back.
	"$tool" set --pid "$pid" --cmds prog_load --progs lsm,cgroup_skb \
		--attachs lsm_cgroup,cgroup_inet_ingress >>"$tmp/out" 2>&1 &&
		[ "$(grep -c "$warning" "$tmp/out")" = 2 ] || return 1
	# lsm_cgroup without a scope is the unscoped warning's business.
	"$tool" set --pid "$pid" --cgroup none --cmds prog_load --progs lsm \
		--attachs lsm_cgroup >>"$tmp/out" 2>&1 &&
		[ "$(grep -c "$warning" "$tmp/out")" = 2 ] &&
		grep -q '^bpf-delegate: warning: delegating lsm (lsm_cgroup) without a cgroup scope' "$tmp/out"
}
cg_check warns_lsm_cgroup_with_a_scope warns_lsm_cgroup_with_a_scope

# --cgroup takes a cgroup2 directory only, and a refusal changes nothing.
non_cgroup_paths_are_refused() {
	"$tool" set /sys/fs/bpf --pid "$pid" --cgroup "$cg" --cmds map_create --maps stack \
		>"$tmp/out" 2>&1 || return 1
	rc=0
	"$tool" set /sys/fs/bpf --pid "$pid" --cgroup /tmp --cmds map_create --maps queue \
		>>"$tmp/out" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q '^bpf-delegate: --cgroup /tmp: not a cgroup2 directory (on a filesystem of type 0x' \
		"$tmp/out" || return 1
	rc=0
	"$tool" run --user 1000 --cgroup /etc/passwd --cmds map_create -- true >>"$tmp/out" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q '^bpf-delegate: --cgroup /etc/passwd: not a cgroup2 directory (not a directory)' \
		"$tmp/out" || return 1
	rc=0
	"$tool" set --pid "$pid" --cgroup "$cg/none" --cmds map_create >>"$tmp/out" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q "^bpf-delegate: --cgroup $cg/none: ENOENT" "$tmp/out" || return 1
	# The root of the hierarchy is no scope.
	rc=0
	"$tool" set --pid "$pid" --cgroup "$cgroot" --cmds map_create >>"$tmp/out" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q "^bpf-delegate: --cgroup $cgroot: the root of the cgroup2 hierarchy (id 1): every cgroup is below it, so scoping to it is no scope" \
		"$tmp/out" || return 1
	# A symlink is not followed, last or on the way.
	ln -s "$cg" "$tmp/cglink" && ln -s "$cgroot" "$tmp/cgrootlink" || return 1
	for link in "$tmp/cglink" "$tmp/cglink/sub" "$tmp/cgrootlink/$cgname"; do
		rc=0
		"$tool" set /sys/fs/bpf --pid "$pid" --cgroup "$link" --cmds map_create --maps queue \
			>>"$tmp/out" 2>&1 || rc=$?
		[ $rc = 2 ] && grep -q "^bpf-delegate: --cgroup $link: ELOOP: a symlink on the way, and symlinks are not followed" \
			"$tmp/out" || return 1
	done
	bpffs_options >>"$tmp/out"
	bpffs_options | grep -q "delegate_maps=stack,delegate_cgroup=$(stat -c %i "$cg")\$"
}
cg_check non_cgroup_paths_are_refused non_cgroup_paths_are_refused

# run --cgroup starts the command in that cgroup, with the scope set.
run_starts_the_command_in_its_cgroup() {
	"$tool" run --user 1000 --cgroup "$cg" --cmds map_create --maps stack -- \
		sh -c "cat /proc/self/cgroup; grep ' /sys/fs/bpf ' /proc/self/mountinfo" >"$tmp/out" 2>&1 &&
		grep -q "^0::/\(.*/\)\?$cgname\$" "$tmp/out" &&
		grep -q ",delegate_cgroup=$(stat -c %i "$cg")\$" "$tmp/out"
}
cg_check run_starts_the_command_in_its_cgroup run_starts_the_command_in_its_cgroup

# The container's own cgroup_sock_addr program, loaded through libbpf and a
# token, attaches below its scope (prog_attach and a link) and is refused
# on the cgroup2 root and a sibling of its cgroup.
scoped_programs_attach_only_in_scope() {
	"$tool" run --user 1000 --cgroup "$cg" --cmds prog_load --progs cgroup_sock_addr \
		--attachs cgroup_inet4_connect -- \
		"$client" --cgroup-scope /sys/fs/bpf "$cg/sub" "$cgroot" "$cgroot/$cgname-sibling" \
		>"$tmp/out" 2>&1
}
cg_check scoped_programs_attach_only_in_scope scoped_programs_attach_only_in_scope

[ -n "$pid" ] && kill "$pid" 2>/dev/null
wait
if [ -n "$cg" ]; then
	# The long-lived container is gone: the cgroups are empty.
	rmdir "$cg/sub" "$cg" "$cgroot/$cgname-sibling" 2>/dev/null
fi
[ "$cgroot" = "$tmp/cgroup2" ] && umount "$cgroot"
rm -rf "$tmp"
[ $failed = 0 ]
