// SPDX-License-Identifier: GPL-2.0
/*
 * Races between the privileged side changing a delegation and the container
 * using it, and between unmounting an instance and using its tokens.
 *
 * Instance A: the privileged parent reconfigures it in a loop, each time to
 * a set drawn from a palette, while threads in the container create maps,
 * load BTF and load programs through a token and through the root fd.  The
 * parent records set[k + 1] and bumps an atomic version to k + 1 before it
 * applies it; a caller reads the version before (v0) and after (v1) its
 * call.  An allowed call must be allowed by one of set[v0 - 1 .. v1], and
 * a refused one must not be allowed by all of them.  Another thread reads
 * the token's fdinfo the same way: it must show one of those sets whole.
 *
 * Instance B: a container thread creates it, makes a token, lets another
 * thread use copies of both fds, tries to unmount it (EBUSY: the fds pin
 * the mount), detaches it (the fds keep working with B's set), has the
 * parent reset its delegation through a context picked while it was
 * mounted (from then on every call through the old fds must be refused),
 * closes everything so the superblock dies, and starts over.
 *
 *   BPFFS_RACE_SECONDS   how long the parent reconfigures (default 6)
 *   BPFFS_RACE_SEED      random seed (default: from the clock; printed)
 */
#include "delegation_agent.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/mman.h>
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT_A "/tmp/bpffs-race-a"
#define MNT_B "/tmp/bpffs-race-b"
#define CMD(c) (1ULL << (c))
#define PALETTE 16
#define MAX_VERSIONS (1 << 20)

/* What a call asks for. */
enum op { OP_STACK, OP_QUEUE, OP_ARRAY, OP_HASH, OP_BTF, OP_SF0, OP_SF1, OP_XDP, OP_NR };

static const char *const op_name[OP_NR] = {
	"stack map", "queue map", "array map", "hash map", "btf", "socket filter",
	"socket filter (attach 1)", "xdp",
};

/* The set instance B delegates while it lives. */
static const struct bpf_delegation_opts b_set = {
	.cmds = CMD(BPF_MAP_CREATE) | CMD(BPF_BTF_LOAD),
	.maps = 1ULL << BPF_MAP_TYPE_QUEUE,
};

enum counter {
	C_TOKEN_OK, C_TOKEN_REFUSED, C_ROOT_OK, C_ROOT_REFUSED,
	C_B_OK, C_B_REFUSED, C_B_OK_DETACHED, C_B_REFUSED_REVOKED,
	C_B_INSTANCES, C_B_EBUSY, C_FDINFO, C_VIOLATIONS, C_UNEXPECTED, C_NR,
};

/* Shared between the parent and the container (MAP_SHARED). */
struct shared {
	atomic_ulong version;
	atomic_int stop;
	atomic_int b_resetting_gen;	/* B of this generation is being reset */
	atomic_int b_revoked_gen;	/* B's delegation of this generation is reset */
	atomic_int b_detached_gen;	/* B of this generation is detached */
	atomic_ulong count[C_NR];
	struct bpf_delegation_opts palette[PALETTE];
	unsigned char set_of[MAX_VERSIONS];	/* palette index of each version */
};

static struct shared *sh;
static int b_sock[2];		/* container <-> parent's helper for instance B */
static __u64 seed;

static bool has(__u64 mask, unsigned int bit)
{
	return bit < 64 && (mask >> bit & 1);
}

static bool allows(const struct bpf_delegation_opts *s, enum op op)
{
	static const int map[OP_NR] = {
		BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH,
		-1, -1, -1, -1,
	};

	switch (op) {
	case OP_BTF:
		return has(s->cmds, BPF_BTF_LOAD);
	case OP_SF0:
		return has(s->cmds, BPF_PROG_LOAD) && has(s->progs, BPF_PROG_TYPE_SOCKET_FILTER) &&
		       has(s->attachs, 0);
	case OP_SF1:
		return has(s->cmds, BPF_PROG_LOAD) && has(s->progs, BPF_PROG_TYPE_SOCKET_FILTER) &&
		       has(s->attachs, 1);
	case OP_XDP:
		return has(s->cmds, BPF_PROG_LOAD) && has(s->progs, BPF_PROG_TYPE_XDP) &&
		       has(s->attachs, 0);
	default:
		return has(s->cmds, BPF_MAP_CREATE) && has(s->maps, map[op]);
	}
}

