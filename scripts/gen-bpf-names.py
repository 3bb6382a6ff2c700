#!/usr/bin/env python3
"""Generate kernel/bpf/delegation/names.rs from include/uapi/linux/bpf.h.

The delegation policy names enum values the way upstream's delegate_* options
do, but without needing vmlinux BTF: it carries its own tables, made from the
uAPI header by this script.  Aliases (NAME = OTHER_NAME) are kept: they parse,
and the first name of a value is the one shown, as BTF order gives upstream.

    gen-bpf-names.py BPF_H            print the file
    gen-bpf-names.py BPF_H --check F  fail if F is not what would be printed
"""
import re
import sys

ENUMS = [
    # (enum, Rust table, prefix stripped from names)
    ("bpf_cmd", "CMDS", "BPF_"),
    ("bpf_map_type", "MAPS", "BPF_MAP_TYPE_"),
    ("bpf_prog_type", "PROGS", "BPF_PROG_TYPE_"),
    ("bpf_attach_type", "ATTACHS", "BPF_"),
]


def parse_enum(text, name):
    m = re.search(r"^enum %s \{(.*?)^\};" % name, text, re.S | re.M)
    if not m:
        sys.exit(f"enum {name} not found")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    values, next_val, entries = {}, 0, []
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" in item:
            ident, expr = (s.strip() for s in item.split("=", 1))
            val = values[expr] if expr in values else int(expr, 0)
        else:
            ident, val = item, next_val
        values[ident] = val
        next_val = val + 1
        if ident.startswith("__MAX_"):
            entries.append((ident, val, True))
        else:
            entries.append((ident, val, False))
    return entries


def generate(text):
    out = [
        "// SPDX-License-Identifier: GPL-2.0",
        "",
        "//! Names of the BPF enum values, generated from include/uapi/linux/bpf.h by",
        "//! scripts/gen-bpf-names.py; do not edit.  Each table holds (name without",
        "//! prefix, value) in declaration order, aliases included, and is followed by",
        "//! the enum's `__MAX_*` value.",
        "",
    ]
    for enum, table, prefix in ENUMS:
        entries = parse_enum(text, enum)
        maxes = [v for (_, v, is_max) in entries if is_max]
        if len(maxes) != 1:
            sys.exit(f"enum {enum}: no single __MAX_ entry")
        out.append(f"/// `enum {enum}`, names without `{prefix}`.")
        out.append(f"pub(crate) const {table}: &[(&str, u32)] = &[")
        for ident, val, is_max in entries:
            if is_max:
                continue
            if not ident.startswith(prefix):
                sys.exit(f"enum {enum}: {ident} lacks prefix {prefix}")
            out.append(f'    ("{ident[len(prefix):]}", {val}),')
        out.append("];")
        out.append(f"/// `__MAX_{enum.upper()}`.")
        out.append(f"pub(crate) const {table}_MAX: u32 = {maxes[0]};")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    text = open(sys.argv[1]).read()
    result = generate(text)
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        if open(sys.argv[3]).read() != result:
            sys.exit(f"{sys.argv[3]} is out of date with {sys.argv[1]}: run scripts/gen-bpf-names.py")
        return
    sys.stdout.write(result)


if __name__ == "__main__":
    main()
