// SPDX-License-Identifier: GPL-2.0

//! An independent model of the bpffs delegation policy for the fuzz targets.
//!
//! The targets feed the same input to the kernel's policy files (through the
//! host crate) and to this model, and fail on any difference.  The model is
//! written from the documentation (`Documentation/bpf/bpffs_delegation.rst`)
//! and the kernel's C behaviour (`copy_struct_from_user()`, `kstrtou64()`),
//! as plainly as possible and without calling the code under test: only the
//! generated name tables (data) and the public types are shared.

use std::fmt::Write;

use bpf_delegation_host::policy::{
    BlobError, Error, Field, Key, Masks, Opts, Request, State, Userns, Value, ANY, E2BIG,
    EINVAL, ENOENT, EPERM, ERANGE, SCOPE,
};
use bpf_delegation_host::text::TextError;
use bpf_delegation_host::versioned::SizeError;

/// `BPF_DELEGATION_OPTS_SIZE_VER0`: four `__u64`.
pub const VER0: usize = 32;
/// `BPF_DELEGATION_OPTS_SIZE_VER1`: and `cgroup_id`, the fifth `__u64`.
pub const VER1: usize = 40;
/// The largest blob the kernel looks at: a page.
pub const PAGE: usize = 4096;
/// `fsconfig(FSCONFIG_SET_STRING)` copies at most 255 bytes and a NUL
/// (`strndup_user(value, 256)`); a longer string never reaches bpffs.
pub const STRING_MAX: usize = 255;

/// `BPF_MAP_CREATE`, `BPF_PROG_LOAD` and `BPF_BTF_LOAD` in `enum bpf_cmd`:
/// the only commands whose checks consult a delegation.
pub const GATED: [u32; 4] = [0, 5, 18, 19];

/// The number of values of a field's enum, from the generated table: one
/// more than the largest value named there.
pub fn count(field: Field) -> u32 {
    let n = field.names().iter().map(|&(_, v)| v + 1).max().unwrap_or(0);
    assert_eq!(
        n,
        field.count(),
        "{}: the name table and __MAX_* disagree",
        field.name()
    );
    n
}

/// Bit `v`, or nothing for a value a u64 cannot hold.
pub fn bit(v: u32) -> u64 {
    if v < 64 {
        1 << v
    } else {
        0
    }
}

/// The bits of the values the kernel knows for a field.
pub fn known(field: Field) -> u64 {
    (0..count(field)).fold(0, |m, v| m | bit(v))
}

/// The bits a binary mask may have, "any" aside.
pub fn allowed(field: Field) -> u64 {
    match field {
        Field::Cmds => GATED.iter().fold(0, |m, &v| m | bit(v)) & known(field),
        _ => known(field),
    }
}

/// `struct bpf_delegation_opts` with the rules of `copy_struct_from_user()`
/// and a page as the upper bound, as the documentation's table says: the
/// kernel's struct is VER1 (five `__u64`); a shorter caller's struct is
/// zero-extended to it (a VER0 struct has no scope, and a size that ends
/// inside `cgroup_id` gives the bytes it has), a longer one must be zero past
/// it.
pub fn blob(b: &[u8]) -> Result<Opts, BlobError> {
    if b.len() < VER0 {
        return Err(BlobError::Size(SizeError::TooSmall {
            size: b.len(),
            min: VER0,
        }));
    }
    if b.len() > PAGE {
        return Err(BlobError::Size(SizeError::TooBig {
            size: b.len(),
            max: PAGE,
        }));
    }
    for (i, &byte) in b.iter().enumerate().skip(VER1) {
        if byte != 0 {
            return Err(BlobError::Size(SizeError::NonZeroTail {
                offset: i,
                known: VER1,
            }));
        }
    }
    let mut kernel = [0u8; VER1];
    let n = b.len().min(VER1);
    kernel[..n].copy_from_slice(&b[..n]);
    let mut words = [0u64; 5];
    for (i, w) in words.iter_mut().enumerate() {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&kernel[i * 8..i * 8 + 8]);
        *w = u64::from_ne_bytes(raw);
    }
    for (field, &w) in Field::ALL.iter().zip(&words) {
        if w == ANY {
            continue;
        }
        let bad = w & !allowed(*field);
        if bad == 0 {
            continue;
        }
        if *field == Field::Cmds && bad & !known(Field::Cmds) == 0 {
            return Err(BlobError::UngatedCmds { bits: bad });
        }
        return Err(BlobError::UnknownBits {
            field: *field,
            bits: bad,
        });
    }
    Ok(Opts {
        masks: Masks {
            cmds: words[0],
            maps: words[1],
            progs: words[2],
            attachs: words[3],
        },
        cgroup_id: words[4],
    })
}

