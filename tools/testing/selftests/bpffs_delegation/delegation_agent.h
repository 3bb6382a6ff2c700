/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A child "container": a process in its own user and mount namespace that
 * does what its privileged parent tells it, over a unix socket, and answers
 * with a result (0 or -errno), maybe a string and maybe an fd.  It lets one
 * test drive both sides of the delegation flow step by step.
 */
#ifndef __BPFFS_DELEGATION_AGENT_H
#define __BPFFS_DELEGATION_AGENT_H

#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include "delegation_util.h"

#ifndef FSPICK_EMPTY_PATH
#define FSPICK_EMPTY_PATH 0x0008
#endif

enum agent_op {
	OP_FSOPEN = 1,		/* open a bpffs context, send its fd */
	OP_SET_STRING,		/* fsconfig(ctx, SET_STRING, key, str) */
	OP_SET_FLAG,		/* fsconfig(ctx, SET_FLAG, key) */
	OP_SET_ABILITIES,	/* SET_BINARY "abilities" of arg bytes: zeroes, or str's
				 * "cmds maps progs attachs cgroup_id" (decimal)
				 */
	OP_SET_USERNS,		/* fsconfig(ctx, SET_FD, "delegate_userns", own userns) */
	OP_CREATE,		/* fsconfig(ctx, CMD_CREATE) */
	OP_MOUNT,		/* fsmount + move_mount to str, send the mount fd */
	OP_TOKEN,		/* BPF_TOKEN_CREATE from the root at str */
	OP_MAP,			/* create a map of type arg with the token */
	OP_MOUNTINFO,		/* send the super options of the mount at str */
	OP_PICK,		/* fspick the mount at str */
	OP_PICK_SET_STRING,	/* fsconfig(picked, SET_STRING, key, str) */
	OP_PICK_RECONFIGURE,	/* fsconfig(picked, CMD_RECONFIGURE) */
	OP_REMOUNT,		/* mount(2) MS_REMOUNT of str with data key */
	OP_OPEN,		/* open str into slot key ("root", "opath", "other") */
	OP_USE,			/* a command (arg: USE_*) with the fd in slot key */
	OP_DROP_CAPS,		/* drop the CAP_* bits in str (a number) */
	OP_SEND_SLOT,		/* send the fd in slot key to the parent */
	OP_RECV_SLOT,		/* take an fd from the parent into slot key */
	OP_FDINFO,		/* /proc/self/fdinfo of slot key */
	OP_TOKEN_INFO,		/* BPF_OBJ_GET_INFO_BY_FD of slot key, info_len arg */
	OP_UMOUNT,		/* umount2(str, arg) */
	OP_CLOSE,		/* close slot key */
	OP_MKDIR,		/* mkdir(str) */
	OP_EXEC,		/* run str with key as its argument, its exit status */
	OP_SEND_CTX,		/* send the context (arg 0) or the picked one (arg 1) */
	OP_CTX_RECONFIGURE,	/* CMD_RECONFIGURE on the context (arg 0) or picked (1) */
	OP_MOUNT_TOKEN,		/* fsmount, a token from the mount fd, attach nothing */
	/*
	 * Cgroup programs; every fd named is a slot.  The target of the
	 * attach ops is slot key, arg is the attach type.
	 */
	OP_PROG_KEEP,		/* load through slot key, str "slot prog_type attach_type ret" */
	OP_CG_ATTACH,		/* BPF_PROG_ATTACH, str "prog flags [replaced prog]" */
	OP_CG_DETACH,		/* BPF_PROG_DETACH, str "prog" */
	OP_CG_LINK,		/* BPF_LINK_CREATE, str "prog link" (the slot it keeps it in) */
	OP_LINK_UPDATE,		/* BPF_LINK_UPDATE of link key, str "prog [old prog]" */
	OP_BTF_BY_ID,		/* BTF_GET_FD_BY_ID of id arg, with slot key's fd as
				 * the token (BPF_F_TOKEN_FD) unless key is ""
				 */
	OP_SET_COMM,		/* prctl(PR_SET_NAME, str) */
	OP_EXIT,
};

