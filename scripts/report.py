#!/usr/bin/env python3
"""Read what one VM run left in its results folder and judge it.

Counts every kselftest case (TAP from kselftest_harness) and every KUnit case
(KTAP in the kernel log), adds the host-side counts given on the command
line, prints each failure by name and ends with the line 'N passed, N failed'.
Exits 1 on any failure, including a test binary that printed no plan, a
missing KUnit suite, a guest that never finished, or a kernel splat.
"""
import argparse
import pathlib
import re
import sys

# Kernel log lines that mean the guest kernel went wrong somewhere.
SPLATS = re.compile(
    r"(Oops|BUG:|WARNING:|KASAN:|UBSAN:|kernel BUG|general protection fault|"
    r"Kernel panic|RCU stall|possible circular locking|unreferenced object|"
    r"rust_panic|panicked at|suspected memory leak)"
)
TAP_RESULT = re.compile(r"^(not ok|ok) \d+ (.*?)(?:\s+#\s*(SKIP|TODO)\b.*)?$")
KTAP_PREFIX = re.compile(r"^\[\s*\d+\.\d+\]\s?")
KTAP_RESULT = re.compile(r"^(\s*)(not ok|ok) \d+ (\S+)(?:\s+#\s*(SKIP)\b.*)?")
KTAP_SUITE = re.compile(r"^\s*# Subtest: (\S+)")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = []
        self.skipped = 0

    def add(self, name, ok, skip=False):
        if skip:
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed.append(name)


def kselftests(results, names, tally):
    for name in names:
        tap = results / f"{name}.tap"
        rc = results / f"{name}.rc"
        if not tap.exists() or not rc.exists():
            tally.add(f"kselftest {name}: did not run", False)
            continue
        lines = tap.read_text(errors="replace").splitlines()
        plan = [l for l in lines if re.match(r"^1\.\.\d+$", l)]
        cases = 0
        for line in lines:
            m = TAP_RESULT.match(line)
            if m:
                cases += 1
                tally.add(f"kselftest {name}: {m.group(2)}", m.group(1) == "ok", m.group(3) == "SKIP")
        if not plan or cases != int(plan[0][3:]):
            tally.add(f"kselftest {name}: plan {plan[:1]} but {cases} results", False)
        elif rc.read_text().strip() != "0" and not any(n.startswith(f"kselftest {name}:") for n in tally.failed):
            tally.add(f"kselftest {name}: exited {rc.read_text().strip()}", False)


def kunit(dmesg_lines, want_suites, tally):
    """Leaf cases of every KUnit suite in the log (parameterised cases count once each)."""
    seen = set()
    stack = []  # (indent, suite)
    for raw in dmesg_lines:
        line = KTAP_PREFIX.sub("", raw)
        m = KTAP_SUITE.match(line)
        if m:
            indent = len(line) - len(line.lstrip())
            stack.append((indent, m.group(1)))
            seen.add(m.group(1))
            continue
        m = KTAP_RESULT.match(line)
        if not m or not stack:
            continue
        indent = len(m.group(1))
        suite_indent, suite = stack[-1]
        # A suite's "# Subtest:" line is indented like its cases; its own
        # result line is one level out.
        if indent >= suite_indent:
            tally.add(f"kunit {suite}.{m.group(3)}", m.group(2) == "ok", m.group(4) == "SKIP")
        else:
            # The suite's own result line closes it.
            stack.pop()
            if m.group(2) != "ok" and not any(f.startswith(f"kunit {suite}.") for f in tally.failed):
                tally.add(f"kunit {suite}", False)
    for suite in want_suites:
        if suite not in seen:
            tally.add(f"kunit {suite}: suite missing from the kernel log", False)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results", type=pathlib.Path)
    ap.add_argument("--kselftest", action="append", default=[], help="test binary expected to have run")
    ap.add_argument("--kunit-suite", action="append", default=[], help="KUnit suite expected in the log")
    ap.add_argument("--host", action="append", default=[],
                    help="NAME:PASSED:FAILED from a host-side runner")
    ap.add_argument("--kmemleak", action="store_true",
                    help="require the guest's kmemleak scan (debug kernels) and fail on any leak")
    args = ap.parse_args()
    tally = Tally()

    for h in args.host:
        name, p, f = h.rsplit(":", 2)
        tally.passed += int(p)
        tally.failed += [f"{name}: host test failed"] * int(f)

    if not (args.results / "guest-done").exists():
        tally.add("VM: the guest did not finish its test run (crash, hang or boot failure); "
                  f"see {args.results / 'console.log'}", False)
    kselftests(args.results, args.kselftest, tally)
    dmesg = args.results / "dmesg.txt"
    lines = dmesg.read_text(errors="replace").splitlines() if dmesg.exists() else []
    kunit(lines, args.kunit_suite, tally)
    for line in lines:
        if SPLATS.search(line):
            tally.add(f"kernel log: {KTAP_PREFIX.sub('', line).strip()}", False)

    if args.kmemleak:
        leaks = args.results / "kmemleak.txt"
        if not leaks.exists():
            tally.add("kmemleak: no scan result (is CONFIG_DEBUG_KMEMLEAK on and debugfs there?)", False)
        else:
            report = leaks.read_text(errors="replace").splitlines()
            leaked = False
            for i, line in enumerate(report):
                if line.startswith("unreferenced object"):
                    where = next((r.strip() for r in report[i + 1:i + 12]
                                  if r.strip().startswith("[<") and "kmemleak" not in r
                                  and "slab" not in r and "kmalloc" not in r), "")
                    tally.add(f"kmemleak: {line.strip()} {where}", False)
                    leaked = True
            tally.add("kmemleak scan", not leaked)

    for f in tally.failed:
        print(f"FAIL: {f}")
    skipped = f", {tally.skipped} skipped" if tally.skipped else ""
    print(f"{tally.passed} passed, {len(tally.failed)} failed{skipped}")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
