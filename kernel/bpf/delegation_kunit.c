// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for bpffs delegation: the Rust entry points called the way
 * the bpffs glue calls them, in the kernel, with this kernel's enums.  The
 * test runs as a kernel thread, i.e. privileged; the unprivileged cases are
 * covered by the selftests and the host tests.
 */
#include <kunit/test.h>
#include <linux/bpf_delegation.h>
#include <linux/cgroup.h>
#include <linux/fs_context.h>
#include <linux/slab.h>
#include <linux/string.h>

/* Room for one fs_context log message. */
#define BPF_KUNIT_MSG_LEN 256

struct blob {
	struct bpf_delegation_opts opts;
	u8 tail[PAGE_SIZE + 8];
};

/* Stands for the user namespace of a container's context. */
static struct user_namespace kunit_userns;

/*
 * Hand one parameter to the policy as bpffs's parse_param does, in a
 * context of a user namespace other than the initial one, and copy the
 * message it logged (without the "e bpf: " and newline that fsconfig()
 * readers see) to @msg.
 */
static int param(struct bpf_delegation_request *req, const char *key,
		 enum fs_value_type type, const void *value, size_t size,
		 bool reconfigure, char *msg)
{
	struct fc_log log = {};
	struct fs_context fc = {
		.user_ns = &kunit_userns,
		.purpose = reconfigure ? FS_CONTEXT_FOR_RECONFIGURE : FS_CONTEXT_FOR_MOUNT,
		.log = { .prefix = "bpf", .log = &log },
	};
	struct fs_parameter p = {
		.key = key,
		.type = type,
		.blob = (void *)value,	/* or ->string: a union */
		.size = size,
	};
	int err;
	u8 i;

	msg[0] = '\0';
	err = bpf_delegation_parse_param(&fc, &p, req);
	for (i = log.tail; i != log.head; i++) {
		char *m = log.buffer[i & 7];

		strscpy(msg, strncmp(m, "e bpf: ", 7) ? m : m + 7, BPF_KUNIT_MSG_LEN);
		msg[strcspn(msg, "\n")] = '\0';	/* logfc() ends each with one */
		if (log.need_free & (1 << (i & 7)))	/* not its constant OOM note */
			kfree(m);
	}
	return err;
}

static int blob(struct bpf_delegation_request *req, const void *data, size_t size, char *msg)
{
	return param(req, "abilities", fs_value_is_blob, data, size, false, msg);
}

static int string(struct bpf_delegation_request *req, const char *key, const char *s, char *msg)
{
	return param(req, key, fs_value_is_string, s, strlen(s), false, msg);
}

/* A flag. */
static int bare(struct bpf_delegation_request *req, const char *key,
		bool reconfigure, char *msg)
{
	return param(req, key, fs_value_is_flag, NULL, 0, reconfigure, msg);
}

static void delegation_blob_ver0(struct kunit *test)
{
	struct bpf_delegation_opts in = {
		.cmds = BIT_ULL(BPF_MAP_CREATE) | BIT_ULL(BPF_BTF_LOAD),
		.maps = BIT_ULL(BPF_MAP_TYPE_STACK),
		.progs = BIT_ULL(BPF_PROG_TYPE_SOCKET_FILTER),
		.attachs = BIT_ULL(__MAX_BPF_ATTACH_TYPE - 1),
	};
	struct bpf_delegation_request req = {};
	char msg[BPF_KUNIT_MSG_LEN];

	KUNIT_EXPECT_EQ(test, BPF_DELEGATION_OPTS_SIZE_VER0, offsetof(typeof(in), cgroup_id));
	KUNIT_ASSERT_EQ(test, blob(&req, &in, BPF_DELEGATION_OPTS_SIZE_VER0, msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.cmds, in.cmds);
	KUNIT_EXPECT_EQ(test, req.masks.maps, in.maps);
	KUNIT_EXPECT_EQ(test, req.masks.progs, in.progs);
	KUNIT_EXPECT_EQ(test, req.masks.attachs, in.attachs);
	KUNIT_EXPECT_EQ(test, req.masks.cgroup_id, 0);
	KUNIT_EXPECT_EQ(test, req.set, 0xf);	/* four masks; VER0 knows no scope */
	KUNIT_EXPECT_FALSE(test, req.delegate);
}

static void delegation_blob_sizes(struct kunit *test)
{
	struct blob *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	struct bpf_delegation_request req = { .masks.cmds = 42 }, before;
	char msg[BPF_KUNIT_MSG_LEN];

	KUNIT_ASSERT_NOT_NULL(test, b);
	before = req;
	b->opts.maps = BIT_ULL(BPF_MAP_TYPE_ARRAY);
	KUNIT_EXPECT_EQ(test, blob(&req, b, BPF_DELEGATION_OPTS_SIZE_VER0 - 1, msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "smaller"));
	KUNIT_EXPECT_EQ(test, memcmp(&req, &before, sizeof(req)), 0);	/* untouched */
	KUNIT_EXPECT_EQ(test, blob(&req, b, sizeof(b->opts) + 8, msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.maps, BIT_ULL(BPF_MAP_TYPE_ARRAY));
	KUNIT_EXPECT_EQ(test, req.masks.cmds, 0);	/* a blob replaces all */
	KUNIT_EXPECT_EQ(test, blob(&req, b, PAGE_SIZE, msg), 0);
	KUNIT_EXPECT_EQ(test, blob(&req, b, PAGE_SIZE + 1, msg), -E2BIG);
	b->tail[7] = 1;
	KUNIT_EXPECT_EQ(test, blob(&req, b, sizeof(b->opts) + 8, msg), -E2BIG);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "byte 47"));
	KUNIT_EXPECT_EQ(test, blob(&req, b, sizeof(b->opts), msg), 0);
}