/* What OP_USE does with the fd; each returns 0 or -errno. */
enum agent_use {
	USE_MAP_STACK,		/* create a stack map */
	USE_MAP_QUEUE,		/* create a queue map */
	USE_MAP_KEEP,		/* create an array map and keep it in slot "map" */
	USE_MAP_UPDATE,		/* update element 0 of the kept map (no fd) */
	USE_BTF,		/* load BTF */
	USE_SOCKET_FILTER,	/* load a socket filter, expected attach type 0 */
	USE_SOCKET_FILTER_ATTACH1, /* the same with expected attach type 1 */
	USE_XDP,		/* load an XDP program (CAP_NET_ADMIN) */
	USE_MAP_HASH_BTF,	/* load BTF, create a hash typed by it */
	USE_MAP_STRUCT_OPS,	/* load BTF, create a bpf_dummy_ops struct_ops map */
};

struct agent {
	pid_t pid;
	int sock;
};

static inline int sys_move_mount(int from_dfd, const char *from, int to_dfd,
				 const char *to, unsigned int flags)
{
	return syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags);
}

/* The super options (after " - bpf <source> ") of the mount at @path. */
static inline int read_super_options(const char *mountinfo, const char *path,
				     char *out, size_t len)
{
	char line[2048], *p;
	FILE *f = fopen(mountinfo, "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt_point[512];

		if (sscanf(line, "%*d %*d %*s %*s %511s", mnt_point) != 1 ||
		    strcmp(mnt_point, path))
			continue;
		p = strstr(line, " - bpf ");
		if (!p)
			continue;
		p = strchr(p + strlen(" - bpf "), ' ');
		if (!p)
			continue;
		snprintf(out, len, "%s", p + 1);
		out[strcspn(out, "\n")] = '\0';
		ret = 0;
	}
	fclose(f);
	return ret;
}

enum {
	SLOT_TOKEN, SLOT_ROOT, SLOT_OPATH, SLOT_OTHER, SLOT_MAP, SLOT_NONE,
	/* Programs, links and cgroup fds for the cgroup attach ops. */
	SLOT_PROG, SLOT_PROG2, SLOT_PROG3, SLOT_LINK, SLOT_LINK2,
	SLOT_CG0, SLOT_CG1, SLOT_CG2, SLOT_CG3, SLOT_CG4,
	SLOT_MAX
};

static int slot_of(const char *name)
{
	static const char *const names[SLOT_MAX] = {
		"token", "root", "opath", "other", "map", "none",
		"prog", "prog2", "prog3", "link", "link2",
		"cg0", "cg1", "cg2", "cg3", "cg4",
	};
	int i;

	for (i = 0; i < SLOT_MAX; i++)
		if (!strcmp(name, names[i]))
			return i;
	return SLOT_NONE;
}

static int agent_use(int use, int fd, int *slots)
{
	__u32 key = 0;
	__u64 value = 42;
	union bpf_attr attr;
	int ret;

	switch (use) {
	case USE_MAP_STACK:
		ret = map_create(BPF_MAP_TYPE_STACK, fd);
		break;
	case USE_MAP_QUEUE:
		ret = map_create(BPF_MAP_TYPE_QUEUE, fd);
		break;
	case USE_MAP_KEEP:
		ret = map_create(BPF_MAP_TYPE_ARRAY, fd);
		if (ret >= 0) {
			slots[SLOT_MAP] = ret;
			return 0;
		}
		return ret;
	case USE_MAP_UPDATE:
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = slots[SLOT_MAP];
		attr.key = (__u64)(unsigned long)&key;
		attr.value = (__u64)(unsigned long)&value;
		return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) ? -errno : 0;
	case USE_BTF:
		ret = btf_load(fd);
		break;
	case USE_SOCKET_FILTER:
		ret = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, fd);
		break;
	case USE_SOCKET_FILTER_ATTACH1:
		ret = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 1, 0, fd);
		break;
	case USE_XDP:
		ret = prog_load(BPF_PROG_TYPE_XDP, 0, 2 /* XDP_PASS */, fd);
		break;
	case USE_MAP_HASH_BTF:
		ret = map_create_btf(BPF_MAP_TYPE_HASH, fd);
		break;
	case USE_MAP_STRUCT_OPS:
		ret = map_create_btf(BPF_MAP_TYPE_STRUCT_OPS, fd);
		break;
	default:
		return -EINVAL;
	}
	if (ret >= 0)
		close(ret);
	return ret < 0 ? ret : 0;
}

/*
 * A token from the bpffs root @fd (or -errno) into the token slot; closes
 * @fd.  Returns 0 or -errno.
 */
