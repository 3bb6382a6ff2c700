// SPDX-License-Identifier: GPL-2.0
/*
 * BPF_MAP_CREATE, BPF_BTF_LOAD and BPF_PROG_LOAD checked against the live
 * delegation of a bpffs superblock, through a BPF token made from it or
 * through an fd of its root.
 *
 * kernel.unprivileged_bpf_disabled is pinned to 2 in every test: with 0,
 * array maps and socket filters need no capability at all and a "denied"
 * case would prove nothing.
 */
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-gating"
#define CMD(c) (1ULL << (c))
#define ALL_CMDS (CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD) | CMD(BPF_PROG_LOAD))

FIXTURE(gating) {
	struct agent a;
	int fs_fd;
	int mnt_fd;
};

FIXTURE_SETUP(gating)
{
	self->mnt_fd = -1;
	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	ASSERT_EQ(agent_start(&self->a), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &self->fs_fd, NULL, 0), 0);
}

FIXTURE_TEARDOWN(gating)
{
	if (self->mnt_fd >= 0)
		close(self->mnt_fd);
	close(self->fs_fd);
	EXPECT_EQ(agent_stop(&self->a), 0);
}

/* The parent delegates, the child creates and mounts, opens the root and makes a token. */
static int delegate(FIXTURE_DATA(gating) *self, __u64 cmds, __u64 maps, __u64 progs,
		    __u64 attachs)
{
	int ret = set_opts(self->fs_fd, cmds, maps, progs, attachs);

	ret = ret ?: set_flag(self->fs_fd, "delegate");
	ret = ret ?: agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0);
	ret = ret ?: agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0);
	ret = ret ?: agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0);
	return ret ?: agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0);
}

/* Make the agent use the fd in @slot for @u. */
static int use_slot(struct agent *a, const char *slot, enum agent_use u)
{
	return agent_do(a, OP_USE, u, slot, NULL, NULL, NULL, 0);
}

static int use(FIXTURE_DATA(gating) *self, const char *slot, enum agent_use u)
{
	return use_slot(&self->a, slot, u);
}

/* The privileged side replaces the live set through a reconfigure context. */
static int reconfigure_fd(int fd, __u64 cmds, __u64 maps, __u64 progs, __u64 attachs)
{
	int ret = set_opts(fd, cmds, maps, progs, attachs);

	return ret ?: (sys_fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0);
}

static int reconfigure(FIXTURE_DATA(gating) *self, __u64 cmds, __u64 maps, __u64 progs,
		       __u64 attachs)
{
	int fd = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = reconfigure_fd(fd, cmds, maps, progs, attachs);
	close(fd);
	return ret;
}

static const char *const fds[] = { "token", "root" };

/* The lines of @log that contain @a and, if given, @b. */
static int lines_with(const char *log, const char *a, const char *b)
{
	const char *line = log, *end;
	int n = 0;
	char one[512];

	for (; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		snprintf(one, sizeof(one), "%.*s", (int)(end - line), line);
		if (strstr(one, a) && (!b || strstr(one, b)))
			n++;
	}
	return n;
}

/* The delegating side's target_userns report on @pid's user namespace. */
static int report(pid_t pid, char *log, size_t len)
{
	int fs = private_reconfigure_context(), ns, ret;

	if (fs < 0)
		return fs;
	ns = userns_of(pid);
	ret = set_fd(fs, "target_userns", ns);
	close(ns);
	if (!ret && sys_fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	read_log(fs, log, len);
	close(fs);
	return ret;
}

TEST_F(gating, map_create)
{
	int i;

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), 0) TH_LOG("%s", fds[i]);
		/* The mask denies: falls back to global capabilities. */
		EXPECT_EQ(use(self, fds[i], USE_MAP_QUEUE), -EPERM) TH_LOG("%s", fds[i]);
		/* Other commands are not delegated. */
		EXPECT_EQ(use(self, fds[i], USE_BTF), -EPERM) TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(use(self, "none", USE_MAP_STACK), -EPERM);
}

TEST_F(gating, btf_load)
{
	int i;

	ASSERT_EQ(delegate(self, CMD(BPF_BTF_LOAD), 0, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_BTF), 0) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), -EPERM) TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(use(self, "none", USE_BTF), -EPERM);
}

