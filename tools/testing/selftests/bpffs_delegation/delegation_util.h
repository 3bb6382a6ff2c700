/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the bpffs delegation selftests: raw mount-API and bpf()
 * wrappers (no libbpf), a child in its own user and mount namespace, and
 * fd passing between the child and its privileged parent.
 */
#ifndef __BPFFS_DELEGATION_UTIL_H
#define __BPFFS_DELEGATION_UTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/capability.h>
#include <linux/mount.h>

#ifndef __packed
#define __packed __attribute__((packed))
#endif

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static inline int sys_fsopen(const char *fsname, unsigned int flags)
{
	return syscall(__NR_fsopen, fsname, flags);
}

static inline int sys_fsconfig(int fd, unsigned int cmd, const char *key,
			       const void *val, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, val, aux);
}

static inline int sys_fsmount(int fd, unsigned int flags, unsigned int attr)
{
	return syscall(__NR_fsmount, fd, flags, attr);
}

static inline int sys_fspick(int dfd, const char *path, unsigned int flags)
{
	return syscall(__NR_fspick, dfd, path, flags);
}

#ifndef BPF_DELEGATION_OPTS_SIZE_VER0
/* Headers without the series: the tests build, and fail loudly. */
struct bpf_delegation_opts {
	__u64 cmds, maps, progs, attachs;
};
#define BPF_DELEGATION_OPTS_SIZE_VER0 32
/* Upstream's (Linux 6.17), which the series' header has too. */
struct bpf_token_info {
	__u64 allowed_cmds;
	__u64 allowed_maps;
	__u64 allowed_progs;
	__u64 allowed_attachs;
} __attribute__((aligned(8)));
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* fsconfig() wrappers for the delegation keys; each returns 0 or -errno. */
static inline int set_binary(int fd, const char *key, const void *blob, size_t size)
{
	return sys_fsconfig(fd, FSCONFIG_SET_BINARY, key, blob, size) ? -errno : 0;
}

static inline int set_blob(int fd, const void *blob, size_t size)
{
	return set_binary(fd, "abilities", blob, size);
}

#ifndef BPF_DELEGATION_OPTS_SIZE_VER1
#define BPF_DELEGATION_OPTS_SIZE_VER1 40
#endif

/* A VER0 struct (32 bytes, no cgroup scope), whatever the headers' size is. */
static inline int set_opts(int fd, __u64 cmds, __u64 maps, __u64 progs, __u64 attachs)
{
	struct bpf_delegation_opts o = {
		.cmds = cmds, .maps = maps, .progs = progs, .attachs = attachs,
	};

	return set_blob(fd, &o, BPF_DELEGATION_OPTS_SIZE_VER0);
}

/* A VER1 struct: the masks and the cgroup scope of attachments (0: none). */
static inline int set_opts_scoped(int fd, __u64 cmds, __u64 maps, __u64 progs, __u64 attachs,
				  __u64 cgroup_id)
{
	__u64 o[BPF_DELEGATION_OPTS_SIZE_VER1 / 8] = { cmds, maps, progs, attachs, cgroup_id };

	return set_blob(fd, o, sizeof(o));
}

static inline int set_flag(int fd, const char *key)
{
	return sys_fsconfig(fd, FSCONFIG_SET_FLAG, key, NULL, 0) ? -errno : 0;
}

/* What the running kernel's bpffs offers these tests. */
enum bpffs_kind {
	BPFFS_MISSING,		/* no bpffs context for this process */
	BPFFS_UPSTREAM,		/* upstream's BPF token: "delegate" is ignored */
	BPFFS_DELEGATION,	/* the series, CONFIG_BPF_DELEGATION=y */
	BPFFS_NO_DELEGATION,	/* the series, CONFIG_BPF_DELEGATION=n */
};

/*
 * Ask a bpffs context of the initial user namespace for the "delegate"
 * flag: the series refuses it there (EINVAL: a delegation is for another
 * user namespace), a kernel built without CONFIG_BPF_DELEGATION refuses
 * the key (EOPNOTSUPP) and upstream ignores keys it does not know.
 */
static inline enum bpffs_kind bpffs_kind(void)
{
	int fd = sys_fsopen("bpf", FSOPEN_CLOEXEC), ret;

	if (fd < 0)
		return BPFFS_MISSING;
	ret = set_flag(fd, "delegate");
	close(fd);
	switch (ret) {
	case 0:
		return BPFFS_UPSTREAM;
	case -EINVAL:
		return BPFFS_DELEGATION;
	case -EOPNOTSUPP:
		return BPFFS_NO_DELEGATION;
	default:
		return BPFFS_MISSING;
	}
}

