// SPDX-License-Identifier: GPL-2.0

//! Seq files: text that a kernel object shows through procfs and friends,
//! e.g. a filesystem's mount options in `/proc/self/mountinfo`.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h)

use crate::{bindings, types::Opaque};
use core::fmt;

/// A `struct seq_file` being filled by a `show` callback.
///
/// Text is appended with [`SeqFile::write_bytes`] or, through
/// [`core::fmt::Write`], with `write!`.  A full buffer needs no handling: the
/// seq_file core notices the overflow and calls the `show` callback again
/// with a larger one.
///
/// # Invariants
///
/// The wrapped `struct seq_file` is valid, and only the `show` callback that
/// was handed it writes to it, for as long as the reference lives.
#[repr(transparent)]
pub struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// Creates a reference to a `struct seq_file` handed to a `show` callback.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct seq_file` for the lifetime `'a`,
    /// and nothing else may write to it during that time.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // SAFETY: `SeqFile` is a transparent wrapper of `Opaque<seq_file>`,
        // and the caller promises that `ptr` is valid for `'a`.
        // INVARIANT: the caller promises validity and exclusive writing.
        unsafe { &*ptr.cast::<SeqFile>() }
    }

    /// Appends `bytes`.
    pub fn write_bytes(&self, bytes: &[u8]) {
        // SAFETY: the seq_file is valid by the type invariant, and `bytes` is
        // valid for reads of `bytes.len()` bytes.  An overflow is recorded in
        // the seq_file itself and handled by its core, so the return value
        // carries nothing to act on here.
        unsafe { bindings::seq_write(self.0.get(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

impl fmt::Write for &SeqFile {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}
