// SPDX-License-Identifier: GPL-2.0

//! The pure part of bpffs delegation: what a delegation is and how a binary
//! `struct bpf_delegation_opts` becomes one.
//!
//! This file uses only `core`: no `kernel` crate types, no allocation, no
//! panics.  The kernel compiles it as a module of `kernel/bpf/delegation.rs`,
//! and the host test crate compiles the very same file to unit-test it.

use core::fmt;

/// Size of the first published `struct bpf_delegation_opts`
/// (`BPF_DELEGATION_OPTS_SIZE_VER0`).
pub const OPTS_SIZE_VER0: usize = 32;

/// The largest blob looked at, as for other size-versioned structs: one page.
pub const OPTS_SIZE_MAX: usize = 4096;

/// A mask with every bit set: "any", including values a later kernel adds.
pub const ANY: u64 = u64::MAX;

/// `EINVAL`, as a positive errno.
pub const EINVAL: i32 = 22;
/// `E2BIG`, as a positive errno.
pub const E2BIG: i32 = 7;

/// One of the four masks of a delegation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `enum bpf_cmd` values.
    Cmds,
    /// `enum bpf_map_type` values.
    Maps,
    /// `enum bpf_prog_type` values.
    Progs,
    /// `enum bpf_attach_type` values.
    Attachs,
}

impl Field {
    /// The four fields, in the order of `struct bpf_delegation_opts`.
    pub const ALL: [Field; 4] = [Field::Cmds, Field::Maps, Field::Progs, Field::Attachs];

    /// The field's name in `struct bpf_delegation_opts`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Cmds => "cmds",
            Field::Maps => "maps",
            Field::Progs => "progs",
            Field::Attachs => "attachs",
        }
    }
}

/// What a bpffs instance delegates: bit `n` of each mask allows value `n` of
/// the corresponding enum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Masks {
    /// Allowed `enum bpf_cmd` values.
    pub cmds: u64,
    /// Allowed `enum bpf_map_type` values.
    pub maps: u64,
    /// Allowed `enum bpf_prog_type` values.
    pub progs: u64,
    /// Allowed `enum bpf_attach_type` values.
    pub attachs: u64,
}

impl Masks {
    /// The mask of one field.
    pub fn get(&self, field: Field) -> u64 {
        match field {
            Field::Cmds => self.cmds,
            Field::Maps => self.maps,
            Field::Progs => self.progs,
            Field::Attachs => self.attachs,
        }
    }
}

/// Facts about the running kernel that the C side gathers: how many values
/// each enum has (its `__MAX_BPF_*`), and which commands consult a delegation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// `__MAX_BPF_CMD`.
    pub cmds: u32,
    /// `__MAX_BPF_MAP_TYPE`.
    pub maps: u32,
    /// `__MAX_BPF_PROG_TYPE`.
    pub progs: u32,
    /// `__MAX_BPF_ATTACH_TYPE`.
    pub attachs: u32,
    /// Bits of the commands that delegation gates.
    pub gated_cmds: u64,
}

impl Known {
    /// The bits of `field` that name a value this kernel knows.
    pub fn bits(&self, field: Field) -> u64 {
        let count = match field {
            Field::Cmds => self.cmds,
            Field::Maps => self.maps,
            Field::Progs => self.progs,
            Field::Attachs => self.attachs,
        };
        match 1u64.checked_shl(count) {
            Some(bit) => bit - 1,
            None => ANY,
        }
    }

    /// The bits a mask of `field` may have, "any" aside.
    pub fn allowed(&self, field: Field) -> u64 {
        match field {
            Field::Cmds => self.bits(field) & self.gated_cmds,
            _ => self.bits(field),
        }
    }
}