/* Why a test that needs @want cannot run here, or NULL if it can. */
static inline const char *bpffs_missing(enum bpffs_kind want)
{
	enum bpffs_kind kind;

	if (geteuid())
		return "needs root";
	kind = bpffs_kind();
	if (kind == BPFFS_MISSING)
		return "needs bpffs and BPF tokens (CONFIG_BPF_SYSCALL)";
	if (want == BPFFS_UPSTREAM || kind == want)
		return NULL;
	if (want == BPFFS_DELEGATION)
		return "needs bpffs delegation (CONFIG_RUST, CONFIG_BPF_DELEGATION)";
	return "needs the series built without bpffs delegation (CONFIG_BPF_DELEGATION=n)";
}

/*
 * Skip a whole test program as kselftest expects ("1..0 # SKIP reason",
 * exit status 4) unless it runs as root on a kernel whose bpffs is @want;
 * BPFFS_UPSTREAM takes any kernel with BPF tokens.
 */
#define BPFFS_REQUIRE(want)						\
static void __attribute__((constructor)) bpffs_require(void)		\
{									\
	const char *why = bpffs_missing(want);				\
									\
	if (why) {							\
		printf("1..0 # SKIP %s\n", why);			\
		exit(4);						\
	}								\
}

/* Everything in a context's log, one message a line. */
static inline void read_log(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	buf[0] = '\0';
	while (off + 1 < len && (n = read(fd, buf + off, len - off - 1)) > 0) {
		off += n;
		if (buf[off - 1] != '\n' && off + 1 < len)
			buf[off++] = '\n';
	}
	buf[off] = '\0';
}

static inline int set_fd(int fd, const char *key, int value)
{
	return sys_fsconfig(fd, FSCONFIG_SET_FD, key, NULL, value) ? -errno : 0;
}

/*
 * A privileged reconfigure context with no path inside any container: a
 * private bpffs of the initial user namespace, never attached, whose
 * context fsmount() turned into a reconfigure context.
 */
static inline int private_reconfigure_context(void)
{
	int fs = sys_fsopen("bpf", FSOPEN_CLOEXEC), mnt;

	if (fs < 0)
		return -errno;
	if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto fail;
	mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		goto fail;
	close(mnt);
	return fs;
fail:
	mnt = -errno;
	close(fs);
	return mnt;
}

static inline int userns_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static inline int sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* Create a map; token_fd < 0 means no token. Returns the fd or -errno. */
static inline int map_create(enum bpf_map_type type, int token_fd)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = (type == BPF_MAP_TYPE_STACK || type == BPF_MAP_TYPE_QUEUE) ? 0 : 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	if (token_fd >= 0) {
		attr.map_flags = BPF_F_TOKEN_FD;
		attr.map_token_fd = token_fd;
	}
	fd = sys_bpf(BPF_MAP_CREATE, &attr);
	return fd < 0 ? -errno : fd;
}

/*
 * Load a minimal BTF blob (one 32-bit int); token_fd < 0 means no token.
 * Returns the fd or -errno.
 */
