/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpffs delegation: the calls from the C glue (bpffs, BPF tokens) into the
 * delegation policy, which is written in Rust (kernel/bpf/delegation.rs).
 * See Documentation/bpf/bpffs_delegation.rst.
 */
#ifndef _LINUX_BPF_DELEGATION_H
#define _LINUX_BPF_DELEGATION_H

#include <linux/bits.h>
#include <linux/seqlock.h>
#include <linux/string.h>
#include <linux/types.h>
#include <uapi/linux/bpf.h>
#include <uapi/linux/capability.h>

struct bpf_token;
struct cgroup;
struct fs_context;
struct fs_parameter;
struct seq_file;

/*
 * What privileged callers asked for in one bpffs mount context, in call
 * order.  Lives in the context; only the Rust side writes it, the glue
 * reads only whether anything was asked (delegate, set, target).
 */
struct bpf_delegation_request {
	struct bpf_delegation_opts masks;	/* fields not named are 0 */
	u8 set;					/* fields named, a bit each */
	bool delegate;				/* the "delegate" flag */
	bool target;				/* "target_userns" was set */
};

/*
 * The live delegation of a bpffs superblock.  The Rust side allocates it
 * (refcounted, with this struct at its start), is its only writer and
 * replaces flags and masks as a whole under @lock; the bpf() path reads
 * them inline below, without a lock unless it meets a writer at work.
 * Readers run in process context: under PREEMPT_RT a reader that meets a
 * writer waits on the writer's spinlock, which sleeps, and without it a
 * reader interrupting its own CPU's writer would spin forever, so never
 * read from interrupt context or under a raw spinlock.
 */
struct bpf_delegation {
	seqlock_t lock;
	u32 flags;				/* BPF_DELEGATION_* */
	struct bpf_delegation_opts masks;	/* and the cgroup scope */
};

/*
 * Apply one parameter of bpffs context @fc to @req, the context's request,
 * from bpffs's parse_param.  Returns -ENOPARAM if it is none of
 * delegation's business, 0 if applied, or a negative errno with the reason
 * in @fc's log; a failed parameter leaves @req as it was.  Checks the
 * caller's CAP_SYS_ADMIN in the initial user namespace for delegation keys
 * only.
 */
int bpf_delegation_parse_param(struct fs_context *fc, struct fs_parameter *param,
			       struct bpf_delegation_request *req);

/*
 * May a superblock be created from a context that asked @req?  If so, make
 * its live delegation in *@out (one reference) and return 0; otherwise
 * -EPERM or -ENOMEM.
 */
int bpf_delegation_create(const struct bpf_delegation_request *req,
			  bool init_userns, struct bpf_delegation **out);

/*
 * May the current task commit a reconfigure context that asked @req?  0, or
 * -EPERM when @req carries delegation (fields or target_userns) and the
 * task lacks CAP_SYS_ADMIN in the initial user namespace at commit time.
 */
int bpf_delegation_may_commit(const struct bpf_delegation_request *req);

/* Apply the fields a reconfigure context named, atomically. */
void bpf_delegation_reconfigure(struct bpf_delegation *d,
				const struct bpf_delegation_request *req);

/*
 * Apply the fields a reconfigure context named to @pending, the request of
 * a creation context that has not created its instance yet.
 */
void bpf_delegation_narrow_pending(struct bpf_delegation_request *pending,
				   const struct bpf_delegation_request *req);

/* Flags of a delegation's state. */
#define BPF_DELEGATION_DELEGATED	(1U << 0)	/* created under "delegate" */
#define BPF_DELEGATION_DEAD		(1U << 1)	/* its superblock is gone */

/*
 * Why a live delegation refused a question (bpf_delegation_refusal()):
 * names for the target_userns report, words for the tracepoint.
 */