/// The errno `fsconfig()` gives for a refused blob.
pub fn blob_errno(e: &BlobError) -> i32 {
    match e {
        BlobError::Size(SizeError::TooBig { .. } | SizeError::NonZeroTail { .. }) => E2BIG,
        _ => EINVAL,
    }
}

/// Why `kstrtou64()` refused a number.
#[derive(Debug, PartialEq, Eq)]
pub enum Num {
    /// `-EINVAL`.
    Invalid,
    /// `-ERANGE`.
    Range,
}

/// `kstrtou64(s, 0, &res)`, step by step as lib/kstrtox.c does it: an
/// optional '+', the radix from the prefix, digits until the first
/// non-digit (overflow only noted), then at most one '\n' and the end.
pub fn kstrtou64(s: &[u8]) -> Result<u64, Num> {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let mut s = s;
    if at(s, 0) == b'+' {
        s = &s[1..];
    }
    let base: u64 = if at(s, 0) == b'0' {
        if at(s, 1) | 0x20 == b'x' && at(s, 2).is_ascii_hexdigit() {
            16
        } else {
            8
        }
    } else {
        10
    };
    if base == 16 {
        s = &s[2..];
    }
    let mut res: u64 = 0;
    let mut overflow = false;
    let mut n = 0;
    while n < s.len() {
        let c = s[n];
        let lc = c | 0x20;
        let val = if c.is_ascii_digit() {
            u64::from(c - b'0')
        } else if (b'a'..=b'f').contains(&lc) {
            u64::from(lc - b'a' + 10)
        } else {
            break;
        };
        if val >= base {
            break;
        }
        if res > (u64::MAX - val) / base {
            overflow = true;
        }
        res = res.wrapping_mul(base).wrapping_add(val);
        n += 1;
    }
    if overflow {
        return Err(Num::Range);
    }
    if n == 0 {
        return Err(Num::Invalid);
    }
    let mut rest = &s[n..];
    if rest.first() == Some(&b'\n') {
        rest = &rest[1..];
    }
    if !rest.is_empty() {
        return Err(Num::Invalid);
    }
    Ok(res)
}

/// The value a token names in a field's enum: the name or the prefixed
/// name, ignoring ASCII case; the first in table order.
pub fn name(field: Field, token: &[u8]) -> Option<u32> {
    field.names().iter().find_map(|&(n, v)| {
        let mut full = Vec::from(field.prefix().as_bytes());
        full.extend_from_slice(n.as_bytes());
        (token.eq_ignore_ascii_case(n.as_bytes()) || token.eq_ignore_ascii_case(&full)).then_some(v)
    })
}

/// One `delegate_*` string: ':'-separated tokens, each "any", a name or a
/// number, all OR-ed.
pub fn list(field: Field, s: &[u8]) -> Result<u64, TextError<'_>> {
    let mut mask = 0;
    for token in s.split(|&c| c == b':') {
        if token.is_empty() {
            return Err(TextError::Empty);
        }
        if token.eq_ignore_ascii_case(b"any") {
            mask = ANY;
        } else if let Some(v) = name(field, token) {
            mask |= bit(v);
        } else {
            match kstrtou64(token) {
                Ok(n) => mask |= n,
                Err(Num::Range) => return Err(TextError::OutOfRange(token)),
                Err(Num::Invalid) => return Err(TextError::UnknownName(token)),
            }
        }
    }
    Ok(mask)
}

