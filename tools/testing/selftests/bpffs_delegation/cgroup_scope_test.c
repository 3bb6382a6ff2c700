// SPDX-License-Identifier: GPL-2.0
/*
 * The cgroup scope of a delegation (struct bpf_delegation_opts, VER1:
 * cgroup_id): a program loaded through a token or the root fd of a
 * delegated bpffs attaches, with BPF_PROG_ATTACH or BPF_LINK_CREATE, only to
 * the scope cgroup and below it, and only with an attach type of the live
 * attachs mask; detach, BPF_F_REPLACE and BPF_LINK_UPDATE are held to the
 * same rule.  Without a scope (cgroup_id 0, every VER0 caller) the program
 * attaches to any cgroup the container can open an fd of, as upstream.
 *
 * The container is the agent (delegation_agent.h), in its own user and
 * mount namespace; it gets the cgroup2 directory fds from this process over
 * its socket, or opens them by path, as any container can: cgroup2
 * directories are world-readable.  The test builds its own hierarchy:
 *
 *	<cgroup2>/bpfscope-host/container/sub
 *	<cgroup2>/bpfscope-host/sibling
 *
 * and checks that an attached program runs: a cgroup_sock_addr program
 * "return 0" on connect4 makes connect() fail with EPERM for the processes
 * of its cgroup and below.  kernel.unprivileged_bpf_disabled is pinned to 2.
 */
#include <mntent.h>
#include <netinet/in.h>
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-scope"
#define CG2_MNT "/tmp/bpfscope-cgroup2"	/* when no cgroup2 is mounted */
#define CMD(c) (1ULL << (c))
#define BIT(n) (1ULL << (n))
#define LOAD CMD(BPF_PROG_LOAD)
#define MULTI BPF_F_ALLOW_MULTI
#define REPLACE (BPF_F_ALLOW_MULTI | BPF_F_REPLACE)

/* The test's cgroups, each in agent slot "cg<n>"; ROOT is the hierarchy's own. */
enum { HOST, CONTAINER, SUB, SIBLING, ROOT, NR_CG };
static const char *const cg_slot[NR_CG] = { "cg0", "cg1", "cg2", "cg3", "cg4" };
static const char *const cg_name[NR_CG] = {
	"bpfscope-host", "bpfscope-host/container", "bpfscope-host/container/sub",
	"bpfscope-host/sibling", "the cgroup2 root",
};

struct kind {
	const char *name;
	enum bpf_prog_type type;
	enum bpf_attach_type attach;
	int ret;
};

enum { CONNECT4, SOCK_CREATE, SYSCTL };
static const struct kind kinds[] = {
	[CONNECT4] = { "cgroup_sock_addr/connect4, refusing",
		       BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0 },
	[SOCK_CREATE] = { "cgroup_sock/sock_create", BPF_PROG_TYPE_CGROUP_SOCK,
			  BPF_CGROUP_INET_SOCK_CREATE, 1 },
	[SYSCTL] = { "cgroup_sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, 1 },
};

#define PROGS (BIT(BPF_PROG_TYPE_CGROUP_SOCK_ADDR) | BIT(BPF_PROG_TYPE_CGROUP_SOCK) | \
	       BIT(BPF_PROG_TYPE_CGROUP_SYSCTL))
#define ATTACHS (BIT(BPF_CGROUP_INET4_CONNECT) | BIT(BPF_CGROUP_INET_SOCK_CREATE) | \
		 BIT(BPF_CGROUP_SYSCTL))
#define SOCK_ADDR BIT(BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
#define INET4 BIT(BPF_CGROUP_INET4_CONNECT)

static const char *const fds[] = { "token", "root" };
static const char *const prog_slot[] = { "prog", "prog2", "prog3" };

FIXTURE(scope) {
	struct agent a;
	int fs_fd;
	int mnt_fd;
	bool mounted;		/* CG2_MNT is ours to unmount */
	bool no_scope;		/* the kernel knows VER0 only */
	char dir[NR_CG][512];
	__u64 id[NR_CG];
	char log[4096];
};

/* The first cgroup2 mount in /proc/mounts into @dir, or -ENOENT. */
static int find_cgroup2(char *dir, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent *m;
	int ret = -ENOENT;

	while (f && ret && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(dir, len, "%s", m->mnt_dir);
			ret = 0;
		}
	if (f)
		endmntent(f);
	return ret;
}

