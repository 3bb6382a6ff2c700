// SPDX-License-Identifier: GPL-2.0

//! bpffs delegation: the entry points the C glue calls, declared in
//! `include/linux/bpf_delegation.h`.
//!
//! Every decision is made by the pure policy (`delegation/policy.rs`,
//! `delegation/text.rs`); this file checks C pointers and lengths before it
//! makes Rust values of them, owns the live delegation of each superblock,
//! and turns results back into errnos and fs_context messages.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::bindings;
use kernel::error::code::{EINVAL, ENOMEM, EPERM};
use kernel::fs_param;
use kernel::init::InPlaceInit;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::sync::{Arc, ArcBorrow, SpinLock};
use kernel::types::ForeignOwnable;

/// The names of the BPF enum values, generated at build time from this
/// tree's `include/uapi/linux/bpf.h` by `delegation/names.awk` (see the
/// Makefile, which names the output in `BPF_DELEGATION_NAMES`).
mod names {
    include!(env!("BPF_DELEGATION_NAMES"));
}
#[path = "delegation/policy.rs"]
pub mod policy;
#[path = "delegation/text.rs"]
pub mod text;
// The size rules of `struct bpf_delegation_opts`, which `policy` reads as
// `crate::versioned` here and on the host.
use kernel::fs_param::versioned;

use policy::{Context, Masks, Request, State, Use, Userns, Value};

// The generated name tables must describe this kernel's uAPI.
const _: () = {
    assert!(names::CMDS_MAX == bindings::bpf_cmd___MAX_BPF_CMD);
    assert!(names::MAPS_MAX == bindings::bpf_map_type___MAX_BPF_MAP_TYPE);
    assert!(names::PROGS_MAX == bindings::bpf_prog_type___MAX_BPF_PROG_TYPE);
    assert!(names::ATTACHS_MAX == bindings::bpf_attach_type___MAX_BPF_ATTACH_TYPE);
    assert!(policy::CMD_MAP_CREATE == bindings::bpf_cmd_BPF_MAP_CREATE);
    assert!(policy::CMD_PROG_LOAD == bindings::bpf_cmd_BPF_PROG_LOAD);
    assert!(policy::CMD_BTF_LOAD == bindings::bpf_cmd_BPF_BTF_LOAD);
    assert!(policy::CMD_BTF_GET_FD_BY_ID == bindings::bpf_cmd_BPF_BTF_GET_FD_BY_ID);
    assert!(policy::ATTACH_LSM_CGROUP == bindings::bpf_attach_type_BPF_LSM_CGROUP);
    assert!(policy::OPTS_SIZE == core::mem::size_of::<bindings::bpf_delegation_opts>());
    assert!(policy::OPTS_SIZE_VER0 == bindings::BPF_DELEGATION_OPTS_SIZE_VER0 as usize);
    assert!(policy::OPTS_SIZE_VER1 == bindings::BPF_DELEGATION_OPTS_SIZE_VER1 as usize);
    assert!(
        policy::OPTS_SIZE_VER0 == core::mem::offset_of!(bindings::bpf_delegation_opts, cgroup_id)
    );
    // The pure policy's errnos (it is also built on the host) are the kernel's.
    assert!(policy::EPERM == bindings::EPERM as i32);
    assert!(policy::ENOENT == bindings::ENOENT as i32);
    assert!(policy::E2BIG == bindings::E2BIG as i32);
    assert!(policy::EINVAL == bindings::EINVAL as i32);
    assert!(policy::ERANGE == bindings::ERANGE as i32);
};

