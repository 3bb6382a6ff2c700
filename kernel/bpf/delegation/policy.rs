// SPDX-License-Identifier: GPL-2.0

//! The pure part of bpffs delegation: what a delegation is, what a mount
//! context may ask for, by whom, and what a superblock ends up with.
//!
//! This file uses only `core`: no `kernel` crate types, no allocation, no
//! panics.  The kernel compiles it as a module of `kernel/bpf/delegation.rs`,
//! and the host test crate compiles the very same file to unit-test it.

use core::fmt;

use crate::names;
use crate::text::{self, TextError};
use crate::versioned::{SizeError, Versioned};

/// Size of the first published `struct bpf_delegation_opts`
/// (`BPF_DELEGATION_OPTS_SIZE_VER0`): the four masks.
pub const OPTS_SIZE_VER0: usize = 32;

/// `BPF_DELEGATION_OPTS_SIZE_VER1`: adds `cgroup_id`, the scope.
pub const OPTS_SIZE_VER1: usize = 40;

/// The size of `struct bpf_delegation_opts` this kernel knows.
pub const OPTS_SIZE: usize = OPTS_SIZE_VER1;

/// The largest blob looked at, as for other size-versioned structs: one page.
pub const OPTS_SIZE_MAX: usize = 4096;

/// A mask with every bit set: "any", including values a later kernel adds.
pub const ANY: u64 = u64::MAX;

/// `EPERM`, as a positive errno.
pub const EPERM: i32 = 1;
/// `ENOENT`, as a positive errno.
pub const ENOENT: i32 = 2;
/// `E2BIG`, as a positive errno.
pub const E2BIG: i32 = 7;
/// `EINVAL`, as a positive errno.
pub const EINVAL: i32 = 22;
/// `ERANGE`, as a positive errno.
pub const ERANGE: i32 = 34;

/// `enum bpf_cmd` values whose capability checks consult a delegation.
pub const CMD_MAP_CREATE: u32 = 0;
/// `BPF_PROG_LOAD`.
pub const CMD_PROG_LOAD: u32 = 5;
/// `BPF_BTF_LOAD`.
pub const CMD_BTF_LOAD: u32 = 18;
/// `BPF_BTF_GET_FD_BY_ID`, which a token allows as upstream does since
/// Linux 6.15 (`fd_by_id_token_fd`).
pub const CMD_BTF_GET_FD_BY_ID: u32 = 19;
/// `BPF_LSM_CGROUP`, the attach type a scope cannot contain.
pub const ATTACH_LSM_CGROUP: u32 = 43;
/// The commands a delegation gates, as a mask.
pub const GATED_CMDS: u64 = (1 << CMD_MAP_CREATE)
    | (1 << CMD_PROG_LOAD)
    | (1 << CMD_BTF_LOAD)
    | (1 << CMD_BTF_GET_FD_BY_ID);

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

    /// The string mount option that sets this field.
    pub fn option(self) -> &'static str {
        match self {
            Field::Cmds => "delegate_cmds",
            Field::Maps => "delegate_maps",
            Field::Progs => "delegate_progs",
            Field::Attachs => "delegate_attachs",
        }
    }

    /// The enum's names (without prefix) and values, aliases included.
    pub fn names(self) -> &'static [(&'static str, u32)] {
        match self {
            Field::Cmds => names::CMDS,
            Field::Maps => names::MAPS,
            Field::Progs => names::PROGS,
            Field::Attachs => names::ATTACHS,
        }
    }

    /// The prefix the enum's names have in the uAPI header.
    pub fn prefix(self) -> &'static str {
        match self {
            Field::Cmds | Field::Attachs => "BPF_",
            Field::Maps => "BPF_MAP_TYPE_",
            Field::Progs => "BPF_PROG_TYPE_",
        }
    }

    /// The number of values of the enum in this kernel (its `__MAX_*`).
    pub fn count(self) -> u32 {
        match self {
            Field::Cmds => names::CMDS_MAX,
            Field::Maps => names::MAPS_MAX,
            Field::Progs => names::PROGS_MAX,
            Field::Attachs => names::ATTACHS_MAX,
        }
    }

    /// The bits that name a value this kernel knows.
    pub fn known_bits(self) -> u64 {
        match 1u64.checked_shl(self.count()) {
            Some(bit) => bit - 1,
            None => ANY,
        }
    }

    /// The bits a binary mask of this field may have, "any" aside.
    pub fn allowed_bits(self) -> u64 {
        match self {
            Field::Cmds => self.known_bits() & GATED_CMDS,
            _ => self.known_bits(),
        }
    }

    fn bit(self) -> u8 {
        match self {
            Field::Cmds => 1,
            Field::Maps => 2,
            Field::Progs => 4,
            Field::Attachs => 8,
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

    /// A mutable reference to the mask of one field.
    pub fn get_mut(&mut self, field: Field) -> &mut u64 {
        match field {
            Field::Cmds => &mut self.cmds,
            Field::Maps => &mut self.maps,
            Field::Progs => &mut self.progs,
            Field::Attachs => &mut self.attachs,
        }
    }

    /// Whether nothing at all is delegated.
    pub fn is_empty(&self) -> bool {
        Field::ALL.iter().all(|&f| self.get(f) == 0)
    }
}

/// The live delegation of a bpffs superblock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// The instance was created under the `delegate` flag.
    pub delegated: bool,
    /// The superblock is gone: nothing is allowed any more, whoever still
    /// holds the delegation (a program's token, say).
    pub dead: bool,
    /// What it delegates.
    pub masks: Masks,
    /// The cgroup (a cgroup2 id) below which programs loaded through it
    /// may be attached; 0: no scope.
    pub scope: u64,
}

fn has(mask: u64, value: u32) -> bool {
    1u64.checked_shl(value).is_some_and(|bit| mask & bit != 0)
}

