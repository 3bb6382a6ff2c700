#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the committed seed corpus: corpus/blob/* and corpus/params/*.

blob seeds are struct bpf_delegation_opts as fsconfig() passes them; params
seeds are small lives of an instance (create, then reconfigures) in the
byte format that fuzz_targets/params.rs reads (see its Input: one byte per
choice, modulo the number of choices; numbers little-endian).  Run it after
changing that format, and commit the result:

    python3 host/fuzz/gen-seeds.py
"""

import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES_RS = os.path.join(HERE, "..", "..", "kernel", "bpf", "delegation", "names.rs")

FIELDS = ["cmds", "maps", "progs", "attachs"]
TABLES = {"cmds": "CMDS", "maps": "MAPS", "progs": "PROGS", "attachs": "ATTACHS"}
KEYS = ["delegate", "delegate_userns", "abilities", "delegate_cmds",
        "delegate_maps", "delegate_progs", "delegate_attachs"]
OTHER_KEYS = ["mode", "uid", "gid", "Delegate", "delegate_", "abilities ", ""]
USERNS = ["same", "same", "other", "notuserns"]
ANY = (1 << 64) - 1
VER0 = 32
PAGE = 4096


def tables():
    text = open(NAMES_RS).read()
    names, maxes = {}, {}
    for f, t in TABLES.items():
        body = re.search(r"const %s: &\[\(&str, u32\)\] = &\[(.*?)\];" % t, text, re.S).group(1)
        names[f] = [n for n, _ in re.findall(r'\("(\w+)", (\d+)\)', body)]
        maxes[f] = int(re.search(r"const %s_MAX: u32 = (\d+);" % t, text).group(1))
    return names, maxes


NAMES, MAXES = tables()


def value(field, name):
    return dict(re.findall(r'\("(\w+)", (\d+)\)', open(NAMES_RS).read().split(
        "const %s:" % TABLES[field])[1].split("];")[0])).get(name)


def bits(field, *names):
    m = 0
    for n in names:
        m |= 1 << int(value(field, n))
    return m


def known(field):
    return (1 << MAXES[field]) - 1


def opts(cmds=0, maps=0, progs=0, attachs=0, extra=b""):
    return struct.pack("<4Q", cmds, maps, progs, attachs) + extra


class Enc:
    """Mirrors the reads of fuzz_targets/params.rs."""

    def __init__(self):
        self.b = bytearray()

    def pick(self, i, n):
        assert 0 <= i < n, (i, n)
        self.b.append(i)

    def flag(self, v):
        self.b.append(1 if v else 0)

    def u16(self, v):
        self.b += struct.pack("<H", v)

    def u32(self, v):
        self.b += struct.pack("<I", v)

    def u64(self, v):
        self.b += struct.pack("<Q", v)

    def bytes(self, data, maximum):
        self.pick(len(data), maximum + 1)
        self.b += data

    # Strings: a list of tokens, or raw bytes.
    def cased(self, case):
        if case == "lower":
            self.pick(0, 4)
        elif case == "upper":
            self.pick(1, 4)
        else:
            self.pick(2, 4)
            self.u64(case)

    def token(self, field, tok):
        kind = tok[0]
        if kind == "any":
            self.pick(0, 8)
            self.cased(tok[1] if len(tok) > 1 else "lower")
        elif kind == "name":  # ("name", NAME[, prefixed, case, other_field])
            name = tok[1]
            prefixed = tok[2] if len(tok) > 2 else False
            case = tok[3] if len(tok) > 3 else "lower"
            other = tok[4] if len(tok) > 4 else None
            self.pick(1, 8)
            if other is None:
                self.pick(1, 4)
                f = field
            else:
                self.pick(0, 4)
                self.pick(FIELDS.index(other), 4)
                f = other
            self.pick(NAMES[f].index(name), len(NAMES[f]))
            self.flag(prefixed)
            self.cased(case)
        elif kind == "num":  # ("num", ("bit", k) | ("small", n) | ("any",) | ("u64", v), fmt, extra)
            spec, fmt = tok[1], tok[2] if len(tok) > 2 else 0
            extra = tok[3] if len(tok) > 3 else 7
            self.pick(4, 8)
            if spec[0] == "bit":
                self.pick(0, 4)
                self.pick(spec[1], 64)
            elif spec[0] == "small":
                self.pick(1, 4)
                self.pick(spec[1], 71)
            elif spec[0] == "any":
                self.pick(2, 4)
            else:
                self.pick(3, 4)
                self.u64(spec[1])
            self.pick(fmt, 4)  # 0 decimal, 1 0x, 2 0X, 3 octal
            # 0 '+', 1 '\n', 2 '0' appended, 3 a byte, 4 one of "0-9a-fxX", else none
            self.pick(extra, 8)
            if extra == 3:
                self.b.append(tok[4])
            elif extra == 4:
                self.pick("0123456789abcdefxX".index(tok[4]), 18)
        elif kind == "empty":
            self.pick(6, 8)
        else:  # ("raw", bytes)
            self.pick(7, 8)
            self.bytes(tok[1], 8)

    def string(self, field, toks):
        if isinstance(toks, bytes):
            self.pick(0, 8)
            self.bytes(toks, 40)
            return
        self.pick(1, 8)
        self.pick(len(toks) - 1, 6)
        for t in toks:
            self.token(field, t)

    # Blobs: four words and a size, or raw bytes.
    def blob(self, words=None, size=VER0, tail=None, raw=None):
        if raw is not None:
            self.pick(0, 8)
            self.bytes(raw, 48)
            return
        self.pick(1, 8)
        for w in words:
            if w == 0:
                self.pick(0, 6)
            elif w == ANY:
                self.pick(1, 6)
            else:
                self.pick(5, 6)
                self.u64(w)
        if size == VER0:
            self.pick(0, 8)
        elif size in (PAGE, PAGE + 1, 8, 0):
            self.pick(5, 8)
            self.pick([PAGE, PAGE + 1, 8, 0].index(size), 4)
        else:
            self.pick(6, 8)
            self.u16(size)
        if size > VER0:
            if tail is None:
                self.pick(1, 4)
            else:
                at, byte = tail
                self.pick(0, 4)
                self.u16(at - VER0)
                self.pick(byte - 1, 255)

    def op(self, key, val, privileged=True):
        if key in KEYS:
            self.pick(KEYS.index(key), 16)
        elif key in OTHER_KEYS:
            self.pick(14, 16)
            self.pick(OTHER_KEYS.index(key), len(OTHER_KEYS))
        else:
            self.pick(15, 16)
            self.bytes(key.encode(), 16)
        kind = val[0]
        if kind == "flag":
            self.pick(0, 8)
        elif kind == "str":  # ("str", tokens or raw bytes[, field for other keys])
            self.pick(1, 8)
            if key.startswith("delegate_") and key != "delegate_userns" and key in KEYS:
                field = key[len("delegate_"):]
            else:
                field = val[2]
                self.pick(FIELDS.index(field), 4)
            self.string(field, val[1])
        elif kind == "blob":  # ("blob", kwargs for Enc.blob)
            self.pick(2, 8)
            self.blob(**val[1])
        elif kind == "fd":
            self.pick(3, 8)
            self.pick(USERNS.index(val[1]), 4)
        else:
            self.pick(4, 8)
        self.pick(1 if privileged else 0, 5)

    def ops(self, ops, maximum):
        self.pick(len(ops), maximum + 1)
        for o in ops:
            self.op(*o)

    def small(self, v):
        if v < 71:
            self.pick(1, 8)
            self.pick(v, 71)
        else:
            self.pick(0, 8)
            self.u32(v)

    def uses(self, uses):
        """uses: (cmd, map_type or None, (prog, attach) or None)."""
        self.pick(len(uses), 5)
        for cmd, map_type, prog in uses:
            if cmd in (0, 5, 18):
                self.pick(1, 4)
                self.pick([0, 5, 18].index(cmd), 3)
            else:
                self.pick(0, 4)
                self.small(cmd)
            self.flag(map_type is not None)
            if map_type is not None:
                self.small(map_type)
            self.flag(prog is not None)
            if prog is not None:
                self.small(prog[0])
                self.small(prog[1])


def life(create, uses=(), reconfigures=(), init_userns=False, creator_privileged=False):
    """One instance: the create context's ops, then (ops, uses) per reconfigure."""
    e = Enc()
    e.pick(0 if init_userns else 1, 8)
    e.flag(creator_privileged)
    e.ops(create, 8)
    e.uses(uses)
    e.pick(len(reconfigures), 5)
    for ops, u in reconfigures:
        e.ops(ops, 6)
        e.uses(u)
    return bytes(e.b)


