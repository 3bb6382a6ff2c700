// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetimes: delegated bpffs instances made, used and dropped in a loop
 * must not leave anything behind.
 *
 * Each instance: the container opens a context, the privileged parent
 * delegates it, the container creates it, mounts it under a tmpfs (or
 * leaves the mount detached), opens its root, makes a token, creates a
 * map through the token and loads a program through the root fd; for some
 * the parent picks the instance and narrows it, and the container checks
 * that.  Then the container drops the token, the root and the mount (and
 * unmounts the tmpfs), so the superblocks go, and only then the programs,
 * whose tokens outlive their superblocks.  After a warm-up, the
 * unreclaimable slab memory (/proc/meminfo; /proc/slabinfo totals if the
 * kernel has it) is measured with the loop paused and every deferred free
 * given time (tokens, maps and programs are freed from work items,
 * superblocks and mounts after RCU grace periods), and again at the end:
 * the growth per instance must stay under a few bytes, plus some slack for
 * partly used slab pages.  On a kernel with kmemleak, objects it reports
 * after the test that it did not report before fail the test.
 *
 * Bounded by a number of instances and a time budget, whichever comes
 * first; it prints the count reached:
 *   BPFFS_LIFETIME_INSTANCES  instances in all (default 10000)
 *   BPFFS_LIFETIME_SECONDS    time budget (default 12)
 *   BPFFS_LIFETIME_WARMUP     instances before the baseline (default 500)
 */
#include "delegation_agent.h"
#include <time.h>
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define CMD(c) (1ULL << (c))
#define KMEMLEAK "/sys/kernel/debug/kmemleak"
/* Allowed growth: this much per instance, plus some slack for slab pages. */
#define BYTES_PER_INSTANCE 32
#define SLACK_KB 96

enum req { REQ_DONE, REQ_DELEGATE, REQ_PICK };

/*
 * Instances are made in batches: every request to the privileged side
 * costs a round trip between two processes, and under TCG a wake-up on
 * another CPU costs milliseconds.  Even ones are mounted under a tmpfs
 * that is unmounted once per batch, odd ones stay detached and go when
 * their last fd does; the parent narrows the first NARROW of a batch.
 */
#define BATCH 16
_Static_assert(BATCH <= MSG_MAX_FDS, "a batch goes in one message");
#define NARROW 2
#define BASE "/tmp/bpffs-lifetime"

/* Send @req with @n fds; returns the answer (0, 1: stop, or -errno). */
static int request(int sock, int req, const int *fds, int n)
{
	struct msg m = { .op = req, .nfds = n };

	return msg_call(sock, &m, fds, NULL);
}

struct instance {
	int ctx, mnt, root, token, map, prog;
};

/* A batch of instances, made, used and dropped by the container. */
static int one_batch(int sock)
{
	struct instance in[BATCH];
	int fds[BATCH], i, fd, ret = 0;

	memset(in, -1, sizeof(in));
	if (mount("none", BASE, "tmpfs", 0, NULL))
		return -errno;
	for (i = 0; i < BATCH; i++) {
		in[i].ctx = sys_fsopen("bpf", FSOPEN_CLOEXEC);
		if (in[i].ctx < 0)
			return -errno;
		fds[i] = in[i].ctx;
	}
	ret = request(sock, REQ_DELEGATE, fds, BATCH);
	for (i = 0; i < BATCH && !ret; i++) {
		struct instance *p = &in[i];

		ret = sys_fsconfig(p->ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0;
		p->mnt = ret ?: sys_fsmount(p->ctx, FSMOUNT_CLOEXEC, 0);
		if (p->mnt < 0) {
			ret = ret ?: -errno;
			break;
		}
		if (i % 2 == 0) {
			char path[64];

			snprintf(path, sizeof(path), BASE "/%d", i);
			if (mkdir(path, 0700) ||
			    sys_move_mount(p->mnt, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH)) {
				ret = -errno;
				break;
			}
		}
		p->root = openat(p->mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->root < 0) {
			ret = -errno;
			break;
		}
		p->token = token_create(p->root);
		p->map = p->token < 0 ? p->token : map_create(BPF_MAP_TYPE_ARRAY, p->token);
		p->prog = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, p->root);
		ret = p->token < 0 ? p->token : p->map < 0 ? p->map : p->prog < 0 ? p->prog : 0;
		fds[i] = p->mnt;
	}
	/* The parent narrows them: programs no more, maps still. */
	ret = ret ?: request(sock, REQ_PICK, fds, NARROW);
	for (i = 0; i < NARROW && !ret; i++) {
		fd = map_create(BPF_MAP_TYPE_ARRAY, in[i].root);
		if (fd < 0)
			ret = -ENOTRECOVERABLE;
		else
			close(fd);
		fd = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, in[i].token);
		if (fd != -EPERM)
			ret = -ENOTRECOVERABLE;
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < BATCH; i++) {
		struct instance *p = &in[i];

		if (p->ctx >= 0)
			close(p->ctx);
		if (p->map >= 0)
			close(p->map);
		if (p->token >= 0)
			close(p->token);
		if (p->root >= 0)
			close(p->root);
		/* The superblocks of detached ones go now... */
		if (p->mnt >= 0)
			close(p->mnt);
	}
	/* ...the others with the tmpfs they are mounted under... */
	if (umount2(BASE, MNT_DETACH) && !ret)
		ret = -errno;
	/* ...and the programs still hold tokens of them. */
	for (i = 0; i < BATCH; i++)
		if (in[i].prog >= 0)
			close(in[i].prog);
	return ret;
}

