// SPDX-License-Identifier: GPL-2.0

//! Parameters of a filesystem context, as `fsconfig()` passes them.
//!
//! C header: [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h)
//!
//! A filesystem's `parse_param` callback receives each parameter of a mount
//! or reconfigure context as a `struct fs_parameter`: a key and a value that
//! is a flag (`FSCONFIG_SET_FLAG`), a string (`FSCONFIG_SET_STRING`), bytes
//! (`FSCONFIG_SET_BINARY`) or an open file (`FSCONFIG_SET_FD`).  [`Param`]
//! views one such parameter as a [`Value`], [`Context`] views the context it
//! belongs to and writes to its log, and [`versioned`] reads a size-versioned
//! struct from a binary value with `copy_struct_from_user()`'s rules.
//!
//! These are views for a Rust `parse_param` (or a Rust helper a C one calls):
//! they borrow what the VFS owns for the duration of the callback and take no
//! references.  Nothing here is specific to one filesystem.

use crate::{
    bindings,
    error::{code::*, Error},
    ffi::c_char,
    str::CStr,
    types::Opaque,
};
use core::fmt::{self, Write};

pub mod versioned;

impl From<versioned::SizeError> for Error {
    fn from(e: versioned::SizeError) -> Self {
        if e.is_too_big() {
            E2BIG
        } else {
            EINVAL
        }
    }
}

/// The value of a filesystem context parameter.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// A flag: the key alone.
    Flag,
    /// A string, without its NUL.
    String(&'a CStr),
    /// Bytes (`FSCONFIG_SET_BINARY`), already copied into the kernel.
    Blob(&'a [u8]),
    /// An open file (`FSCONFIG_SET_FD`).
    File(FileRef<'a>),
    /// Something else (a path name, for example).
    Other,
}

/// A file passed as a parameter's value, borrowed for as long as the
/// parameter.
///
/// # Invariants
///
/// `0` points at a valid `struct file` that stays valid for `'a`.
#[derive(Clone, Copy)]
pub struct FileRef<'a>(&'a Opaque<bindings::file>);

impl FileRef<'_> {
    /// The C `struct file`.
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// If the file is a user namespace (an nsfs file such as
    /// `/proc/PID/ns/user`), the namespace.  The file holds a reference to
    /// it, so the pointer is valid for as long as this `FileRef` is.
    pub fn user_namespace(&self) -> Option<*const bindings::user_namespace> {
        let file = self.as_ptr();
        // SAFETY: By the type invariant, `file` is a valid `struct file`.
        if !unsafe { bindings::proc_ns_file(file) } {
            return None;
        }
        // SAFETY: `file` is valid; an nsfs file's inode is set when it is
        // opened and its `i_private` is the `struct ns_common` of the
        // namespace the file holds (`get_proc_ns()`).
        let ns = unsafe { (*(*file).f_inode).i_private }.cast::<bindings::ns_common>();
        // SAFETY: `ns` is a valid `struct ns_common` whose `ops` are set for
        // the life of the namespace.
        let kind = unsafe { (*(*ns).ops).type_ };
        if kind != bindings::CLONE_NEWUSER as i32 {
            return None;
        }
        // SAFETY: A `struct ns_common` of type `CLONE_NEWUSER` is the `ns`
        // field of a `struct user_namespace`.
        Some(unsafe { crate::container_of!(ns, bindings::user_namespace, ns) })
    }
}

/// One parameter of a filesystem context.
///
/// # Examples
///
/// A `parse_param` callback gets the parameter from the VFS; here one is
/// made by hand, as `fsconfig(FSCONFIG_SET_BINARY)` would pass it.
///
/// ```
/// use kernel::{bindings, c_str};
/// use kernel::fs_param::{Param, Value};
///
/// let opts = [1u8, 2, 3, 4];
/// // SAFETY: All zeroes is a valid `struct fs_parameter` (a flag-less one).
/// let mut raw: bindings::fs_parameter = unsafe { core::mem::zeroed() };
/// raw.key = c_str!("abilities").as_char_ptr();
/// raw.set_type(bindings::fs_value_type_fs_value_is_blob);
/// raw.__bindgen_anon_1.blob = opts.as_ptr().cast_mut().cast();
/// raw.size = opts.len();
///
/// // SAFETY: `raw` is valid, its key and blob outlive `param`, and nothing
/// // changes them meanwhile.
/// let param = unsafe { Param::from_raw(&raw) };
/// assert_eq!(param.key().as_bytes(), b"abilities");
/// assert!(matches!(param.value(), Value::Blob(b) if b == &opts[..]));
///
/// raw.key = c_str!("delegate").as_char_ptr();
/// raw.set_type(bindings::fs_value_type_fs_value_is_flag);
/// // SAFETY: As above.
/// let param = unsafe { Param::from_raw(&raw) };
/// assert!(matches!(param.value(), Value::Flag));
/// ```
///
/// # Invariants
///
/// The `struct fs_parameter` is valid and its key and value (as its type
/// says) do not change for as long as the `Param` is borrowed.
#[repr(transparent)]
pub struct Param(Opaque<bindings::fs_parameter>);