def blob_seeds():
    gated = bits("cmds", "MAP_CREATE", "PROG_LOAD", "BTF_LOAD")
    return {
        "ver0-zero": opts(),
        "ver0-typical": opts(gated, bits("maps", "HASH", "ARRAY"), bits("progs", "XDP"),
                             bits("attachs", "XDP")),
        "ver0-any": opts(ANY, ANY, ANY, ANY),
        "ver0-top-bits": opts(gated, 1 << (MAXES["maps"] - 1), 1 << (MAXES["progs"] - 1),
                              1 << (MAXES["attachs"] - 1)),
        "unknown-map-bit": opts(0, 1 << MAXES["maps"]),
        "ungated-cmd": opts(bits("cmds", "MAP_CREATE", "MAP_LOOKUP_ELEM")),
        "too-small-31": opts()[:31],
        "ver0-plus-8-zero": opts(gated, extra=bytes(8)),
        "ver0-plus-8-garbage": opts(gated, extra=bytes(7) + b"\x01"),
        "page": opts(gated, extra=bytes(PAGE - VER0)),
        "page-plus-1": opts(extra=bytes(PAGE + 1 - VER0)),
    }


def params_seeds():
    gated = bits("cmds", "MAP_CREATE", "PROG_LOAD", "BTF_LOAD")
    typical = [gated, bits("maps", "HASH", "ARRAY"), bits("progs", "SOCKET_FILTER"), 1]
    zero = ["blob", {"words": [0, 0, 0, 0]}]
    map_create = lambda t: (0, int(value("maps", t)), None)  # noqa: E731
    return {
        # Brauner's flow: userns fd, abilities, delegate; the container
        # creates it unprivileged, then the delegating task resets it.
        "brauner-flow": life(
            [("delegate_userns", ["fd", "same"]),
             ("abilities", ["blob", {"words": typical}]),
             ("delegate", ["flag"])],
            uses=[map_create("HASH"), map_create("STACK"), (18, None, None), (5, None, (1, 0))],
            reconfigures=[([("abilities", zero)], [map_create("HASH")])]),
        # upstream's string options, OR-ed, in every spelling; a reconfigure
        # replaces one field.
        "strings": life(
            [("delegate_cmds", ["str", [("name", "MAP_CREATE"), ("name", "BTF_LOAD", True, "upper")]]),
             ("delegate_maps", ["str", [("name", "ARRAY"), ("num", ("bit", 23), 1)]]),
             ("delegate_maps", ["str", [("name", "HASH", True, 0x5555)]]),
             ("delegate_progs", ["str", [("any", "upper")]]),
             ("delegate_attachs", ["str", [("num", ("small", 1), 3), ("num", ("u64", 4), 0, 1)]]),
             ("delegate", ["flag"])],
            uses=[map_create("ARRAY"), map_create("QUEUE")],
            reconfigures=[([("delegate_maps", ["str", [("name", "STACK")]])], [map_create("ARRAY")])]),
        # abilities replaces what came before it, later strings OR in.
        "blob-then-strings": life(
            [("delegate_maps", ["str", [("name", "ARRAY")]]),
             ("abilities", ["blob", {"words": typical, "size": 40}]),
             ("delegate_maps", ["str", [("name", "STACK")]]),
             ("delegate", ["flag"])]),
        # The container's own root: every delegation option EPERM, so it
        # cannot create without delegate, nor change a delegated instance.
        "unprivileged": life(
            [("abilities", ["blob", {"words": [ANY] * 4}], False),
             ("delegate", ["flag"], False),
             ("delegate_maps", ["str", [("any",)]], False)],
            creator_privileged=False),
        "unprivileged-reconfigure": life(
            [("abilities", ["blob", {"words": typical}]), ("delegate", ["flag"])],
            reconfigures=[([("abilities", ["blob", {"words": [ANY] * 4}], False),
                            ("delegate_cmds", ["str", [("any",)]], False),
                            ("mode", ["str", [("raw", b"700")], "maps"])], [map_create("HASH")])]),
        # Refusals: each leaves the context as it was.
        "refused-blobs": life(
            [("abilities", ["blob", {"words": typical, "size": 40, "tail": (39, 1)}]),
             ("abilities", ["blob", {"words": [0] * 4, "size": PAGE + 1}]),
             ("abilities", ["blob", {"raw": bytes(31)}]),
             ("abilities", ["blob", {"words": [1 << 1, 0, 0, 0]}]),
             ("abilities", ["str", [("any",)], "maps"]),
             ("uid", ["blob", {"words": [0] * 4}])],
            creator_privileged=True),
        "refused-strings": life(
            [("delegate_maps", ["str", [("name", "ARRAY"), ("empty",), ("name", "HASH")]]),
             ("delegate_maps", ["str", [("num", ("u64", ANY), 1, 2)]]),
             ("delegate_maps", ["str", [("raw", b"hsah")]]),
             ("delegate_maps", ["str", [("num", ("small", 8), 3, 4, "9")]]),
             ("delegate_maps", ["str", [("name", "MAP_CREATE", False, "lower", "cmds")]]),
             ("delegate_userns", ["fd", "other"])],
            creator_privileged=True,
            reconfigures=[([("delegate", ["flag"]), ("delegate_userns", ["fd", "notuserns"])], [])]),
        "init-userns": life(
            [("delegate", ["flag"]), ("delegate_cmds", ["str", [("name", "PROG_LOAD")]])],
            init_userns=True),
        # Almost every known bit: mountinfo's text is longer than one
        # fsconfig() string takes.
        "long-mountinfo": life(
            [("abilities", ["blob", {"words": [gated, known("maps") & ~1, known("progs") & ~2,
                                               known("attachs") & ~4]}]),
             ("delegate", ["flag"])],
            uses=[map_create("HASH"), (5, None, (0, 2))]),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.unlink(os.path.join(d, old))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (d, len(seeds)))


if __name__ == "__main__":
    write("blob", blob_seeds())
    write("params", params_seeds())