// Each entry point has the type bindgen gives its prototype in
// include/linux/bpf_delegation.h: the two coerce to one function pointer
// type, or this does not build.
const _: () = {
    let _ = [
        bindings::bpf_delegation_parse_param as unsafe extern "C" fn(_, _, _) -> _,
        bpf_delegation_parse_param,
    ];
    let _ = [
        bindings::bpf_delegation_create as unsafe extern "C" fn(_, _, _) -> _,
        bpf_delegation_create,
    ];
    let _ = [
        bindings::bpf_delegation_may_commit as unsafe extern "C" fn(_) -> _,
        bpf_delegation_may_commit,
    ];
    let _ = [
        bindings::bpf_delegation_reconfigure as unsafe extern "C" fn(_, _),
        bpf_delegation_reconfigure,
    ];
    let _ = [
        bindings::bpf_delegation_narrow_pending as unsafe extern "C" fn(_, _),
        bpf_delegation_narrow_pending,
    ];
    let _ = [
        bindings::bpf_delegation_read as unsafe extern "C" fn(_, _) -> _,
        bpf_delegation_read,
    ];
    let _ = [
        bindings::bpf_delegation_allows as unsafe extern "C" fn(_, _, _, _, _) -> _,
        bpf_delegation_allows,
    ];
    let _ = [
        bindings::bpf_delegation_allows_cgroup_attach as unsafe extern "C" fn(_, _, _, _) -> _,
        bpf_delegation_allows_cgroup_attach,
    ];
    let _ = [
        bindings::bpf_delegation_kill as unsafe extern "C" fn(_),
        bpf_delegation_kill,
    ];
    let _ = [
        bindings::bpf_delegation_show as unsafe extern "C" fn(_, _),
        bpf_delegation_show,
    ];
    let _ = [
        bindings::bpf_delegation_get as unsafe extern "C" fn(_),
        bpf_delegation_get,
    ];
    let _ = [
        bindings::bpf_delegation_put as unsafe extern "C" fn(_),
        bpf_delegation_put,
    ];
};

/// The live delegation of one bpffs superblock, shared (refcounted) by the
/// superblock and whoever else holds it; C sees it as the opaque
/// `struct bpf_delegation`.
///
/// Writers (create, reconfigure, kill) are serialised by a spinlock and
/// publish a whole new state under a sequence count; readers (the bpf()
/// syscall path) take no lock and retry until they have read one state
/// between two equal, even counts.  So a reader never sees half of an old
/// set and half of a new one, and a check costs a few loads.
///
/// # Invariants
///
/// `seq` is odd only while the holder of `writer` stores `words`; `words`
/// always hold [`State`] as [`Delegation::pack`] lays it out.
#[pin_data]
struct Delegation {
    #[pin]
    writer: SpinLock<()>,
    seq: AtomicU32,
    words: [AtomicU64; WORDS],
}

/// Flags, then the four masks, then the scope.
const WORDS: usize = 6;
const DELEGATED: u64 = 1 << 0;
const DEAD: u64 = 1 << 1;

impl Delegation {
    fn new(state: State) -> Result<Arc<Self>> {
        let words = Self::pack(&state).map(AtomicU64::new);
        // INVARIANT: `seq` is even and `words` hold `state`.
        Arc::pin_init(
            pin_init!(Delegation {
                writer <- kernel::new_spinlock!((), "bpf_delegation"),
                seq: AtomicU32::new(0),
                words,
            }),
            GFP_KERNEL,
        )
    }

    fn pack(s: &State) -> [u64; WORDS] {
        let flags = if s.delegated { DELEGATED } else { 0 } | if s.dead { DEAD } else { 0 };
        let m = &s.masks;
        [flags, m.cmds, m.maps, m.progs, m.attachs, s.scope]
    }

    fn unpack(w: [u64; WORDS]) -> State {
        State {
            delegated: w[0] & DELEGATED != 0,
            dead: w[0] & DEAD != 0,
            masks: Masks {
                cmds: w[1],
                maps: w[2],
                progs: w[3],
                attachs: w[4],
            },
            scope: w[5],
        }
    }

    fn load(&self) -> State {
        Self::unpack(core::array::from_fn(|i| {
            self.words[i].load(Ordering::Relaxed)
        }))
    }