impl Param {
    /// Views the parameter at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `struct fs_parameter` whose key is a
    /// NUL-terminated string, whose value is valid for its type (a string
    /// or `size` bytes, a file) and which nothing changes for `'a`, as in a
    /// `parse_param` callback.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::fs_parameter) -> &'a Self {
        // SAFETY: `Param` is transparent over the C struct, which the caller
        // promises valid and unchanged for `'a`.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> &bindings::fs_parameter {
        // SAFETY: By the type invariant the struct is valid and unchanged
        // while `self` is borrowed.
        unsafe { &*self.0.get() }
    }

    /// The parameter's name.
    pub fn key(&self) -> &CStr {
        // SAFETY: By the type invariant the key is a NUL-terminated string
        // that outlives the borrow of `self`.
        unsafe { CStr::from_char_ptr(self.raw().key) }
    }

    /// The parameter's value.
    pub fn value(&self) -> Value<'_> {
        let p = self.raw();
        match p.type_() {
            bindings::fs_value_type_fs_value_is_flag => Value::Flag,
            bindings::fs_value_type_fs_value_is_string => {
                // SAFETY: The type says the union holds `string`.
                let s = unsafe { p.__bindgen_anon_1.string };
                if s.is_null() {
                    return Value::Other;
                }
                // SAFETY: The VFS NUL-terminates a string value, which lives
                // as long as the parameter (type invariant).
                Value::String(unsafe { CStr::from_char_ptr(s) })
            }
            bindings::fs_value_type_fs_value_is_blob => {
                // SAFETY: The type says the union holds `blob`.
                let b = unsafe { p.__bindgen_anon_1.blob };
                if b.is_null() {
                    return Value::Blob(&[]);
                }
                // SAFETY: A blob value is `size` bytes that live as long as
                // the parameter (type invariant).
                Value::Blob(unsafe { core::slice::from_raw_parts(b.cast::<u8>(), p.size) })
            }
            bindings::fs_value_type_fs_value_is_file => {
                // SAFETY: The type says the union holds `file`.
                let f = unsafe { p.__bindgen_anon_1.file };
                if f.is_null() {
                    return Value::Other;
                }
                // INVARIANT: The parameter holds a reference to the file for
                // as long as it lives.
                // SAFETY: `f` is a valid `struct file` (see above); `Opaque`
                // is transparent.
                Value::File(FileRef(unsafe { &*f.cast::<Opaque<bindings::file>>() }))
            }
            _ => Value::Other,
        }
    }
}

/// A filesystem context, as its `parse_param` callback sees it.
///
/// # Invariants
///
/// The `struct fs_context` is valid for as long as the `Context` is
/// borrowed, and its `user_ns`, `purpose` and `log` do not change (they are
/// set when the context is made).
#[repr(transparent)]
pub struct Context(Opaque<bindings::fs_context>);

impl Context {
    /// Views the context at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `struct fs_context` that stays valid for
    /// `'a`, such as the one a `parse_param` callback is given.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::fs_context) -> &'a Self {
        // SAFETY: `Context` is transparent over the C struct, which the
        // caller promises valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> *mut bindings::fs_context {
        self.0.get()
    }

    /// The user namespace the context belongs to (`fc->user_ns`).
    pub fn user_ns(&self) -> *const bindings::user_namespace {
        // SAFETY: By the type invariant the context is valid and `user_ns`
        // does not change.
        unsafe { (*self.raw()).user_ns }
    }

    /// Whether the context belongs to the initial user namespace.
    pub fn in_init_user_ns(&self) -> bool {
        // Rust before 1.82 wants `unsafe` to take an extern static's address.
        #[allow(unused_unsafe)]
        // SAFETY: Only the address of the static is taken, not its value.
        let init = unsafe { core::ptr::addr_of!(bindings::init_user_ns) };
        core::ptr::eq(self.user_ns(), init)
    }

    /// Whether the context reconfigures an existing superblock.
    pub fn is_reconfigure(&self) -> bool {
        // SAFETY: By the type invariant the context is valid and `purpose`
        // does not change.
        let purpose = unsafe { (*self.raw()).purpose() };
        purpose == bindings::fs_context_purpose_FS_CONTEXT_FOR_RECONFIGURE
    }

    /// Adds an error message to the context's log, as C's `errorfc()` does:
    /// user space reads it from the fsopen() fd; without a log it goes to
    /// the kernel log.  A message longer than 127 bytes is cut.
    pub fn error(&self, args: fmt::Arguments<'_>) {
        let mut msg = Message::new();
        // A cut message is still worth logging.
        let _ = msg.write_fmt(args);
        // SAFETY: By the type invariant the context is valid and its `log`
        // does not change.
        let log = unsafe { (*self.raw()).log };
        // SAFETY: `log.log` is null or the context's log, `log.prefix` null or
        // a string that lives as long as the context; the format is a string
        // literal consuming one NUL-terminated string, which `msg` is.
        unsafe {
            bindings::logfc(
                log.log,
                log.prefix,
                b'e' as c_char,
                c"%s".as_ptr().cast(),
                msg.as_ptr(),
            )
        };
    }
}

/// A message of at most 127 bytes and its NUL, cut where it overflows.
///
/// # Invariants
///
/// `len < buf.len()` and `buf[len]` is 0.
struct Message {
    buf: [u8; 128],
    len: usize,
}

impl Message {
    fn new() -> Self {
        // INVARIANT: `len` is 0 and the buffer is all zero.
        Self {
            buf: [0; 128],
            len: 0,
        }
    }

    fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        // INVARIANT: `len + 1 <= buf.len()`, and a NUL follows the text;
        // a 0 byte inside `s` only cuts the message short.
        self.buf[self.len] = 0;
        if n < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}