TEST_F(gating, prog_load)
{
	int i;

	ASSERT_EQ(delegate(self, CMD(BPF_PROG_LOAD),
			   0, (1ULL << BPF_PROG_TYPE_SOCKET_FILTER) | (1ULL << BPF_PROG_TYPE_XDP),
			   1ULL << 0 /* expected_attach_type defaults to 0 */), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER), 0) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_XDP), 0) TH_LOG("%s", fds[i]);
		/* Attach type 1 is not delegated. */
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER_ATTACH1), -EPERM)
			TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(use(self, "none", USE_SOCKET_FILTER), -EPERM);
}

/*
 * A map typed by BTF that came in through the same token or bpffs fd: the
 * BTF load and the map create are each checked against the delegation.
 */
TEST_F(gating, map_with_btf_loaded_through_the_delegation)
{
	int i;

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD),
			   1ULL << BPF_MAP_TYPE_HASH, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_HASH_BTF), 0) TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(use(self, "none", USE_MAP_HASH_BTF), -EPERM);
	/* The map type goes, BTF loads stay. */
	ASSERT_EQ(reconfigure(self, CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD),
			      1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_BTF), 0) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_MAP_HASH_BTF), -EPERM) TH_LOG("%s", fds[i]);
	}
}

/*
 * A struct_ops map, whose value type is the kernel's own (struct
 * bpf_struct_ops_bpf_dummy_ops, found in vmlinux BTF): map_create() asks
 * only bpf_token_capable(CAP_BPF) of it, so a delegation of the map type
 * is enough; without it the call falls back to CAP_BPF in the initial user
 * namespace.  Needs vmlinux BTF (and bpf_dummy_ops, CONFIG_BPF_JIT).
 */
TEST_F(gating, struct_ops_map_with_a_vmlinux_value_type)
{
	int i;

	if (vmlinux_btf_id("bpf_struct_ops_bpf_dummy_ops", BTF_KIND_STRUCT, NULL) < 0)
		SKIP(return, "needs vmlinux BTF with struct bpf_struct_ops_bpf_dummy_ops");
	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD),
			   1ULL << BPF_MAP_TYPE_STRUCT_OPS, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STRUCT_OPS), 0) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_MAP_HASH_BTF), -EPERM) TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(use(self, "none", USE_MAP_STRUCT_OPS), -EPERM);
	/* Another map type delegated instead: struct_ops is refused. */
	ASSERT_EQ(reconfigure(self, CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD),
			      1ULL << BPF_MAP_TYPE_HASH, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STRUCT_OPS), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_MAP_HASH_BTF), 0) TH_LOG("%s", fds[i]);
	}
}

