// SPDX-License-Identifier: GPL-2.0
/*
 * A storm of random and edge-case fsconfig() calls on bpffs contexts: a
 * fresh context before it is created, and reconfigure contexts of a mounted
 * delegated instance.  The test keeps a model of what every call it expects
 * to be accepted sets and of the errno every other call gets, checks each
 * call against it, and checks the instance against the model afterwards:
 * mountinfo, the fdinfo of a BPF token and, now and then, map and program
 * creation from the user namespace.  The cgroup scope is part of the model:
 * VER1 structs and delegate_cgroup strings name no cgroup, cgroups the test
 * made, or ids that name none (a removed cgroup, a cgroup2 file; ENOENT);
 * a struct shorter than VER1 replaces the masks and leaves the scope alone
 * (what it has of cgroup_id must still name a cgroup if it is not 0).
 * Callers without CAP_SYS_ADMIN in the initial user namespace (a helper
 * with the capability dropped, uid 65534, the container's own root) throw
 * the same calls in between; they must be refused and change nothing.
 *
 * Bounded by a number of calls and a time budget, whichever comes first:
 *   BPFFS_STORM_CALLS    calls in all (default 100000), half for each part
 *   BPFFS_STORM_SECONDS  time budget of each part (default 8)
 *   BPFFS_STORM_SEED     random seed (default: from the clock; printed)
 */
#include "delegation_agent.h"
#include <time.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include "../kselftest_harness.h"

BPFFS_REQUIRE(BPFFS_DELEGATION)

#define MNT "/tmp/bpffs-storm"
/* Where the test mounts cgroup2 if /sys/fs/cgroup is not cgroup2. */
#define CGMNT "/tmp/bpffs-storm-cgroup"
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef BPF_DELEGATION_OPTS_SIZE_VER1
#define BPF_DELEGATION_OPTS_SIZE_VER1 40
#endif
#define VER0 BPF_DELEGATION_OPTS_SIZE_VER0
#define VER1 BPF_DELEGATION_OPTS_SIZE_VER1
#define GATED ((1ULL << BPF_MAP_CREATE) | (1ULL << BPF_PROG_LOAD) | (1ULL << BPF_BTF_LOAD) | \
	       (1ULL << BPF_BTF_GET_FD_BY_ID))
#define ANY (~0ULL)
#define BIG (1 << 20)

enum { F_CMDS, F_MAPS, F_PROGS, F_ATTACHS, F_NR };

static const char *const field_key[F_NR] = {
	"delegate_cmds", "delegate_maps", "delegate_progs", "delegate_attachs",
};

static const char *const field_prefix[F_NR] = {
	"BPF_", "BPF_MAP_TYPE_", "BPF_PROG_TYPE_", "BPF_",
};

static const unsigned int field_count[F_NR] = {
	__MAX_BPF_CMD, __MAX_BPF_MAP_TYPE, __MAX_BPF_PROG_TYPE, __MAX_BPF_ATTACH_TYPE,
};

/* Some names of each enum (as the uAPI spells them); shown: mountinfo's name. */
struct name {
	int field;
	const char *name;
	unsigned int value;
	bool shown;
};

