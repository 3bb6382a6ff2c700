#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Writes an OCI bundle (config.json and a busybox rootfs) for crun or runc:
# a container in new pid, mount, user, uts and network namespaces, its uids
# and gids mapped to 100000-165535, its root with CAP_BPF, CAP_NET_ADMIN and
# CAP_PERFMON in its user namespace only, the host's /usr and DIR bound
# read-only (at /usr and /t) and SHARED read-write (at /x), and TOOL's
# 'oci-hook' as its createRuntime hook, granting at most map_create,
# btf_load and prog_load of stack and queue maps and socket filters.  ANNOTATIONS are JSON members (the
# hook's org.kernel.bpf.delegate.* among them), or nothing.
#   oci_bundle.sh BUNDLE TOOL DIR SHARED COMMAND [ANNOTATIONS]
set -e
bundle=$1 tool=$2 dir=$3 shared=$4 command=$5 annotations=${6:-}
busybox=$(command -v busybox)
r=$bundle/rootfs
mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/usr" "$r/t" "$r/x"
# The libraries of what runs from /t, as a merged-/usr host has them.
[ -e "$r/lib" ] || ln -s usr/lib "$r/lib"
[ -e "$r/lib64" ] || ln -s usr/lib64 "$r/lib64"
cp "$busybox" "$r/bin/busybox"
for c in sh cat grep sleep touch; do ln -sf busybox "$r/bin/$c"; done
caps='"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"'
cat >"$bundle/config.json" <<EOF
{
 "ociVersion": "1.0.2",
 "process": {
  "terminal": false, "user": {"uid": 0, "gid": 0},
  "args": ["/bin/sh", "-c", "$command"],
  "env": ["PATH=/bin"], "cwd": "/",
  "capabilities": {"bounding": [$caps], "effective": [$caps], "permitted": [$caps]},
  "noNewPrivileges": true
 },
 "root": {"path": "rootfs"},
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
  {"destination": "/t", "type": "bind", "source": "$dir", "options": ["rbind", "ro"]},
  {"destination": "/x", "type": "bind", "source": "$shared", "options": ["rbind"]}
 ],
 "hooks": {"createRuntime": [{"path": "$tool", "args": ["bpf-delegate", "oci-hook",
   "--cmds", "map_create,btf_load,prog_load", "--maps", "stack,queue",
   "--progs", "socket_filter", "--attachs", "cgroup_inet_ingress"]}]},
 "annotations": {$annotations},
 "linux": {
  "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}, {"type": "uts"}, {"type": "network"}],
  "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
  "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]
 }
}
EOF