/// Why a binary delegation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// Shorter than `BPF_DELEGATION_OPTS_SIZE_VER0`.
    TooSmall {
        /// The size given.
        size: usize,
    },
    /// Longer than a page.
    TooBig {
        /// The size given.
        size: usize,
    },
    /// Longer than this kernel's struct, with a non-zero byte past its end:
    /// a newer caller asks for something this kernel does not know.
    NonZeroTail {
        /// Offset of the first non-zero byte.
        offset: usize,
    },
    /// A mask has bits above the enum's range (and is not "any").
    UnknownBits {
        /// The mask.
        field: Field,
        /// The offending bits.
        bits: u64,
    },
    /// The commands mask names a command that delegation does not gate.
    UngatedCmds {
        /// The offending bits.
        bits: u64,
    },
}

impl BlobError {
    /// The errno (positive) the caller gets, by the rules of
    /// `copy_struct_from_user()`.
    pub fn errno(&self) -> i32 {
        match self {
            BlobError::TooSmall { .. } | BlobError::UnknownBits { .. } | BlobError::UngatedCmds { .. } => {
                EINVAL
            }
            BlobError::TooBig { .. } | BlobError::NonZeroTail { .. } => E2BIG,
        }
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlobError::TooSmall { size } => write!(
                f,
                "abilities: {size} bytes is smaller than struct bpf_delegation_opts ({OPTS_SIZE_VER0})"
            ),
            BlobError::TooBig { size } => {
                write!(f, "abilities: {size} bytes is larger than {OPTS_SIZE_MAX}")
            }
            BlobError::NonZeroTail { offset } => write!(
                f,
                "abilities: unknown non-zero field at byte {offset} (this kernel knows {OPTS_SIZE_VER0})"
            ),
            BlobError::UnknownBits { field, bits } => {
                write!(f, "abilities: {} has unknown bits {bits:#x}", field.name())
            }
            BlobError::UngatedCmds { bits } => write!(
                f,
                "abilities: cmds {bits:#x} are not delegatable commands"
            ),
        }
    }
}

fn read_u64(blob: &[u8], offset: usize) -> Option<u64> {
    let bytes = blob.get(offset..offset.checked_add(8)?)?;
    let mut word = [0u8; 8];
    for (dst, src) in word.iter_mut().zip(bytes) {
        *dst = *src;
    }
    Some(u64::from_ne_bytes(word))
}