TEST_F(gating, prog_type_not_delegated)
{
	ASSERT_EQ(delegate(self, CMD(BPF_PROG_LOAD), 0, 1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	EXPECT_EQ(use(self, "token", USE_XDP), -EPERM);
	EXPECT_EQ(use(self, "root", USE_XDP), -EPERM);
}

/*
 * Delegation opens a command and its types; the capability each needs is
 * still checked in the superblock's user namespace (CAP_SYS_ADMIN standing
 * in for the others).
 */
TEST_F(gating, capability_missing_in_userns)
{
	static char log[8192];
	char caps[32];

	ASSERT_EQ(delegate(self, ALL_CMDS, ~0ULL, ~0ULL, ~0ULL), 0);
	/* Without CAP_NET_ADMIN: XDP refused, socket filters still fine. */
	snprintf(caps, sizeof(caps), "%llu", (1ULL << CAP_NET_ADMIN) | (1ULL << CAP_SYS_ADMIN));
	ASSERT_EQ(agent_do(&self->a, OP_DROP_CAPS, 0, NULL, caps, NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "token", USE_XDP), -EPERM);
	EXPECT_EQ(use(self, "root", USE_XDP), -EPERM);
	EXPECT_EQ(use(self, "token", USE_SOCKET_FILTER), 0);
	EXPECT_EQ(use(self, "root", USE_SOCKET_FILTER), 0);
	/* Without CAP_BPF: nothing. */
	snprintf(caps, sizeof(caps), "%llu", 1ULL << CAP_BPF);
	ASSERT_EQ(agent_do(&self->a, OP_DROP_CAPS, 0, NULL, caps, NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), -EPERM);
	EXPECT_EQ(use(self, "token", USE_BTF), -EPERM);
	EXPECT_EQ(use(self, "token", USE_SOCKET_FILTER), -EPERM);
	/* The root fd needs CAP_BPF to stand in for a token at all. */
	EXPECT_EQ(use(self, "root", USE_MAP_STACK), -EPERM);
	EXPECT_EQ(use(self, "root", USE_BTF), -EPERM);

	/*
	 * The delegating side reads which capability was missing; a root fd
	 * that made no token (BPF_TOKEN_CREATE's EPERM) asked no delegation.
	 */
	ASSERT_EQ(report(self->a.pid, log, sizeof(log)), 0);
	EXPECT_EQ(lines_with(log, "target_userns: live ", " refused=5"), 1) TH_LOG("%s", log);
	EXPECT_EQ(lines_with(log, "refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=0 ",
			     "why=cap_net_admin "), 1);
	EXPECT_EQ(lines_with(log, "refused #2 cmd=5 map_type=-1 prog_type=6 attach_type=0 ",
			     "why=cap_net_admin "), 1);
	EXPECT_EQ(lines_with(log, "refused #3 cmd=0 map_type=23 prog_type=-1 attach_type=-1 ",
			     "why=cap_bpf "), 1);
	EXPECT_EQ(lines_with(log, "refused #4 cmd=18 map_type=-1 prog_type=-1 attach_type=-1 ",
			     "why=cap_bpf "), 1);
	EXPECT_EQ(lines_with(log, "refused #5 cmd=5 map_type=-1 prog_type=1 attach_type=0 ",
			     "why=cap_bpf "), 1);
}

/* A token or bpffs fd is no use in a sibling user namespace. */
TEST_F(gating, sibling_userns)
{
	struct agent b;
	int fd, i;

	ASSERT_EQ(delegate(self, ALL_CMDS, ~0ULL, ~0ULL, ~0ULL), 0);
	ASSERT_EQ(agent_start(&b), 0);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(agent_do(&self->a, OP_SEND_SLOT, 0, fds[i], NULL, &fd, NULL, 0), 0);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(agent_give_fd(&b, "token", fd), 0);
		close(fd);
		EXPECT_EQ(use_slot(&b, "token", USE_MAP_STACK), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use_slot(&b, "token", USE_BTF), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use_slot(&b, "token", USE_SOCKET_FILTER), -EPERM) TH_LOG("%s", fds[i]);
	}
	EXPECT_EQ(agent_stop(&b), 0);
}

TEST_F(gating, fds_that_are_not_a_delegated_root)
{
	ASSERT_EQ(delegate(self, ALL_CMDS, ~0ULL, ~0ULL, ~0ULL), 0);
	/* O_PATH: skipped by fdget(), as BPF_TOKEN_CREATE skips it. */
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "opath", MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "opath", USE_MAP_STACK), -EBADF);
	/* Not a bpffs. */
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "other", "/tmp", NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "other", USE_MAP_STACK), -EINVAL);
	EXPECT_EQ(use(self, "other", USE_BTF), -EINVAL);
	EXPECT_EQ(use(self, "other", USE_SOCKET_FILTER), -EINVAL);
	/* A bpffs directory that is not the root. */
	ASSERT_EQ(agent_do(&self->a, OP_MKDIR, 0, NULL, MNT "/sub", NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "other", MNT "/sub", NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "other", USE_MAP_STACK), -EINVAL);
	/* The root itself works. */
	EXPECT_EQ(use(self, "root", USE_MAP_STACK), 0);
}

/* An instance without delegation gives no token and its root gives nothing. */
TEST_F(gating, undelegated_bpffs_root)
{
	/* Upstream's way: the privileged side creates it, with nothing delegated. */
	ASSERT_EQ(sys_fsconfig(self->fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), -ENOENT);
	EXPECT_EQ(use(self, "root", USE_MAP_STACK), -EPERM);
	EXPECT_EQ(use(self, "root", USE_BTF), -EPERM);
	EXPECT_EQ(use(self, "root", USE_SOCKET_FILTER), -EPERM);
}

