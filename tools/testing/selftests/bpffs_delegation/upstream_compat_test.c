// SPDX-License-Identifier: GPL-2.0
/*
 * Today's upstream BPF token behaviour, which the bpffs delegation series
 * must keep: a task privileged in the initial user namespace configures and
 * creates a bpffs for a child user namespace with the delegate_* string
 * options, the child makes a BPF token from it and creates maps with
 * BPF_F_TOKEN_FD.  These tests pass on the vanilla and the patched kernel.
 *
 * Masks are given as numbers and "any", except in names_as_upstream_parses_them:
 * the vanilla kernel parses symbolic names from vmlinux BTF only.
 */
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_UPSTREAM)

/* What the child reports back, in this order. */
struct child_report {
	int create;		/* FSCONFIG_CMD_CREATE by the child, if asked */
	int token;		/* BPF_TOKEN_CREATE on the mounted instance */
	int map_token;		/* map create with the token */
	int map_plain;		/* the same map create without it */
};
_Static_assert(sizeof(struct child_report) <= sizeof(((struct msg *)0)->str),
	       "the report travels in a message's string");

struct child_args {
	enum bpf_map_type map_type;
	const char *child_sets_cmds;	/* the child itself sets delegate_cmds */
};

#define CHILD_CREATES	1
#define PARENT_CREATED	2

/*
 * In the child's user namespace: open a bpffs context, hand it to the
 * parent, and after the parent's word create (or not) the instance, mount it,
 * make a token and try map creates with and without it.
 */
static int child_flow(int sock, void *data)
{
	struct child_args *args = data;
	struct child_report r = { -ENOTRECOVERABLE, -ENOTRECOVERABLE,
				  -ENOTRECOVERABLE, -ENOTRECOVERABLE };
	int fs_fd, mnt_fd, bpffs_fd, token, how, set = 0;
	struct msg m = {};

	fs_fd = sys_fsopen("bpf", FSOPEN_CLOEXEC);
	if (fs_fd < 0)
		return 10;
	if (args->child_sets_cmds)
		set = set_string(fs_fd, "delegate_cmds", args->child_sets_cmds);
	/* Ask the parent to delegate the context; it answers how to go on. */
	how = msg_call(sock, &(struct msg){ .arg = set, .nfds = 1 }, &fs_fd, NULL);
	if (how < 0)
		return 11;
	if (how == CHILD_CREATES)
		r.create = sys_fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0;
	else if (how != PARENT_CREATED)
		goto report;

	mnt_fd = sys_fsmount(fs_fd, FSMOUNT_CLOEXEC, 0);
	if (mnt_fd < 0)
		goto report;
	/* BPF_TOKEN_CREATE uses fdget(), which skips O_PATH files. */
	bpffs_fd = openat(mnt_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bpffs_fd < 0)
		return 12;
	r.token = token = token_create(bpffs_fd);
	r.map_token = map_create(args->map_type, token);
	if (r.map_token >= 0)
		r.map_token = 0;
	r.map_plain = map_create(args->map_type, -1);
	if (r.map_plain >= 0)
		r.map_plain = 0;
	if (r.token >= 0)
		r.token = 0;
report:
	m.nfds = 0;
	memcpy(m.str, &r, sizeof(r));
	return msg_send(sock, &m, NULL) ? 13 : 0;
}

/*
 * The parent's side: receive the child's context, set the given delegate_*
 * strings on it (each must succeed), then create it here or let the child.
 */
struct parent_opts {
	const char *cmds, *maps, *progs, *attachs;
	int how;
};

static const char *const keys[] = { "delegate_cmds", "delegate_maps", "delegate_progs",
				    "delegate_attachs" };

static void run_flow(struct __test_metadata *_metadata, struct child_args *args,
		     const struct parent_opts *po, int *child_set,
		     struct child_report *r)
{
	const char *vals[] = { po->cmds, po->maps, po->progs, po->attachs };
	int sock = -1, fs_fd, i, fds[MSG_MAX_FDS];
	struct msg m;
	pid_t pid;