static inline int btf_load(int token_fd)
{
	struct {
		struct btf_header hdr;
		__u32 types[4];
		char strs[5];
	} __packed blob = {
		.hdr = {
			.magic = BTF_MAGIC,
			.version = BTF_VERSION,
			.hdr_len = sizeof(struct btf_header),
			.type_off = 0,
			.type_len = sizeof(blob.types),
			.str_off = sizeof(blob.types),
			.str_len = sizeof(blob.strs),
		},
		/* "int": name at 1, BTF_KIND_INT, 4 bytes, signed, 32 bits */
		.types = { 1, BTF_KIND_INT << 24, 4, (BTF_INT_SIGNED << 24) | 32 },
		.strs = "\0int",
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.btf = (__u64)(unsigned long)&blob;
	attr.btf_size = sizeof(blob);
	if (token_fd >= 0) {
		attr.btf_flags = BPF_F_TOKEN_FD;
		attr.btf_token_fd = token_fd;
	}
	fd = sys_bpf(BPF_BTF_LOAD, &attr);
	return fd < 0 ? -errno : fd;
}

/* The bytes that follow a struct btf_type of @kind with @vlen entries. */
static inline size_t btf_type_extra(__u32 kind, __u32 vlen)
{
	switch (kind) {
	case BTF_KIND_INT:
		return sizeof(__u32);
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	default:
		return 0;
	}
}

/*
 * Look up the type of @kind (BTF_KIND_*) named @name in the kernel's own
 * BTF, /sys/kernel/btf/vmlinux.  Its size (or type) goes to *@size if @size
 * is not NULL; if @member is not NULL, the type is a struct and the byte
 * offset of its member of that name goes to *@member_off.  Returns the
 * type's id, -ENOENT if there is no such type or member, or -errno if the
 * kernel has no BTF.
 */
static inline int vmlinux_btf_lookup(const char *name, __u32 kind, __u32 *size,
				     const char *member, __u32 *member_off)
{
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC), id = 1, ret = -ENOENT;
	char *buf = NULL, *types, *strs, *p;
	struct btf_header h;
	struct btf_member m;
	struct btf_type t;
	struct stat st;
	off_t got = 0;
	ssize_t n;
	__u32 i;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_size < (off_t)sizeof(h))
		goto out;
	buf = malloc(st.st_size);
	/* sysfs hands a binary attribute out in pieces. */
	while (buf && got < st.st_size && (n = read(fd, buf + got, st.st_size - got)) > 0)
		got += n;
	if (!buf || got != st.st_size)
		goto out;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != BTF_MAGIC ||
	    (size_t)h.hdr_len + h.str_off + h.str_len > (size_t)st.st_size ||
	    (size_t)h.hdr_len + h.type_off + h.type_len > (size_t)st.st_size)
		goto out;
	types = buf + h.hdr_len + h.type_off;
	strs = buf + h.hdr_len + h.str_off;
	for (p = types; p + sizeof(t) <= types + h.type_len; id++) {
		memcpy(&t, p, sizeof(t));
		if (BTF_INFO_KIND(t.info) == kind && t.name_off < h.str_len &&
		    !strcmp(strs + t.name_off, name))
			break;
		p += sizeof(t) + btf_type_extra(BTF_INFO_KIND(t.info), BTF_INFO_VLEN(t.info));
	}
	if (p + sizeof(t) > types + h.type_len)
		goto out;
	if (size)
		*size = t.size;
	if (!member) {
		ret = id;
		goto out;
	}
	if (kind != BTF_KIND_STRUCT ||
	    p + sizeof(t) + BTF_INFO_VLEN(t.info) * sizeof(m) > types + h.type_len)
		goto out;
	for (i = 0; i < BTF_INFO_VLEN(t.info); i++) {
		memcpy(&m, p + sizeof(t) + i * sizeof(m), sizeof(m));
		if (m.name_off < h.str_len && !strcmp(strs + m.name_off, member)) {
			/* Bit offset; with kind_flag, bitfield size in the top 8 bits. */
			*member_off = (BTF_INFO_KFLAG(t.info) ? BTF_MEMBER_BIT_OFFSET(m.offset) :
				       m.offset) / 8;
			ret = id;
			break;
		}
	}
out:
	free(buf);
	close(fd);
	return ret;
}

/* The BTF id of type @name of @kind in vmlinux BTF (see vmlinux_btf_lookup()). */
static inline int vmlinux_btf_id(const char *name, __u32 kind, __u32 *size)
{
	return vmlinux_btf_lookup(name, kind, size, NULL, NULL);
}

/*
 * Create a map typed by BTF loaded with the same @token_fd (< 0: none): a
 * hash whose key and value are the int of btf_load()'s blob, or a
 * struct_ops map for bpf_dummy_ops, its value type the kernel's (from
 * vmlinux BTF; the map still needs a BTF fd of its own).  Returns the map
 * fd or -errno.
 */
static inline int map_create_btf(enum bpf_map_type type, int token_fd)
{
	union bpf_attr attr;
	__u32 value_size = 4;
	int btf, fd, id = 0;

	if (type == BPF_MAP_TYPE_STRUCT_OPS) {
		id = vmlinux_btf_id("bpf_struct_ops_bpf_dummy_ops", BTF_KIND_STRUCT,
				    &value_size);
		if (id < 0)
			return id;
	}
	btf = btf_load(token_fd);
	if (btf < 0)
		return btf;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = 4;
	attr.value_size = value_size;
	attr.max_entries = 1;
	attr.btf_fd = btf;
	if (id) {
		attr.btf_vmlinux_value_type_id = id;
	} else {
		attr.btf_key_type_id = 1;
		attr.btf_value_type_id = 1;
	}
	if (token_fd >= 0) {
		attr.map_flags = BPF_F_TOKEN_FD;
		attr.map_token_fd = token_fd;
	}
	fd = sys_bpf(BPF_MAP_CREATE, &attr);
	fd = fd < 0 ? -errno : fd;
	close(btf);
	return fd;
}

