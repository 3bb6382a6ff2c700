#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the committed seed corpus: corpus/blob/* and corpus/params/*.

blob seeds are struct bpf_delegation_opts as fsconfig() passes them (VER0,
VER1 with a cgroup scope, and sizes around them); params seeds are small
lives of an instance (create, perhaps narrowed while pending, then
reconfigures) in the byte format that fuzz_targets/params.rs reads (see its
Input: one byte per choice, modulo the number of choices; numbers
little-endian).  Run it after changing that format, and commit the result:

    python3 host/fuzz/gen-seeds.py
"""

import os
import re
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES_AWK = os.path.join(HERE, "..", "..", "kernel", "bpf", "delegation", "names.awk")
BPF_H = os.environ.get("BPF_UAPI_H", os.path.join(HERE, "..", "..", "out", "base",
                                                  "include", "uapi", "linux", "bpf.h"))

FIELDS = ["cmds", "maps", "progs", "attachs"]
TABLES = {"cmds": "CMDS", "maps": "MAPS", "progs": "PROGS", "attachs": "ATTACHS"}
KEYS = ["delegate", "delegate_userns", "abilities", "delegate_cmds",
        "delegate_maps", "delegate_progs", "delegate_attachs", "target_userns",
        "delegate_cgroup"]
OTHER_KEYS = ["mode", "uid", "gid", "Delegate", "delegate_", "abilities ", ""]
USERNS = ["same", "same", "other", "notuserns"]
ANY = (1 << 64) - 1
VER0 = 32
VER1 = 40
PAGE = 4096
# The world of a params seed: cgroup ids n != 0 exist when bit n % 8 of the
# rule is set; with this one 1, 2, 5, 9, 10, 13, ... exist, 3, 4, 6, 7, 8 not.
RULE = 0b00100110


NAMES_TEXT = subprocess.run(["awk", "-f", NAMES_AWK, BPF_H], check=True,
                            capture_output=True, text=True).stdout


def tables():
    text = NAMES_TEXT
    names, maxes = {}, {}
    for f, t in TABLES.items():
        body = re.search(r"const %s: &\[\(&str, u32\)\] = &\[(.*?)\];" % t, text, re.S).group(1)
        names[f] = [n for n, _ in re.findall(r'\("(\w+)", (\d+)\)', body)]
        maxes[f] = int(re.search(r"const %s_MAX: u32 = (\d+);" % t, text).group(1))
    return names, maxes


NAMES, MAXES = tables()


def value(field, name):
    return dict(re.findall(r'\("(\w+)", (\d+)\)', NAMES_TEXT.split(
        "const %s:" % TABLES[field])[1].split("];")[0])).get(name)


LSM_CGROUP = int(value("attachs", "LSM_CGROUP"))


def bits(field, *names):
    m = 0
    for n in names:
        m |= 1 << int(value(field, n))
    return m


def known(field):
    return (1 << MAXES[field]) - 1


def opts(cmds=0, maps=0, progs=0, attachs=0, extra=b""):
    return struct.pack("<4Q", cmds, maps, progs, attachs) + extra


def opts1(cmds=0, maps=0, progs=0, attachs=0, cgroup_id=0, extra=b""):
    return struct.pack("<5Q", cmds, maps, progs, attachs, cgroup_id) + extra


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
            self.pick(4, 8)
            self.number(tok)
        elif kind == "empty":
            self.pick(6, 8)
        else:  # ("raw", bytes)
            self.pick(7, 8)
            self.bytes(tok[1], 8)

    def number(self, tok):
        """params.rs number(): tok as for token()'s "num"."""
        spec, fmt = tok[1], tok[2] if len(tok) > 2 else 0
        extra = tok[3] if len(tok) > 3 else 7
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

    def cgroup_string(self, v):
        """A delegate_cgroup value: ("id", n < 16), ("zero",), a "num" token,
        or ("str", field, tokens or raw bytes)."""
        if v[0] == "id":
            self.pick(0, 4)
            self.pick(v[1], 16)
        elif v[0] == "zero":
            self.pick(1, 4)
        elif v[0] == "num":
            self.pick(2, 4)
            self.number(v)
        else:
            self.pick(3, 4)
            self.pick(FIELDS.index(v[1]), 4)
            self.string(v[1], v[2])

    def string(self, field, toks):
        if isinstance(toks, bytes):
            self.pick(0, 8)
            self.bytes(toks, 40)
            return
        self.pick(1, 8)
        self.pick(len(toks) - 1, 6)
        for t in toks:
            self.token(field, t)

    # Blobs: four words, a cgroup id and a size, or raw bytes.
    def blob(self, words=None, cgroup=0, size=VER0, tail=None, raw=None):
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
        if cgroup == 0:
            self.pick(0, 4)
        elif cgroup < 16:
            self.pick(1, 4)
            self.pick(cgroup, 16)
        else:
            self.pick(3, 4)
            self.u64(cgroup)
        if size == VER0:
            self.pick(0, 8)
        elif size == VER1:
            self.pick(2, 8)
        elif size in range(VER0 + 4, VER0 + 4 * 9, 4):
            self.pick(4, 8)
            self.pick((size - VER0) // 4 - 1, 8)
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
        elif kind == "str" and key == "delegate_cgroup":  # ("str", cgroup_string value)
            self.pick(1, 8)
            self.cgroup_string(val[1])
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

    def attaches(self, attaches):
        """attaches: (attach_type, multi, [cgroup: "scope", n < 16 or a u64])."""
        self.pick(len(attaches), 4)
        for attach_type, multi, chain in attaches:
            if attach_type == LSM_CGROUP:
                self.pick(1, 8)
            elif attach_type < 71:
                self.pick(2, 8)
                self.pick(attach_type, 71)
            else:
                self.pick(0, 8)
                self.u32(attach_type)
            self.flag(multi)
            self.pick(len(chain), 4)
            for c in chain:
                if c == "scope":
                    self.pick(0, 4)
                elif c < 16:
                    self.pick(2, 4)
                    self.pick(c, 16)
                else:
                    self.pick(3, 4)
                    self.u64(c)

    def uses(self, uses, attaches=()):
        """uses: (cmd, map_type or None, (prog, attach) or None); then the
        cgroup attachments checked (see attaches())."""
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
        self.attaches(attaches)


def life(create, uses=(), reconfigures=(), init_userns=False, creator_privileged=False,
         rule=RULE, narrow=None, attaches=()):
    """One instance: the create context's ops, the ops of a target_userns
    reconfigure that narrows it while pending (or None), then (ops, uses[,
    attaches]) per reconfigure."""
    e = Enc()
    e.pick(0 if init_userns else 1, 8)
    e.flag(creator_privileged)
    e.b.append(rule)
    e.ops(create, 8)
    if narrow is None:
        e.pick(1, 4)
    else:
        e.pick(0, 4)
        e.ops(narrow, 4)
    e.uses(uses, attaches)
    e.pick(len(reconfigures), 5)
    for r in reconfigures:
        e.ops(r[0], 6)
        e.uses(r[1], r[2] if len(r) > 2 else ())
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
        "ver1-zero": opts1(),
        "ver1-scope": opts1(gated, bits("maps", "HASH"), bits("progs", "CGROUP_SKB"),
                            bits("attachs", "CGROUP_INET_INGRESS", "CGROUP_INET_EGRESS"), 5),
        "ver1-any-scope": opts1(ANY, ANY, ANY, ANY, 1 << 40),
        # The scope's top byte: a cgroup id, not an unknown field.
        "ver1-top-byte": opts(gated, extra=bytes(7) + b"\x01"),
        # A struct that ends inside cgroup_id: zero-extended.
        "ver0-plus-4": opts(gated, extra=b"\x05\x00\x00\x00"),
        "ver0-plus-1": opts(gated, extra=b"\x02"),
        "ver1-plus-8-zero": opts1(gated, cgroup_id=9, extra=bytes(8)),
        "ver1-plus-8-garbage": opts1(gated, extra=bytes(7) + b"\x01"),
        "ver1-bad-mask-and-scope": opts1(0, 1 << MAXES["maps"], 0, 0, 6),
        "page": opts1(gated, cgroup_id=2, extra=bytes(PAGE - VER1)),
        "page-plus-1": opts(extra=bytes(PAGE + 1 - VER0)),
    }