static const struct name names[] = {
	{ F_CMDS, "map_create", BPF_MAP_CREATE, true },
	{ F_CMDS, "map_lookup_elem", BPF_MAP_LOOKUP_ELEM, true },
	{ F_CMDS, "prog_load", BPF_PROG_LOAD, true },
	{ F_CMDS, "obj_pin", BPF_OBJ_PIN, true },
	{ F_CMDS, "prog_test_run", BPF_PROG_TEST_RUN, true },
	{ F_CMDS, "prog_run", BPF_PROG_RUN, false },
	{ F_CMDS, "btf_load", BPF_BTF_LOAD, true },
	{ F_CMDS, "token_create", BPF_TOKEN_CREATE, true },
	{ F_MAPS, "unspec", BPF_MAP_TYPE_UNSPEC, true },
	{ F_MAPS, "hash", BPF_MAP_TYPE_HASH, true },
	{ F_MAPS, "array", BPF_MAP_TYPE_ARRAY, true },
	{ F_MAPS, "percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY, true },
	{ F_MAPS, "cgroup_storage_deprecated", BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED, true },
	{ F_MAPS, "cgroup_storage", BPF_MAP_TYPE_CGROUP_STORAGE, false },
	{ F_MAPS, "queue", BPF_MAP_TYPE_QUEUE, true },
	{ F_MAPS, "stack", BPF_MAP_TYPE_STACK, true },
	{ F_MAPS, "ringbuf", BPF_MAP_TYPE_RINGBUF, true },
	{ F_MAPS, "arena", BPF_MAP_TYPE_ARENA, true },
	{ F_PROGS, "unspec", BPF_PROG_TYPE_UNSPEC, true },
	{ F_PROGS, "socket_filter", BPF_PROG_TYPE_SOCKET_FILTER, true },
	{ F_PROGS, "kprobe", BPF_PROG_TYPE_KPROBE, true },
	{ F_PROGS, "xdp", BPF_PROG_TYPE_XDP, true },
	{ F_PROGS, "tracing", BPF_PROG_TYPE_TRACING, true },
	{ F_PROGS, "syscall", BPF_PROG_TYPE_SYSCALL, true },
	{ F_PROGS, "netfilter", BPF_PROG_TYPE_NETFILTER, true },
	{ F_ATTACHS, "cgroup_inet_ingress", BPF_CGROUP_INET_INGRESS, true },
	{ F_ATTACHS, "cgroup_inet_egress", BPF_CGROUP_INET_EGRESS, true },
	{ F_ATTACHS, "cgroup_sock_ops", BPF_CGROUP_SOCK_OPS, true },
	{ F_ATTACHS, "xdp", BPF_XDP, true },
	{ F_ATTACHS, "lsm_cgroup", BPF_LSM_CGROUP, true },
	{ F_ATTACHS, "trace_uprobe_multi", BPF_TRACE_UPROBE_MULTI, true },
	{ F_ATTACHS, "netkit_peer", BPF_NETKIT_PEER, true },
};

/* A name of another enum, unknown in this field. */
static const char *const foreign_name[F_NR] = { "socket_filter", "map_create", "stack", "array" };

static __u64 known_bits(int f)
{
	return (1ULL << field_count[f]) - 1;
}

static __u64 allowed_bits(int f)
{
	return f == F_CMDS ? known_bits(f) & GATED : known_bits(f);
}

/* The bit of model.set for the cgroup scope. */
#define SET_SCOPE (1 << F_NR)

/* What a context asked for (accepted calls only), or what an instance has. */
struct model {
	__u64 m[F_NR];
	__u64 scope;		/* cgroup id, 0: none */
	unsigned int set;	/* fields named, a bit each, and SET_SCOPE */
	bool delegate;
};

/* A random mask of @f that a blob may carry: none, any, or known bits. */
static __u64 valid_mask(struct rng *r, int f)
{
	switch (below(r, 8)) {
	case 0:
		return 0;
	case 1:
		return ANY;
	case 2:
		return allowed_bits(f);
	case 3:
		return 1ULL << below(r, field_count[f]) & allowed_bits(f);
	default:
		return rnd(r) & rnd(r) & allowed_bits(f);
	}
}

/* fds a delegate_userns value may name, and cgroup ids a scope may name */
struct fds {
	int userns_same, userns_init, not_userns;
	__u64 cgroup[3];	/* cgroups the test made (and the root); 0 if none */
	__u64 no_cgroup[2];	/* a removed cgroup's id, a cgroup2 file's; or 0 */
};

/* A scope that names a cgroup: none now and then, else one the test made. */
static __u64 some_cgroup(struct rng *r, const struct fds *fds)
{
	__u64 id = below(r, 3) ? fds->cgroup[below(r, ARRAY_SIZE(fds->cgroup))] : 0;

	return id;
}

/* An id that names no cgroup2 directory. */
static __u64 no_cgroup(struct rng *r, const struct fds *fds)
{
	__u64 id = fds->no_cgroup[below(r, ARRAY_SIZE(fds->no_cgroup))];

	/* No cgroup has the top bit: ids count up from 1. */
	return id && below(r, 2) ? id : 1ULL << 63 | rnd(r);
}

/*
 * What an accepted abilities struct of @size bytes, words @w, does to a
 * request: it names the four masks, and the scope only if it has all of
 * cgroup_id (VER1 or larger; 0 clears it).  A shorter struct leaves the
 * scope's value as it is, so that a VER0 tool narrowing masks does not
 * unscope an instance; a scope named earlier in the same context stays
 * named.
 */
static void abilities_next(struct model *next, const __u64 *w, int size)
{
	int i;

	for (i = 0; i < F_NR; i++)
		next->m[i] = w[i];
	next->set |= (1 << F_NR) - 1;
	if (size >= VER1) {
		next->scope = w[F_NR];
		next->set |= SET_SCOPE;
	}
}

/*
 * The cgroup_id a struct of @size bytes (VER0 < @size < VER1) has when its
 * bytes past VER0 are those of @id: zero-extended, as the kernel reads it.
 * Writes them into @w[F_NR].
 */
static __u64 partial_id(__u64 *w, int size, __u64 id)
{
	unsigned char bytes[8] = {};
	__u64 v;

	memcpy(bytes, &id, size - VER0);
	memcpy(&w[F_NR], bytes, sizeof(bytes));
	memcpy(&v, bytes, sizeof(v));
	return v;
}

/* One fsconfig() call and what it must do. */
struct call {
	unsigned int cmd;
	const char *key;
	const void *value;
	int aux;
	int vfs_err;		/* refused before the filesystem sees it */
	bool deleg_key;		/* a key the delegation policy owns */
	int err;		/* a privileged caller's result, 0 or -errno */
	struct model next;	/* the request after it, when accepted */
};

struct buffers {
	char key[512];
	char str[512];
	unsigned char *blob;	/* BIG + 1 bytes */
};

static const char *const other_deleg_keys[] = {
	"delegate", "delegate_userns", "delegate_cmds", "delegate_maps",
	"delegate_progs", "delegate_attachs", "delegate_cgroup",
};

/* Keys bpffs does not know; none is a superblock flag the VFS parses itself. */
static const char *const unknown_keys[] = {
	"Abilities", "abilitie", "abilities_", "delegate_cmd", "delegate_mapss",
	"x_abilities", "zz_storm", "DELEGATE",
};

static void rand_case(struct rng *r, char *s)
{
	for (; *s; s++)
		if (below(r, 2))
			*s = *s >= 'a' && *s <= 'z' ? *s - 32 : *s;
}

/* Append one valid token of field @f to @s, OR-ing its bits into *mask. */
static void valid_token(struct rng *r, int f, char *s, size_t len, __u64 *mask)
{
	size_t n = strlen(s);
	char tok[128];
	__u64 v;

	switch (below(r, 4)) {
	case 0: {
		const struct name *nm;

		do
			nm = &names[below(r, ARRAY_SIZE(names))];
		while (nm->field != f);
		snprintf(tok, sizeof(tok), "%s%s", below(r, 3) ? "" : field_prefix[f], nm->name);
		rand_case(r, tok);
		*mask |= 1ULL << nm->value;
		break;
	}
	case 1:
		snprintf(tok, sizeof(tok), "%s", below(r, 2) ? "any" : "AnY");
		*mask = ANY;
		break;
	default:
		/* Strings keep upstream's leniency: any 64-bit number. */
		v = below(r, 2) ? rnd(r) : rnd(r) & rnd(r) & rnd(r);
		switch (below(r, 5)) {
		case 0:
			snprintf(tok, sizeof(tok), "%llu", (unsigned long long)v);
			break;
		case 1:
			snprintf(tok, sizeof(tok), "0%llo", (unsigned long long)v);
			break;
		case 2:
			snprintf(tok, sizeof(tok), "+0X%llX", (unsigned long long)v);
			break;
		case 3:
			snprintf(tok, sizeof(tok), "0x%llx\n", (unsigned long long)v);
			break;
		default:
			snprintf(tok, sizeof(tok), "0x%llx", (unsigned long long)v);
		}
		*mask |= v;
	}
	snprintf(s + n, len - n, "%s%s", n ? ":" : "", tok);
}

/* A token no field accepts, and its errno. */
static const char *bad_token(struct rng *r, int f, int *err)
{
	static const char *const einval[] = {
		"0x", "09", "-1", " 1", "1 ", "any ", "\n", "0xg", "zzunknown", "map-create",
	};
	static const char *const erange[] = {
		"0x10000000000000000", "18446744073709551616", "0xfffffffffffffffff",
		"02000000000000000000000",
	};

	switch (below(r, 4)) {
	case 0:
		*err = -ERANGE;
		return erange[below(r, ARRAY_SIZE(erange))];
	case 1:
		*err = -EINVAL;
		return foreign_name[f];
	default:
		*err = -EINVAL;
		return einval[below(r, ARRAY_SIZE(einval))];
	}
}

/*
 * Make a random call for a context (@reconf: a reconfigure context) whose
 * request is @cur.
 */
static void gen_call(struct rng *r, struct call *c, const struct model *cur, bool reconf,
		     struct buffers *b, const struct fds *fds)
{
	unsigned int k = below(r, 100), i;
	int f = below(r, F_NR);
	__u64 mask = 0;

	memset(c, 0, sizeof(*c));
	c->next = *cur;
	c->key = "abilities";
	c->deleg_key = true;
	if (k < 25) {
		/*
		 * A valid struct: VER0 (the scope left alone), VER1 with a
		 * scope that names a cgroup (or, now and then, none: ENOENT),
		 * or larger with a zero tail; between the two, now and then
		 * with what fits of an id (looked up, but no scope named).
		 */
		__u64 *w = (__u64 *)b->blob;

		c->cmd = FSCONFIG_SET_BINARY;
		switch (below(r, 6)) {
		case 0:
		case 1:
			c->aux = VER0;
			break;
		case 2:
		case 3:
			c->aux = VER1;
			break;
		default:
			c->aux = VER0 + below(r, 4096 - VER0 + 1);
		}
		memset(b->blob, 0, c->aux);
		for (i = 0; i < F_NR; i++)
			w[i] = valid_mask(r, i);
		if (c->aux >= VER1) {
			w[F_NR] = some_cgroup(r, fds);
			if (below(r, 8) == 0) {
				w[F_NR] = no_cgroup(r, fds);
				c->err = -ENOENT;
			}
		} else if (c->aux > VER0 && below(r, 2)) {
			/* Only ids that fit whole: a cut one may name any cgroup. */
			bool gone = below(r, 4) == 0;
			__u64 id = gone ? fds->no_cgroup[0] : some_cgroup(r, fds);

			if (partial_id(w, c->aux, id) != id)
				memset(&b->blob[VER0], 0, c->aux - VER0);
			else if (id && gone)
				c->err = -ENOENT;
		}
		abilities_next(&c->next, w, c->aux);
		c->value = b->blob;
	} else if (k < 30) {
		/* delegate_cgroup: replaces the scope alone; "0" clears it. */
		static const char *const not_a_number[] = {
			"", "x", "0x", "-1", " 1", "1 ", "0x1g", "08", "1:2",
			"18446744073709551616", "0x10000000000000000",
		};
		__u64 id = some_cgroup(r, fds);

		c->cmd = FSCONFIG_SET_STRING;
		c->key = "delegate_cgroup";
		c->value = b->str;
		switch (below(r, 8)) {
		case 0:
			snprintf(b->str, sizeof(b->str), "%s",
				 not_a_number[below(r, ARRAY_SIZE(not_a_number))]);
			c->err = -EINVAL;
			break;
		case 1:
			snprintf(b->str, sizeof(b->str), "%llu",
				 (unsigned long long)no_cgroup(r, fds));
			c->err = -ENOENT;
			break;
		case 2:
			snprintf(b->str, sizeof(b->str), "0x%llx", (unsigned long long)id);
			break;
		case 3:
			snprintf(b->str, sizeof(b->str), "0%llo\n", (unsigned long long)id);
			break;
		default:
			snprintf(b->str, sizeof(b->str), "%llu", (unsigned long long)id);
		}
		c->next.scope = id;
		c->next.set |= SET_SCOPE;
	} else if (k < 35) {
		/* A valid struct but one mask with a bit it may not have. */
		__u64 *w = (__u64 *)b->blob, bad;
		bool gone = false;

		c->cmd = FSCONFIG_SET_BINARY;
		c->aux = below(r, 2) ? 32 : 64;
		memset(b->blob, 0, c->aux);
		for (i = 0; i < F_NR; i++)
			w[i] = valid_mask(r, i);
		/* A bad mask is refused before the scope is looked up. */
		if (c->aux > VER1) {
			gone = below(r, 2);
			w[F_NR] = gone ? no_cgroup(r, fds) : some_cgroup(r, fds);
		}
		if (f == F_CMDS && below(r, 2))
			bad = 1ULL << below(r, field_count[F_CMDS]);	/* maybe not gated */
		else
			bad = 1ULL << (field_count[f] + below(r, 64 - field_count[f]));
		if (!(bad & allowed_bits(f))) {
			w[f] = (w[f] == ANY ? 0 : w[f]) | bad;
			c->err = -EINVAL;
		} else {
			/* It was a gated command after all. */
			w[f] = (w[f] == ANY ? 0 : w[f]) | bad;
			abilities_next(&c->next, w, c->aux);
			if (gone)
				c->err = -ENOENT;
		}
		c->value = b->blob;
	} else if (k < 45) {
		/* Sizes and pointers. */
		static const int sizes[] = {
			0, -1, 1, 2, 3, 4, 5, 6, 7, 8, 16, 31, 33, 40, 64, 4095, 4096, 4097,
			8192, BIG, BIG + 1, 32,
		};
		int size = sizes[below(r, ARRAY_SIZE(sizes))];
		bool garbage = below(r, 2);

		if (size == BIG && below(r, 8))
			size = 4097;	/* keep the 1 MiB copies rare */
		c->cmd = FSCONFIG_SET_BINARY;
		c->aux = size;
		c->value = b->blob;
		if (size > 0)
			memset(b->blob, 0, size);
		if (size <= 0 || size > BIG) {
			c->vfs_err = -EINVAL;
		} else if (below(r, 16) == 0) {
			c->value = NULL;
			c->vfs_err = -EINVAL;
		} else if (below(r, 16) == 0) {
			c->value = (void *)8;	/* unmapped */
			c->vfs_err = -EFAULT;
		} else if (size < 32) {
			c->err = -EINVAL;
		} else if (size > 4096) {
			c->err = -E2BIG;
		} else if (size > VER1 && garbage) {
			/* Past cgroup_id: a field this kernel does not know. */
			b->blob[VER1 + below(r, size - VER1)] = 1 + below(r, 255);
			/* The tail is checked first: bad masks too give E2BIG. */
			if (below(r, 2))
				memset(b->blob, 0xa5, VER1);
			c->err = -E2BIG;
		} else {
			/* Zeroes: 33 bytes leave the scope, 40 and more clear it. */
			abilities_next(&c->next, (const __u64 *)b->blob, size);
		}
	} else if (k < 50) {
		/* A blob for any other key. */
		memset(b->blob, 0, 32);
		c->cmd = FSCONFIG_SET_BINARY;
		c->aux = 32;
		c->value = b->blob;
		c->err = -EINVAL;
		if (below(r, 2)) {
			c->key = other_deleg_keys[below(r, ARRAY_SIZE(other_deleg_keys))];
		} else {
			c->key = unknown_keys[below(r, ARRAY_SIZE(unknown_keys))];
			c->deleg_key = false;
		}
	} else if (k < 78) {
		/* A valid string. */
		unsigned int n = 1 + below(r, 4);

		b->str[0] = '\0';
		for (i = 0; i < n; i++)
			valid_token(r, f, b->str, sizeof(b->str), &mask);
		c->cmd = FSCONFIG_SET_STRING;
		c->key = field_key[f];
		c->value = b->str;
		c->next.m[f] |= mask;
		c->next.set |= 1 << f;
	} else if (k < 88) {
		/* A string with one bad or empty token ("", "a::b", ":a", "a:"). */
		unsigned int n = below(r, 4), at = below(r, n + 1);
		char tok[128];

		b->str[0] = '\0';
		c->cmd = FSCONFIG_SET_STRING;
		c->key = field_key[f];
		c->value = b->str;
		for (i = 0; i <= n; i++) {
			size_t len = strlen(b->str);

			if (i != at) {
				tok[0] = '\0';
				valid_token(r, f, tok, sizeof(tok), &mask);
			} else if (below(r, 4)) {
				snprintf(tok, sizeof(tok), "%s", bad_token(r, f, &c->err));
			} else {
				tok[0] = '\0';
				c->err = -EINVAL;
			}
			snprintf(b->str + len, sizeof(b->str) - len, "%s%s", i ? ":" : "", tok);
		}
	} else if (k < 91) {
		/* 255 bytes are fine, 256 are too long for the VFS. */
		int len = below(r, 2) ? 255 : 256;
		__u64 v = valid_mask(r, f) & ((1ULL << 60) - 1);
		char digits[32];
		int n = snprintf(digits, sizeof(digits), "%llx", (unsigned long long)v);

		memset(b->str, '0', len);
		b->str[1] = 'x';
		memcpy(b->str + len - n, digits, n);
		b->str[len] = '\0';
		c->cmd = FSCONFIG_SET_STRING;
		c->key = field_key[f];
		c->value = b->str;
		if (len == 256) {
			c->vfs_err = -EINVAL;
		} else {
			c->next.m[f] |= v;
			c->next.set |= 1 << f;
		}
	} else if (k < 94) {
		/* Unknown keys: ignored, as bpffs always did; too long ones refused. */
		c->deleg_key = false;
		c->key = unknown_keys[below(r, ARRAY_SIZE(unknown_keys))];
		if (below(r, 4) == 0) {
			int len = below(r, 2) ? 255 : 256;

			memset(b->key, 'k', len);
			b->key[len] = '\0';
			c->key = b->key;
			if (len == 256)
				c->vfs_err = -EINVAL;
		}
		if (below(r, 2)) {
			c->cmd = FSCONFIG_SET_STRING;
			c->value = "any";
		} else {
			c->cmd = FSCONFIG_SET_FLAG;
		}
	} else if (k < 96) {
		/* The delegate flag, and flags for keys that take a value. */
		c->cmd = FSCONFIG_SET_FLAG;
		if (below(r, 2)) {
			c->key = "delegate";
			if (below(r, 4) == 0) {
				c->value = "x";
				c->vfs_err = -EINVAL;
			} else if (reconf) {
				c->err = -EINVAL;
			} else {
				c->next.delegate = true;
			}
		} else {
			c->key = below(r, 2) ? "abilities" : field_key[f];
			c->err = -EINVAL;
		}
	} else if (k < 99) {
		/* delegate_userns: only the context's own user namespace. */
		c->cmd = FSCONFIG_SET_FD;
		c->key = "delegate_userns";
		switch (below(r, 5)) {
		case 0:
			c->aux = fds->userns_same;
			break;
		case 1:
			c->aux = fds->userns_init;
			c->err = -EINVAL;
			break;
		case 2:
			c->aux = fds->not_userns;
			c->err = -EINVAL;
			break;
		case 3:
			c->aux = 1000;	/* not open */
			c->vfs_err = -EBADF;
			break;
		default:
			c->key = "abilities";
			c->aux = fds->userns_same;
			c->err = -EINVAL;
		}
	} else {
		/* A path for abilities; a command that does not exist. */
		if (below(r, 2)) {
			c->cmd = FSCONFIG_SET_PATH;
			c->value = "/";
			c->aux = AT_FDCWD;
			c->err = -EINVAL;
		} else {
			c->cmd = 99;
			c->vfs_err = -EOPNOTSUPP;
		}
	}
	if (c->err || c->vfs_err)
		c->next = *cur;
}

/* The result a caller gets. */
static int expected(const struct call *c, bool privileged)
{
	if (c->vfs_err)
		return c->vfs_err;
	if (!privileged && c->deleg_key)
		return -EPERM;
	return c->err;
}

static int do_call(int fd, const struct call *c)
{
	return syscall(__NR_fsconfig, fd, c->cmd, c->key, c->value, c->aux) ? -errno : 0;
}

static const char *cmd_name(unsigned int cmd)
{
	switch (cmd) {
	case FSCONFIG_SET_FLAG:
		return "flag";
	case FSCONFIG_SET_STRING:
		return "string";
	case FSCONFIG_SET_BINARY:
		return "binary";
	case FSCONFIG_SET_FD:
		return "fd";
	case FSCONFIG_SET_PATH:
		return "path";
	default:
		return "cmd?";
	}
}

static void describe(const struct call *c, char *out, size_t len)
{
	char v[128] = "";

	if (c->cmd == FSCONFIG_SET_STRING && c->value)
		snprintf(v, sizeof(v), " '%.60s'", (const char *)c->value);
	else if (c->cmd == FSCONFIG_SET_BINARY && c->value && !c->vfs_err && c->aux >= VER0)
		snprintf(v, sizeof(v), " %llx %llx %llx %llx cgroup %llu",
			 (unsigned long long)((__u64 *)c->value)[0],
			 (unsigned long long)((__u64 *)c->value)[1],
			 (unsigned long long)((__u64 *)c->value)[2],
			 (unsigned long long)((__u64 *)c->value)[3],
			 c->aux >= VER1 ? (unsigned long long)((__u64 *)c->value)[4] : 0ULL);
	snprintf(out, len, "%s %.40s aux %d%s", cmd_name(c->cmd), c->key, c->aux, v);
}

struct counts {
	unsigned long calls, accepted, refused, unpriv, mismatches;
	unsigned long rounds, reconfigures, abandoned, probes;
};

/*
 * Throw @n calls at context @fd as a caller that is not privileged; all
 * must get the right errno and change nothing.  Runs in a child: @how 0
 * drops CAP_SYS_ADMIN, 1 becomes uid 65534.  Returns the mismatches, or
 * -1 if the child could not run.
 */
static int unprivileged_burst(int fd, int how, unsigned int n, __u64 seed, bool reconf,
			      struct buffers *b, const struct fds *fds)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rng r = { seed | 1 };
		struct model dummy = {};
		unsigned int i, bad = 0;
		struct call c;

		if (how == 0 ? drop_caps(1ULL << CAP_SYS_ADMIN) :
		    setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(255);
		for (i = 0; i < n; i++) {
			int ret;

			gen_call(&r, &c, &dummy, reconf, b, fds);
			ret = do_call(fd, &c);
			if (ret != expected(&c, false)) {
				char d[200];

				describe(&c, d, sizeof(d));
				fprintf(stderr, "# unprivileged (%s): %s: %d, expected %d\n",
					how ? "uid 65534" : "no CAP_SYS_ADMIN", d, ret,
					expected(&c, false));
				bad++;
			}
		}
		_exit(bad > 250 ? 250 : bad);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 255)
		return -1;
	return WEXITSTATUS(st);
}

