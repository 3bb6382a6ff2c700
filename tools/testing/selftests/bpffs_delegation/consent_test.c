// SPDX-License-Identifier: GPL-2.0
/*
 * The delegating task stays in control of what it delegated, whatever the
 * container does with the fds and mounts it holds.  The container is a
 * child in its own user and mount namespace (delegation_agent.h) and the
 * privileged side is this process; fs_context fds go between them over a
 * unix socket, as they do between a container and bpf-delegate.
 *
 * - Banked consent: the container hands the privileged side a reconfigure
 *   context of its own instance as if it were a new request, lets it fill
 *   in delegation fields, and commits it after the privileged side reset
 *   the instance.  Nothing the container commits may bring a bit back.
 * - Unreachable instances: never attached, lazily detached, or with their
 *   shared context failed, used only through a token.  The privileged side
 *   narrows and revokes them by user namespace (target_userns) with no
 *   path, and the token obeys at once.
 * - The bpffs fd path is refused by an LSM that denies token creation.
 */
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-consent"
#define CMD(c) (1ULL << (c))
#define MAP(t) (1ULL << (t))
#define ALL_CMDS (CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD) | CMD(BPF_PROG_LOAD))

FIXTURE(consent) {
	struct agent a;
	int fs_fd;
	int mnt_fd;
	char log[4096];
};

FIXTURE_SETUP(consent)
{
	self->mnt_fd = -1;
	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	ASSERT_EQ(agent_start(&self->a), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &self->fs_fd, NULL, 0), 0);
}

FIXTURE_TEARDOWN(consent)
{
	if (self->mnt_fd >= 0)
		close(self->mnt_fd);
	if (self->fs_fd >= 0)
		close(self->fs_fd);
	EXPECT_EQ(agent_stop(&self->a), 0);
}

/* The privileged side consents on the container's new context. */
static int consent(FIXTURE_DATA(consent) *self, __u64 cmds, __u64 maps)
{
	int ret = set_flag(self->fs_fd, "delegate");

	return ret ?: set_opts(self->fs_fd, cmds, maps, 0, 0);
}

/* ... and the container creates, mounts at MNT and makes a token. */
static int create_and_mount(FIXTURE_DATA(consent) *self)
{
	int ret = agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0);

	ret = ret ?: agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0);
	return ret ?: agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0);
}

/* A map of @type through the container's token: 0 or -errno. */
static int map_via_token(FIXTURE_DATA(consent) *self, int type)
{
	return agent_do(&self->a, OP_MAP, type, NULL, NULL, NULL, NULL, 0);
}

/* The privileged side's own reset, through the mount fd it kept. */
static int reset_by_mount(FIXTURE_DATA(consent) *self)
{
	int pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	int ret;

	if (pick < 0)
		return -errno;
	ret = set_opts(pick, 0, 0, 0, 0);
	if (!ret && sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	close(pick);
	return ret;
}

/*
 * Set the delegation of every instance of @pid's user namespace to the
 * masks given (blob), or only report (@blob false).  The log goes to
 * self->log.
 */
static int by_userns(FIXTURE_DATA(consent) *self, pid_t pid, bool blob, __u64 cmds,
		     __u64 maps)
{
	int fs = private_reconfigure_context(), ns, ret;

	if (fs < 0)
		return fs;
	ns = userns_of(pid);
	ret = sys_fsconfig(fs, FSCONFIG_SET_FD, "target_userns", NULL, ns) ? -errno : 0;
	close(ns);
	if (!ret && blob)
		ret = set_opts(fs, cmds, maps, 0, 0);
	if (!ret && sys_fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	read_log(fs, self->log, sizeof(self->log));
	close(fs);
	return ret;
}

/*
 * 1. The container banks a privileged request on the reconfigure context
 * of its own live instance and commits it after the privileged reset.
 */
TEST_F(consent, banked_abilities_cannot_be_committed_by_the_container)
{
	int banked, ns;

	ASSERT_EQ(consent(self, ALL_CMDS, ~0ULL), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	ASSERT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), 0);

	/* The context fd is a reconfigure context now; sent as a request. */
	ASSERT_EQ(agent_do(&self->a, OP_SEND_CTX, 0, NULL, NULL, &banked, NULL, 0), 0);
	ASSERT_GE(banked, 0);
	ns = userns_of(self->a.pid);
	EXPECT_EQ(sys_fsconfig(banked, FSCONFIG_SET_FD, "delegate_userns", NULL, ns), 0);
	close(ns);
	EXPECT_EQ(set_opts(banked, ALL_CMDS, ~0ULL, ~0ULL, ~0ULL), 0);
	/* The only sign for the privileged side that it is no new request. */
	EXPECT_EQ(set_flag(banked, "delegate"), -EINVAL);
	close(banked);

	ASSERT_EQ(reset_by_mount(self), 0);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), -EPERM);

	/* The container commits what it banked. */
	EXPECT_EQ(agent_do(&self->a, OP_CTX_RECONFIGURE, 0, NULL, NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), -EPERM);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_MAP_STACK, "root", NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_BTF, "root", NULL, NULL, NULL, 0), -EPERM);
}