static void delegation_blob_bits(struct kunit *test)
{
	struct bpf_delegation_opts in = {};
	struct bpf_delegation_request req = {};
	char msg[BPF_KUNIT_MSG_LEN];

	in.maps = BIT_ULL(__MAX_BPF_MAP_TYPE);
	KUNIT_EXPECT_EQ(test, blob(&req, &in, sizeof(in), msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "maps"));
	in.maps = ~0ULL;	/* "any" */
	KUNIT_EXPECT_EQ(test, blob(&req, &in, sizeof(in), msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.maps, ~0ULL);
	in.cmds = BIT_ULL(BPF_MAP_LOOKUP_ELEM);	/* real, but not delegatable */
	KUNIT_EXPECT_EQ(test, blob(&req, &in, sizeof(in), msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "not delegatable"));
	in.cmds = 0;
	in.progs = BIT_ULL(__MAX_BPF_PROG_TYPE - 1);
	in.attachs = BIT_ULL(__MAX_BPF_ATTACH_TYPE);
	KUNIT_EXPECT_EQ(test, blob(&req, &in, sizeof(in), msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "attachs"));
}

static void delegation_strings(struct kunit *test)
{
	struct bpf_delegation_request req = {};
	char msg[BPF_KUNIT_MSG_LEN];

	KUNIT_EXPECT_EQ(test, string(&req, "delegate_cmds", "map_create:BPF_PROG_LOAD", msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.cmds, BIT_ULL(BPF_MAP_CREATE) | BIT_ULL(BPF_PROG_LOAD));
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_maps", "Stack:0x2", msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.maps, BIT_ULL(BPF_MAP_TYPE_STACK) | BIT_ULL(1));
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_progs", "xdp:nonsense", msg), -EINVAL);
	KUNIT_EXPECT_STREQ(test, msg, "delegate_progs: unknown name 'nonsense'");
	KUNIT_EXPECT_EQ(test, req.masks.progs, 0);
	KUNIT_EXPECT_EQ(test, string(&req, "abilities", "any", msg), -EINVAL);
	KUNIT_EXPECT_EQ(test, string(&req, "mode", "0700", msg), -ENOPARAM);
	KUNIT_EXPECT_EQ(test, param(&req, "uid", fs_value_is_blob, &req, 32, false, msg),
			-EINVAL);
}

static void delegation_flag_and_userns(struct kunit *test)
{
	struct bpf_delegation_request req = {};
	char msg[BPF_KUNIT_MSG_LEN];

	KUNIT_EXPECT_EQ(test, bare(&req, "delegate", true, msg),
			-EINVAL);
	KUNIT_EXPECT_FALSE(test, req.delegate);
	KUNIT_EXPECT_EQ(test, bare(&req, "delegate", false, msg), 0);
	KUNIT_EXPECT_TRUE(test, req.delegate);
	/*
	 * delegate_userns takes nsfs files, which a KUnit case cannot make;
	 * delegation_test's delegate_userns_must_name_the_contexts_userns
	 * covers it.  A string is the wrong type.
	 */
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_userns", "1", msg), -EINVAL);
}

static bool map_ok(struct bpf_delegation *d, enum bpf_map_type type)
{
	return bpf_delegation_allows(d, BPF_MAP_CREATE, type, -1, -1);
}

static void delegation_live_object(struct kunit *test)
{
	struct bpf_delegation_request req = {}, narrow = {};
	struct bpf_delegation_opts snap;
	struct bpf_delegation *d = NULL;
	char msg[BPF_KUNIT_MSG_LEN];

	KUNIT_ASSERT_EQ(test, bare(&req, "delegate", false, msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_cmds", "any", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_maps", "array:hash", msg), 0);
	KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);
	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_EXPECT_EQ(test, bpf_delegation_read(d, &snap), BPF_DELEGATION_DELEGATED);
	KUNIT_EXPECT_EQ(test, snap.cmds, ~0ULL);
	KUNIT_EXPECT_EQ(test, snap.maps, BIT_ULL(BPF_MAP_TYPE_ARRAY) | BIT_ULL(BPF_MAP_TYPE_HASH));

	/* A reconfigure applies only the named field. */
	KUNIT_ASSERT_EQ(test, param(&narrow, "delegate_maps", fs_value_is_string,
				    "hash", 4, true, msg), 0);
	KUNIT_EXPECT_TRUE(test, map_ok(d, BPF_MAP_TYPE_ARRAY));
	bpf_delegation_reconfigure(d, &narrow);
	KUNIT_EXPECT_EQ(test, bpf_delegation_read(d, &snap), BPF_DELEGATION_DELEGATED);
	KUNIT_EXPECT_EQ(test, snap.maps, BIT_ULL(BPF_MAP_TYPE_HASH));
	KUNIT_EXPECT_EQ(test, snap.cmds, ~0ULL);
	/* Checks see the new set at once. */
	KUNIT_EXPECT_FALSE(test, map_ok(d, BPF_MAP_TYPE_ARRAY));
	KUNIT_EXPECT_TRUE(test, map_ok(d, BPF_MAP_TYPE_HASH));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1, BPF_PROG_TYPE_XDP, 0));

	/* Another holder keeps it alive after the superblock's put. */
	bpf_delegation_get(d);
	bpf_delegation_kill(d);
	bpf_delegation_put(d);
	KUNIT_EXPECT_EQ(test, bpf_delegation_read(d, &snap),
			BPF_DELEGATION_DELEGATED | BPF_DELEGATION_DEAD);
	KUNIT_EXPECT_EQ(test, snap.maps, BIT_ULL(BPF_MAP_TYPE_HASH));
	KUNIT_EXPECT_FALSE(test, map_ok(d, BPF_MAP_TYPE_HASH));
	bpf_delegation_put(d);

	/* NULL reads as nothing delegated, and allows nothing. */
	KUNIT_EXPECT_EQ(test, bpf_delegation_read(NULL, &snap), 0);
	KUNIT_EXPECT_EQ(test, snap.cmds, 0);
	KUNIT_EXPECT_FALSE(test, map_ok(NULL, BPF_MAP_TYPE_HASH));
}