/* Run @n privileged calls on @fd, updating @mdl; returns the mismatches. */
static unsigned long storm(int fd, struct rng *r, unsigned int n, struct model *mdl, bool reconf,
			   struct buffers *b, const struct fds *fds, struct counts *cnt)
{
	unsigned long bad = 0;
	unsigned int i;
	struct call c;

	for (i = 0; i < n; i++) {
		int ret;

		gen_call(r, &c, mdl, reconf, b, fds);
		ret = do_call(fd, &c);
		cnt->calls++;
		if (ret != expected(&c, true)) {
			char d[200];

			describe(&c, d, sizeof(d));
			if (bad < 10)
				fprintf(stderr, "# %s: %s: %d, expected %d\n",
					reconf ? "reconfigure" : "create", d, ret,
					expected(&c, true));
			bad++;
			/* Stay in step with the kernel as well as we can. */
			if (ret)
				continue;
		}
		if (ret) {
			cnt->refused++;
		} else {
			cnt->accepted++;
			*mdl = c.next;
		}
	}
	return bad;
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

/* What mountinfo must say about one field. */
static int check_mountinfo_field(const char *opts, int f, __u64 m, char *why, size_t len)
{
	char key[64], val[1024], *p, *tok, *save;
	__u64 shown = m & known_bits(f);
	unsigned int i, ntok = 0;

	snprintf(key, sizeof(key), ",%s=", field_key[f]);
	p = strstr(opts, key);
	if (!shown) {
		if (p)
			snprintf(why, len, "%s shown for an empty mask", field_key[f]);
		return p ? -1 : 0;
	}
	if (!p) {
		snprintf(why, len, "%s missing for %llx", field_key[f], (unsigned long long)m);
		return -1;
	}
	snprintf(val, sizeof(val), "%s", p + strlen(key));
	val[strcspn(val, ",")] = '\0';
	if (shown == known_bits(f)) {
		if (strcmp(val, "any")) {
			snprintf(why, len, "%s=%s, expected any", field_key[f], val);
			return -1;
		}
		return 0;
	}
	for (tok = strtok_r(val, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		ntok++;
		if (!strcmp(tok, "any")) {
			snprintf(why, len, "%s: any for %llx", field_key[f], (unsigned long long)m);
			return -1;
		}
	}
	if (ntok != (unsigned int)__builtin_popcountll(shown)) {
		snprintf(why, len, "%s: %u names for %llx", field_key[f], ntok,
			 (unsigned long long)m);
		return -1;
	}
	/* The names this test knows: each shown exactly when its bit is set. */
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char name[64];
		bool set, present;

		if (names[i].field != f || !names[i].shown)
			continue;
		snprintf(val, sizeof(val), ":%s", p + strlen(key));
		val[strcspn(val, ",")] = '\0';
		strcat(val, ":");
		snprintf(name, sizeof(name), ":%s:", names[i].name);
		present = strstr(val, name);
		set = m >> names[i].value & 1;
		if (present != set) {
			snprintf(why, len, "%s: %s %s for %llx", field_key[f], names[i].name,
				 present ? "shown" : "not shown", (unsigned long long)m);
			return -1;
		}
	}
	return 0;
}

static int check_mountinfo(pid_t pid, const struct model *mdl, char *why, size_t len)
{
	char path[64], opts[2048], flag[2050];
	int f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if (read_super_options(path, MNT, opts, sizeof(opts))) {
		snprintf(why, len, "no mount at " MNT);
		return -1;
	}
	snprintf(flag, sizeof(flag), "%s,", opts);
	if (mdl->delegate != !!strstr(flag, ",delegate,")) {
		snprintf(why, len, "delegate flag: '%.1000s'", opts);
		return -1;
	}
	for (f = 0; f < F_NR; f++)
		if (check_mountinfo_field(opts, f, mdl->m[f], why, len))
			return -1;
	/* The scope last, in decimal, only when there is one. */
	if (!mdl->scope) {
		if (!strstr(opts, "delegate_cgroup"))
			return 0;
	} else {
		size_t n = strlen(opts);

		snprintf(flag, sizeof(flag), ",delegate_cgroup=%llu",
			 (unsigned long long)mdl->scope);
		if (n >= strlen(flag) && !strcmp(opts + n - strlen(flag), flag))
			return 0;
	}
	snprintf(why, len, "scope %llu: '%.1000s'", (unsigned long long)mdl->scope, opts);
	return -1;
}

/* What a token's fdinfo must say: its superblock's current masks. */
static int check_fdinfo(int token, const struct model *mdl, char *why, size_t len)
{
	static const char *const label[F_NR] = {
		"allowed_cmds", "allowed_maps", "allowed_progs", "allowed_attachs",
	};
	char path[64], info[1024], want[128], *p;
	bool empty = true;
	FILE *fp;
	size_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", token);
	fp = fopen(path, "re");
	if (!fp) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(info, 1, sizeof(info) - 1, fp);
	info[n] = '\0';
	fclose(fp);
	for (f = 0; f < F_NR; f++) {
		__u64 m = mdl->m[f];

		empty &= !m;
		if ((m & known_bits(f)) == known_bits(f))
			snprintf(want, sizeof(want), "%s:\tany\n", label[f]);
		else
			snprintf(want, sizeof(want), "%s:\t0x%llx\n", label[f],
				 (unsigned long long)m);
		if (!strstr(info, want)) {
			snprintf(why, len, "want '%.*s' in '%s'", (int)strlen(want) - 1, want,
				 info);
			return -1;
		}
	}
	snprintf(want, sizeof(want), "delegation:\t%s\n", empty ? "revoked" : "live");
	if (!strstr(info, want)) {
		snprintf(why, len, "want '%s' in '%s'", want, info);
		return -1;
	}
	/* The id, then the path where this reader resolves it. */
	snprintf(want, sizeof(want), "cgroup_scope:\t%llu", (unsigned long long)mdl->scope);
	p = strstr(info, want);
	if (p)
		p += strlen(want);
	if (mdl->scope ? !p || (*p != ' ' && *p != '\n') : !!strstr(info, "cgroup_scope:")) {
		snprintf(why, len, "scope %llu: '%s'", (unsigned long long)mdl->scope, info);
		return -1;
	}
	return 0;
}

static bool allows(const struct model *mdl, unsigned int cmd, int map, int prog, int attach)
{
	if (!(mdl->m[F_CMDS] >> cmd & 1))
		return false;
	if (map >= 0 && !((unsigned int)map < field_count[F_MAPS] && mdl->m[F_MAPS] >> map & 1))
		return false;
	if (prog >= 0 && !((unsigned int)prog < field_count[F_PROGS] &&
			   mdl->m[F_PROGS] >> prog & 1 &&
			   (unsigned int)attach < field_count[F_ATTACHS] &&
			   mdl->m[F_ATTACHS] >> attach & 1))
		return false;
	return true;
}

/* Map and program creation from the container, through @slot. */
static int probe(struct agent *a, const char *slot, const struct model *mdl, char *why,
		 size_t len)
{
	static const struct {
		enum agent_use use;
		unsigned int cmd;
		int map, prog, attach;
	} p[] = {
		{ USE_MAP_STACK, BPF_MAP_CREATE, BPF_MAP_TYPE_STACK, -1, -1 },
		{ USE_MAP_QUEUE, BPF_MAP_CREATE, BPF_MAP_TYPE_QUEUE, -1, -1 },
		{ USE_BTF, BPF_BTF_LOAD, -1, -1, -1 },
		{ USE_SOCKET_FILTER, BPF_PROG_LOAD, -1, BPF_PROG_TYPE_SOCKET_FILTER, 0 },
		{ USE_SOCKET_FILTER_ATTACH1, BPF_PROG_LOAD, -1, BPF_PROG_TYPE_SOCKET_FILTER, 1 },
		{ USE_XDP, BPF_PROG_LOAD, -1, BPF_PROG_TYPE_XDP, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p); i++) {
		int want = allows(mdl, p[i].cmd, p[i].map, p[i].prog, p[i].attach) ? 0 : -EPERM;
		int ret = agent_do(a, OP_USE, p[i].use, slot, NULL, NULL, NULL, 0);

		if (ret != want) {
			snprintf(why, len, "%s: use %d: %d, expected %d", slot, p[i].use, ret,
				 want);
			return -1;
		}
	}
	return 0;
}

FIXTURE(storm) {
	struct agent a;
	struct buffers b;
	struct fds fds;
	struct rng r;
	unsigned long budget_calls;
	double budget_s;
	char cgroup[128];	/* the test's cgroup, or "" */
	bool cgroup_mounted;	/* cgroup2 mounted at CGMNT by the test */
};

static __u64 inode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

/*
 * Cgroups for scopes: the cgroup2 root, one the test makes and a child of
 * it (their ids are their inode numbers on 64-bit kernels), and ids that
 * name no cgroup2 directory: a cgroup made and removed (ids are not
 * reused) and a file of one.  Without cgroup2 there are none: every scope
 * is 0 or names nothing.
 */
static void cgroups_setup(char *dir, size_t len, bool *mounted, struct fds *fds)
{
	const char *root = "/sys/fs/cgroup";
	char path[192];
	struct statfs st;

	dir[0] = '\0';
	if (statfs(root, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
		root = CGMNT;
		mkdir(root, 0755);
		if (mount("none", root, "cgroup2", 0, NULL)) {
			ksft_print_msg("storm: no cgroup2 (%s): no scopes\n", strerror(errno));
			return;
		}
		*mounted = true;
	}
	fds->cgroup[0] = inode_of(root);
	snprintf(dir, len, "%s/bpffs-storm-%d", root, getpid());
	if (mkdir(dir, 0755)) {
		ksft_print_msg("storm: %s: %s: no scopes\n", dir, strerror(errno));
		dir[0] = '\0';
		return;
	}
	fds->cgroup[1] = inode_of(dir);
	snprintf(path, sizeof(path), "%s/child", dir);
	if (!mkdir(path, 0755))
		fds->cgroup[2] = inode_of(path);
	snprintf(path, sizeof(path), "%s/gone", dir);
	if (!mkdir(path, 0755)) {
		fds->no_cgroup[0] = inode_of(path);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fds->no_cgroup[1] = inode_of(path);
	ksft_print_msg("storm: scopes: cgroups %llu %llu %llu, none %llu %llu\n",
		       (unsigned long long)fds->cgroup[0], (unsigned long long)fds->cgroup[1],
		       (unsigned long long)fds->cgroup[2], (unsigned long long)fds->no_cgroup[0],
		       (unsigned long long)fds->no_cgroup[1]);
}

static void cgroups_teardown(const char *dir, bool mounted)
{
	char path[192];

	if (dir[0]) {
		snprintf(path, sizeof(path), "%s/child", dir);
		rmdir(path);
		rmdir(dir);
	}
	if (mounted)
		umount2(CGMNT, MNT_DETACH);
}

FIXTURE_SETUP(storm)
{
	char path[64];
	__u64 seed;

	ASSERT_EQ(write_file("/proc/sys/kernel/unprivileged_bpf_disabled", "2"), 0);
	self->b.blob = mmap(NULL, BIG + 1, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->b.blob, MAP_FAILED);
	ASSERT_EQ(agent_start(&self->a), 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", self->a.pid);
	self->fds.userns_same = open(path, O_RDONLY | O_CLOEXEC);
	self->fds.userns_init = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	self->fds.not_userns = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(self->fds.userns_same, 0);
	ASSERT_GE(self->fds.userns_init, 0);
	ASSERT_GE(self->fds.not_userns, 0);
	cgroups_setup(self->cgroup, sizeof(self->cgroup), &self->cgroup_mounted, &self->fds);
	seed = env_ul("BPFFS_STORM_SEED", 0);
	if (!seed)
		seed = (__u64)time(NULL) ^ ((__u64)getpid() << 32);
	self->r.s = seed | 1;
	self->budget_calls = env_ul("BPFFS_STORM_CALLS", 100000) / 2;
	self->budget_s = env_ul("BPFFS_STORM_SECONDS", 8);
	ksft_print_msg("storm: seed %llu (BPFFS_STORM_SEED), %lu calls or %.0f s per part\n",
		       (unsigned long long)seed, self->budget_calls, self->budget_s);
}

FIXTURE_TEARDOWN(storm)
{
	close(self->fds.userns_same);
	close(self->fds.userns_init);
	close(self->fds.not_userns);
	EXPECT_EQ(agent_stop(&self->a), 0);
	munmap(self->b.blob, BIG + 1);
	/* After the instances went: a scope holds no reference to its cgroup. */
	cgroups_teardown(self->cgroup, self->cgroup_mounted);
}

static void report(const char *part, const struct counts *c, double secs)
{
	ksft_print_msg("storm (%s): %lu calls, %lu accepted, %lu refused, %lu unprivileged\n",
		       part, c->calls, c->accepted, c->refused, c->unpriv);
	ksft_print_msg("storm (%s): %lu rounds, %lu reconfigured, %lu dropped, %lu probes, %.1fs\n",
		       part, c->rounds, c->reconfigures, c->abandoned, c->probes, secs);
	fflush(stdout);
}

/*
 * Fresh contexts: a round throws calls at a new context, then the container
 * creates and mounts it; mountinfo, a token's fdinfo and creations through
 * it must show exactly what the model says the accepted calls set.
 */
TEST_F_TIMEOUT(storm, fresh_context, 600)
{
	struct counts cnt = {};
	double t0 = now();
	char why[1200];

	while (cnt.calls < self->budget_calls && now() - t0 < self->budget_s) {
		struct model mdl = {};
		int ctx, mnt, tok, ret;
		unsigned int n = 200 + below(&self->r, 1800);
		bool empty;

		ASSERT_EQ(agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &ctx, NULL, 0), 0);
		ASSERT_EQ(storm(ctx, &self->r, n / 2, &mdl, false, &self->b, &self->fds, &cnt), 0);
		if (cnt.rounds % 2 == 0) {
			/* Callers without the privilege, in between. */
			ret = unprivileged_burst(ctx, cnt.rounds % 4 / 2, 200, rnd(&self->r), false,
						 &self->b, &self->fds);
			ASSERT_EQ(ret, 0);
			cnt.unpriv += 200;
		}
		/* The container's own root is not privileged either. */
		EXPECT_EQ(agent_do(&self->a, OP_SET_STRING, 0, "delegate_maps", "any",
				   NULL, NULL, 0), -EPERM);
		EXPECT_EQ(agent_do(&self->a, OP_SET_ABILITIES, 32, NULL, NULL, NULL, NULL, 0),
			  -EPERM);
		EXPECT_EQ(agent_do(&self->a, OP_SET_FLAG, 0, "delegate", NULL, NULL, NULL, 0),
			  -EPERM);
		EXPECT_EQ(agent_do(&self->a, OP_SET_STRING, 0, "delegate_cgroup", "0", NULL, NULL,
				   0), -EPERM);
		cnt.unpriv += 4;
		ASSERT_EQ(storm(ctx, &self->r, n - n / 2, &mdl, false, &self->b, &self->fds,
				&cnt), 0);
		ASSERT_EQ(set_flag(ctx, "delegate"), 0);
		mdl.delegate = true;
		ASSERT_EQ(agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
		ASSERT_EQ(agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &mnt, NULL, 0), 0);
		close(ctx);
		EXPECT_EQ(check_mountinfo(self->a.pid, &mdl, why, sizeof(why)), 0)
			TH_LOG("round %lu: %s", cnt.rounds, why);
		empty = !(mdl.m[0] | mdl.m[1] | mdl.m[2] | mdl.m[3]);
		ret = agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0);
		EXPECT_EQ(ret, empty ? -ENOENT : 0);
		if (!ret) {
			ASSERT_EQ(agent_do(&self->a, OP_SEND_SLOT, 0, "token", NULL, &tok, NULL, 0),
				  0);
			EXPECT_EQ(check_fdinfo(tok, &mdl, why, sizeof(why)), 0)
				TH_LOG("round %lu: %s", cnt.rounds, why);
			close(tok);
			if (cnt.rounds % 4 == 1) {
				EXPECT_EQ(probe(&self->a, "token", &mdl, why, sizeof(why)), 0)
					TH_LOG("round %lu: %s", cnt.rounds, why);
				cnt.probes++;
			}
			ASSERT_EQ(agent_do(&self->a, OP_CLOSE, 0, "token", NULL, NULL, NULL, 0), 0);
		}
		close(mnt);
		ASSERT_EQ(agent_do(&self->a, OP_UMOUNT, 0, NULL, MNT, NULL, NULL, 0), 0);
		cnt.rounds++;
		if (_metadata->exit_code)
			break;
	}
	report("fresh context", &cnt, now() - t0);
}

/*
 * Reconfigure contexts of one mounted delegated instance: each round picks
 * it (or reuses the last context), throws calls, and reconfigures (or, now
 * and then, drops the context without).  The live delegation must then be
 * the old one with every field the accepted calls named replaced.
 */
TEST_F_TIMEOUT(storm, reconfigure, 600)
{
	struct counts cnt = {};
	struct model live = { .m = { GATED, ANY, ANY, 1 }, .delegate = true };
	int ctx, mnt, tok, pick = -1, ret;
	double t0 = now();
	char why[1200];

	ASSERT_EQ(agent_do(&self->a, OP_FSOPEN, 0, NULL, NULL, &ctx, NULL, 0), 0);
	ASSERT_EQ(set_opts(ctx, live.m[0], live.m[1], live.m[2], live.m[3]), 0);
	ASSERT_EQ(set_flag(ctx, "delegate"), 0);
	ASSERT_EQ(agent_do(&self->a, OP_CREATE, 0, NULL, NULL, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_MOUNT, 0, NULL, MNT, &mnt, NULL, 0), 0);
	close(ctx);
	ASSERT_EQ(agent_do(&self->a, OP_TOKEN, 0, NULL, MNT, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_OPEN, 0, "root", MNT, NULL, NULL, 0), 0);
	ASSERT_EQ(agent_do(&self->a, OP_SEND_SLOT, 0, "token", NULL, &tok, NULL, 0), 0);

	while (cnt.calls < self->budget_calls && now() - t0 < self->budget_s) {
		struct model req = {};
		unsigned int n = 20 + below(&self->r, 400), f;

		if (pick < 0 || below(&self->r, 2)) {
			if (pick >= 0)
				close(pick);
			pick = sys_fspick(mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
			ASSERT_GE(pick, 0);
		}
		ASSERT_EQ(storm(pick, &self->r, n / 2, &req, true, &self->b, &self->fds, &cnt), 0);
		if (cnt.rounds % 8 == 0) {
			ret = unprivileged_burst(pick, cnt.rounds % 16 / 8, 100, rnd(&self->r),
						 true, &self->b, &self->fds);
			ASSERT_EQ(ret, 0);
			cnt.unpriv += 100;
		}
		ASSERT_EQ(storm(pick, &self->r, n - n / 2, &req, true, &self->b, &self->fds,
				&cnt), 0);
		if (below(&self->r, 8) == 0) {
			/* Dropped without a reconfigure: nothing changes. */
			close(pick);
			pick = -1;
			cnt.abandoned++;
		} else {
			ASSERT_EQ(sys_fsconfig(pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0), 0);
			for (f = 0; f < F_NR; f++)
				if (req.set & 1 << f)
					live.m[f] = req.m[f];
			if (req.set & SET_SCOPE)
				live.scope = req.scope;
			cnt.reconfigures++;
		}
		if (cnt.rounds % 16 == 5) {
			/* The container reconfigures its own instance: no change. */
			ASSERT_EQ(agent_do(&self->a, OP_PICK, 0, NULL, MNT, NULL, NULL, 0), 0);
			EXPECT_EQ(agent_do(&self->a, OP_PICK_SET_STRING, 0, "delegate_cmds", "any",
					   NULL, NULL, 0), -EPERM);
			EXPECT_EQ(agent_do(&self->a, OP_PICK_SET_STRING, 0, "abilities", "any",
					   NULL, NULL, 0), -EPERM);
			EXPECT_EQ(agent_do(&self->a, OP_PICK_RECONFIGURE, 0, NULL, NULL, NULL, NULL,
					   0), 0);
			cnt.unpriv += 2;
		}
		EXPECT_EQ(check_fdinfo(tok, &live, why, sizeof(why)), 0)
			TH_LOG("round %lu: %s", cnt.rounds, why);
		EXPECT_EQ(check_mountinfo(self->a.pid, &live, why, sizeof(why)), 0)
			TH_LOG("round %lu: %s", cnt.rounds, why);
		if (cnt.rounds % 8 == 3) {
			EXPECT_EQ(probe(&self->a, cnt.rounds % 16 == 3 ? "token" : "root", &live,
					why, sizeof(why)), 0)
				TH_LOG("round %lu: %s", cnt.rounds, why);
			cnt.probes++;
		}
		cnt.rounds++;
		if (_metadata->exit_code)
			break;
	}
	if (pick >= 0)
		close(pick);
	close(tok);
	close(mnt);
	report("reconfigure", &cnt, now() - t0);
}

TEST_HARNESS_MAIN
