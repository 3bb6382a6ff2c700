// SPDX-License-Identifier: GPL-2.0

//! The text forms of a delegation: the `delegate_*` string options and what
//! `/proc/self/mountinfo` shows.  Pure: only `core`.
//!
//! The accepted strings are upstream's: ':'-separated tokens, each "any", an
//! enum value's name (case-insensitive, with or without its `BPF_...`
//! prefix) or a number as `kstrtou64(s, 0)` reads it (decimal, 0x-hex,
//! 0-octal), all OR-ed together.  Names come from the tables generated from
//! the uAPI header, so they work without vmlinux BTF.

use core::fmt::{self, Write};

use crate::policy::{Field, State, ANY, EINVAL, ERANGE};

/// Why a `delegate_*` string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError<'a> {
    /// An empty token (an empty string, or "::").
    Empty,
    /// A token that is neither "any", a name nor a number.
    UnknownName(&'a [u8]),
    /// A number that does not fit 64 bits.
    OutOfRange(&'a [u8]),
}

impl TextError<'_> {
    /// The errno (positive), as upstream's parser gives it.
    pub fn errno(&self) -> i32 {
        match self {
            TextError::OutOfRange(_) => ERANGE,
            _ => EINVAL,
        }
    }
}

impl fmt::Display for TextError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TextError::Empty => f.write_str("empty name"),
            TextError::UnknownName(t) => {
                f.write_str("unknown name '")?;
                write_bytes(f, t)?;
                f.write_str("'")
            }
            TextError::OutOfRange(t) => {
                f.write_str("number '")?;
                write_bytes(f, t)?;
                f.write_str("' out of range")
            }
        }
    }
}

/// Writes bytes from user space into a message: printable ASCII as is,
/// anything else escaped, at most 64 bytes.
pub fn write_bytes(w: &mut dyn Write, bytes: &[u8]) -> fmt::Result {
    const LIMIT: usize = 64;
    for &b in bytes.iter().take(LIMIT) {
        if b.is_ascii_graphic() || b == b' ' {
            w.write_char(char::from(b))?;
        } else {
            write!(w, "\\x{b:02x}")?;
        }
    }
    if bytes.len() > LIMIT {
        w.write_str("...")?;
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &str) -> &'a [u8] {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix.as_bytes()) => {
            s.get(prefix.len()..).unwrap_or_default()
        }
        _ => s,
    }
}

/// The value of an enum name, with or without its prefix, any case.
pub fn lookup(field: Field, token: &[u8]) -> Option<u32> {
    let bare = strip_prefix_ignore_case(token, field.prefix());
    field
        .names()
        .iter()
        .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(bare))
        .map(|&(_, value)| value)
}

enum NumError {
    Invalid,
    Range,
}

/// A number as `kstrtou64(s, 0, ...)` reads it.
fn parse_u64(s: &[u8]) -> Result<u64, NumError> {
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] if rest.first().is_some_and(u8::is_ascii_hexdigit) => {
            (16, rest)
        }
        [b'0', rest @ ..] if !rest.is_empty() => (8, rest),
        _ => (10, s),
    };
    if digits.is_empty() {
        return Err(NumError::Invalid);
    }
    let mut value: u64 = 0;
    for &c in digits {
        let digit = char::from(c).to_digit(radix).ok_or(NumError::Invalid)?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or(NumError::Range)?;
    }
    Ok(value)
}

/// A number as `kstrtou64(s, 0, ...)` reads it, or `None`.
pub fn parse_number(s: &[u8]) -> Option<u64> {
    parse_u64(s).ok()
}

/// Parses one `delegate_*` string into a mask.
pub fn parse_list(field: Field, s: &[u8]) -> Result<u64, TextError<'_>> {
    let mut mask = 0u64;
    for token in s.split(|&c| c == b':') {
        if token.is_empty() {
            return Err(TextError::Empty);
        }
        if token.eq_ignore_ascii_case(b"any") {
            mask = ANY;
        } else if let Some(value) = lookup(field, token) {
            mask |= 1u64.checked_shl(value).unwrap_or(0);
        } else {
            match parse_u64(token) {
                // Upstream let a number overwrite what came before it; OR it.
                Ok(n) => mask |= n,
                Err(NumError::Range) => return Err(TextError::OutOfRange(token)),
                Err(NumError::Invalid) => return Err(TextError::UnknownName(token)),
            }
        }
    }
    Ok(mask)
}