/*
 * The inline check of the bpf() path: every bit it is asked about, one
 * snapshot, nothing beyond this kernel's enums even with "any", nothing for
 * half a program question, and nothing once the superblock is gone.
 */
static void delegation_allows_bits(struct kunit *test)
{
	struct bpf_delegation_request req = {}, reset = {};
	struct bpf_delegation *d = NULL;
	char msg[BPF_KUNIT_MSG_LEN];
	u8 zero[BPF_DELEGATION_OPTS_SIZE_VER0] = {};

	KUNIT_ASSERT_EQ(test, bare(&req, "delegate", false, msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_cmds", "map_create:prog_load", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_maps", "stack", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_progs", "socket_filter", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_attachs", "cgroup_inet_ingress", msg), 0);
	KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);

	KUNIT_EXPECT_TRUE(test, map_ok(d, BPF_MAP_TYPE_STACK));
	KUNIT_EXPECT_FALSE(test, map_ok(d, BPF_MAP_TYPE_QUEUE));
	KUNIT_EXPECT_TRUE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						      BPF_PROG_TYPE_SOCKET_FILTER, 0));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						       BPF_PROG_TYPE_SOCKET_FILTER, 1));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						       BPF_PROG_TYPE_KPROBE, 0));
	/* Half a program question. */
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						       BPF_PROG_TYPE_SOCKET_FILTER, -1));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1, -1, 0));
	/* The command bit decides first. */
	KUNIT_EXPECT_TRUE(test, bpf_delegation_allows(d, BPF_MAP_CREATE, -1, -1, -1));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_BTF_LOAD, -1, -1, -1));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, 64, -1, -1, -1));
	bpf_delegation_kill(d);
	bpf_delegation_put(d);

	/* "any" does not reach beyond this kernel's enums. */
	req = (struct bpf_delegation_request){};
	d = NULL;
	KUNIT_ASSERT_EQ(test, bare(&req, "delegate", false, msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_cmds", "any", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_maps", "any", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_progs", "any", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_attachs", "any", msg), 0);
	KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);
	KUNIT_EXPECT_TRUE(test, map_ok(d, __MAX_BPF_MAP_TYPE - 1));
	KUNIT_EXPECT_FALSE(test, map_ok(d, __MAX_BPF_MAP_TYPE));
	KUNIT_EXPECT_FALSE(test, map_ok(d, 64));
	KUNIT_EXPECT_TRUE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						      __MAX_BPF_PROG_TYPE - 1,
						      __MAX_BPF_ATTACH_TYPE - 1));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1,
						       __MAX_BPF_PROG_TYPE, 0));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_PROG_LOAD, -1, 0,
						       __MAX_BPF_ATTACH_TYPE));
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, __MAX_BPF_CMD, -1, -1, -1));
	/* A reset (a zeroed blob) allows nothing, at once. */
	KUNIT_ASSERT_EQ(test, param(&reset, "abilities", fs_value_is_blob, zero,
				    sizeof(zero), true, msg), 0);
	bpf_delegation_reconfigure(d, &reset);
	KUNIT_EXPECT_FALSE(test, bpf_delegation_allows(d, BPF_BTF_LOAD, -1, -1, -1));
	KUNIT_EXPECT_FALSE(test, map_ok(d, BPF_MAP_TYPE_HASH));
	bpf_delegation_kill(d);
	bpf_delegation_put(d);
}

