#!/usr/bin/env python3
"""Where a marked bpf() call spends its instructions, kernel against kernel.

    insn-trace-report.py DIR [--base vanilla] [--kinds vanilla,patched]

DIR holds KIND.json (scripts/insn-trace-gdb.py) and KIND.vmlinux (a link to
the kernel it traced) for each kind.  Each executed address is given to the
function that contains it (the symbol table) and to the innermost function
inlined there (DWARF, through addr2line), so that an inline helper shows up
under its own name.  Prints markdown: per op and case, the totals and every
function whose count differs from the base kernel's.
"""
import argparse
import bisect
import collections
import json
import os
import subprocess
import sys

# bpf() command -> the bench's op name, from its trace lines (run-KIND/out.txt).
OPS = {}
CASES = ["init", "token", "bpffs"]


def symbols(vmlinux):
    out = subprocess.run(["nm", "-n", vmlinux], check=True, capture_output=True,
                         text=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    return addrs, names


def innermost(vmlinux, pcs):
    """addr -> the innermost function addr2line -i names there."""
    if not pcs:
        return {}
    inp = "".join("0x%x\n" % pc for pc in pcs)
    out = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", vmlinux], input=inp,
                         check=True, capture_output=True, text=True).stdout
    res, cur, first = {}, None, False
    for line in out.splitlines():
        if line.startswith("0x"):
            cur, first = int(line, 16), True
        elif first and cur is not None and not line.startswith("/") and ":" not in line:
            res[cur] = line.strip()
            first = False
    return res


def op_names(d, kind):
    """The bench's `trace op=NAME cmd=N ...` lines: command -> name."""
    try:
        with open(os.path.join(d, "run-" + kind, "out.txt")) as f:
            for line in f:
                if line.startswith("trace "):
                    kv = dict(w.split("=", 1) for w in line.split()[1:])
                    OPS.setdefault(int(kv["cmd"]), kv["op"])
    except FileNotFoundError:
        pass


def load(d, kind):
    op_names(d, kind)
    with open(os.path.join(d, kind + ".json")) as f:
        marks = json.load(f)["marks"]
    vml = os.path.join(d, kind + ".vmlinux")
    addrs, names = symbols(vml)
    allpcs = {int(pc, 16) for m in marks for pc in m["pcs"]}
    inl = innermost(vml, sorted(allpcs))
    res = {}
    for m in marks:
        by_fn, by_inl = collections.Counter(), collections.Counter()
        for pc_s, n in m["pcs"].items():
            pc = int(pc_s, 16)
            i = bisect.bisect_right(addrs, pc) - 1
            fn = names[i] if i >= 0 else "?"
            by_fn[fn] += n
            by_inl[inl.get(pc, fn)] += n
        key = (OPS.get(m["cmd"], "cmd%d" % m["cmd"]), CASES[m["case"]])
        res[key] = {"total": m["steps"], "bpf": m.get("bpf", m["steps"]),
                    "close": m.get("close", 0), "complete": m.get("complete", True),
                    "fn": by_fn, "inl": by_inl}
    return res


def diff_rows(a, b, limit):
    keys = set(a) | set(b)
    rows = [(k, a.get(k, 0), b.get(k, 0)) for k in keys if a.get(k, 0) != b.get(k, 0)]
    rows.sort(key=lambda r: (-abs(r[2] - r[1]), r[0]))
    return rows[:limit]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--base", default="vanilla")
    ap.add_argument("--kinds", default="vanilla,patched")
    ap.add_argument("--rows", type=int, default=25)
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    data = {k: load(args.dir, k) for k in kinds}
    base = data[args.base]
    print("# Kernel instructions of one marked create+close, by function\n")
    print("Counted by single-stepping in QEMU (1 vCPU, interrupts and timers masked "
          "while stepping) from `__x64_sys_bpf`'s entry until the task is back in "
          "user space after the close() that follows, kernel instructions only: "
          "the call, its way out, the close's way in and the task work it runs "
          "(fput).  Cells: total (bpf() + close()).  The syscall entry before "
          "`__x64_sys_bpf` is not counted; the mark (a size of 512 + case) adds "
          "the zero-tail check of the padding, the same on both kernels.  "
          "(cut): the trace did not come back straight to the caller.\n")
    print("| op | case | " + " | ".join(kinds) + " | delta |")
    print("| --- | --- | " + " | ".join("---:" for _ in kinds) + " | ---: |")
    keys = sorted({k for d in data.values() for k in d},
                  key=lambda k: (list(OPS.values()).index(k[0]) if k[0] in OPS.values() else 9,
                                 CASES.index(k[1])))
    for key in keys:
        cells = []
        for k in kinds:
            r = data[k].get(key)
            cells.append("n/a" if r is None else
                         "%d (%d + %d)" % (r["total"], r["bpf"], r["close"]) +
                         ("" if r["complete"] else " (cut)"))
        other = data[kinds[-1]].get(key)
        b = base.get(key)
        # The bpffs fd against the token path of the base kernel.
        if b is None and key[1] == "bpffs":
            b = base.get((key[0], "token"))
        delta = "%+d" % (other["total"] - b["total"]) if other and b else ""
        print("| %s | %s | %s | %s |" % (key[0], key[1], " | ".join(cells), delta))
    for key in keys:
        other = data[kinds[-1]].get(key)
        b = base.get(key)
        against = args.base
        if b is None and key[1] == "bpffs":
            b, against = base.get((key[0], "token")), args.base + " token"
        if not other or not b:
            continue
        print("\n## %s, %s: %s %d, %s %d (%+d)\n" % (key[0], key[1], against, b["total"],
                                                    kinds[-1], other["total"],
                                                    other["total"] - b["total"]))
        for label, field in (("function (symbol table)", "fn"),
                             ("innermost inlined function", "inl")):
            rows = diff_rows(b[field], other[field], args.rows)
            print("| %s | %s | %s | delta |" % (label, against, kinds[-1]))
            print("| --- | ---: | ---: | ---: |")
            for name, x, y in rows:
                print("| `%s` | %d | %d | %+d |" % (name, x, y, y - x))
            if not rows:
                print("| (none differs) | | | |")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
