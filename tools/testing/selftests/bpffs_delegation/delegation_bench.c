// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of the bpf() syscall paths that bpffs delegation touches, and of many
 * delegated instances at once.  Not a pass/fail test: scripts/bench.sh runs
 * it in a VM (under QEMU icount, where a guest nanosecond is one guest
 * instruction, and without) and compares kernels.
 *
 * Syscall paths: N iterations of map create+close (BPF_MAP_TYPE_ARRAY), BTF
 * load+close and program load+close (a socket filter), each for
 *   init   root of the initial user namespace, without BPF_F_TOKEN_FD
 *   token  root of a child user namespace, with a BPF token
 *   bpffs  the same, with the delegated bpffs root fd itself as the token fd
 *          (the series only; "na" on a kernel without it)
 * in interleaved rounds, so that drift hits all cases alike.  Every iteration
 * is timed on its own with CLOCK_MONOTONIC.
 *
 * Scale: COUNT instances alive at once, each with a token: create (fsopen to
 * token), check (one map create through each token), teardown (close all),
 * per instance, and the kernel memory they hold from /proc/meminfo.
 *
 * Concurrency (-K MS, the series only, wall clock, two CPUs or more): two
 * threads of the child, pinned to CPUs 0 and 1, create and close maps
 * through tokens for MS milliseconds, through one instance or through one
 * instance each, while the privileged parent runs a paced loop over the
 * instances' mounts: fspick, set the abilities (alternating two sets that
 * both allow the maps), then commit (writer=reconfigure) or close without
 * committing (writer=none: the same work on the parent's side, no write to
 * the live delegation).  Rounds alternate the four runs.
 *
 * Output: "bench ...", "conc ..." and "scale ..." lines of key=value for scripts, then a
 * table for people.  Exits non-zero when an operation fails.
 *
 * Trace marks (-T): after the timed rounds, one more create+close of each op
 * in each case, whose bpf() call passes TRACE_MARK + case as its size (the
 * attr padded with zeros, which the kernel accepts), so that a debugger
 * attached to the VM (scripts/insn-trace.sh) can stop on exactly that call
 * and count the instructions it executes, function by function.
 */
#include "delegation_util.h"	/* first: it defines _GNU_SOURCE */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

enum { CASE_INIT, CASE_TOKEN, CASE_BPFFS, NR_CASES };
enum { OP_MAP, OP_BTF, OP_PROG, NR_OPS };

static const char *const case_names[NR_CASES] = { "init", "token", "bpffs" };
static const char *const op_names[NR_OPS] = { "map", "btf", "prog" };
/* The bpf() command each op issues (the trace lines name it for a tracer). */
static const int op_cmds[NR_OPS] = { BPF_MAP_CREATE, BPF_BTF_LOAD, BPF_PROG_LOAD };

/* How the child's bpffs gets its delegation. */
enum mode {
	MODE_DELEGATE,	/* the series: "delegate" + "abilities", the child creates it */
	MODE_UPSTREAM,	/* upstream: delegate_* strings, the privileged parent creates it */
};

static const char *const mode_names[] = { "delegate", "upstream" };

static int rounds = 15, iters = 100, warmup = 1, scale_count = 1000;
static int expect_fd;		/* the bpffs-fd case must work */
static enum mode mode = MODE_DELEGATE, scale_modes[2] = { MODE_DELEGATE };
static int nr_scale_modes = 1;
static bool skip_paths, skip_scale, trace_marks;
/* Concurrency: milliseconds a run, rounds, microseconds between two writes. */
static int conc_ms, conc_rounds = 5, conc_pace_us = 1000;
static const char *dump_path;	/* every sample, for a closer look */

/* Per-iteration times, [case][op][round * iters + i], shared with the child. */
static uint64_t *samples;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t *slot(int c, int op, int round)
{
	return samples + ((size_t)(c * NR_OPS + op) * rounds + round) * iters;
}

/*
 * What the kernel copies in lives at fixed, aligned addresses: how many
 * instructions a copy from user memory takes depends on the source's
 * alignment, which on the stack moves with the size of the environment and
 * the arguments, and so would differ from run to run and kernel to kernel.
 */
enum { TRACE_MARK = 512 };

static _Alignas(64) union {
	union bpf_attr attr;
	char pad[TRACE_MARK + NR_CASES];	/* zeros past the attr */
} op_buf;

/* The size the next do_op() passes to bpf(): the attr's, or a trace mark. */
static unsigned int op_size = sizeof(union bpf_attr);

_Static_assert(sizeof(union bpf_attr) < TRACE_MARK, "a trace mark must not be a real size");

static _Alignas(64) struct {
	struct btf_header hdr;
	__u32 types[4];
	char strs[5];
} __packed btf_blob = {
	.hdr = {
		.magic = BTF_MAGIC,
		.version = BTF_VERSION,
		.hdr_len = sizeof(struct btf_header),
		.type_off = 0,
		.type_len = sizeof(btf_blob.types),
		.str_off = sizeof(btf_blob.types),
		.str_len = sizeof(btf_blob.strs),
	},
	/* "int": name at 1, BTF_KIND_INT, 4 bytes, signed, 32 bits */
	.types = { 1, BTF_KIND_INT << 24, 4, (BTF_INT_SIGNED << 24) | 32 },
	.strs = "\0int",
};