/*
 * 2. delegate_* strings banked in two contexts (the one fsmount() left
 * and one the container picked itself), each a different field: merged,
 * they would make a set that was never granted at one time.
 */
TEST_F(consent, banked_strings_in_several_contexts_stay_refused)
{
	int a, b;

	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), MAP(BPF_MAP_TYPE_STACK)), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	ASSERT_EQ(agent_do(&self->a, OP_PICK, 0, NULL, MNT, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_SEND_CTX, 0, NULL, NULL, &a, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_SEND_CTX, 1, NULL, NULL, &b, NULL, 0), 0);
	/* At one time the privileged side meant maps "queue" ... */
	EXPECT_EQ(set_string(a, "delegate_maps", "queue"), 0);
	/* ... at another, cmds "map_create" with nothing else. */
	EXPECT_EQ(set_string(b, "delegate_cmds", "map_create"), 0);
	close(a);
	close(b);

	ASSERT_EQ(reset_by_mount(self), 0);
	EXPECT_EQ(agent_do(&self->a, OP_CTX_RECONFIGURE, 0, NULL, NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_do(&self->a, OP_CTX_RECONFIGURE, 1, NULL, NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), -EPERM);
}

/* The privileged side commits a request it filled in itself, as before. */
TEST_F(consent, the_privileged_side_still_commits_its_own_pick)
{
	int pick;

	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), MAP(BPF_MAP_TYPE_STACK)), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	EXPECT_EQ(set_string(pick, "delegate_maps", "queue"), 0);
	EXPECT_EQ(sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), 0);
	close(pick);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), 0);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), -EPERM);
	/* The container's own remount, asking nothing of delegation, still works. */
	EXPECT_EQ(agent_do(&self->a, OP_REMOUNT, 0, "", MNT, NULL, NULL, 0), 0);
}

/* Narrow, then revoke, by user namespace, and check the token at each step. */
static void narrow_then_revoke(struct __test_metadata *_metadata,
			       FIXTURE_DATA(consent) *self)
{
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), 0);
	EXPECT_EQ(by_userns(self, self->a.pid, true, CMD(BPF_MAP_CREATE),
			    MAP(BPF_MAP_TYPE_STACK)), 0);
	EXPECT_NE(strstr(self->log,
			 "target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0"), NULL);
	EXPECT_NE(strstr(self->log, "target_userns: 1 live, 0 pending"), NULL);
	TH_LOG("log: %s", self->log);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), 0);

	EXPECT_EQ(by_userns(self, self->a.pid, true, 0, 0), 0);
	EXPECT_NE(strstr(self->log, "target_userns: live cmds=0x0 maps=0x0"), NULL);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), -EPERM);
}

#define STACK_QUEUE (MAP(BPF_MAP_TYPE_STACK) | MAP(BPF_MAP_TYPE_QUEUE))

/* 3. An instance never attached anywhere, used only through a token. */
TEST_F(consent, never_attached_instance_is_reached_by_userns)
{
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNT_TOKEN, 0, NULL, NULL, NULL, NULL, 0), 0);
	/* The privileged side keeps nothing of it. */
	close(self->fs_fd);
	self->fs_fd = -1;
	narrow_then_revoke(_metadata, self);
}