/* What the privileged side narrows or resets stops working at once, through old fds too. */
TEST_F(gating, revocation_is_live)
{
	int i;

	ASSERT_EQ(delegate(self, ALL_CMDS, 1ULL << BPF_MAP_TYPE_STACK,
			   1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), 0);
		EXPECT_EQ(use(self, fds[i], USE_BTF), 0);
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER), 0);
	}
	/* Narrow: maps go, the rest stays. */
	ASSERT_EQ(reconfigure(self, CMD(BPF_BTF_LOAD) | CMD(BPF_PROG_LOAD), 0,
			      1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_BTF), 0) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER), 0) TH_LOG("%s", fds[i]);
	}
	/* Reset: nothing. */
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_BTF), -EPERM) TH_LOG("%s", fds[i]);
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER), -EPERM) TH_LOG("%s", fds[i]);
	}
	/* Widen again: the same old token and fd work again. */
	ASSERT_EQ(reconfigure(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), 0) TH_LOG("%s", fds[i]);
	}
}

/* Revocation stops new creations; what was created keeps working. */
TEST_F(gating, created_objects_outlive_revocation)
{
	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_ARRAY, 0, 0), 0);
	ASSERT_EQ(use(self, "token", USE_MAP_KEEP), 0);
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	EXPECT_EQ(use(self, "none", USE_MAP_UPDATE), 0);
}

TEST_F(gating, token_fdinfo_shows_the_live_set)
{
	char info[1024];

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FDINFO, 0, "token", NULL, NULL, info, sizeof(info)), 0);
	EXPECT_NE(strstr(info, "allowed_cmds:\t0x1\n"), NULL) TH_LOG("%s", info);
	EXPECT_NE(strstr(info, "allowed_maps:\t0x800000\n"), NULL) TH_LOG("%s", info);
	EXPECT_NE(strstr(info, "delegation:\tlive\n"), NULL) TH_LOG("%s", info);
	ASSERT_EQ(reconfigure(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_QUEUE, 0, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FDINFO, 0, "token", NULL, NULL, info, sizeof(info)), 0);
	EXPECT_NE(strstr(info, "allowed_maps:\t0x400000\n"), NULL) TH_LOG("%s", info);
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FDINFO, 0, "token", NULL, NULL, info, sizeof(info)), 0);
	EXPECT_NE(strstr(info, "delegation:\trevoked\n"), NULL) TH_LOG("%s", info);
}

/*
 * A token keeps its instance mounted, as upstream: umount is EBUSY, and after
 * a lazy unmount the token keeps working (and the privileged side can still
 * revoke through the mount fd it holds).
 */
TEST_F(gating, unmount_with_a_live_token)
{
	int pick;

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	/* A reconfigure context holds the superblock, not the mount. */
	pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	close(self->mnt_fd);
	self->mnt_fd = -1;
	ASSERT_EQ(agent_do(&self->a, OP_CLOSE, 0, "root", NULL, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&self->a, OP_UMOUNT, 0, NULL, MNT, NULL, NULL, 0), -EBUSY);
	EXPECT_EQ(agent_do(&self->a, OP_UMOUNT, MNT_DETACH, NULL, MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), 0);
	/* Still under the privileged side's control. */
	ASSERT_EQ(reconfigure_fd(pick, 0, 0, 0, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), -EPERM);
	close(pick);
}

/* Upstream's struct bpf_token_info (Linux 6.17), checked against its numbers. */
_Static_assert(sizeof(struct bpf_token_info) == 32, "bpf_token_info size");
_Static_assert(offsetof(struct bpf_token_info, allowed_cmds) == 0, "allowed_cmds");
_Static_assert(offsetof(struct bpf_token_info, allowed_maps) == 8, "allowed_maps");
_Static_assert(offsetof(struct bpf_token_info, allowed_progs) == 16, "allowed_progs");
_Static_assert(offsetof(struct bpf_token_info, allowed_attachs) == 24, "allowed_attachs");

static int token_info(FIXTURE_DATA(gating) *self, unsigned int len, bool garbage, char *out)
{
	return agent_do(&self->a, OP_TOKEN_INFO, len, "token", garbage ? "x" : "", NULL, out, 128);
}