impl State {
    /// Whether a program loaded through this delegation may be attached
    /// to (or detached from) a cgroup with `attach_type`, `multi` with
    /// `BPF_F_ALLOW_MULTI` (a link, a detach and a replace are): not after
    /// the superblock is gone, and only for an attach type in the live
    /// mask.  With a scope, only to the scope or below it (`within(id)`
    /// tells whether the target cgroup is the cgroup `id` or a descendant;
    /// it is asked only then), only as one of several programs (a legacy
    /// attachment would replace the one already there, the host's
    /// included), and never as `BPF_LSM_CGROUP`, whose hooks may run for
    /// the cgroup of whatever task is current, out of the scope.
    pub fn allows_cgroup_attach(
        &self,
        attach_type: u32,
        multi: bool,
        within: &dyn Fn(u64) -> bool,
    ) -> bool {
        if self.dead
            || attach_type >= Field::Attachs.count()
            || !has(self.masks.attachs, attach_type)
        {
            return false;
        }
        self.scope == 0 || (multi && attach_type != ATTACH_LSM_CGROUP && within(self.scope))
    }
}

/// What privileged callers asked for in one mount context, in call order.
///
/// Only fields a privileged caller named are recorded as set: a context
/// never carries defaults or a copy of a superblock's live state, so a
/// reconfigure applies exactly what was asked in that context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// The `delegate` flag was set.
    pub delegate: bool,
    /// `target_userns` was set: a reconfigure that applies to every bpffs
    /// instance of that user namespace instead of the one picked.
    pub target: bool,
    /// The fields named (one bit per [`Field`], and [`SCOPE`]).
    pub set: u8,
    /// Their values; fields not set are zero.
    pub masks: Masks,
    /// The scope, when [`SCOPE`] is set; otherwise zero.
    pub scope: u64,
}

/// The bit of [`Request::set`] for the cgroup scope.
pub const SCOPE: u8 = 16;

impl Request {
    /// Whether a privileged caller named `field` in this context.
    pub fn is_set(&self, field: Field) -> bool {
        self.set & field.bit() != 0
    }

    /// Whether this context asks for nothing.
    pub fn is_empty(&self) -> bool {
        !self.delegate && !self.target && self.set == 0
    }

    /// The state of a superblock created from this context.
    pub fn create(&self) -> State {
        State {
            delegated: self.delegate,
            dead: false,
            masks: self.masks,
            scope: self.scope,
        }
    }

    /// The state of a superblock reconfigured with this context: each field
    /// named here replaces the live one, the others stay as they are.  The
    /// `delegate` flag is a property of how the instance was created and
    /// does not change.
    pub fn reconfigure(&self, live: &State) -> State {
        State {
            masks: self.replace(&live.masks),
            scope: self.replace_scope(live.scope),
            ..*live
        }
    }

    /// A creation context that was given consent, once a privileged
    /// reconfigure of its user namespace (`target_userns`) applied this
    /// request to it: each field named here replaces the pending one and
    /// counts as named, so the instance it creates gets what the delegating
    /// task asked last, not what it consented to before.
    pub fn narrow_pending(&self, pending: &Request) -> Request {
        Request {
            masks: self.replace(&pending.masks),
            scope: self.replace_scope(pending.scope),
            set: pending.set | self.set,
            ..*pending
        }
    }

    fn replace_scope(&self, scope: u64) -> u64 {
        if self.set & SCOPE != 0 {
            self.scope
        } else {
            scope
        }
    }

    fn replace(&self, masks: &Masks) -> Masks {
        let mut next = *masks;
        for field in Field::ALL {
            if self.is_set(field) {
                *next.get_mut(field) = self.masks.get(field);
            }
        }
        next
    }
}

/// Whether a reconfigure context may be committed by the current task.
///
/// A reconfigure context that carries delegation (a field or
/// `target_userns`, all of which only a privileged task could set) is
/// committed only by a task that has `CAP_SYS_ADMIN` in the initial user
/// namespace *now*: an fs_context fd can be handed on, so the container
/// must not be able to bank a privileged task's request and commit it
/// later, after the delegating task narrowed or revoked the instance.
/// A context that asks nothing of delegation commits as before.
pub fn may_commit(req: &Request, privileged: &dyn Fn() -> bool) -> bool {
    req.is_empty() || privileged()
}

/// Whether a superblock may be created from a context.
///
/// Creating a bpffs for a user namespace other than the initial one needs
/// `CAP_SYS_ADMIN` in the initial one, as before, unless a task that had it
/// set the `delegate` flag on the context.
/// `privileged` is asked last, only when nothing else allows it.
pub fn may_create(req: &Request, init_userns: bool, privileged: &dyn Fn() -> bool) -> bool {
    init_userns || req.delegate || privileged()
}

/// The delegation keys a bpffs mount context knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `delegate`: a flag.
    Delegate,
    /// `delegate_userns`: a user namespace fd.
    DelegateUserns,
    /// `abilities`: a binary `struct bpf_delegation_opts`.
    Abilities,
    /// `delegate_cmds` and friends: strings.
    Strings(Field),
    /// `target_userns`: a user namespace fd, on a reconfigure context of a
    /// bpffs of the initial user namespace.
    TargetUserns,
    /// `delegate_cgroup`: the scope as a string (a cgroup2 id), for those
    /// who have only strings.
    Cgroup,
}

impl Key {
    /// The key for a parameter name, if it is a delegation key.
    pub fn from_name(name: &[u8]) -> Option<Key> {
        Some(match name {
            b"delegate" => Key::Delegate,
            b"delegate_userns" => Key::DelegateUserns,
            b"abilities" => Key::Abilities,
            b"delegate_cmds" => Key::Strings(Field::Cmds),
            b"delegate_maps" => Key::Strings(Field::Maps),
            b"delegate_progs" => Key::Strings(Field::Progs),
            b"delegate_attachs" => Key::Strings(Field::Attachs),
            b"target_userns" => Key::TargetUserns,
            b"delegate_cgroup" => Key::Cgroup,
            _ => return None,
        })
    }