/// The errno of a refused string.
pub fn text_errno(e: &TextError<'_>) -> i32 {
    match e {
        TextError::OutOfRange(_) => ERANGE,
        _ => EINVAL,
    }
}

/// The delegation keys by name.
pub fn key(name: &[u8]) -> Option<Key> {
    const KEYS: [(&str, Key); 9] = [
        ("delegate", Key::Delegate),
        ("delegate_userns", Key::DelegateUserns),
        ("abilities", Key::Abilities),
        ("delegate_cmds", Key::Strings(Field::Cmds)),
        ("delegate_maps", Key::Strings(Field::Maps)),
        ("delegate_progs", Key::Strings(Field::Progs)),
        ("delegate_attachs", Key::Strings(Field::Attachs)),
        ("target_userns", Key::TargetUserns),
        ("delegate_cgroup", Key::Cgroup),
    ];
    KEYS.iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, k)| k)
}

/// A mount context's request, as the model keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Req {
    /// `delegate` was set.
    pub delegate: bool,
    /// `target_userns` was set.
    pub target: bool,
    /// Which fields a privileged caller named, in `Field::ALL` order.
    pub named: [bool; 4],
    /// Their values.
    pub masks: [u64; 4],
    /// The cgroup scope was named (`abilities` of VER1 or longer,
    /// `delegate_cgroup`).
    pub scope_named: bool,
    /// Its value; 0 is no scope.
    pub scope: u64,
}

fn index(field: Field) -> usize {
    Field::ALL.iter().position(|&f| f == field).unwrap()
}

impl Req {
    /// Whether it matches the kernel's request.
    pub fn matches(&self, r: &Request) -> bool {
        self.delegate == r.delegate
            && self.target == r.target
            && Field::ALL.iter().all(|&f| {
                self.named[index(f)] == r.is_set(f) && self.masks[index(f)] == r.masks.get(f)
            })
            && self.scope_named == (r.set & SCOPE != 0)
            && self.scope == r.scope
    }

    /// The masks as the kernel's type.
    pub fn masks(&self) -> Masks {
        Masks {
            cmds: self.masks[0],
            maps: self.masks[1],
            progs: self.masks[2],
            attachs: self.masks[3],
        }
    }

    /// Whether any field, or the scope, was named.
    pub fn any_named(&self) -> bool {
        self.named.iter().any(|&n| n) || self.scope_named
    }

    /// What a creation context's pending request becomes when a privileged
    /// reconfigure of its user namespace (`target_userns`) applies `self`
    /// to it: what `self` named replaces the pending value and counts as
    /// named; the rest, and the flags, stay.
    pub fn narrow(&self, pending: &Req) -> Req {
        let mut next = *pending;
        for i in 0..4 {
            if self.named[i] {
                next.named[i] = true;
                next.masks[i] = self.masks[i];
            }
        }
        if self.scope_named {
            next.scope_named = true;
            next.scope = self.scope;
        }
        next
    }
}

/// The id a `delegate_cgroup` string names, as `kstrtou64()` reads it;
/// `None` (`EINVAL`) for anything it refuses, overflow included.
pub fn cgroup_number(s: &[u8]) -> Option<u64> {
    kstrtou64(s).ok()
}

/// The cgroup2 directories of an input's world, from one byte of it: id
/// `n` exists when bit `n % 8` of `rule` is set; 0 never names one.
pub fn cgroups(rule: u8) -> impl Fn(u64) -> bool {
    move |id| id != 0 && rule >> (id % 8) & 1 != 0
}