/* Detach, as the privileged side, every program attached to @dir by a type the test uses. */
static void detach_all(const char *dir)
{
	static const enum bpf_attach_type types[] = {
		BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
		BPF_CGROUP_INET_SOCK_CREATE, BPF_CGROUP_SYSCTL,
	};
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	__u32 ids[64], i, t;
	union bpf_attr attr;

	for (t = 0; cg >= 0 && t < ARRAY_SIZE(types); t++) {
		memset(&attr, 0, sizeof(attr));
		attr.query.target_fd = cg;
		attr.query.attach_type = types[t];
		attr.query.prog_ids = (__u64)(unsigned long)ids;
		attr.query.prog_cnt = ARRAY_SIZE(ids);
		if (sys_bpf(BPF_PROG_QUERY, &attr))
			continue;
		for (i = 0; i < attr.query.prog_cnt && i < ARRAY_SIZE(ids); i++) {
			union bpf_attr get;
			int prog;

			memset(&get, 0, sizeof(get));
			get.prog_id = ids[i];
			prog = sys_bpf(BPF_PROG_GET_FD_BY_ID, &get);
			if (prog >= 0) {
				/* Links went with the agent; this is for BPF_PROG_ATTACH. */
				prog_detach(prog, cg, types[t]);
				close(prog);
			}
		}
	}
	if (cg >= 0)
		close(cg);
}

/* Detach and remove the test's cgroups (what a failed run left, too), deepest first. */
static void cgroups_remove(FIXTURE_DATA(scope) *self)
{
	int i, tries;

	for (i = ROOT - 1; i >= 0; i--) {
		if (!self->dir[i][0])
			continue;
		detach_all(self->dir[i]);
		for (tries = 0; rmdir(self->dir[i]) && errno == EBUSY && tries < 100; tries++)
			usleep(10000);
	}
}

/* The paths of the test's cgroups in the cgroup2 mount (@mount: ours, if none). */
static int cgroups_find(FIXTURE_DATA(scope) *self, bool mount_one)
{
	char *root = self->dir[ROOT];
	int i;

	if (find_cgroup2(root, sizeof(self->dir[ROOT]))) {
		if (!mount_one)
			return -ENOENT;
		mkdir(CG2_MNT, 0755);
		if (mount("cgroup2", CG2_MNT, "cgroup2", 0, NULL))
			return -errno;
		snprintf(root, sizeof(self->dir[ROOT]), "%s", CG2_MNT);
	}
	self->mounted = !strcmp(root, CG2_MNT);
	for (i = 0; i < ROOT; i++)
		snprintf(self->dir[i], sizeof(self->dir[i]), "%.256s/%s", root, cg_name[i]);
	return 0;
}

/* Make the hierarchy, and note each directory's id. Returns 0 or -errno. */
static int cgroups_make(FIXTURE_DATA(scope) *self)
{
	struct stat st;
	int i;

	cgroups_remove(self);
	for (i = 0; i < NR_CG; i++) {
		if ((i != ROOT && mkdir(self->dir[i], 0755)) || stat(self->dir[i], &st))
			return -errno;
		self->id[i] = st.st_ino;
	}
	return 0;
}

/* Everything the fixture made; returns the agent's exit status. */
static int cleanup(FIXTURE_DATA(scope) *self)
{
	/* Links and program fds go with the agent. */
	int ret = agent_stop(&self->a);

	if (self->mnt_fd >= 0)
		close(self->mnt_fd);
	if (self->fs_fd >= 0)
		close(self->fs_fd);
	self->mnt_fd = -1;
	self->fs_fd = -1;
	cgroups_remove(self);
	if (self->mounted && !umount2(CG2_MNT, MNT_DETACH))
		rmdir(CG2_MNT);
	return ret;
}

/* The harness skips the teardown after a failed ASSERT: clean up what a run left. */
static void __attribute__((destructor)) scope_leftovers(void)
{
	FIXTURE_DATA(scope) self = { .fs_fd = -1, .mnt_fd = -1 };

	if (!geteuid() && !cgroups_find(&self, false))
		cleanup(&self);
}