    /// The parameter name.
    pub fn name(self) -> &'static str {
        match self {
            Key::Delegate => "delegate",
            Key::DelegateUserns => "delegate_userns",
            Key::Abilities => "abilities",
            Key::Strings(field) => field.option(),
            Key::TargetUserns => "target_userns",
            Key::Cgroup => "delegate_cgroup",
        }
    }

    /// How `fsconfig()` passes this key's value.
    fn expects(self) -> &'static str {
        match self {
            Key::Delegate => "a flag (FSCONFIG_SET_FLAG)",
            Key::DelegateUserns | Key::TargetUserns => "a user namespace fd (FSCONFIG_SET_FD)",
            Key::Abilities => "a struct bpf_delegation_opts (FSCONFIG_SET_BINARY)",
            Key::Strings(_) => "a string (FSCONFIG_SET_STRING)",
            Key::Cgroup => "a cgroup2 id as a string (FSCONFIG_SET_STRING)",
        }
    }
}

/// What a user namespace fd given for `delegate_userns` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Userns {
    /// The user namespace of the context.
    Same,
    /// Another user namespace.
    Other,
    /// Not a user namespace at all.
    NotUserns,
}

/// A parameter's value, as `fsconfig()` passed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `FSCONFIG_SET_FLAG`.
    Flag,
    /// `FSCONFIG_SET_STRING` (without the NUL).
    String(&'a [u8]),
    /// `FSCONFIG_SET_BINARY`.
    Blob(&'a [u8]),
    /// `FSCONFIG_SET_FD`.
    Fd(Userns),
    /// Anything else (`FSCONFIG_SET_PATH`, ...).
    Other,
}

/// Facts about a mount context the policy needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// The context belongs to the initial user namespace.
    pub init_userns: bool,
    /// The context reconfigures an existing superblock.
    pub reconfigure: bool,
}

/// Why a delegation parameter was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<'a> {
    /// The caller lacks `CAP_SYS_ADMIN` in the initial user namespace.
    NotPrivileged(Key),
    /// The value was not passed the way the key takes it.
    WrongType(Key),
    /// A binary value for a key that is not `abilities`.
    BlobForOtherKey(&'a [u8]),
    /// `delegate` on a context of the initial user namespace.
    DelegateInitUserns,
    /// `delegate` on a reconfigure context.
    DelegateReconfigure,
    /// `delegate_userns` names another user namespace, or none.
    Userns(Userns),
    /// `target_userns` on a context that is not a reconfigure context of a
    /// bpffs of the initial user namespace.
    TargetContext,
    /// `target_userns` names the initial user namespace, or no user
    /// namespace.
    TargetUserns(Userns),
    /// `target_userns` set twice on one context.
    TargetTwice,
    /// A bad `abilities` blob.
    Blob(BlobError),
    /// A bad `delegate_*` string.
    Text(Field, TextError<'a>),
    /// A `delegate_cgroup` value that is not a number.
    CgroupNumber(&'a [u8]),
    /// The scope names no cgroup2 directory.
    NoCgroup(Key, u64),
}

impl Error<'_> {
    /// The errno (positive) the caller gets.
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotPrivileged(_) => EPERM,
            Error::Blob(e) => e.errno(),
            Error::Text(_, e) => e.errno(),
            Error::NoCgroup(..) => ENOENT,
            _ => EINVAL,
        }
    }
}

impl fmt::Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotPrivileged(key) => write!(
                f,
                "{}: needs CAP_SYS_ADMIN in the initial user namespace",
                key.name()
            ),
            Error::WrongType(key) => write!(f, "{}: takes {}", key.name(), key.expects()),
            Error::BlobForOtherKey(key) => {
                f.write_str("'")?;
                text::write_bytes(f, key)?;
                f.write_str("': only 'abilities' takes a binary value")
            }
            Error::DelegateInitUserns => {
                f.write_str("delegate: the context belongs to the initial user namespace")
            }
            Error::DelegateReconfigure => {
                f.write_str("delegate: can only be set when an instance is created")
            }
            Error::Userns(Userns::NotUserns) => {
                f.write_str("delegate_userns: the fd is not a user namespace")
            }
            Error::Userns(_) => {
                f.write_str("delegate_userns: not the user namespace of this context")
            }
            Error::TargetContext => f.write_str(
                "target_userns: only on a reconfigure context of a bpffs of the initial user namespace",
            ),
            Error::TargetUserns(Userns::NotUserns) => {
                f.write_str("target_userns: the fd is not a user namespace")
            }
            Error::TargetUserns(_) => {
                f.write_str("target_userns: names the initial user namespace")
            }
            Error::TargetTwice => f.write_str("target_userns: already set on this context"),
            Error::Blob(ref e) => e.fmt(f),
            Error::Text(field, ref e) => write!(f, "{}: {}", field.option(), e),
            Error::CgroupNumber(s) => {
                f.write_str("delegate_cgroup: '")?;
                text::write_bytes(f, s)?;
                f.write_str("' is not a cgroup2 id")
            }
            Error::NoCgroup(key, id) => {
                write!(f, "{}: cgroup_id {id} names no cgroup2 directory", key.name())
            }
        }
    }
}

/// Applies one `fsconfig()` parameter to a context's request.
///
/// Returns `None` when the parameter is none of delegation's business (the
/// caller parses it as before), and otherwise the whole new request or an
/// error: a failed parameter changes nothing.  `privileged` tells whether the
/// caller has `CAP_SYS_ADMIN` in the initial user namespace; it is asked only
/// for delegation keys, and before anything else about them.
pub fn parse_param<'a>(
    req: &Request,
    key: &'a [u8],
    value: Value<'a>,
    ctx: &Context,
    privileged: &dyn Fn() -> bool,
) -> Option<Result<Request, Error<'a>>> {
    parse_param_scoped(req, key, value, ctx, privileged, &|_| true)
}

