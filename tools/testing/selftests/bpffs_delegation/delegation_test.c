// SPDX-License-Identifier: GPL-2.0
/*
 * bpffs as the delegation object: the "delegate" flag, "delegate_userns",
 * the size-versioned "abilities" blob, the string options, reconfigure, and
 * what /proc/self/mountinfo shows.
 *
 * Each test has a child "container" in its own user and mount namespace
 * (delegation_agent.h) that opens a bpffs context and hands it to this
 * process, which plays the privileged delegating task.
 */
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-delegation"
#define MAP_CREATE (1ULL << BPF_MAP_CREATE)
#define MAP_STACK (1ULL << BPF_MAP_TYPE_STACK)

static int reconfigure(int fd)
{
	return sys_fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0;
}

static int userns_fd_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

FIXTURE(delegation) {
	struct agent a;
	int fs_fd;	/* the child's context, received over SCM_RIGHTS */
	int mnt_fd;	/* the child's mount, once mounted */
	char info[1024];
};

FIXTURE_SETUP(delegation)
{
	self->mnt_fd = -1;
	ASSERT_EQ(agent_start(&self->a), 0);
	ASSERT_EQ(agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &self->fs_fd, NULL, 0), 0);
	ASSERT_GE(self->fs_fd, 0);
}

FIXTURE_TEARDOWN(delegation)
{
	if (self->mnt_fd >= 0)
		close(self->mnt_fd);
	close(self->fs_fd);
	EXPECT_EQ(agent_stop(&self->a), 0);
}

/* A command for the child that answers with a result only. */
static int child(FIXTURE_DATA(delegation) *self, int op, int arg, const char *key,
		 const char *str)
{
	return agent_do(&self->a, op, arg, key, str, NULL, NULL, 0);
}

/* Child: create the instance and mount it at MNT. */
static int child_create_and_mount(FIXTURE_DATA(delegation) *self)
{
	int ret = child(self, OP_CREATE, 0, NULL, NULL);

	if (ret)
		return ret;
	return agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &self->mnt_fd, NULL, 0);
}

static int child_token(FIXTURE_DATA(delegation) *self)
{
	return child(self, OP_TOKEN, 0, NULL, MNT);
}

static int child_map(FIXTURE_DATA(delegation) *self, enum bpf_map_type type)
{
	return child(self, OP_MAP, type, NULL, NULL);
}

static const char *child_mountinfo(FIXTURE_DATA(delegation) *self)
{
	if (agent_do(&self->a, OP_MOUNTINFO, 0, NULL, MNT, NULL, self->info, sizeof(self->info)))
		return "(not mounted)";
	return self->info;
}

/* Parent: set the delegate flag and abilities, the child creates. */
static int delegate(FIXTURE_DATA(delegation) *self, __u64 cmds, __u64 maps)
{
	int ret = set_opts(self->fs_fd, cmds, maps, 0, 0);

	ret = ret ?: set_flag(self->fs_fd, "delegate");
	return ret ?: child_create_and_mount(self);
}