FIXTURE_SETUP(scope)
{
	const char *skip = NULL, *fail = NULL;
	int i, fd, ret;

	self->fs_fd = -1;
	self->mnt_fd = -1;
	if (write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"))
		fail = "kernel.unprivileged_bpf_disabled=2";
	else if (cgroups_find(self, true))
		skip = "cannot mount cgroup2";
	else if (cgroups_make(self))
		fail = "cgroup2 directories";
	/* After the cgroup2 mount: the agent's mount namespace is a copy. */
	else if (agent_start(&self->a) ||
		 agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &self->fs_fd, NULL, 0))
		fail = "agent";
	for (i = 0; !skip && !fail && i < ROOT; i++) {
		fd = open(self->dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || agent_give_fd(&self->a, cg_slot[i], fd))
			fail = "cgroup fds to the agent";
		if (fd >= 0)
			close(fd);
	}
	if (!skip && !fail) {
		/* A kernel that knows VER0 only finds a non-zero tail. */
		ret = set_opts_scoped(self->fs_fd, LOAD, 0, SOCK_ADDR, INET4, self->id[CONTAINER]);
		if (ret == -E2BIG)
			self->no_scope = true;
		else if (ret)
			fail = "VER1 abilities on the agent's context";
		/* The probe named a scope; leave the context unscoped. */
		else if (set_opts_scoped(self->fs_fd, 0, 0, 0, 0, 0))
			fail = "VER1 abilities without a scope";
	}
	if (skip || fail)
		cleanup(self);
	if (skip)
		SKIP(return, "%s", skip);
	ASSERT_TRUE(!fail) TH_LOG("setup: %s", fail);
}

/*
 * Cases that set a scope skip on a kernel without VER1; build with
 * -DSCOPE_NO_SKIP to watch them fail there instead.  Case 1 runs anywhere:
 * it shows what an unscoped delegation allows.
 */
#ifdef SCOPE_NO_SKIP
#define REQUIRE_SCOPE(self) do { } while (0)
#else
#define REQUIRE_SCOPE(self)							\
	do {									\
		if ((self)->no_scope)						\
			SKIP(return, "no cgroup scope (struct bpf_delegation_opts VER1) in this kernel"); \
	} while (0)
#endif

FIXTURE_TEARDOWN(scope)
{
	EXPECT_EQ(cleanup(self), 0);
}

/*
 * The privileged side consents (VER1 with @cgroup_id; VER0 if @ver0), the
 * agent creates, mounts at MNT, opens the root and makes a token.
 */
static int delegate(FIXTURE_DATA(scope) *self, bool ver0, __u64 progs, __u64 attachs,
		    __u64 cgroup_id)
{
	int ret = ver0 ? set_opts(self->fs_fd, LOAD, 0, progs, attachs) :
			 set_opts_scoped(self->fs_fd, LOAD, 0, progs, attachs, cgroup_id);

	ret = ret ?: set_flag(self->fs_fd, "delegate");
	ret = ret ?: agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0);
	ret = ret ?: agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0);
	ret = ret ?: agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0);
	return ret ?: agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0);
}

