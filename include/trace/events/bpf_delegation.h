/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM bpf_delegation

#if !defined(_TRACE_BPF_DELEGATION_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_BPF_DELEGATION_H

#include <linux/tracepoint.h>
#include <linux/user_namespace.h>

/*
 * A gated command that came with a token (or a delegated bpffs fd) and
 * that the instance's live delegation refused: the instance's user
 * namespace (its inode number, as in /proc/PID/ns/user), what was asked
 * (a type not asked is -1) and why.  The command then falls back to the
 * caller's own capabilities, as without a token.
 */
TRACE_EVENT(bpf_delegation_refused,

	TP_PROTO(const struct user_namespace *userns, u32 cmd, s64 map_type,
		 s64 prog_type, s64 attach_type, const char *reason),

	TP_ARGS(userns, cmd, map_type, prog_type, attach_type, reason),

	TP_STRUCT__entry(
		__field(unsigned int, userns)
		__field(u32, cmd)
		__field(s64, map_type)
		__field(s64, prog_type)
		__field(s64, attach_type)
		__string(reason, reason)
	),

	TP_fast_assign(
		__entry->userns = userns->ns.inum;
		__entry->cmd = cmd;
		__entry->map_type = map_type;
		__entry->prog_type = prog_type;
		__entry->attach_type = attach_type;
		__assign_str(reason);
	),

	TP_printk("userns=%u cmd=%u map_type=%lld prog_type=%lld attach_type=%lld reason=\"%s\"",
		  __entry->userns, __entry->cmd, __entry->map_type,
		  __entry->prog_type, __entry->attach_type, __get_str(reason))
);

#endif /* _TRACE_BPF_DELEGATION_H */

#include <trace/define_trace.h>