/// [`parse_param`], with `cgroup_exists(id)` telling whether a scope names a
/// cgroup2 directory; it is asked only for a non-zero scope, after the
/// privilege check.  The kernel calls this one.
pub fn parse_param_scoped<'a>(
    req: &Request,
    key: &'a [u8],
    value: Value<'a>,
    ctx: &Context,
    privileged: &dyn Fn() -> bool,
    cgroup_exists: &dyn Fn(u64) -> bool,
) -> Option<Result<Request, Error<'a>>> {
    let Some(k) = Key::from_name(key) else {
        // A blob must never be ignored the way unknown string keys are.
        return match value {
            Value::Blob(_) => Some(Err(Error::BlobForOtherKey(key))),
            _ => None,
        };
    };
    Some(apply(req, k, value, ctx, privileged, cgroup_exists))
}

fn apply<'a>(
    req: &Request,
    key: Key,
    value: Value<'a>,
    ctx: &Context,
    privileged: &dyn Fn() -> bool,
    cgroup_exists: &dyn Fn(u64) -> bool,
) -> Result<Request, Error<'a>> {
    if !privileged() {
        return Err(Error::NotPrivileged(key));
    }
    let mut next = *req;
    match (key, value) {
        (Key::Delegate, Value::Flag) => {
            if ctx.reconfigure {
                return Err(Error::DelegateReconfigure);
            }
            if ctx.init_userns {
                return Err(Error::DelegateInitUserns);
            }
            next.delegate = true;
        }
        (Key::DelegateUserns, Value::Fd(Userns::Same)) => {}
        (Key::DelegateUserns, Value::Fd(other)) => return Err(Error::Userns(other)),
        (Key::TargetUserns, Value::Fd(userns)) => {
            if !ctx.reconfigure || !ctx.init_userns {
                return Err(Error::TargetContext);
            }
            // The context's own namespace is the initial one here.
            if userns != Userns::Other {
                return Err(Error::TargetUserns(userns));
            }
            if req.target {
                return Err(Error::TargetTwice);
            }
            next.target = true;
        }
        (Key::Abilities, Value::Blob(blob)) => {
            let opts = parse_blob(blob).map_err(Error::Blob)?;
            if opts.cgroup_id != 0 && !cgroup_exists(opts.cgroup_id) {
                return Err(Error::NoCgroup(key, opts.cgroup_id));
            }
            next.masks = opts.masks;
            next.set |= Field::ALL.iter().fold(0, |set, f| set | f.bit());
            // A caller that knows the scope names it, 0 ("none") included;
            // one that does not (VER0) leaves it as it is, so that a tool
            // written before the scope narrows masks without unscoping.
            if blob.len() >= OPTS_SIZE_VER1 {
                next.scope = opts.cgroup_id;
                next.set |= SCOPE;
            }
        }
        (Key::Cgroup, Value::String(s)) => {
            let id = text::parse_number(s).ok_or(Error::CgroupNumber(s))?;
            if id != 0 && !cgroup_exists(id) {
                return Err(Error::NoCgroup(key, id));
            }
            next.scope = id;
            next.set |= SCOPE;
        }
        (Key::Strings(field), Value::String(s)) => {
            let mask = text::parse_list(field, s).map_err(|e| Error::Text(field, e))?;
            *next.masks.get_mut(field) |= mask;
            next.set |= field.bit();
        }
        (key, _) => return Err(Error::WrongType(key)),
    }
    Ok(next)
}

/// Why a binary delegation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobError {
    /// Its size breaks the rules of a size-versioned struct.
    Size(SizeError),
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
            BlobError::Size(e) if e.is_too_big() => E2BIG,
            _ => EINVAL,
        }
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlobError::Size(ref e) => write!(f, "abilities: {e}"),
            BlobError::UnknownBits { field, bits } => {
                write!(f, "abilities: {} has unknown bits {bits:#x}", field.name())
            }
            BlobError::UngatedCmds { bits } => {
                write!(f, "abilities: cmds {bits:#x} are not delegatable commands")
            }
        }
    }
}

/// A parsed `struct bpf_delegation_opts`, of any version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    /// The four masks.
    pub masks: Masks,
    /// VER1: the cgroup scope; 0 (and every VER0 struct): none.
    pub cgroup_id: u64,
}

/// Parses a binary `struct bpf_delegation_opts` of any size.
///
/// The size rules are those of `copy_struct_from_user()` with a page as the
/// upper bound: a blob shorter than the first version is refused, a longer
/// one is accepted only when every byte past the known struct is zero.  Each
/// mask must be "any" (all ones) or name only values this kernel knows; the
/// commands mask only commands that delegation gates.  Nothing partial is
/// ever returned.
pub fn parse_blob(blob: &[u8]) -> Result<Opts, BlobError> {
    let opts = Versioned::<OPTS_SIZE>::from_bytes(blob, OPTS_SIZE_VER0, OPTS_SIZE_MAX)
        .map_err(BlobError::Size)?;
    let mut masks = Masks::default();
    for (i, field) in Field::ALL.into_iter().enumerate() {
        let mask = opts.u64_at(i * 8).unwrap_or_default();
        let bad = mask & !field.allowed_bits();
        if mask != ANY && bad != 0 {
            return Err(match field {
                Field::Cmds if bad & field.known_bits() == bad => {
                    BlobError::UngatedCmds { bits: bad }
                }
                _ => BlobError::UnknownBits { field, bits: bad },
            });
        }
        *masks.get_mut(field) = mask;
    }
    // A caller that knows only VER0 has no scope: it reads as 0, as
    // copy_struct_from_user() zero-fills what a shorter struct lacks.
    let cgroup_id = opts.u64_at(OPTS_SIZE_VER0).unwrap_or_default();
    Ok(Opts { masks, cgroup_id })
}