/* The privileged side replaces the live set (VER1) through a reconfigure context. */
static int reconfigure(FIXTURE_DATA(scope) *self, __u64 cmds, __u64 progs, __u64 attachs,
		       __u64 cgroup_id)
{
	int fd = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = set_opts_scoped(fd, cmds, 0, progs, attachs, cgroup_id);
	if (!ret && sys_fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	close(fd);
	return ret;
}

/* The agent loads a program of kind @k through slot @via into slot @prog. */
static int load(FIXTURE_DATA(scope) *self, const char *via, const char *prog, int k)
{
	char s[64];

	snprintf(s, sizeof(s), "%s %d %d %d", prog, kinds[k].type, kinds[k].attach, kinds[k].ret);
	return agent_do(&self->a, OP_PROG_KEEP, 0, via, s, NULL, NULL, 0);
}

static int cg_attach(FIXTURE_DATA(scope) *self, const char *prog, int cg, int k,
		     unsigned int flags, const char *replaced)
{
	char s[64];

	snprintf(s, sizeof(s), "%s %u %s", prog, flags, replaced ?: "");
	return agent_do(&self->a, OP_CG_ATTACH, kinds[k].attach, cg_slot[cg], s, NULL, NULL, 0);
}

static int cg_detach(FIXTURE_DATA(scope) *self, const char *prog, int cg, int k)
{
	return agent_do(&self->a, OP_CG_DETACH, kinds[k].attach, cg_slot[cg], prog, NULL, NULL, 0);
}

/* BPF_LINK_CREATE; the agent keeps the link in slot @link. */
static int cg_link(FIXTURE_DATA(scope) *self, const char *prog, int cg, int k, const char *link)
{
	char s[64];

	snprintf(s, sizeof(s), "%s %s", prog, link);
	return agent_do(&self->a, OP_CG_LINK, kinds[k].attach, cg_slot[cg], s, NULL, NULL, 0);
}

static int cg_update(FIXTURE_DATA(scope) *self, const char *link, const char *prog,
		     const char *old)
{
	char s[64];

	snprintf(s, sizeof(s), "%s %s", prog, old ?: "");
	return agent_do(&self->a, OP_LINK_UPDATE, 0, link, s, NULL, NULL, 0);
}

/* Close slot @slot in the agent: a link there detaches. */
static int drop(FIXTURE_DATA(scope) *self, const char *slot)
{
	return agent_do(&self->a, OP_CLOSE, 0, slot, NULL, NULL, NULL, 0);
}

/*
 * Program @prog (kind @k) attaches to @cg both ways, and detaches: with
 * BPF_PROG_ATTACH + BPF_PROG_DETACH, and with a link, closed after.
 */
#define EXPECT_ATTACHES(prog, cg, k) expect_attach(_metadata, self, prog, cg, k, true, __LINE__)
/* ... or both ways are refused with EPERM (and undone if not). */
#define EXPECT_REFUSED(prog, cg, k) expect_attach(_metadata, self, prog, cg, k, false, __LINE__)

static void expect_attach(struct __test_metadata *_metadata, FIXTURE_DATA(scope) *self,
			  const char *prog, int cg, int k, bool ok, int line)
{
	int ret = cg_attach(self, prog, cg, k, MULTI, NULL);

	EXPECT_EQ(ret, ok ? 0 : -EPERM)
		TH_LOG("line %d: BPF_PROG_ATTACH of %s (%s) to %s", line, prog, kinds[k].name,
		       cg_name[cg]);
	if (!ret)
		EXPECT_EQ(cg_detach(self, prog, cg, k), 0);
	ret = cg_link(self, prog, cg, k, "link");
	EXPECT_EQ(ret, ok ? 0 : -EPERM)
		TH_LOG("line %d: BPF_LINK_CREATE of %s (%s) on %s", line, prog, kinds[k].name,
		       cg_name[cg]);
	if (!ret)
		drop(self, "link");
}

/*
 * connect() of a UDP socket to 127.0.0.1:9 by a child of this process that
 * moved itself into cgroup @cg: 0 or the errno; UDP connect runs the
 * connect4 hook and needs no listener.
 */
static int connect_in(FIXTURE_DATA(scope) *self, int cg)
{
	char procs[600];
	pid_t pid;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", self->dir[cg]);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = htons(9),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		int s;

		if (write_file(procs, "0"))
			_exit(250);
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			_exit(251);
		_exit(connect(s, (struct sockaddr *)&sin, sizeof(sin)) ? errno : 0);
	}
	return pid < 0 ? -errno : wait_child(pid);
}

/* The refusing program runs for cgroup @cg (EPERM), or nothing refuses there. */
#define EXPECT_HOOKED(cg, hooked) expect_hooked(_metadata, self, cg, hooked, __LINE__)

static void expect_hooked(struct __test_metadata *_metadata, FIXTURE_DATA(scope) *self,
			  int cg, bool hooked, int line)
{
	int ret = connect_in(self, cg);

	if (hooked) {
		EXPECT_EQ(ret, EPERM) TH_LOG("line %d: connect() in %s", line, cg_name[cg]);
	} else {
		EXPECT_TRUE(ret == 0 || ret == ECONNREFUSED || ret == ENETUNREACH)
			TH_LOG("line %d: connect() in %s: %d", line, cg_name[cg], ret);
	}
}