static int container(int sock, void *arg)
{
	int ret;

	(void)arg;
	mkdir(BASE, 0700);
	do
		ret = one_batch(sock);
	while (!ret);
	/* The last message, unanswered: how the container fared. */
	msg_send(sock, &(struct msg){ .op = REQ_DONE, .arg = ret == 1 ? 0 : ret }, NULL);
	return ret == 1 ? 0 : 1;
}

/* Through reconfigure context @pick: delegate @cmds and @maps only. */
static int reconfigure(int pick, __u64 cmds, __u64 maps)
{
	int ret = set_opts(pick, cmds, maps, 0, 0);

	return ret ?: (sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0);
}

static double env_num(const char *name, double def)
{
	const char *v = getenv(name);

	return v && *v ? strtod(v, NULL) : def;
}

/* A /proc/meminfo value in kB, or -1. */
static long meminfo_kb(const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Sum of num_objs * objsize over /proc/slabinfo in kB, or -1 without it. */
static long slabinfo_kb(void)
{
	char line[512];
	unsigned long long total = 0;
	FILE *f = fopen("/proc/slabinfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long active, num, size;
		char name[64];

		if (line[0] == '#' || sscanf(line, "%63s %lu %lu %lu", name, &active, &num,
					     &size) != 4)
			continue;
		total += (unsigned long long)active * size;
	}
	fclose(f);
	return total / 1024;
}

struct mem {
	long sunreclaim, slab, slabinfo;
};

/*
 * Let deferred frees run (work items, RCU), drop the reclaimable caches,
 * and read every half second until three readings in a row agree.
 */
static void settle_and_measure(struct mem *m)
{
	struct mem prev = { -1, -1, -1 };
	int i, stable = 0;

	for (i = 0; i < 16 && stable < 2; i++) {
		sync();
		write_file("/proc/sys/vm/drop_caches", "3");
		usleep(500000);
		m->sunreclaim = meminfo_kb("SUnreclaim");
		m->slab = meminfo_kb("Slab");
		m->slabinfo = slabinfo_kb();
		stable = i && labs(m->sunreclaim - prev.sunreclaim) <= 4 ? stable + 1 : 0;
		prev = *m;
	}
}

/* Does the kernel have generic KASAN, whose quarantine delays frees? */
static bool kasan_quarantine(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " kasan_quarantine_");
	fclose(f);
	return found;
}