enum bpf_delegation_why {
	BPF_DELEGATION_ALLOWED,
	BPF_DELEGATION_WHY_GONE,		/* the superblock is gone */
	BPF_DELEGATION_WHY_NOTHING,		/* nothing delegated: a reset */
	BPF_DELEGATION_WHY_CMD,
	BPF_DELEGATION_WHY_MAP_TYPE,
	BPF_DELEGATION_WHY_PROG_TYPE_MISSING,	/* an attach type alone */
	BPF_DELEGATION_WHY_ATTACH_TYPE_MISSING,	/* a program type alone */
	BPF_DELEGATION_WHY_PROG_TYPE,
	BPF_DELEGATION_WHY_ATTACH_TYPE,
	/*
	 * The delegation allowed it; the command's capability check in the
	 * instance's user namespace (or the LSM's token_capable) did not.
	 */
	BPF_DELEGATION_WHY_CAP_BPF,
	BPF_DELEGATION_WHY_CAP_NET_ADMIN,
	BPF_DELEGATION_WHY_CAP_PERFMON,
	BPF_DELEGATION_WHY_CAP_SYS_ADMIN,
};

static inline const char *bpf_delegation_why_name(enum bpf_delegation_why why)
{
	switch (why) {
	case BPF_DELEGATION_ALLOWED:
		return "allowed";
	case BPF_DELEGATION_WHY_GONE:
		return "gone";
	case BPF_DELEGATION_WHY_NOTHING:
		return "nothing";
	case BPF_DELEGATION_WHY_CMD:
		return "cmd";
	case BPF_DELEGATION_WHY_MAP_TYPE:
		return "map_type";
	case BPF_DELEGATION_WHY_PROG_TYPE_MISSING:
		return "prog_type_missing";
	case BPF_DELEGATION_WHY_ATTACH_TYPE_MISSING:
		return "attach_type_missing";
	case BPF_DELEGATION_WHY_PROG_TYPE:
		return "prog_type";
	case BPF_DELEGATION_WHY_ATTACH_TYPE:
		return "attach_type";
	case BPF_DELEGATION_WHY_CAP_BPF:
		return "cap_bpf";
	case BPF_DELEGATION_WHY_CAP_NET_ADMIN:
		return "cap_net_admin";
	case BPF_DELEGATION_WHY_CAP_PERFMON:
		return "cap_perfmon";
	case BPF_DELEGATION_WHY_CAP_SYS_ADMIN:
		return "cap_sys_admin";
	}
	return "unknown";
}

static inline const char *bpf_delegation_why_words(enum bpf_delegation_why why)
{
	switch (why) {
	case BPF_DELEGATION_ALLOWED:
		return "allowed";
	case BPF_DELEGATION_WHY_GONE:
		return "the instance is gone";
	case BPF_DELEGATION_WHY_NOTHING:
		return "nothing delegated";
	case BPF_DELEGATION_WHY_CMD:
		return "command not delegated";
	case BPF_DELEGATION_WHY_MAP_TYPE:
		return "map type not delegated";
	case BPF_DELEGATION_WHY_PROG_TYPE_MISSING:
		return "attach type without a program type";
	case BPF_DELEGATION_WHY_ATTACH_TYPE_MISSING:
		return "program type without an attach type";
	case BPF_DELEGATION_WHY_PROG_TYPE:
		return "program type not delegated";
	case BPF_DELEGATION_WHY_ATTACH_TYPE:
		return "attach type not delegated";
	case BPF_DELEGATION_WHY_CAP_BPF:
		return "CAP_BPF missing in the instance's user namespace";
	case BPF_DELEGATION_WHY_CAP_NET_ADMIN:
		return "CAP_NET_ADMIN missing in the instance's user namespace";
	case BPF_DELEGATION_WHY_CAP_PERFMON:
		return "CAP_PERFMON missing in the instance's user namespace";
	case BPF_DELEGATION_WHY_CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN missing in the instance's user namespace";
	}
	return "unknown";
}

/*
 * One refusal, as an instance keeps it for the delegating side: what was
 * asked (a type not asked is -1), why it was refused, and who asked.
 */
struct bpf_delegation_refused {
	u64 seq;		/* 1 for the instance's first refusal */
	s64 map_type;
	s64 prog_type;
	s64 attach_type;
	u32 cmd;
	u32 why;		/* enum bpf_delegation_why */
	s32 pid;		/* tgid in the initial pid namespace */
	s32 vpid;		/* tgid in the caller's own pid namespace */
	char comm[16];		/* TASK_COMM_LEN */
};

