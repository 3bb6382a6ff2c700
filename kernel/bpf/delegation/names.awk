# SPDX-License-Identifier: GPL-2.0
#
# Generate the name tables of bpffs delegation from include/uapi/linux/bpf.h:
# for enum bpf_cmd, bpf_map_type, bpf_prog_type and bpf_attach_type, each
# enumerator's name without its prefix and its value, in declaration order,
# aliases (NAME = OTHER_NAME) included, then the enum's __MAX_ value.  The
# output is Rust, included by kernel/bpf/delegation.rs (and by the host build
# of the policy), so a value added to the uAPI is a name here at the next
# build.  Enumerators are one per line, as in that header; a missing enum or
# __MAX_ entry, or a name without its prefix, fails the build.

function start(enum, table, pfx) {
	in_enum = enum; tab = table; prefix = pfx; next_val = 0; max = ""
	delete val
	if (ntables++)
		print ""
	printf "/// `enum %s`, names without `%s`.\n", enum, prefix
	printf "pub(crate) const %s: &[(&str, u32)] = &[\n", table
	found[enum] = 1
}

BEGIN {
	print "// SPDX-License-Identifier: GPL-2.0"
	print "// Generated from include/uapi/linux/bpf.h by"
	print "// kernel/bpf/delegation/names.awk; do not edit.  Each table holds (name"
	print "// without prefix, value) in declaration order, aliases included, and is"
	print "// followed by the enum's `__MAX_*` value."
	print ""
}

/^enum bpf_cmd \{/		{ start("bpf_cmd", "CMDS", "BPF_"); next }
/^enum bpf_map_type \{/		{ start("bpf_map_type", "MAPS", "BPF_MAP_TYPE_"); next }
/^enum bpf_prog_type \{/	{ start("bpf_prog_type", "PROGS", "BPF_PROG_TYPE_"); next }
/^enum bpf_attach_type \{/	{ start("bpf_attach_type", "ATTACHS", "BPF_"); next }

in_enum && /^\};/ {
	if (max == "") {
		printf "names.awk: enum %s has no __MAX_ entry\n", in_enum > "/dev/stderr"
		failed = 1; exit 1
	}
	print "];"
	printf "/// `__MAX_%s`.\n", toupper(in_enum)
	printf "pub(crate) const %s_MAX: u32 = %d;\n", tab, max
	in_enum = ""
	next
}

in_enum {
	line = $0
	# Comments: whole ones on the line, then the rest of an open one.
	gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
	if (in_comment) {
		if (line !~ /\*\//) next
		sub(/^.*\*\//, "", line); in_comment = 0
	}
	if (line ~ /\/\*/) { sub(/\/\*.*$/, "", line); in_comment = 1 }
	gsub(/[ \t,]/, "", line)
	if (line == "") next
	ident = line; expr = ""
	if (index(line, "=")) {
		ident = substr(line, 1, index(line, "=") - 1)
		expr = substr(line, index(line, "=") + 1)
	}
	if (expr == "") v = next_val
	else if (expr in val) v = val[expr]
	else if (expr ~ /^[0-9]+$/) v = expr + 0
	else {
		printf "names.awk: enum %s: cannot evaluate '%s'\n", in_enum, expr > "/dev/stderr"
		failed = 1; exit 1
	}
	val[ident] = v; next_val = v + 1
	if (ident ~ /^__MAX_/) { max = v; next }
	if (substr(ident, 1, length(prefix)) != prefix) {
		printf "names.awk: enum %s: %s lacks prefix %s\n", in_enum, ident, prefix > "/dev/stderr"
		failed = 1; exit 1
	}
	printf "    (\"%s\", %d),\n", substr(ident, length(prefix) + 1), v
}

END {
	if (failed) exit 1
	n = split("bpf_cmd bpf_map_type bpf_prog_type bpf_attach_type", want, " ")
	for (i = 1; i <= n; i++)
		if (!(want[i] in found)) {
			printf "names.awk: enum %s not found\n", want[i] > "/dev/stderr"
			exit 1
		}
}