/* Does the comma-separated @opts hold exactly @opt? */
static bool has_option(const char *opts, const char *opt)
{
	size_t n = strlen(opt);
	const char *p;

	for (p = opts; (p = strstr(p, opt)); p += n)
		if ((p == opts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* 1. No scope (VER0): the container attaches anywhere, as with upstream's tokens. */
TEST_F(scope, unscoped_ver0_attaches_anywhere)
{
	char opts[1024];

	ASSERT_EQ(delegate(self, true, SOCK_ADDR, INET4, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNTINFO, 0, NULL, MNT, NULL, opts, sizeof(opts)), 0);
	EXPECT_EQ(strstr(opts, "delegate_cgroup"), NULL) TH_LOG("%s", opts);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	EXPECT_HOOKED(SIBLING, false);
	EXPECT_EQ(cg_attach(self, "prog", HOST, CONNECT4, MULTI, NULL), 0);
	EXPECT_EQ(cg_attach(self, "prog", SIBLING, CONNECT4, MULTI, NULL), 0);
	EXPECT_EQ(cg_link(self, "prog", CONTAINER, CONNECT4, "link"), 0);
	EXPECT_HOOKED(SIBLING, true);
	EXPECT_HOOKED(SUB, true);
	EXPECT_EQ(cg_detach(self, "prog", HOST, CONNECT4), 0);
	EXPECT_EQ(cg_detach(self, "prog", SIBLING, CONNECT4), 0);
	EXPECT_EQ(drop(self, "link"), 0);
	EXPECT_HOOKED(SIBLING, false);
	EXPECT_HOOKED(SUB, false);
}

/*
 * 2. Scope = container: attaches there and below work, through the token and
 * the root fd, and the program runs.
 */
TEST_F(scope, scoped_attach_inside_subtree)
{
	char info[1024], want[600];
	int i;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	/* Token fdinfo shows the scope, as a path where the reader resolves it. */
	ASSERT_EQ(agent_do(&self->a, OP_FDINFO, 0, "token", NULL, NULL, info, sizeof(info)), 0);
	snprintf(want, sizeof(want), "cgroup_scope:\t%llu /%s\n",
		 (unsigned long long)self->id[CONTAINER], cg_name[CONTAINER]);
	EXPECT_NE(strstr(info, want), NULL) TH_LOG("%s", info);
	for (i = 0; i < 2; i++) {
		TH_LOG("loaded through the %s fd", fds[i]);
		ASSERT_EQ(load(self, fds[i], "prog", CONNECT4), 0);
		EXPECT_HOOKED(CONTAINER, false);
		EXPECT_EQ(cg_attach(self, "prog", CONTAINER, CONNECT4, MULTI, NULL), 0);
		EXPECT_HOOKED(CONTAINER, true);
		EXPECT_HOOKED(SUB, true);
		EXPECT_HOOKED(SIBLING, false);
		EXPECT_EQ(cg_detach(self, "prog", CONTAINER, CONNECT4), 0);
		EXPECT_HOOKED(CONTAINER, false);
		EXPECT_EQ(cg_link(self, "prog", SUB, CONNECT4, "link"), 0);
		EXPECT_HOOKED(SUB, true);
		EXPECT_HOOKED(CONTAINER, false);
		EXPECT_EQ(drop(self, "link"), 0);
		EXPECT_HOOKED(SUB, false);
		EXPECT_ATTACHES("prog", SUB, CONNECT4);
		EXPECT_ATTACHES("prog", CONTAINER, CONNECT4);
	}
}

/*
 * 3. Scope = container/sub: its parent, the test's host cgroup, the sibling
 * and the hierarchy's root (opened by path) are refused, for three program
 * types; with the scope reset to 0 (VER1) the same calls succeed.
 */
TEST_F(scope, scoped_refuses_outside)
{
	static const int outside[] = { CONTAINER, HOST, SIBLING, ROOT };
	int k, i;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, PROGS, ATTACHS, self->id[SUB]), 0);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, cg_slot[ROOT], self->dir[ROOT], NULL, NULL, 0), 0);
	for (k = 0; k < (int)ARRAY_SIZE(kinds); k++) {
		ASSERT_EQ(load(self, fds[k % 2], prog_slot[k], k), 0) TH_LOG("%s", kinds[k].name);
		for (i = 0; i < (int)ARRAY_SIZE(outside); i++) {
			/* Never risk a connect() refusing program on the whole machine. */
			if (outside[i] == ROOT && !kinds[k].ret)
				continue;
			EXPECT_REFUSED(prog_slot[k], outside[i], k);
		}
		EXPECT_ATTACHES(prog_slot[k], SUB, k);
	}
	ASSERT_EQ(reconfigure(self, LOAD, PROGS, ATTACHS, 0), 0);
	for (k = 0; k < (int)ARRAY_SIZE(kinds); k++)
		for (i = 0; i < (int)ARRAY_SIZE(outside) - 1; i++)
			EXPECT_ATTACHES(prog_slot[k], outside[i], k);
}

/* 4. Inside the scope, the attach type must still be in the live attachs mask. */
TEST_F(scope, attach_type_not_delegated)
{
	int i;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(load(self, fds[i], prog_slot[i], CONNECT4), 0);
		EXPECT_ATTACHES(prog_slot[i], CONTAINER, CONNECT4);
	}
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, BIT(BPF_CGROUP_INET6_CONNECT),
			      self->id[CONTAINER]), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_REFUSED(prog_slot[i], CONTAINER, CONNECT4);
		EXPECT_REFUSED(prog_slot[i], SUB, CONNECT4);
	}
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	for (i = 0; i < 2; i++)
		EXPECT_ATTACHES(prog_slot[i], CONTAINER, CONNECT4);
}

/*
 * 5. Narrowing the scope refuses new attaches at once; what was attached
 * before stays and runs.  A reset refuses everything.
 */