/// Parses a binary `struct bpf_delegation_opts` of any size.
///
/// The size rules are those of `copy_struct_from_user()` with a page as the
/// upper bound: a blob shorter than the first version is refused, a longer
/// one is accepted only when every byte past the known struct is zero.  Each
/// mask must be "any" (all ones) or name only values this kernel knows; the
/// commands mask only commands that delegation gates.  Nothing partial is
/// ever returned.
pub fn parse_blob(blob: &[u8], known: &Known) -> Result<Masks, BlobError> {
    let size = blob.len();
    if size < OPTS_SIZE_VER0 {
        return Err(BlobError::TooSmall { size });
    }
    if size > OPTS_SIZE_MAX {
        return Err(BlobError::TooBig { size });
    }
    let tail = blob.get(OPTS_SIZE_VER0..).unwrap_or_default();
    if let Some(pos) = tail.iter().position(|&b| b != 0) {
        return Err(BlobError::NonZeroTail {
            offset: OPTS_SIZE_VER0 + pos,
        });
    }
    let mut words = [0u64; 4];
    for (i, word) in words.iter_mut().enumerate() {
        *word = read_u64(blob, i * 8).ok_or(BlobError::TooSmall { size })?;
    }
    let masks = Masks {
        cmds: words[0],
        maps: words[1],
        progs: words[2],
        attachs: words[3],
    };
    for field in Field::ALL {
        let mask = masks.get(field);
        if mask == ANY {
            continue;
        }
        let bad = mask & !known.allowed(field);
        if bad == 0 {
            continue;
        }
        return Err(match field {
            Field::Cmds if bad & known.bits(field) == bad => BlobError::UngatedCmds { bits: bad },
            _ => BlobError::UnknownBits { field, bits: bad },
        });
    }
    Ok(masks)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The values of Linux 6.12: BPF_MAP_CREATE = 0, BPF_PROG_LOAD = 5,
    // BPF_BTF_LOAD = 18.
    const KNOWN: Known = Known {
        cmds: 37,
        maps: 33,
        progs: 32,
        attachs: 58,
        gated_cmds: (1 << 0) | (1 << 5) | (1 << 18),
    };

    fn blob(words: [u64; 4], extra: &[u8]) -> [u8; 64] {
        let mut b = [0u8; 64];
        for (i, w) in words.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        b[32..32 + extra.len()].copy_from_slice(extra);
        b
    }

    #[test]
    fn ver0_round_trips() {
        let b = blob([1 | 1 << 18, 1 << 23, 1, 1 << 57], &[]);
        let m = parse_blob(&b[..32], &KNOWN).unwrap();
        assert_eq!(
            m,
            Masks {
                cmds: 1 | 1 << 18,
                maps: 1 << 23,
                progs: 1,
                attachs: 1 << 57
            }
        );
    }

    #[test]
    fn zeroed_struct_is_empty() {
        assert_eq!(parse_blob(&[0; 32], &KNOWN), Ok(Masks::default()));
    }

    #[test]
    fn sizes_follow_copy_struct_from_user() {
        assert_eq!(parse_blob(&[], &KNOWN), Err(BlobError::TooSmall { size: 0 }));
        assert_eq!(parse_blob(&[0; 31], &KNOWN), Err(BlobError::TooSmall { size: 31 }));
        assert_eq!(parse_blob(&[0; 40], &KNOWN), Ok(Masks::default()));
        assert_eq!(parse_blob(&[0; 4096], &KNOWN), Ok(Masks::default()));
        assert_eq!(parse_blob(&[0; 4097], &KNOWN), Err(BlobError::TooBig { size: 4097 }));
        let b = blob([0; 4], &[0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(parse_blob(&b[..40], &KNOWN), Err(BlobError::NonZeroTail { offset: 39 }));
        assert_eq!(BlobError::NonZeroTail { offset: 39 }.errno(), E2BIG);
        assert_eq!(BlobError::TooBig { size: 4097 }.errno(), E2BIG);
        assert_eq!(BlobError::TooSmall { size: 31 }.errno(), EINVAL);
    }

    #[test]
    fn any_is_all_ones() {
        let m = parse_blob(&blob([ANY; 4], &[])[..32], &KNOWN).unwrap();
        assert_eq!(m, Masks { cmds: ANY, maps: ANY, progs: ANY, attachs: ANY });
    }

    #[test]
    fn unknown_bits_are_refused() {
        let e = parse_blob(&blob([0, 1 << 33, 0, 0], &[])[..32], &KNOWN);
        assert_eq!(e, Err(BlobError::UnknownBits { field: Field::Maps, bits: 1 << 33 }));
        assert_eq!(e.unwrap_err().errno(), EINVAL);
        let e = parse_blob(&blob([0, 0, 0, ANY - 1], &[])[..32], &KNOWN);
        assert_eq!(
            e,
            Err(BlobError::UnknownBits { field: Field::Attachs, bits: (ANY - 1) & !((1 << 58) - 1) })
        );
        // Highest known values are accepted.
        assert!(parse_blob(&blob([0, 1 << 32, 1 << 31, 1 << 57], &[])[..32], &KNOWN).is_ok());
    }

    #[test]
    fn ungated_commands_are_refused() {
        // BPF_MAP_LOOKUP_ELEM (1) is a real command that no delegation gates.
        let e = parse_blob(&blob([1 | 1 << 1, 0, 0, 0], &[])[..32], &KNOWN);
        assert_eq!(e, Err(BlobError::UngatedCmds { bits: 1 << 1 }));
        let e = parse_blob(&blob([1 << 40, 0, 0, 0], &[])[..32], &KNOWN);
        assert_eq!(e, Err(BlobError::UnknownBits { field: Field::Cmds, bits: 1 << 40 }));
    }

    #[test]
    fn known_bits_handle_64_values() {
        let k = Known { maps: 64, ..KNOWN };
        assert_eq!(k.bits(Field::Maps), ANY);
        assert_eq!(k.bits(Field::Progs), (1 << 32) - 1);
    }
}