/*
 * Load "return @ret" as a program of @type with @attach as expected attach
 * type; token_fd < 0 means no token.  Returns the fd or -errno.
 */
static inline int prog_load(enum bpf_prog_type type, enum bpf_attach_type attach,
			    int ret, int token_fd)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = attach;
	attr.insns = (__u64)(unsigned long)insns;
	attr.insn_cnt = 2;
	attr.license = (__u64)(unsigned long)"GPL";
	if (token_fd >= 0) {
		attr.prog_flags = BPF_F_TOKEN_FD;
		attr.prog_token_fd = token_fd;
	}
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	return fd < 0 ? -errno : fd;
}

/*
 * BPF_PROG_ATTACH of @prog to @target (a cgroup fd); with BPF_F_REPLACE in
 * @flags, @replace is the program it replaces.  Returns 0 or -errno.
 */
static inline int prog_attach(int prog, int target, enum bpf_attach_type type, __u32 flags,
			      int replace)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = target;
	attr.attach_bpf_fd = prog;
	attr.attach_type = type;
	attr.attach_flags = flags;
	if (replace >= 0)
		attr.replace_bpf_fd = replace;
	return sys_bpf(BPF_PROG_ATTACH, &attr) ? -errno : 0;
}

/* BPF_PROG_DETACH of @prog from @target. Returns 0 or -errno. */
static inline int prog_detach(int prog, int target, enum bpf_attach_type type)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = target;
	attr.attach_bpf_fd = prog;
	attr.attach_type = type;
	return sys_bpf(BPF_PROG_DETACH, &attr) ? -errno : 0;
}

/* BPF_LINK_CREATE of @prog on @target. Returns the link fd or -errno. */
static inline int link_create(int prog, int target, enum bpf_attach_type type)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog;
	attr.link_create.target_fd = target;
	attr.link_create.attach_type = type;
	fd = sys_bpf(BPF_LINK_CREATE, &attr);
	return fd < 0 ? -errno : fd;
}

/*
 * BPF_LINK_UPDATE of @link to @prog; @old >= 0 adds BPF_F_REPLACE with it
 * as the program expected.  Returns 0 or -errno.
 */
static inline int link_update(int link, int prog, int old)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_update.link_fd = link;
	attr.link_update.new_prog_fd = prog;
	if (old >= 0) {
		attr.link_update.flags = BPF_F_REPLACE;
		attr.link_update.old_prog_fd = old;
	}
	return sys_bpf(BPF_LINK_UPDATE, &attr) ? -errno : 0;
}

/* BPF_TOKEN_CREATE from a bpffs fd. Returns the token fd or -errno. */
static inline int token_create(int bpffs_fd)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.token_create.bpffs_fd = bpffs_fd;
	fd = sys_bpf(BPF_TOKEN_CREATE, &attr);
	return fd < 0 ? -errno : fd;
}

/* Returns 0 or -errno. */
static inline int set_string(int fs_fd, const char *key, const char *val)
{
	return sys_fsconfig(fs_fd, FSCONFIG_SET_STRING, key, val, 0) ? -errno : 0;
}

static inline int write_file(const char *path, const char *buf)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		ret = -errno;
	close(fd);
	return ret;
}

/* SCM_RIGHTS over a unix socket. */
static inline int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char data = 'F';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static inline int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -EIO;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -EIO;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* Small integers over the same socket: errnos, acks. */
static inline int send_int(int sock, int v)
{
	return write(sock, &v, sizeof(v)) == sizeof(v) ? 0 : -EIO;
}

static inline int recv_int(int sock, int *v)
{
	return read(sock, v, sizeof(*v)) == sizeof(*v) ? 0 : -EIO;
}

/*
 * The one parent/child protocol of these tests.  A message is a struct msg
 * and then its nfds file descriptors (SCM_RIGHTS, one each).  The side that
 * asks fills op, arg, key, str and the fds; the side that answers sends the
 * same struct back with ret (0 or -errno), maybe str and its own fds.  In
 * delegation_agent.h the privileged parent asks and the container answers;
 * in race_test and lifetime_test the container asks its privileged parent.
 */
#define MSG_MAX_FDS 16

struct msg {
	int op;
	int arg;
	int ret;
	int nfds;
	char key[64];
	char str[1024];
};