/* Do @op through @fd; returns 0 if it was allowed, else -errno. */
static int do_op(enum op op, int fd)
{
	static const enum bpf_map_type map[] = {
		BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH,
	};
	int ret;

	switch (op) {
	case OP_BTF:
		ret = btf_load(fd);
		break;
	case OP_SF0:
		ret = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, fd);
		break;
	case OP_SF1:
		ret = prog_load(BPF_PROG_TYPE_SOCKET_FILTER, 1, 0, fd);
		break;
	case OP_XDP:
		ret = prog_load(BPF_PROG_TYPE_XDP, 0, 2, fd);
		break;
	default:
		ret = map_create(map[op], fd);
	}
	if (ret >= 0) {
		close(ret);
		return 0;
	}
	return ret;
}

static unsigned long cnt(enum counter c)
{
	return atomic_load(&sh->count[c]);
}

static void count(enum counter c)
{
	atomic_fetch_add(&sh->count[c], 1);
}

static void violation(enum counter c, const char *fmt, ...)
{
	va_list ap;

	/* Print the first few only. */
	if (atomic_fetch_add(&sh->count[c], 1) < 10) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
}

/* Container threads using instance A through a token or the root fd. */
struct user_arg {
	int fd;
	bool root;
	int id;
};

static void *a_user(void *p)
{
	struct user_arg *u = p;
	struct rng r = { (seed ^ (0x9e3779b97f4a7c15ULL * (u->id + 1))) | 1 };
	const char *via = u->root ? "root fd" : "token";

	while (!atomic_load(&sh->stop)) {
		enum op op = below(&r, OP_NR);
		unsigned long v0, v1, j, lo;
		bool any = false, all = true;
		int ret;

		v0 = atomic_load(&sh->version);
		ret = do_op(op, u->fd);
		v1 = atomic_load(&sh->version);
		lo = v0 ? v0 - 1 : 0;
		for (j = lo; j <= v1; j++) {
			bool ok = allows(&sh->palette[sh->set_of[j]], op);

			any |= ok;
			all &= ok;
		}
		if (!ret && !any)
			violation(C_VIOLATIONS, "# %s: %s allowed, no set of %lu..%lu allows it\n",
				  via, op_name[op], lo, v1);
		else if (ret && all)
			violation(C_UNEXPECTED, "# %s: %s refused (%d), all of %lu..%lu allow it\n",
				  via, op_name[op], ret, lo, v1);
		if (u->root)
			count(ret ? C_ROOT_REFUSED : C_ROOT_OK);
		else
			count(ret ? C_TOKEN_REFUSED : C_TOKEN_OK);
	}
	return NULL;
}

/* How a token's fdinfo shows @s. */
static void show(const struct bpf_delegation_opts *s, char *out, size_t len)
{
	static const unsigned int max[] = {
		__MAX_BPF_CMD, __MAX_BPF_MAP_TYPE, __MAX_BPF_PROG_TYPE, __MAX_BPF_ATTACH_TYPE,
	};
	const __u64 m[] = { s->cmds, s->maps, s->progs, s->attachs };
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		__u64 known = (1ULL << max[i]) - 1;

		if ((m[i] & known) == known)
			n += snprintf(out + n, len - n, "any ");
		else
			n += snprintf(out + n, len - n, "0x%llx ", (unsigned long long)m[i]);
	}
}

/*
 * A container thread reading the token's fdinfo: each reading must show
 * one whole set that was live during it, never parts of two.
 */
