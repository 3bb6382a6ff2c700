// SPDX-License-Identifier: GPL-2.0
/*
 * An external client written against libbpf's own API (libbpf_client/, a
 * Rust program on the libbpf-sys crate, which vendors libbpf) uses a
 * delegated bpffs the way upstream token users do: bpf_token_create(),
 * then bpf_map_create(), bpf_btf_load() and bpf_prog_load() with the token,
 * and with the bpffs fd itself as the token fd.
 */
#include <libgen.h>
#include <limits.h>
#include "delegation_agent.h"
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-libbpf"

/* The client sits next to this test, or where $LIBBPF_CLIENT says. */
static void client_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (getenv("LIBBPF_CLIENT")) {
		snprintf(buf, len, "%s", getenv("LIBBPF_CLIENT"));
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	snprintf(buf, len, "%s/libbpf_client", dirname(self));
}

TEST(libbpf_client)
{
	struct bpf_delegation_opts opts = {
		.cmds = (1ULL << BPF_MAP_CREATE) | (1ULL << BPF_BTF_LOAD) | (1ULL << BPF_PROG_LOAD),
		.maps = 1ULL << BPF_MAP_TYPE_STACK,
		.progs = 1ULL << BPF_PROG_TYPE_SOCKET_FILTER,
		.attachs = 1,
	};
	char client[256];	/* fits struct msg.str */
	struct agent a = {};
	int fs_fd, mnt_fd;

	client_path(client, sizeof(client));
	/* The kselftest build does not build the Rust client. */
	if (access(client, X_OK))
		SKIP(return, "no libbpf client at %s (cargo build it, or set LIBBPF_CLIENT)", client);
	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	ASSERT_EQ(agent_start(&a), 0);
	ASSERT_EQ(agent_do(&a, OP_FSOPEN, 0, NULL, NULL, &fs_fd, NULL, 0), 0);
	ASSERT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_BINARY, "abilities", &opts, sizeof(opts)), 0);
	ASSERT_EQ(sys_fsconfig(fs_fd, FSCONFIG_SET_FLAG, "delegate", NULL, 0), 0);
	ASSERT_EQ(agent_do(&a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&a, OP_MOUNT, 0, NULL, MNT, &mnt_fd, NULL, 0), 0);
	EXPECT_EQ(agent_do(&a, OP_EXEC, 0, MNT, client, NULL, NULL, 0), 0);
	close(mnt_fd);
	close(fs_fd);
	EXPECT_EQ(agent_stop(&a), 0);
}

TEST_HARNESS_MAIN