static inline int msg_send(int sock, const struct msg *m, const int *fds)
{
	const char *p = (const char *)m;
	size_t left = sizeof(*m);
	int i;

	if (m->nfds < 0 || m->nfds > MSG_MAX_FDS)
		return -EINVAL;
	while (left) {
		ssize_t n = write(sock, p, left);

		if (n <= 0)
			return -EPIPE;
		p += n;
		left -= n;
	}
	for (i = 0; i < m->nfds; i++)
		if (send_fd(sock, fds[i]))
			return -EPIPE;
	return 0;
}

/* Receive a message and its fds into @fds (room for MSG_MAX_FDS). */
static inline int msg_recv(int sock, struct msg *m, int *fds)
{
	char *p = (char *)m;
	size_t left = sizeof(*m);
	int i;

	while (left) {
		ssize_t n = read(sock, p, left);

		if (n <= 0)
			return -EPIPE;
		p += n;
		left -= n;
	}
	if (m->nfds < 0 || m->nfds > MSG_MAX_FDS)
		return -EPROTO;
	for (i = 0; i < m->nfds; i++) {
		fds[i] = recv_fd(sock);
		if (fds[i] < 0) {
			while (i--)
				close(fds[i]);
			return -EPIPE;
		}
	}
	return 0;
}

/*
 * Ask: send @m with @fds, wait for the answer into @m and its fds into
 * @out (closed when @out is NULL).  Returns the answer's ret, or -EPIPE.
 */
static inline int msg_call(int sock, struct msg *m, const int *fds, int *out)
{
	int got[MSG_MAX_FDS], i;

	if (msg_send(sock, m, fds) || msg_recv(sock, m, out ?: got)) {
		m->nfds = 0;	/* none of them is the caller's */
		return -EPIPE;
	}
	if (!out)
		for (i = 0; i < m->nfds; i++)
			close(got[i]);
	return m->ret;
}

/* Answer @m with @ret and @nfds of @fds. */
static inline int msg_answer(int sock, struct msg *m, int ret, const int *fds, int nfds)
{
	m->ret = ret;
	m->nfds = nfds;
	return msg_send(sock, m, fds);
}

/*
 * Fork a child that enters a new user namespace (its root mapped to the
 * parent's uid and gid) and a new mount namespace, then runs fn(sock).
 * The parent gets the child's pid and its end of a socketpair.  The
 * child's exit status is fn's return value.
 */
static inline pid_t spawn_userns_child(int (*fn)(int sock, void *arg), void *arg,
				       int *parent_sock)
{
	int sv[2], go;
	char path[64], map[64];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(sv[0]);
		if (unshare(CLONE_NEWUSER))
			_exit(100);
		if (send_int(sv[1], 0) || recv_int(sv[1], &go) || go)
			_exit(101);
		if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
			_exit(102);
		/* fsopen() needs CAP_SYS_ADMIN over the caller's mount ns. */
		if (unshare(CLONE_NEWNS))
			_exit(103);
		_exit(fn(sv[1], arg));
	}
	close(sv[1]);
	if (recv_int(sv[0], &go))
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	go = write_file(path, "deny");
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	snprintf(map, sizeof(map), "0 %d 1", getuid());
	go = go ?: write_file(path, map);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	snprintf(map, sizeof(map), "0 %d 1", getgid());
	go = go ?: write_file(path, map);
	if (send_int(sv[0], go) || go)
		goto fail;
	*parent_sock = sv[0];
	return pid;
fail:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(sv[0]);
	return -EIO;
}

/* Wait for a child; returns its exit status, or 200 + signal. */
static inline int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 200 + WTERMSIG(status);
}

/* Drop capabilities (a mask of CAP_* bits) from the effective set. */
static inline int drop_caps(__u64 caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(__NR_capget, &hdr, data))
		return -errno;
	data[0].effective &= ~(__u32)caps;
	data[1].effective &= ~(__u32)(caps >> 32);
	return syscall(__NR_capset, &hdr, data) ? -errno : 0;
}

static inline char *mask_str(char *buf, size_t len, uint64_t mask)
{
	snprintf(buf, len, "0x%llx", (unsigned long long)mask);
	return buf;
}

/* Seconds on the monotonic clock, for the tests' time budgets. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A small seeded generator (xorshift64*), so a failing run can be replayed. */
struct rng {
	__u64 s;
};

static inline __u64 rnd(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static inline unsigned int below(struct rng *r, unsigned int n)
{
	return rnd(r) % n;
}

#endif /* __BPFFS_DELEGATION_UTIL_H */