/* 4. An instance lazily detached after the token was made. */
TEST_F(consent, lazily_detached_instance_is_reached_by_userns)
{
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	ASSERT_EQ(agent_do(&self->a, OP_UMOUNT, MNT_DETACH, NULL, MNT, NULL, NULL, 0), 0);
	close(self->mnt_fd);
	self->mnt_fd = -1;
	close(self->fs_fd);
	self->fs_fd = -1;
	narrow_then_revoke(_metadata, self);
}

/* 5. The container fails the shared context, then detaches the mount. */
TEST_F(consent, failed_context_instance_is_reached_by_userns)
{
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	/* The privileged side's fd of it is now a reconfigure context too. */
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "stack"), 0);
	EXPECT_EQ(agent_do(&self->a, OP_CTX_RECONFIGURE, 0, NULL, NULL, NULL, NULL, 0), -EPERM);
	/* Failed: no parameter and no commit is taken any more. */
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "queue"), -EBUSY);
	EXPECT_EQ(sys_fsconfig(self->fs_fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), -1);
	EXPECT_EQ(errno, EBUSY);
	ASSERT_EQ(agent_do(&self->a, OP_UMOUNT, MNT_DETACH, NULL, MNT, NULL, NULL, 0), 0);
	close(self->mnt_fd);
	self->mnt_fd = -1;
	narrow_then_revoke(_metadata, self);
}

/*
 * 6. Consent given to a creation context that the container has not
 * committed yet: a reset by user namespace narrows it too.
 */
TEST_F(consent, pending_consent_is_narrowed_by_userns)
{
	ASSERT_EQ(consent(self, ALL_CMDS, ~0ULL), 0);
	EXPECT_EQ(by_userns(self, self->a.pid, true, 0, 0), 0);
	EXPECT_NE(strstr(self->log, "target_userns: pending cmds=0x0 maps=0x0"), NULL);
	EXPECT_NE(strstr(self->log, "target_userns: 0 live, 1 pending"), NULL);
	ASSERT_EQ(agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0), 0);
	/* Nothing delegated: no token, and the bpffs fd is refused. */
	EXPECT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), -ENOENT);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_MAP_STACK, "root", NULL, NULL, NULL, 0), -EPERM);
}

/* 7. Only the namespace named is touched; a report changes nothing. */
TEST_F(consent, only_the_named_user_namespace_is_touched)
{
	struct agent other;
	int other_fs;

	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	ASSERT_EQ(agent_start(&other), 0);
	ASSERT_EQ(agent_do(&other, OP_FSOPEN, 0, NULL, NULL, &other_fs, NULL, 0), 0);
	ASSERT_EQ(set_flag(other_fs, "delegate"), 0);
	ASSERT_EQ(set_opts(other_fs, CMD(BPF_MAP_CREATE), STACK_QUEUE, 0, 0), 0);
	ASSERT_EQ(agent_do(&other, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&other, OP_MOUNT_TOKEN, 0, NULL, NULL, NULL, NULL, 0), 0);

	/* Report only. */
	EXPECT_EQ(by_userns(self, self->a.pid, false, 0, 0), 0);
	EXPECT_NE(strstr(self->log, "target_userns: live cmds=0x1 maps=0xc00000"), NULL);
	EXPECT_NE(strstr(self->log, "target_userns: 1 live, 0 pending"), NULL);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), 0);

	EXPECT_EQ(by_userns(self, other.pid, true, 0, 0), 0);
	EXPECT_EQ(agent_do(&other, OP_MAP, BPF_MAP_TYPE_QUEUE, NULL, NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_QUEUE), 0);
	close(other_fs);
	EXPECT_EQ(agent_stop(&other), 0);
}