	pid = spawn_userns_child(child_flow, args, &sock);
	ASSERT_GT(pid, 0);
	ASSERT_EQ(msg_recv(sock, &m, fds), 0);
	ASSERT_EQ(m.nfds, 1);
	*child_set = m.arg;
	fs_fd = fds[0];
	for (i = 0; i < 4; i++) {
		if (!vals[i])
			continue;
		ASSERT_EQ(set_string(fs_fd, keys[i], vals[i]), 0) {
			TH_LOG("%s=%s", keys[i], vals[i]);
		}
	}
	if (po->how == PARENT_CREATED)
		ASSERT_EQ(sys_fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	close(fs_fd);
	ASSERT_EQ(msg_answer(sock, &m, po->how, NULL, 0), 0);
	ASSERT_EQ(msg_recv(sock, &m, fds), 0);
	memcpy(r, m.str, sizeof(*r));
	ASSERT_EQ(wait_child(pid), 0);
	close(sock);
}

static char cmds_map_create[32], maps_stack[32], maps_array[32];

static void __attribute__((constructor)) init_masks(void)
{
	mask_str(cmds_map_create, sizeof(cmds_map_create), 1ULL << BPF_MAP_CREATE);
	mask_str(maps_stack, sizeof(maps_stack), 1ULL << BPF_MAP_TYPE_STACK);
	mask_str(maps_array, sizeof(maps_array), 1ULL << BPF_MAP_TYPE_ARRAY);
}

/* A stack map always needs CAP_BPF, whatever unprivileged_bpf_disabled says. */
TEST(token_allows_delegated_map_type)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	struct parent_opts po = { .cmds = cmds_map_create, .maps = maps_stack,
				  .how = PARENT_CREATED };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.token, 0);
	EXPECT_EQ(r.map_token, 0);
	EXPECT_EQ(r.map_plain, -EPERM);
}

TEST(any_delegates_every_map_type)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	struct parent_opts po = { .cmds = "any", .maps = "any",
				  .how = PARENT_CREATED };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.token, 0);
	EXPECT_EQ(r.map_token, 0);
	EXPECT_EQ(r.map_plain, -EPERM);
}

TEST(token_refuses_undelegated_map_type)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	struct parent_opts po = { .cmds = cmds_map_create, .maps = maps_array,
				  .how = PARENT_CREATED };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.token, 0);
	EXPECT_EQ(r.map_token, -EPERM);
	EXPECT_EQ(r.map_plain, -EPERM);
}

TEST(token_refuses_undelegated_command)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	char cmds_prog_load[32];
	struct parent_opts po = { .cmds = cmds_prog_load, .maps = "any",
				  .how = PARENT_CREATED };
	struct child_report r;
	int set;

	mask_str(cmds_prog_load, sizeof(cmds_prog_load), 1ULL << BPF_PROG_LOAD);
	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.token, 0);
	EXPECT_EQ(r.map_token, -EPERM);
}

/* A bpffs without delegate_* options gives no token. */
TEST(no_delegation_no_token)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	struct parent_opts po = { .how = PARENT_CREATED };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.token, -ENOENT);
	EXPECT_EQ(r.map_plain, -EPERM);
}

/* Root of a user namespace may not delegate to itself. */
TEST(userns_root_cannot_set_delegate_options)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK,
				   .child_sets_cmds = "any" };
	struct parent_opts po = { .how = 0 };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(set, -EPERM);
}

/* Without the initial namespace's consent the child cannot create it. */
TEST(userns_root_cannot_create_undelegated_instance)
{
	struct child_args args = { .map_type = BPF_MAP_TYPE_STACK };
	struct parent_opts po = { .how = CHILD_CREATES };
	struct child_report r;
	int set;

	run_flow(_metadata, &args, &po, &set, &r);
	EXPECT_EQ(r.create, -EPERM);
}

/*
 * Upstream parses names from the kernel's BTF enums (enum bpf_cmd,
 * bpf_map_type, bpf_prog_type, bpf_attach_type, prefix stripped, any case);
 * the series from its own tables, without BTF.  A kernel with neither
 * cannot.
 */
static bool kernel_parses_names(void)
{
	return !access("/sys/kernel/btf/vmlinux", R_OK) || bpffs_kind() == BPFFS_DELEGATION;
}

#define NAMES_MNT "/tmp/bpffs-compat-names"
#define NUMBERS_MNT "/tmp/bpffs-compat-numbers"

/*
 * This process sets the four delegate_* strings on a context of the
 * agent's and creates the instance, as upstream's users do; the agent
 * mounts it at @path and reads its options back from its mountinfo.
 */