static _Alignas(64) struct bpf_insn prog_insns[2] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static _Alignas(64) const char prog_license[8] = "GPL";

/*
 * One create+close of @op through @token (< 0: none), the same requests as
 * map_create(), btf_load() and prog_load() make, built in @attr and passed
 * with @size.  Returns 0 or -errno.
 */
static inline int do_op_in(union bpf_attr *attr, unsigned int size, int op, int token)
{
	int fd, cmd;

	memset(attr, 0, sizeof(*attr));
	switch (op) {
	case OP_MAP:
		cmd = BPF_MAP_CREATE;
		attr->map_type = BPF_MAP_TYPE_ARRAY;
		attr->key_size = 4;
		attr->value_size = 8;
		attr->max_entries = 1;
		if (token >= 0) {
			attr->map_flags = BPF_F_TOKEN_FD;
			attr->map_token_fd = token;
		}
		break;
	case OP_BTF:
		cmd = BPF_BTF_LOAD;
		attr->btf = (__u64)(unsigned long)&btf_blob;
		attr->btf_size = sizeof(btf_blob);
		if (token >= 0) {
			attr->btf_flags = BPF_F_TOKEN_FD;
			attr->btf_token_fd = token;
		}
		break;
	default:
		cmd = BPF_PROG_LOAD;
		attr->prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		attr->insns = (__u64)(unsigned long)prog_insns;
		attr->insn_cnt = ARRAY_SIZE(prog_insns);
		attr->license = (__u64)(unsigned long)prog_license;
		if (token >= 0) {
			attr->prog_flags = BPF_F_TOKEN_FD;
			attr->prog_token_fd = token;
		}
		break;
	}
	fd = syscall(__NR_bpf, cmd, attr, size);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int do_op(int op, int token)
{
	return do_op_in(&op_buf.attr, op_size, op, token);
}

/* One op, marked for a tracer as case @c (see -T). */
static int do_marked_op(int op, int token, int c)
{
	int err;

	op_size = TRACE_MARK + c;
	err = do_op(op, token);
	op_size = sizeof(union bpf_attr);
	return err;
}

/* Time @n iterations of @op into @out. Returns 0 or the first -errno. */
static int run_op(int op, int token, uint64_t *out, int n)
{
	int i, err;

	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		err = do_op(op, token);
		out[i] = now_ns() - t0;
		if (err)
			return err;
	}
	return 0;
}

/* ---- the child, root of its own user namespace ---- */

enum {
	REQ_SETUP = 1, REQ_RUN, REQ_PROBE, REQ_SCALE_CREATE, REQ_SCALE_CHECK,
	REQ_SCALE_TEARDOWN, REQ_MOUNT_FD, REQ_CONC, REQ_EXIT,
};

struct req {
	int cmd, a, b, c;
};

struct rep {
	int64_t ret;
	uint64_t t[4];
};

struct instance {
	int mnt, root, token;
};

/*
 * Make one delegated instance: fsopen, hand the context to the parent, which
 * configures it (and creates it, upstream's way), then create, mount, open
 * the root and make a token.  @t accumulates the child's own time.  The
 * parent's side is serve_instance().
 */
static int instance_create(int sock, struct instance *in, uint64_t *t)
{
	uint64_t t0, t1;
	int fs, ok, err = 0;

	t0 = now_ns();
	fs = sys_fsopen("bpf", FSOPEN_CLOEXEC);
	t1 = now_ns();
	*t += t1 - t0;
	/* A status first, so the parent never waits for an fd that is not coming. */
	if (fs < 0) {
		err = -errno;
		return send_int(sock, err) ?: err;
	}
	if (send_int(sock, 0) || send_fd(sock, fs) || recv_int(sock, &ok)) {
		close(fs);
		return -EIO;
	}
	if (ok) {
		close(fs);
		return ok;
	}
	t0 = now_ns();
	if (mode == MODE_DELEGATE && sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		err = -errno;
	in->mnt = err ? -1 : sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (!err && in->mnt < 0)
		err = -errno;
	close(fs);
	/* BPF_TOKEN_CREATE uses fdget(), which skips O_PATH files. */
	in->root = err ? -1 : openat(in->mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!err && in->root < 0)
		err = -errno;
	in->token = err ? -1 : token_create(in->root);
	if (!err && in->token < 0)
		err = in->token;
	*t += now_ns() - t0;
	return err;
}

static void instance_close(struct instance *in)
{
	if (in->token >= 0)
		close(in->token);
	if (in->root >= 0)
		close(in->root);
	if (in->mnt >= 0)
		close(in->mnt);
	*in = (struct instance){ -1, -1, -1 };
}

/* One thread of the concurrency case: map create+close until told to stop. */
struct conc_worker {
	pthread_t thread;
	int cpu, token, err;
	const volatile int *stop;
	uint64_t ops, ns;
};

static void *conc_worker_main(void *p)
{
	struct conc_worker *w = p;
	_Alignas(64) union bpf_attr attr;
	cpu_set_t set;
	uint64_t t0;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		w->err = -errno;
		return NULL;
	}
	t0 = now_ns();
	while (!*w->stop) {
		w->err = do_op_in(&attr, sizeof(attr), OP_MAP, w->token);
		if (w->err)
			break;
		w->ops++;
	}
	w->ns = now_ns() - t0;
	return NULL;
}

