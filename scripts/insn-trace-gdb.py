# Run by gdb (scripts/insn-trace.sh): attach to a VM's gdbstub, stop on each
# bpf() call delegation_bench marked (-T: its size is TRACE_MARK + case),
# single-step it and the close() after it back to user space, and count the
# kernel's instructions by address.
#
#   gdb -q -batch -nx -ex 'python TRACE_PORT=1234; TRACE_OUT="x.json"; \
#       TRACE_ENTRY=0xffffffff810f7497' -x scripts/insn-trace-gdb.py
#
# TRACE_ENTRY is __x64_sys_bpf's address (nm vmlinux).  gdb runs without the
# vmlinux on purpose: with its debug info loaded, every step would print a
# frame with its arguments read from DWARF, ~100 steps a second; without it,
# stepping is bounded by the gdbstub's round trip.
#
# The guest runs on one vCPU and QEMU's gdbstub masks interrupts and timers
# while it steps (its default), so what is counted is the call's own path.
# Writes TRACE_OUT: {"marks": [{"cmd", "case", "steps", "bpf", "close",
# "complete", "pcs": {addr: n}}]}.
import json
import struct
import time

import gdb

MARK = 512  # delegation_bench.c's TRACE_MARK
PT_REGS_DX = 96  # offsetof(struct pt_regs, dx) on x86-64; si and di follow
PT_REGS_IP = 128  # offsetof(struct pt_regs, ip): where bpf() returns to
MAX_STEPS = 2_000_000

port = globals().get("TRACE_PORT", 1234)
entry = globals()["TRACE_ENTRY"]
# Which bpf() commands to trace (default map create and BTF load): a step
# costs a gdbstub round trip (~175 a second here), so a program load's 80k
# instructions take 8 minutes per case.
cmds = set(globals().get("TRACE_CMDS", [0, 18]))
out = globals().get("TRACE_OUT", "trace.json")
marks = []
pending = []


def reg(name):
    return int(gdb.parse_and_eval("$" + name)) & (2**64 - 1)


class MarkedCall(gdb.Breakpoint):
    """__x64_sys_bpf(regs): stop only for a marked call."""

    def stop(self):
        regs = reg("rdi")
        dx, _si, di = struct.unpack(
            "<QQQ", bytes(gdb.selected_inferior().read_memory(regs + PT_REGS_DX, 24)))
        if MARK <= dx < MARK + 8 and di in cmds:
            ip = struct.unpack(
                "<Q", bytes(gdb.selected_inferior().read_memory(regs + PT_REGS_IP, 8)))[0]
            pending.append((di, dx - MARK, ip))
            return True
        return False


KERNEL = 1 << 63  # x86-64: kernel addresses have the top bit set


def trace_one(cmd, case, user_ip):
    """Step from __x64_sys_bpf's entry until the task is back in user space
    after the close() that follows (delegation_bench's do_op()): the call,
    its return to user space, and the close with the task work it runs on
    the way out (fput), so that what a release costs is counted too.
    Only kernel instructions are counted; the few user instructions between
    the two syscalls are the same binary's on both kernels.  The trace is
    complete when bpf() returned straight to @user_ip (no other task ran in
    between) and the close came back to user space."""
    pcs = {}
    phase = "bpf"
    steps = {"bpf": 0, "close": 0}
    user = 0
    pc = reg("rip")
    straight = False
    while True:
        if pc & KERNEL:
            if phase == "user":
                phase = "close"
            pcs[pc] = pcs.get(pc, 0) + 1
            steps[phase] += 1
        elif phase == "bpf":
            phase = "user"
            straight = pc == user_ip
        elif phase == "close":
            break
        else:
            user += 1
        if steps["bpf"] + steps["close"] + user >= MAX_STEPS:
            break
        gdb.execute("stepi", to_string=True)
        pc = reg("rip")
    complete = straight and phase == "close" and not pc & KERNEL
    marks.append({"cmd": cmd, "case": case, "steps": steps["bpf"] + steps["close"],
                  "bpf": steps["bpf"], "close": steps["close"], "user": user,
                  "complete": complete,
                  "pcs": {"%x" % k: v for k, v in pcs.items()}})
    print("insn-trace: cmd %d case %d: %d instructions (bpf %d, close %d)%s"
          % (cmd, case, steps["bpf"] + steps["close"], steps["bpf"], steps["close"],
             "" if complete else " INCOMPLETE"), flush=True)


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("set architecture i386:x86-64")
for attempt in range(240):
    try:
        gdb.execute("target remote :%d" % port, to_string=True)
        break
    except gdb.error:
        time.sleep(0.5)
else:
    raise SystemExit("insn-trace: no gdbstub on port %d" % port)
MarkedCall("*0x%x" % entry)
while True:
    try:
        gdb.execute("continue", to_string=True)
    except gdb.error:
        break  # the VM is gone
    if not pending:
        continue
    trace_one(*pending.pop())
with open(out, "w") as f:
    json.dump({"marks": marks}, f)
print("insn-trace: %d marked calls written to %s" % (len(marks), out), flush=True)