/* 8. Who may use target_userns, and on what. */
TEST_F(consent, target_userns_rules)
{
	int fs, ns = userns_of(self->a.pid), init_ns = userns_of(getpid()), pick;

	ASSERT_GE(ns, 0);
	/* Not on a creation context. */
	fs = sys_fsopen("bpf", FSOPEN_CLOEXEC);
	ASSERT_GE(fs, 0);
	EXPECT_EQ(sys_fsconfig(fs, FSCONFIG_SET_FD, "target_userns", NULL, ns), -1);
	EXPECT_EQ(errno, EINVAL);
	read_log(fs, self->log, sizeof(self->log));
	EXPECT_NE(strstr(self->log, "target_userns: only on a reconfigure context"), NULL);
	close(fs);
	/* Not the initial user namespace. */
	fs = private_reconfigure_context();
	ASSERT_GE(fs, 0);
	EXPECT_EQ(sys_fsconfig(fs, FSCONFIG_SET_FD, "target_userns", NULL, init_ns), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Once. */
	EXPECT_EQ(sys_fsconfig(fs, FSCONFIG_SET_FD, "target_userns", NULL, ns), 0);
	EXPECT_EQ(sys_fsconfig(fs, FSCONFIG_SET_FD, "target_userns", NULL, ns), -1);
	EXPECT_EQ(errno, EINVAL);
	close(fs);
	/* Not on a reconfigure context of the container's instance. */
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	EXPECT_EQ(sys_fsconfig(pick, FSCONFIG_SET_FD, "target_userns", NULL, ns), -1);
	EXPECT_EQ(errno, EINVAL);
	close(pick);
	close(ns);
	close(init_ns);
}

/*
 * The identity check bpf-delegate relies on before it changes an instance it
 * found by path: delegate_userns on the picked context is refused for a
 * superblock of any other user namespace, a sibling container's (handed
 * over or visible to this one) or the host's.
 */
TEST_F(consent, delegate_userns_refuses_another_namespaces_instance)
{
	int ns = userns_of(self->a.pid), pick, host;
	struct agent sibling;
	int sibling_fs, sibling_mnt;

	ASSERT_GE(ns, 0);
	ASSERT_EQ(agent_start(&sibling), 0);
	ASSERT_EQ(agent_do(&sibling, OP_FSOPEN, 0, NULL, NULL, &sibling_fs, NULL, 0), 0);
	ASSERT_EQ(set_flag(sibling_fs, "delegate"), 0);
	ASSERT_EQ(set_opts(sibling_fs, CMD(BPF_MAP_CREATE), STACK_QUEUE, 0, 0), 0);
	ASSERT_EQ(agent_do(&sibling, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&sibling, OP_MOUNT, 0, NULL, MNT, &sibling_mnt, NULL, 0), 0);

	pick = sys_fspick(sibling_mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	EXPECT_EQ(sys_fsconfig(pick, FSCONFIG_SET_FD, "delegate_userns", NULL, ns), -1);
	EXPECT_EQ(errno, EINVAL);
	close(pick);
	/* The host's own bpffs, which lies below a container's mount. */
	host = private_reconfigure_context();
	ASSERT_GE(host, 0);
	EXPECT_EQ(sys_fsconfig(host, FSCONFIG_SET_FD, "delegate_userns", NULL, ns), -1);
	EXPECT_EQ(errno, EINVAL);
	close(host);
	/* ... and accepted on the container's own. */
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	EXPECT_EQ(sys_fsconfig(pick, FSCONFIG_SET_FD, "delegate_userns", NULL, ns), 0);
	close(pick);
	close(ns);
	close(sibling_mnt);
	close(sibling_fs);
	EXPECT_EQ(agent_stop(&sibling), 0);
}

/*
 * 9. An LSM that denies token creation denies the bpffs fd too.  A BPF LSM
 * program on security_bpf() refuses BPF_TOKEN_CREATE for the container's
 * pid; the bpffs fd path, which makes a token for the call, must be refused
 * alike.  Needs vmlinux BTF and "bpf" among the active LSMs: skipped
 * without them.
 */

static bool bpf_lsm_active(void)
{
	char lsms[512] = "";
	int fd = open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);

	if (fd < 0 && mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0)
		fd = open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, lsms, sizeof(lsms) - 1) < 0)
		lsms[0] = '\0';
	close(fd);
	return strstr(lsms, "bpf");
}