    /// One consistent state, without a lock unless a writer is at work.
    fn read(&self) -> State {
        loop {
            let begin = self.seq.load(Ordering::Acquire);
            if begin & 1 != 0 {
                // Wait for the writer by taking its lock, rather than spin
                // (with PREEMPT_RT the writer may have been preempted).
                drop(self.writer.lock());
                continue;
            }
            let state = self.load();
            // Order the loads of `words` before the second load of `seq`.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == begin {
                return state;
            }
        }
    }

    fn update(&self, f: impl FnOnce(&State) -> State) {
        let _writer = self.writer.lock();
        // Only the holder of `writer` stores `words`, so they are stable here.
        let next = Self::pack(&f(&self.load()));
        let seq = self.seq.load(Ordering::Relaxed);
        // INVARIANT: `seq` is odd while `words` change, even again after.
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Order the odd count before the stores of `words`.
        fence(Ordering::Release);
        for (word, value) in self.words.iter().zip(next) {
            word.store(value, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}

/// Borrows the delegation behind a C pointer.
///
/// # Safety
///
/// `ptr` must not be null, must have come from [`ForeignOwnable::into_foreign`]
/// on an `Arc<Delegation>` (as [`bpf_delegation_create`] and
/// [`bpf_delegation_get`] hand them out) and its reference must not be
/// dropped for `'a`.
unsafe fn borrow<'a>(ptr: *mut bindings::bpf_delegation) -> ArcBorrow<'a, Delegation> {
    // SAFETY: `ptr` is not null, came from `Arc::into_foreign` and the caller
    // holds that reference for `'a`.
    unsafe { <Arc<Delegation> as ForeignOwnable>::borrow(ptr.cast_const().cast()) }
}

fn masks_from_c(m: &bindings::bpf_delegation_opts) -> Masks {
    Masks {
        cmds: m.cmds,
        maps: m.maps,
        progs: m.progs,
        attachs: m.attachs,
    }
}

fn masks_to_c(m: &Masks, scope: u64) -> bindings::bpf_delegation_opts {
    bindings::bpf_delegation_opts {
        cmds: m.cmds,
        maps: m.maps,
        progs: m.progs,
        attachs: m.attachs,
        cgroup_id: scope,
    }
}

fn request_from_c(r: &bindings::bpf_delegation_request) -> Request {
    Request {
        delegate: r.delegate,
        target: r.target,
        set: r.set,
        masks: masks_from_c(&r.masks),
        scope: r.masks.cgroup_id,
    }
}

fn request_to_c(r: &Request) -> bindings::bpf_delegation_request {
    bindings::bpf_delegation_request {
        masks: masks_to_c(&r.masks, r.scope),
        set: r.set,
        delegate: r.delegate,
        target: r.target,
    }
}

/// Whether the current task has `CAP_SYS_ADMIN` in the initial user namespace.
fn privileged() -> bool {
    // SAFETY: `capable()` may be called from any task context.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// Whether `id` names a cgroup2 directory the current task can see (one in
/// its cgroup namespace).
#[cfg(CONFIG_CGROUPS)]
fn cgroup_exists(id: u64) -> bool {
    // SAFETY: `cgroup_get_from_id()` may be called from any task context.
    let cgrp = unsafe { bindings::cgroup_get_from_id(id) };
    // SAFETY: `IS_ERR()` only looks at the pointer's value.
    if cgrp.is_null() || unsafe { bindings::IS_ERR(cgrp.cast_const().cast()) } {
        return false;
    }
    // SAFETY: `cgroup_get_from_id()` returned a cgroup with a reference,
    // which is given back here.
    unsafe { bindings::cgroup_put(cgrp) };
    true
}

/// Without cgroups, no scope names a cgroup.
#[cfg(not(CONFIG_CGROUPS))]
fn cgroup_exists(_id: u64) -> bool {
    false
}

/// Whether `cgrp` is the cgroup `id` or below it.
///
/// # Safety
///
/// `cgrp` must be a cgroup the caller holds a reference to (which pins
/// its ancestors).
#[cfg(CONFIG_CGROUPS)]
unsafe fn cgroup_within(cgrp: *mut bindings::cgroup, id: u64) -> bool {
    let mut c = cgrp;
    while !c.is_null() {
        // SAFETY: `c` is `cgrp` or one of its ancestors, all pinned by the
        // caller's reference to `cgrp`.
        if unsafe { bindings::cgroup_id(c) } == id {
            return true;
        }
        // SAFETY: as above; a cgroup2 cgroup never changes its parent.
        c = unsafe { bindings::cgroup_parent(c) };
    }
    false
}

/// Without cgroups there is no cgroup to be within.
///
/// # Safety
///
/// None needed; the signature matches the one with cgroups.
#[cfg(not(CONFIG_CGROUPS))]
unsafe fn cgroup_within(_cgrp: *mut bindings::cgroup, _id: u64) -> bool {
    false
}

/// Applies one fs_context parameter to the context's request; see
/// `include/linux/bpf_delegation.h`.
///
/// # Safety
///
/// `fc` and `param` must be the context and parameter of a bpffs
/// `parse_param` callback in progress, and `req` the context's request,
/// valid for reads and writes, which nothing else touches during the call.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_parse_param(
    fc: *mut bindings::fs_context,
    param: *mut bindings::fs_parameter,
    req: *mut bindings::bpf_delegation_request,
) -> i32 {
    if fc.is_null() || param.is_null() || req.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `fc` is the valid context of a `parse_param` in progress.
    let fc = unsafe { fs_param::Context::from_raw(fc) };
    // SAFETY: `param` is the valid parameter of that callback; the VFS does
    // not change it while the callback runs.
    let param = unsafe { fs_param::Param::from_raw(param) };
    let value = match param.value() {
        fs_param::Value::Flag => Value::Flag,
        fs_param::Value::String(s) => Value::String(s.as_bytes()),
        fs_param::Value::Blob(b) => Value::Blob(b),
        fs_param::Value::File(f) => Value::Fd(match f.user_namespace() {
            Some(ns) if core::ptr::eq(ns, fc.user_ns()) => Userns::Same,
            Some(_) => Userns::Other,
            None => Userns::NotUserns,
        }),
        fs_param::Value::Other => Value::Other,
    };
    let ctx = Context {
        init_userns: fc.in_init_user_ns(),
        reconfigure: fc.is_reconfigure(),
    };
    let key = param.key().as_bytes();
    // SAFETY: `req` is valid for reads.
    let current = request_from_c(unsafe { &*req });
    match policy::parse_param_scoped(&current, key, value, &ctx, &privileged, &cgroup_exists) {
        None => -(bindings::ENOPARAM as i32),
        Some(Ok(next)) => {
            // SAFETY: `req` is valid for writes.
            unsafe { req.write(request_to_c(&next)) };
            0
        }
        Some(Err(err)) => {
            fc.error(format_args!("{err}"));
            -err.errno()
        }
    }
}

/// Decides whether a superblock may be created from a context and, if so,
/// makes its live delegation; see `include/linux/bpf_delegation.h`.
///
/// # Safety
///
/// `req` must be valid for reads and `out` for a write of a pointer.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_create(
    req: *const bindings::bpf_delegation_request,
    init_userns: bool,
    out: *mut *mut bindings::bpf_delegation,
) -> i32 {
    if req.is_null() || out.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `req` is not null and valid for reads.
    let req = request_from_c(unsafe { &*req });
    if !policy::may_create(&req, init_userns, &privileged) {
        return EPERM.to_errno();
    }
    match Delegation::new(req.create()) {
        Ok(d) => {
            // SAFETY: `out` is not null and valid for a write.  The
            // reference goes to C; `bpf_delegation_put` takes it back.
            unsafe { out.write(d.into_foreign().cast_mut().cast()) };
            0
        }
        Err(_) => ENOMEM.to_errno(),
    }
}

/// Whether the current task may commit a reconfigure context that asked
/// `req`: `0`, or `-EPERM` when it carries delegation and the task lacks
/// `CAP_SYS_ADMIN` in the initial user namespace now.
///
/// # Safety
///
/// `req` must be valid for reads.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_may_commit(
    req: *const bindings::bpf_delegation_request,
) -> i32 {
    if req.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `req` is not null and valid for reads.
    let req = request_from_c(unsafe { &*req });
    if policy::may_commit(&req, &privileged) {
        0
    } else {
        EPERM.to_errno()
    }
}