/// The newest `N` of a stream of records, and how many there were: what an
/// instance keeps of its refusals for the delegating side.  Pushing never
/// fails and never allocates; the oldest kept record makes room.
pub struct Ring<T, const N: usize> {
    slots: [Option<T>; N],
    total: u64,
}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// An empty ring.
    pub fn new() -> Self {
        Ring {
            slots: [None; N],
            total: 0,
        }
    }

    /// Keeps `f(seq)`, where `seq` is 1 for the first record ever pushed.
    pub fn push(&mut self, f: impl FnOnce(u64) -> T) {
        if N == 0 {
            self.total = self.total.saturating_add(1);
            return;
        }
        let slot = (self.total % N as u64) as usize;
        self.total = self.total.saturating_add(1);
        self.slots[slot] = Some(f(self.total));
    }

    /// How many records were ever pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many of those are no longer kept.
    pub fn dropped(&self) -> u64 {
        self.total - self.total.min(N as u64)
    }

    /// The newest `max` records kept, oldest first.
    pub fn newest(&self, max: usize) -> impl Iterator<Item = T> + '_ {
        let kept = self.total.min(N as u64) as usize;
        let n = kept.min(max);
        // The record pushed as number `seq` (1-based) is in slot (seq - 1) % N.
        let first = self.total - n as u64;
        (first..self.total).filter_map(move |i| self.slots[(i % N as u64) as usize])
    }
}