static void *a_fdinfo(void *p)
{
	static const char *const label[] = {
		"allowed_cmds:\t", "allowed_maps:\t", "allowed_progs:\t", "allowed_attachs:\t",
	};
	int token = *(int *)p;
	char path[64], info[1024], got[128], want[128];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", token);
	while (!atomic_load(&sh->stop)) {
		unsigned long v0, v1, j, lo;
		size_t n = 0;
		bool found = false;
		FILE *f;
		int i;

		v0 = atomic_load(&sh->version);
		f = fopen(path, "re");
		if (!f) {
			violation(C_UNEXPECTED, "# %s: %s\n", path, strerror(errno));
			break;
		}
		info[fread(info, 1, sizeof(info) - 1, f)] = '\0';
		fclose(f);
		v1 = atomic_load(&sh->version);
		got[0] = '\0';
		for (i = 0; i < 4; i++) {
			char *s = strstr(info, label[i]);

			if (!s)
				break;
			s += strlen(label[i]);
			n += snprintf(got + n, sizeof(got) - n, "%.*s ", (int)strcspn(s, "\n"), s);
		}
		lo = v0 ? v0 - 1 : 0;
		for (j = lo; j <= v1 && !found; j++) {
			show(&sh->palette[sh->set_of[j]], want, sizeof(want));
			found = !strcmp(got, want);
		}
		if (!found)
			violation(C_VIOLATIONS, "# token fdinfo '%s': not in %lu..%lu\n", got,
				  lo, v1);
		count(C_FDINFO);
	}
	return NULL;
}

/* Instance B's current fds; gen changes whenever they do. */
static pthread_mutex_t b_lock = PTHREAD_MUTEX_INITIALIZER;
static int b_gen, b_token = -1, b_root = -1;

/* A container thread using copies of B's fds, whatever state B is in. */
static void *b_user(void *p)
{
	struct rng r = { (seed ^ 0xb0b0b0b0ULL) | 1 };
	int gen = 0, fds[2] = { -1, -1 };

	(void)p;
	while (!atomic_load(&sh->stop)) {
		enum op op = below(&r, 2) ? (below(&r, 2) ? OP_QUEUE : OP_BTF) :
			     (below(&r, 2) ? OP_STACK : OP_SF0);
		bool revoked, detached;
		int i, ret, fd;

		pthread_mutex_lock(&b_lock);
		if (gen != b_gen) {
			for (i = 0; i < 2; i++) {
				if (fds[i] >= 0)
					close(fds[i]);
				fds[i] = -1;
			}
			if (b_token >= 0) {
				fds[0] = dup(b_token);
				fds[1] = dup(b_root);
			}
			gen = b_gen;
		}
		pthread_mutex_unlock(&b_lock);
		if (fds[0] < 0) {
			usleep(100);
			continue;
		}
		fd = fds[below(&r, 2)];
		/* Generations only grow: a later one's reset implies this one's. */
		revoked = atomic_load(&sh->b_revoked_gen) >= gen;
		detached = atomic_load(&sh->b_detached_gen) >= gen;
		ret = do_op(op, fd);
		if (!ret && !allows(&b_set, op))
			violation(C_VIOLATIONS, "# instance B: %s allowed, B never delegates it\n",
				  op_name[op]);
		else if (!ret && revoked)
			violation(C_VIOLATIONS, "# instance B: %s allowed after the reset\n",
				  op_name[op]);
		else if (ret && allows(&b_set, op) && atomic_load(&sh->b_resetting_gen) < gen)
			violation(C_UNEXPECTED, "# instance B: %s refused (%d)%s\n", op_name[op],
				  ret, detached ? " after the detach" : "");
		count(ret ? C_B_REFUSED : C_B_OK);
		if (!ret && detached)
			count(C_B_OK_DETACHED);
		if (ret && revoked)
			count(C_B_REFUSED_REVOKED);
	}
	for (gen = 0; gen < 2; gen++)
		if (fds[gen] >= 0)
			close(fds[gen]);
	return NULL;
}

/*
 * Requests to the privileged side (struct msg, maybe with an fd); it
 * answers 0 or -errno.
 */
enum req { REQ_DONE, REQ_DELEGATE, REQ_PICK, REQ_RESET, REQ_READY };

static int request(int sock, int req, int fd)
{
	struct msg m = { .op = req, .nfds = fd >= 0 };

	return msg_call(sock, &m, &fd, NULL);
}

/* The last request, which has no answer. */
static void request_done(int sock)
{
	struct msg m = { .op = REQ_DONE };

	msg_send(sock, &m, NULL);
}

/*
 * Open a context, have the privileged side delegate it, create and mount it
 * at @path and have the privileged side pick it; returns 0 or -errno.
 */
