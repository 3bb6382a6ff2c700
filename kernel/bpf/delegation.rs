// SPDX-License-Identifier: GPL-2.0

//! bpffs delegation: the entry points C calls (declared in
//! `include/linux/bpf_delegation.h`).
//!
//! Every decision is made by the pure policy in `delegation/policy.rs`; this
//! file only turns C pointers into Rust values after checking them, and
//! results back into errnos and messages.

use core::fmt::{self, Write};
use kernel::bindings;
use kernel::error::code::EINVAL;

#[path = "delegation/policy.rs"]
pub mod policy;

use policy::{Known, Masks};

/// Writes a message into a C buffer, truncating it and always leaving it
/// NUL-terminated.
///
/// # Invariants
///
/// `pos < buf.len()`: there is always room for the terminating NUL.
struct MsgWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> MsgWriter<'a> {
    /// Returns `None` for an empty buffer, which cannot hold even the NUL.
    fn new(buf: &'a mut [u8]) -> Option<Self> {
        *buf.first_mut()? = 0;
        // INVARIANT: `buf` is not empty, so `0 < buf.len()`.
        Some(Self { buf, pos: 0 })
    }
}

impl Write for MsgWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.pos;
        let n = s.len().min(room);
        self.buf[self.pos..self.pos + n].copy_from_slice(&s.as_bytes()[..n]);
        // INVARIANT: `n <= room`, so `pos + n <= buf.len() - 1`.
        self.pos += n;
        self.buf[self.pos] = 0;
        Ok(())
    }
}

/// Writes `reason` into the C buffer `msg` of `msg_len` bytes, if there is one.
///
/// # Safety
///
/// `msg` must be null or valid for writes of `msg_len` bytes.
unsafe fn report(msg: *mut u8, msg_len: usize, reason: &dyn fmt::Display) {
    if msg.is_null() {
        return;
    }
    // SAFETY: `msg` is not null and, by the caller's contract, valid for
    // writes of `msg_len` bytes; nothing else refers to it during this call.
    let buf = unsafe { core::slice::from_raw_parts_mut(msg, msg_len) };
    if let Some(mut w) = MsgWriter::new(buf) {
        // Truncation is fine for a log message; `write_str` cannot fail.
        let _ = write!(w, "{reason}");
    }
}

/// Parses a binary `struct bpf_delegation_opts`; see `bpf_delegation_parse_opts()`
/// in `include/linux/bpf_delegation.h`.
///
/// # Safety
///
/// `blob` must be valid for reads of `size` bytes, `known` must point to a
/// valid `struct bpf_delegation_known`, `out` must be valid for a write of a
/// `struct bpf_delegation_opts`, and `msg` must be null or valid for writes of
/// `msg_len` bytes.  None of them may be written by anyone else during the call.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_parse_opts(
    blob: *const u8,
    size: usize,
    known: *const bindings::bpf_delegation_known,
    out: *mut bindings::bpf_delegation_opts,
    msg: *mut u8,
    msg_len: usize,
) -> i32 {
    if blob.is_null() || known.is_null() || out.is_null() {
        return EINVAL.to_errno();
    }
    // The size is checked before a slice of that length is made.
    if size > policy::OPTS_SIZE_MAX {
        let err = policy::BlobError::TooBig { size };
        // SAFETY: `msg`/`msg_len` are as the caller promised.
        unsafe { report(msg, msg_len, &err) };
        return -err.errno();
    }
    // SAFETY: `blob` is not null and valid for reads of `size` bytes, which is
    // at most a page.
    let blob = unsafe { core::slice::from_raw_parts(blob, size) };
    // SAFETY: `known` is not null and points to a valid struct.
    let known = unsafe { &*known };
    let known = Known {
        cmds: known.cmds,
        maps: known.maps,
        progs: known.progs,
        attachs: known.attachs,
        gated_cmds: known.gated_cmds,
    };
    match policy::parse_blob(blob, &known) {
        Ok(Masks {
            cmds,
            maps,
            progs,
            attachs,
        }) => {
            // SAFETY: `out` is not null and valid for a write.
            unsafe {
                out.write(bindings::bpf_delegation_opts {
                    cmds,
                    maps,
                    progs,
                    attachs,
                })
            };
            0
        }
        Err(err) => {
            // SAFETY: `msg`/`msg_len` are as the caller promised.
            unsafe { report(msg, msg_len, &err) };
            -err.errno()
        }
    }
}