/*
 * BPF_OBJ_GET_INFO_BY_FD on a token: upstream's struct bpf_token_info and
 * size rules, reporting the live set before and after a reconfigure.
 */
TEST_F(gating, token_info_reports_the_live_set)
{
	char info[128];

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE), 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	ASSERT_EQ(token_info(self, 32, false, info), 0);
	EXPECT_STREQ(info, "1 800000 0 0 len 32");
	/* Shorter: the prefix; longer with a zero tail: all of it. */
	ASSERT_EQ(token_info(self, 16, false, info), 0);
	EXPECT_STREQ(info, "1 800000 0 0 len 16");
	ASSERT_EQ(token_info(self, 40, false, info), 0);
	EXPECT_STREQ(info, "1 800000 0 0 len 32");
	EXPECT_EQ(token_info(self, 40, true, info), -E2BIG);
	ASSERT_EQ(reconfigure(self, ALL_CMDS, 1ULL << BPF_MAP_TYPE_QUEUE,
			      1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	ASSERT_EQ(token_info(self, 32, false, info), 0);
	EXPECT_STREQ(info, "40021 400000 2 1 len 32");
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	ASSERT_EQ(token_info(self, 32, false, info), 0);
	EXPECT_STREQ(info, "0 0 0 0 len 32");
	/* The bpffs root is not a token. */
	EXPECT_EQ(agent_do(&self->a, OP_TOKEN_INFO, 32, "root", "", NULL, info, sizeof(info)),
		  -EINVAL);
}

/* The id of the BTF object @fd. */
static __u32 btf_id_of(int fd)
{
	struct bpf_btf_info info = {};
	union bpf_attr attr = {
		.info.bpf_fd = fd,
		.info.info_len = sizeof(info),
		.info.info = (__u64)(unsigned long)&info,
	};

	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) ? 0 : info.id;
}

static int btf_by_id(FIXTURE_DATA(gating) *self, const char *slot, __u32 id)
{
	return agent_do(&self->a, OP_BTF_BY_ID, id, slot, NULL, NULL, NULL, 0);
}

/*
 * BPF_BTF_GET_FD_BY_ID through a token or the bpffs root, as upstream has
 * it since 6.15: allowed by the live cmds mask and CAP_SYS_ADMIN in the
 * instance's user namespace, refused without either.
 */
TEST_F(gating, btf_get_fd_by_id_through_the_delegation)
{
	int btf = btf_load(-1);
	char caps[32];
	__u32 id;

	ASSERT_GE(btf, 0);
	id = btf_id_of(btf);
	ASSERT_NE(id, 0);
	ASSERT_EQ(delegate(self, CMD(BPF_BTF_LOAD), 0, 0, 0), 0);
	/* Not delegated: the caller's own capability decides, and fails. */
	EXPECT_EQ(btf_by_id(self, "token", id), -EPERM);
	EXPECT_EQ(btf_by_id(self, "root", id), -EPERM);
	ASSERT_EQ(reconfigure(self, CMD(BPF_BTF_LOAD) | CMD(BPF_BTF_GET_FD_BY_ID), 0, 0, 0), 0);
	EXPECT_EQ(btf_by_id(self, "token", id), 0);
	EXPECT_EQ(btf_by_id(self, "root", id), 0);
	/* Without BPF_F_TOKEN_FD, or with no such id, as before. */
	EXPECT_EQ(btf_by_id(self, "", id), -EPERM);
	EXPECT_EQ(btf_by_id(self, "token", 0xfffffff0), -ENOENT);
	/* Revoked: refused at once, through the token made before. */
	ASSERT_EQ(reconfigure(self, CMD(BPF_BTF_LOAD), 0, 0, 0), 0);
	EXPECT_EQ(btf_by_id(self, "token", id), -EPERM);
	ASSERT_EQ(reconfigure(self, CMD(BPF_BTF_GET_FD_BY_ID), 0, 0, 0), 0);
	EXPECT_EQ(btf_by_id(self, "token", id), 0);
	/* "any" includes it, as upstream's delegate_cmds=any does. */
	ASSERT_EQ(reconfigure(self, ~0ULL, 0, 0, 0), 0);
	EXPECT_EQ(btf_by_id(self, "root", id), 0);
	/* Without CAP_SYS_ADMIN in the instance's user namespace. */
	snprintf(caps, sizeof(caps), "%llu", 1ULL << CAP_SYS_ADMIN);
	ASSERT_EQ(agent_do(&self->a, OP_DROP_CAPS, 0, NULL, caps, NULL, NULL, 0), 0);
	EXPECT_EQ(btf_by_id(self, "token", id), -EPERM);
	close(btf);
}