static int container_mount(int sock, const char *path)
{
	int ctx, mnt, ret;

	ctx = sys_fsopen("bpf", FSOPEN_CLOEXEC);
	if (ctx < 0)
		return -errno;
	ret = request(sock, REQ_DELEGATE, ctx);
	ret = ret ?: (sys_fsconfig(ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0);
	mnt = ret ?: sys_fsmount(ctx, FSMOUNT_CLOEXEC, 0);
	close(ctx);
	if (mnt < 0)
		return ret ?: -errno;
	mkdir(path, 0700);
	ret = sys_move_mount(mnt, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) ? -errno : 0;
	ret = ret ?: request(sock, REQ_PICK, mnt);
	close(mnt);
	return ret;
}

static void sleep_ms(struct rng *r, unsigned int max)
{
	usleep(1000 * (1 + below(r, max)));
}

/*
 * Sleep up to @max ms, and on a slow kernel longer, until instance B's
 * user has made two more calls (for at most a second, and not once the
 * users are told to stop).
 */
static void sleep_for_b_calls(struct rng *r, unsigned int max)
{
	unsigned long calls = cnt(C_B_OK) + cnt(C_B_REFUSED);
	double end = now() + 1;

	sleep_ms(r, max);
	while (cnt(C_B_OK) + cnt(C_B_REFUSED) < calls + 2 && !atomic_load(&sh->stop) &&
	       now() < end)
		usleep(1000);
}

/* The container thread that makes, detaches and drops instances B. */
static void *b_cycler(void *p)
{
	struct rng r = { (seed ^ 0xc1c1ULL) | 1 };
	int gen = 0, sock = b_sock[1];

	(void)p;
	while (!atomic_load(&sh->stop)) {
		int root, token, ret;

		ret = container_mount(sock, MNT_B);
		root = ret ?: open(MNT_B, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		token = root < 0 ? root : token_create(root);
		if (ret || root < 0 || token < 0) {
			violation(C_UNEXPECTED, "# instance B: mount %d, root %d, token %d\n",
				  ret, root, token);
			break;
		}
		pthread_mutex_lock(&b_lock);
		b_gen = ++gen;
		b_token = token;
		b_root = root;
		pthread_mutex_unlock(&b_lock);
		count(C_B_INSTANCES);
		sleep_ms(&r, 20);
		/* Its fds pin the mount. */
		ret = umount2(MNT_B, 0) ? -errno : 0;
		if (ret == -EBUSY)
			count(C_B_EBUSY);
		else
			violation(C_UNEXPECTED, "# instance B: umount with a token: %d\n", ret);
		if (!ret)
			atomic_store(&sh->b_detached_gen, gen);
		else if (umount2(MNT_B, MNT_DETACH))
			violation(C_UNEXPECTED, "# instance B: lazy umount: %d\n", -errno);
		else
			atomic_store(&sh->b_detached_gen, gen);
		sleep_for_b_calls(&r, 10);
		/* The privileged side resets it; from then on the old fds get nothing. */
		atomic_store(&sh->b_resetting_gen, gen);
		ret = request(sock, REQ_RESET, -1);
		if (ret) {
			violation(C_UNEXPECTED, "# instance B: reset: %d\n", ret);
			break;
		}
		atomic_store(&sh->b_revoked_gen, gen);
		sleep_for_b_calls(&r, 5);
		/* Drop it: with the copies the user drops, the superblock goes. */
		pthread_mutex_lock(&b_lock);
		close(b_token);
		close(b_root);
		b_token = -1;
		b_root = -1;
		b_gen = ++gen;
		pthread_mutex_unlock(&b_lock);
	}
	request_done(sock);
	return NULL;
}

/* The container: instance A, its users, and instance B's threads. */
static int container(int sock, void *arg)
{
	struct user_arg users[3];
	pthread_t th[6];
	int root, token, i;

	(void)arg;
	close(b_sock[0]);
	if (container_mount(sock, MNT_A))
		return 10;
	root = open(MNT_A, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	token = token_create(root);
	if (root < 0 || token < 0)
		return 11;
	if (request(sock, REQ_READY, -1))
		return 12;
	for (i = 0; i < 3; i++) {
		users[i].fd = i == 2 ? root : token;
		users[i].root = i == 2;
		users[i].id = i;
		if (pthread_create(&th[i], NULL, a_user, &users[i]))
			return 13;
	}
	if (pthread_create(&th[3], NULL, b_user, NULL) ||
	    pthread_create(&th[4], NULL, b_cycler, NULL) ||
	    pthread_create(&th[5], NULL, a_fdinfo, &token))
		return 14;
	for (i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	return 0;
}

static int reconfigure(int pick, const struct bpf_delegation_opts *o)
{
	int ret = set_opts(pick, o->cmds, o->maps, o->progs, o->attachs);

	return ret ?: (sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) ? -errno : 0);
}

/* The privileged side's handles on one instance. */
struct inst {
	int mnt;	/* its mount */
	int pick;	/* a reconfigure context of it */
};

static void inst_close(struct inst *in)
{
	if (in->mnt >= 0)
		close(in->mnt);
	if (in->pick >= 0)
		close(in->pick);
	in->mnt = -1;
	in->pick = -1;
}

/*
 * The privileged side of instances: delegate @set to a context the
 * container sends, pick the instance once it is mounted, reset it on
 * request.  Returns after REQ_READY or at REQ_DONE.
 */
static int serve(int sock, const struct bpf_delegation_opts *set, struct inst *in)
{
	for (;;) {
		int req, fds[MSG_MAX_FDS], fd = -1, ret = 0;
		struct msg m;

		if (msg_recv(sock, &m, fds))
			return -EIO;
		req = m.op;
		if (req == REQ_DONE)
			return 0;
		if (m.nfds)
			fd = fds[0];
		if ((req == REQ_DELEGATE || req == REQ_PICK) && fd < 0)
			return -EIO;
		switch (req) {
		case REQ_DELEGATE:
			ret = set_opts(fd, set->cmds, set->maps, set->progs, set->attachs);
			ret = ret ?: set_flag(fd, "delegate");
			close(fd);
			break;
		case REQ_PICK:
			inst_close(in);
			in->mnt = fd;
			in->pick = sys_fspick(fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
			ret = in->pick < 0 ? -errno : 0;
			break;
		case REQ_RESET: {
			struct bpf_delegation_opts none = {};

			ret = in->pick < 0 ? -EBADF : reconfigure(in->pick, &none);
			inst_close(in);
			break;
		}
		case REQ_READY:
			break;
		default:
			ret = -EINVAL;
		}
		if (msg_answer(sock, &m, ret, NULL, 0))
			return -EIO;
		if (req == REQ_READY)
			return 0;
	}
}

static void *b_helper(void *p)
{
	struct inst in = { -1, -1 };

	(void)p;
	serve(b_sock[0], &b_set, &in);
	inst_close(&in);
	return NULL;
}

FIXTURE(race) {
	pid_t pid;
	int sock;
};

FIXTURE_SETUP(race)
{
	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(sh, MAP_FAILED);
	self->pid = 0;
}

FIXTURE_TEARDOWN(race)
{
	if (self->pid > 0) {
		kill(self->pid, SIGKILL);
		wait_child(self->pid);
	}
	munmap(sh, sizeof(*sh));
}

TEST_F_TIMEOUT(race, reconfigure_and_unmount, 600)
{
	const char *env = getenv("BPFFS_RACE_SECONDS");
	double secs = env && *env ? strtod(env, NULL) : 6, t0;
	struct rng r;
	unsigned long k = 0, fresh = 0;
	pthread_t helper;
	struct inst a = { -1, -1 };
	int i;

	env = getenv("BPFFS_RACE_SEED");
	seed = env && *env ? strtoull(env, NULL, 0) : (__u64)time(NULL) ^ ((__u64)getpid() << 32);
	r.s = seed | 1;
	ksft_print_msg("race: seed %llu (BPFFS_RACE_SEED), %.0f s (BPFFS_RACE_SECONDS)\n",
		       (unsigned long long)seed, secs);
	/* 0: nothing, 1: everything, the rest: parts of what the users ask for. */
	sh->palette[1] = (struct bpf_delegation_opts){ ~0ULL, ~0ULL, ~0ULL, ~0ULL };
	for (i = 2; i < PALETTE; i++) {
		__u64 b = rnd(&r);

		sh->palette[i].cmds = (b & 1 ? CMD(BPF_MAP_CREATE) : 0) |
				      (b & 2 ? CMD(BPF_BTF_LOAD) : 0) |
				      (b & 4 ? CMD(BPF_PROG_LOAD) : 0);
		sh->palette[i].maps = (b & 8 ? 1ULL << BPF_MAP_TYPE_STACK : 0) |
				      (b & 16 ? 1ULL << BPF_MAP_TYPE_QUEUE : 0) |
				      (b & 32 ? 1ULL << BPF_MAP_TYPE_ARRAY : 0) |
				      (b & 64 ? 1ULL << BPF_MAP_TYPE_HASH : 0);
		sh->palette[i].progs = (b & 128 ? 1ULL << BPF_PROG_TYPE_SOCKET_FILTER : 0) |
				       (b & 256 ? 1ULL << BPF_PROG_TYPE_XDP : 0);
		sh->palette[i].attachs = (b & 512 ? 1 : 0) | (b & 1024 ? 2 : 0);
	}
	sh->set_of[0] = 1;
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b_sock), 0);
	self->pid = spawn_userns_child(container, NULL, &self->sock);
	ASSERT_GT(self->pid, 0);
	close(b_sock[1]);
	ASSERT_EQ(serve(self->sock, &sh->palette[1], &a), 0);
	ASSERT_GE(a.pick, 0);
	ASSERT_EQ(pthread_create(&helper, NULL, b_helper, NULL), 0);

	/* Record set[k + 1], bump the version, then apply it. */
	t0 = now();
	while (now() - t0 < secs && k + 1 < MAX_VERSIONS) {
		unsigned int idx = below(&r, PALETTE);

		if (below(&r, 4) == 0) {
			int fd = sys_fspick(a.mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);

			ASSERT_GE(fd, 0);
			close(a.pick);
			a.pick = fd;
			fresh++;
		}
		sh->set_of[k + 1] = idx;
		atomic_store(&sh->version, k + 1);
		ASSERT_EQ(reconfigure(a.pick, &sh->palette[idx]), 0);
		k++;
		if (below(&r, 4) == 0)
			usleep(below(&r, 2000));
	}
	atomic_store(&sh->stop, 1);
	EXPECT_EQ(wait_child(self->pid), 0);
	self->pid = 0;
	pthread_join(helper, NULL);
	inst_close(&a);
	close(self->sock);
	close(b_sock[0]);

	ksft_print_msg("race: %lu reconfigures (%lu fresh contexts) in %.1f s\n", k, fresh,
		       now() - t0);
	ksft_print_msg("race: token: %lu allowed, %lu refused; root fd: %lu allowed, %lu refused\n",
		       cnt(C_TOKEN_OK), cnt(C_TOKEN_REFUSED), cnt(C_ROOT_OK), cnt(C_ROOT_REFUSED));
	ksft_print_msg("race: instance B: %lu instances, %lu EBUSY, %lu allowed (%lu detached)\n",
		       cnt(C_B_INSTANCES), cnt(C_B_EBUSY), cnt(C_B_OK), cnt(C_B_OK_DETACHED));
	ksft_print_msg("race: instance B: %lu refused (%lu after the reset)\n",
		       cnt(C_B_REFUSED), cnt(C_B_REFUSED_REVOKED));
	ksft_print_msg("race: %lu token fdinfo readings\n", cnt(C_FDINFO));
	ksft_print_msg("race: %lu calls outside the live sets, %lu unexpected results\n",
		       cnt(C_VIOLATIONS), cnt(C_UNEXPECTED));
	fflush(stdout);
	EXPECT_EQ(cnt(C_VIOLATIONS), 0);
	EXPECT_EQ(cnt(C_UNEXPECTED), 0);
	/* It must have raced at all. */
	EXPECT_GT(k, 10);
	EXPECT_GT(cnt(C_TOKEN_OK), 0);
	EXPECT_GT(cnt(C_TOKEN_REFUSED), 0);
	EXPECT_GT(cnt(C_ROOT_OK), 0);
	EXPECT_GT(cnt(C_B_INSTANCES), 0);
	EXPECT_GT(cnt(C_FDINFO), 0);
	EXPECT_GT(cnt(C_B_OK_DETACHED), 0);
	EXPECT_GT(cnt(C_B_REFUSED_REVOKED), 0);
}

TEST_HARNESS_MAIN