/* The objects kmemleak reports now, as "unreferenced object 0x..." lines. */
static char *kmemleak_scan(void)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	FILE *f;

	if (!buf || write_file(KMEMLEAK, "scan"))
		goto fail;
	f = fopen(KMEMLEAK, "re");
	if (!f)
		goto fail;
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *b = realloc(buf, cap *= 2);

			if (!b) {
				fclose(f);
				goto fail;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

/* Lines "unreferenced object 0x..." in @after that are not in @before. */
static int new_leaks(const char *before, const char *after)
{
	const char *p = after;
	int n = 0;

	while ((p = strstr(p, "unreferenced object 0x"))) {
		const char *addr = p + strlen("unreferenced object ");
		size_t len = addr - p + strcspn(addr, " \t\n");
		char obj[64];

		snprintf(obj, sizeof(obj), "%.*s", (int)len, p);
		if (!strstr(before, obj)) {
			fprintf(stderr, "# kmemleak: %.*s\n", (int)strcspn(p, "\n"), p);
			n++;
		}
		p += len;
	}
	return n;
}

FIXTURE(lifetime) {
	int unused;
};

FIXTURE_SETUP(lifetime)
{
}

FIXTURE_TEARDOWN(lifetime)
{
}

TEST_F_TIMEOUT(lifetime, instances_leave_nothing_behind, 900)
{
	double secs = env_num("BPFFS_LIFETIME_SECONDS", 12);
	unsigned long target = env_num("BPFFS_LIFETIME_INSTANCES", 10000);
	unsigned long warmup = env_num("BPFFS_LIFETIME_WARMUP", 500);
	const struct bpf_delegation_opts wide = {
		.cmds = CMD(BPF_MAP_CREATE) | CMD(BPF_PROG_LOAD),
		.maps = 1ULL << BPF_MAP_TYPE_ARRAY,
		.progs = 1ULL << BPF_PROG_TYPE_SOCKET_FILTER,
		.attachs = 1,
	};
	unsigned long n = 0, measured = 0;
	struct mem base = {}, end = {};
	char *leaks_before = NULL;
	double t0, t_base = 0, t_end = 0;
	bool have_base = false, have_end = false;
	int sock = -1, ret, st = -1;
	pid_t pid;

	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	if (access(KMEMLEAK, F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (!access(KMEMLEAK, W_OK)) {
		leaks_before = kmemleak_scan();
		ASSERT_NE(leaks_before, NULL);
	}
	pid = spawn_userns_child(container, NULL, &sock);
	ASSERT_GT(pid, 0);
	t0 = now();
	for (;;) {
		int req, k, i, fds[MSG_MAX_FDS], pick;
		struct msg m;

		ASSERT_EQ(msg_recv(sock, &m, fds), 0);
		req = m.op;
		if (req == REQ_DONE) {
			st = m.arg;
			break;
		}
		k = m.nfds;
		ASSERT_EQ(k, req == REQ_PICK ? NARROW : BATCH);
		ret = 0;
		if (req == REQ_PICK) {
			/* Narrow each through a reconfigure context. */
			for (i = 0; i < k; i++) {
				pick = sys_fspick(fds[i], "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
				if (!ret && pick < 0)
					ret = -errno;
				if (!ret)
					ret = reconfigure(pick, CMD(BPF_MAP_CREATE), wide.maps);
				if (pick >= 0)
					close(pick);
				close(fds[i]);
			}
			ASSERT_EQ(msg_answer(sock, &m, ret, NULL, 0), 0);
			continue;
		}
		/* REQ_DELEGATE: the previous batch is gone. */
		if (!have_base && (n >= warmup || now() - t0 > secs / 4)) {
			settle_and_measure(&base);
			have_base = true;
			t_base = now();
			measured = 0;
		}
		if (n >= target || (have_base && now() - t0 > secs)) {
			/* The container waits, with every instance it made dropped. */
			if (have_base && !have_end) {
				t_end = now();
				settle_and_measure(&end);
				have_end = true;
			}
			ret = 1;
		}
		for (i = 0; i < k; i++) {
			ret = ret ?: set_opts(fds[i], wide.cmds, wide.maps, wide.progs,
					      wide.attachs);
			ret = ret ?: set_flag(fds[i], "delegate");
			close(fds[i]);
		}
		ASSERT_EQ(msg_answer(sock, &m, ret, NULL, 0), 0);
		if (!ret) {
			n += k;
			measured += k;
		}
	}
	EXPECT_EQ(st, 0) TH_LOG("the container failed: %d", st);
	EXPECT_EQ(wait_child(pid), 0);
	close(sock);

	ksft_print_msg("lifetime: %lu instances (%lu measured) in %.1f s (%.1f ms each)\n",
		       n, measured, t_end - t0, measured ? (t_end - t_base) * 1000 / measured : 0);
	ksft_print_msg("lifetime: SUnreclaim %ld -> %ld kB, Slab %ld -> %ld kB\n",
		       base.sunreclaim, end.sunreclaim, base.slab, end.slab);
	if (base.slabinfo >= 0)
		ksft_print_msg("lifetime: slabinfo %ld -> %ld kB\n", base.slabinfo, end.slabinfo);
	ASSERT_TRUE(have_end);
	ASSERT_GT(measured, 0);
	ksft_print_msg("lifetime: %.1f bytes per instance unreclaimable (limit %d + %d kB)\n",
		       (end.sunreclaim - base.sunreclaim) * 1024.0 / measured, BYTES_PER_INSTANCE,
		       SLACK_KB);
	fflush(stdout);
	if (kasan_quarantine()) {
		/* Freed objects wait there, still counted as slab. */
		ksft_print_msg("lifetime: KASAN's quarantine holds freed objects: %s\n",
			       "slab growth not checked");
	} else {
		EXPECT_LE((end.sunreclaim - base.sunreclaim) * 1024,
			  (long)measured * BYTES_PER_INSTANCE + SLACK_KB * 1024);
		if (base.slabinfo >= 0)
			EXPECT_LE((end.slabinfo - base.slabinfo) * 1024,
				  (long)measured * BYTES_PER_INSTANCE + SLACK_KB * 1024);
	}

	if (leaks_before) {
		char *after;

		/* kmemleak reports objects older than 5 s only. */
		sleep(6);
		after = kmemleak_scan();
		ASSERT_NE(after, NULL);
		EXPECT_EQ(new_leaks(leaks_before, after), 0);
		free(after);
		free(leaks_before);
	} else {
		ksft_print_msg("lifetime: no kmemleak in this kernel\n");
	}
}

TEST_HARNESS_MAIN