/// What one parameter does to a context, as the documentation says:
/// privilege first for every delegation key, whatever the value; a failed
/// parameter leaves the request as it was (the caller keeps `req`).
///
/// `exists(id)` says whether a cgroup2 directory has that id; a scope of 0
/// is no scope and names none.
pub fn param<'a>(
    req: &Req,
    name: &'a [u8],
    value: Value<'a>,
    init_userns: bool,
    reconfigure: bool,
    privileged: bool,
    exists: &dyn Fn(u64) -> bool,
) -> Option<Result<Req, Error<'a>>> {
    let Some(k) = key(name) else {
        return match value {
            Value::Blob(_) => Some(Err(Error::BlobForOtherKey(name))),
            _ => None,
        };
    };
    if !privileged {
        return Some(Err(Error::NotPrivileged(k)));
    }
    let mut next = *req;
    let r = match (k, value) {
        (Key::Delegate, Value::Flag) if reconfigure => Err(Error::DelegateReconfigure),
        (Key::Delegate, Value::Flag) if init_userns => Err(Error::DelegateInitUserns),
        (Key::Delegate, Value::Flag) => {
            next.delegate = true;
            Ok(next)
        }
        (Key::DelegateUserns, Value::Fd(Userns::Same)) => Ok(next),
        (Key::DelegateUserns, Value::Fd(u)) => Err(Error::Userns(u)),
        // Only on a reconfigure of an initial-namespace instance, for
        // another namespace, once.
        (Key::TargetUserns, Value::Fd(_)) if !(reconfigure && init_userns) => {
            Err(Error::TargetContext)
        }
        (Key::TargetUserns, Value::Fd(u)) if u != Userns::Other => Err(Error::TargetUserns(u)),
        (Key::TargetUserns, Value::Fd(_)) if req.target => Err(Error::TargetTwice),
        (Key::TargetUserns, Value::Fd(_)) => {
            next.target = true;
            Ok(next)
        }
        // The four masks, replaced.  The scope only by a struct that has
        // all of `cgroup_id` (VER1 or longer), 0 clearing it: a shorter one
        // was written before the scope and leaves it as it was, so that a
        // VER0 tool narrowing masks does not unscope an instance.  A
        // non-zero `cgroup_id` must name a cgroup whatever the size (the
        // bytes of a 33..39-byte struct, zero-extended, are looked up too).
        (Key::Abilities, Value::Blob(b)) => match blob(b) {
            Ok(o) if o.cgroup_id != 0 && !exists(o.cgroup_id) => {
                Err(Error::NoCgroup(k, o.cgroup_id))
            }
            Ok(o) => {
                let m = o.masks;
                next.named = [true; 4];
                next.masks = [m.cmds, m.maps, m.progs, m.attachs];
                if b.len() >= VER1 {
                    next.scope_named = true;
                    next.scope = o.cgroup_id;
                }
                // A shorter struct leaves the scope as it was in this
                // context: named or not, with the value named earlier.
                Ok(next)
            }
            Err(e) => Err(Error::Blob(e)),
        },
        // The scope alone, replaced (never OR-ed); "0" clears it.
        (Key::Cgroup, Value::String(s)) => match cgroup_number(s) {
            None => Err(Error::CgroupNumber(s)),
            Some(id) if id != 0 && !exists(id) => Err(Error::NoCgroup(k, id)),
            Some(id) => {
                next.scope_named = true;
                next.scope = id;
                Ok(next)
            }
        },
        (Key::Strings(f), Value::String(s)) => match list(f, s) {
            Ok(m) => {
                next.named[index(f)] = true;
                next.masks[index(f)] |= m;
                Ok(next)
            }
            Err(e) => Err(Error::Text(f, e)),
        },
        _ => Err(Error::WrongType(k)),
    };
    Some(r)
}