static bool allows(struct bpf_delegation *d, struct cgroup *cgrp, u32 type, bool multi)
{
	return bpf_delegation_allows_cgroup_attach(d, cgrp, type, multi);
}

/* VER1: a scope is resolved when set, and decides where programs attach. */
static void delegation_cgroup_scope(struct kunit *test)
{
	struct cgroup *root = &cgrp_dfl_root.cgrp;
	struct bpf_delegation_opts in = {
		.cmds = BIT_ULL(BPF_PROG_LOAD),
		.progs = BIT_ULL(BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
		.attachs = BIT_ULL(BPF_CGROUP_INET4_CONNECT),
		.cgroup_id = cgroup_id(root),
	};
	struct bpf_delegation_request req = {}, before;
	struct bpf_delegation *d = NULL;
	char msg[BPF_KUNIT_MSG_LEN], id[24];

	KUNIT_EXPECT_EQ(test, BPF_DELEGATION_OPTS_SIZE_VER1, sizeof(in));
	KUNIT_ASSERT_EQ(test, blob(&req, &in, sizeof(in), msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.cgroup_id, cgroup_id(root));
	KUNIT_EXPECT_EQ(test, req.set, 0x1f);	/* four masks and the scope */
	before = req;
	in.cgroup_id = U64_MAX - 1;	/* names no cgroup */
	KUNIT_EXPECT_EQ(test, blob(&req, &in, sizeof(in), msg), -ENOENT);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "names no cgroup2 directory"));
	KUNIT_EXPECT_EQ(test, memcmp(&req, &before, sizeof(req)), 0);
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_cgroup", "18446744073709551614", msg),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_cgroup", "root", msg), -EINVAL);

	KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);
	KUNIT_EXPECT_TRUE(test, allows(d, root, BPF_CGROUP_INET4_CONNECT, true));
	/* The attach type must be delegated too. */
	KUNIT_EXPECT_FALSE(test, allows(d, root, BPF_CGROUP_INET6_CONNECT, true));
	KUNIT_EXPECT_FALSE(test, allows(d, NULL, BPF_CGROUP_INET4_CONNECT, true));
	/* Scoped: never as the one legacy program of the cgroup. */
	KUNIT_EXPECT_FALSE(test, allows(d, root, BPF_CGROUP_INET4_CONNECT, false));
	/* "0" clears the scope; the string key takes an id. */
	snprintf(id, sizeof(id), "%llu", cgroup_id(root));
	req = (struct bpf_delegation_request){};
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_cgroup", id, msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.cgroup_id, cgroup_id(root));
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_cgroup", "0", msg), 0);
	KUNIT_EXPECT_EQ(test, req.masks.cgroup_id, 0);
	/* Gone: nothing attaches. */
	bpf_delegation_kill(d);
	KUNIT_EXPECT_FALSE(test, allows(d, root, BPF_CGROUP_INET4_CONNECT, true));
	bpf_delegation_put(d);
}