TEST_F(scope, narrowing_scope_refuses_at_once)
{
	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	ASSERT_EQ(load(self, "token", "prog2", CONNECT4), 0);
	EXPECT_EQ(cg_attach(self, "prog", CONTAINER, CONNECT4, MULTI, NULL), 0);
	EXPECT_EQ(cg_link(self, "prog", SUB, CONNECT4, "link2"), 0);
	EXPECT_ATTACHES("prog2", CONTAINER, CONNECT4);
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, self->id[SUB]), 0);
	EXPECT_REFUSED("prog2", CONTAINER, CONNECT4);
	EXPECT_ATTACHES("prog2", SUB, CONNECT4);
	EXPECT_HOOKED(CONTAINER, true);
	EXPECT_HOOKED(SUB, true);

	ASSERT_EQ(reconfigure(self, 0, 0, 0, 0), 0);
	EXPECT_REFUSED("prog2", SUB, CONNECT4);
	EXPECT_REFUSED("prog2", CONTAINER, CONNECT4);
	EXPECT_HOOKED(CONTAINER, true);
	EXPECT_HOOKED(SUB, true);
	EXPECT_HOOKED(SIBLING, false);
}

/*
 * 6. Outside a narrowed scope the container cannot take off, replace
 * (BPF_F_REPLACE) or update (BPF_LINK_UPDATE) what it attached there
 * before; inside it can, and so can it outside once the scope widens.
 */
TEST_F(scope, detach_and_replace_outside_scope)
{
	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[HOST]), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	ASSERT_EQ(load(self, "token", "prog2", CONNECT4), 0);
	ASSERT_EQ(load(self, "token", "prog3", CONNECT4), 0);
	ASSERT_EQ(cg_attach(self, "prog", SIBLING, CONNECT4, MULTI, NULL), 0);
	ASSERT_EQ(cg_attach(self, "prog", CONTAINER, CONNECT4, MULTI, NULL), 0);
	ASSERT_EQ(cg_link(self, "prog2", SIBLING, CONNECT4, "link"), 0);
	ASSERT_EQ(cg_link(self, "prog2", CONTAINER, CONNECT4, "link2"), 0);
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	EXPECT_EQ(cg_detach(self, "prog", SIBLING, CONNECT4), -EPERM);
	EXPECT_EQ(cg_attach(self, "prog3", SIBLING, CONNECT4, REPLACE, "prog"), -EPERM);
	EXPECT_EQ(cg_update(self, "link", "prog3", "prog2"), -EPERM);
	EXPECT_HOOKED(SIBLING, true);

	EXPECT_EQ(cg_attach(self, "prog3", CONTAINER, CONNECT4, REPLACE, "prog"), 0);
	EXPECT_EQ(cg_detach(self, "prog3", CONTAINER, CONNECT4), 0);
	EXPECT_EQ(cg_update(self, "link2", "prog3", "prog2"), 0);

	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, self->id[HOST]), 0);
	EXPECT_EQ(cg_update(self, "link", "prog3", "prog2"), 0);
	EXPECT_EQ(cg_detach(self, "prog", SIBLING, CONNECT4), 0);
	EXPECT_EQ(drop(self, "link"), 0);
	EXPECT_HOOKED(SIBLING, false);
}

/*
 * 7. Sizes, ids, who may set a scope, and the delegate_cgroup string with
 * what mountinfo shows.
 */