static int agent_token(int fd, int *slots)
{
	if (fd < 0)
		return fd;
	if (slots[SLOT_TOKEN] >= 0)
		close(slots[SLOT_TOKEN]);
	slots[SLOT_TOKEN] = token_create(fd);
	close(fd);
	return slots[SLOT_TOKEN] < 0 ? slots[SLOT_TOKEN] : 0;
}

/* Keep @fd (>= 0) in the slot named @name, closing what was there. */
static int agent_keep(int *slots, const char *name, int fd)
{
	int i = slot_of(name);

	if (i == SLOT_NONE) {
		close(fd);
		return -EINVAL;
	}
	if (slots[i] >= 0)
		close(slots[i]);
	slots[i] = fd;
	return 0;
}

/* The cgroup program ops (OP_PROG_KEEP ... OP_LINK_UPDATE): 0 or -errno. */
static int agent_cgroup_op(const struct msg *c, int *slots)
{
	int target = slots[slot_of(c->key)], type, attach, ret, fd;
	char a[16] = "", b[16] = "";
	unsigned int flags;

	switch (c->op) {
	case OP_PROG_KEEP:
		if (sscanf(c->str, "%15s %d %d %d", a, &type, &attach, &ret) != 4)
			return -EINVAL;
		fd = prog_load(type, attach, ret, target);
		return fd < 0 ? fd : agent_keep(slots, a, fd);
	case OP_CG_ATTACH:
		if (sscanf(c->str, "%15s %u %15s", a, &flags, b) < 2)
			return -EINVAL;
		return prog_attach(slots[slot_of(a)], target, c->arg, flags,
				   b[0] ? slots[slot_of(b)] : -1);
	case OP_CG_DETACH:
		return prog_detach(slots[slot_of(c->str)], target, c->arg);
	case OP_CG_LINK:
		if (sscanf(c->str, "%15s %15s", a, b) != 2)
			return -EINVAL;
		fd = link_create(slots[slot_of(a)], target, c->arg);
		return fd < 0 ? fd : agent_keep(slots, b, fd);
	case OP_LINK_UPDATE:
		if (sscanf(c->str, "%15s %15s", a, b) < 1)
			return -EINVAL;
		return link_update(target, slots[slot_of(a)], b[0] ? slots[slot_of(b)] : -1);
	}
	return -EINVAL;
}

