// SPDX-License-Identifier: GPL-2.0

//! Size-versioned structs, read from bytes already in the kernel.
//!
//! An extensible uAPI struct grows only at its end, and its size is its
//! version.  `copy_struct_from_user()` (`include/linux/uaccess.h`) sets the
//! rules for a struct that user space passes with its size: a caller that
//! knows an older, shorter version gets the fields it did not name
//! zero-filled; a caller that knows a newer, longer version is accepted only
//! if every byte this kernel does not know is zero, and refused with `E2BIG`
//! otherwise.  Callers that cannot bound the size themselves refuse
//! anything longer than a page, also with `E2BIG`, and anything shorter than
//! the first published version with `EINVAL`.
//!
//! [`Versioned`] applies those rules to bytes the kernel already holds,
//! for example the value of an `FSCONFIG_SET_BINARY` parameter (see
//! [`super::Param`]), which the VFS has copied in before the filesystem
//! sees it.  Nothing here is specific to one struct or one filesystem.
//!
//! This file uses only `core`, so that code which must also build outside
//! the kernel (host unit tests, fuzzers) can include it by path.  The
//! conversion of [`SizeError`] into a kernel [`Error`](crate::error::Error)
//! is in the parent module.

use core::fmt;

/// Why bytes are not a valid instance of a size-versioned struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// Shorter than the first published version (`EINVAL`).
    TooSmall {
        /// The size given.
        size: usize,
        /// The size of the first published version.
        min: usize,
    },
    /// Longer than the caller's bound (`E2BIG`).
    TooBig {
        /// The size given.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Longer than the version this kernel knows, with a non-zero byte
    /// past its end: the caller asks for something this kernel does not
    /// know (`E2BIG`).
    NonZeroTail {
        /// Offset of the first non-zero unknown byte.
        offset: usize,
        /// The size of the version this kernel knows.
        known: usize,
    },
}

impl SizeError {
    /// Whether `copy_struct_from_user()`'s rules answer `E2BIG` (otherwise
    /// `EINVAL`).
    pub fn is_too_big(&self) -> bool {
        !matches!(self, SizeError::TooSmall { .. })
    }
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SizeError::TooSmall { size, min } => {
                write!(f, "{size} bytes is smaller than the first version ({min})")
            }
            SizeError::TooBig { size, max } => write!(f, "{size} bytes is larger than {max}"),
            SizeError::NonZeroTail { offset, known } => write!(
                f,
                "unknown non-zero field at byte {offset} (this kernel knows {known})"
            ),
        }
    }
}

/// A size-versioned struct of which this kernel knows the first `N` bytes.
///
/// # Invariants
///
/// `given <= N`, and `bytes[given..]` is all zero.
///
/// # Examples
///
/// ```
/// use kernel::fs_param::versioned::{SizeError, Versioned};
///
/// // This kernel knows a 16-byte version 1; version 0 had 8 bytes.
/// let v1 = [1u8, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
///
/// // A caller built against version 0: the new field reads as zero.
/// let s = Versioned::<16>::from_bytes(&v1[..8], 8, 4096)?;
/// assert_eq!(s.given(), 8);
/// assert!(!s.has(16));
/// assert_eq!(s.u64_at(8), Some(0));
///
/// // The same version as this kernel: everything is read.
/// let s = Versioned::<16>::from_bytes(&v1, 8, 4096)?;
/// assert!(s.has(16));
/// assert_eq!(s.u64_at(8), Some(u64::from_ne_bytes([2, 0, 0, 0, 0, 0, 0, 0])));
///
/// // A newer caller whose extra fields are zero is understood...
/// let mut v2 = [0u8; 24];
/// v2[..16].copy_from_slice(&v1);
/// assert_eq!(Versioned::<16>::from_bytes(&v2, 8, 4096)?.bytes(), &v1);
///
/// // ...one that uses them is not: E2BIG, naming the first such byte.
/// v2[20] = 1;
/// let err = Versioned::<16>::from_bytes(&v2, 8, 4096).unwrap_err();
/// assert_eq!(err, SizeError::NonZeroTail { offset: 20, known: 16 });
/// assert!(err.is_too_big());
///
/// // Shorter than the first version: EINVAL; longer than the bound: E2BIG.
/// assert!(!Versioned::<16>::from_bytes(&v1[..7], 8, 4096).unwrap_err().is_too_big());
/// assert_eq!(
///     Versioned::<16>::from_bytes(&v2, 8, 23),
///     Err(SizeError::TooBig { size: 24, max: 23 })
/// );
/// # Ok::<(), SizeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versioned<const N: usize> {
    bytes: [u8; N],
    given: usize,
}

impl<const N: usize> Versioned<N> {
    /// Reads `src` by `copy_struct_from_user()`'s rules: `min` is the size
    /// of the first published version, `max` the largest size looked at
    /// (a page, usually).  Nothing is returned unless all of `src` is valid.
    pub fn from_bytes(src: &[u8], min: usize, max: usize) -> Result<Self, SizeError> {
        let size = src.len();
        if size < min {
            return Err(SizeError::TooSmall { size, min });
        }
        if size > max {
            return Err(SizeError::TooBig { size, max });
        }
        let (known, tail) = src.split_at(size.min(N));
        if let Some(pos) = tail.iter().position(|&b| b != 0) {
            return Err(SizeError::NonZeroTail {
                offset: N + pos,
                known: N,
            });
        }
        let mut bytes = [0u8; N];
        for (dst, src) in bytes.iter_mut().zip(known) {
            *dst = *src;
        }
        // INVARIANT: `known.len() <= N` and the rest of `bytes` stays zero.
        Ok(Self {
            bytes,
            given: known.len(),
        })
    }

    /// The struct as this kernel knows it, zero-filled past what was given.
    pub fn bytes(&self) -> &[u8; N] {
        &self.bytes
    }

    /// How many of the `N` bytes the caller gave (the rest are zero).
    pub fn given(&self) -> usize {
        self.given
    }

    /// Whether the caller's version includes a field ending at byte `end`,
    /// i.e. whether a zero there was said rather than implied.
    pub fn has(&self, end: usize) -> bool {
        end <= self.given
    }

    /// The native-endian `u64` at `offset`, if it lies within `N` bytes.
    pub fn u64_at(&self, offset: usize) -> Option<u64> {
        let src = self.bytes.get(offset..offset.checked_add(8)?)?;
        let mut word = [0u8; 8];
        for (dst, src) in word.iter_mut().zip(src) {
            *dst = *src;
        }
        Some(u64::from_ne_bytes(word))
    }
}