def params_seeds():
    gated = bits("cmds", "MAP_CREATE", "PROG_LOAD", "BTF_LOAD")
    typical = [gated, bits("maps", "HASH", "ARRAY"), bits("progs", "SOCKET_FILTER"), 1]
    zero = ["blob", {"words": [0, 0, 0, 0]}]
    map_create = lambda t: (0, int(value("maps", t)), None)  # noqa: E731
    cgroup_skb = [gated, bits("maps", "HASH"), bits("progs", "CGROUP_SKB"),
                  bits("attachs", "CGROUP_INET_INGRESS", "CGROUP_INET_EGRESS")]
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
            [("abilities", ["blob", {"words": typical, "size": 48, "tail": (47, 1)}]),
             ("abilities", ["blob", {"words": typical, "cgroup": 3, "size": VER1}]),
             ("abilities", ["blob", {"words": typical, "size": 36, "tail": (32, 4)}]),
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
        # A cgroup scope (VER1): attachments of a delegated type in the
        # scope's subtree only, multi only, never lsm_cgroup; a VER0 struct
        # leaves the scope as it is, a VER1 one with 0 clears it, the
        # string key replaces it alone.
        "scoped": life(
            [("delegate_userns", ["fd", "same"]),
             ("abilities", ["blob", {"words": cgroup_skb, "cgroup": 5, "size": VER1}]),
             ("delegate", ["flag"])],
            attaches=[(0, True, ["scope"]), (0, False, ["scope"]), (2, True, ["scope"])],
            reconfigures=[
                ([("delegate_cgroup", ["str", ("id", 9)])], [],
                 [(0, True, [5]), (0, True, [1, "scope"])]),
                ([("delegate_maps", ["str", [("name", "ARRAY")]])], [], [(1, True, [9])]),
                # A VER0 tool narrowing the masks: the scope stays.
                ([("abilities", ["blob", {"words": cgroup_skb}])], [],
                 [(0, True, ["scope"]), (0, False, ["scope"]), (0, True, [])]),
                ([("delegate_cgroup", ["str", ("num", ("small", 13), 1)]),
                  ("delegate_cgroup", ["str", ("zero",)], False)], [], [(1, True, [13])]),
            ]),
        # A VER1 struct with cgroup_id 0 unscopes: then legacy attachments
        # and lsm_cgroup go anywhere the mask allows, as upstream.
        "scope-cleared": life(
            [("abilities", ["blob", {"words": [gated, 0, ANY, ANY], "cgroup": 2, "size": VER1}]),
             ("delegate", ["flag"])],
            attaches=[(LSM_CGROUP, True, ["scope"]), (LSM_CGROUP, False, [2]),
                      (0, False, ["scope"])],
            reconfigures=[
                ([("abilities", ["blob", {"words": [gated, 0, ANY, ANY], "size": VER1}])], [],
                 [(LSM_CGROUP, True, [1]), (0, False, [7])]),
                # Between the versions: a non-zero cgroup_id is looked up
                # (3 names none: ENOENT) but does not name the scope (1 does
                # exist, and the scope stays cleared).
                ([("abilities", ["blob", {"words": [gated, 0, 0, ANY], "cgroup": 3, "size": 36}]),
                  ("abilities", ["blob", {"words": [gated, 0, 0, ANY], "cgroup": 1, "size": 36}])],
                 [], [(0, False, [1])]),
            ]),
        # In one reconfigure context, the string key names a scope and a
        # VER0 struct follows: the scope named earlier stays named.
        "cgroup-then-ver0": life(
            [("abilities", ["blob", {"words": cgroup_skb, "cgroup": 5, "size": VER1}]),
             ("delegate_cgroup", ["str", ("id", 9)]),
             ("abilities", ["blob", {"words": cgroup_skb}]),
             ("delegate", ["flag"])],
            attaches=[(0, True, [9]), (0, True, [5])],
            reconfigures=[
                ([("delegate_cgroup", ["str", ("id", 2)]),
                  ("abilities", ["blob", {"words": cgroup_skb}])], [],
                 [(0, True, [2]), (0, True, [9])]),
            ]),
        # delegate_cgroup in every spelling; ids that name no cgroup, and
        # strings that are not numbers, change nothing.
        "cgroup-strings": life(
            [("delegate_cgroup", ["str", ("id", 2)]),
             ("delegate_cgroup", ["str", ("num", ("small", 10), 3)]),
             ("delegate_cgroup", ["str", ("num", ("small", 1), 0, 1)]),
             ("delegate_cgroup", ["str", ("id", 3)]),
             ("delegate_cgroup", ["str", ("num", ("u64", ANY), 1, 2)]),
             ("delegate_cgroup", ["str", ("str", "maps", [("name", "HASH")])]),
             ("delegate_cgroup", ["blob", {"words": [0] * 4}]),
             ("delegate", ["flag"])],
            reconfigures=[([("delegate_cgroup", ["flag"]),
                            ("delegate_cgroup", ["str", ("zero",)])], [])]),
        # Consent given with a scope, narrowed while pending by a
        # target_userns reconfigure to another scope and fewer maps.
        "pending-narrowed": life(
            [("abilities", ["blob", {"words": cgroup_skb, "cgroup": 1, "size": VER1}]),
             ("delegate", ["flag"])],
            narrow=[("target_userns", ["fd", "other"]),
                    ("delegate_cgroup", ["str", ("id", 10)]),
                    ("delegate_maps", ["str", [("name", "ARRAY")]])],
            attaches=[(0, True, [10]), (0, True, [1])]),
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