/* Parent: a reconfigure context on the child's instance. */
static int pick(FIXTURE_DATA(delegation) *self)
{
	return sys_fspick(self->mnt_fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
}

/*
 * Brauner's flow end to end: the child opens the context in its user
 * namespace, the privileged parent binds its consent to that namespace,
 * sets what it delegates and the delegate flag, and the child creates and
 * mounts the instance itself and uses it.
 */
TEST_F(delegation, brauner_flow_end_to_end)
{
	int userns = userns_fd_of(self->a.pid);

	ASSERT_GE(userns, 0);
	ASSERT_EQ(set_fd(self->fs_fd, "delegate_userns", userns), 0);
	close(userns);
	ASSERT_EQ(set_opts(self->fs_fd, MAP_CREATE, MAP_STACK, 0, 0), 0);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=map_create,delegate_maps=stack");
	ASSERT_EQ(child_token(self), 0);
	EXPECT_EQ(child_map(self, BPF_MAP_TYPE_STACK), 0);
	EXPECT_EQ(child_map(self, BPF_MAP_TYPE_QUEUE), -EPERM);
}

TEST_F(delegation, no_delegate_flag_no_create)
{
	ASSERT_EQ(set_opts(self->fs_fd, MAP_CREATE, MAP_STACK, 0, 0), 0);
	EXPECT_EQ(child(self, OP_CREATE, 0, NULL, NULL), -EPERM);
}

TEST_F(delegation, delegate_flag_alone_creates_an_empty_delegation)
{
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate");
	EXPECT_EQ(child_token(self), -ENOENT);
}

/*
 * The privilege matrix: every delegation knob, from each kind of caller.
 * Only CAP_SYS_ADMIN in the initial user namespace may turn them, zero
 * values included.
 */
enum knob { KNOB_DELEGATE, KNOB_ABILITIES, KNOB_STRING, KNOB_STRING_ZERO, KNOB_USERNS, KNOB_MAX };
static const char *const knob_names[] = { "delegate", "abilities", "delegate_cmds",
					  "delegate_cmds=0", "delegate_userns" };

static int turn_knob(int fs_fd, enum knob k, int userns_fd)
{
	struct bpf_delegation_opts zero = {};

	switch (k) {
	case KNOB_DELEGATE:
		return set_flag(fs_fd, "delegate");
	case KNOB_ABILITIES:
		return set_blob(fs_fd, &zero, sizeof(zero));
	case KNOB_STRING:
		return set_string(fs_fd, "delegate_cmds", "map_create");
	case KNOB_STRING_ZERO:
		return set_string(fs_fd, "delegate_cmds", "0");
	case KNOB_USERNS:
		return set_fd(fs_fd, "delegate_userns", userns_fd);
	default:
		return -EINVAL;
	}
}

/* Turn a knob from a forked process; 0 or the errno it got. */
static int turn_knob_as(int fs_fd, enum knob k, int userns_fd, bool other_userns)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1000;
	if (pid == 0) {
		if (other_userns) {
			if (unshare(CLONE_NEWUSER))
				_exit(250);
		} else if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
			_exit(251);
		}
		_exit(-turn_knob(fs_fd, k, userns_fd));
	}
	return -wait_child(pid);
}

TEST_F(delegation, privilege_matrix)
{
	int userns = userns_fd_of(self->a.pid);
	enum knob k;

	ASSERT_GE(userns, 0);
	for (k = 0; k < KNOB_MAX; k++) {
		/* Root of the context's own user namespace: the child itself. */
		switch (k) {
		case KNOB_DELEGATE:
			EXPECT_EQ(child(self, OP_SET_FLAG, 0, "delegate", NULL), -EPERM);
			break;
		case KNOB_ABILITIES:
			EXPECT_EQ(child(self, OP_SET_ABILITIES, 32, NULL, NULL), -EPERM);
			break;
		case KNOB_STRING:
			EXPECT_EQ(child(self, OP_SET_STRING, 0, "delegate_cmds", "map_create"),
				  -EPERM);
			break;
		case KNOB_STRING_ZERO:
			EXPECT_EQ(child(self, OP_SET_STRING, 0, "delegate_cmds", "0"), -EPERM);
			break;
		case KNOB_USERNS:
			EXPECT_EQ(child(self, OP_SET_USERNS, 0, NULL, NULL), -EPERM);
			break;
		default:
			break;
		}
		/* Root of another user namespace, and an unprivileged uid. */
		EXPECT_EQ(turn_knob_as(self->fs_fd, k, userns, true), -EPERM) {
			TH_LOG("%s from another user namespace's root", knob_names[k]);
		}
		EXPECT_EQ(turn_knob_as(self->fs_fd, k, userns, false), -EPERM) {
			TH_LOG("%s from uid 65534", knob_names[k]);
		}
		/* Root of the initial user namespace. */
		EXPECT_EQ(turn_knob(self->fs_fd, k, userns), 0) {
			TH_LOG("%s from init root", knob_names[k]);
		}
	}
	close(userns);
	/* None of the refused calls left anything behind. */
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate,delegate_cmds=map_create");
}

TEST(delegate_flag_refused_in_initial_userns)
{
	int fd = sys_fsopen("bpf", FSOPEN_CLOEXEC);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_flag(fd, "delegate"), -EINVAL);
	close(fd);
}

TEST_F(delegation, delegate_flag_refused_on_reconfigure)
{
	int fd;

	ASSERT_EQ(delegate(self, 1ULL << BPF_MAP_CREATE, 0), 0);
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_flag(fd, "delegate"), -EINVAL);
	close(fd);
}

TEST_F(delegation, delegate_userns_must_name_the_contexts_userns)
{
	int fd;

	fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);	/* the initial one */
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_fd(self->fs_fd, "delegate_userns", fd), -EINVAL);
	close(fd);
	fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);	/* not a user ns */
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_fd(self->fs_fd, "delegate_userns", fd), -EINVAL);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_fd(self->fs_fd, "delegate_userns", fd), -EINVAL);
	close(fd);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_userns", "1"), -EINVAL);
	fd = userns_fd_of(self->a.pid);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_fd(self->fs_fd, "delegate_userns", fd), 0);
	close(fd);
}