/* Load @n @insns as a BPF LSM program on hook @btf_id: its link, or -errno. */
static int lsm_attach(const struct bpf_insn *insns, __u32 n, int btf_id)
{
	union bpf_attr attr;
	int prog, link;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_LSM;
	attr.expected_attach_type = BPF_LSM_MAC;
	attr.attach_btf_id = btf_id;
	attr.insns = (__u64)(unsigned long)insns;
	attr.insn_cnt = n;
	attr.license = (__u64)(unsigned long)"GPL";
	prog = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog < 0)
		return -errno;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog;
	attr.link_create.attach_type = BPF_LSM_MAC;
	link = sys_bpf(BPF_LINK_CREATE, &attr);
	link = link < 0 ? -errno : link;
	close(prog);
	return link;
}

/* A link of a BPF LSM program denying BPF_TOKEN_CREATE to @pid, or -errno. */
static int deny_token_create(pid_t pid, int btf_id)
{
	struct bpf_insn insns[] = {
		/* r6 = ctx */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_current_pid_tgid },
		{ .code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = 0, .imm = 32 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 0, .off = 4, .imm = pid },
		/* cmd, the first argument of security_bpf() */
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 1, .src_reg = 6 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 1, .off = 2, .imm = BPF_TOKEN_CREATE },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = -EPERM },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return lsm_attach(insns, sizeof(insns) / sizeof(insns[0]), btf_id);
}

TEST_F(consent, lsm_denying_token_creation_denies_the_bpffs_fd)
{
	int btf_id = vmlinux_btf_id("bpf_lsm_bpf", BTF_KIND_FUNC, NULL), link;

	if (btf_id < 0 || !bpf_lsm_active())
		SKIP(return, "needs vmlinux BTF and the BPF LSM (lsm=...,bpf)");
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), STACK_QUEUE), 0);
	ASSERT_EQ(create_and_mount(self), 0);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_MAP_STACK, "root", NULL, NULL, NULL, 0), 0);

	link = deny_token_create(self->a.pid, btf_id);
	ASSERT_GE(link, 0);
	/* A token made before the policy is not token creation. */
	EXPECT_EQ(map_via_token(self, BPF_MAP_TYPE_STACK), 0);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_MAP_STACK, "root", NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), -EPERM);
	close(link);
	EXPECT_EQ(agent_do(&self->a, OP_USE, USE_MAP_STACK, "root", NULL, NULL, NULL, 0), 0);
}

/*
 * A link of a BPF LSM program on bpf_token_create that denies @pid a token
 * whose allowed_maps (at byte @off of struct bpf_token) has @map_type, or
 * -errno.
 */
static int deny_token_with_map(pid_t pid, int btf_id, __u32 off, int map_type)
{
	struct bpf_insn insns[] = {
		/* r6 = ctx */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_current_pid_tgid },
		{ .code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = 0, .imm = 32 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 0, .off = 6, .imm = pid },
		/* r1 = token, the first argument; r1 = token->allowed_maps */
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 1, .src_reg = 6 },
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 1, .src_reg = 1, .off = off },
		{ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 1, .imm = 1 << map_type },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 1, .off = 2, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = -EPERM },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return lsm_attach(insns, sizeof(insns) / sizeof(insns[0]), btf_id);
}

/*
 * A BPF LSM program reads a new token's masks through BTF as upstream's
 * do (struct bpf_token's allowed_*): the series must fill them with what
 * the bpffs delegates when the token is made, or a policy that refuses
 * tokens by them would read 0 and let every token through.
 */
TEST_F(consent, lsm_reads_the_masks_a_token_is_made_with)
{
	int btf_id = vmlinux_btf_id("bpf_lsm_bpf_token_create", BTF_KIND_FUNC, NULL), link;
	__u32 off = 0;

	if (btf_id < 0 || !bpf_lsm_active() ||
	    vmlinux_btf_lookup("bpf_token", BTF_KIND_STRUCT, NULL, "allowed_maps", &off) < 0)
		SKIP(return, "needs vmlinux BTF and the BPF LSM (lsm=...,bpf)");
	ASSERT_EQ(consent(self, CMD(BPF_MAP_CREATE), MAP(BPF_MAP_TYPE_STACK)), 0);
	link = deny_token_with_map(self->a.pid, btf_id, off, BPF_MAP_TYPE_STACK);
	ASSERT_GE(link, 0);
	/* The policy sees the stack map type delegated and refuses the token. */
	EXPECT_EQ(create_and_mount(self), -EPERM);
	close(link);
	EXPECT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), 0);
}

TEST_HARNESS_MAIN