#define TRACING "/sys/kernel/tracing"
#define REFUSED TRACING "/events/bpf_delegation/bpf_delegation_refused/enable"

/* Trace records of bpf_delegation_refused with both @a and @b in them. */
static int records(const char *trace, const char *a, const char *b)
{
	const char *line = trace, *end;
	int n = 0;
	char one[512];

	for (; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		snprintf(one, sizeof(one), "%.*s", (int)(end - line), line);
		if (strstr(one, "bpf_delegation_refused:") && strstr(one, a) &&
		    (!b || strstr(one, b)))
			n++;
	}
	return n;
}

/*
 * Every refusal by the live delegation, through the token and through the
 * root fd, is traced with the instance's user namespace, what was asked
 * and why; an allowed call is not.
 */
TEST_F(gating, refusals_are_traced)
{
	static char trace[1 << 16];
	char userns[64], path[64];
	size_t len;
	struct stat st;
	ssize_t n;
	int fd, i;

	if (access(TRACING "/events", F_OK))
		mount("tracefs", TRACING, "tracefs", 0, NULL);
	if (access(TRACING "/events", F_OK))
		SKIP(return, "no tracefs");
	ASSERT_EQ(access(REFUSED, F_OK), 0) TH_LOG("no bpf_delegation_refused event");
	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE) | CMD(BPF_PROG_LOAD),
			   1ULL << BPF_MAP_TYPE_STACK, 1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", self->a.pid);
	ASSERT_EQ(stat(path, &st), 0);
	snprintf(userns, sizeof(userns), "userns=%lu ", (unsigned long)st.st_ino);

	fd = open(TRACING "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(write_file(REFUSED, "1"), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(use(self, fds[i], USE_MAP_STACK), 0);
		EXPECT_EQ(use(self, fds[i], USE_MAP_QUEUE), -EPERM);
		EXPECT_EQ(use(self, fds[i], USE_BTF), -EPERM);
		EXPECT_EQ(use(self, fds[i], USE_XDP), -EPERM);
		EXPECT_EQ(use(self, fds[i], USE_SOCKET_FILTER_ATTACH1), -EPERM);
	}
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), -EPERM);
	EXPECT_EQ(write_file(REFUSED, "0"), 0);

	fd = open(TRACING "/trace", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	for (len = 0; len < sizeof(trace) - 1; len += n) {
		n = read(fd, trace + len, sizeof(trace) - 1 - len);
		if (n <= 0)
			break;
	}
	close(fd);
	trace[len] = '\0';

	EXPECT_EQ(records(trace, "bpf_delegation_refused:", NULL), 9) TH_LOG("%s", trace);
	EXPECT_EQ(records(trace, userns, NULL), 9) TH_LOG("%s", userns);
	EXPECT_EQ(records(trace, "cmd=0 map_type=22 prog_type=-1 attach_type=-1 ",
			  "reason=\"map type not delegated\""), 2);
	EXPECT_EQ(records(trace, "cmd=18 map_type=-1 prog_type=-1 attach_type=-1 ",
			  "reason=\"command not delegated\""), 2);
	EXPECT_EQ(records(trace, "cmd=5 map_type=-1 prog_type=6 attach_type=0 ",
			  "reason=\"program type not delegated\""), 2);
	EXPECT_EQ(records(trace, "cmd=5 map_type=-1 prog_type=1 attach_type=1 ",
			  "reason=\"attach type not delegated\""), 2);
	/* The allowed stack maps left nothing; after the reset, the reason. */
	EXPECT_EQ(records(trace, "map_type=23 ", NULL), 1);
	EXPECT_EQ(records(trace, "cmd=0 map_type=23 ", "reason=\"nothing delegated\""), 1);
}