/*
 * Two threads on CPUs 0 and 1 through @tokens[0] and @tokens[1] for @ms
 * milliseconds; their operations and nanoseconds into @r->t[0..3].
 */
static int conc_run(const int *tokens, int ms, struct rep *r)
{
	struct conc_worker w[2] = {};
	volatile int stop = 0;
	int i, n = 0, err = 0;

	for (i = 0; i < 2; i++) {
		w[i].cpu = i;
		w[i].token = tokens[i];
		w[i].stop = &stop;
		err = -pthread_create(&w[i].thread, NULL, conc_worker_main, &w[i]);
		if (err)
			break;
		n++;
	}
	if (!err)
		usleep(ms * 1000);
	stop = 1;
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		err = err ?: w[i].err;
		r->t[2 * i] = w[i].ops;
		r->t[2 * i + 1] = w[i].ns;
	}
	return err;
}

static int child_main(int sock, void *arg)
{
	struct instance main_in = { -1, -1, -1 }, other_in = { -1, -1, -1 }, *many = NULL;
	int nmany = 0;
	struct req q;
	struct rep r;
	int i, fd;

	(void)arg;
	while (read(sock, &q, sizeof(q)) == sizeof(q)) {
		memset(&r, 0, sizeof(r));
		switch (q.cmd) {
		case REQ_SETUP:	/* q.a: 0 the main instance, 1 a second one */
			r.ret = instance_create(sock, q.a ? &other_in : &main_in, &r.t[0]);
			break;
		case REQ_MOUNT_FD:	/* instance q.a's mount, to the parent */
			if (send_fd(sock, q.a ? other_in.mnt : main_in.mnt))
				return 25;
			break;
		case REQ_CONC: {	/* q.a instances (1 or 2), q.b milliseconds */
			int tokens[2] = { main_in.token, q.a > 1 ? other_in.token : main_in.token };

			r.ret = conc_run(tokens, q.b, &r);
			break;
		}
		case REQ_PROBE:	/* one op through case q.a; the errno is the answer */
			fd = q.a == CASE_TOKEN ? main_in.token : main_in.root;
			r.ret = q.c ? do_marked_op(q.b, fd, q.a) : do_op(q.b, fd);
			break;
		case REQ_RUN:	/* case q.a, op q.b, round q.c */
			fd = q.a == CASE_TOKEN ? main_in.token : main_in.root;
			r.ret = run_op(q.b, fd, slot(q.a, q.b, q.c), iters);
			break;
		case REQ_SCALE_CREATE:	/* q.a more instances */
			many = realloc(many, sizeof(*many) * (nmany + q.a));
			if (!many)
				return 20;
			for (i = 0; i < q.a && !r.ret; i++) {
				struct instance *in = &many[nmany];

				*in = (struct instance){ -1, -1, -1 };
				r.ret = instance_create(sock, in, &r.t[0]);
				nmany++;
				/* The parent waits for each instance's outcome. */
				if (send_int(sock, (int)r.ret))
					return 24;
			}
			break;
		case REQ_SCALE_CHECK:
			r.t[0] = now_ns();
			for (i = 0; i < nmany && !r.ret; i++)
				r.ret = do_op(OP_MAP, many[i].token);
			r.t[0] = now_ns() - r.t[0];
			break;
		case REQ_SCALE_TEARDOWN:
			r.t[0] = now_ns();
			for (i = 0; i < nmany; i++)
				instance_close(&many[i]);
			r.t[0] = now_ns() - r.t[0];
			nmany = 0;
			break;
		case REQ_EXIT:
			instance_close(&main_in);
			instance_close(&other_in);
			return 0;
		default:
			return 21;
		}
		if (write(sock, &r, sizeof(r)) != sizeof(r))
			return 22;
	}
	return 23;
}

/* ---- the parent, root of the initial user namespace ---- */

struct child {
	pid_t pid;
	int sock, userns;
};

static int child_send(struct child *ch, int cmd, int a, int b, int c)
{
	struct req q = { cmd, a, b, c };

	return write(ch->sock, &q, sizeof(q)) == sizeof(q) ? 0 : -EIO;
}

static int child_recv(struct child *ch, struct rep *r)
{
	return read(ch->sock, r, sizeof(*r)) == sizeof(*r) ? 0 : -EIO;
}

static int child_call(struct child *ch, int cmd, int a, int b, int c, struct rep *r)
{
	return child_send(ch, cmd, a, b, c) ?: child_recv(ch, r);
}