/* The sizes of the abilities blob, as for other extensible structs. */
struct size_case {
	const char *name;
	size_t size;
	bool null;
	bool garbage;	/* a non-zero byte at the last offset */
	int want;
};

static const struct size_case size_cases[] = {
	{ "NULL", BPF_DELEGATION_OPTS_SIZE_VER0, true, false, -EINVAL },
	{ "0", 0, false, false, -EINVAL },
	{ "VER0-1", BPF_DELEGATION_OPTS_SIZE_VER0 - 1, false, false, -EINVAL },
	{ "VER0", BPF_DELEGATION_OPTS_SIZE_VER0, false, false, 0 },
	/* VER1 is VER0 + cgroup_id: zero is no scope, 1 << 56 names no cgroup. */
	{ "VER1, no scope", BPF_DELEGATION_OPTS_SIZE_VER1, false, false, 0 },
	{ "VER1, no such cgroup", BPF_DELEGATION_OPTS_SIZE_VER1, false, true, -ENOENT },
	{ "VER1+8 zeroes", BPF_DELEGATION_OPTS_SIZE_VER1 + 8, false, false, 0 },
	{ "VER1+8 garbage", BPF_DELEGATION_OPTS_SIZE_VER1 + 8, false, true, -E2BIG },
	{ "4096", 4096, false, false, 0 },
	{ "4096 garbage", 4096, false, true, -E2BIG },
	{ "4097", 4097, false, false, -E2BIG },
};

TEST_F(delegation, abilities_sizes)
{
	static char buf[8192];
	struct bpf_delegation_opts *o = (void *)buf;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(size_cases); i++) {
		const struct size_case *c = &size_cases[i];

		memset(buf, 0, sizeof(buf));
		o->maps = 1ULL << BPF_MAP_TYPE_STACK;
		if (c->garbage)
			buf[c->size - 1] = 1;
		EXPECT_EQ(set_blob(self->fs_fd, c->null ? NULL : buf, c->size), c->want) {
			TH_LOG("size case %s", c->name);
		}
	}
	/* What the accepted ones set, and nothing the refused ones asked. */
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate,delegate_maps=stack");
}

TEST_F(delegation, abilities_bits)
{
	EXPECT_EQ(set_opts(self->fs_fd, 0, 1ULL << __MAX_BPF_MAP_TYPE, 0, 0), -EINVAL);
	EXPECT_EQ(set_opts(self->fs_fd, 0, 0, 1ULL << __MAX_BPF_PROG_TYPE, 0), -EINVAL);
	EXPECT_EQ(set_opts(self->fs_fd, 0, 0, 0, 1ULL << __MAX_BPF_ATTACH_TYPE), -EINVAL);
	EXPECT_EQ(set_opts(self->fs_fd, 1ULL << __MAX_BPF_CMD, 0, 0, 0), -EINVAL);
	/* A real command that delegation does not gate. */
	EXPECT_EQ(set_opts(self->fs_fd, 1ULL << BPF_MAP_LOOKUP_ELEM, 0, 0, 0), -EINVAL);
	/* All ones is "any". */
	EXPECT_EQ(set_opts(self->fs_fd, ~0ULL, ~0ULL, ~0ULL, ~0ULL), 0);
	EXPECT_EQ(set_opts(self->fs_fd,
			   (1ULL << BPF_MAP_CREATE) | (1ULL << BPF_PROG_LOAD) |
			   (1ULL << BPF_BTF_LOAD),
			   1ULL << (__MAX_BPF_MAP_TYPE - 1),
			   1ULL << (__MAX_BPF_PROG_TYPE - 1),
			   1ULL << (__MAX_BPF_ATTACH_TYPE - 1)), 0);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=map_create:prog_load:btf_load,delegate_maps=arena,"
		     "delegate_progs=netfilter,delegate_attachs=trace_kprobe_session");
}

