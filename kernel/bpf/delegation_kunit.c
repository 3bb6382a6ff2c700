// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the bpffs delegation policy, calling the Rust entry points
 * the way the bpffs glue does, with this kernel's enum ranges.
 */
#include <kunit/test.h>
#include <linux/bpf_delegation.h>
#include <linux/string.h>

static const struct bpf_delegation_known known = BPF_DELEGATION_KNOWN_INIT;

struct blob {
	struct bpf_delegation_opts opts;
	u8 tail[PAGE_SIZE + 8];
};

static int parse(struct kunit *test, const void *data, size_t size,
		 struct bpf_delegation_opts *out, char *msg)
{
	return bpf_delegation_parse_opts(data, size, &known, out, msg,
					 BPF_DELEGATION_MSG_LEN);
}

static void delegation_parse_ver0(struct kunit *test)
{
	struct bpf_delegation_opts in = {
		.cmds = BIT_ULL(BPF_MAP_CREATE) | BIT_ULL(BPF_BTF_LOAD),
		.maps = BIT_ULL(BPF_MAP_TYPE_STACK),
		.progs = BIT_ULL(BPF_PROG_TYPE_SOCKET_FILTER),
		.attachs = BIT_ULL(__MAX_BPF_ATTACH_TYPE - 1),
	}, out = {};
	char msg[BPF_DELEGATION_MSG_LEN] = "";

	KUNIT_EXPECT_EQ(test, BPF_DELEGATION_OPTS_SIZE_VER0, 32);
	KUNIT_ASSERT_EQ(test, parse(test, &in, sizeof(in), &out, msg), 0);
	KUNIT_EXPECT_EQ(test, out.cmds, in.cmds);
	KUNIT_EXPECT_EQ(test, out.maps, in.maps);
	KUNIT_EXPECT_EQ(test, out.progs, in.progs);
	KUNIT_EXPECT_EQ(test, out.attachs, in.attachs);
}

static void delegation_parse_sizes(struct kunit *test)
{
	struct blob *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	struct bpf_delegation_opts out = { .cmds = 42 };
	char msg[BPF_DELEGATION_MSG_LEN];

	KUNIT_ASSERT_NOT_NULL(test, b);
	b->opts.maps = BIT_ULL(BPF_MAP_TYPE_ARRAY);
	KUNIT_EXPECT_EQ(test, parse(test, b, BPF_DELEGATION_OPTS_SIZE_VER0 - 1, &out, msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "smaller"));
	KUNIT_EXPECT_EQ(test, out.cmds, 42);	/* untouched on error */
	KUNIT_EXPECT_EQ(test, parse(test, b, sizeof(b->opts) + 8, &out, msg), 0);
	KUNIT_EXPECT_EQ(test, out.maps, BIT_ULL(BPF_MAP_TYPE_ARRAY));
	KUNIT_EXPECT_EQ(test, parse(test, b, PAGE_SIZE, &out, msg), 0);
	KUNIT_EXPECT_EQ(test, parse(test, b, PAGE_SIZE + 1, &out, msg), -E2BIG);
	b->tail[7] = 1;
	KUNIT_EXPECT_EQ(test, parse(test, b, sizeof(b->opts) + 8, &out, msg), -E2BIG);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "byte 39"));
	KUNIT_EXPECT_EQ(test, parse(test, b, sizeof(b->opts), &out, msg), 0);
}

static void delegation_parse_bits(struct kunit *test)
{
	struct bpf_delegation_opts in = {}, out = {};
	char msg[BPF_DELEGATION_MSG_LEN];

	in.maps = BIT_ULL(__MAX_BPF_MAP_TYPE);
	KUNIT_EXPECT_EQ(test, parse(test, &in, sizeof(in), &out, msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "maps"));
	in.maps = ~0ULL;	/* "any" */
	KUNIT_EXPECT_EQ(test, parse(test, &in, sizeof(in), &out, msg), 0);
	KUNIT_EXPECT_EQ(test, out.maps, ~0ULL);
	in.cmds = BIT_ULL(BPF_MAP_LOOKUP_ELEM);	/* real, but not delegatable */
	KUNIT_EXPECT_EQ(test, parse(test, &in, sizeof(in), &out, msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "not delegatable"));
	in.cmds = 0;
	in.progs = BIT_ULL(__MAX_BPF_PROG_TYPE - 1);
	in.attachs = BIT_ULL(__MAX_BPF_ATTACH_TYPE);
	KUNIT_EXPECT_EQ(test, parse(test, &in, sizeof(in), &out, msg), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, strstr(msg, "attachs"));
}

static void delegation_parse_tiny_msg_buffer(struct kunit *test)
{
	struct bpf_delegation_opts in = {}, out;
	char msg[4] = "xxx";

	KUNIT_EXPECT_EQ(test, bpf_delegation_parse_opts(&in, 3, &known, &out, msg, sizeof(msg)), -EINVAL);
	KUNIT_EXPECT_STREQ(test, msg, "abi");
	KUNIT_EXPECT_EQ(test, bpf_delegation_parse_opts(&in, 3, &known, &out, NULL, 0), -EINVAL);
}

static struct kunit_case bpf_delegation_cases[] = {
	KUNIT_CASE(delegation_parse_ver0),
	KUNIT_CASE(delegation_parse_sizes),
	KUNIT_CASE(delegation_parse_bits),
	KUNIT_CASE(delegation_parse_tiny_msg_buffer),
	{}
};

static struct kunit_suite bpf_delegation_suite = {
	.name = "bpf_delegation",
	.test_cases = bpf_delegation_cases,
};
kunit_test_suite(bpf_delegation_suite);

MODULE_DESCRIPTION("KUnit tests for bpffs delegation");
MODULE_LICENSE("GPL");