static void mount_with(struct __test_metadata *_metadata, struct agent *a,
		       const char *const vals[4], const char *path, char *info, size_t len)
{
	int fs_fd, mnt_fd, i;

	ASSERT_EQ(agent_do(a, OP_FSOPEN, 0, NULL, NULL, &fs_fd, NULL, 0), 0);
	ASSERT_GE(fs_fd, 0);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(set_string(fs_fd, keys[i], vals[i]), 0) {
			TH_LOG("%s=%s", keys[i], vals[i]);
		}
	}
	ASSERT_EQ(sys_fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	close(fs_fd);
	ASSERT_EQ(agent_do(a, OP_MOUNT, 0, NULL, path, &mnt_fd, NULL, 0), 0);
	close(mnt_fd);
	ASSERT_EQ(agent_do(a, OP_MOUNTINFO, 0, NULL, path, NULL, info, len), 0);
}

/*
 * Symbolic names, as upstream accepts them: fsconfig() takes them, the
 * instance shows the same masks as one given the numbers, and a token from
 * it allows exactly what the names say.
 */
TEST(names_as_upstream_parses_them)
{
	const char *const names[4] = { "map_create:BTF_LOAD:prog_load", "queue",
				       "socket_filter:xdp",
				       "cgroup_inet_ingress:cgroup_inet_egress" };
	char numbers[4][32], by_name[1024], by_number[1024];
	const char *const nums[4] = { numbers[0], numbers[1], numbers[2], numbers[3] };
	struct agent a;

	if (!kernel_parses_names())
		SKIP(return, "no vmlinux BTF and no bpffs delegation: names need BTF upstream");
	mask_str(numbers[0], sizeof(numbers[0]), (1ULL << BPF_MAP_CREATE) |
		 (1ULL << BPF_BTF_LOAD) | (1ULL << BPF_PROG_LOAD));
	mask_str(numbers[1], sizeof(numbers[1]), 1ULL << BPF_MAP_TYPE_QUEUE);
	mask_str(numbers[2], sizeof(numbers[2]), (1ULL << BPF_PROG_TYPE_SOCKET_FILTER) |
		 (1ULL << BPF_PROG_TYPE_XDP));
	mask_str(numbers[3], sizeof(numbers[3]), (1ULL << BPF_CGROUP_INET_INGRESS) |
		 (1ULL << BPF_CGROUP_INET_EGRESS));

	ASSERT_EQ(agent_start(&a), 0);
	mount_with(_metadata, &a, names, NAMES_MNT, by_name, sizeof(by_name));
	mount_with(_metadata, &a, nums, NUMBERS_MNT, by_number, sizeof(by_number));
	EXPECT_STREQ(by_name, by_number);
	EXPECT_STREQ(by_name, "rw,delegate_cmds=map_create:prog_load:btf_load,"
		     "delegate_maps=queue,delegate_progs=socket_filter:xdp,"
		     "delegate_attachs=cgroup_inet_ingress:cgroup_inet_egress");

	ASSERT_EQ(agent_do(&a, OP_TOKEN, 0, NULL, NAMES_MNT, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&a, OP_MAP, BPF_MAP_TYPE_QUEUE, NULL, NULL, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&a, OP_MAP, BPF_MAP_TYPE_STACK, NULL, NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_do(&a, OP_USE, USE_MAP_QUEUE, "none", NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_do(&a, OP_USE, USE_BTF, "token", NULL, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&a, OP_USE, USE_BTF, "none", NULL, NULL, NULL, 0), -EPERM);
	/* xdp, with expected attach type 0: cgroup_inet_ingress. */
	EXPECT_EQ(agent_do(&a, OP_USE, USE_XDP, "token", NULL, NULL, NULL, 0), 0);
	EXPECT_EQ(agent_do(&a, OP_USE, USE_XDP, "none", NULL, NULL, NULL, 0), -EPERM);
	EXPECT_EQ(agent_stop(&a), 0);
}

/* An unprivileged uid in the initial user namespace gets no bpffs context. */
TEST(unprivileged_uid_cannot_fsopen)
{
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(1);
		if (sys_fsopen("bpf", 0) >= 0)
			_exit(2);
		_exit(errno == EPERM ? 0 : 3);
	}
	ASSERT_EQ(wait_child(pid), 0);
}

TEST_HARNESS_MAIN
