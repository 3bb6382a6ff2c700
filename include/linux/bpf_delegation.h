/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpffs delegation: the calls from the C glue (bpffs, the bpf() syscall) into
 * the delegation policy, which is written in Rust (kernel/bpf/delegation.rs).
 */
#ifndef _LINUX_BPF_DELEGATION_H
#define _LINUX_BPF_DELEGATION_H

#include <linux/bits.h>
#include <linux/types.h>
#include <uapi/linux/bpf.h>

/*
 * Facts about this kernel the policy needs: the number of values of each
 * enum, and the commands whose capability checks consult a delegation.
 */
struct bpf_delegation_known {
	u32 cmds;	/* __MAX_BPF_CMD */
	u32 maps;	/* __MAX_BPF_MAP_TYPE */
	u32 progs;	/* __MAX_BPF_PROG_TYPE */
	u32 attachs;	/* __MAX_BPF_ATTACH_TYPE */
	u64 gated_cmds;	/* BIT_ULL(cmd) of each gated command */
};

#define BPF_DELEGATION_KNOWN_INIT {					\
	.cmds = __MAX_BPF_CMD,							\
	.maps = __MAX_BPF_MAP_TYPE,						\
	.progs = __MAX_BPF_PROG_TYPE,						\
	.attachs = __MAX_BPF_ATTACH_TYPE,					\
	.gated_cmds = BIT_ULL(BPF_MAP_CREATE) | BIT_ULL(BPF_PROG_LOAD) |	\
		      BIT_ULL(BPF_BTF_LOAD),					\
}

/* Room for one message to the fs_context log, NUL included. */
#define BPF_DELEGATION_MSG_LEN 128

/*
 * Parse a binary struct bpf_delegation_opts of @size bytes (any version).
 * Returns 0 and fills @out, or returns -EINVAL/-E2BIG, leaves @out alone
 * and writes a NUL-terminated reason into @msg.
 */
int bpf_delegation_parse_opts(const void *blob, size_t size,
			      const struct bpf_delegation_known *known,
			      struct bpf_delegation_opts *out,
			      char *msg, size_t msg_len);

#endif /* _LINUX_BPF_DELEGATION_H */