/* The privileged side of one instance: receive, configure, answer. */
static int serve_instance(struct child *ch, enum mode m, uint64_t *t)
{
	static const char *const keys[] = { "delegate_cmds", "delegate_maps",
					    "delegate_progs", "delegate_attachs" };
	int fs, err = 0, i;
	uint64_t t0;

	if (recv_int(ch->sock, &err))
		return -EIO;
	if (err)
		return err;	/* the child's fsopen() failed */
	fs = recv_fd(ch->sock);
	if (fs < 0)
		return fs;
	t0 = now_ns();
	if (m == MODE_DELEGATE) {
		err = set_fd(fs, "delegate_userns", ch->userns);
		err = err ?: set_opts(fs, ~0ULL, ~0ULL, ~0ULL, ~0ULL);
		err = err ?: set_flag(fs, "delegate");
	} else {
		for (i = 0; i < 4 && !err; i++)
			err = set_string(fs, keys[i], "any");
		if (!err && sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
			err = -errno;
	}
	*t += now_ns() - t0;
	close(fs);
	return send_int(ch->sock, err) ?: err;
}

static int start_child(struct child *ch)
{
	char path[64];

	ch->pid = spawn_userns_child(child_main, NULL, &ch->sock);
	if (ch->pid < 0)
		return ch->pid;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", ch->pid);
	ch->userns = open(path, O_RDONLY | O_CLOEXEC);
	return ch->userns < 0 ? -errno : 0;
}

static int stop_child(struct child *ch)
{
	struct req q = { REQ_EXIT, 0, 0, 0 };
	int ret;

	if (write(ch->sock, &q, sizeof(q)) != sizeof(q))
		kill(ch->pid, SIGKILL);
	ret = wait_child(ch->pid);
	close(ch->sock);
	close(ch->userns);
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Quantile @q of sorted @v (nearest rank, interpolated). */
static double quantile(const uint64_t *v, size_t n, double q)
{
	double pos = q * (n - 1);
	size_t i = (size_t)pos;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

struct stats {
	bool na;
	int err;
	size_t n;
	double median, min, max, q1, q3, tmean, rmed_min, rmed_max;
};

static void compute(uint64_t *v, size_t n, struct stats *s)
{
	uint64_t *all = malloc(n * sizeof(*all));
	uint64_t *round = malloc(iters * sizeof(*round));
	int r;

	memcpy(all, v, n * sizeof(*all));
	qsort(all, n, sizeof(*all), cmp_u64);
	s->n = n;
	s->median = quantile(all, n, 0.5);
	s->q1 = quantile(all, n, 0.25);
	s->q3 = quantile(all, n, 0.75);
	s->min = all[0];
	s->max = all[n - 1];
	/* Mean without the top and bottom 5 %: the distributions can be bimodal. */
	{
		size_t lo = n / 20, hi = n - n / 20, i;
		double sum = 0;

		for (i = lo; i < hi; i++)
			sum += all[i];
		s->tmean = sum / (hi - lo);
	}
	/* The spread of the per-round medians shows drift between rounds. */
	for (r = 0; r < (int)(n / iters); r++) {
		double m;

		memcpy(round, v + (size_t)r * iters, iters * sizeof(*round));
		qsort(round, iters, sizeof(*round), cmp_u64);
		m = quantile(round, iters, 0.5);
		if (!r || m < s->rmed_min)
			s->rmed_min = m;
		if (!r || m > s->rmed_max)
			s->rmed_max = m;
	}
	free(round);
	free(all);
}

/* The first word of a file, or "?". */
static void read_word(const char *path, char *buf, size_t size)
{
	char fmt[16];
	FILE *f = fopen(path, "r");

	snprintf(buf, size, "?");
	if (!f)
		return;
	snprintf(fmt, sizeof(fmt), "%%%zus", size - 1);
	if (fscanf(f, fmt, buf) != 1)
		snprintf(buf, size, "?");
	fclose(f);
}

static void print_stats(const char *op, const char *c, const struct stats *s)
{
	printf("bench op=%s case=%s median=%.0f min=%.0f max=%.0f q1=%.0f q3=%.0f",
	       op, c, s->median, s->min, s->max, s->q1, s->q3);
	printf(" tmean=%.0f rmed_min=%.0f rmed_max=%.0f n=%zu\n",
	       s->tmean, s->rmed_min, s->rmed_max, s->n);
}

static void print_meta(void)
{
	char cs[64], ubd[16];
	struct utsname u;

	uname(&u);
	read_word("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  cs, sizeof(cs));
	read_word("/proc/sys/kernel/unprivileged_bpf_disabled", ubd, sizeof(ubd));
	printf("meta kernel=%s cpus=%ld clocksource=%s unprivileged_bpf_disabled=%s",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), cs, ubd);
	printf(" mode=%s scale_mode=%s%s%s", mode_names[mode], mode_names[scale_modes[0]],
	       nr_scale_modes > 1 ? "," : "",
	       nr_scale_modes > 1 ? mode_names[scale_modes[1]] : "");
	printf(" rounds=%d iters=%d warmup=%d scale=%d\n", rounds, iters, warmup,
	       skip_scale ? 0 : scale_count);
}

/* "op case round iteration time" lines, for histograms. */
static void dump_samples(const bool *have)
{
	FILE *f = fopen(dump_path, "w");
	int c, op, r, i;

	if (!f) {
		perror(dump_path);
		return;
	}
	for (op = 0; op < NR_OPS; op++)
		for (c = 0; c < NR_CASES; c++)
			for (r = 0; have[c] && r < rounds; r++)
				for (i = 0; i < iters; i++)
					fprintf(f, "%s %s %d %d %llu\n", op_names[op],
						case_names[c], r, i,
						(unsigned long long)slot(c, op, r)[i]);
	fclose(f);
}

static int bench_paths(void)
{
	struct stats st[NR_CASES][NR_OPS] = {}, cst;
	uint64_t *clk, t = 0;
	bool have[NR_CASES] = { true, true, true };
	struct child ch;
	struct rep r;
	int c, op, round, i, k, ret = 0;

	samples = mmap(NULL, sizeof(uint64_t) * NR_CASES * NR_OPS * rounds * iters,
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	clk = malloc(sizeof(*clk) * rounds * iters);
	if (samples == MAP_FAILED || !clk)
		return -ENOMEM;
	ret = start_child(&ch);
	if (ret) {
		fprintf(stderr, "bench: cannot start the user namespace child: %d\n", ret);
		return ret;
	}
	/* The child hands its context over for configuration, then answers. */
	ret = child_send(&ch, REQ_SETUP, 0, 0, 0) ?: serve_instance(&ch, mode, &t);
	ret = child_recv(&ch, &r) ?: ret ?: (int)r.ret;
	if (ret) {
		fprintf(stderr, "bench: no delegated instance (mode %s): %s\n",
			mode_names[mode], strerror(-ret));
		goto out;
	}

	/* Every case must work before anything is timed; bpffs may be n/a. */
	for (op = 0; op < NR_OPS; op++) {
		ret = do_op(op, -1);
		if (ret) {
			fprintf(stderr, "bench: %s as init root: %s\n", op_names[op],
				strerror(-ret));
			goto out;
		}
		for (c = CASE_TOKEN; c < NR_CASES; c++) {
			if (child_call(&ch, REQ_PROBE, c, op, 0, &r)) {
				ret = -EIO;
				goto out;
			}
			if (!r.ret)
				continue;
			if (c == CASE_BPFFS && !expect_fd) {
				have[c] = false;
				st[c][op].err = (int)-r.ret;
				continue;
			}
			ret = (int)r.ret;
			fprintf(stderr, "bench: %s through %s: %s\n", op_names[op], case_names[c],
				strerror(-ret));
			goto out;
		}
	}

	for (round = -warmup; round < rounds; round++) {
		int rr = round < 0 ? 0 : round;	/* warm-up rounds are overwritten */

		for (i = 0; i < iters; i++) {	/* what timing itself costs */
			uint64_t t0 = now_ns();

			clk[rr * iters + i] = now_ns() - t0;
		}
		for (op = 0; op < NR_OPS; op++) {
			for (k = 0; k < NR_CASES; k++) {
				c = (k + rr) % NR_CASES;	/* rotate who goes first */
				if (!have[c])
					continue;
				if (c == CASE_INIT)
					ret = run_op(op, -1, slot(c, op, rr), iters);
				else
					ret = child_call(&ch, REQ_RUN, c, op, rr, &r) ?: (int)r.ret;
				if (ret) {
					fprintf(stderr, "bench: round %d, %s %s: %s\n", round,
						op_names[op], case_names[c], strerror(-ret));
					goto out;
				}
			}
		}
	}

	/* Warm, so the marked calls take the steady state's path. */
	for (op = 0; trace_marks && op < NR_OPS; op++) {
		for (c = 0; c < NR_CASES; c++) {
			if (!have[c])
				continue;
			if (c == CASE_INIT)
				ret = do_marked_op(op, -1, c);
			else
				ret = child_call(&ch, REQ_PROBE, c, op, 1, &r) ?: (int)r.ret;
			if (ret) {
				fprintf(stderr, "bench: marked %s %s: %s\n", op_names[op],
					case_names[c], strerror(-ret));
				goto out;
			}
			printf("trace op=%s cmd=%d case=%s size=%d\n", op_names[op], op_cmds[op],
			       case_names[c], TRACE_MARK + c);
		}
	}

	if (dump_path)
		dump_samples(have);
	compute(clk, (size_t)rounds * iters, &cst);
	print_stats("clock", "none", &cst);
	for (op = 0; op < NR_OPS; op++) {
		for (c = 0; c < NR_CASES; c++) {
			struct stats *s = &st[c][op];

			if (!have[c]) {
				const char *e = strerrorname_np(s->err);

				s->na = true;
				if (!e)
					e = "?";
				printf("bench op=%s case=%s na=1 err=%s\n", op_names[op],
				       case_names[c], e);
				continue;
			}
			compute(slot(c, op, 0), (size_t)rounds * iters, s);
			print_stats(op_names[op], case_names[c], s);
		}
		printf("bench op=%s ratio token/init=%.4f", op_names[op],
		       st[CASE_TOKEN][op].median / st[CASE_INIT][op].median);
		if (have[CASE_BPFFS])
			printf(" bpffs/init=%.4f bpffs/token=%.4f extra_bpffs_vs_token=%.0f",
			       st[CASE_BPFFS][op].median / st[CASE_INIT][op].median,
			       st[CASE_BPFFS][op].median / st[CASE_TOKEN][op].median,
			       st[CASE_BPFFS][op].median - st[CASE_TOKEN][op].median);
		printf("\n");
	}

	printf("\n# per-iteration time (ns; under icount: instructions), %d rounds x %d\n",
	       rounds, iters);
	printf("# %-5s %-6s %10s %10s %10s %10s %10s %10s %18s\n", "op", "case", "median", "q1",
	       "q3", "min", "max", "tmean", "round medians");
	for (op = 0; op < NR_OPS; op++) {
		for (c = 0; c < NR_CASES; c++) {
			struct stats *s = &st[c][op];

			if (s->na) {
				printf("# %-5s %-6s %10s\n", op_names[op], case_names[c], "n/a");
				continue;
			}
			printf("# %-5s %-6s %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f",
			       op_names[op], case_names[c], s->median, s->q1, s->q3, s->min,
			       s->max, s->tmean);
			printf(" %8.0f..%-8.0f\n", s->rmed_min, s->rmed_max);
		}
	}
	printf("#\n# %-5s %12s %12s %12s\n", "op", "token/init", "bpffs/init", "bpffs/token");
	for (op = 0; op < NR_OPS; op++) {
		printf("# %-5s %12.4f", op_names[op],
		       st[CASE_TOKEN][op].median / st[CASE_INIT][op].median);
		if (have[CASE_BPFFS])
			printf(" %12.4f %12.4f\n",
			       st[CASE_BPFFS][op].median / st[CASE_INIT][op].median,
			       st[CASE_BPFFS][op].median / st[CASE_TOKEN][op].median);
		else
			printf(" %12s %12s\n", "n/a", "n/a");
	}
	printf("\n");
	ret = 0;
out:
	c = stop_child(&ch);
	if (!ret && c) {
		fprintf(stderr, "bench: the child exited with %d\n", c);
		ret = -ECHILD;
	}
	return ret;
}

/* ---- concurrency ---- */

enum { WRITER_NONE, WRITER_RECONFIGURE, NR_WRITERS };

static const char *const writer_names[NR_WRITERS] = { "none", "reconfigure" };

/*
 * Pass @k of the privileged side's loop on mount @mnt: a reconfigure context
 * with the abilities of pass @k, committed when @commit.  Both sets allow the
 * workers' array maps; every other one drops XDP programs (a mask that is
 * not "any" may name only this kernel's program types).
 */
static int conc_write(int mnt, uint64_t k, bool commit)
{
	__u64 progs = k & 1 ? ((1ULL << __MAX_BPF_PROG_TYPE) - 1) & ~(1ULL << BPF_PROG_TYPE_XDP) :
			      ~0ULL;
	int fs, ret;

	fs = sys_fspick(mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (fs < 0)
		return -errno;
	ret = set_opts(fs, ~0ULL, ~0ULL, progs, ~0ULL);
	if (!ret && commit && sys_fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0))
		ret = -errno;
	if (ret) {
		char log[512];

		read_log(fs, log, sizeof(log));
		fprintf(stderr, "conc: write %llu: %s", (unsigned long long)k, log);
	}
	close(fs);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench_conc(void)
{
	/* Operations per second of both threads, [instances - 1][writer][round]. */
	double *tput = calloc(2 * NR_WRITERS * conc_rounds, sizeof(*tput));
	double med[2][NR_WRITERS], sorted[conc_rounds];
	int mnt[2] = { -1, -1 }, round, k, i, w, ret = 0, c;
	uint64_t t = 0;
	struct child ch;
	struct rep r;

	if (!tput)
		return -ENOMEM;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "conc: needs two CPUs\n");
		free(tput);
		return -EINVAL;
	}
	mode = MODE_DELEGATE;	/* the scale case may have left it upstream's */
	ret = start_child(&ch);
	if (ret) {
		fprintf(stderr, "conc: cannot start the user namespace child: %d\n", ret);
		free(tput);
		return ret;
	}
	/* Two delegated instances, each with a token; their mounts to us. */
	for (i = 0; i < 2 && !ret; i++) {
		ret = child_send(&ch, REQ_SETUP, i, 0, 0) ?: serve_instance(&ch, MODE_DELEGATE, &t);
		ret = child_recv(&ch, &r) ?: ret ?: (int)r.ret;
		if (!ret && child_send(&ch, REQ_MOUNT_FD, i, 0, 0))
			ret = -EIO;
		if (!ret) {
			mnt[i] = recv_fd(ch.sock);
			ret = mnt[i] < 0 ? mnt[i] : child_recv(&ch, &r);
		}
		ret = ret ?: child_call(&ch, REQ_PROBE, CASE_TOKEN, OP_MAP, 0, &r) ?: (int)r.ret;
	}
	if (ret) {
		fprintf(stderr, "conc: no delegated instances: %s\n", strerror(-ret));
		goto out;
	}

	for (round = 0; round < conc_rounds; round++) {
		for (k = 0; k < 2 * NR_WRITERS; k++) {
			int run = (k + round) % (2 * NR_WRITERS);	/* rotate who goes first */
			int n = 1 + run / NR_WRITERS, writer = run % NR_WRITERS, werr = 0;
			struct pollfd p = { .fd = ch.sock, .events = POLLIN };
			uint64_t writes = 0, t0 = now_ns();
			double rate;

			ret = child_send(&ch, REQ_CONC, n, conc_ms, 0);
			while (!ret && poll(&p, 1, 0) == 0) {
				werr = werr ?: conc_write(mnt[writes % n], writes,
							  writer == WRITER_RECONFIGURE);
				writes++;
				usleep(conc_pace_us);
			}
			ret = ret ?: child_recv(&ch, &r);
			t0 = now_ns() - t0;	/* the writer's run */
			if (ret || r.ret || werr || !r.t[1] || !r.t[3]) {
				fprintf(stderr, "conc: round %d, %d instance(s), writer %s: %s"
					" (creating: %s, writing: %s)\n", round, n,
					writer_names[writer], strerror(-ret),
					strerror(-(int)r.ret), strerror(-werr));
				ret = ret ?: (int)r.ret ?: werr ?: -EIO;
				goto out;
			}
			rate = 1e9 * r.t[0] / r.t[1] + 1e9 * r.t[2] / r.t[3];
			tput[((n - 1) * NR_WRITERS + writer) * conc_rounds + round] = rate;
			printf("conc round=%d instances=%d writer=%s ops=%llu,%llu ops_per_s=%.0f"
			       " writes=%llu writes_per_s=%.0f\n", round, n, writer_names[writer],
			       (unsigned long long)r.t[0], (unsigned long long)r.t[2], rate,
			       (unsigned long long)writes, 1e9 * writes / t0);
		}
	}
	for (i = 0; i < 2; i++) {
		for (w = 0; w < NR_WRITERS; w++) {
			memcpy(sorted, &tput[(i * NR_WRITERS + w) * conc_rounds],
			       sizeof(sorted));
			qsort(sorted, conc_rounds, sizeof(*sorted), cmp_double);
			med[i][w] = conc_rounds & 1 ? sorted[conc_rounds / 2] :
				    (sorted[conc_rounds / 2 - 1] + sorted[conc_rounds / 2]) / 2;
			printf("conc instances=%d writer=%s rounds=%d ms=%d pace_us=%d"
			       " median_ops_per_s=%.0f min=%.0f max=%.0f\n", i + 1,
			       writer_names[w], conc_rounds, conc_ms, conc_pace_us, med[i][w],
			       sorted[0], sorted[conc_rounds - 1]);
		}
		printf("conc instances=%d ratio reconfigure/none=%.4f\n", i + 1,
		       med[i][WRITER_RECONFIGURE] / med[i][WRITER_NONE]);
	}
	printf("\n");
out:
	for (i = 0; i < 2; i++)
		if (mnt[i] >= 0)
			close(mnt[i]);
	free(tput);
	c = stop_child(&ch);
	if (!ret && c) {
		fprintf(stderr, "conc: the child exited with %d\n", c);
		ret = -ECHILD;
	}
	return ret;
}

/* ---- scale ---- */

struct meminfo {
	long slab, sunreclaim, sreclaimable, percpu, memfree;	/* kB */
};

static void read_meminfo(struct meminfo *m)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		static const struct {
			const char *key;
			size_t off;
		} keys[] = {
			{ "Slab:", offsetof(struct meminfo, slab) },
			{ "SUnreclaim:", offsetof(struct meminfo, sunreclaim) },
			{ "SReclaimable:", offsetof(struct meminfo, sreclaimable) },
			{ "Percpu:", offsetof(struct meminfo, percpu) },
			{ "MemFree:", offsetof(struct meminfo, memfree) },
		};
		size_t i, len;

		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			len = strlen(keys[i].key);
			if (!strncmp(line, keys[i].key, len))
				*(long *)((char *)m + keys[i].off) = strtol(line + len, NULL, 10);
		}
	}
	fclose(f);
}

