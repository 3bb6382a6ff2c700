// SPDX-License-Identifier: GPL-2.0

//! bpffs delegation: the entry points the C glue calls, declared in
//! `include/linux/bpf_delegation.h`.
//!
//! Every decision is made by the pure policy (`delegation/policy.rs`,
//! `delegation/text.rs`); this file checks C pointers and lengths before it
//! makes Rust values of them, owns the live delegation of each superblock,
//! and turns results back into errnos and fs_context messages.

use core::ptr::{addr_of, addr_of_mut};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::bindings;
use kernel::error::code::{EINVAL, ENOMEM, EPERM};
use kernel::ffi::{c_uint, c_void};
use kernel::fs_param;
use kernel::init::InPlaceInit;
use kernel::prelude::*;
use kernel::seq_file::SeqFile;
use kernel::sync::{new_spinlock, Arc, ArcBorrow, SpinLock};
use kernel::types::{ForeignOwnable, Opaque};

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

use policy::{Context, Masks, Request, Ring, State, Userns, Value};

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
        bindings::bpf_delegation_record as unsafe extern "C" fn(_, _),
        bpf_delegation_record,
    ];
    let _ = [
        bindings::bpf_delegation_refusals as unsafe extern "C" fn(_, _, _, _) -> _,
        bpf_delegation_refusals,
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
/// superblock and whoever else holds it.  C sees the `struct
/// bpf_delegation` it starts with, and reads it inline under its seqlock
/// (`bpf_delegation_read()` and `bpf_delegation_allows()` in the header),
/// so the check on the bpf() path costs a few loads and no call.
///
/// Only this file writes it: create, reconfigure and kill replace flags and
/// masks as a whole under the seqlock's write side, so no reader ever sees
/// half of an old set and half of a new one.
///
/// It also keeps the newest refusals for the delegating side, which the C
/// glue records on the refusing branch only and reads for the
/// `target_userns` report.
///
/// # Invariants
///
/// `c` is initialised: its seqlock is, and `flags` and `masks` hold a
/// [`State`] as [`Delegation::pack`] lays it out.  They are written only
/// between `write_seqlock()` and `write_sequnlock()` on its seqlock.
#[repr(C)]
#[pin_data]
struct Delegation {
    #[pin]
    c: Opaque<bindings::bpf_delegation>,
    #[pin]
    refusals: SpinLock<Ring<bindings::bpf_delegation_refused, REFUSALS>>,
}

/// How many refusals an instance keeps.
const REFUSALS: usize = bindings::BPF_DELEGATION_REFUSALS as usize;

// SAFETY: the C state is written only under its seqlock's spinlock and read
// under its sequence count, from any task.
unsafe impl Send for Delegation {}
// SAFETY: as above.
unsafe impl Sync for Delegation {}

impl Delegation {
    fn new(state: State) -> Result<Arc<Self>> {
        let (flags, masks) = Self::pack(&state);
        Arc::pin_init(
            pin_init!(Delegation {
                c <- Opaque::ffi_init(move |c: *mut bindings::bpf_delegation| {
                    // SAFETY: `c` is valid for writes and not yet shared.
                    // INVARIANT: the seqlock is initialised and the fields
                    // hold `state`.
                    unsafe {
                        bindings::seqlock_init(addr_of_mut!((*c).lock));
                        addr_of_mut!((*c).flags).write(flags);
                        addr_of_mut!((*c).masks).write(masks);
                    }
                }),
                refusals <- new_spinlock!(Ring::new(), "bpf_delegation_refusals"),
            }),
            GFP_KERNEL,
        )
    }

    fn pack(s: &State) -> (u32, bindings::bpf_delegation_opts) {
        let mut flags = 0;
        if s.delegated {
            flags |= bindings::BPF_DELEGATION_DELEGATED;
        }
        if s.dead {
            flags |= bindings::BPF_DELEGATION_DEAD;
        }
        (flags, masks_to_c(&s.masks, s.scope))
    }

    /// The state in the C fields, read as they are.
    ///
    /// # Safety
    ///
    /// The caller holds the seqlock's write side, or reads inside a read
    /// section whose result it drops if `read_seqretry()` says so.
    unsafe fn load(&self) -> State {
        let c = self.c.get();
        // SAFETY: `c` is initialised (type invariant); a read racing with
        // the writer is volatile and its result dropped by the caller.
        let (flags, m) = unsafe {
            (
                addr_of!((*c).flags).read_volatile(),
                addr_of!((*c).masks).read_volatile(),
            )
        };
        State {
            delegated: flags & bindings::BPF_DELEGATION_DELEGATED != 0,
            dead: flags & bindings::BPF_DELEGATION_DEAD != 0,
            masks: masks_from_c(&m),
            scope: m.cgroup_id,
        }
    }

    /// One consistent state, as the C readers read it.
    fn read(&self) -> State {
        let lock = self.c.get().cast_const();
        loop {
            // SAFETY: the seqlock is initialised (type invariant).
            let seq = unsafe { bindings::read_seqbegin(addr_of!((*lock).lock)) };
            // SAFETY: inside a read section, checked below.
            let state = unsafe { self.load() };
            // SAFETY: as for `read_seqbegin()`.
            if unsafe { bindings::read_seqretry(addr_of!((*lock).lock), seq) } == 0 {
                return state;
            }
        }
    }

    /// Replaces the state by `f` of it, as a whole; `f` must not sleep.
    fn update(&self, f: impl FnOnce(&State) -> State) {
        let c = self.c.get();
        // SAFETY: the seqlock is initialised (type invariant).
        unsafe { bindings::write_seqlock(addr_of_mut!((*c).lock)) };
        // SAFETY: the write side is held.
        let (flags, masks) = Self::pack(&f(&unsafe { self.load() }));
        // SAFETY: the write side is held, so this is the only writer; the
        // readers retry around it.
        // INVARIANT: the fields are written under the seqlock.
        unsafe {
            addr_of_mut!((*c).flags).write_volatile(flags);
            addr_of_mut!((*c).masks).write_volatile(masks);
            bindings::write_sequnlock(addr_of_mut!((*c).lock));
        }
    }
}

/// A reference to a live delegation as C holds it: a pointer to the
/// `struct bpf_delegation` the [`Delegation`] starts with, which C's inline
/// readers dereference.  (`Arc`'s own `ForeignOwnable` hands out a pointer
/// to its refcount instead.)
struct Held(Arc<Delegation>);

impl ForeignOwnable for Held {
    type Borrowed<'a> = ArcBorrow<'a, Delegation>;

    fn into_foreign(self) -> *const c_void {
        // `Delegation` is `repr(C)` and starts with the C struct.
        Arc::into_raw(self.0).cast()
    }

    unsafe fn borrow<'a>(ptr: *const c_void) -> ArcBorrow<'a, Delegation> {
        // SAFETY: the caller passes a pointer from `into_foreign`, that is
        // from `Arc::into_raw`, whose reference outlives `'a`.
        unsafe { ArcBorrow::from_raw(ptr.cast()) }
    }

    unsafe fn from_foreign(ptr: *const c_void) -> Self {
        // SAFETY: the caller passes a pointer from `into_foreign`, that is
        // from `Arc::into_raw`, and gives up its reference.
        Held(unsafe { Arc::from_raw(ptr.cast()) })
    }
}

/// Borrows the delegation behind a C pointer.
///
/// # Safety
///
/// `ptr` must not be null, must have come from [`Held::into_foreign`] (as
/// [`bpf_delegation_create`] and [`bpf_delegation_get`] hand them out) and
/// its reference must not be dropped for `'a`.
unsafe fn borrow<'a>(ptr: *mut bindings::bpf_delegation) -> ArcBorrow<'a, Delegation> {
    // SAFETY: `ptr` is not null, came from `Held::into_foreign` and the
    // caller holds that reference for `'a`.
    unsafe { Held::borrow(ptr.cast_const().cast()) }
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
            unsafe { out.write(Held(d).into_foreign().cast_mut().cast()) };
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

/// Keeps `r`, a refusal by `d`, among the newest `d` keeps, numbered in
/// `d`'s life (the number given in `r` is replaced).
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller; `r` must be null or valid for reads.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_record(
    d: *mut bindings::bpf_delegation,
    r: *const bindings::bpf_delegation_refused,
) {
    if d.is_null() || r.is_null() {
        return;
    }
    // SAFETY: `r` is valid for reads (the caller's promise).
    let r = unsafe { r.read() };
    // SAFETY: `d` is referenced by the caller for this call.
    let d = unsafe { borrow(d) };
    d.refusals
        .lock()
        .push(|seq| bindings::bpf_delegation_refused { seq, ..r });
}

/// Copies the newest of `d`'s kept refusals, at most `max`, oldest first,
/// into `out`, returns how many, and sets `*total` to how many `d` refused
/// in its life.
///
/// # Safety
///
/// `d` must be null or come from [`bpf_delegation_create`] and be referenced
/// by the caller; `out` must be valid for `max` writes and `total` for one,
/// or null.
#[no_mangle]
pub unsafe extern "C" fn bpf_delegation_refusals(
    d: *mut bindings::bpf_delegation,
    out: *mut bindings::bpf_delegation_refused,
    max: c_uint,
    total: *mut u64,
) -> c_uint {
    let (mut n, mut all) = (0, 0);
    if !d.is_null() {
        // SAFETY: `d` is referenced by the caller for this call.
        let d = unsafe { borrow(d) };
        let ring = d.refusals.lock();
        all = ring.total();
        if !out.is_null() {
            for r in ring.newest(max as usize) {
                // SAFETY: `out` is valid for `max` writes and `newest()`
                // yields at most `max` records, so `n < max`.
                unsafe { out.add(n as usize).write(r) };
                n += 1;
            }
        }
    }
    if !total.is_null() {
        // SAFETY: `total` is valid for a write (the caller's promise).
        unsafe { total.write(all) };
    }
    n
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
    let _ = Held(arc).into_foreign();
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
    // SAFETY: `d` came from `Held::into_foreign` and the caller gives up the
    // reference it owned.
    drop(unsafe { Held::from_foreign(d.cast_const().cast()) });
}