/* How many refusals an instance keeps: the newest. */
#define BPF_DELEGATION_REFUSALS	6

/*
 * A delegated command's capability check said no to the caller, who came
 * with @token (NULL: nothing to keep): keep and trace it as the
 * delegation's own refusals are (kernel/bpf/token.c).  Call it only where
 * the "no" refuses the command, not where a capability only widens what
 * an allowed command may do.
 */
void bpf_token_refused_cap(const struct bpf_token *token, int cap, u32 cmd,
			   s64 map_type, s64 prog_type, s64 attach_type);

/* ",delegate,delegate_cmds=...": the mount options of @d. */
void bpf_delegation_show(struct bpf_delegation *d, struct seq_file *m);

/*
 * What bpffs and tokens call whether or not the feature is built in.
 * Without CONFIG_BPF_DELEGATION there is no delegation object (the
 * pointers are NULL): nothing to count or kill, a read leaves the caller's
 * masks as they are, and cgroup attachment is not limited, as upstream.
 */
#ifdef CONFIG_BPF_DELEGATION
/*
 * A consistent snapshot of the masks into @out; returns the flags.  @d may
 * be NULL (nothing delegated: @out is zeroed).  Without the feature, @out
 * is left as the caller filled it (a token's own masks) and 0 returned.
 */
static inline u32 bpf_delegation_read(const struct bpf_delegation *d,
				      struct bpf_delegation_opts *out)
{
	unsigned int seq;
	u32 flags;

	if (!d) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	do {
		seq = read_seqbegin(&d->lock);
		flags = d->flags;
		*out = d->masks;
	} while (read_seqretry(&d->lock, seq));
	return flags;
}

/*
 * Why @d refuses @cmd with the map type or the program and attach types
 * (negative: not part of the question), or BPF_DELEGATION_ALLOWED (0).
 * One snapshot decides all bits; a dead or NULL delegation allows
 * nothing, nor do types beyond this kernel's enums (even "any"), nor half
 * a program question (a program type without an attach type, or the
 * reverse).
 */
static inline enum bpf_delegation_why
bpf_delegation_refusal(const struct bpf_delegation *d, u32 cmd, s64 map_type,
		       s64 prog_type, s64 attach_type)
{
	struct bpf_delegation_opts m;

	if (bpf_delegation_read(d, &m) & BPF_DELEGATION_DEAD)
		return BPF_DELEGATION_WHY_GONE;
	if (cmd >= __MAX_BPF_CMD || !(m.cmds & BIT_ULL(cmd)))
		return m.cmds | m.maps | m.progs | m.attachs ?
		       BPF_DELEGATION_WHY_CMD : BPF_DELEGATION_WHY_NOTHING;
	if (map_type >= 0 && (map_type >= __MAX_BPF_MAP_TYPE ||
			      !(m.maps & BIT_ULL(map_type))))
		return BPF_DELEGATION_WHY_MAP_TYPE;
	if (prog_type < 0)
		return attach_type < 0 ? BPF_DELEGATION_ALLOWED :
		       BPF_DELEGATION_WHY_PROG_TYPE_MISSING;
	if (attach_type < 0)
		return BPF_DELEGATION_WHY_ATTACH_TYPE_MISSING;
	if (prog_type >= __MAX_BPF_PROG_TYPE || !(m.progs & BIT_ULL(prog_type)))
		return BPF_DELEGATION_WHY_PROG_TYPE;
	if (attach_type >= __MAX_BPF_ATTACH_TYPE || !(m.attachs & BIT_ULL(attach_type)))
		return BPF_DELEGATION_WHY_ATTACH_TYPE;
	return BPF_DELEGATION_ALLOWED;
}

/*
 * Does @d allow @cmd with these types?  The same answer as
 * !bpf_delegation_refusal(), at the cost of the bpf() path: what no
 * snapshot can allow is refused before reading one, and the snapshot is
 * the flags and the two or three words the question needs, tested inside
 * the read section, not a copy of all of them.  Process context only, as
 * every reader of struct bpf_delegation.
 */