impl<T: Copy, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_oldest_first() {
        let mut r = Ring::<u64, 3>::new();
        assert_eq!(r.newest(10).count(), 0);
        assert_eq!((r.total(), r.dropped()), (0, 0));
        r.push(|seq| seq * 10);
        r.push(|seq| seq * 10);
        assert!(r.newest(10).eq([10, 20]));
        assert!(r.newest(1).eq([20]));
        for _ in 0..5 {
            r.push(|seq| seq * 10);
        }
        assert_eq!((r.total(), r.dropped()), (7, 4));
        assert!(r.newest(10).eq([50, 60, 70]));
        assert!(r.newest(2).eq([60, 70]));
        assert_eq!(r.newest(0).count(), 0);
        let mut z = Ring::<u8, 0>::new();
        z.push(|_| 1);
        assert_eq!((z.total(), z.dropped(), z.newest(5).count()), (1, 1, 0));
    }

    fn blob(words: [u64; 4], extra: &[u8]) -> [u8; 64] {
        let mut b = [0u8; 64];
        for (i, w) in words.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        b[32..32 + extra.len()].copy_from_slice(extra);
        b
    }

    const MAP_STACK: u64 = 1 << 23;
    const CTX: Context = Context {
        init_userns: false,
        reconfigure: false,
    };
    const RECONF: Context = Context {
        init_userns: false,
        reconfigure: true,
    };
    const YES: &dyn Fn() -> bool = &|| true;
    const NO: &dyn Fn() -> bool = &|| false;

    fn param<'a>(
        req: &Request,
        key: &'a str,
        value: Value<'a>,
        ctx: &Context,
    ) -> Result<Request, Error<'a>> {
        parse_param(req, key.as_bytes(), value, ctx, YES).expect("a delegation key")
    }

    #[test]
    fn ver0_round_trips() {
        let b = blob([1 | 1 << 18, MAP_STACK, 1, 1 << 56], &[]);
        let m = parse_blob(&b[..32]).unwrap();
        assert_eq!(m.cgroup_id, 0);
        assert_eq!(
            m.masks,
            Masks {
                cmds: 1 | 1 << 18,
                maps: MAP_STACK,
                progs: 1,
                attachs: 1 << 56
            }
        );
    }

    #[test]
    fn sizes_follow_copy_struct_from_user() {
        assert_eq!(
            parse_blob(&[]),
            Err(BlobError::Size(SizeError::TooSmall { size: 0, min: 32 }))
        );
        assert_eq!(
            parse_blob(&[0; 31]),
            Err(BlobError::Size(SizeError::TooSmall { size: 31, min: 32 }))
        );
        assert_eq!(parse_blob(&[0; 32]), Ok(Opts::default()));
        assert_eq!(parse_blob(&[0; 40]), Ok(Opts::default()));
        assert_eq!(parse_blob(&[0; 48]), Ok(Opts::default()));
        assert_eq!(parse_blob(&[0; 4096]), Ok(Opts::default()));
        assert_eq!(
            parse_blob(&[0; 4097]),
            Err(BlobError::Size(SizeError::TooBig {
                size: 4097,
                max: 4096
            }))
        );
        // VER1: the scope, then zeroes, then a byte this kernel does not know.
        let b = blob([0; 4], &[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(parse_blob(&b[..32]).unwrap().cgroup_id, 0);
        assert_eq!(
            parse_blob(&b[..40]).unwrap().cgroup_id,
            u64::from_ne_bytes([7, 0, 0, 0, 0, 0, 0, 0])
        );
        let ver1 = parse_blob(&b[..40]).unwrap().cgroup_id;
        assert_eq!(parse_blob(&b[..47]).unwrap().cgroup_id, ver1);
        // Between the two versions, the bytes given count, zero-extended.
        assert_eq!(parse_blob(&b[..33]).unwrap().cgroup_id, ver1);
        let mut c = b;
        c[33] = 1;
        assert_eq!(parse_blob(&c[..33]).unwrap().cgroup_id, ver1);
        assert_ne!(parse_blob(&c[..34]).unwrap().cgroup_id, ver1);
        assert_eq!(
            parse_blob(&b[..48]),
            Err(BlobError::Size(SizeError::NonZeroTail {
                offset: 47,
                known: 40
            }))
        );
        assert_eq!(parse_blob(&b[..48]).unwrap_err().errno(), E2BIG);
        assert_eq!(parse_blob(&[0; 4097]).unwrap_err().errno(), E2BIG);
        assert_eq!(parse_blob(&[0; 31]).unwrap_err().errno(), EINVAL);
    }

    #[test]
    fn any_is_all_ones() {
        let m = parse_blob(&blob([ANY; 4], &[])[..32]).unwrap().masks;
        assert_eq!(
            m,
            Masks {
                cmds: ANY,
                maps: ANY,
                progs: ANY,
                attachs: ANY
            }
        );
    }

    #[test]
    fn unknown_bits_are_refused() {
        let maps_max = Field::Maps.count();
        let e = parse_blob(&blob([0, 1 << maps_max, 0, 0], &[])[..32]);
        assert_eq!(
            e,
            Err(BlobError::UnknownBits {
                field: Field::Maps,
                bits: 1 << maps_max
            })
        );
        assert_eq!(e.unwrap_err().errno(), EINVAL);
        let e = parse_blob(&blob([0, 0, 0, ANY - 1], &[])[..32]);
        assert_eq!(
            e,
            Err(BlobError::UnknownBits {
                field: Field::Attachs,
                bits: (ANY - 1) & !Field::Attachs.known_bits()
            })
        );
        // The highest known values are accepted.
        let top = |f: Field| 1u64 << (f.count() - 1);
        let b = blob(
            [0, top(Field::Maps), top(Field::Progs), top(Field::Attachs)],
            &[],
        );
        assert!(parse_blob(&b[..32]).is_ok());
    }

    #[test]
    fn ungated_commands_are_refused() {
        // BPF_MAP_LOOKUP_ELEM (1) is a real command that no delegation gates.
        let e = parse_blob(&blob([1 | 1 << 1, 0, 0, 0], &[])[..32]);
        assert_eq!(e, Err(BlobError::UngatedCmds { bits: 1 << 1 }));
        let e = parse_blob(&blob([1 << 40, 0, 0, 0], &[])[..32]);
        assert_eq!(
            e,
            Err(BlobError::UnknownBits {
                field: Field::Cmds,
                bits: 1 << 40
            })
        );
    }

    #[test]
    fn every_key_needs_privilege_first() {
        let req = Request::default();
        for key in [
            "delegate",
            "delegate_userns",
            "abilities",
            "delegate_cmds",
            "delegate_maps",
            "delegate_progs",
            "delegate_attachs",
        ] {
            // Zero values too, and whatever the type.
            for value in [
                Value::Flag,
                Value::String(b"0"),
                Value::Blob(&[0; 32]),
                Value::Other,
            ] {
                let r = parse_param(&req, key.as_bytes(), value, &CTX, NO).unwrap();
                assert_eq!(r.map_err(|e| e.errno()), Err(EPERM), "{key}");
            }
        }
    }

    #[test]
    fn privilege_is_asked_only_for_delegation_keys() {
        let asked = core::cell::Cell::new(false);
        let probe = || {
            asked.set(true);
            false
        };
        assert!(parse_param(
            &Request::default(),
            b"mode",
            Value::String(b"700"),
            &CTX,
            &probe
        )
        .is_none());
        assert!(parse_param(
            &Request::default(),
            b"uid",
            Value::String(b"0"),
            &CTX,
            &probe
        )
        .is_none());
        assert!(!asked.get());
    }

    #[test]
    fn blobs_are_never_ignored() {
        let r = parse_param(&Request::default(), b"uid", Value::Blob(&[0; 32]), &CTX, NO);
        assert!(matches!(r, Some(Err(Error::BlobForOtherKey(b"uid")))));
        let r = parse_param(
            &Request::default(),
            b"nonsense",
            Value::Blob(&[0; 32]),
            &CTX,
            YES,
        );
        assert_eq!(r.unwrap().unwrap_err().errno(), EINVAL);
        // Unknown string keys stay ignored, as bpffs always did.
        assert!(parse_param(
            &Request::default(),
            b"nonsense",
            Value::String(b"x"),
            &CTX,
            YES
        )
        .is_none());
    }

    #[test]
    fn keys_take_one_type() {
        let req = Request::default();
        assert_eq!(
            param(&req, "abilities", Value::String(b"any"), &CTX),
            Err(Error::WrongType(Key::Abilities))
        );
        assert_eq!(
            param(&req, "delegate", Value::String(b"1"), &CTX),
            Err(Error::WrongType(Key::Delegate))
        );
        assert_eq!(
            param(&req, "delegate_cmds", Value::Blob(&[0; 32]), &CTX),
            Err(Error::WrongType(Key::Strings(Field::Cmds)))
        );
        assert_eq!(
            param(&req, "delegate_userns", Value::String(b"3"), &CTX),
            Err(Error::WrongType(Key::DelegateUserns))
        );
    }

    #[test]
    fn delegate_flag_rules() {
        let req = Request::default();
        let r = param(&req, "delegate", Value::Flag, &CTX).unwrap();
        assert!(r.delegate && r.set == 0);
        let init = Context {
            init_userns: true,
            reconfigure: false,
        };
        assert_eq!(
            param(&req, "delegate", Value::Flag, &init),
            Err(Error::DelegateInitUserns)
        );
        assert_eq!(
            param(&req, "delegate", Value::Flag, &RECONF),
            Err(Error::DelegateReconfigure)
        );
        assert!(may_create(&r, false, NO));
        assert!(!may_create(&req, false, NO));
        assert!(may_create(&req, false, YES));
        assert!(may_create(&req, true, NO));
    }

    #[test]
    fn delegate_userns_must_match() {
        let req = Request::default();
        assert_eq!(
            param(&req, "delegate_userns", Value::Fd(Userns::Same), &CTX),
            Ok(req)
        );
        assert_eq!(
            param(&req, "delegate_userns", Value::Fd(Userns::Other), &CTX),
            Err(Error::Userns(Userns::Other))
        );
        assert_eq!(
            param(&req, "delegate_userns", Value::Fd(Userns::NotUserns), &CTX)
                .unwrap_err()
                .errno(),
            EINVAL
        );
    }

    #[test]
    fn requests_apply_in_call_order() {
        let mut req = Request::default();
        req = param(&req, "delegate_maps", Value::String(b"array"), &CTX).unwrap();
        // A blob replaces everything set so far ...
        let b = blob([1, MAP_STACK, 0, 0], &[]);
        req = param(&req, "abilities", Value::Blob(&b[..32]), &CTX).unwrap();
        assert_eq!(req.masks.maps, MAP_STACK);
        assert!(Field::ALL.iter().all(|&f| req.is_set(f)));
        // ... and later strings OR into it.
        req = param(&req, "delegate_maps", Value::String(b"hash"), &CTX).unwrap();
        assert_eq!(req.masks.maps, MAP_STACK | 1 << 1);
        // A failed parameter changes nothing.
        let before = req;
        assert!(param(
            &req,
            "delegate_maps",
            Value::String(b"array:nonsense"),
            &CTX
        )
        .is_err());
        assert_eq!(req, before);
    }

    const INIT_RECONF: Context = Context {
        init_userns: true,
        reconfigure: true,
    };

    #[test]
    fn target_userns_only_on_an_initial_reconfigure_context() {
        let other = Value::Fd(Userns::Other);
        let req = param(&Request::default(), "target_userns", other, &INIT_RECONF).unwrap();
        assert!(req.target && !req.is_empty() && req.set == 0);
        // Once per context.
        assert_eq!(
            param(&req, "target_userns", other, &INIT_RECONF),
            Err(Error::TargetTwice)
        );
        // Not on a creation context, nor on a container's instance.
        for ctx in [
            CTX,
            RECONF,
            Context {
                init_userns: true,
                reconfigure: false,
            },
        ] {
            assert_eq!(
                param(&Request::default(), "target_userns", other, &ctx),
                Err(Error::TargetContext)
            );
        }
        // Not the initial namespace itself, not a non-namespace fd, not a string.
        for u in [Userns::Same, Userns::NotUserns] {
            assert_eq!(
                param(
                    &Request::default(),
                    "target_userns",
                    Value::Fd(u),
                    &INIT_RECONF
                ),
                Err(Error::TargetUserns(u))
            );
        }
        assert_eq!(
            param(
                &Request::default(),
                "target_userns",
                Value::String(b"1"),
                &INIT_RECONF
            ),
            Err(Error::WrongType(Key::TargetUserns))
        );
        // Privilege first.
        assert_eq!(
            parse_param(
                &Request::default(),
                b"target_userns",
                other,
                &INIT_RECONF,
                NO
            ),
            Some(Err(Error::NotPrivileged(Key::TargetUserns)))
        );
    }

    #[test]
    fn commit_needs_privilege_only_for_delegation() {
        // The container's own remount, or any context that asks nothing.
        assert!(may_commit(&Request::default(), NO));
        let fields = param(
            &Request::default(),
            "delegate_maps",
            Value::String(b"stack"),
            &RECONF,
        )
        .unwrap();
        let target = param(
            &Request::default(),
            "target_userns",
            Value::Fd(Userns::Other),
            &INIT_RECONF,
        )
        .unwrap();
        let zero = param(
            &Request::default(),
            "abilities",
            Value::Blob(&[0; 32]),
            &RECONF,
        )
        .unwrap();
        for req in [fields, target, zero] {
            // Banked: set by a privileged task, committed by the container.
            assert!(!may_commit(&req, NO));
            assert!(may_commit(&req, YES));
        }
    }

    #[test]
    fn narrowing_a_pending_consent() {
        let pending = param(&Request::default(), "delegate", Value::Flag, &CTX).unwrap();
        let all = [ANY; 4].map(u64::to_ne_bytes).concat();
        let pending = param(&pending, "abilities", Value::Blob(&all), &CTX).unwrap();
        // A reset of the namespace zeroes what it would create.
        let reset = param(
            &Request::default(),
            "abilities",
            Value::Blob(&[0; 32]),
            &RECONF,
        )
        .unwrap();
        let next = reset.narrow_pending(&pending);
        assert!(next.delegate);
        assert!(next.create().masks.is_empty());
        // A string replaces only its field and leaves the others consented.
        let maps = param(
            &Request::default(),
            "delegate_maps",
            Value::String(b"stack"),
            &RECONF,
        )
        .unwrap();
        let next = maps.narrow_pending(&pending);
        assert_eq!(next.masks.maps, MAP_STACK);
        assert_eq!(next.masks.cmds, ANY);
        // Nothing named, nothing changed.
        assert_eq!(Request::default().narrow_pending(&pending), pending);
    }

    #[test]
    fn reconfigure_applies_only_what_was_set() {
        let live = State {
            delegated: true,
            dead: false,
            masks: Masks {
                cmds: 1,
                maps: MAP_STACK,
                progs: 1,
                attachs: 1,
            },
            scope: 0,
        };
        // An empty context (the container's own remount) changes nothing.
        assert_eq!(Request::default().reconfigure(&live), live);
        // A string replaces just its field.
        let req = param(
            &Request::default(),
            "delegate_maps",
            Value::String(b"array"),
            &RECONF,
        )
        .unwrap();
        let next = req.reconfigure(&live);
        assert_eq!(next.masks.maps, 1 << 2);
        assert_eq!(next.masks.cmds, 1);
        assert!(next.delegated);
        // A zeroed blob resets all four.
        let req = param(
            &Request::default(),
            "abilities",
            Value::Blob(&[0; 32]),
            &RECONF,
        )
        .unwrap();
        let next = req.reconfigure(&live);
        assert!(next.masks.is_empty());
        assert!(next.delegated);
    }

    #[test]
    fn the_cgroup_scope_is_resolved_and_replaced_like_a_field() {
        fn set<'a>(
            req: &Request,
            key: &'a str,
            value: Value<'a>,
            ok: &dyn Fn() -> bool,
        ) -> Result<Request, Error<'a>> {
            let exists: &dyn Fn(u64) -> bool = &|id| id == 5 || id == 6;
            parse_param_scoped(req, key.as_bytes(), value, &RECONF, ok, exists).unwrap()
        }
        let ver1 = blob([1 << CMD_PROG_LOAD, 0, 1 << 18, 1 << 10], &[5]);
        let req = set(
            &Request::default(),
            "abilities",
            Value::Blob(&ver1[..40]),
            YES,
        )
        .unwrap();
        assert_eq!(req.scope, 5);
        assert_ne!(req.set & SCOPE, 0);
        // A scope that names no cgroup: ENOENT, nothing applied.
        let none = blob([1 << CMD_PROG_LOAD, 0, 1 << 18, 1 << 10], &[9]);
        let err = set(&req, "abilities", Value::Blob(&none[..40]), YES).unwrap_err();
        assert_eq!(err, Error::NoCgroup(Key::Abilities, 9));
        assert_eq!(err.errno(), ENOENT);
        // Privilege is asked first.
        let err = set(&req, "abilities", Value::Blob(&none[..40]), NO).unwrap_err();
        assert_eq!(err.errno(), EPERM);
        // The string key replaces the scope alone; "0" clears it.
        let s6 = set(&req, "delegate_cgroup", Value::String(b"6"), YES).unwrap();
        assert_eq!((s6.scope, s6.masks), (6, req.masks));
        let s0 = set(&s6, "delegate_cgroup", Value::String(b"0"), YES).unwrap();
        assert_eq!(s0.scope, 0);
        assert_eq!(
            set(&s6, "delegate_cgroup", Value::String(b"9"), YES).unwrap_err(),
            Error::NoCgroup(Key::Cgroup, 9)
        );
        assert_eq!(
            set(&s6, "delegate_cgroup", Value::String(b"six"), YES).unwrap_err(),
            Error::CgroupNumber(b"six")
        );
        assert_eq!(
            set(&s6, "delegate_cgroup", Value::Blob(b"6"), YES).unwrap_err(),
            Error::WrongType(Key::Cgroup)
        );
        // A reconfigure: only a context that named the scope changes it; a
        // VER0 blob does not know it and leaves it, a VER1 one with 0 clears.
        let live = req.create();
        assert_eq!(live.scope, 5);
        let maps = set(
            &Request::default(),
            "delegate_maps",
            Value::String(b"array"),
            YES,
        )
        .unwrap();
        assert_eq!(maps.reconfigure(&live).scope, 5);
        assert_eq!(s6.reconfigure(&live).scope, 6);
        let ver0 = set(
            &Request::default(),
            "abilities",
            Value::Blob(&ver1[..32]),
            YES,
        )
        .unwrap();
        assert_eq!(ver0.reconfigure(&live).scope, 5);
        // A scope named earlier in the same context stays named.
        let named = set(&s6, "abilities", Value::Blob(&ver1[..32]), YES).unwrap();
        assert_eq!(named.reconfigure(&live).scope, 6);
        assert_eq!(ver0.reconfigure(&live).masks, ver0.masks);
        let mut none = ver1;
        none[32] = 0;
        let cleared = set(
            &Request::default(),
            "abilities",
            Value::Blob(&none[..40]),
            YES,
        )
        .unwrap();
        assert_eq!(cleared.reconfigure(&live).scope, 0);
        // A VER0 consent creates an unscoped instance.
        assert_eq!(ver0.create().scope, 0);
        // And so for a pending consent.
        assert_eq!(s6.narrow_pending(&req).scope, 6);
        assert_eq!(maps.narrow_pending(&req).scope, 5);
    }

    #[test]
    fn cgroup_attach_needs_the_type_and_the_scope() {
        let mut live = State {
            delegated: true,
            dead: false,
            masks: Masks {
                attachs: 1 << 10,
                ..Masks::default()
            },
            scope: 0,
        };
        let never: &dyn Fn(u64) -> bool = &|_| panic!("no scope, nothing to ask");
        // Unscoped: any cgroup, for a delegated attach type, as upstream.
        for multi in [true, false] {
            assert!(live.allows_cgroup_attach(10, multi, never));
            assert!(!live.allows_cgroup_attach(11, multi, never));
            assert!(!live.allows_cgroup_attach(64, multi, never));
            assert!(!live.allows_cgroup_attach(u32::MAX, multi, never));
        }
        live.scope = 5;
        assert!(live.allows_cgroup_attach(10, true, &|id| id == 5));
        assert!(!live.allows_cgroup_attach(10, true, &|_| false));
        assert!(!live.allows_cgroup_attach(11, true, &|_| true));
        // Scoped: never as the one legacy program, never as lsm_cgroup.
        assert!(!live.allows_cgroup_attach(10, false, &|_| true));
        live.masks.attachs |= 1 << ATTACH_LSM_CGROUP;
        assert!(!live.allows_cgroup_attach(ATTACH_LSM_CGROUP, true, &|_| true));
        live.scope = 0;
        assert!(live.allows_cgroup_attach(ATTACH_LSM_CGROUP, true, never));
        // Gone: nothing, whatever the cgroup.
        live.scope = 5;
        live.dead = true;
        assert!(!live.allows_cgroup_attach(10, true, &|_| true));
    }

    #[test]
    fn messages_name_the_problem() {
        use core::fmt::Write;
        struct Buf([u8; 160], usize);
        impl Write for Buf {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0[self.1..self.1 + s.len()].copy_from_slice(s.as_bytes());
                self.1 += s.len();
                Ok(())
            }
        }
        let e = param(
            &Request::default(),
            "delegate_maps",
            Value::String(b"array:hsah"),
            &CTX,
        )
        .unwrap_err();
        let mut b = Buf([0; 160], 0);
        write!(b, "{e}").unwrap();
        assert_eq!(
            core::str::from_utf8(&b.0[..b.1]).unwrap(),
            "delegate_maps: unknown name 'hsah'"
        );
        let e = parse_param(&Request::default(), b"delegate", Value::Flag, &CTX, NO)
            .unwrap()
            .unwrap_err();
        let mut b = Buf([0; 160], 0);
        write!(b, "{e}").unwrap();
        assert_eq!(
            core::str::from_utf8(&b.0[..b.1]).unwrap(),
            "delegate: needs CAP_SYS_ADMIN in the initial user namespace"
        );
    }
}