/// Applies what a reconfigure context asked for to a live delegation, as a
/// whole.  The caller has checked [`bpf_delegation_may_commit`].
///
/// # Safety
///
/// `d` must come from [`bpf_delegation_create`] and be referenced by the
/// caller; `req` must be valid for reads.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_reconfigure(
    d: *mut bindings::bpf_delegation,
    req: *const bindings::bpf_delegation_request,
) {
    if d.is_null() || req.is_null() {
        return;
    }
    // SAFETY: `req` is not null and valid for reads.
    let req = request_from_c(unsafe { &*req });
    // SAFETY: `d` is referenced by the caller for this call.
    let d = unsafe { borrow(d) };
    d.update(|live| req.reconfigure(live));
}

/// Applies what a reconfigure context asked for to a creation context that
/// was given consent but has not created its instance yet.
///
/// # Safety
///
/// `pending` must be valid for reads and writes and `req` for reads;
/// nothing else may write to `pending` during the call.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_narrow_pending(
    pending: *mut bindings::bpf_delegation_request,
    req: *const bindings::bpf_delegation_request,
) {
    if pending.is_null() || req.is_null() {
        return;
    }
    // SAFETY: `req` is not null and valid for reads.
    let req = request_from_c(unsafe { &*req });
    // SAFETY: `pending` is not null and valid for reads.
    let next = req.narrow_pending(&request_from_c(unsafe { &*pending }));
    // SAFETY: `pending` is not null and valid for writes.
    unsafe { pending.write(request_to_c(&next)) };
}