TEST_F(scope, sizes_unknown_ids_and_privilege)
{
	char gone[600], procs[600], opts[1024], want[64], id[32];
	__u64 blob[6] = { LOAD, 0, SOCK_ADDR, INET4, self->id[CONTAINER], 0 };
	struct stat st;
	int pick;

	REQUIRE_SCOPE(self);
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER0), 0);
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1), 0);
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1 + 8), 0);
	blob[5] = 1;
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1 + 8), -E2BIG);
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER0 - 8), -EINVAL);
	blob[5] = 0;

	/* No cgroup2 directory by that id: removed, a file, none at all. */
	snprintf(gone, sizeof(gone), "%s/gone", self->dir[HOST]);
	ASSERT_EQ(mkdir(gone, 0755), 0);
	ASSERT_EQ(stat(gone, &st), 0);
	ASSERT_EQ(rmdir(gone), 0);
	read_log(self->fs_fd, self->log, sizeof(self->log));
	blob[4] = st.st_ino;
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1), -ENOENT);
	read_log(self->fs_fd, self->log, sizeof(self->log));
	EXPECT_NE(strstr(self->log, "cgroup"), NULL) TH_LOG("log: %s", self->log);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", self->dir[CONTAINER]);
	ASSERT_EQ(stat(procs, &st), 0);
	blob[4] = st.st_ino;
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1), -ENOENT);
	blob[4] = ~0ULL - 1;
	EXPECT_EQ(set_blob(self->fs_fd, blob, BPF_DELEGATION_OPTS_SIZE_VER1), -ENOENT);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_cgroup", "18446744073709551614"), -ENOENT);

	/* The container itself, on its own context: neither way. */
	snprintf(want, sizeof(want), "%llu 0 %llu %llu %llu", LOAD, SOCK_ADDR, INET4,
		 (unsigned long long)self->id[CONTAINER]);
	EXPECT_EQ(agent_do(&self->a, OP_SET_ABILITIES, BPF_DELEGATION_OPTS_SIZE_VER1, NULL, want,
			   NULL, NULL, 0), -EPERM);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)self->id[CONTAINER]);
	EXPECT_EQ(agent_do(&self->a, OP_SET_STRING, 0, "delegate_cgroup", id, NULL, NULL, 0),
		  -EPERM);

	/* The string key narrows a VER0 set, shows in mountinfo, and is enforced. */
	ASSERT_EQ(set_opts(self->fs_fd, LOAD, 0, SOCK_ADDR, INET4), 0);
	ASSERT_EQ(set_string(self->fs_fd, "delegate_cgroup", id), 0);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNTINFO, 0, NULL, MNT, NULL, opts, sizeof(opts)), 0);
	snprintf(want, sizeof(want), "delegate_cgroup=%s", id);
	EXPECT_TRUE(has_option(opts, want)) TH_LOG("%s: %s", want, opts);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	EXPECT_REFUSED("prog", SIBLING, CONNECT4);
	EXPECT_ATTACHES("prog", CONTAINER, CONNECT4);

	/* "0" on a reconfigure: no scope, the masks stay. */
	pick = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(pick, 0);
	EXPECT_EQ(set_string(pick, "delegate_cgroup", "0"), 0);
	EXPECT_EQ(sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), 0);
	close(pick);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNTINFO, 0, NULL, MNT, NULL, opts, sizeof(opts)), 0);
	EXPECT_EQ(strstr(opts, "delegate_cgroup"), NULL) TH_LOG("%s", opts);
	EXPECT_ATTACHES("prog", SIBLING, CONNECT4);
}

/* The id of the one program attached to @cg as @type, or 0. */
static __u32 attached_id(int cg, enum bpf_attach_type type)
{
	__u32 ids[4] = {};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = cg;
	attr.query.attach_type = type;
	attr.query.prog_ids = (unsigned long)ids;
	attr.query.prog_cnt = 4;
	if (sys_bpf(BPF_PROG_QUERY, &attr) || attr.query.prog_cnt != 1)
		return 0;
	return ids[0];
}