static inline bool bpf_delegation_allows(const struct bpf_delegation *d,
					 u32 cmd, s64 map_type, s64 prog_type,
					 s64 attach_type)
{
	unsigned int seq;
	bool ok;

	if (!d || cmd >= __MAX_BPF_CMD || map_type >= __MAX_BPF_MAP_TYPE ||
	    prog_type >= __MAX_BPF_PROG_TYPE ||
	    attach_type >= __MAX_BPF_ATTACH_TYPE ||
	    (prog_type < 0) != (attach_type < 0))
		return false;
	do {
		seq = read_seqbegin(&d->lock);
		ok = !(d->flags & BPF_DELEGATION_DEAD) &&
		     (d->masks.cmds & BIT_ULL(cmd)) &&
		     (map_type < 0 || (d->masks.maps & BIT_ULL(map_type))) &&
		     (prog_type < 0 ||
		      ((d->masks.progs & BIT_ULL(prog_type)) &&
		       (d->masks.attachs & BIT_ULL(attach_type))));
	} while (read_seqretry(&d->lock, seq));
	return ok;
}

/*
 * May a program loaded through @d be attached to (or detached from) @cgrp,
 * which the caller holds, as @attach_type, @multi with BPF_F_ALLOW_MULTI?
 * Only if the type is in the live attachs mask and, when @d is scoped to a
 * cgroup, @cgrp is that cgroup or below it, @multi, and the type is not
 * BPF_LSM_CGROUP.  Same context rules as a read.
 */
bool bpf_delegation_allows_cgroup_attach(struct bpf_delegation *d,
					 struct cgroup *cgrp, u32 attach_type,
					 bool multi);

/* The superblock is going away: allow nothing more through @d. */
void bpf_delegation_kill(struct bpf_delegation *d);

/*
 * Keep @r, a refusal by @d (which may be NULL), among @d's newest
 * BPF_DELEGATION_REFUSALS; its seq is assigned here.  Process context.
 */
void bpf_delegation_record(struct bpf_delegation *d,
			   const struct bpf_delegation_refused *r);

/*
 * Copy the newest of @d's kept refusals, at most @max, oldest first, into
 * @out and return how many; *@total is how many @d refused in its life.
 */
unsigned int bpf_delegation_refusals(struct bpf_delegation *d,
				     struct bpf_delegation_refused *out,
				     unsigned int max, u64 *total);

void bpf_delegation_get(struct bpf_delegation *d);
void bpf_delegation_put(struct bpf_delegation *d);
#else
static inline u32 bpf_delegation_read(const struct bpf_delegation *d,
				      struct bpf_delegation_opts *out)
{
	return 0;
}

static inline enum bpf_delegation_why
bpf_delegation_refusal(const struct bpf_delegation *d, u32 cmd, s64 map_type,
		       s64 prog_type, s64 attach_type)
{
	return BPF_DELEGATION_WHY_NOTHING;
}

static inline bool bpf_delegation_allows(const struct bpf_delegation *d,
					 u32 cmd, s64 map_type, s64 prog_type,
					 s64 attach_type)
{
	return false;
}

static inline bool bpf_delegation_allows_cgroup_attach(struct bpf_delegation *d,
						       struct cgroup *cgrp,
						       u32 attach_type, bool multi)
{
	return true;
}

static inline void bpf_delegation_kill(struct bpf_delegation *d) {}
static inline void bpf_delegation_record(struct bpf_delegation *d,
					 const struct bpf_delegation_refused *r) {}
static inline unsigned int bpf_delegation_refusals(struct bpf_delegation *d,
						   struct bpf_delegation_refused *out,
						   unsigned int max, u64 *total)
{
	*total = 0;
	return 0;
}
static inline void bpf_delegation_get(struct bpf_delegation *d) {}
static inline void bpf_delegation_put(struct bpf_delegation *d) {}
#endif /* CONFIG_BPF_DELEGATION */

#endif /* _LINUX_BPF_DELEGATION_H */