/* Let deferred frees (RCU, workqueues) run before a memory reading. */
static void settle(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		sync();
		usleep(20000);
	}
}

/* Sum of the active objects' sizes in /proc/slabinfo, in bytes; -1 without it. */
static long slabinfo_bytes(void)
{
	char line[512], name[64];
	long active, num, size, total = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &size) == 4)
			total += active * size;
	}
	fclose(f);
	return total;
}

static int bench_scale(int count, enum mode scale_mode)
{
	struct meminfo m0, m1, m2;
	long s0, s1, s2;
	uint64_t t_parent = 0, t_all, t_child;
	struct child ch;
	struct rep r;
	int i, ret, c;
	const char *mn = mode_names[scale_mode];

	mode = scale_mode;	/* instance_create() in the child reads it */
	ret = start_child(&ch);
	if (ret) {
		fprintf(stderr, "scale: cannot start the user namespace child: %d\n", ret);
		return ret;
	}
	settle();
	read_meminfo(&m0);
	s0 = slabinfo_bytes();

	/* The child makes them all in one request, one hand-off each. */
	t_all = now_ns();
	ret = child_send(&ch, REQ_SCALE_CREATE, count, 0, 0);
	for (i = 0; i < count && !ret; i++) {
		int status;

		ret = serve_instance(&ch, scale_mode, &t_parent);
		if (recv_int(ch.sock, &status))
			ret = -EIO;
		ret = ret ?: status;
	}
	if (child_recv(&ch, &r)) {
		ret = -EIO;
		goto out;
	}
	t_all = now_ns() - t_all;
	t_child = r.t[0];
	if (ret || r.ret) {
		ret = ret ?: (int)r.ret;
		fprintf(stderr, "scale: instance %d of %d (%s): %s\n", i, count, mn,
			strerror(-ret));
		goto out;
	}
	settle();
	read_meminfo(&m1);
	s1 = slabinfo_bytes();

	ret = child_call(&ch, REQ_SCALE_CHECK, 0, 0, 0, &r) ?: (int)r.ret;
	if (ret) {
		fprintf(stderr, "scale: map create through a token: %s\n", strerror(-ret));
		goto out;
	}
	printf("scale mode=%s n=%d phase=create per_instance=%.0f child=%.0f privileged=%.0f\n",
	       mn, count, (double)t_all / count, (double)t_child / count,
	       (double)t_parent / count);
	printf("scale mode=%s n=%d phase=check per_instance=%.0f\n", mn, count,
	       (double)r.t[0] / count);

	ret = child_call(&ch, REQ_SCALE_TEARDOWN, 0, 0, 0, &r) ?: (int)r.ret;
	if (ret)
		goto out;
	printf("scale mode=%s n=%d phase=teardown per_instance=%.0f\n", mn, count,
	       (double)r.t[0] / count);
	settle();
	read_meminfo(&m2);
	s2 = slabinfo_bytes();

	/* kB deltas while all are alive, bytes per instance, what teardown left */
	printf("scale mode=%s n=%d mem slab_kb=%ld sunreclaim_kb=%ld sreclaimable_kb=%ld",
	       mn, count, m1.slab - m0.slab, m1.sunreclaim - m0.sunreclaim,
	       m1.sreclaimable - m0.sreclaimable);
	printf(" percpu_kb=%ld memfree_kb=%ld", m1.percpu - m0.percpu, m0.memfree - m1.memfree);
	printf(" slab_per_instance=%.0f sunreclaim_per_instance=%.0f",
	       1024.0 * (m1.slab - m0.slab) / count,
	       1024.0 * (m1.sunreclaim - m0.sunreclaim) / count);
	printf(" percpu_per_instance=%.0f memfree_per_instance=%.0f",
	       1024.0 * (m1.percpu - m0.percpu) / count,
	       1024.0 * (m0.memfree - m1.memfree) / count);
	printf(" after_teardown_slab_kb=%ld after_teardown_sunreclaim_kb=%ld",
	       m2.slab - m0.slab, m2.sunreclaim - m0.sunreclaim);
	if (s0 >= 0)
		printf(" slabinfo_per_instance=%.0f slabinfo_after_teardown=%ld",
		       (double)(s1 - s0) / count, s2 - s0);
	else
		printf(" slabinfo=none");
	printf("\n\n");
out:
	c = stop_child(&ch);
	if (!ret && c) {
		fprintf(stderr, "scale: the child exited with %d\n", c);
		ret = -ECHILD;
	}
	return ret;
}

