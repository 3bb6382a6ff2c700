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
#include <sys/stat.h>
#include "delegation_util.h"

#ifndef FSPICK_EMPTY_PATH
#define FSPICK_EMPTY_PATH 0x0008
#endif

enum agent_op {
	OP_FSOPEN = 1,		/* open a bpffs context, send its fd */
	OP_SET_STRING,		/* fsconfig(ctx, SET_STRING, key, str) */
	OP_SET_FLAG,		/* fsconfig(ctx, SET_FLAG, key) */
	OP_SET_ABILITIES,	/* fsconfig(ctx, SET_BINARY, "abilities", zeroes, arg) */
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
	OP_EXIT,
};

struct agent_cmd {
	int op;
	int arg;
	char key[64];
	char str[256];
};

struct agent_reply {
	int ret;
	int has_fd;
	char str[1024];
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

static inline int sys_fspick(int dfd, const char *path, unsigned int flags)
{
	return syscall(__NR_fspick, dfd, path, flags);
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

static int agent_main(int sock, void *arg)
{
	int ctx = -1, mnt = -1, token = -1, picked = -1;
	struct agent_cmd c;
	struct agent_reply r;

	(void)arg;
	while (read(sock, &c, sizeof(c)) == sizeof(c)) {
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
			static char zeroes[4096];

			r.ret = sys_fsconfig(ctx, FSCONFIG_SET_BINARY, "abilities",
					     zeroes, c.arg) ? -errno : 0;
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
			if (fd < 0) {
				r.ret = -errno;
				break;
			}
			if (token >= 0)
				close(token);
			token = token_create(fd);
			r.ret = token < 0 ? token : 0;
			close(fd);
			break;
		case OP_MAP:
			fd = map_create(c.arg, token);
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
			r.ret = sys_fsconfig(picked, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0;
			break;
		case OP_REMOUNT:
			r.ret = mount(NULL, c.str, NULL, MS_REMOUNT,
				      c.key[0] ? c.key : NULL) ? -errno : 0;
			break;
		case OP_EXIT:
			return 0;
		default:
			r.ret = -EINVAL;
		}
		r.has_fd = fd_out >= 0;
		if (write(sock, &r, sizeof(r)) != sizeof(r))
			return 1;
		if (r.has_fd && send_fd(sock, fd_out))
			return 2;
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
	struct agent_cmd c = { .op = op, .arg = arg };
	struct agent_reply r;

	if (key)
		snprintf(c.key, sizeof(c.key), "%s", key);
	if (str)
		snprintf(c.str, sizeof(c.str), "%s", str);
	if (write(a->sock, &c, sizeof(c)) != sizeof(c))
		return -EPIPE;
	if (read(a->sock, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	if (fd)
		*fd = -1;
	if (r.has_fd) {
		int got = recv_fd(a->sock);

		if (fd)
			*fd = got;
		else if (got >= 0)
			close(got);
	}
	if (out)
		snprintf(out, out_len, "%s", r.str);
	return r.ret;
}

static inline int agent_start(struct agent *a)
{
	a->pid = spawn_userns_child(agent_main, NULL, &a->sock);
	return a->pid > 0 ? 0 : -1;
}

static inline int agent_stop(struct agent *a)
{
	struct agent_cmd c = { .op = OP_EXIT };
	pid_t pid = a->pid;

	if (pid <= 0)
		return 0;
	a->pid = 0;
	if (write(a->sock, &c, sizeof(c)) != sizeof(c))
		kill(pid, SIGKILL);
	close(a->sock);
	return wait_child(pid);
}

#endif /* __BPFFS_DELEGATION_AGENT_H */