/// Reads a consistent snapshot of a live delegation; returns its
/// `BPF_DELEGATION_*` flags.
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller; `out` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_read(
    d: *mut bindings::bpf_delegation,
    out: *mut bindings::bpf_delegation_opts,
) -> u32 {
    let state = if d.is_null() {
        State::default()
    } else {
        // SAFETY: `d` is referenced by the caller for this call.
        unsafe { borrow(d) }.read()
    };
    if !out.is_null() {
        // SAFETY: `out` is not null and valid for a write.
        unsafe { out.write(masks_to_c(&state.masks, state.scope)) };
    }
    let mut flags = 0;
    if state.delegated {
        flags |= bindings::BPF_DELEGATION_DELEGATED;
    }
    if state.dead {
        flags |= bindings::BPF_DELEGATION_DEAD;
    }
    flags
}

/// Decides whether a live delegation allows one use by a gated command,
/// from one consistent snapshot; negative type values mean "not asked".
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_allows(
    d: *mut bindings::bpf_delegation,
    cmd: u32,
    map_type: i64,
    prog_type: i64,
    attach_type: i64,
) -> bool {
    if d.is_null() {
        return false;
    }
    let asked = |v: i64| u32::try_from(v).ok();
    let prog = match (asked(prog_type), asked(attach_type)) {
        (Some(p), Some(a)) => Some((p, a)),
        (None, None) => None,
        // Half a program question is not a question this policy answers.
        _ => return false,
    };
    let u = Use {
        cmd,
        map_type: asked(map_type),
        prog,
    };
    // SAFETY: `d` is referenced by the caller for this call.
    unsafe { borrow(d) }.read().allows(&u)
}

/// Decides whether a program loaded through a live delegation may be
/// attached to (or detached from) a cgroup with `attach_type`, `multi` with
/// `BPF_F_ALLOW_MULTI`; see [`State::allows_cgroup_attach`].  One snapshot
/// decides.
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller; `cgrp` must be null or a cgroup the caller holds a
/// reference to.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_allows_cgroup_attach(
    d: *mut bindings::bpf_delegation,
    cgrp: *mut bindings::cgroup,
    attach_type: u32,
    multi: bool,
) -> bool {
    if d.is_null() || cgrp.is_null() {
        return false;
    }
    // SAFETY: `d` is referenced by the caller for this call.
    let state = unsafe { borrow(d) }.read();
    let within = |id| {
        // SAFETY: the caller holds a reference to `cgrp` for this call.
        unsafe { cgroup_within(cgrp, id) }
    };
    state.allows_cgroup_attach(attach_type, multi, &within)
}

/// Marks a live delegation dead: its superblock is gone, and whoever still
/// holds it (a program's token) is allowed nothing more through it.
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_kill(d: *mut bindings::bpf_delegation) {
    if d.is_null() {
        return;
    }
    // SAFETY: `d` is referenced by the caller for this call.
    unsafe { borrow(d) }.update(|live| State {
        dead: true,
        ..*live
    });
}

/// Shows a live delegation as mount options (`,delegate,delegate_cmds=...`).
///
/// # Safety
///
/// `d` must come from [`bpf_delegation_create`] and be referenced by the
/// caller; `m` must be the valid `struct seq_file` of a `show_options` call.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_show(
    d: *mut bindings::bpf_delegation,
    m: *mut bindings::seq_file,
) {
    if d.is_null() || m.is_null() {
        return;
    }
    // SAFETY: `d` is referenced by the caller for this call.
    let state = unsafe { borrow(d) }.read();
    // SAFETY: `m` is valid and only written by this show callback.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    // Writing to a seq_file cannot fail; an overflow is retried by its core.
    let _ = text::show(&mut seq, &state);
}

/// Takes a reference to a live delegation.
///
/// # Safety
///
/// `d` must come from [`bpf_delegation_create`] and be referenced by the
/// caller.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_get(d: *mut bindings::bpf_delegation) {
    if d.is_null() {
        return;
    }
    // SAFETY: `d` is referenced by the caller for this call.
    let arc: Arc<Delegation> = unsafe { borrow(d) }.into();
    // The new reference goes to C; `bpf_delegation_put` takes it back.
    let _ = arc.into_foreign();
}

/// Drops a reference to a live delegation, freeing it with the last one.
///
/// # Safety
///
/// `d` must come from [`bpf_delegation_create`]; the caller gives up one
/// reference it holds.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_put(d: *mut bindings::bpf_delegation) {
    if d.is_null() {
        return;
    }
    // SAFETY: `d` came from `Arc::into_foreign` and the caller gives up the
    // reference it owned.
    drop(unsafe { <Arc<Delegation> as ForeignOwnable>::from_foreign(d.cast_const().cast()) });
}