static void print_usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-r ROUNDS] [-n ITERS] [-w WARMUP_ROUNDS] [-s SCALE_COUNT]\n"
		"          [-m delegate|upstream] [-M delegate|upstream] [-f] [-P] [-S] [-T] [-c CPU]\n"
		"          [-D FILE] [-K MS [-k ROUNDS] [-p PACE_US]]\n"
		"  -m  how the syscall-path bench's bpffs is delegated (default delegate)\n"
		"  -M  the same for the scale case, or both, comma-separated (default delegate)\n"
		"  -f  the bpffs-fd case must work (the series' kernel)\n"
		"  -P  skip the syscall paths, -S skip the scale case\n"
		"  -T  after the timed rounds, one marked call of each op and case\n"
		"  -c  pin to one CPU\n"
		"  -D  write every per-iteration time to FILE\n"
		"  -K  the concurrency case, MS milliseconds a run (the series only),\n"
		"      ROUNDS rounds (default 5), PACE_US between two writes (default 1000)\n",
		argv0);
}

static int parse_mode(const char *s, enum mode *m)
{
	if (!strcmp(s, "delegate"))
		*m = MODE_DELEGATE;
	else if (!strcmp(s, "upstream"))
		*m = MODE_UPSTREAM;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	int opt, ret = 0, cpu = -1;

	while ((opt = getopt(argc, argv, "r:n:w:s:m:M:fPSTc:D:K:k:p:h")) != -1) {
		switch (opt) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			iters = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 's':
			scale_count = atoi(optarg);
			break;
		case 'm':
			if (parse_mode(optarg, &mode))
				goto bad;
			break;
		case 'M': {	/* one or two modes, comma-separated */
			char *comma = strchr(optarg, ',');

			if (comma)
				*comma++ = 0;
			nr_scale_modes = comma ? 2 : 1;
			if (parse_mode(optarg, &scale_modes[0]) ||
			    (comma && parse_mode(comma, &scale_modes[1])))
				goto bad;
			break;
		}
		case 'f':
			expect_fd = 1;
			break;
		case 'P':
			skip_paths = true;
			break;
		case 'S':
			skip_scale = true;
			break;
		case 'T':
			trace_marks = true;
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'D':
			dump_path = optarg;
			break;
		case 'K':
			conc_ms = atoi(optarg);
			break;
		case 'k':
			conc_rounds = atoi(optarg);
			break;
		case 'p':
			conc_pace_us = atoi(optarg);
			break;
		default:
			goto bad;
		}
	}
	if (rounds < 1 || iters < 1 || warmup < 0 || scale_count < 1 || conc_ms < 0 ||
	    conc_rounds < 1 || conc_pace_us < 0)
		goto bad;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			perror("sched_setaffinity");
	}
	/* Three fds per scale instance; the child cannot raise the limit itself. */
	rl.rlim_cur = 4 * (rlim_t)scale_count + 256;
	rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		perror("setrlimit(RLIMIT_NOFILE)");

	print_meta();
	if (!skip_paths)
		ret = bench_paths();
	for (opt = 0; opt < nr_scale_modes && !ret && !skip_scale; opt++)
		ret = bench_scale(scale_count, scale_modes[opt]);
	if (conc_ms && !ret)
		ret = bench_conc();
	printf("result %s\n", ret ? "FAIL" : "ok");
	return ret ? 1 : 0;
bad:
	print_usage(argv[0]);
	return 2;
}