/// The errno of a refused parameter.
pub fn errno(e: &Error<'_>) -> i32 {
    match e {
        Error::NotPrivileged(_) => EPERM,
        Error::Blob(b) => blob_errno(b),
        Error::Text(_, t) => text_errno(t),
        Error::NoCgroup(..) => ENOENT,
        _ => EINVAL,
    }
}

/// A superblock's state after a reconfigure with `req`: what was named
/// replaces the live field, nothing else changes.
pub fn reconfigure(req: &Req, live: &State) -> State {
    let mut next = *live;
    for f in Field::ALL {
        if req.named[index(f)] {
            *next.masks.get_mut(f) = req.masks[index(f)];
        }
    }
    if req.scope_named {
        next.scope = req.scope;
    }
    next
}

/// `BPF_LSM_CGROUP`, by its name in the generated table (data, not code).
pub fn lsm_cgroup() -> u32 {
    name(Field::Attachs, b"lsm_cgroup").expect("BPF_LSM_CGROUP in the attach table")
}

/// Whether a program loaded through a delegation in state `s` may be
/// attached to (or detached from, or replaced on) a cgroup with
/// `attach_type`, `multi` when the attachment is one of several
/// (`BPF_F_ALLOW_MULTI`; links, detaches and replaces count as multi):
/// never once the superblock is gone, only for an attach type this kernel
/// knows and the live mask has.  Unscoped, that is all, as upstream.  With
/// a scope, also: only as one of several (a legacy attachment replaces the
/// program already there, the host's included), never as `BPF_LSM_CGROUP`
/// (its hooks run for the cgroup of whatever task is current), and only in
/// the scope's subtree; `within(id)` says whether the target cgroup is `id`
/// or below it.
pub fn allows_cgroup_attach(
    s: &State,
    attach_type: u32,
    multi: bool,
    within: &dyn Fn(u64) -> bool,
) -> bool {
    if s.dead || attach_type >= count(Field::Attachs) {
        return false;
    }
    if s.masks.attachs & bit(attach_type) == 0 {
        return false;
    }
    if s.scope == 0 {
        return true;
    }
    multi && attach_type != lsm_cgroup() && within(s.scope)
}

/// A message for the fs_context log: checks that it is bounded and only
/// printable ASCII (user bytes are escaped), and returns it.
pub fn message(e: &dyn std::fmt::Display) -> String {
    let mut m = String::new();
    write!(m, "{e}").unwrap();
    assert!(!m.is_empty(), "an empty message");
    assert!(m.len() < 512, "a {}-byte message: {m}", m.len());
    assert!(
        m.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "an unprintable message: {m:?}"
    );
    m
}

/// What a state should look like after mountinfo's text is given back as
/// string options: unknown bits are not shown, all known bits read as "any".
pub fn shown(s: &State) -> State {
    let mut masks = Masks::default();
    for f in Field::ALL {
        let k = s.masks.get(f) & known(f);
        *masks.get_mut(f) = if k == known(f) { ANY } else { k };
    }
    State {
        delegated: s.delegated,
        dead: false,
        masks,
        scope: s.scope,
    }
}

/// What mountinfo must end with for a scope: `,delegate_cgroup=ID` in
/// decimal, nothing without one.
pub fn shown_scope(scope: u64) -> String {
    if scope == 0 {
        String::new()
    } else {
        format!(",delegate_cgroup={scope}")
    }
}

/// Splits an option's value into pieces of at most `STRING_MAX` bytes at
/// ':' boundaries, so each fits one `fsconfig()` string (a key given twice
/// OR-s).  Panics if a single token is longer.
pub fn pieces(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for token in value.split(':') {
        assert!(token.len() <= STRING_MAX, "a {}-byte token", token.len());
        let next = if end == start {
            end + token.len()
        } else {
            end + 1 + token.len()
        };
        if next - start > STRING_MAX {
            out.push(&value[start..end]);
            start = end + 1;
            end = start + token.len();
        } else {
            end = next;
        }
    }
    out.push(&value[start..end]);
    out
}