/// Writes one mask as upstream does: nothing for an empty one, "any" when all
/// known bits are set, otherwise the lower-case names (the first name of each
/// value) in value order and any known bit without a name in hex.  Unknown
/// bits are not shown.
fn write_mask(w: &mut dyn Write, field: Field, mask: u64) -> fmt::Result {
    let known = field.known_bits();
    let mut left = mask & known;
    if left == 0 {
        return Ok(());
    }
    write!(w, ",{}", field.option())?;
    if left == known {
        return w.write_str("=any");
    }
    let mut sep = '=';
    for &(name, value) in field.names() {
        let bit = 1u64.checked_shl(value).unwrap_or(0);
        if left & bit == 0 {
            continue;
        }
        w.write_char(sep)?;
        for c in name.chars() {
            w.write_char(c.to_ascii_lowercase())?;
        }
        left &= !bit;
        sep = ':';
    }
    if left != 0 {
        write!(w, "{sep}{left:#x}")?;
    }
    Ok(())
}

/// Writes a superblock's delegation as mount options, each with a leading
/// ',': `delegate` for an instance created under the flag, then the four
/// masks and the cgroup scope, if any.
pub fn show(w: &mut dyn Write, state: &State) -> fmt::Result {
    if state.delegated {
        w.write_str(",delegate")?;
    }
    for field in Field::ALL {
        write_mask(w, field, state.masks.get(field))?;
    }
    if state.scope != 0 {
        write!(w, ",delegate_cgroup={}", state.scope)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Masks;

    struct Buf([u8; 4096], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    impl Buf {
        fn shown(state: &State) -> Buf {
            let mut b = Buf([0; 4096], 0);
            show(&mut b, state).unwrap();
            b
        }
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.0[..self.1]).unwrap()
        }
    }

    #[test]
    fn names_any_case_with_or_without_prefix() {
        for s in [
            "map_create",
            "MAP_CREATE",
            "bpf_map_create",
            "BPF_Map_Create",
        ] {
            assert_eq!(parse_list(Field::Cmds, s.as_bytes()), Ok(1), "{s}");
        }
        assert_eq!(parse_list(Field::Maps, b"BPF_MAP_TYPE_STACK"), Ok(1 << 23));
        assert_eq!(parse_list(Field::Maps, b"stack"), Ok(1 << 23));
        assert_eq!(
            parse_list(Field::Progs, b"socket_filter:xdp"),
            Ok(1 << 1 | 1 << 6)
        );
        assert_eq!(parse_list(Field::Attachs, b"cgroup_inet_ingress"), Ok(1));
        // The name of another enum is not a name here.
        assert_eq!(
            parse_list(Field::Maps, b"map_create"),
            Err(TextError::UnknownName(b"map_create"))
        );
    }

    #[test]
    fn aliases_parse() {
        assert_eq!(
            parse_list(Field::Cmds, b"prog_run"),
            parse_list(Field::Cmds, b"prog_test_run")
        );
        assert_eq!(
            parse_list(Field::Maps, b"cgroup_storage"),
            parse_list(Field::Maps, b"cgroup_storage_deprecated")
        );
    }

    #[test]
    fn numbers_like_kstrtou64() {
        assert_eq!(parse_list(Field::Maps, b"0x800000"), Ok(1 << 23));
        assert_eq!(parse_list(Field::Maps, b"8388608"), Ok(1 << 23));
        assert_eq!(parse_list(Field::Maps, b"010"), Ok(8));
        assert_eq!(parse_list(Field::Maps, b"0"), Ok(0));
        assert_eq!(parse_list(Field::Maps, b"0xffffffffffffffff"), Ok(ANY));
        assert_eq!(
            parse_list(Field::Maps, b"0x10000000000000000"),
            Err(TextError::OutOfRange(b"0x10000000000000000"))
        );
        assert_eq!(
            parse_list(Field::Maps, b"09"),
            Err(TextError::UnknownName(b"09"))
        );
        assert_eq!(
            parse_list(Field::Maps, b"0x"),
            Err(TextError::UnknownName(b"0x"))
        );
    }

    #[test]
    fn tokens_or_together_numbers_included() {
        // Upstream's parser let the number overwrite "array"; it must not.
        assert_eq!(
            parse_list(Field::Maps, b"array:0x800000"),
            Ok(1 << 2 | 1 << 23)
        );
        assert_eq!(
            parse_list(Field::Maps, b"0x800000:array"),
            Ok(1 << 2 | 1 << 23)
        );
        assert_eq!(parse_list(Field::Maps, b"array:any"), Ok(ANY));
        assert_eq!(parse_list(Field::Maps, b"ANY"), Ok(ANY));
    }

    #[test]
    fn empty_tokens_are_refused() {
        assert_eq!(parse_list(Field::Maps, b""), Err(TextError::Empty));
        assert_eq!(
            parse_list(Field::Maps, b"array::hash"),
            Err(TextError::Empty)
        );
        assert_eq!(parse_list(Field::Maps, b"array:"), Err(TextError::Empty));
    }

    #[test]
    fn show_formats_like_upstream() {
        let state = State {
            delegated: true,
            dead: false,
            masks: Masks {
                cmds: 1 | 1 << 5,
                maps: ANY,
                progs: 0,
                attachs: 1 << 3 | 1 << 63,
            },
            scope: 0,
        };
        assert_eq!(
            Buf::shown(&state).as_str(),
            ",delegate,delegate_cmds=map_create:prog_load,delegate_maps=any,delegate_attachs=cgroup_sock_ops"
        );
        let scoped = State {
            scope: 4242,
            ..state
        };
        assert_eq!(
            Buf::shown(&scoped).as_str(),
            ",delegate,delegate_cmds=map_create:prog_load,delegate_maps=any,delegate_attachs=cgroup_sock_ops,delegate_cgroup=4242"
        );
        let all_known = State {
            delegated: false,
            dead: false,
            masks: Masks {
                cmds: Field::Cmds.known_bits(),
                ..Masks::default()
            },
            scope: 0,
        };
        assert_eq!(Buf::shown(&all_known).as_str(), ",delegate_cmds=any");
        assert_eq!(Buf::shown(&State::default()).as_str(), "");
        // The first name of a value is shown.
        let alias = State {
            delegated: false,
            dead: false,
            masks: Masks {
                maps: 1 << 19,
                ..Masks::default()
            },
            scope: 0,
        };
        assert_eq!(
            Buf::shown(&alias).as_str(),
            ",delegate_maps=cgroup_storage_deprecated"
        );
    }

    #[test]
    fn show_then_parse_round_trips() {
        let masks = Masks {
            cmds: 1 | 1 << 18,
            maps: 1 << 1 | 1 << 19 | 1 << 33,
            progs: 1 << 6 | 1 << 31,
            attachs: 1 | 1 << 40,
        };
        let b = Buf::shown(&State {
            delegated: false,
            dead: false,
            masks,
            scope: 77,
        });
        let mut parsed = Masks::default();
        let mut scope = 0;
        for opt in b.as_str().split(',').skip(1) {
            let (key, value) = opt.split_once('=').unwrap();
            if key == "delegate_cgroup" {
                scope = parse_number(value.as_bytes()).unwrap();
                continue;
            }
            let field = Field::ALL.into_iter().find(|f| f.option() == key).unwrap();
            *parsed.get_mut(field) = parse_list(field, value.as_bytes()).unwrap();
        }
        assert_eq!(parsed, masks);
        assert_eq!(scope, 77);
    }

    #[test]
    fn messages_escape_user_bytes() {
        let mut b = Buf([0; 4096], 0);
        write!(b, "{}", TextError::UnknownName(b"a\x01b")).unwrap();
        assert_eq!(b.as_str(), "unknown name 'a\\x01b'");
    }
}