/*
 * The instance keeps its newest refusals, through the token and through
 * the root fd, for the delegating side's target_userns report: what was
 * asked, why, and who asked, the comm escaped; an allowed call leaves
 * nothing, the count goes on past what is kept.  (The container cannot
 * ask for the report: consent_test's target_userns_rules.)
 */
TEST_F(gating, refusals_are_kept_for_the_delegating_side)
{
	static char log[8192];
	char want[160];
	int i;

	ASSERT_EQ(delegate(self, CMD(BPF_MAP_CREATE) | CMD(BPF_PROG_LOAD),
			   1ULL << BPF_MAP_TYPE_STACK, 1ULL << BPF_PROG_TYPE_SOCKET_FILTER, 1), 0);
	ASSERT_EQ(report(self->a.pid, log, sizeof(log)), 0);
	EXPECT_EQ(lines_with(log, "target_userns: live cmds=0x21 ", "refused=0"), 1) TH_LOG("%s", log);
	EXPECT_EQ(lines_with(log, "target_userns: refused", NULL), 0);

	/* A newline in the comm must not make a line of the report. */
	ASSERT_EQ(agent_do(&self->a, OP_SET_COMM, 0, NULL, "c\\r\nw bpf: x", NULL, NULL, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_QUEUE), -EPERM);
	EXPECT_EQ(use(self, "root", USE_BTF), -EPERM);
	EXPECT_EQ(use(self, "root", USE_XDP), -EPERM);
	EXPECT_EQ(use(self, "token", USE_SOCKET_FILTER_ATTACH1), -EPERM);
	EXPECT_EQ(use(self, "root", USE_SOCKET_FILTER), 0);
	ASSERT_EQ(report(self->a.pid, log, sizeof(log)), 0);
	EXPECT_EQ(lines_with(log, "target_userns: live cmds=0x21 ", " refused=4"), 1) TH_LOG("%s", log);
	EXPECT_EQ(lines_with(log, "target_userns: refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type ",
			     NULL), 1);
	EXPECT_EQ(lines_with(log, "target_userns: refused #2 cmd=18 map_type=-1 prog_type=-1 attach_type=-1 why=cmd ",
			     NULL), 1);
	EXPECT_EQ(lines_with(log, "target_userns: refused #3 cmd=5 map_type=-1 prog_type=6 attach_type=0 why=prog_type ",
			     NULL), 1);
	EXPECT_EQ(lines_with(log, "target_userns: refused #4 cmd=5 map_type=-1 prog_type=1 attach_type=1 why=attach_type ",
			     NULL), 1);
	snprintf(want, sizeof(want), " pid=%d vpid=%d comm=c\\x5cr\\x0aw bpf: x", self->a.pid,
		 self->a.pid);
	EXPECT_EQ(lines_with(log, "target_userns: refused #", want), 4) TH_LOG("%s", want);
	EXPECT_EQ(lines_with(log, "w bpf: x", NULL), 4);
	EXPECT_EQ(lines_with(log, "target_userns: 1 live, 0 pending", NULL), 1);

	/* Six kept, the newest; the count goes on; a reset says so. */
	for (i = 0; i < 5; i++)
		EXPECT_EQ(use(self, i % 2 ? "token" : "root", USE_MAP_QUEUE), -EPERM);
	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	EXPECT_EQ(use(self, "token", USE_MAP_STACK), -EPERM);
	ASSERT_EQ(report(self->a.pid, log, sizeof(log)), 0);
	EXPECT_EQ(lines_with(log, "target_userns: live cmds=0x0 ", " refused=10"), 1) TH_LOG("%s", log);
	EXPECT_EQ(lines_with(log, "target_userns: refused #", NULL), 6);
	EXPECT_EQ(lines_with(log, "target_userns: refused #4 ", NULL), 0);
	EXPECT_EQ(lines_with(log, "target_userns: refused #5 cmd=0 map_type=22 ", "why=map_type "), 1);
	EXPECT_EQ(lines_with(log, "target_userns: refused #10 cmd=0 map_type=23 ", "why=nothing "), 1);
}

TEST_HARNESS_MAIN