/* A message is cut at 127 bytes in the fs_context log, never overflows. */
static void delegation_long_message(struct kunit *test)
{
	struct bpf_delegation_request req = {};
	char msg[BPF_KUNIT_MSG_LEN];
	char name[201];

	/* Escaped, 64 of these take 256 bytes. */
	memset(name, 1, sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	KUNIT_EXPECT_EQ(test, string(&req, "delegate_maps", name, msg), -EINVAL);
	KUNIT_EXPECT_EQ(test, strlen(msg), 127);
	KUNIT_EXPECT_EQ(test, strncmp(msg, "delegate_maps: unknown name '\\x01\\x01", 37), 0);
	KUNIT_EXPECT_EQ(test, req.masks.maps, 0);
}

/*
 * Why a refusal, and the newest refusals kept, numbered in the instance's
 * life, oldest first.
 */
static void delegation_refusals_kept(struct kunit *test)
{
	struct bpf_delegation_refused r = { .cmd = BPF_MAP_CREATE, .pid = 7 };
	struct bpf_delegation_refused out[BPF_DELEGATION_REFUSALS + 1];
	struct bpf_delegation_request req = {};
	struct bpf_delegation *d = NULL;
	char msg[BPF_KUNIT_MSG_LEN];
	u64 total = 99;
	int i;

	KUNIT_ASSERT_EQ(test, bare(&req, "delegate", false, msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_cmds", "map_create", msg), 0);
	KUNIT_ASSERT_EQ(test, string(&req, "delegate_maps", "array", msg), 0);
	KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);
	KUNIT_EXPECT_EQ(test, bpf_delegation_refusal(d, BPF_MAP_CREATE, BPF_MAP_TYPE_ARRAY, -1, -1),
			BPF_DELEGATION_ALLOWED);
	KUNIT_EXPECT_EQ(test, bpf_delegation_refusal(d, BPF_MAP_CREATE, BPF_MAP_TYPE_HASH, -1, -1),
			BPF_DELEGATION_WHY_MAP_TYPE);
	KUNIT_EXPECT_EQ(test, bpf_delegation_refusal(d, BPF_BTF_LOAD, -1, -1, -1),
			BPF_DELEGATION_WHY_CMD);
	KUNIT_EXPECT_STREQ(test, bpf_delegation_why_name(BPF_DELEGATION_WHY_MAP_TYPE), "map_type");

	KUNIT_EXPECT_EQ(test, bpf_delegation_refusals(d, out, ARRAY_SIZE(out), &total), 0);
	KUNIT_EXPECT_EQ(test, total, 0);
	for (i = 0; i < BPF_DELEGATION_REFUSALS + 2; i++) {
		r.map_type = i;
		r.seq = 1000;	/* replaced */
		bpf_delegation_record(d, &r);
	}
	KUNIT_ASSERT_EQ(test, bpf_delegation_refusals(d, out, ARRAY_SIZE(out), &total),
			BPF_DELEGATION_REFUSALS);
	KUNIT_EXPECT_EQ(test, total, BPF_DELEGATION_REFUSALS + 2);
	for (i = 0; i < BPF_DELEGATION_REFUSALS; i++) {
		KUNIT_EXPECT_EQ(test, out[i].seq, i + 3);
		KUNIT_EXPECT_EQ(test, out[i].map_type, i + 2);
		KUNIT_EXPECT_EQ(test, out[i].pid, 7);
	}
	KUNIT_ASSERT_EQ(test, bpf_delegation_refusals(d, out, 2, &total), 2);
	KUNIT_EXPECT_EQ(test, out[0].seq, BPF_DELEGATION_REFUSALS + 1);
	KUNIT_EXPECT_EQ(test, out[1].seq, BPF_DELEGATION_REFUSALS + 2);
	/* No delegation: nothing kept, nothing to read. */
	bpf_delegation_record(NULL, &r);
	KUNIT_EXPECT_EQ(test, bpf_delegation_refusals(NULL, out, 2, &total), 0);
	KUNIT_EXPECT_EQ(test, total, 0);
	bpf_delegation_kill(d);
	bpf_delegation_put(d);
}

/*
 * The bpf() path's bit test (bpf_delegation_allows()) and the refusal's
 * reasoning (bpf_delegation_refusal()) are written apart, one for speed
 * and one to say why: they must agree on every question, inside and just
 * beyond this kernel's enums, for narrow, wide, empty and dead delegations.
 */
static void delegation_allows_agrees_with_refusal(struct kunit *test)
{
	static const char *const sets[][4] = {
		{ "map_create:btf_load:prog_load", "array:stack", "socket_filter:xdp",
		  "cgroup_inet_ingress:xdp" },
		{ "any", "any", "any", "any" },
		{ "prog_load", "", "xdp", "" },
		{ "", "", "", "" },
	};
	static const char *const keys[4] = {
		"delegate_cmds", "delegate_maps", "delegate_progs", "delegate_attachs",
	};
	const s64 maps[] = { -1, 0, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_STACK,
			     __MAX_BPF_MAP_TYPE - 1, __MAX_BPF_MAP_TYPE, 63 };
	const s64 progs[] = { -1, 0, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_XDP,
			      __MAX_BPF_PROG_TYPE - 1, __MAX_BPF_PROG_TYPE };
	const s64 attachs[] = { -1, 0, BPF_XDP, __MAX_BPF_ATTACH_TYPE - 1,
				__MAX_BPF_ATTACH_TYPE };
	char msg[BPF_KUNIT_MSG_LEN];
	unsigned int asked = 0, allowed = 0, set, k, dead;

	for (set = 0; set < ARRAY_SIZE(sets); set++) {
		for (dead = 0; dead < 2; dead++) {
			struct bpf_delegation_request req = {};
			struct bpf_delegation *d = NULL;
			unsigned int m;
			u32 cmd;

			KUNIT_ASSERT_EQ(test, bare(&req, "delegate", false, msg), 0);
			for (k = 0; k < 4; k++)
				if (sets[set][k][0])
					KUNIT_ASSERT_EQ(test, string(&req, keys[k], sets[set][k],
								     msg), 0);
			KUNIT_ASSERT_EQ(test, bpf_delegation_create(&req, false, &d), 0);
			if (dead)
				bpf_delegation_kill(d);
			for (cmd = 0; cmd <= __MAX_BPF_CMD; cmd++) {
				for (m = 0; m < ARRAY_SIZE(maps) * ARRAY_SIZE(progs) *
					    ARRAY_SIZE(attachs); m++) {
					s64 mt = maps[m % ARRAY_SIZE(maps)];
					s64 pt = progs[m / ARRAY_SIZE(maps) % ARRAY_SIZE(progs)];
					s64 at = attachs[m / ARRAY_SIZE(maps) / ARRAY_SIZE(progs)];
					bool yes = bpf_delegation_allows(d, cmd, mt, pt, at);
					int why = bpf_delegation_refusal(d, cmd, mt, pt, at);

					asked++;
					allowed += yes;
					if (yes != !why)
						KUNIT_FAIL(test, "set %u%s cmd %u map %lld prog %lld attach %lld: allows %d, refusal %d",
							   set, dead ? " dead" : "", cmd,
							   mt, pt, at, yes, why);
				}
			}
			if (!dead)
				bpf_delegation_kill(d);
			bpf_delegation_put(d);
		}
	}
	/* The grid reaches both answers. */
	KUNIT_EXPECT_GT(test, allowed, 0);
	KUNIT_EXPECT_LT(test, allowed, asked);
}

static struct kunit_case bpf_delegation_cases[] = {
	KUNIT_CASE(delegation_blob_ver0),
	KUNIT_CASE(delegation_blob_sizes),
	KUNIT_CASE(delegation_blob_bits),
	KUNIT_CASE(delegation_strings),
	KUNIT_CASE(delegation_flag_and_userns),
	KUNIT_CASE(delegation_live_object),
	KUNIT_CASE(delegation_allows_bits),
	KUNIT_CASE(delegation_allows_agrees_with_refusal),
	KUNIT_CASE(delegation_cgroup_scope),
	KUNIT_CASE(delegation_long_message),
	KUNIT_CASE(delegation_refusals_kept),
	{}
};

static struct kunit_suite bpf_delegation_suite = {
	.name = "bpf_delegation",
	.test_cases = bpf_delegation_cases,
};

kunit_test_suite(bpf_delegation_suite);

MODULE_DESCRIPTION("KUnit tests for bpffs delegation");
MODULE_LICENSE("GPL");