TEST_F(delegation, keys_take_one_type)
{
	struct bpf_delegation_opts o = {};

	EXPECT_EQ(set_string(self->fs_fd, "abilities", "any"), -EINVAL);
	EXPECT_EQ(set_string(self->fs_fd, "delegate", "1"), -EINVAL);
	EXPECT_EQ(set_blob(self->fs_fd, &o, sizeof(o)), 0);
	EXPECT_EQ(set_binary(self->fs_fd, "delegate_cmds", &o, sizeof(o)), -EINVAL);
	/* A blob is never ignored, for known and unknown keys alike. */
	EXPECT_EQ(set_binary(self->fs_fd, "uid", &o, sizeof(o)), -EINVAL);
	EXPECT_EQ(set_binary(self->fs_fd, "nonsense", &o, sizeof(o)), -EINVAL);
	/* Unknown string keys stay ignored, as bpffs always did. */
	EXPECT_EQ(set_string(self->fs_fd, "nonsense", "1"), 0);
}

TEST_F(delegation, names_without_btf)
{
	EXPECT_EQ(set_string(self->fs_fd, "delegate_cmds", "map_create:BPF_PROG_LOAD:Btf_Load"), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "BPF_MAP_TYPE_STACK:hash"), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_progs", "socket_filter:BPF_PROG_TYPE_XDP"), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_attachs", "cgroup_inet_ingress:0x2"), 0);
	/* An alias of BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED. */
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "cgroup_storage"), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "hsah"), -EINVAL);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=map_create:prog_load:btf_load,"
		     "delegate_maps=hash:cgroup_storage_deprecated:stack,"
		     "delegate_progs=socket_filter:xdp,"
		     "delegate_attachs=cgroup_inet_ingress:cgroup_inet_egress");
}

/* Upstream let a number overwrite the names before it. */
TEST_F(delegation, numbers_or_into_names)
{
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "array:0x800000"), 0);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate,delegate_maps=array:stack");
}

/* A blob replaces the set where it comes; later strings OR into it. */
TEST_F(delegation, requests_apply_in_call_order)
{
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "hash"), 0);
	EXPECT_EQ(set_opts(self->fs_fd, 0, 1ULL << BPF_MAP_TYPE_STACK, 0, 0), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "array"), 0);
	/* A failed call changes nothing. */
	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "queue:nonsense"), -EINVAL);
	EXPECT_EQ(set_opts(self->fs_fd, 0, 1ULL << 63, 0, 0), -EINVAL);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate,delegate_maps=array:stack");
}

TEST_F(delegation, reconfigure_widen_narrow_reset)
{
	struct bpf_delegation_opts zero = {};
	int fd;

	ASSERT_EQ(delegate(self, MAP_CREATE, MAP_STACK), 0);
	ASSERT_EQ(child_token(self), 0);
	EXPECT_EQ(child_map(self, BPF_MAP_TYPE_QUEUE), -EPERM);

	/* Widen: only the named field changes. */
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_string(fd, "delegate_maps", "stack:queue"), 0);
	EXPECT_EQ(reconfigure(fd), 0);
	close(fd);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=map_create,delegate_maps=queue:stack");
	ASSERT_EQ(child_token(self), 0);
	EXPECT_EQ(child_map(self, BPF_MAP_TYPE_QUEUE), 0);

	/* Narrow. */
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_string(fd, "delegate_maps", "queue"), 0);
	EXPECT_EQ(reconfigure(fd), 0);
	close(fd);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=map_create,delegate_maps=queue");
	ASSERT_EQ(child_token(self), 0);
	EXPECT_EQ(child_map(self, BPF_MAP_TYPE_STACK), -EPERM);

	/* Reset: a zeroed struct; the instance stays one created under delegate. */
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_blob(fd, &zero, sizeof(zero)), 0);
	EXPECT_EQ(reconfigure(fd), 0);
	close(fd);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate");
	EXPECT_EQ(child_token(self), -ENOENT);
}

/* The container's root may reconfigure and remount its instance, but not its delegation. */
TEST_F(delegation, container_cannot_change_its_delegation)
{
	const char *want = "rw,delegate,delegate_cmds=map_create,delegate_maps=stack";

	ASSERT_EQ(delegate(self, MAP_CREATE, MAP_STACK), 0);
	ASSERT_STREQ(child_mountinfo(self), want);

	ASSERT_EQ(child(self, OP_PICK, 0, NULL, MNT), 0);
	EXPECT_EQ(child(self, OP_PICK_SET_STRING, 0, "delegate_maps", "any"), -EPERM);
	EXPECT_EQ(child(self, OP_PICK_SET_STRING, 0, "delegate_maps", "0"), -EPERM);
	EXPECT_EQ(child(self, OP_PICK_SET_STRING, 0, "mode", "0700"), 0);
	EXPECT_EQ(child(self, OP_PICK_RECONFIGURE, 0, NULL, NULL), 0);
	EXPECT_STREQ(child_mountinfo(self), want);

	/* mount(2) remount, with and without delegation options. */
	EXPECT_EQ(child(self, OP_REMOUNT, 0, "", MNT), 0);
	EXPECT_STREQ(child_mountinfo(self), want);
	EXPECT_EQ(child(self, OP_REMOUNT, 0, "delegate_cmds=any", MNT), -EPERM);
	EXPECT_STREQ(child_mountinfo(self), want);
}