static int open_cg(FIXTURE_DATA(scope) *self, int cg)
{
	return open(self->dir[cg], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * 8. A legacy (non-multi) attachment is found by BPF_PROG_DETACH whatever
 * program the caller names, or none: the container, which can open the
 * host's cgroup directories, must not take off the host's program that
 * way, with no program fd or with its own.  Needs no scope.
 */
TEST_F(scope, legacy_detach_of_a_program_not_named_needs_privilege)
{
	int prog, cg;

	ASSERT_EQ(delegate(self, true, SOCK_ADDR, INET4, 0), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	prog = prog_load(kinds[CONNECT4].type, kinds[CONNECT4].attach, kinds[CONNECT4].ret, -1);
	ASSERT_GE(prog, 0);
	cg = open_cg(self, SIBLING);
	ASSERT_GE(cg, 0);
	/* The host's own program, attached the legacy way (no flags). */
	ASSERT_EQ(prog_attach(prog, cg, kinds[CONNECT4].attach, 0, -1), 0);
	EXPECT_HOOKED(SIBLING, true);
	EXPECT_EQ(cg_detach(self, "none", SIBLING, CONNECT4), -EPERM);
	EXPECT_EQ(cg_detach(self, "prog", SIBLING, CONNECT4), -EPERM);
	EXPECT_HOOKED(SIBLING, true);
	/* The privileged side still can, with or without the fd. */
	EXPECT_EQ(prog_detach(-1, cg, kinds[CONNECT4].attach), 0);
	EXPECT_HOOKED(SIBLING, false);
	close(cg);
	close(prog);
}

/*
 * 9. Scoped, a delegated program attaches only as one of several (multi):
 * a legacy attach would replace the host's legacy program on the
 * container's own cgroup, and with it the host's policy there.
 */
TEST_F(scope, scoped_legacy_attach_cannot_displace_the_hosts_program)
{
	__u32 host_id;
	int prog, cg;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	prog = prog_load(kinds[CONNECT4].type, kinds[CONNECT4].attach, 1, -1);
	ASSERT_GE(prog, 0);
	cg = open_cg(self, CONTAINER);
	ASSERT_GE(cg, 0);
	ASSERT_EQ(prog_attach(prog, cg, kinds[CONNECT4].attach, BPF_F_ALLOW_OVERRIDE, -1), 0);
	host_id = attached_id(cg, kinds[CONNECT4].attach);
	ASSERT_NE(host_id, 0);
	EXPECT_EQ(cg_attach(self, "prog", CONTAINER, CONNECT4, 0, NULL), -EPERM);
	EXPECT_EQ(cg_attach(self, "prog", CONTAINER, CONNECT4, BPF_F_ALLOW_OVERRIDE, NULL),
		  -EPERM);
	EXPECT_EQ(attached_id(cg, kinds[CONNECT4].attach), host_id);
	EXPECT_HOOKED(CONTAINER, false);
	EXPECT_EQ(prog_detach(prog, cg, kinds[CONNECT4].attach), 0);
	/* As one of several, it attaches. */
	EXPECT_ATTACHES("prog", CONTAINER, CONNECT4);
	close(cg);
	close(prog);
}

/*
 * 10. A tool that knows only VER0 narrows the masks and leaves the scope as
 * it is; a VER1 struct with cgroup_id 0 clears it.
 */
TEST_F(scope, ver0_reconfigure_keeps_the_scope)
{
	char opts[1024], want[64];
	int fd;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, PROGS, ATTACHS, self->id[CONTAINER]), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	fd = sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(set_opts(fd, LOAD, 0, SOCK_ADDR, INET4), 0);
	ASSERT_EQ(sys_fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), 0);
	close(fd);
	snprintf(want, sizeof(want), "delegate_cgroup=%llu", (unsigned long long)self->id[CONTAINER]);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNTINFO, 0, NULL, MNT, NULL, opts, sizeof(opts)), 0);
	EXPECT_NE(strstr(opts, want), NULL) TH_LOG("%s", opts);
	EXPECT_NE(strstr(opts, "delegate_progs=cgroup_sock_addr,"), NULL) TH_LOG("%s", opts);
	EXPECT_REFUSED("prog", SIBLING, CONNECT4);
	EXPECT_ATTACHES("prog", SUB, CONNECT4);
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, 0), 0);
	EXPECT_ATTACHES("prog", SIBLING, CONNECT4);
}

/*
 * 11. After a narrowing, the privileged side takes off what the container
 * left outside the new scope (CAP_NET_ADMIN), which the container cannot;
 * but a privileged task handed the delegated program does not attach it
 * outside the scope either.
 */
TEST_F(scope, only_the_host_takes_off_what_was_left_outside)
{
	union bpf_attr attr;
	int cg, host_cg, prog;
	__u32 id;

	REQUIRE_SCOPE(self);
	ASSERT_EQ(delegate(self, false, SOCK_ADDR, INET4, self->id[CONTAINER]), 0);
	ASSERT_EQ(load(self, "token", "prog", CONNECT4), 0);
	ASSERT_EQ(cg_attach(self, "prog", SUB, CONNECT4, MULTI, NULL), 0);
	ASSERT_EQ(reconfigure(self, LOAD, SOCK_ADDR, INET4, self->id[SIBLING]), 0);
	EXPECT_EQ(cg_detach(self, "prog", SUB, CONNECT4), -EPERM);
	EXPECT_HOOKED(SUB, true);
	cg = open_cg(self, SUB);
	host_cg = open_cg(self, HOST);
	ASSERT_GE(cg, 0);
	ASSERT_GE(host_cg, 0);
	id = attached_id(cg, kinds[CONNECT4].attach);
	ASSERT_NE(id, 0);
	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	prog = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	ASSERT_GE(prog, 0);
	EXPECT_EQ(prog_attach(prog, host_cg, kinds[CONNECT4].attach, MULTI, -1), -EPERM);
	EXPECT_EQ(prog_detach(prog, cg, kinds[CONNECT4].attach), 0);
	EXPECT_HOOKED(SUB, false);
	close(prog);
	close(host_cg);
	close(cg);
}

TEST_HARNESS_MAIN
