// SPDX-License-Identifier: GPL-2.0
/*
 * A kernel built without bpffs delegation (CONFIG_BPF_DELEGATION=n, e.g.
 * without Rust) must refuse the new keys loudly instead of ignoring them
 * the way bpffs ignores unknown keys: a delegating task must never believe
 * it set or revoked a delegation when it did not.  Run on such a kernel only.
 */
#include "delegation_util.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_NO_DELEGATION)

static void expect_log(struct __test_metadata *_metadata, int fs_fd, const char *want)
{
	char buf[512];
	ssize_t n = read(fs_fd, buf, sizeof(buf) - 1);

	ASSERT_GT(n, 0);
	buf[n] = '\0';
	EXPECT_NE(strstr(buf, want), NULL) {
		TH_LOG("fs_context log: %s", buf);
	}
}

TEST(new_keys_are_refused)
{
	__u64 opts[4] = {};
	int fs_fd, userns;

	fs_fd = sys_fsopen("bpf", FSOPEN_CLOEXEC);
	ASSERT_GE(fs_fd, 0);
	EXPECT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_FLAG, "delegate", NULL, 0), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	expect_log(_metadata, fs_fd, "delegate: bpffs delegation is not built in");
	EXPECT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_BINARY, "abilities", opts, sizeof(opts)), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	expect_log(_metadata, fs_fd, "abilities: bpffs delegation is not built in");
	userns = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(userns, 0);
	EXPECT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_FD, "delegate_userns", NULL, userns), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	expect_log(_metadata, fs_fd, "delegate_userns: bpffs delegation is not built in");
	EXPECT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_FD, "target_userns", NULL, userns), -1);
	EXPECT_EQ(errno, EOPNOTSUPP);
	expect_log(_metadata, fs_fd, "target_userns: bpffs delegation is not built in");
	/* A scope set with a string must not be ignored as unknown keys are. */
	EXPECT_EQ(set_string(fs_fd, "delegate_cgroup", "1"), -EOPNOTSUPP);
	expect_log(_metadata, fs_fd, "delegate_cgroup: bpffs delegation is not built in");
	close(userns);
	close(fs_fd);
}

/* Everything else behaves as upstream: unknown keys ignored, delegate_* parsed. */
TEST(upstream_keys_still_work)
{
	int fs_fd = sys_fsopen("bpf", FSOPEN_CLOEXEC);

	ASSERT_GE(fs_fd, 0);
	EXPECT_EQ(set_string(fs_fd, "nonsense", "1"), 0);
	EXPECT_EQ(set_string(fs_fd, "delegate_cmds", "any"), 0);
	EXPECT_EQ(set_string(fs_fd, "delegate_maps", "0x800000"), 0);
	EXPECT_EQ(sys_fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	close(fs_fd);
}

TEST_HARNESS_MAIN