/* A context opened before a revocation brings nothing old back. */
TEST_F(delegation, stale_context_after_revocation)
{
	struct bpf_delegation_opts zero = {};
	int fd;

	ASSERT_EQ(delegate(self, MAP_CREATE, MAP_STACK), 0);
	/* The container opens a reconfigure context while it is delegated ... */
	ASSERT_EQ(child(self, OP_PICK, 0, NULL, MNT), 0);
	/* ... the privileged side revokes ... */
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_blob(fd, &zero, sizeof(zero)), 0);
	EXPECT_EQ(reconfigure(fd), 0);
	close(fd);
	/* ... and the container applies its old context. */
	EXPECT_EQ(child(self, OP_PICK_RECONFIGURE, 0, NULL, NULL), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,delegate");
	EXPECT_EQ(child_token(self), -ENOENT);
}

/* The privileged side's reconfigure touches only delegation. */
TEST_F(delegation, reconfigure_keeps_uid_gid_mode)
{
	int fd;

	ASSERT_EQ(set_string(self->fs_fd, "mode", "0750"), 0);
	ASSERT_EQ(delegate(self, 1ULL << BPF_MAP_CREATE, 0), 0);
	EXPECT_STREQ(child_mountinfo(self), "rw,mode=750,delegate,delegate_cmds=map_create");
	fd = pick(self);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(set_string(fd, "delegate_maps", "array"), 0);
	EXPECT_EQ(reconfigure(fd), 0);
	close(fd);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,mode=750,delegate,delegate_cmds=map_create,delegate_maps=array");
}

/* "any" when every bit this kernel knows is set. */
TEST_F(delegation, any_shows_as_any)
{
	EXPECT_EQ(set_opts(self->fs_fd, ~0ULL, ~0ULL, 0, 0), 0);
	EXPECT_EQ(set_string(self->fs_fd, "delegate_progs", "any"), 0);
	ASSERT_EQ(set_flag(self->fs_fd, "delegate"), 0);
	ASSERT_EQ(child_create_and_mount(self), 0);
	EXPECT_STREQ(child_mountinfo(self),
		     "rw,delegate,delegate_cmds=any,delegate_maps=any,delegate_progs=any");
}

/* Every refusal names its reason in the fs_context log. */
static void expect_log(struct __test_metadata *_metadata, int fd, const char *want)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	ASSERT_GT(n, 0);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	EXPECT_STREQ(buf, want);
}

TEST_F(delegation, errors_are_logged)
{
	char blob[48] = {};

	EXPECT_EQ(set_string(self->fs_fd, "delegate_maps", "array:hsah"), -EINVAL);
	expect_log(_metadata, self->fs_fd, "e bpf: delegate_maps: unknown name 'hsah'");
	blob[47] = 1;
	EXPECT_EQ(set_blob(self->fs_fd, blob, sizeof(blob)), -E2BIG);
	expect_log(_metadata, self->fs_fd,
		   "e bpf: abilities: unknown non-zero field at byte 47 (this kernel knows 40)");
	EXPECT_EQ(set_string(self->fs_fd, "abilities", "any"), -EINVAL);
	expect_log(_metadata, self->fs_fd,
		   "e bpf: abilities: takes a struct bpf_delegation_opts (FSCONFIG_SET_BINARY)");
	/* The container's own attempt, read back through its own context fd. */
	EXPECT_EQ(child(self, OP_SET_FLAG, 0, "delegate", NULL), -EPERM);
	expect_log(_metadata, self->fs_fd,
		   "e bpf: delegate: needs CAP_SYS_ADMIN in the initial user namespace");
	/* The refused creation says why. */
	EXPECT_EQ(child(self, OP_CREATE, 0, NULL, NULL), -EPERM);
	expect_log(_metadata, self->fs_fd, "e bpf: creating a bpffs for this user namespace needs "
		   "CAP_SYS_ADMIN in the initial one, or the delegate flag");
}

TEST_HARNESS_MAIN