static int agent_main(int sock, void *arg)
{
	int ctx = -1, mnt = -1, picked = -1;
	int slots[SLOT_MAX], i;
	struct msg c, r;
	int fds_in[MSG_MAX_FDS];
	char path[64];

	(void)arg;
	for (i = 0; i < SLOT_MAX; i++)
		slots[i] = -1;
	while (!msg_recv(sock, &c, fds_in)) {
		int fd_out = -1, fd;

		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case OP_FSOPEN:
			if (ctx >= 0)
				close(ctx);
			ctx = sys_fsopen("bpf", FSOPEN_CLOEXEC);
			r.ret = ctx < 0 ? -errno : 0;
			fd_out = ctx;
			break;
		case OP_SET_STRING:
			r.ret = set_string(ctx, c.key, c.str);
			break;
		case OP_SET_FLAG:
			r.ret = sys_fsconfig(ctx, FSCONFIG_SET_FLAG, c.key, NULL, 0) ? -errno : 0;
			break;
		case OP_SET_ABILITIES: {
			static unsigned long long blob[4096 / 8];

			memset(blob, 0, sizeof(blob));
			if (c.str[0] && sscanf(c.str, "%llu %llu %llu %llu %llu", &blob[0],
					       &blob[1], &blob[2], &blob[3], &blob[4]) != 5) {
				r.ret = -EINVAL;
				break;
			}
			r.ret = sys_fsconfig(ctx, FSCONFIG_SET_BINARY, "abilities",
					     blob, c.arg) ? -errno : 0;
			break;
		}
		case OP_SET_USERNS:
			fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
			r.ret = sys_fsconfig(ctx, FSCONFIG_SET_FD, "delegate_userns",
					     NULL, fd) ? -errno : 0;
			close(fd);
			break;
		case OP_CREATE:
			r.ret = sys_fsconfig(ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0;
			break;
		case OP_MOUNT:
			mnt = sys_fsmount(ctx, FSMOUNT_CLOEXEC, 0);
			if (mnt < 0) {
				r.ret = -errno;
				break;
			}
			mkdir(c.str, 0700);
			r.ret = sys_move_mount(mnt, "", AT_FDCWD, c.str,
					       MOVE_MOUNT_F_EMPTY_PATH) ? -errno : 0;
			fd_out = mnt;
			break;
		case OP_TOKEN:
			fd = open(c.str, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			r.ret = agent_token(fd < 0 ? -errno : fd, slots);
			break;
		case OP_MAP:
			fd = map_create(c.arg, slots[SLOT_TOKEN]);
			r.ret = fd < 0 ? fd : 0;
			if (fd >= 0)
				close(fd);
			break;
		case OP_MOUNTINFO:
			r.ret = read_super_options("/proc/self/mountinfo", c.str,
						   r.str, sizeof(r.str));
			break;
		case OP_PICK:
			if (picked >= 0)
				close(picked);
			picked = sys_fspick(AT_FDCWD, c.str, FSPICK_CLOEXEC);
			r.ret = picked < 0 ? -errno : 0;
			break;
		case OP_PICK_SET_STRING:
			r.ret = set_string(picked, c.key, c.str);
			break;
		case OP_PICK_RECONFIGURE:
			r.ret = sys_fsconfig(picked, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
			r.ret = r.ret ? -errno : 0;
			break;
		case OP_REMOUNT:
			r.ret = mount(NULL, c.str, NULL, MS_REMOUNT,
				      c.key[0] ? c.key : NULL) ? -errno : 0;
			break;
		case OP_OPEN:
			fd = slot_of(c.key);
			if (slots[fd] >= 0)
				close(slots[fd]);
			slots[fd] = open(c.str, (fd == SLOT_OPATH ? O_PATH : O_RDONLY) |
					 O_DIRECTORY | O_CLOEXEC);
			r.ret = slots[fd] < 0 ? -errno : 0;
			break;
		case OP_USE:
			r.ret = agent_use(c.arg, slots[slot_of(c.key)], slots);
			break;
		case OP_DROP_CAPS:
			r.ret = drop_caps(strtoull(c.str, NULL, 0));
			break;
		case OP_SEND_SLOT:
			fd_out = slots[slot_of(c.key)];
			r.ret = fd_out < 0 ? -EBADF : 0;
			break;
		case OP_RECV_SLOT:
			fd = c.nfds ? fds_in[0] : -EBADF;
			r.ret = fd < 0 ? fd : 0;
			if (fd >= 0)
				slots[slot_of(c.key)] = fd;
			break;
		case OP_FDINFO: {
			FILE *f;
			size_t n;

			snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", slots[slot_of(c.key)]);
			f = fopen(path, "re");
			if (!f) {
				r.ret = -errno;
				break;
			}
			n = fread(r.str, 1, sizeof(r.str) - 1, f);
			r.str[n] = '\0';
			fclose(f);
			break;
		}
		case OP_BTF_BY_ID: {
			/* Upstream's layout (6.15), which older headers lack. */
			struct {
				__u32 btf_id, next_id, open_flags;
				__s32 fd_by_id_token_fd;
			} attr = { .btf_id = c.arg };

			if (c.key[0]) {
				attr.open_flags = BPF_F_TOKEN_FD;
				attr.fd_by_id_token_fd = slots[slot_of(c.key)];
			}
			fd = syscall(__NR_bpf, BPF_BTF_GET_FD_BY_ID, &attr, sizeof(attr));
			r.ret = fd < 0 ? -errno : 0;
			if (fd >= 0)
				close(fd);
			break;
		}
		case OP_TOKEN_INFO: {
			/* struct bpf_token_info, then 8 bytes of garbage if asked */
			__u64 info[5] = { 0, 0, 0, 0, c.str[0] ? 1 : 0 };
			union bpf_attr attr;

			memset(&attr, 0, sizeof(attr));
			attr.info.bpf_fd = slots[slot_of(c.key)];
			attr.info.info_len = c.arg;
			attr.info.info = (unsigned long)info;
			r.ret = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) ? -errno : 0;
			snprintf(r.str, sizeof(r.str), "%llx %llx %llx %llx len %u",
				 (unsigned long long)info[0], (unsigned long long)info[1],
				 (unsigned long long)info[2], (unsigned long long)info[3],
				 attr.info.info_len);
			break;
		}
		case OP_UMOUNT:
			r.ret = umount2(c.str, c.arg) ? -errno : 0;
			break;
		case OP_CLOSE:
			fd = slot_of(c.key);
			if (slots[fd] >= 0)
				close(slots[fd]);
			slots[fd] = -1;
			break;
		case OP_MKDIR:
			r.ret = mkdir(c.str, 0700) ? -errno : 0;
			break;
		case OP_EXEC: {
			pid_t pid = fork();

			if (pid == 0) {
				execl(c.str, c.str, c.key, (char *)NULL);
				_exit(127);
			}
			r.ret = pid < 0 ? -errno : wait_child(pid);
			break;
		}
		case OP_SEND_CTX:
			fd_out = c.arg ? picked : ctx;
			r.ret = fd_out < 0 ? -EBADF : 0;
			break;
		case OP_CTX_RECONFIGURE:
			r.ret = sys_fsconfig(c.arg ? picked : ctx, FSCONFIG_CMD_RECONFIGURE,
					     NULL, NULL, 0) ? -errno : 0;
			break;
		case OP_MOUNT_TOKEN:
			mnt = sys_fsmount(ctx, FSMOUNT_CLOEXEC, 0);
			if (mnt < 0) {
				r.ret = -errno;
				break;
			}
			/* BPF_TOKEN_CREATE skips O_PATH fds: reopen the root. */
			fd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			close(mnt);
			mnt = -1;
			r.ret = agent_token(fd, slots);
			break;
		case OP_PROG_KEEP:
		case OP_CG_ATTACH:
		case OP_CG_DETACH:
		case OP_CG_LINK:
		case OP_LINK_UPDATE:
			r.ret = agent_cgroup_op(&c, slots);
			break;
		case OP_SET_COMM:
			r.ret = prctl(PR_SET_NAME, c.str) ? -errno : 0;
			break;
		case OP_EXIT:
			return 0;
		default:
			r.ret = -EINVAL;
		}
		r.nfds = fd_out >= 0;
		if (msg_send(sock, &r, &fd_out))
			return 1;
		/* Only OP_RECV_SLOT keeps an fd it was sent, the first. */
		for (i = c.op == OP_RECV_SLOT ? 1 : 0; i < c.nfds; i++)
			close(fds_in[i]);
		/* The mount fd is the parent's now: keep nothing pinned here. */
		if (c.op == OP_MOUNT && mnt >= 0) {
			close(mnt);
			mnt = -1;
		}
	}
	return 3;
}

/*
 * Send one command.  Returns the agent's result; *fd (if given) gets the fd
 * it sent or -1, *str (if given) its string.
 */
static inline int agent_do(struct agent *a, int op, int arg, const char *key,
			   const char *str, int *fd, char *out, size_t out_len)
{
	struct msg m = { .op = op, .arg = arg };
	int got[MSG_MAX_FDS], ret;

	if (key)
		snprintf(m.key, sizeof(m.key), "%s", key);
	if (str)
		snprintf(m.str, sizeof(m.str), "%s", str);
	ret = msg_call(a->sock, &m, NULL, got);
	if (fd)
		*fd = -1;
	if (ret == -EPIPE && !m.nfds)
		return ret;
	if (m.nfds) {
		if (fd)
			*fd = got[0];
		else
			close(got[0]);
	}
	if (out)
		snprintf(out, out_len, "%s", m.str);
	return ret;
}

/* Hand the agent an fd for its slot @slot. */
static inline int agent_give_fd(struct agent *a, const char *slot, int fd)
{
	struct msg m = { .op = OP_RECV_SLOT, .nfds = 1 };

	snprintf(m.key, sizeof(m.key), "%s", slot);
	return msg_call(a->sock, &m, &fd, NULL);
}

static inline int agent_start(struct agent *a)
{
	a->pid = spawn_userns_child(agent_main, NULL, &a->sock);
	return a->pid > 0 ? 0 : -1;
}

static inline int agent_stop(struct agent *a)
{
	struct msg m = { .op = OP_EXIT };
	pid_t pid = a->pid;

	if (pid <= 0)
		return 0;
	a->pid = 0;
	if (msg_send(a->sock, &m, NULL))
		kill(pid, SIGKILL);
	close(a->sock);
	return wait_child(pid);
}

#endif /* __BPFFS_DELEGATION_AGENT_H */
