// SPDX-License-Identifier: GPL-2.0

//! `bpf-delegate`: the privileged side of bpffs delegation.
//!
//! It plays the "delegating task" of the design: it lets a container open a
//! bpffs context in its own user namespace, makes sure that context is of
//! that namespace (`delegate_userns`) and a new request (`delegate`, which
//! the kernel refuses on a reconfigure context, so consent cannot be banked
//! on a live instance) before it sets what the instance delegates, and hands
//! the context back.  Later it narrows, resets and shows what a
//! container was given: one mounted instance by its path, or, without a path,
//! every bpffs instance of the container's user namespace through the
//! kernel's `target_userns` key:
//!
//! ```text
//! bpf-delegate reset --pid 1234
//! ```
//!
//! works whatever the container did with its mounts (never attached one,
//! lazily unmounted it, mounted it where the host cannot see it) and also
//! narrows consent given but not used yet.  The names and the rules of the
//! masks are the kernel's own: the policy files of `kernel/bpf/delegation/`
//! are compiled into this tool.
//!
//! `show` also says what each live instance refused lately: the kernel
//! keeps the newest refusals of an instance (the command and types asked,
//! why, the caller's pid and comm) and reports them with the instances of a
//! user namespace, so a path names the instance whose refusals they are
//! only when it is the one live instance of its namespace.  `show --json`
//! prints the same as one JSON object for scripts.
//!
//! `--cgroup PATH` scopes where the container's programs attach to cgroups
//! (`cgroup_id` of `struct bpf_delegation_opts` VER1): PATH and below only,
//! as one of several programs (`BPF_F_ALLOW_MULTI` or a link), never as
//! `BPF_LSM_CGROUP`.  PATH is resolved without following symlinks and must
//! not be the cgroup2 root.  `--cgroup none` clears a scope.  Without
//! `--cgroup`, the tool sends the VER0 struct, which replaces the masks and
//! leaves the scope an instance has as it is (a new one has none); a
//! delegated cgroup program of an instance without a scope attaches to any
//! cgroup the container can open an fd of, the host's root included, and
//! the tool says so on stderr.
//!
//! `run` starts a command as a container (a new user and mount namespace)
//! with a delegated bpffs.  The command is the container's, not the
//! operator's: it never runs as the host's uid or gid 0 unless asked
//! (`--allow-host-root`), keeps none of the invoker's groups, and gets a new
//! session, a terminal of its own, a minimal environment, `/`, fds 0-2 only
//! and no new privileges (see `session`).  The tool keeps a reconfigure
//! context of exactly the instance the container created (its mount fd is
//! handed over before it is attached) and, when the command exits, revokes
//! that instance through it: what the command left behind, with a token or
//! the bpffs fd, loses the delegation.

mod attach;
mod oci;
mod session;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bpf_delegation_host::policy::{self, Field, Masks, Opts, State};
use bpf_delegation_host::text;
use clap::{Args, Parser, Subcommand};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{
    fstat, fstatfs, open, openat, openat2, stat, statat, statx, AtFlags, FileType, Mode, OFlags,
    ResolveFlags, StatxAttributes, StatxFlags, CWD,
};
use rustix::io::Errno;
use rustix::mount::{
    fsconfig_create, fsconfig_reconfigure, fsconfig_set_binary, fsconfig_set_fd, fsconfig_set_flag,
    fsmount, fsopen, fspick, move_mount, FsMountFlags, FsOpenFlags, FsPickFlags, MountAttrFlags,
    MoveMountFlags,
};
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use rustix::thread::{unshare_unsafe, UnshareFlags};

const BPF_FS_MAGIC: u64 = 0xcafe_4a11;
/// The filesystem of /proc/PID/ns/* and of their bind mounts.
const NSFS_MAGIC: u64 = 0x6e73_6673;
/// cgroup v2, whose directories' ids scope attachments.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
/// A cgroup v1 hierarchy: its directories are no cgroup2 ids.
const CGROUP_SUPER_MAGIC: u64 = 0x0027_e0eb;
/// At most this many directories are looked at to find a cgroup by its id.
const CGROUP_SEARCH_MAX: usize = 100_000;
/// How many messages an fs_context log keeps: the most recent ones.
const LOG_MESSAGES: usize = 8;
/// At most this many messages are read from an fs_context log at once.
const LOG_READ_MAX: usize = 64;

/// Exit codes a script can rely on.
mod exit {
    /// The kernel refused, a system call failed, or there was nothing to
    /// act on (no instance of the user namespace).
    pub const REFUSED: u8 = 1;
    /// Bad command line or names.
    pub const USAGE: u8 = 2;
    /// The instance, or one of the instances of a user namespace, does not
    /// say what was asked after a change (an old kernel that ignores the
    /// keys, say), or could not be read back.  What was changed stays
    /// changed, and the message says what that was.
    pub const MISMATCH: u8 = 3;
}

const EXAMPLES: &str = "\
Examples:
  # A shell for user 1000 in a new user namespace with a bpffs at
  # /sys/fs/bpf that lets it create stack and hash maps and load socket
  # filters:
  bpf-delegate run --user 1000 --cmds map_create,prog_load --maps stack,hash \\
      --progs socket_filter --attachs cgroup_inet_ingress -- sh
  # The command runs in a new session with PATH, HOME=/ (and TERM) only, in
  # /, with fds 0-2 only: a new terminal of its own when the operator has
  # one (the tool relays to it), else the tool's own fds as they are.  When
  # it exits, its instance is revoked: processes it left behind keep their
  # token or bpffs fd, but it delegates nothing any more.

  # Narrow what the container whose pid is 1234 was given, revoke it, and
  # show it.  Without a path these reach every bpffs instance of that
  # process's user namespace, whatever the container did with its mounts
  # (never attached, lazily unmounted, mounted out of sight), and consent
  # given but not used yet:
  bpf-delegate set --pid 1234 --cmds map_create --maps stack
  bpf-delegate reset --pid 1234
  bpf-delegate show --pid 1234
  # 'show' also lists what each live instance refused lately (the kernel
  # keeps its newest refusals: the command and types asked, why, and the
  # caller's pid and comm), and --json prints it all as one JSON object:
  bpf-delegate show --pid 1234 --json
  # The same by a user namespace file (/proc/PID/ns/user or a bind mount
  # of one):
  bpf-delegate reset --userns /run/ctr1/userns

  # One mounted instance, by its path seen from the container, which is
  # resolved in that process's root (held by a pidfd meanwhile) without
  # following a symlink; only an instance of its user namespace is touched:
  bpf-delegate set /sys/fs/bpf --pid 1234 --cmds map_create --maps stack
  bpf-delegate show /sys/fs/bpf --pid 1234
  # The pid to use, written by bpf-delegate itself once the bpffs is mounted
  # (never take a pid the container could have written):
  bpf-delegate run --user 1000 --pid-file /run/ctr1.pid --cmds map_create \\
      --maps stack -- sleep infinity

  # A running container a runtime made (crun, runc, LXC), by the pid of one
  # of its processes: a helper joins its user and mount namespaces, and the
  # bpffs is mounted at /sys/fs/bpf as the container sees it:
  bpf-delegate attach --pid 1234 --cmds map_create --maps stack
  # The same as an OCI createRuntime hook (config.json or podman's
  # hooks.d), as the container's annotations org.kernel.bpf.delegate.cmds,
  # .maps, .progs, .attachs, .mount and .replace ask; nothing without them:
  # The hook's own arguments are the most any annotation gets:
  #   \"hooks\": {\"createRuntime\": [{\"path\": \"/usr/local/bin/bpf-delegate\",
  #     \"args\": [\"bpf-delegate\", \"oci-hook\", \"--cmds\", \"map_create\",
  #              \"--maps\", \"stack,queue\"]}]}
  bpf-delegate oci-hook --cmds map_create --maps stack,queue < state.json

  # cgroup programs, scoped to the container's own cgroup (a cgroup2
  # directory on the host, delegated to the container by cgroup v2 rules):
  # they attach there and below, nowhere else, and only with
  # BPF_F_ALLOW_MULTI or as links (a legacy attachment would replace the
  # program already there, the host's included); BPF_LSM_CGROUP is refused.
  # 'run' also starts the command in that cgroup.  The path is not followed
  # through symlinks, and the cgroup2 root is refused (it is no scope).
  bpf-delegate run --user 1000 --cgroup /sys/fs/cgroup/ctr1 \\
      --cmds map_create,prog_load --progs cgroup_skb \\
      --attachs cgroup_inet_ingress,cgroup_inet_egress -- sh
  bpf-delegate set --pid 1234 --cgroup /sys/fs/cgroup/ctr1 --cmds prog_load \\
      --progs cgroup_skb --attachs cgroup_inet_egress
  # 'set' without --cgroup replaces the masks and keeps the scope each
  # instance has; --cgroup none takes it away.  Without a scope a delegated
  # cgroup program attaches to any cgroup the container can open, the
  # host's root included (the tool warns).  Programs attached before a
  # narrowing stay attached: detach them on the host (bpftool cgroup
  # detach) or remove their cgroup.
  bpf-delegate set --pid 1234 --cmds map_create --maps stack
  bpf-delegate set --pid 1234 --cgroup none --cmds map_create --maps stack

Names are the kernel's (enum bpf_cmd, bpf_map_type, bpf_prog_type,
bpf_attach_type), any case, with or without their BPF_ prefixes, separated by
',' or ':'; numbers and \"any\" work too.  Exit codes: 0 done, 1 refused by the
kernel or no instance of the user namespace found (nothing changed), 2 usage,
3 an instance does not say what was asked after a change, or could not be
read back (the change stays made; the message says what it was); a closed
standard output ends the tool with 1; 'run' exits with the command's status,
or 1 if revoking its instance after the command exited failed.";

#[derive(Parser)]
#[command(name = "bpf-delegate", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command in a new user and mount namespace with a delegated
    /// bpffs, and revoke that instance when the command exits.
    Run {
        #[command(flatten)]
        masks: MaskArgs,
        /// Where the command gets the bpffs, in its own mount namespace.
        #[arg(long, default_value = "/sys/fs/bpf")]
        mount: String,
        /// Run the container as this unprivileged user (UID or UID:GID),
        /// root inside its user namespace; default: the invoking user, which
        /// for root needs --allow-host-root.
        #[arg(long, value_parser = parse_user)]
        user: Option<(u32, u32)>,
        /// Let the container's root be the host's uid or gid 0 (no --user
        /// as root, --user 0, or gid 0): it then owns every file root owns.
        #[arg(long)]
        allow_host_root: bool,
        /// Write the command's pid (as the host sees it) into FILE once its
        /// bpffs is mounted, for set/reset/show --pid.  FILE must not exist
        /// (a symlink there is not followed); it is made with mode 0600.
        #[arg(long, value_name = "FILE")]
        pid_file: Option<String>,
        /// The command and its arguments.
        #[arg(required = true, last = true)]
        command: Vec<OsString>,
    },
    /// Give a running container (one a runtime made: crun, runc, LXC) a
    /// delegated bpffs: a short-lived helper joins its user and mount
    /// namespaces through its pidfd, opens the bpffs context there, and
    /// after bpf-delegate has consented for that user namespace creates the
    /// instance and mounts it at --mount in the container's mount namespace.
    /// Later: set, reset or show --pid.
    Attach {
        /// A process of the container (its user namespace must not be the
        /// initial one, its mount namespace not the tool's).
        #[arg(long)]
        pid: u32,
        /// The mount point, a directory as the container sees it (resolved
        /// in its root, never through a symlink).
        #[arg(long, default_value = "/sys/fs/bpf")]
        mount: String,
        /// Mount over a bpffs already at --mount (else that is refused).
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        masks: MaskArgs,
    },
    /// As an OCI runtime hook (createRuntime in crun or runc, podman's
    /// hooks.d): read the container's state from stdin and attach a bpffs
    /// to it as its annotations ask (org.kernel.bpf.delegate.cmds, .maps,
    /// .progs, .attachs, .mount, .replace); nothing without them.  The
    /// hook's own --cmds, --maps, --progs and --attachs are the most it
    /// grants: an annotation asking beyond them fails the hook.
    OciHook {
        #[command(flatten)]
        max: MaskArgs,
    },
    /// Replace what a mounted bpffs, or every bpffs of a user namespace,
    /// delegates: the masks, and the cgroup scope only with --cgroup
    /// (without it each instance keeps the scope it has).
    Set {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        masks: MaskArgs,
    },
    /// Revoke everything a mounted bpffs, or every bpffs of a user
    /// namespace, delegates: all four masks become empty.  A cgroup scope
    /// is kept (the VER0 struct is sent), which is harmless: nothing is
    /// delegated to attach anywhere.
    Reset {
        #[command(flatten)]
        target: Target,
    },
    /// Show what a mounted bpffs, or every bpffs of a user namespace,
    /// delegates, and what each live instance refused lately: the kernel
    /// keeps the newest refusals of an instance, with who asked.  By path,
    /// the refusals are shown with --pid when the instance is the only live
    /// one of that process's user namespace.
    Show {
        #[command(flatten)]
        target: Target,
        /// Print one JSON object instead of text, for scripts: by user
        /// namespace {"userns", "userns_inode", "live", "pending",
        /// "instances_not_shown", "instances": [{"state", ...}]}, by path
        /// {"path", "delegated", ..., "refusals_note" (why its refusals are
        /// not known, or null)}, with the fields of an instance: "cmds",
        /// "maps", "progs", "attachs" (names, or numbers without
        /// one), "masks" (hex strings), "cgroup_id", "cgroup" (its path or
        /// null), "refused" (refusals in the instance's life, null if
        /// unknown), "refusals_not_shown" and "refusals": [{"seq", "cmd",
        /// "map_type", "prog_type", "attach_type" (a name, a number or
        /// null), "why", "words", "pid", "vpid", "comm" (as the kernel
        /// escaped it)}], oldest first.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct MaskArgs {
    /// Commands (map_create, btf_load, prog_load, btf_get_fd_by_id).
    #[arg(long, default_value = "")]
    cmds: String,
    /// Map types.
    #[arg(long, default_value = "")]
    maps: String,
    /// Program types.
    #[arg(long, default_value = "")]
    progs: String,
    /// Expected attach types (0, cgroup_inet_ingress, is what a program
    /// that sets none has).
    #[arg(long, default_value = "")]
    attachs: String,
    /// Scope the delegated programs' cgroup attachments to this cgroup2
    /// directory and below it (the container's own cgroup), as the host
    /// sees it, never following a symlink; not the cgroup2 root.  Scoped
    /// programs attach only with BPF_F_ALLOW_MULTI or as links, and never
    /// as lsm_cgroup.  `run` also starts the command in it.  `none`: no
    /// scope (clears the one an instance has).  Without --cgroup, `set`
    /// keeps each instance's scope and `run` has none; a delegated program
    /// without a scope attaches to any cgroup the container can open.
    #[arg(long, value_name = "PATH|none")]
    cgroup: Option<String>,
}

/// One mounted instance (PATH), or every instance of a user namespace
/// (`--pid` or `--userns` without PATH).
#[derive(Args)]
#[group(required = true, multiple = true)]
struct Target {
    /// The bpffs mount point.  Without it, every bpffs instance of the user
    /// namespace of --pid or --userns, mounted or not, and consent given
    /// there but not used yet.
    path: Option<String>,
    /// With PATH: resolve PATH in this process's root and mount namespace (a
    /// container's), never following its symlinks.  Without PATH: reach
    /// every bpffs instance of this process's user namespace.
    #[arg(long)]
    pid: Option<u32>,
    /// Reach every bpffs instance of this user namespace: /proc/PID/ns/user
    /// or a bind mount of one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["path", "pid"])]
    userns: Option<String>,
}

fn parse_user(s: &str) -> Result<(u32, u32), String> {
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    let num = |x: &str| match x.parse::<u32>() {
        // (uid_t)-1: the kernel's "no id", never a user.
        Ok(u32::MAX) => Err(format!("'{x}' is the kernel's invalid id, not a user")),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("'{x}' is not a numeric id")),
    };
    Ok((num(u)?, num(g)?))
}

/// An error for the user: what failed, the errno's name, the kernel's word.
struct Failure {
    code: u8,
    msg: String,
}

type Res<T> = Result<T, Failure>;

fn errno_name(e: Errno) -> &'static str {
    match e {
        Errno::PERM => "EPERM",
        Errno::NOENT => "ENOENT",
        Errno::SRCH => "ESRCH",
        Errno::BADF => "EBADF",
        Errno::ACCESS => "EACCES",
        Errno::BUSY => "EBUSY",
        Errno::NODEV => "ENODEV",
        Errno::NOTDIR => "ENOTDIR",
        Errno::INVAL => "EINVAL",
        Errno::TOOBIG => "E2BIG",
        Errno::LOOP => "ELOOP",
        Errno::XDEV => "EXDEV",
        Errno::OPNOTSUPP => "EOPNOTSUPP",
        Errno::NOSYS => "ENOSYS",
        Errno::EXIST => "EEXIST",
        Errno::IO => "EIO",
        Errno::CHILD => "ECHILD",
        Errno::PIPE => "EPIPE",
        _ => "error",
    }
}

/// Appends what the fs_context log of `fd` holds to `out`, oldest message
/// first, one line each, as bytes (the kernel's text need not be UTF-8),
/// until the log is empty, or `LOG_READ_MAX` messages.  Every message read
/// is gone from the log.
fn drain_log(fd: BorrowedFd<'_>, out: &mut Vec<u8>) -> Result<(), Errno> {
    let mut buf = [0u8; 4096];
    for _ in 0..LOG_READ_MAX {
        match rustix::io::read(fd, &mut buf) {
            Ok(0) | Err(Errno::NODATA) => return Ok(()),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
            // A message longer than the buffer is consumed and lost.
            Err(Errno::MSGSIZE) | Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes from the kernel or from a container as text that cannot play
/// with a terminal: printable ASCII as it is, a backslash doubled, any
/// other byte as `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b' '..=b'~' => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// The fs_context log's messages after a refusal, if any.
fn fc_log(fd: Option<BorrowedFd<'_>>) -> String {
    let Some(fd) = fd else { return String::new() };
    let mut log = Vec::new();
    let _ = drain_log(fd, &mut log);
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| format!(" [kernel: {}]", escape(l.trim_ascii_end())))
        .collect()
}

fn refused(what: &str, e: Errno, fc: Option<BorrowedFd<'_>>) -> Failure {
    let hint = match (e, what) {
        (Errno::PERM, w)
            if w.contains("delegate") || w.contains("abilities") || w.contains("target_userns") =>
        {
            ": needs CAP_SYS_ADMIN in the initial user namespace"
        }
        _ => "",
    };
    Failure {
        code: exit::REFUSED,
        msg: format!("{}: {what}{hint}: {e}{}", errno_name(e), fc_log(fc)),
    }
}

fn usage(msg: String) -> Failure {
    Failure {
        code: exit::USAGE,
        msg,
    }
}

fn mismatch(msg: String) -> Failure {
    Failure {
        code: exit::MISMATCH,
        msg,
    }
}

fn nothing_to_do(msg: String) -> Failure {
    Failure {
        code: exit::REFUSED,
        msg,
    }
}

fn nothing_changed(msg: String) -> Failure {
    nothing_to_do(format!("{msg}; nothing changed"))
}

/// Parses one list of names with the kernel's own rules.
fn parse_field(field: Field, list: &str) -> Res<u64> {
    if list.is_empty() {
        return Ok(0);
    }
    let joined = list.replace(',', ":");
    text::parse_list(field, joined.as_bytes()).map_err(|e| {
        let valid: Vec<String> = field
            .names()
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        usage(format!(
            "--{}: {e}; valid names: any, {}",
            field.name(),
            valid.join(", ")
        ))
    })
}

impl MaskArgs {
    /// The masks, checked against the kernel's binary rules before the
    /// kernel sees them.
    fn masks(&self) -> Res<Masks> {
        let masks = Masks {
            cmds: parse_field(Field::Cmds, &self.cmds)?,
            maps: parse_field(Field::Maps, &self.maps)?,
            progs: parse_field(Field::Progs, &self.progs)?,
            attachs: parse_field(Field::Attachs, &self.attachs)?,
        };
        let ask = Ask { masks, scope: None };
        policy::parse_blob(&blob(&ask))
            .map(|o| o.masks)
            .map_err(|e| usage(e.to_string()))
    }

    /// What to delegate: the masks and what `--cgroup` asks of the scope
    /// (its directory, if any, kept open).
    fn abilities(&self) -> Res<(Ask, Option<Cgroup>)> {
        let masks = self.masks()?;
        let cgroup = match self.cgroup.as_deref() {
            None => return Ok((Ask { masks, scope: None }, None)),
            Some(NO_SCOPE) => None,
            Some(path) => Some(Cgroup::open(path)?),
        };
        let scope = Some(cgroup.as_ref().map_or(0, |c| c.id));
        Ok((Ask { masks, scope }, cgroup))
    }
}

/// `--cgroup none`: no scope.
const NO_SCOPE: &str = "none";

/// One change of what an instance delegates: the four masks, and the
/// cgroup scope when it is named (0: none).  `scope: None` sends the VER0
/// struct, which the kernel takes as replacing the masks and leaving the
/// scope as it is, so that narrowing never unscopes an instance by the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ask {
    masks: Masks,
    scope: Option<u64>,
}

impl Ask {
    /// Revokes everything: no mask has a bit.  The scope stays, which is
    /// harmless (nothing is delegated to attach anywhere) and works on a
    /// kernel that knows only VER0.
    const REVOKE: Ask = Ask {
        masks: Masks {
            cmds: 0,
            maps: 0,
            progs: 0,
            attachs: 0,
        },
        scope: None,
    };

    /// What an instance whose scope was `before` delegates after this.
    fn after(&self, before: u64) -> Opts {
        Opts {
            masks: self.masks,
            cgroup_id: self.scope.unwrap_or(before),
        }
    }
}

/// Program types that attach to cgroups, with the attach types they attach
/// there with (upstream's attach_type_to_prog_type()).
const CGROUP_PROGS: &[(&str, &[&str])] = &[
    ("cgroup_skb", &["cgroup_inet_ingress", "cgroup_inet_egress"]),
    (
        "cgroup_sock",
        &[
            "cgroup_inet_sock_create",
            "cgroup_inet_sock_release",
            "cgroup_inet4_post_bind",
            "cgroup_inet6_post_bind",
        ],
    ),
    ("sock_ops", &["cgroup_sock_ops"]),
    ("cgroup_device", &["cgroup_device"]),
    (
        "cgroup_sock_addr",
        &[
            "cgroup_inet4_bind",
            "cgroup_inet6_bind",
            "cgroup_inet4_connect",
            "cgroup_inet6_connect",
            "cgroup_udp4_sendmsg",
            "cgroup_udp6_sendmsg",
            "cgroup_udp4_recvmsg",
            "cgroup_udp6_recvmsg",
            "cgroup_inet4_getpeername",
            "cgroup_inet6_getpeername",
            "cgroup_inet4_getsockname",
            "cgroup_inet6_getsockname",
            "cgroup_unix_connect",
            "cgroup_unix_sendmsg",
            "cgroup_unix_recvmsg",
            "cgroup_unix_getpeername",
            "cgroup_unix_getsockname",
        ],
    ),
    ("cgroup_sysctl", &["cgroup_sysctl"]),
    (
        "cgroup_sockopt",
        &["cgroup_getsockopt", "cgroup_setsockopt"],
    ),
    ("lsm", &["lsm_cgroup"]),
];

/// The program types of `m` that attach to cgroups, each with an attach type
/// it attaches there with in `m` too (a socket filter, or attach type 0
/// alone, is not one).
fn cgroup_programs(m: &Masks) -> Vec<&'static str> {
    let has = |field: Field, name: &str| {
        text::lookup(field, name.as_bytes())
            .and_then(|v| 1u64.checked_shl(v))
            .is_some_and(|bit| m.get(field) & bit != 0)
    };
    CGROUP_PROGS
        .iter()
        .filter(|(prog, attachs)| {
            has(Field::Progs, prog) && attachs.iter().any(|a| has(Field::Attachs, a))
        })
        .map(|&(prog, _)| {
            if prog == "lsm" {
                LSM_CGROUP_PROGS
            } else {
                prog
            }
        })
        .collect()
}

/// What to say when `m` is delegated with cgroup scope `scope` (0: none),
/// if anything: without one, which cgroup programs attach anywhere; with
/// one, that lsm_cgroup programs do not attach at all.
fn scope_warning(m: &Masks, scope: u64) -> Option<String> {
    if scope == 0 {
        unscoped_warning(m)
    } else {
        lsm_cgroup_warning(m)
    }
}

/// Says `scope_warning()` on stderr, once per text.
fn warn_scopes(warnings: impl IntoIterator<Item = Option<String>>) {
    let mut said = Vec::new();
    for w in warnings.into_iter().flatten() {
        if !said.contains(&w) {
            say_error(&format!("bpf-delegate: {w}"));
            said.push(w);
        }
    }
}

/// What to say when `m` is delegated with a cgroup scope, if anything.
fn lsm_cgroup_warning(m: &Masks) -> Option<String> {
    if !cgroup_programs(m).contains(&LSM_CGROUP_PROGS) {
        return None;
    }
    Some(
        "warning: delegating lsm programs with attach type lsm_cgroup to an instance \
         with a cgroup scope: scoped instances refuse BPF_LSM_CGROUP attaches (its \
         hooks run for the cgroup of whatever task is current, which no scope \
         contains)"
            .into(),
    )
}

/// What `cgroup_programs()` calls lsm programs of attach type lsm_cgroup.
const LSM_CGROUP_PROGS: &str = "lsm (lsm_cgroup)";

/// What to say when `m` is delegated without a cgroup scope, if anything.
fn unscoped_warning(m: &Masks) -> Option<String> {
    let progs = cgroup_programs(m);
    if progs.is_empty() {
        return None;
    }
    Some(format!(
        "warning: delegating {} without a cgroup scope lets the container attach \
         them to any cgroup it can open, including the host's root; use --cgroup \
         PATH (the container's own cgroup)",
        progs.join(", ")
    ))
}

/// A cgroup2 directory named by `--cgroup`, held open from the moment its id
/// is taken, and that id.
struct Cgroup {
    path: String,
    dir: OwnedFd,
    id: u64,
}

/// `FILEID_KERNFS`: a kernfs file handle, whose 8 bytes are the node's id,
/// which for a cgroup2 directory is its cgroup id.
const FILEID_KERNFS: libc::c_int = 0xfe;

/// The id of the root of the cgroup2 hierarchy (`cgrp_dfl_root`).
const CGROUP_ROOT_ID: u64 = 1;

impl Cgroup {
    /// Opens `path` (on the host: in the tool's own mount namespace)
    /// without following a symlink, and refuses anything but a cgroup2
    /// directory below the root of the hierarchy.
    fn open(path: &str) -> Res<Cgroup> {
        let not_cgroup2 = |why: &str| {
            usage(format!(
                "--cgroup {path}: not a cgroup2 directory ({why}); give the container's \
                 cgroup below the cgroup2 mount, such as /sys/fs/cgroup/..."
            ))
        };
        let dir = open_dir_nofollow(path).map_err(|e| match e {
            Errno::NOTDIR => not_cgroup2("not a directory"),
            Errno::LOOP => usage(format!(
                "--cgroup {path}: ELOOP: a symlink on the way, and symlinks are not \
                 followed; give the cgroup's own path"
            )),
            e => usage(format!("--cgroup {path}: {}: {e}", errno_name(e))),
        })?;
        let st = fstatfs(&dir).map_err(|e| refused(&format!("--cgroup {path}"), e, None))?;
        #[allow(clippy::unnecessary_cast)]
        match st.f_type as u64 {
            CGROUP2_SUPER_MAGIC => {}
            CGROUP_SUPER_MAGIC => return Err(not_cgroup2("a cgroup v1 hierarchy")),
            other => {
                return Err(not_cgroup2(&format!(
                    "on a filesystem of type {other:#x}, not cgroup2"
                )))
            }
        }
        let id = cgroup_id(&dir).map_err(|e| refused(&format!("--cgroup {path}"), e, None))?;
        if id == CGROUP_ROOT_ID || is_hierarchy_root(&dir) {
            return Err(usage(format!(
                "--cgroup {path}: the root of the cgroup2 hierarchy (id {id}): every \
                 cgroup is below it, so scoping to it is no scope; give the container's \
                 own cgroup, or --cgroup none"
            )));
        }
        Ok(Cgroup {
            path: path.into(),
            dir,
            id,
        })
    }

    /// Moves process `pid` into this cgroup.
    fn enter(&self, pid: i32) -> Res<()> {
        let what = |e: Errno| {
            let hint = match e {
                Errno::BUSY => {
                    " (cgroup v2 takes processes only in a cgroup that enables no \
                     controller for children: give a leaf)"
                }
                Errno::OPNOTSUPP => " (a threaded cgroup takes threads, not processes)",
                _ => "",
            };
            Failure {
                code: exit::REFUSED,
                msg: format!(
                    "--cgroup {}: moving the container (pid {pid}) into it: {}: {e}{hint}",
                    self.path,
                    errno_name(e)
                ),
            }
        };
        let procs = openat(
            &self.dir,
            "cgroup.procs",
            OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(what)?;
        rustix::io::write(&procs, format!("{pid}\n").as_bytes())
            .map(|_| ())
            .map_err(what)
    }
}

/// Opens the directory `path` as `O_PATH`, never following a symlink or a
/// magic link on the way (`ELOOP` if there is one): `openat2()` with
/// `RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, or, on a kernel without
/// it, one component at a time.
fn open_dir_nofollow(path: &str) -> Result<OwnedFd, Errno> {
    match openat2(
        CWD,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Err(Errno::NOSYS) => open_dir_by_components(path),
        r => r,
    }
}

/// `open_dir_nofollow()` without `openat2()`: each component opened with
/// `O_NOFOLLOW` from the one before, so a symlink anywhere is never
/// followed (`ELOOP`).
fn open_dir_by_components(path: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    let start = if path.starts_with('/') { "/" } else { "." };
    let mut dir = open(start, flags, Mode::empty())?;
    for name in path.split('/').filter(|c| !c.is_empty()) {
        dir = match openat(&dir, name, flags | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(next) => next,
            // O_PATH | O_NOFOLLOW opens a symlink itself, which is no
            // directory.
            Err(Errno::NOTDIR)
                if statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink) =>
            {
                return Err(Errno::LOOP)
            }
            Err(e) => return Err(e),
        };
    }
    Ok(dir)
}

/// Whether `dir` is the root of a mount of the whole cgroup2 hierarchy
/// (one whose mountinfo root is "/"), as the tool's mount namespace has it.
fn is_hierarchy_root(dir: &OwnedFd) -> bool {
    let Ok(st) = statx(dir, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID) else {
        return false;
    };
    let root = StatxAttributes::MOUNT_ROOT;
    if !st.stx_attributes_mask.contains(root) || !st.stx_attributes.contains(root) {
        return false;
    }
    let info = fs::read("/proc/self/mountinfo").unwrap_or_default();
    find_mount(&info, st.stx_mnt_id).is_some_and(|l| l.fstype == b"cgroup2" && l.root == b"/")
}

/// The cgroup id of the cgroup2 directory `dir`: its kernfs file handle,
/// or where there is none its inode number (the same on 64-bit kernels).
fn cgroup_id(dir: &OwnedFd) -> Result<u64, Errno> {
    #[repr(C)]
    struct Handle {
        bytes: libc::c_uint,
        kind: libc::c_int,
        id: [u8; 8],
    }
    let mut h = Handle {
        bytes: 8,
        kind: 0,
        id: [0; 8],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: name_to_handle_at(2) on an open fd writes a struct file_handle
    // of at most `bytes` (8) bytes of handle into `h`, and `mount_id`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            dir.as_raw_fd(),
            c"".as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH,
        )
    };
    if r == 0 && h.bytes == 8 && h.kind == FILEID_KERNFS {
        return Ok(u64::from_ne_bytes(h.id));
    }
    #[allow(clippy::unnecessary_cast)]
    fstat(dir).map(|st| st.st_ino as u64)
}

/// `struct bpf_delegation_opts`: VER1 (the masks and `cgroup_id`) when the
/// scope is named, else VER0 (the masks alone), which leaves the scope as
/// it is.  A kernel that knows only VER0 takes VER1 with no scope too.
fn blob(a: &Ask) -> Vec<u8> {
    let mut b = Vec::with_capacity(policy::OPTS_SIZE_VER1);
    for f in Field::ALL {
        b.extend_from_slice(&a.masks.get(f).to_ne_bytes());
    }
    if let Some(id) = a.scope {
        b.extend_from_slice(&id.to_ne_bytes());
    }
    b
}

/// Sets `abilities` on the context `fc`.
fn set_abilities(fc: &OwnedFd, a: &Ask) -> Res<()> {
    fsconfig_set_binary(fc, "abilities", &blob(a)).map_err(|e| {
        let mut f = refused("abilities", e, Some(fc.as_fd()));
        match (e, a.scope) {
            (Errno::TOOBIG, Some(id)) if id != 0 => f.msg.push_str(
                " (this kernel does not know the cgroup scope, struct \
                 bpf_delegation_opts VER1: delegate there without --cgroup)",
            ),
            (Errno::NOENT, Some(id)) if id != 0 => f.msg.push_str(&format!(
                " (cgroup id {id} is gone: was the cgroup removed?)"
            )),
            _ => {}
        }
        f
    })
}

/// What mountinfo shows for this delegation.
fn shown(o: &Opts) -> String {
    let mut s = String::new();
    let _ = text::show(
        &mut s,
        &State {
            delegated: false,
            dead: false,
            masks: o.masks,
            scope: o.cgroup_id,
        },
    );
    s
}

fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>) -> Res<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(sock, &[IoSlice::new(b"F")], &mut cmsg, SendFlags::empty())
        .map(|_| ())
        .map_err(|e| refused("sending the context", e, None))
}

fn recv_fd(sock: &UnixStream) -> Res<OwnedFd> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8];
    recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut byte)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| refused("receiving the context", e, None))?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(refused("receiving the context", Errno::BADMSG, None))
}

fn send_byte(sock: &UnixStream, b: u8) -> Res<()> {
    rustix::io::write(sock, &[b])
        .map(|_| ())
        .map_err(|e| refused("talking to the container", e, None))
}

fn recv_byte(sock: &UnixStream) -> Res<u8> {
    let mut b = [0u8];
    match rustix::io::read(sock, &mut b) {
        Ok(1) => Ok(b[0]),
        Ok(_) => Err(refused("talking to the container", Errno::PIPE, None)),
        Err(e) => Err(refused("talking to the container", e, None)),
    }
}

/// The container's side of `run`: never returns on success (it execs).
fn container(
    sock: UnixStream,
    mount: &str,
    command: &[OsString],
    user: Option<(u32, u32)>,
    pty: Option<session::Pty>,
) -> Res<()> {
    session::new_session()?;
    // None of the invoker's supplementary groups: once the user namespace
    // denies setgroups(2), the container could not drop them itself.
    drop_groups()?;
    if let Some((uid, gid)) = user {
        // Become the unprivileged user who owns the container.
        // SAFETY: as above.
        let dropped =
            unsafe { libc::setresgid(gid, gid, gid) == 0 && libc::setresuid(uid, uid, uid) == 0 };
        if !dropped {
            return Err(usage(format!(
                "becoming {uid}:{gid}: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    // SAFETY: this process is single-threaded (just forked), so changing its
    // namespaces affects nothing else.
    unsafe { unshare_unsafe(UnshareFlags::NEWUSER) }
        .map_err(|e| refused("unshare(CLONE_NEWUSER)", e, None))?;
    send_byte(&sock, 0)?;
    if recv_byte(&sock)? != 0 {
        return Err(usage("the delegating side gave up".into()));
    }
    // fsopen() needs CAP_SYS_ADMIN over our own mount namespace.
    // SAFETY: as above.
    unsafe { unshare_unsafe(UnshareFlags::NEWNS) }
        .map_err(|e| refused("unshare(CLONE_NEWNS)", e, None))?;
    let mnt = make_instance(&sock)?;
    fs::create_dir_all(mount).map_err(|e| usage(format!("{mount}: {e}")))?;
    move_mount(
        &mnt,
        "",
        CWD,
        mount,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| refused(&format!("mounting at {mount}"), e, None))?;
    send_byte(&sock, 0)?;
    drop(sock);
    let err = session::exec(command, pty.map(session::Pty::into_command_side));
    Err(usage(format!("{}: {err}", command[0].to_string_lossy())))
}

/// The container's side of the exchange with [`consent`]: opens a bpffs
/// context (in the caller's user and mount namespaces), hands it over, and
/// once consent is given creates the instance and hands its mount over;
/// returns the mount, not attached anywhere yet, once the delegating side
/// has taken it.
fn make_instance(sock: &UnixStream) -> Res<OwnedFd> {
    let fs = fsopen("bpf", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| refused("fsopen(\"bpf\")", e, None))?;
    send_fd(sock, fs.as_fd())?;
    if recv_byte(sock)? != 0 {
        return Err(usage("the delegating side refused".into()));
    }
    fsconfig_create(&fs).map_err(|e| refused("creating the bpffs", e, Some(fs.as_fd())))?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| refused("fsmount", e, Some(fs.as_fd())))?;
    // The delegating side keeps a handle on this very instance before anyone
    // can reach it through a path.
    send_fd(sock, mnt.as_fd())?;
    if recv_byte(sock)? != 0 {
        return Err(usage("the delegating side refused the instance".into()));
    }
    Ok(mnt)
}

/// Drops every supplementary group of this (single-threaded, forked)
/// process; fine if it had none to drop.
fn drop_groups() -> Res<()> {
    // SAFETY: plain system calls on this single-threaded process.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0
        && unsafe { libc::getgroups(0, std::ptr::null_mut()) } != 0
    {
        return Err(usage(format!(
            "dropping the supplementary groups: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

fn write_map(pid: i32, file: &str, text: &str) -> Res<()> {
    fs::write(format!("/proc/{pid}/{file}"), text)
        .map_err(|e| usage(format!("/proc/{pid}/{file}: {e}")))
}

/// What `run` was asked.
struct RunArgs<'a> {
    masks: &'a MaskArgs,
    mount: &'a str,
    command: &'a [OsString],
    user: Option<(u32, u32)>,
    allow_host_root: bool,
    pid_file: Option<&'a str>,
}

/// `--pid-file`: made by the tool (root) before the container exists, so
/// that no pid the container wrote is ever taken for its own, and written
/// once its bpffs is mounted.  Removed if it never gets a pid.
struct PidFile {
    path: String,
    file: Option<fs::File>,
}

impl PidFile {
    fn create(path: &str) -> Res<PidFile> {
        let fd = open(
            path,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| {
            usage(format!(
                "--pid-file {path}: {}: {e} (it is made anew, never followed \
                 if a symlink)",
                errno_name(e)
            ))
        })?;
        Ok(PidFile {
            path: path.into(),
            file: Some(fd.into()),
        })
    }

    fn write(&mut self, pid: i32) -> Res<()> {
        if let Some(mut f) = self.file.take() {
            f.write_all(format!("{pid}\n").as_bytes())
                .map_err(|e| usage(format!("--pid-file {}: {e}", self.path)))?;
        }
        Ok(())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Refuses ids that make the container's root the host's root, unless asked.
fn check_ids(uid: u32, gid: u32, user_given: bool, allow_host_root: bool) -> Res<()> {
    if (uid != 0 && gid != 0) || allow_host_root {
        return Ok(());
    }
    let how = if user_given {
        format!("--user {uid}:{gid}")
    } else {
        format!("without --user (the invoking user is {uid}:{gid})")
    };
    Err(usage(format!(
        "{how} would map the host's {} 0 into the container, whose root would \
         then own every file of the host's root: give --user UID[:GID] of an \
         unprivileged user, or --allow-host-root if that is meant",
        if uid == 0 { "uid" } else { "gid" }
    )))
}

fn run(a: &RunArgs<'_>) -> Res<u8> {
    let (ask, cgroup) = a.masks.abilities()?;
    // A new instance: without --cgroup it has no scope.
    warn_scopes([scope_warning(&ask.masks, ask.scope.unwrap_or(0))]);
    let (uid, gid) = a.user.unwrap_or((
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    ));
    check_ids(uid, gid, a.user.is_some(), a.allow_host_root)?;
    let mut pid_file = a.pid_file.map(PidFile::create).transpose()?;
    let pty = session::Pty::for_operator()?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| usage(format!("socketpair: {e}")))?;
    // SAFETY: the child only makes system calls and execs or exits; it never
    // returns into code that assumes other threads (this program has none).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(usage(format!("fork: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        drop(ours);
        let f = container(theirs, a.mount, a.command, a.user, pty).err();
        if let Some(f) = f {
            say_error(&format!("bpf-delegate (container): {}", f.msg));
            std::process::exit(i32::from(f.code) + 124);
        }
        std::process::exit(127);
    }
    drop(theirs);
    // The child cannot be reaped behind our back: its pid is its own until
    // we wait for it.
    let pidfd = Pid::from_raw(pid)
        .ok_or(Errno::SRCH)
        .and_then(|p| pidfd_open(p, PidfdFlags::empty()))
        .map_err(|e| refused("pidfd_open(the container)", e, None));
    let result = pidfd.and_then(|fd| {
        let instance = delegate(&ours, pid, uid, gid, &ask, cgroup.as_ref())?;
        Ok((fd, instance))
    });
    let (pidfd, instance) = match result {
        Ok(r) => r,
        Err(f) => {
            let _ = send_byte(&ours, 1);
            drop(ours);
            session::abandon(pid, None);
            return Err(f);
        }
    };
    // The container has mounted its bpffs and goes on to exec.
    let started = recv_byte(&ours).and_then(|_| {
        drop(ours);
        pid_file.as_mut().map_or(Ok(()), |p| p.write(pid))
    });
    let status = started.and_then(|()| session::supervise(pid, &pidfd, pty.as_ref()));
    if status.is_err() {
        session::abandon(pid, Some(&pidfd));
    }
    let revoked = instance.revoke();
    let status = status?;
    revoked?;
    Ok(session::exit_code(status))
}

/// A reconfigure context of exactly the instance the command's container
/// created, from the mount fd it handed over before attaching it.
struct Instance {
    pick: OwnedFd,
}

impl Instance {
    /// Checks that `mnt` is the root of a bpffs of the user namespace
    /// `userns` (the kernel refuses `delegate_userns` on a superblock of any
    /// other) and keeps a reconfigure context of it.
    fn take(mnt: &OwnedFd, userns: BorrowedFd<'_>) -> Res<Instance> {
        let st = fstatfs(mnt).map_err(|e| refused("the container's mount", e, None))?;
        #[allow(clippy::unnecessary_cast)]
        if st.f_type as u64 != BPF_FS_MAGIC {
            return Err(nothing_to_do(
                "the mount the container handed over is not a bpffs".into(),
            ));
        }
        let pick = fspick(
            mnt,
            "",
            FsPickFlags::FSPICK_EMPTY_PATH
                | FsPickFlags::FSPICK_SYMLINK_NOFOLLOW
                | FsPickFlags::FSPICK_CLOEXEC,
        )
        .map_err(|e| refused("the container's mount is not a mount root", e, None))?;
        fsconfig_set_fd(&pick, "delegate_userns", userns).map_err(|e| {
            refused(
                "the container's mount is not a bpffs of its user namespace",
                e,
                Some(pick.as_fd()),
            )
        })?;
        Ok(Instance { pick })
    }

    /// Revokes everything the instance delegates, wherever it is mounted
    /// by now and whoever holds a token or fd of it.
    fn revoke(&self) -> Res<()> {
        let why = |f: Failure| Failure {
            code: exit::REFUSED,
            msg: format!(
                "revoking the container's bpffs after the command exited: {}; \
                 what it left behind may still use the delegation",
                f.msg
            ),
        };
        set_abilities(&self.pick, &Ask::REVOKE).map_err(why)?;
        fsconfig_reconfigure(&self.pick)
            .map_err(|e| why(refused("reconfigure", e, Some(self.pick.as_fd()))))
    }
}

/// The privileged side of `run`: move the container into its cgroup (before
/// it can exec anything), map its ids, take its context, consent for its
/// user namespace only, and give it back; then take the instance's mount
/// before it is attached and keep a handle on it.
fn delegate(
    sock: &UnixStream,
    pid: i32,
    uid: u32,
    gid: u32,
    ask: &Ask,
    cgroup: Option<&Cgroup>,
) -> Res<Instance> {
    recv_byte(sock)?;
    if let Some(c) = cgroup {
        c.enter(pid)?;
    }
    write_map(pid, "setgroups", "deny")?;
    write_map(pid, "uid_map", &format!("0 {uid} 1"))?;
    write_map(pid, "gid_map", &format!("0 {gid} 1"))?;
    send_byte(sock, 0)?;
    let userns = fs::File::open(format!("/proc/{pid}/ns/user"))
        .map_err(|e| usage(format!("user namespace: {e}")))?;
    consent(sock, userns.as_fd(), ask)
}

/// The delegating side of the exchange with a container's side
/// ([`make_instance`]): consent on the context it sends for `userns` only,
/// then take the mount of the instance it made before it is attached.
fn consent(sock: &UnixStream, userns: BorrowedFd<'_>, ask: &Ask) -> Res<Instance> {
    let fs = recv_fd(sock)?;
    // Nothing that grants is written before two checks passed.
    // `delegate_userns` records nothing and fails unless the context is of
    // that user namespace, so `delegate` is never set on a context of a
    // namespace nobody checked (a flag that cannot be taken back).
    fsconfig_set_fd(&fs, "delegate_userns", userns)
        .map_err(|e| refused("delegate_userns", e, Some(fs.as_fd())))?;
    // `delegate` next: the kernel refuses it on anything but a new bpffs
    // request, so a container cannot send a reconfigure context of its own
    // live instance to have consent recorded on it.
    fsconfig_set_flag(&fs, "delegate").map_err(|e| not_a_request(e, fs.as_fd()))?;
    set_abilities(&fs, ask)?;
    send_byte(sock, 0)?;
    let mnt = recv_fd(sock)?;
    let instance = Instance::take(&mnt, userns)?;
    send_byte(sock, 0)?;
    Ok(instance)
}

/// `delegate` refused on the context the container sent: with EINVAL it is
/// no new bpffs request (a reconfigure context, another filesystem's, not a
/// context at all), and nothing more is set on it.
fn not_a_request(e: Errno, fs: BorrowedFd<'_>) -> Failure {
    if e != Errno::INVAL {
        return refused("delegate", e, Some(fs));
    }
    not_a_request_msg(&fc_log(Some(fs)))
}

fn not_a_request_msg(log: &str) -> Failure {
    let sep = if log.is_empty() { "" } else { ":" };
    Failure {
        code: exit::REFUSED,
        msg: format!(
            "the context the container sent is not a new bpffs request \
             (delegate: EINVAL{sep}{log}); refusing to fill it in"
        ),
    }
}

/// A process named by `--pid`, held by a pidfd from the start of the command
/// to its end.  What the tool opens by its pid under /proc is that
/// process's only if the process has not exited once it is open (until then
/// its pid cannot name another), so every such open is followed by a look
/// at the pidfd.
struct Process {
    pid: u32,
    pidfd: OwnedFd,
}

impl Process {
    fn open(pid: u32) -> Res<Process> {
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| usage(format!("--pid {pid}: not a process id")))?;
        let pidfd = pidfd_open(raw, PidfdFlags::empty())
            .map_err(|e| refused(&format!("pidfd_open({pid})"), e, None))?;
        Ok(Process { pid, pidfd })
    }

    /// Fails if the process has exited since its pidfd was opened: what was
    /// opened by its pid (`what`) may then be another process's.
    fn alive(&self, what: &str) -> Res<()> {
        if exited(&self.pidfd)? {
            return Err(nothing_to_do(format!(
                "process {} exited while {what} was being opened (its pid may \
                 name another process now)",
                self.pid
            )));
        }
        Ok(())
    }

    /// Its user namespace, which must not be the tool's own (the initial
    /// one): `--pid` names a container's process, and the host's instances
    /// are never reached through one.
    fn container_userns(&self) -> Res<Userns> {
        let fd = open_ns_file(&format!("/proc/{}/ns/user", self.pid))?;
        self.alive("its user namespace")
            .map_err(|f| nothing_changed(f.msg))?;
        userns_not_ours(fd, format!("pid {}", self.pid))
    }

    /// Its root directory.
    fn root(&self) -> Res<OwnedFd> {
        let file = format!("/proc/{}/root", self.pid);
        let fd = openat2(
            CWD,
            &file,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::empty(),
        )
        .map_err(|e| refused(&file, e, None))?;
        self.alive("its root").map_err(|f| nothing_changed(f.msg))?;
        Ok(fd)
    }

    /// Its mountinfo.
    fn mountinfo(&self) -> Res<Vec<u8>> {
        let file = format!("/proc/{}/mountinfo", self.pid);
        let info = fs::read(&file).map_err(|e| usage(format!("{file}: {e}")))?;
        self.alive("its mountinfo")?;
        Ok(info)
    }
}

/// A bpffs mount root opened safely, and the container's process and user
/// namespace it was looked up for (`--pid`).
struct Mounted {
    fd: OwnedFd,
    process: Option<(Process, Userns)>,
}

/// Opens a bpffs mount root safely: with `pid`, only for a container's
/// process (not one of the initial user namespace), inside its root, never
/// following symlinks or magic links there, while holding it by its pidfd;
/// and checks that it is a bpffs.
fn open_target(path: &str, pid: Option<u32>) -> Res<Mounted> {
    let process = match pid {
        Some(pid) => {
            let p = Process::open(pid)?;
            let ns = p.container_userns()?;
            Some((p, ns))
        }
        None => None,
    };
    let root = match &process {
        Some((p, _)) => Some(p.root()?),
        None => None,
    };
    let (dir, resolve) = match &root {
        Some(r) => (r.as_fd(), ResolveFlags::IN_ROOT),
        None => (CWD, ResolveFlags::empty()),
    };
    let fd = openat2(
        dir,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| refused(&format!("{path} (symlinks are not followed)"), e, None))?;
    if let Some((p, _)) = &process {
        p.alive(path).map_err(|f| nothing_changed(f.msg))?;
    }
    let st = fstatfs(&fd).map_err(|e| refused(path, e, None))?;
    #[allow(clippy::unnecessary_cast)]
    if st.f_type as u64 != BPF_FS_MAGIC {
        return Err(usage(format!("{path}: not a bpffs")));
    }
    Ok(Mounted { fd, process })
}

/// A reconfigure context of the instance mounted at `path`; with `--pid`,
/// only if it is an instance of the container's user namespace: the kernel
/// refuses `delegate_userns` on a superblock of any other (the host's bpffs
/// left where the container moved its own away, a sibling's), before
/// anything is changed.
fn pick(path: &str, m: &Mounted) -> Res<OwnedFd> {
    let pick = fspick(
        &m.fd,
        "",
        FsPickFlags::FSPICK_EMPTY_PATH
            | FsPickFlags::FSPICK_SYMLINK_NOFOLLOW
            | FsPickFlags::FSPICK_CLOEXEC,
    )
    .map_err(|e| refused(&format!("{path} is not a mount root"), e, None))?;
    if let Some((p, ns)) = &m.process {
        fsconfig_set_fd(&pick, "delegate_userns", ns.fd.as_fd()).map_err(|e| {
            let what = format!(
                "{path} is not a bpffs of process {}'s user namespace; nothing changed",
                p.pid
            );
            refused(&what, e, Some(pick.as_fd()))
        })?;
    }
    Ok(pick)
}

/// The bpffs options of the mount `m`, from the mountinfo of the mount
/// namespace it was looked up in.
fn mount_options(m: &Mounted) -> Res<String> {
    let st = statx(&m.fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map_err(|e| refused("statx", e, None))?;
    let (file, info) = match &m.process {
        Some((p, _)) => (format!("/proc/{}/mountinfo", p.pid), p.mountinfo()?),
        None => {
            let file = "/proc/self/mountinfo".to_string();
            let info = fs::read(&file).map_err(|e| usage(format!("{file}: {e}")))?;
            (file, info)
        }
    };
    match find_mount(&info, st.stx_mnt_id) {
        Some(line) if line.fstype == b"bpf" => Ok(escape(&line.super_options)),
        Some(line) => Err(usage(format!(
            "mount {} is of type '{}' in {file}, not a bpffs",
            st.stx_mnt_id,
            escape(&line.fstype)
        ))),
        None => Err(usage(format!(
            "mount {} not found in {file}",
            st.stx_mnt_id
        ))),
    }
}

/// What the tool takes from a mountinfo line, unescaped.
#[derive(Debug, PartialEq, Eq)]
struct MountLine {
    id: u64,
    /// The directory of the filesystem that is mounted.
    root: Vec<u8>,
    mount_point: Vec<u8>,
    fstype: Vec<u8>,
    super_options: Vec<u8>,
}

/// Undoes the kernel's escapes in a mountinfo field: a backslash and three
/// octal digits (`\040` for a space, `\011`, `\012`, `\134`) is that byte.
/// Anything else, bytes that are not UTF-8 included, is kept as it is.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if let [b'\\', a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ..] = field[i..] {
            out.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// One line of mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS
/// [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS".  Fields are separated by
/// single spaces; the kernel escapes spaces within them, so a container
/// cannot forge a field with the name of a mount point.
fn parse_mount_line(line: &[u8]) -> Option<MountLine> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let id = std::str::from_utf8(fields.first()?).ok()?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sep = 6 + fields.get(6..)?.iter().position(|f| *f == b"-")?;
    Some(MountLine {
        id: id.parse().ok()?,
        root: unescape(fields.get(3)?),
        mount_point: unescape(fields.get(4)?),
        fstype: unescape(fields.get(sep + 1)?),
        super_options: unescape(fields.get(sep + 3)?),
    })
}

/// The line of mount `id` in a mountinfo file's bytes.
fn find_mount(info: &[u8], id: u64) -> Option<MountLine> {
    info.split(|&b| b == b'\n')
        .filter_map(parse_mount_line)
        .find(|l| l.id == id)
}

/// The delegation options of a super options string.
fn delegation_part(opts: &str) -> String {
    opts.split(',')
        .filter(|o| o.starts_with("delegate_"))
        .map(|o| format!(",{o}"))
        .collect()
}

fn set(t: &Target, ask: &Ask, cgroup: Option<&Cgroup>) -> Res<u8> {
    // A scope named: what it means for the masks is known now.
    if let Some(scope) = ask.scope {
        warn_scopes([scope_warning(&ask.masks, scope)]);
    }
    match &t.path {
        Some(path) => set_mount(path, t.pid, ask),
        None => set_userns(&open_userns(t)?, ask, cgroup),
    }
}

fn show(t: &Target, json: bool) -> Res<u8> {
    match &t.path {
        Some(path) => show_mount(path, t.pid, json),
        None => show_userns(&open_userns(t)?, json),
    }
}

/// Replaces what the bpffs mounted at `path` delegates: the masks, and the
/// scope if `ask` names it (else the instance keeps the one it has).
fn set_mount(path: &str, pid: Option<u32>, ask: &Ask) -> Res<u8> {
    let m = open_target(path, pid)?;
    let pick = pick(path, &m)?;
    // The scope it has, which a change that does not name one keeps.
    let before = match ask.scope {
        Some(_) => 0,
        None => {
            let options = mount_options(&m).map_err(|f| nothing_changed(f.msg))?;
            mount_scope(&options).map_err(|e| nothing_changed(format!("{path}: {e}")))?
        }
    };
    let want = ask.after(before);
    set_abilities(&pick, ask)?;
    fsconfig_reconfigure(&pick).map_err(|e| refused("reconfigure", e, Some(pick.as_fd())))?;
    // An old kernel ignores unknown keys: read the instance back.
    let applied = format!(
        "the abilities of {path} were set to {} ({})",
        ask_words(ask),
        hex_ask(ask)
    );
    let options = mount_options(&m)
        .map_err(|f| mismatch(format!("{applied}; reading them back failed: {}", f.msg)))?;
    let got = delegation_part(&options);
    let shown_want = shown(&want);
    if got != shown_want {
        return Err(mismatch(format!(
            "{applied}, but the instance shows '{got}' instead of '{shown_want}'"
        )));
    }
    if ask.scope.is_none() {
        warn_scopes([scope_warning(&want.masks, want.cgroup_id)]);
    }
    Ok(0)
}

/// The scope in a bpffs's super options: `delegate_cgroup=ID`, or 0.
fn mount_scope(options: &str) -> Result<u64, String> {
    let mut ids = options
        .split(',')
        .filter_map(|o| o.strip_prefix("delegate_cgroup="));
    let scope = match ids.next() {
        None => 0,
        Some(id) => decimal_u64(id).ok_or_else(|| format!("'delegate_cgroup={id}' is no id"))?,
    };
    match ids.next() {
        Some(_) => Err("delegate_cgroup shown twice".into()),
        None => Ok(scope),
    }
}

/// Shows what the bpffs mounted at `path` delegates.
fn show_mount(path: &str, pid: Option<u32>, json: bool) -> Res<u8> {
    let m = open_target(path, pid)?;
    // With --pid, only the container's instance: the same check as a change.
    drop(pick(path, &m)?);
    let opts = mount_options(&m)?;
    let refusals = mount_refusals(&m);
    let mut names = CgroupNames::new();
    let pid = pid.unwrap_or_default();
    let out = if json {
        mount_json(path, &opts, &refusals, pid, &mut names)
            .map_err(|e| nothing_to_do(format!("{path}: its mount options: {e}")))?
    } else {
        mount_text(path, &opts, &refusals, pid, &mut names)
    };
    emit(&out)?;
    Ok(0)
}

/// What `show PATH` prints of the bpffs at PATH, whose super options are
/// `opts`, found with `--pid PID` (0: without).
fn mount_text(
    path: &str,
    opts: &str,
    refusals: &MountRefusals,
    pid: u32,
    names: &mut CgroupNames,
) -> String {
    let delegated = opts.split(',').any(|o| o == "delegate");
    let mut out = format!(
        "{path}: {}\n",
        if delegated {
            "delegated"
        } else {
            "not created under delegate"
        }
    );
    let mut any = false;
    let mut scope = None;
    for o in opts.split(',').filter(|o| o.starts_with("delegate_")) {
        if let Some(id) = o.strip_prefix("delegate_cgroup=") {
            scope = Some(id);
            continue;
        }
        out.push_str(&format!("  {o}\n"));
        any = true;
    }
    if !any {
        out.push_str("  (nothing delegated)\n");
    }
    let scope = match scope.map(|id| (id, decimal_u64(id))) {
        None => names.describe(0),
        Some((_, Some(id))) => names.describe(id),
        Some((id, None)) => format!("'{id}' (not a cgroup id)"),
    };
    out.push_str(&format!("  cgroup: {scope}\n"));
    match refusals {
        MountRefusals::Unknown => {}
        MountRefusals::Known(s) => out.push_str(&refusal_lines(s, "  ")),
        other => out.push_str(&format!("  refusals: {}\n", other.note(pid))),
    }
    out
}

/// `mount_text()` as one JSON object (and a newline).
fn mount_json(
    path: &str,
    opts: &str,
    refusals: &MountRefusals,
    pid: u32,
    names: &mut CgroupNames,
) -> Result<String, String> {
    let delegation = mount_delegation(opts)?;
    let (shown, note) = match refusals {
        MountRefusals::Known(s) => (s.clone(), None),
        other => (Shown::new(Kind::Live, delegation), Some(other.note(pid))),
    };
    let out = JsonObject::new()
        .str("path", path)
        .raw("delegated", opts.split(',').any(|o| o == "delegate"))
        .fields(delegation_json(&delegation, names))
        .fields(refusals_json(&shown))
        .raw("refusals_note", json_opt(note.map(|n| json_str(&n))))
        .end();
    Ok(format!("{out}\n"))
}

/// What `show PATH` can tell of the refusals of the instance at PATH.  The
/// kernel reports them only through `target_userns`, for every instance of
/// a user namespace, with no word of which instance is which: the one at
/// PATH is known only when the namespace (of --pid) has no other.
enum MountRefusals {
    /// Without --pid: its user namespace is not known.
    Unknown,
    /// The only live instance of its user namespace in the kernel's report,
    /// which must be the one at PATH (held open meanwhile).
    Known(Shown),
    /// The report shows this many live instances, not told apart.
    Several(u32),
    /// The report could not be read: why.
    Unread(String),
}

impl MountRefusals {
    /// Why no refusals are shown, for `show PATH --pid PID`.
    fn note(&self, pid: u32) -> String {
        match self {
            MountRefusals::Known(_) => String::new(),
            MountRefusals::Unknown => {
                "not known without --pid (its user namespace is not known)".into()
            }
            MountRefusals::Several(n) => format!(
                "its user namespace has {n} live instances, which the kernel's report \
                 does not tell apart: 'bpf-delegate show --pid {pid}' shows them all"
            ),
            MountRefusals::Unread(e) => format!("not read: {e}"),
        }
    }
}

/// The refusals of the instance `m`, from the kernel's report on the user
/// namespace of --pid.  Reading it changes nothing.
fn mount_refusals(m: &Mounted) -> MountRefusals {
    let Some((_, ns)) = &m.process else {
        return MountRefusals::Unknown;
    };
    let report = match read_report(ns) {
        Ok(r) => r,
        Err(f) => return MountRefusals::Unread(f.msg),
    };
    match report.found {
        None => MountRefusals::Unread("the kernel did not report on target_userns".into()),
        Some((1, _)) => report
            .instances
            .into_iter()
            .find(|s| s.kind == Kind::Live)
            .map_or_else(
                || MountRefusals::Unread("the kernel's log did not show the instance".into()),
                MountRefusals::Known,
            ),
        Some((0, _)) => {
            MountRefusals::Unread("the kernel's report has no live instance of it".into())
        }
        Some((n, _)) => MountRefusals::Several(n),
    }
}

/// What the super options of a bpffs say it delegates ("any" as all bits).
fn mount_delegation(options: &str) -> Result<Opts, String> {
    let mut o = Opts {
        cgroup_id: mount_scope(options)?,
        ..Opts::default()
    };
    for f in Field::ALL {
        let key = format!("{}=", f.option());
        for list in options.split(',').filter_map(|w| w.strip_prefix(&key)) {
            *o.masks.get_mut(f) |=
                text::parse_list(f, list.as_bytes()).map_err(|e| format!("'{key}{list}': {e}"))?;
        }
    }
    Ok(o)
}

/// Names cgroups by their id for people, as the host sees them: a cgroup2
/// directory below the first mount of the whole cgroup2 hierarchy in the
/// tool's mount namespace whose inode number is the id.
struct CgroupNames {
    /// That mount, if there is one.
    root: Option<PathBuf>,
    found: HashMap<u64, Option<PathBuf>>,
}

impl CgroupNames {
    fn new() -> CgroupNames {
        let info = fs::read("/proc/self/mountinfo").unwrap_or_default();
        let root = info
            .split(|&b| b == b'\n')
            .filter_map(parse_mount_line)
            .find(|l| l.fstype == b"cgroup2" && l.root == b"/")
            .map(|l| PathBuf::from(std::ffi::OsStr::from_bytes(&l.mount_point)));
        CgroupNames {
            root,
            found: HashMap::new(),
        }
    }

    /// The directory of cgroup `id`, if one has it (none for 0, no scope).
    fn path(&mut self, id: u64) -> Option<PathBuf> {
        if id == 0 {
            return None;
        }
        let root = self.root.as_ref()?;
        self.found
            .entry(id)
            .or_insert_with(|| find_cgroup(root, id))
            .clone()
    }

    /// "none (any cgroup)" for no scope, else "PATH (id N)", or "id N (not
    /// found)" when no cgroup2 directory has it (any more).
    fn describe(&mut self, id: u64) -> String {
        if id == 0 {
            return "none (any cgroup)".into();
        }
        let Some(root) = &self.root else {
            return format!("id {id} (not found: no cgroup2 mount)");
        };
        let found = self
            .found
            .entry(id)
            .or_insert_with(|| find_cgroup(root, id));
        match found {
            // The container names the cgroups below its own.
            Some(path) => format!("{} (id {id})", escape(path.as_os_str().as_bytes())),
            None => format!("id {id} (not found)"),
        }
    }
}

/// The directory below `root`, on the same filesystem, whose inode number
/// is `id`; at most `CGROUP_SEARCH_MAX` directories are looked at.
fn find_cgroup(root: &Path, id: u64) -> Option<PathBuf> {
    let top = fs::symlink_metadata(root).ok()?;
    if top.ino() == id {
        return Some(root.to_path_buf());
    }
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            // Neither follows a symlink.
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(md) = e.metadata() else { continue };
            if md.dev() != top.dev() {
                continue;
            }
            if md.ino() == id {
                return Some(e.path());
            }
            seen += 1;
            if seen >= CGROUP_SEARCH_MAX {
                return None;
            }
            stack.push(e.path());
        }
    }
    None
}

/// A user namespace whose bpffs instances are reached without a path.
struct Userns {
    fd: OwnedFd,
    /// For messages: "user:[INODE] (pid PID)" or "user:[INODE] (FILE)".
    name: String,
    /// INODE: its inode number, as in /proc/PID/ns/user.
    ino: u64,
}

/// Opens the user namespace of `--pid` or `--userns`, refusing the tool's
/// own (the initial one: its instances have paths on the host).
fn open_userns(t: &Target) -> Res<Userns> {
    match (t.pid, &t.userns) {
        (Some(pid), _) => Process::open(pid)?.container_userns(),
        (None, Some(file)) => userns_not_ours(open_ns_file(file)?, file.clone()),
        (None, None) => Err(usage("give a PATH, --pid PID or --userns FILE".into())),
    }
}

/// The user namespace `fd` (of `whose`), unless it is the tool's own.
fn userns_not_ours(fd: OwnedFd, whose: String) -> Res<Userns> {
    let st = fstat(&fd).map_err(|e| refused(&whose, e, None))?;
    #[allow(clippy::unnecessary_cast)]
    let ino = st.st_ino as u64;
    let name = format!("user:[{ino}] ({whose})");
    let ours = stat("/proc/self/ns/user").map_err(|e| refused("/proc/self/ns/user", e, None))?;
    if (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino) {
        return Err(nothing_to_do(format!(
            "{name} is bpf-delegate's own user namespace, the initial one, not \
             a container's: the host's instances are reached by their path \
             without --pid, a container's by its process or user namespace; \
             nothing changed"
        )));
    }
    Ok(Userns { fd, name, ino })
}

/// Opens a namespace file (/proc/PID/ns/user or a bind mount of one).  The
/// kernel checks that it is a user namespace.
fn open_ns_file(file: &str) -> Res<OwnedFd> {
    let fd = open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| refused(file, e, None))?;
    let st = fstatfs(&fd).map_err(|e| refused(file, e, None))?;
    #[allow(clippy::unnecessary_cast)]
    if st.f_type as u64 != NSFS_MAGIC {
        return Err(usage(format!(
            "{file}: not a namespace file (such as /proc/PID/ns/user)"
        )));
    }
    Ok(fd)
}

/// Whether the process of `pidfd` has exited: its pidfd polls readable then.
fn exited(pidfd: &OwnedFd) -> Res<bool> {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&now)).map_err(|e| refused("poll(pidfd)", e, None))?;
    Ok(fds.iter().any(|f| !f.revents().is_empty()))
}

/// Commits `abilities` (`None`: nothing, only look) to every bpffs instance
/// and pending consent of `ns` through `target_userns`, and returns the
/// fs_context log with the kernel's report, or why it could not be read
/// (after the commit).
///
/// `target_userns` needs a reconfigure context of a bpffs of the initial
/// user namespace: the tool makes a private instance of its own and never
/// attaches it, so no real mount is touched.
fn reach_userns(ns: &Userns, abilities: Option<&Ask>) -> Res<Result<Vec<u8>, Errno>> {
    let fs = fsopen("bpf", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| refused("fsopen(\"bpf\")", e, None))?;
    fsconfig_create(&fs).map_err(|e| refused("creating a private bpffs", e, Some(fs.as_fd())))?;
    // After fsmount() the context is a reconfigure context of that instance.
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| refused("fsmount", e, Some(fs.as_fd())))?;
    // Whatever creating it said: the log keeps few messages, all for the report.
    let mut log = Vec::new();
    let _ = drain_log(fs.as_fd(), &mut log);
    log.clear();
    fsconfig_set_fd(&fs, "target_userns", ns.fd.as_fd())
        .map_err(|e| refused("target_userns", e, Some(fs.as_fd())))?;
    if let Some(a) = abilities {
        set_abilities(&fs, a)?;
    }
    fsconfig_reconfigure(&fs)
        .map_err(|e| refused("reconfigure (target_userns)", e, Some(fs.as_fd())))?;
    let read = drain_log(fs.as_fd(), &mut log);
    drop(mnt);
    Ok(read.map(|()| log))
}

/// What the kernel's report says one instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A superblock, mounted or not: its delegation after the change.
    Live,
    /// A creation context given `delegate` but not created yet: what its
    /// instance would delegate.
    Pending,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Live => "live",
            Kind::Pending => "pending",
        }
    }
}

/// The kernel's `target_userns` report, read from the fs_context log.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    /// The instances the log still shows, oldest first.
    instances: Vec<Shown>,
    /// The summary: how many live and pending instances the kernel found;
    /// `None` if the log has no report at all.
    found: Option<(u32, u32)>,
}

impl Report {
    /// How many instances the kernel found that the log no longer shows.
    fn unshown(&self) -> u64 {
        let (live, pending) = self.found.unwrap_or_default();
        (u64::from(live) + u64::from(pending)).saturating_sub(self.instances.len() as u64)
    }
}

/// One instance line of the report, and for a live one the refusal lines
/// that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shown {
    kind: Kind,
    opts: Opts,
    /// `refused=N`: how many questions this live instance refused since it
    /// was created; `None` for a pending one, or from a kernel that does
    /// not say.
    refused: Option<u64>,
    /// The newest of those refusals that the log had room for, oldest first.
    refusals: Vec<Refusal>,
}

impl Shown {
    /// An instance line without refusals (a pending one, an old kernel's).
    fn new(kind: Kind, opts: Opts) -> Shown {
        Shown {
            kind,
            opts,
            refused: None,
            refusals: Vec::new(),
        }
    }

    /// How many of its refusals the report does not show (kept no more, or
    /// no room in the log), if the kernel counts them.
    fn refusals_not_shown(&self) -> Option<u64> {
        self.refused
            .map(|n| n.saturating_sub(self.refusals.len() as u64))
    }
}

/// Why a live instance refused a question, as the kernel's report names it
/// (`enum bpf_delegation_why`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// The command is not delegated.
    Cmd,
    /// The map type is not delegated.
    MapType,
    /// The program type is not delegated.
    ProgType,
    /// The attach type is not delegated.
    AttachType,
    /// A program type without an attach type.
    AttachTypeMissing,
    /// An attach type without a program type.
    ProgTypeMissing,
    /// The instance delegates nothing: a reset.
    Nothing,
    /// The instance is gone.
    Gone,
    /// The delegation allowed the call, but the caller lacks this
    /// capability in the instance's user namespace (or an LSM said no to
    /// the token standing in for it).
    Cap(Cap),
}

/// The capabilities a delegated command may need in the instance's user
/// namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cap {
    Bpf,
    NetAdmin,
    Perfmon,
    SysAdmin,
}

impl Cap {
    fn name(self) -> &'static str {
        match self {
            Cap::Bpf => "CAP_BPF",
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::Perfmon => "CAP_PERFMON",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
        }
    }
}

impl Why {
    const ALL: [Why; 12] = [
        Why::Cmd,
        Why::MapType,
        Why::ProgType,
        Why::AttachType,
        Why::AttachTypeMissing,
        Why::ProgTypeMissing,
        Why::Nothing,
        Why::Gone,
        Why::Cap(Cap::Bpf),
        Why::Cap(Cap::NetAdmin),
        Why::Cap(Cap::Perfmon),
        Why::Cap(Cap::SysAdmin),
    ];

    /// Its name in the report (`why=`).
    fn name(self) -> &'static str {
        match self {
            Why::Cmd => "cmd",
            Why::MapType => "map_type",
            Why::ProgType => "prog_type",
            Why::AttachType => "attach_type",
            Why::AttachTypeMissing => "attach_type_missing",
            Why::ProgTypeMissing => "prog_type_missing",
            Why::Nothing => "nothing",
            Why::Gone => "gone",
            Why::Cap(Cap::Bpf) => "cap_bpf",
            Why::Cap(Cap::NetAdmin) => "cap_net_admin",
            Why::Cap(Cap::Perfmon) => "cap_perfmon",
            Why::Cap(Cap::SysAdmin) => "cap_sys_admin",
        }
    }

    fn from_name(name: &str) -> Option<Why> {
        Why::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// One refusal line of the report: "refused #SEQ cmd=C map_type=M
/// prog_type=P attach_type=A why=WHY pid=PID vpid=VPID comm=COMM".
#[derive(Clone, Debug, PartialEq, Eq)]
struct Refusal {
    /// 1 for the instance's first refusal.
    seq: u64,
    /// The `enum bpf_cmd` value.
    cmd: u32,
    /// The types asked; `None` when not part of the question (-1).
    map_type: Option<u64>,
    prog_type: Option<u64>,
    attach_type: Option<u64>,
    why: Why,
    /// The caller's tgid in the initial pid namespace, and in its own.
    pid: u32,
    vpid: u32,
    /// The caller's comm as the report has it: the kernel writes every byte
    /// that is not printable ASCII, and a backslash, as `\xNN`.
    comm: Vec<u8>,
}

impl Refusal {
    /// Whether the types asked go with the reason: a type refused was asked,
    /// and half a program question is half of one.
    fn consistent(&self) -> bool {
        let (prog, attach) = (self.prog_type.is_some(), self.attach_type.is_some());
        match self.why {
            Why::MapType => self.map_type.is_some(),
            Why::ProgType | Why::AttachType => prog && attach,
            Why::AttachTypeMissing => prog && !attach,
            Why::ProgTypeMissing => !prog && attach,
            Why::Cmd | Why::Nothing | Why::Gone | Why::Cap(_) => true,
        }
    }

    /// What was asked: "map_create of queue", "prog_load of xdp for xdp".
    fn question(&self) -> String {
        let mut q = value_words(Field::Cmds, self.cmd.into());
        if let Some(m) = self.map_type {
            q.push_str(&format!(" of {}", value_words(Field::Maps, m)));
        }
        if let Some(p) = self.prog_type {
            q.push_str(&format!(" of {}", value_words(Field::Progs, p)));
        }
        if let Some(a) = self.attach_type {
            q.push_str(&format!(" for {}", value_words(Field::Attachs, a)));
        }
        q
    }

    /// The refusal in plain words: what was asked, then why it was refused.
    fn words(&self) -> String {
        let not = |field: Field, v: Option<u64>| match v {
            Some(v) => format!(
                "{} does not delegate {}",
                field.name(),
                value_words(field, v)
            ),
            None => format!("{} does not delegate it", field.name()),
        };
        let why = match self.why {
            Why::Cmd => not(Field::Cmds, Some(self.cmd.into())),
            Why::MapType => not(Field::Maps, self.map_type),
            Why::ProgType => not(Field::Progs, self.prog_type),
            Why::AttachType => not(Field::Attachs, self.attach_type),
            Why::AttachTypeMissing => {
                "half a program question: a program type without an attach type".into()
            }
            Why::ProgTypeMissing => {
                "half a program question: an attach type without a program type".into()
            }
            Why::Nothing => "the instance delegates nothing (reset)".into(),
            Why::Gone => "the instance is gone".into(),
            Why::Cap(cap) => format!(
                "delegated, but the caller lacks {} in the instance's user namespace",
                cap.name()
            ),
        };
        format!("{}: {why}", self.question())
    }

    /// Who asked: "pid 1234, 7 in its pid namespace, comm \"loader\"" (the
    /// second pid only when it differs).
    fn who(&self) -> String {
        let vpid = if self.vpid == self.pid {
            String::new()
        } else {
            format!(", {} in its pid namespace", self.vpid)
        };
        format!("pid {}{vpid}, comm \"{}\"", self.pid, quoted(&self.comm))
    }
}

/// A comm for between double quotes: printable ASCII as it is, a quote and
/// any other byte as `\xNN`.  The kernel's report has already written every
/// byte of it that is not printable ASCII, and a backslash, as `\xNN`, so
/// the comm reads as the kernel wrote it, and the two escapes agree.
fn quoted(comm: &[u8]) -> String {
    let mut s = String::with_capacity(comm.len());
    for &b in comm {
        match b {
            b'"' => s.push_str("\\x22"),
            b' '..=b'~' => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// What a value of `field` is called, for one without a name.
fn field_noun(field: Field) -> &'static str {
    match field {
        Field::Cmds => "command",
        Field::Maps => "map type",
        Field::Progs => "program type",
        Field::Attachs => "attach type",
    }
}

/// The kernel's name of value `v` of `field`, lower case and without its
/// prefix: the first name the uAPI header gives it (aliases come later).
fn value_name(field: Field, v: u64) -> Option<String> {
    field
        .names()
        .iter()
        .find(|&&(_, x)| u64::from(x) == v)
        .map(|(name, _)| name.to_ascii_lowercase())
}

/// A value of `field` for people: its name, or "map type 99" for one this
/// tool has no name for.
fn value_words(field: Field, v: u64) -> String {
    value_name(field, v).unwrap_or_else(|| format!("{} {v}", field_noun(field)))
}

/// The text after "target_userns: " of the kernel's info message
/// ("i bpf: target_userns: ..."); `None` for any other line.
fn report_body(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"i ")?;
    let rest = rest.strip_prefix(b"bpf: ").unwrap_or(rest);
    rest.strip_prefix(b"target_userns: ")
}

/// A `%llx` value with its `0x`.
fn hex(s: &str) -> Option<u64> {
    let digits = s.strip_prefix("0x")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// A `%u` value.
fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A `%llu` value.
fn decimal_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A type in a refusal line: `%lld`, -1 when not part of the question.
fn asked_type(s: &str) -> Option<Option<u64>> {
    match s {
        "-1" => Some(None),
        s => decimal_u64(s).map(Some),
    }
}

/// "N live, M pending".
fn parse_found(body: &str) -> Option<(u32, u32)> {
    let (live, pending) = body.strip_suffix(" pending")?.split_once(" live, ")?;
    Some((decimal(live)?, decimal(pending)?))
}

/// "live|pending cmds=0x.. maps=0x.. progs=0x.. attachs=0x..[ cgroup=N]
/// [ refused=N]": the scope in decimal, 0 for none, and for a live instance
/// how many questions it refused; a kernel without scopes, or without
/// refusals, does not write them.
fn parse_instance(body: &str) -> Option<Shown> {
    let mut words = body.split(' ').peekable();
    let kind = match words.next()? {
        "live" => Kind::Live,
        "pending" => Kind::Pending,
        _ => return None,
    };
    let mut opts = Opts::default();
    for field in Field::ALL {
        let (key, value) = words.next()?.split_once('=')?;
        if key != field.name() {
            return None;
        }
        *opts.masks.get_mut(field) = hex(value)?;
    }
    if let Some(id) = words.next_if(|w| w.starts_with("cgroup=")) {
        opts.cgroup_id = decimal_u64(&id["cgroup=".len()..])?;
    }
    let mut shown = Shown::new(kind, opts);
    if kind == Kind::Live {
        if let Some(n) = words.next_if(|w| w.starts_with("refused=")) {
            shown.refused = Some(decimal_u64(&n["refused=".len()..])?);
        }
    }
    match words.next() {
        Some(_) => None,
        None => Some(shown),
    }
}

/// The value of the word `key=VALUE`, if `word` is that.
fn key_value<'a>(word: Option<&'a [u8]>, key: &str) -> Option<&'a str> {
    let (k, v) = std::str::from_utf8(word?).ok()?.split_once('=')?;
    (k == key).then_some(v)
}

/// "refused #SEQ cmd=C map_type=M prog_type=P attach_type=A why=WHY pid=PID
/// vpid=VPID comm=COMM": COMM is the rest of the line, spaces and bytes
/// that are not UTF-8 included, and may be empty.
fn parse_refusal(body: &[u8]) -> Option<Refusal> {
    let mut words = body.splitn(10, |&b| b == b' ');
    if words.next()? != b"refused" {
        return None;
    }
    let seq = std::str::from_utf8(words.next()?.strip_prefix(b"#")?).ok()?;
    let seq = decimal_u64(seq).filter(|&n| n > 0)?;
    let cmd = decimal(key_value(words.next(), "cmd")?)?;
    let map_type = asked_type(key_value(words.next(), "map_type")?)?;
    let prog_type = asked_type(key_value(words.next(), "prog_type")?)?;
    let attach_type = asked_type(key_value(words.next(), "attach_type")?)?;
    let why = Why::from_name(key_value(words.next(), "why")?)?;
    let pid = decimal(key_value(words.next(), "pid")?)?;
    let vpid = decimal(key_value(words.next(), "vpid")?)?;
    let comm = words.next()?.strip_prefix(b"comm=")?.to_vec();
    let r = Refusal {
        seq,
        cmd,
        map_type,
        prog_type,
        attach_type,
        why,
        pid,
        vpid,
        comm,
    };
    r.consistent().then_some(r)
}

/// Reads the kernel's `target_userns` report out of a drained fs_context
/// log.  Lines that are not its info messages are ignored; one of its lines
/// that does not parse, or a report that contradicts itself, is an error.
/// A refusal line belongs to the live instance line right before it (or
/// before the refusal lines of that instance).
fn parse_report(log: &[u8]) -> Result<Report, String> {
    let mut report = Report::default();
    let mut others = 0usize;
    // The instance whose refusals may follow: the last line was its own.
    let mut owner: Option<usize> = None;
    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Some(body) = report_body(line) else {
            others += 1;
            continue;
        };
        let bad = || format!("malformed line '{}'", escape(line));
        if body.starts_with(b"refused ") {
            let r = parse_refusal(body).ok_or_else(bad)?;
            let Some(shown) = owner.and_then(|i| report.instances.get_mut(i)) else {
                return Err(format!("{}: no live instance line before it", bad()));
            };
            match shown.refused {
                None => {
                    return Err(format!(
                        "{}: its live instance line has no refused= count",
                        bad()
                    ))
                }
                Some(n) if r.seq > n => {
                    return Err(format!(
                        "refusal #{} of an instance that says it refused {n}",
                        r.seq
                    ))
                }
                Some(_) => {}
            }
            if shown.refusals.last().is_some_and(|last| last.seq >= r.seq) {
                return Err(format!("refusal #{} out of order", r.seq));
            }
            shown.refusals.push(r);
            continue;
        }
        let body = std::str::from_utf8(body).map_err(|_| bad())?;
        if let Some(found) = parse_found(body) {
            if report.found.replace(found).is_some() {
                return Err("two summary lines".into());
            }
            owner = None;
        } else {
            let shown = parse_instance(body).ok_or_else(bad)?;
            owner = (shown.kind == Kind::Live).then_some(report.instances.len());
            report.instances.push(shown);
        }
    }
    check_report(&report, others)?;
    Ok(report)
}

/// A report must not show more instances than its summary counts, nor fewer
/// than the log had room for.  The log keeps the last `LOG_MESSAGES`
/// messages; the summary is the last, and the kernel shows refusal lines
/// only where they leave room for every instance line (then all of them
/// are there), so instance lines are lost only from the front, to a report
/// with more instances than the log holds.
fn check_report(r: &Report, others: usize) -> Result<(), String> {
    let Some((live, pending)) = r.found else {
        if r.instances.is_empty() {
            return Ok(());
        }
        return Err("instance lines without the summary line".into());
    };
    let shown = |k: Kind| r.instances.iter().filter(|s| s.kind == k).count() as u64;
    let (shown_live, shown_pending) = (shown(Kind::Live), shown(Kind::Pending));
    if shown_live > u64::from(live) || shown_pending > u64::from(pending) {
        return Err(format!(
            "the summary says {live} live, {pending} pending but the log shows \
             {shown_live} live, {shown_pending} pending"
        ));
    }
    let refusal_lines: usize = r.instances.iter().map(|s| s.refusals.len()).sum();
    let room = (LOG_MESSAGES - 1).saturating_sub(others + refusal_lines) as u64;
    let total = u64::from(live) + u64::from(pending);
    if (r.instances.len() as u64) < total.min(room) {
        return Err(format!(
            "the summary says {live} live, {pending} pending but the log shows \
             only {} of them",
            r.instances.len()
        ));
    }
    Ok(())
}

/// A delegation in the kernel's option words, for people.
fn words(o: &Opts) -> String {
    let s = shown(o);
    let w: Vec<&str> = s.split(',').filter(|w| !w.is_empty()).collect();
    if w.is_empty() {
        "(nothing delegated)".into()
    } else {
        w.join(" ")
    }
}

/// The masks alone in option words, for a line that shows the scope apart.
fn mask_words(o: &Opts) -> String {
    words(&Opts { cgroup_id: 0, ..*o })
}

/// A delegation as the kernel's report writes it, unknown bits included.
fn hex_opts(o: &Opts) -> String {
    format!("{} cgroup={}", hex_masks(&o.masks), o.cgroup_id)
}

/// The masks as the kernel's report writes them.
fn hex_masks(m: &Masks) -> String {
    Field::ALL
        .iter()
        .map(|&f| format!("{}={:#x}", f.name(), m.get(f)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a change asks, for people: the masks, then the scope ("kept"
/// when it does not name one).
fn ask_words(a: &Ask) -> String {
    let masks = mask_words(&a.after(0));
    match a.scope {
        None => format!("{masks}, cgroup scope kept"),
        Some(0) => format!("{masks}, no cgroup scope"),
        Some(id) => format!("{masks}, cgroup scope {id}"),
    }
}

/// What a change asks, as the kernel's report would write it.
fn hex_ask(a: &Ask) -> String {
    match a.scope {
        None => format!("{} cgroup=kept", hex_masks(&a.masks)),
        Some(id) => format!("{} cgroup={id}", hex_masks(&a.masks)),
    }
}

/// Checks the report of a change `want` to the instances of `ns`: the
/// kernel found some, and every one it shows delegates exactly the masks
/// asked, and the scope if one was named.  Returns how many live and
/// pending instances it found.
fn verify(ns: &str, r: &Report, want: &Ask) -> Res<(u32, u32)> {
    let Some((live, pending)) = r.found else {
        return Err(mismatch(format!(
            "{ns}: the kernel did not report on target_userns (a kernel that \
             ignores the key?): nothing could be read back, and most likely \
             nothing of that user namespace was changed"
        )));
    };
    if live == 0 && pending == 0 {
        return Err(nothing_to_do(format!(
            "no bpffs instance or pending consent of user namespace {ns} found; \
             nothing changed"
        )));
    }
    let wrong: Vec<String> = r
        .instances
        .iter()
        .filter(|s| {
            s.opts.masks != want.masks || want.scope.is_some_and(|id| s.opts.cgroup_id != id)
        })
        .map(|s| {
            format!(
                "a {} instance shows {} ({})",
                s.kind.name(),
                words(&s.opts),
                hex_opts(&s.opts)
            )
        })
        .collect();
    if !wrong.is_empty() {
        return Err(mismatch(format!(
            "{ns}: read-back mismatch: {} instead of {} ({}); the change was \
             committed to the {live} live and {pending} pending instances the \
             kernel found, and what was changed has been changed",
            wrong.join("; "),
            ask_words(want),
            hex_ask(want)
        )));
    }
    Ok((live, pending))
}

/// The scopes of the instances a report shows, sorted.
fn scopes(r: &Report) -> Vec<u64> {
    let mut s: Vec<u64> = r.instances.iter().map(|s| s.opts.cgroup_id).collect();
    s.sort_unstable();
    s
}

/// Checks that a change that named no scope kept them: the instances of
/// `ns` show the same scopes after it as before.  When instances came or
/// went in between, or the log could not show them all, there is nothing
/// to compare, and the note returned says so.
fn verify_kept(ns: &str, before: &Report, after: &Report) -> Res<Option<String>> {
    if before.found != after.found || before.unshown() != 0 || after.unshown() != 0 {
        return Ok(Some(
            "  (the cgroup scopes were not compared: instances came or went during \
             the change, or the kernel's log did not show them all)"
                .into(),
        ));
    }
    let (was, is) = (scopes(before), scopes(after));
    if was != is {
        return Err(mismatch(format!(
            "{ns}: read-back mismatch: the cgroup scopes were {was:?} before a change \
             that named none and are {is:?} after it (a kernel that takes the VER0 \
             struct as no scope?); the masks were changed, and so were the scopes"
        )));
    }
    Ok(None)
}

/// A note for instances the kernel found but its log no longer shows.
fn unshown_note(r: &Report, what: &str) -> Option<String> {
    match r.unshown() {
        0 => None,
        n => Some(format!(
            "  ({n} more {what}: the kernel's log keeps only its last {LOG_MESSAGES} messages)"
        )),
    }
}

/// Replaces what every bpffs instance and pending consent of `ns` delegates:
/// the masks, and the scope if `ask` names it (`cgroup`, its directory);
/// else each keeps the scope it has, which is read before and after.
fn set_userns(ns: &Userns, ask: &Ask, cgroup: Option<&Cgroup>) -> Res<u8> {
    let before = match ask.scope {
        Some(_) => None,
        None => Some(read_report(ns).map_err(|f| nothing_changed(f.msg))?),
    };
    let failed = |e: String| {
        mismatch(format!(
            "the abilities of every bpffs instance and pending consent of user \
             namespace {} were set to {} ({}); reading them back failed: {e}",
            ns.name,
            ask_words(ask),
            hex_ask(ask)
        ))
    };
    let log =
        reach_userns(ns, Some(ask))?.map_err(|e| failed(format!("{}: {e}", errno_name(e))))?;
    let report = parse_report(&log)
        .map_err(|e| failed(format!("the kernel's target_userns report: {e}")))?;
    let (live, pending) = verify(&ns.name, &report, ask)?;
    let kept_note = match &before {
        Some(b) => verify_kept(&ns.name, b, &report)?,
        None => None,
    };
    let scope = match (cgroup, ask.scope) {
        (Some(c), _) => format!("cgroup: {} (id {})", escape(c.path.as_bytes()), c.id),
        (None, Some(id)) => format!("cgroup: {}", CgroupNames::new().describe(id)),
        (None, None) => {
            let mut names = CgroupNames::new();
            let mut kept: Vec<String> = Vec::new();
            for id in scopes(&report) {
                let name = names.describe(id);
                if !kept.contains(&name) {
                    kept.push(name);
                }
            }
            format!("cgroup scope kept: {}", kept.join(", "))
        }
    };
    let mut out = format!(
        "{}: {live} live, {pending} pending, each delegating {}; {scope}\n",
        ns.name,
        mask_words(&ask.after(0))
    );
    if let Some(note) = unshown_note(&report, "not read back") {
        out.push_str(&format!("{note}\n"));
    }
    if let Some(note) = kept_note {
        out.push_str(&format!("{note}\n"));
    }
    emit(&out)?;
    if ask.scope.is_none() {
        warn_scopes(
            report
                .instances
                .iter()
                .map(|s| scope_warning(&s.opts.masks, s.opts.cgroup_id)),
        );
    }
    Ok(0)
}

/// The kernel's report on the instances of `ns`, changing nothing.
fn read_report(ns: &Userns) -> Res<Report> {
    let log = reach_userns(ns, None)?
        .map_err(|e| refused("reading the kernel's target_userns report", e, None))?;
    parse_report(&log).map_err(|e| {
        nothing_to_do(format!(
            "{}: the kernel's target_userns report is unreadable: {e}",
            ns.name
        ))
    })
}

/// Shows what every bpffs instance and pending consent of `ns` delegates.
fn show_userns(ns: &Userns, json: bool) -> Res<u8> {
    let report = read_report(ns)?;
    if report.found.is_none() {
        return Err(nothing_to_do(format!(
            "{}: the kernel did not report on target_userns (a kernel that \
             ignores the key?)",
            ns.name
        )));
    }
    let mut names = CgroupNames::new();
    emit(&if json {
        userns_json(&ns.name, ns.ino, &report, &mut names)
    } else {
        userns_text(&ns.name, &report, &mut names)
    })?;
    Ok(0)
}

/// What `show --pid|--userns` prints of the report on user namespace `ns`.
fn userns_text(ns: &str, report: &Report, names: &mut CgroupNames) -> String {
    let (live, pending) = report.found.unwrap_or_default();
    let mut out = format!("{ns}: {live} live, {pending} pending\n");
    for s in &report.instances {
        out.push_str(&format!(
            "  {}: {}; cgroup: {}\n",
            s.kind.name(),
            mask_words(&s.opts),
            names.describe(s.opts.cgroup_id)
        ));
        out.push_str(&refusal_lines(s, "    "));
    }
    if live == 0 && pending == 0 {
        out.push_str("  (no bpffs instance or pending consent of this user namespace)\n");
    }
    if let Some(note) = unshown_note(report, "not shown") {
        out.push_str(&format!("{note}\n"));
    }
    out
}

/// `userns_text()` as one JSON object (and a newline); `ino` is the user
/// namespace's inode number.
fn userns_json(ns: &str, ino: u64, report: &Report, names: &mut CgroupNames) -> String {
    let (live, pending) = report.found.unwrap_or_default();
    let instances = report
        .instances
        .iter()
        .map(|s| JsonObject::new().fields(instance_json(s, names)).end());
    let out = JsonObject::new()
        .str("userns", ns)
        .raw("userns_inode", ino)
        .raw("live", live)
        .raw("pending", pending)
        .raw("instances_not_shown", report.unshown())
        .raw("instances", json_array(instances))
        .end();
    format!("{out}\n")
}

/// The refusals of an instance for people, one line each with `indent`,
/// after a line for those not shown; nothing if it refused nothing.
fn refusal_lines(s: &Shown, indent: &str) -> String {
    let mut out = String::new();
    match s.refusals_not_shown() {
        None | Some(0) => {}
        Some(n) => {
            let earlier = if s.refusals.is_empty() {
                ""
            } else {
                " earlier"
            };
            let plural = if n == 1 { "" } else { "s" };
            out.push_str(&format!(
                "{indent}({n}{earlier} refusal{plural} not shown)\n"
            ));
        }
    }
    for r in &s.refusals {
        out.push_str(&format!(
            "{indent}refused #{}: {} ({})\n",
            r.seq,
            r.words(),
            r.who()
        ));
    }
    out
}

/// A JSON string: a quote, a backslash and control characters (C0, DEL and
/// C1, which a terminal may act on) escaped, the latter as `\u00XX`.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes as a JSON string: as UTF-8, a byte that is not replaced by U+FFFD.
fn json_bytes(b: &[u8]) -> String {
    json_str(&String::from_utf8_lossy(b))
}

/// A JSON value that may be null.
fn json_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".into(), |v| v.to_string())
}

/// A JSON array of values already in JSON.
fn json_array(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// A JSON object on one line, its members in the order added.
#[derive(Default)]
struct JsonObject(Vec<String>);

impl JsonObject {
    fn new() -> JsonObject {
        JsonObject::default()
    }

    /// A member whose value is already JSON (a number, an array, null).
    fn raw(mut self, key: &str, value: impl std::fmt::Display) -> JsonObject {
        self.0.push(format!("{}: {value}", json_str(key)));
        self
    }

    fn str(self, key: &str, value: &str) -> JsonObject {
        self.raw(key, json_str(value))
    }

    /// The members of another object.
    fn fields(mut self, other: JsonObject) -> JsonObject {
        self.0.extend(other.0);
        self
    }

    fn end(self) -> String {
        format!("{{{}}}", self.0.join(", "))
    }
}

/// A value of `field` in JSON: its name, or the number for one without.
fn json_value(field: Field, v: u64) -> String {
    value_name(field, v).map_or_else(|| v.to_string(), |n| json_str(&n))
}

/// The values a mask of `field` delegates, as `json_value()`s; bits this
/// kernel has no value for are not listed (`masks` has them).
fn json_mask(field: Field, mask: u64) -> String {
    let known = mask & field.known_bits();
    json_array(
        (0..64)
            .filter(|bit| known & (1u64 << bit) != 0)
            .map(|bit| json_value(field, bit)),
    )
}

/// What an instance delegates, in JSON members.
fn delegation_json(o: &Opts, names: &mut CgroupNames) -> JsonObject {
    let mut obj = JsonObject::new();
    for f in Field::ALL {
        obj = obj.raw(f.name(), json_mask(f, o.masks.get(f)));
    }
    let mut masks = JsonObject::new();
    for f in Field::ALL {
        masks = masks.str(f.name(), &format!("{:#x}", o.masks.get(f)));
    }
    let cgroup = names
        .path(o.cgroup_id)
        .map(|p| json_bytes(p.as_os_str().as_bytes()));
    obj.raw("masks", masks.end())
        .raw("cgroup_id", o.cgroup_id)
        .raw("cgroup", json_opt(cgroup))
}

/// A refusal in JSON.
fn refusal_json(r: &Refusal) -> String {
    let asked = |field: Field, v: Option<u64>| json_opt(v.map(|v| json_value(field, v)));
    JsonObject::new()
        .raw("seq", r.seq)
        .raw("cmd", json_value(Field::Cmds, r.cmd.into()))
        .raw("map_type", asked(Field::Maps, r.map_type))
        .raw("prog_type", asked(Field::Progs, r.prog_type))
        .raw("attach_type", asked(Field::Attachs, r.attach_type))
        .str("why", r.why.name())
        .str("words", &r.words())
        .raw("pid", r.pid)
        .raw("vpid", r.vpid)
        .raw("comm", json_bytes(&r.comm))
        .end()
}

/// The refusals of an instance, in JSON members.
fn refusals_json(s: &Shown) -> JsonObject {
    JsonObject::new()
        .raw("refused", json_opt(s.refused))
        .raw("refusals_not_shown", json_opt(s.refusals_not_shown()))
        .raw("refusals", json_array(s.refusals.iter().map(refusal_json)))
}

/// An instance of the report, in JSON members.
fn instance_json(s: &Shown, names: &mut CgroupNames) -> JsonObject {
    JsonObject::new()
        .str("state", s.kind.name())
        .fields(delegation_json(&s.opts, names))
        .fields(refusals_json(s))
}

/// Writes `text` to stdout, never panicking: a reader that went away ends
/// the tool quietly with 1, another failure with 1 and a message.
fn emit(text: &str) -> Res<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: exit::REFUSED,
            msg: String::new(),
        }),
        Err(e) => Err(Failure {
            code: exit::REFUSED,
            msg: format!("writing to standard output: {e}"),
        }),
    }
}

/// Writes a message to stderr; a stderr that cannot take it is no reason to
/// panic.
fn say_error(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn main() -> ExitCode {
    // An inherited SIG_IGN for SIGCHLD would have the kernel reap the
    // command behind our back: waitpid() would fail and its status be lost.
    // SAFETY: SIG_DFL is a valid disposition; no other thread exists.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    let cli = Cli::parse();
    let r = match &cli.cmd {
        Cmd::Run {
            masks,
            mount,
            command,
            user,
            allow_host_root,
            pid_file,
        } => run(&RunArgs {
            masks,
            mount,
            command,
            user: *user,
            allow_host_root: *allow_host_root,
            pid_file: pid_file.as_deref(),
        }),
        Cmd::Attach {
            pid,
            mount,
            replace,
            masks,
        } => Process::open(*pid).and_then(|process| {
            attach::attach(&attach::AttachArgs {
                masks,
                process,
                mount,
                replace: *replace,
            })
        }),
        Cmd::OciHook { max } => oci::hook(max),
        Cmd::Set { target, masks } => masks
            .abilities()
            .and_then(|(o, cgroup)| set(target, &o, cgroup.as_ref())),
        Cmd::Reset { target } => set(target, &Ask::REVOKE, None),
        Cmd::Show { target, json } => show(target, *json),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if !f.msg.is_empty() {
                say_error(&format!("bpf-delegate: {}", f.msg));
            }
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpf_delegation_host::policy::ANY;

    #[test]
    fn users_parse() {
        assert_eq!(parse_user("1000"), Ok((1000, 1000)));
        assert_eq!(parse_user("1000:100"), Ok((1000, 100)));
        assert!(parse_user("bob").is_err());
        assert!(parse_user("1000:").is_err());
        assert_eq!(parse_user("4294967294"), Ok((4294967294, 4294967294)));
        for bad in ["4294967295", "1000:4294967295", "4294967295:1000"] {
            assert!(
                parse_user(bad).is_err_and(|e| e.contains("invalid id")),
                "{bad}"
            );
        }
        assert!(parse_user("4294967296").is_err());
    }

    #[test]
    fn host_root_needs_asking() {
        let msg = |r: Res<()>| r.err().map(|f| (f.code, f.msg)).unwrap_or_default();
        assert!(check_ids(1000, 1000, true, false).is_ok());
        assert!(check_ids(0, 0, false, true).is_ok());
        assert!(check_ids(0, 1000, true, true).is_ok());
        let (code, m) = msg(check_ids(0, 0, false, false));
        assert_eq!(code, exit::USAGE);
        assert!(
            m.starts_with("without --user (the invoking user is 0:0)"),
            "{m}"
        );
        assert!(m.contains("--allow-host-root"), "{m}");
        let (code, m) = msg(check_ids(1000, 0, true, false));
        assert_eq!(code, exit::USAGE);
        assert!(
            m.contains("--user 1000:0 would map the host's gid 0"),
            "{m}"
        );
        let (_, m) = msg(check_ids(0, 1000, true, false));
        assert!(m.contains("host's uid 0"), "{m}");
    }

    #[test]
    fn escaping_for_the_terminal() {
        assert_eq!(escape(b"plain text: 0x1 ~"), "plain text: 0x1 ~");
        assert_eq!(escape(b"\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape(b"a\\b"), "a\\\\b");
        assert_eq!(escape(b"\xff\xfe\n\t\x7f"), "\\xff\\xfe\\x0a\\x09\\x7f");
        assert_eq!(escape("é".as_bytes()), "\\xc3\\xa9");
    }

    /// A unix SEQPACKET pair: one read, one message, like an fs_context log.
    fn log_of(messages: &[&[u8]], close: bool) -> (OwnedFd, Option<OwnedFd>) {
        let (r, w) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
            None,
        )
        .unwrap_or_else(|e| panic!("socketpair: {e}"));
        for m in messages {
            assert_eq!(rustix::io::write(&w, m), Ok(m.len()));
        }
        (r, (!close).then_some(w))
    }

    #[test]
    fn the_log_is_read_within_bounds() {
        let msgs: Vec<Vec<u8>> = (0..100)
            .map(|i| format!("i bpf: {i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        // The writer stays open: the log never ends by itself.
        let (r, _w) = log_of(&refs, false);
        let mut out = Vec::new();
        assert_eq!(drain_log(r.as_fd(), &mut out), Ok(()));
        assert_eq!(
            out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(),
            LOG_READ_MAX
        );
        assert!(out.starts_with(b"i bpf: 0\ni bpf: 1\n"));
        // What is left is read next time.
        let mut more = Vec::new();
        assert_eq!(drain_log(r.as_fd(), &mut more), Err(Errno::AGAIN));
        assert!(more.starts_with(b"i bpf: 64\n") && more.ends_with(b"i bpf: 99\n"));
    }

    #[test]
    fn log_messages_are_escaped() {
        let (r, _) = log_of(&[b"e bpf: \x1b[2Jbad\xff\n", b"w bpf: two"], true);
        assert_eq!(
            fc_log(Some(r.as_fd())),
            " [kernel: e bpf: \\x1b[2Jbad\\xff] [kernel: w bpf: two]"
        );
        let f = refused("abilities", Errno::INVAL, None);
        assert!(f.msg.starts_with("EINVAL: abilities: "), "{}", f.msg);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(br"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
        assert_eq!(unescape(br"\0"), br"\0");
        assert_eq!(unescape(br"x\04"), br"x\04");
        assert_eq!(unescape(br"\400\089\\"), br"\400\089\\");
        assert_eq!(unescape(b"\xff\\040\xfe"), b"\xff \xfe");
    }

    #[test]
    fn mountinfo_lines() {
        let line = b"36 25 0:32 / /sys/fs/bpf rw,nosuid shared:9 master:1 - bpf bpf \
                     rw,delegate,delegate_cmds=map_create";
        assert_eq!(
            parse_mount_line(line),
            Some(MountLine {
                id: 36,
                root: b"/".to_vec(),
                mount_point: b"/sys/fs/bpf".to_vec(),
                fstype: b"bpf".to_vec(),
                super_options: b"rw,delegate,delegate_cmds=map_create".to_vec(),
            })
        );
        // No optional fields; a source of "-".
        let line = b"7 1 0:5 / /mnt rw - tmpfs - rw,size=8k";
        assert_eq!(
            parse_mount_line(line).map(|l| l.fstype),
            Some(b"tmpfs".to_vec())
        );
        // A container's mount point named " - bpf x delegate_cmds=any",
        // escaped by the kernel, is one field.
        let line = br"8 1 0:6 / /mnt/\040-\040bpf\040x\040delegate_cmds=any rw - tmpfs none rw";
        assert_eq!(
            parse_mount_line(line).map(|l| l.fstype),
            Some(b"tmpfs".to_vec())
        );
        for bad in [
            &b""[..],
            b"x 1 0:6 / /mnt rw - tmpfs none rw",
            b"8 1 0:6 / /mnt rw tmpfs none rw",
            b"8 1 0:6 / /mnt rw - tmpfs none",
            b"8 1 0:6 - /mnt rw",
        ] {
            assert_eq!(parse_mount_line(bad), None, "{}", escape(bad));
        }
    }

    #[test]
    fn mountinfo_with_bytes_that_are_not_utf8() {
        let info = b"1 0 0:1 / / rw - ext4 /dev/root rw\n\
                     9 1 0:7 / /mnt/x\xff\xfe rw - tmpfs none rw\n\
                     12 1 0:9 / /mnt/\xc3\x28/bpf rw - bpf bpf rw,delegate,delegate_maps=stack\n\
                     \xff\xff\xff\n";
        let l = find_mount(info, 12);
        assert_eq!(
            l.map(|l| l.super_options),
            Some(b"rw,delegate,delegate_maps=stack".to_vec())
        );
        assert_eq!(
            find_mount(info, 9).map(|l| l.fstype),
            Some(b"tmpfs".to_vec())
        );
        assert_eq!(find_mount(info, 13), None);
        assert_eq!(find_mount(info, 1).map(|l| l.id), Some(1));
    }

    #[test]
    fn lists_take_commas_and_colons() {
        assert_eq!(
            parse_field(Field::Maps, "stack,hash").ok(),
            Some(1 << 23 | 1 << 1)
        );
        assert_eq!(
            parse_field(Field::Maps, "stack:hash").ok(),
            Some(1 << 23 | 1 << 1)
        );
        assert_eq!(parse_field(Field::Maps, "any").ok(), Some(ANY));
        assert_eq!(parse_field(Field::Maps, "").ok(), Some(0));
    }

    #[test]
    fn bad_names_list_the_valid_ones() {
        let e = parse_field(Field::Maps, "stack,hsah")
            .err()
            .map(|f| (f.code, f.msg));
        let (code, msg) = e.unwrap_or_default();
        assert_eq!(code, exit::USAGE);
        assert!(msg.contains("unknown name 'hsah'"), "{msg}");
        assert!(
            msg.contains("valid names: any, unspec, hash, array"),
            "{msg}"
        );
    }

    #[test]
    fn binary_rules_apply_before_the_kernel() {
        let m = MaskArgs {
            cmds: "map_lookup_elem".into(),
            maps: String::new(),
            progs: String::new(),
            attachs: String::new(),
            cgroup: None,
        };
        assert!(m
            .masks()
            .err()
            .is_some_and(|f| f.msg.contains("not delegatable")));
    }

    #[test]
    fn shown_matches_the_kernels_format() {
        assert_eq!(
            shown(&STACK),
            ",delegate_cmds=map_create,delegate_maps=stack"
        );
        assert_eq!(
            delegation_part("rw,delegate,delegate_cmds=map_create,delegate_maps=stack"),
            shown(&STACK)
        );
        // The scope is compared too, last, in decimal.
        assert_eq!(
            shown(&SCOPED),
            ",delegate_cmds=map_create,delegate_maps=stack,delegate_cgroup=4242"
        );
        assert_eq!(
            delegation_part(
                "rw,delegate,delegate_cmds=map_create,delegate_maps=stack,delegate_cgroup=4242"
            ),
            shown(&SCOPED)
        );
        assert_ne!(
            delegation_part("rw,delegate,delegate_cmds=map_create,delegate_maps=stack"),
            shown(&SCOPED)
        );
    }

    const STACK: Opts = Opts {
        masks: Masks {
            cmds: 1,
            maps: 1 << 23,
            progs: 0,
            attachs: 0,
        },
        cgroup_id: 0,
    };

    const SCOPED: Opts = Opts {
        cgroup_id: 4242,
        ..STACK
    };

    /// The masks of STACK, and the scope named: none, or 4242; or kept.
    const ASK_STACK: Ask = Ask {
        masks: STACK.masks,
        scope: Some(0),
    };
    const ASK_SCOPED: Ask = Ask {
        masks: STACK.masks,
        scope: Some(4242),
    };
    const ASK_KEEP: Ask = Ask {
        masks: STACK.masks,
        scope: None,
    };

    /// Instance lines without refusals, as an older kernel's report has them.
    fn instances(list: &[(Kind, Opts)]) -> Vec<Shown> {
        list.iter().map(|&(k, o)| Shown::new(k, o)).collect()
    }

    /// What a report says of its instances, refusals aside.
    fn pairs(r: Report) -> Vec<(Kind, Opts)> {
        r.instances.iter().map(|s| (s.kind, s.opts)).collect()
    }

    fn code_and_msg(r: Res<(u32, u32)>) -> (u8, String) {
        r.err().map(|f| (f.code, f.msg)).unwrap_or_default()
    }

    #[test]
    fn report_reads_live_pending_and_summary() {
        let log = b"i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0\n\
                    i bpf: target_userns: pending cmds=0x0 maps=0x0 progs=0x0 attachs=0x0\n\
                    i bpf: target_userns: 1 live, 1 pending\n";
        assert_eq!(
            parse_report(log),
            Ok(Report {
                instances: instances(&[(Kind::Live, STACK), (Kind::Pending, Opts::default())]),
                found: Some((1, 1)),
            })
        );
    }

    #[test]
    fn report_takes_any_mask_and_no_prefix() {
        let log =
            b"i target_userns: live cmds=0xffffffffffffffff maps=0xABC progs=0x00 attachs=0x1\n\
                    i target_userns: 1 live, 0 pending";
        let r = parse_report(log);
        assert_eq!(
            r.map(pairs),
            Ok(vec![(
                Kind::Live,
                Opts {
                    masks: Masks {
                        cmds: ANY,
                        maps: 0xabc,
                        progs: 0,
                        attachs: 1
                    },
                    cgroup_id: 0
                }
            )])
        );
    }

    #[test]
    fn hex_values() {
        assert_eq!(hex("0x0"), Some(0));
        assert_eq!(hex("0x400"), Some(0x400));
        assert_eq!(hex("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(hex("0x0000000000000000001"), Some(1));
        assert_eq!(hex("0x10000000000000000"), None);
        assert_eq!(hex("400"), None);
        assert_eq!(hex("0x"), None);
        assert_eq!(hex("0x+1"), None);
        assert_eq!(hex("0x1g"), None);
        assert_eq!(hex("0X1"), None);
        assert_eq!(hex(" 0x1"), None);
    }

    #[test]
    fn summary_line() {
        assert_eq!(parse_found("0 live, 0 pending"), Some((0, 0)));
        assert_eq!(parse_found("12 live, 3 pending"), Some((12, 3)));
        assert_eq!(parse_found("12 live, 3"), None);
        assert_eq!(parse_found("+1 live, 0 pending"), None);
        assert_eq!(parse_found("1 live,  0 pending"), None);
        assert_eq!(parse_found("4294967296 live, 0 pending"), None);
    }

    #[test]
    fn malformed_report_lines_are_errors() {
        for line in [
            "live cmds=0x1 maps=0x0 progs=0x0",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 extra=0x0",
            "live maps=0x0 cmds=0x1 progs=0x0 attachs=0x0",
            "dead cmds=0x1 maps=0x0 progs=0x0 attachs=0x0",
            "live cmds=1 maps=0x0 progs=0x0 attachs=0x0",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0xz",
            "live  cmds=0x1 maps=0x0 progs=0x0 attachs=0x0",
            "live cmds:0x1 maps=0x0 progs=0x0 attachs=0x0",
            "",
        ] {
            let log =
                format!("i bpf: target_userns: {line}\ni bpf: target_userns: 1 live, 0 pending\n");
            let r = parse_report(log.as_bytes());
            assert!(
                r.as_ref().is_err_and(|e| e.contains("malformed line")),
                "{line}: {r:?}"
            );
        }
    }

    #[test]
    fn other_lines_are_ignored() {
        let log = b"e bpf: target_userns: names the initial user namespace\n\
                    w bpf: target_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0\n\
                    i bpf: delegate_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0\n\
                    target_userns: 5 live, 5 pending\n\
                    i bpf: something else\n\
                    i bpf: target_userns: 0 live, 0 pending\n";
        assert_eq!(
            parse_report(log),
            Ok(Report {
                instances: vec![],
                found: Some((0, 0)),
            })
        );
        assert_eq!(parse_report(b""), Ok(Report::default()));
    }

    #[test]
    fn non_utf8_is_tolerated_outside_the_report() {
        let log = b"i bpf: \xff\xfe odd\n\
                    \xc3\x28\n\
                    i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0\n\
                    i bpf: target_userns: 1 live, 0 pending\n";
        assert_eq!(parse_report(log).map(pairs), Ok(vec![(Kind::Live, STACK)]));
        let bad = b"i bpf: target_userns: live cmds=0x1\xff maps=0x0 progs=0x0 attachs=0x0\n";
        assert!(parse_report(bad).is_err_and(|e| e.contains("malformed line")));
    }

    #[test]
    fn contradictory_reports_are_errors() {
        let line = "i bpf: target_userns: live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0\n";
        // Lines but no summary.
        assert!(parse_report(line.as_bytes()).is_err());
        // More live lines than the summary counts.
        let log = format!("{line}{line}i bpf: target_userns: 1 live, 5 pending\n");
        assert!(parse_report(log.as_bytes()).is_err_and(|e| e.contains("shows 2 live")));
        // Fewer lines than the log had room for.
        let log = format!("{line}i bpf: target_userns: 2 live, 0 pending\n");
        assert!(parse_report(log.as_bytes()).is_err_and(|e| e.contains("only 1")));
        // Two summaries.
        let log =
            "i bpf: target_userns: 0 live, 0 pending\ni bpf: target_userns: 0 live, 0 pending\n";
        assert!(parse_report(log.as_bytes()).is_err());
    }

    #[test]
    fn a_full_log_keeps_only_the_last_lines() {
        let line = "i bpf: target_userns: live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0\n";
        let log = format!(
            "{}i bpf: target_userns: 10 live, 2 pending\n",
            line.repeat(7)
        );
        let r = parse_report(log.as_bytes());
        assert_eq!(r.as_ref().map(Report::unshown), Ok(5));
        assert!(r
            .as_ref()
            .is_ok_and(|r| unshown_note(r, "not shown").is_some_and(|n| n.contains("5 more"))));
        // Other messages took room: six lines are all there can be.
        let log = format!(
            "i bpf: other\n{}i bpf: target_userns: 10 live, 0 pending\n",
            line.repeat(6)
        );
        assert!(parse_report(log.as_bytes()).is_ok());
    }

    #[test]
    fn read_back_checks_every_instance() {
        let report = |masks: &[(Kind, Opts)], found| Report {
            instances: instances(masks),
            found,
        };
        let ok = report(&[(Kind::Live, STACK), (Kind::Pending, STACK)], Some((1, 1)));
        assert_eq!(verify("ns", &ok, &ASK_STACK).ok(), Some((1, 1)));

        let wrong = report(
            &[(Kind::Live, STACK), (Kind::Live, Opts::default())],
            Some((2, 0)),
        );
        let (code, msg) = code_and_msg(verify("ns", &wrong, &ASK_STACK));
        assert_eq!(code, exit::MISMATCH);
        assert!(msg.contains("read-back mismatch"), "{msg}");
        assert!(
            msg.contains("a live instance shows (nothing delegated)"),
            "{msg}"
        );
        assert!(msg.contains("what was changed has been changed"), "{msg}");

        let reset = report(&[(Kind::Live, STACK)], Some((1, 0)));
        let (code, _) = code_and_msg(verify("ns", &reset, &Ask::REVOKE));
        assert_eq!(code, exit::MISMATCH);

        let none = report(&[], Some((0, 0)));
        let (code, msg) = code_and_msg(verify("user:[5] (pid 7)", &none, &ASK_STACK));
        assert_eq!(code, exit::REFUSED);
        assert_eq!(
            msg,
            "no bpffs instance or pending consent of user namespace user:[5] (pid 7) \
             found; nothing changed"
        );

        let silent = report(&[], None);
        let (code, _) = code_and_msg(verify("ns", &silent, &ASK_STACK));
        assert_eq!(code, exit::MISMATCH);
    }

    #[test]
    fn asks_for_people() {
        assert_eq!(
            ask_words(&ASK_KEEP),
            "delegate_cmds=map_create delegate_maps=stack, cgroup scope kept"
        );
        assert_eq!(
            ask_words(&ASK_STACK),
            "delegate_cmds=map_create delegate_maps=stack, no cgroup scope"
        );
        assert_eq!(
            ask_words(&Ask::REVOKE),
            "(nothing delegated), cgroup scope kept"
        );
        assert_eq!(
            hex_ask(&ASK_SCOPED),
            "cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=4242"
        );
        assert_eq!(
            hex_ask(&Ask::REVOKE),
            "cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=kept"
        );
    }

    #[test]
    fn words_for_people() {
        assert_eq!(
            words(&STACK),
            "delegate_cmds=map_create delegate_maps=stack"
        );
        assert_eq!(words(&Opts::default()), "(nothing delegated)");
        assert_eq!(
            hex_opts(&STACK),
            "cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=0"
        );
        assert_eq!(
            words(&SCOPED),
            "delegate_cmds=map_create delegate_maps=stack delegate_cgroup=4242"
        );
        assert_eq!(
            mask_words(&SCOPED),
            "delegate_cmds=map_create delegate_maps=stack"
        );
        assert_eq!(
            hex_opts(&SCOPED),
            "cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=4242"
        );
    }

    #[test]
    fn the_blob_is_ver1_only_when_the_scope_is_named() {
        let b = blob(&ASK_SCOPED);
        assert_eq!(b.len(), policy::OPTS_SIZE_VER1);
        assert_eq!(b[32..], 4242u64.to_ne_bytes());
        assert_eq!(policy::parse_blob(&b), Ok(SCOPED));
        // No scope (--cgroup none): VER1 with 0, which clears the scope and
        // which a kernel that knows only VER0 takes too.
        let b = blob(&ASK_STACK);
        assert_eq!(b.len(), policy::OPTS_SIZE_VER1);
        assert!(b[32..].iter().all(|&b| b == 0));
        assert_eq!(policy::parse_blob(&b[..32]), Ok(STACK));
        // Without --cgroup, and reset: VER0, which leaves the scope alone.
        assert_eq!(blob(&ASK_KEEP).len(), policy::OPTS_SIZE_VER0);
        assert_eq!(blob(&Ask::REVOKE), [0u8; 32]);
        assert_eq!(policy::parse_blob(&blob(&ASK_KEEP)), Ok(STACK));
        // What the kernel does with them.
        let req = |a: &Ask| {
            let ctx = policy::Context {
                init_userns: false,
                reconfigure: true,
            };
            let b = blob(a);
            policy::parse_param(
                &policy::Request::default(),
                b"abilities",
                policy::Value::Blob(&b),
                &ctx,
                &|| true,
            )
            .and_then(Result::ok)
        };
        let live = State {
            delegated: true,
            dead: false,
            masks: Masks::default(),
            scope: 7,
        };
        let after = |a: &Ask| req(a).map(|r| r.reconfigure(&live).scope);
        assert_eq!(after(&ASK_KEEP), Some(7));
        assert_eq!(after(&Ask::REVOKE), Some(7));
        assert_eq!(after(&ASK_STACK), Some(0));
        assert_eq!(after(&ASK_SCOPED), Some(4242));
        assert_eq!(
            ASK_KEEP.after(7),
            Opts {
                cgroup_id: 7,
                ..STACK
            }
        );
        assert_eq!(ASK_STACK.after(7), STACK);
    }

    #[test]
    fn report_reads_the_scope_if_there_is_one() {
        let log = b"i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=4242\n\
                    i bpf: target_userns: pending cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=0\n\
                    i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0\n\
                    i bpf: target_userns: 2 live, 1 pending\n";
        assert_eq!(
            parse_report(log).map(pairs),
            Ok(vec![
                (Kind::Live, SCOPED),
                (Kind::Pending, STACK),
                (Kind::Live, STACK)
            ])
        );
        assert_eq!(
            parse_instance(
                "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=18446744073709551615"
            )
            .map(|s| s.opts.cgroup_id),
            Some(u64::MAX)
        );
        for bad in [
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0x5",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=-1",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=18446744073709551616",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=5 cgroup=5",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 scope=5",
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 ",
            "live cmds=0x1 maps=0x0 progs=0x0 cgroup=5 attachs=0x0",
        ] {
            assert_eq!(parse_instance(bad), None, "{bad}");
        }
    }

    #[test]
    fn read_back_compares_the_scope() {
        let r = Report {
            instances: instances(&[(Kind::Live, STACK)]),
            found: Some((1, 0)),
        };
        let (code, msg) = code_and_msg(verify("ns", &r, &ASK_SCOPED));
        assert_eq!(code, exit::MISMATCH);
        assert!(
            msg.contains("a live instance shows delegate_cmds=map_create delegate_maps=stack (cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=0) instead of delegate_cmds=map_create delegate_maps=stack, cgroup scope 4242 (cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=4242)"),
            "{msg}"
        );
        let r = Report {
            instances: instances(&[(Kind::Live, SCOPED)]),
            found: Some((1, 0)),
        };
        assert_eq!(verify("ns", &r, &ASK_SCOPED).ok(), Some((1, 0)));
        assert_eq!(code_and_msg(verify("ns", &r, &ASK_STACK)).0, exit::MISMATCH);
        // Without --cgroup any scope is what the masks go with.
        assert_eq!(verify("ns", &r, &ASK_KEEP).ok(), Some((1, 0)));
        let r = Report {
            instances: instances(&[(Kind::Live, Opts::default())]),
            found: Some((1, 0)),
        };
        let (code, msg) = code_and_msg(verify("ns", &r, &ASK_KEEP));
        assert_eq!(code, exit::MISMATCH);
        assert!(
            msg.contains("instead of delegate_cmds=map_create delegate_maps=stack, cgroup scope kept (cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=kept)"),
            "{msg}"
        );
    }

    #[test]
    fn a_change_without_a_scope_keeps_every_scope() {
        let report = |scopes: &[u64], found| Report {
            instances: scopes
                .iter()
                .map(|&id| {
                    Shown::new(
                        Kind::Live,
                        Opts {
                            cgroup_id: id,
                            ..STACK
                        },
                    )
                })
                .collect(),
            found,
        };
        let before = report(&[5, 0, 9], Some((3, 0)));
        // The same scopes, in any order.
        let after = report(&[9, 5, 0], Some((3, 0)));
        assert_eq!(verify_kept("ns", &before, &after).ok(), Some(None));
        // A scope cleared (a kernel that takes VER0 as no scope).
        let after = report(&[0, 5, 0], Some((3, 0)));
        let r = verify_kept("ns", &before, &after).map_err(|f| (f.code, f.msg));
        let (code, msg) = r.err().unwrap_or_default();
        assert_eq!(code, exit::MISMATCH);
        assert!(msg.contains("were [0, 5, 9] before"), "{msg}");
        assert!(msg.contains("are [0, 0, 5] after"), "{msg}");
        // Instances came or went, or are not all shown: nothing to compare.
        for after in [
            report(&[9, 5, 0, 0], Some((4, 0))),
            report(&[9, 5, 0], Some((2, 1))),
        ] {
            let note = verify_kept("ns", &before, &after).ok().flatten();
            assert!(note.is_some_and(|n| n.contains("not compared")));
        }
        let many = report(&[0; 7], Some((9, 0)));
        assert!(verify_kept("ns", &many, &many).ok().flatten().is_some());
    }

    #[test]
    fn the_scope_in_super_options() {
        assert_eq!(mount_scope("rw,delegate,delegate_cmds=map_create"), Ok(0));
        assert_eq!(
            mount_scope("rw,delegate,delegate_maps=stack,delegate_cgroup=4242"),
            Ok(4242)
        );
        assert!(mount_scope("rw,delegate_cgroup=x").is_err());
        assert!(mount_scope("rw,delegate_cgroup=").is_err());
        assert!(mount_scope("delegate_cgroup=1,delegate_cgroup=2").is_err());
    }

    fn masks_of(progs: &str, attachs: &str) -> Masks {
        Masks {
            cmds: 1 << policy::CMD_PROG_LOAD,
            progs: parse_field(Field::Progs, progs).unwrap_or_default(),
            attachs: parse_field(Field::Attachs, attachs).unwrap_or_default(),
            ..Masks::default()
        }
    }

    #[test]
    fn cgroup_programs_are_those_with_a_cgroup_attach_type() {
        let progs = |p: &str, a: &str| cgroup_programs(&masks_of(p, a));
        // Attach type 0 is what a socket filter has: no cgroup program.
        assert!(progs("socket_filter", "cgroup_inet_ingress").is_empty());
        assert!(progs("socket_filter,xdp", "any").is_empty());
        assert!(progs("cgroup_skb", "xdp").is_empty());
        assert!(progs("lsm", "lsm_mac").is_empty());
        assert!(progs("", "any").is_empty());
        assert_eq!(progs("cgroup_skb", "cgroup_inet_ingress"), ["cgroup_skb"]);
        assert_eq!(
            progs("cgroup_sock_addr,xdp", "xdp,cgroup_unix_connect"),
            ["cgroup_sock_addr"]
        );
        assert_eq!(progs("lsm", "lsm_cgroup"), ["lsm (lsm_cgroup)"]);
        assert_eq!(
            progs("any", "any"),
            [
                "cgroup_skb",
                "cgroup_sock",
                "sock_ops",
                "cgroup_device",
                "cgroup_sock_addr",
                "cgroup_sysctl",
                "cgroup_sockopt",
                "lsm (lsm_cgroup)"
            ]
        );
        // Every name in the table is one this kernel knows.
        for (prog, attachs) in CGROUP_PROGS {
            assert!(
                text::lookup(Field::Progs, prog.as_bytes()).is_some(),
                "{prog}"
            );
            for a in *attachs {
                assert!(text::lookup(Field::Attachs, a.as_bytes()).is_some(), "{a}");
            }
        }
    }

    #[test]
    fn the_warning_without_a_scope() {
        assert_eq!(
            unscoped_warning(&masks_of("cgroup_skb,cgroup_sock_addr", "any")).as_deref(),
            Some(
                "warning: delegating cgroup_skb, cgroup_sock_addr without a cgroup scope \
                 lets the container attach them to any cgroup it can open, including the \
                 host's root; use --cgroup PATH (the container's own cgroup)"
            )
        );
        assert_eq!(
            unscoped_warning(&masks_of("socket_filter", "cgroup_inet_ingress")),
            None
        );
    }

    #[test]
    fn cgroup_paths_must_be_cgroup2_directories() {
        let msg = |p: &str| {
            Cgroup::open(p)
                .err()
                .map(|f| (f.code, f.msg))
                .unwrap_or_default()
        };
        let (code, m) = msg("/dev/null");
        assert_eq!(code, exit::USAGE);
        assert!(
            m.starts_with("--cgroup /dev/null: not a cgroup2 directory (not a directory); "),
            "{m}"
        );
        let (code, m) = msg("/proc");
        assert_eq!(code, exit::USAGE);
        assert_eq!(
            m,
            "--cgroup /proc: not a cgroup2 directory (on a filesystem of type 0x9fa0, \
             not cgroup2); give the container's cgroup below the cgroup2 mount, such as \
             /sys/fs/cgroup/..."
        );
        let (code, m) = msg("/nonexistent/bpf-delegate");
        assert_eq!(code, exit::USAGE);
        assert!(
            m.starts_with("--cgroup /nonexistent/bpf-delegate: ENOENT: "),
            "{m}"
        );
        // Where the host has cgroup2: its root is refused (a scope there is
        // no scope), and found by its id, which is its inode number.
        let mut names = CgroupNames::new();
        let Some(root) = names.root.clone() else {
            return;
        };
        let path = root.to_str().unwrap_or_default();
        let (code, m) = msg(path);
        assert_eq!(code, exit::USAGE);
        assert_eq!(
            m,
            format!(
                "--cgroup {path}: the root of the cgroup2 hierarchy (id 1): every cgroup \
                 is below it, so scoping to it is no scope; give the container's own \
                 cgroup, or --cgroup none"
            )
        );
        // By another spelling too.
        let (code, m) = msg(&format!("{path}/./"));
        assert_eq!(code, exit::USAGE);
        assert!(m.contains("the root of the cgroup2 hierarchy"), "{m}");
        let ino = fs::metadata(&root).map(|m| m.ino()).ok();
        assert_eq!(ino, Some(CGROUP_ROOT_ID));
        assert_eq!(names.describe(1), format!("{path} (id 1)"));
        // A cgroup below it, where the tool may make one (root): taken, by
        // its id; through a symlink: refused.
        let sub = root.join(format!("bpf-delegate-test-{}", std::process::id()));
        if fs::create_dir(&sub).is_err() {
            return;
        }
        let sub_path = sub.to_str().unwrap_or_default();
        let sub_ino = fs::metadata(&sub).map(|m| m.ino()).ok();
        let c = Cgroup::open(sub_path).map_err(|f| f.msg);
        let link = std::env::temp_dir().join(format!("bpf-delegate-cg-{}", std::process::id()));
        let linked = std::os::unix::fs::symlink(&sub, &link).map(|()| msg(&link.to_string_lossy()));
        let _ = fs::remove_file(&link);
        let _ = fs::remove_dir(&sub);
        let c = c.unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(Some(c.id), sub_ino);
        assert_ne!(c.id, CGROUP_ROOT_ID);
        let (code, m) = linked.unwrap_or_default();
        assert_eq!(code, exit::USAGE);
        assert!(m.contains(": ELOOP: a symlink on the way"), "{m}");
    }

    #[test]
    fn cgroup_paths_are_not_followed_through_symlinks() {
        let top =
            std::env::temp_dir().join(format!("bpf-delegate-nofollow-{}", std::process::id()));
        let real = top.join("real").join("dir");
        fs::create_dir_all(&real).unwrap_or_else(|e| panic!("{}: {e}", real.display()));
        let link = top.join("link");
        let _ = std::os::unix::fs::symlink(top.join("real"), &link);
        let _ = std::os::unix::fs::symlink(&real, top.join("last"));
        let p = |rel: &str| top.join(rel).to_string_lossy().into_owned();
        for open in [open_dir_nofollow, open_dir_by_components] {
            assert!(open(&p("real/dir")).is_ok());
            assert!(open(&p("real/dir/../dir/")).is_ok());
            // A symlink in the middle, or last.
            assert_eq!(open(&p("link/dir")).err(), Some(Errno::LOOP));
            assert_eq!(open(&p("last")).err(), Some(Errno::LOOP));
            // A magic link.
            assert_eq!(
                open(&format!("/proc/self/cwd/{}", p("real"))).err(),
                Some(Errno::LOOP)
            );
            assert_eq!(open(&p("none")).err(), Some(Errno::NOENT));
            assert_eq!(open("").err(), Some(Errno::NOENT));
        }
        // The components are those of the path; a file is no directory.
        fs::write(top.join("file"), b"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            open_dir_by_components(&p("file")).err(),
            Some(Errno::NOTDIR)
        );
        let _ = fs::remove_dir_all(&top);
        // Through Cgroup::open: said plainly.
        let link = std::env::temp_dir().join(format!("bpf-delegate-proc-{}", std::process::id()));
        let _ = std::os::unix::fs::symlink("/proc", &link);
        let r = Cgroup::open(&link.to_string_lossy())
            .err()
            .map(|f| (f.code, f.msg));
        let _ = fs::remove_file(&link);
        let (code, m) = r.unwrap_or_default();
        assert_eq!(code, exit::USAGE);
        assert!(
            m.ends_with(
                ": ELOOP: a symlink on the way, and symlinks are not followed; \
                         give the cgroup's own path"
            ),
            "{m}"
        );
    }

    #[test]
    fn warnings_follow_the_scope() {
        let skb = masks_of("cgroup_skb", "cgroup_inet_ingress");
        let lsm = masks_of("lsm,cgroup_skb", "lsm_cgroup,cgroup_inet_ingress");
        assert_eq!(scope_warning(&skb, 0), unscoped_warning(&skb));
        assert!(scope_warning(&skb, 0).is_some());
        assert_eq!(scope_warning(&skb, 5), None);
        assert_eq!(
            scope_warning(&lsm, 5).as_deref(),
            Some(
                "warning: delegating lsm programs with attach type lsm_cgroup to an \
                 instance with a cgroup scope: scoped instances refuse BPF_LSM_CGROUP \
                 attaches (its hooks run for the cgroup of whatever task is current, \
                 which no scope contains)"
            )
        );
        assert!(scope_warning(&lsm, 0).is_some_and(|w| w.contains("lsm (lsm_cgroup)")));
        // lsm_cgroup alone, or lsm without it, is no lsm_cgroup program.
        assert_eq!(
            lsm_cgroup_warning(&masks_of("cgroup_skb", "lsm_cgroup")),
            None
        );
        assert_eq!(lsm_cgroup_warning(&masks_of("lsm", "lsm_mac")), None);
        assert!(lsm_cgroup_warning(&masks_of("any", "any")).is_some());
    }

    #[test]
    fn cgroups_are_found_by_inode_number() {
        let top = std::env::temp_dir().join(format!("bpf-delegate-test-{}", std::process::id()));
        let deep = top.join("a").join("b\x1b[2J");
        fs::create_dir_all(&deep).unwrap_or_else(|e| panic!("{}: {e}", deep.display()));
        let ino = |p: &Path| fs::metadata(p).map(|m| m.ino()).unwrap_or_default();
        assert_eq!(find_cgroup(&top, ino(&deep)), Some(deep.clone()));
        assert_eq!(find_cgroup(&top, ino(&top)), Some(top.clone()));
        assert_eq!(find_cgroup(&top.join("a"), ino(&top)), None);
        let mut names = CgroupNames {
            root: Some(top.clone()),
            found: HashMap::new(),
        };
        let shown = names.describe(ino(&deep));
        assert!(
            shown.ends_with(&format!("/a/b\\x1b[2J (id {})", ino(&deep))),
            "{shown}"
        );
        assert_eq!(names.describe(0), "none (any cgroup)");
        assert_eq!(
            names.describe(u64::MAX),
            format!("id {} (not found)", u64::MAX)
        );
        let _ = fs::remove_dir_all(&top);
        names.root = None;
        assert_eq!(names.describe(5), "id 5 (not found: no cgroup2 mount)");
    }

    #[test]
    fn refusing_a_context_that_is_not_a_request() {
        let f = not_a_request_msg(" [kernel: e bpf: delegate: not on a reconfigure context]");
        assert_eq!(f.code, exit::REFUSED);
        assert_eq!(
            f.msg,
            "the context the container sent is not a new bpffs request (delegate: \
             EINVAL: [kernel: e bpf: delegate: not on a reconfigure context]); refusing \
             to fill it in"
        );
        assert!(not_a_request_msg("").msg.contains("(delegate: EINVAL)"));
    }

    #[test]
    fn targets_on_the_command_line() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("bpf-delegate").chain(args.iter().copied()))
        };
        let target = |args: &[&str]| match parse(args).ok().map(|c| c.cmd) {
            Some(Cmd::Reset { target } | Cmd::Show { target, .. } | Cmd::Set { target, .. }) => {
                Some((target.path, target.pid, target.userns))
            }
            _ => None,
        };
        assert_eq!(
            target(&["reset", "--pid", "1234"]),
            Some((None, Some(1234), None))
        );
        assert_eq!(
            target(&["show", "--userns", "/run/ns"]),
            Some((None, None, Some("/run/ns".into())))
        );
        assert_eq!(
            target(&["set", "/sys/fs/bpf", "--pid", "1", "--maps", "stack"]),
            Some((Some("/sys/fs/bpf".into()), Some(1), None))
        );
        assert_eq!(
            target(&["show", "/sys/fs/bpf"]),
            Some((Some("/sys/fs/bpf".into()), None, None))
        );
        assert!(parse(&["reset"]).is_err());
        let cgroup = |args: &[&str]| match parse(args).ok().map(|c| c.cmd) {
            Some(Cmd::Set { masks, .. } | Cmd::Run { masks, .. }) => masks.cgroup,
            _ => None,
        };
        assert_eq!(
            cgroup(&["set", "--pid", "1", "--cgroup", "/sys/fs/cgroup/c"]),
            Some("/sys/fs/cgroup/c".into())
        );
        assert_eq!(
            cgroup(&["run", "--cgroup", "/sys/fs/cgroup/c", "--", "true"]),
            Some("/sys/fs/cgroup/c".into())
        );
        assert_eq!(
            cgroup(&["set", "--pid", "1", "--cgroup", "none"]),
            Some("none".into())
        );
        let ask = |args: &[&str]| match parse(args).ok().map(|c| c.cmd) {
            Some(Cmd::Set { masks, .. }) => masks.abilities().ok().map(|(a, _)| a.scope),
            _ => None,
        };
        // No --cgroup: the scope is kept; none: cleared.
        assert_eq!(ask(&["set", "--pid", "1", "--maps", "stack"]), Some(None));
        assert_eq!(
            ask(&["set", "--pid", "1", "--cgroup", "none"]),
            Some(Some(0))
        );
        assert!(parse(&["reset", "--pid", "1", "--cgroup", "/x"]).is_err());
        assert!(parse(&["show", "--pid", "1", "--cgroup", "/x"]).is_err());
        assert!(parse(&["show", "/sys/fs/bpf", "--userns", "/run/ns"]).is_err());
        assert!(parse(&["reset", "--pid", "1", "--userns", "/run/ns"]).is_err());
    }

    /// A refusal of map_create of a queue map by `comm`.
    fn queue_refusal(seq: u64, comm: &[u8]) -> Refusal {
        Refusal {
            seq,
            cmd: 0,
            map_type: Some(22),
            prog_type: None,
            attach_type: None,
            why: Why::MapType,
            pid: 1234,
            vpid: 7,
            comm: comm.to_vec(),
        }
    }

    #[test]
    fn report_reads_refusal_lines() {
        let log = b"i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=0 refused=3\n\
                    i bpf: target_userns: refused #2 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1234 vpid=7 comm=loader\n\
                    i bpf: target_userns: refused #3 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1234 vpid=7 comm=my loader  x\n\
                    i bpf: target_userns: pending cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0\n\
                    i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=4242 refused=0\n\
                    i bpf: target_userns: 2 live, 1 pending\n";
        let r = parse_report(log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.found, Some((2, 1)));
        assert_eq!(
            r.instances,
            [
                Shown {
                    kind: Kind::Live,
                    opts: STACK,
                    refused: Some(3),
                    refusals: vec![
                        queue_refusal(2, b"loader"),
                        queue_refusal(3, b"my loader  x")
                    ],
                },
                Shown::new(Kind::Pending, Opts::default()),
                Shown {
                    refused: Some(0),
                    ..Shown::new(Kind::Live, SCOPED)
                },
            ]
        );
        assert_eq!(r.instances[0].refusals_not_shown(), Some(1));
        assert_eq!(r.instances[1].refusals_not_shown(), None);
        assert_eq!(r.instances[2].refusals_not_shown(), Some(0));
        assert_eq!(r.unshown(), 0);
    }

    #[test]
    fn an_old_kernels_live_line_has_no_refusal_count() {
        let log =
            b"i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0 cgroup=0\n\
                    i bpf: target_userns: live cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0\n\
                    i bpf: target_userns: 2 live, 0 pending\n";
        let r = parse_report(log).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.instances.iter().all(|s| s.refused.is_none()));
        assert!(r.instances.iter().all(|s| s.refusals_not_shown().is_none()));
        assert_eq!(refusal_lines(&r.instances[0], "    "), "");
        // Without a scope but with a count; a pending line has none.
        let s = parse_instance(
            "live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 refused=18446744073709551615",
        );
        assert_eq!(s.and_then(|s| s.refused), Some(u64::MAX));
        for bad in [
            "pending cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=0",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=-1",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=0x1",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=1 refused=1",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 refused=1 cgroup=0",
            "live cmds=0x0 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=18446744073709551616",
        ] {
            assert_eq!(parse_instance(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusal_lines_take_any_comm() {
        let line = |comm: &[u8]| {
            let mut l = b"refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=37 why=prog_type pid=9 vpid=9 comm=".to_vec();
            l.extend_from_slice(comm);
            parse_refusal(&l).map(|r| r.comm)
        };
        for comm in [
            &b"loader"[..],
            b"",
            b" ",
            b"a b  c ",
            b"comm=x why=cmd",
            b"\xff\xfe\x1b[2J",
            b"\"quoted\\",
        ] {
            assert_eq!(line(comm), Some(comm.to_vec()), "{}", escape(comm));
        }
        // In a report, a comm that is not UTF-8 is no malformed line.
        let log = b"i bpf: target_userns: live cmds=0x20 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=1\n\
                    i bpf: target_userns: refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=37 why=prog_type pid=9 vpid=9 comm=\xc3\x28 x\n\
                    i bpf: target_userns: 1 live, 0 pending\n";
        let r = parse_report(log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.instances[0].refusals[0].comm, b"\xc3\x28 x");
        assert_eq!(
            refusal_lines(&r.instances[0], "  "),
            "  refused #1: prog_load of xdp for xdp: progs does not delegate xdp (pid 9, comm \"\\xc3( x\")\n"
        );
    }

    #[test]
    fn malformed_refusal_lines_are_errors() {
        let good = "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x";
        assert!(parse_refusal(good.as_bytes()).is_some());
        for bad in [
            // A bad why: unknown, another case, empty, not a word.
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=MAP_TYPE pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why= pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=allowed pid=1 vpid=1 comm=x",
            // The why does not go with the types asked.
            "refused #1 cmd=0 map_type=-1 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=-1 why=attach_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=37 why=attach_type_missing pid=1 vpid=1 comm=x",
            "refused #1 cmd=5 map_type=-1 prog_type=6 attach_type=-1 why=prog_type_missing pid=1 vpid=1 comm=x",
            // Numbers.
            "refused #0 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused 1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=-1 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=-2 prog_type=-1 attach_type=-1 why=cmd pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=0x16 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=-1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=4294967296 comm=x",
            // Fields missing, out of order, or spaced apart.
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1",
            "refused #1 cmd=0 map_type=22 prog_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 prog_type=-1 map_type=22 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1  cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused  #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x",
            "refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm:x",
            "refused",
        ] {
            assert_eq!(parse_refusal(bad.as_bytes()), None, "{bad}");
            let log = format!(
                "i bpf: target_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=1\n\
                 i bpf: target_userns: {bad}\n\
                 i bpf: target_userns: 1 live, 0 pending\n"
            );
            let r = parse_report(log.as_bytes());
            assert!(
                r.as_ref().is_err_and(|e| e.contains("malformed line")),
                "{bad}: {r:?}"
            );
        }
    }

    #[test]
    fn a_refusal_line_belongs_to_the_live_line_before_it() {
        let refusal = "i bpf: target_userns: refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x\n";
        let live = "i bpf: target_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused=1\n";
        let pending =
            "i bpf: target_userns: pending cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0\n";
        let summary =
            |live, pending| format!("i bpf: target_userns: {live} live, {pending} pending\n");
        let no_owner = |log: String| {
            let r = parse_report(log.as_bytes());
            assert!(
                r.as_ref().is_err_and(|e| e.contains("malformed line")
                    && e.contains("no live instance line before it")),
                "{log}: {r:?}"
            );
        };
        // Before any live line, after a pending one, after the summary.
        no_owner(format!("{refusal}{live}{}", summary(1, 0)));
        no_owner(format!("{live}{pending}{refusal}{}", summary(1, 1)));
        no_owner(format!("{live}{}{refusal}", summary(1, 0)));
        // Other messages between are no report lines.
        let log = format!("{live}i bpf: other\n{refusal}{}", summary(1, 0));
        assert!(parse_report(log.as_bytes()).is_ok_and(|r| r.instances[0].refusals.len() == 1));
        // A live line without refused= (an old kernel's) has none.
        let old = "i bpf: target_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0\n";
        let r = parse_report(format!("{old}{refusal}{}", summary(1, 0)).as_bytes());
        assert!(r.is_err_and(|e| e.contains("no refused= count")));
        // More refusals than it counts, or out of order.
        let r = parse_report(
            format!("{live}{}{}", refusal.replace("#1", "#2"), summary(1, 0)).as_bytes(),
        );
        assert!(r.is_err_and(|e| e.contains("refusal #2 of an instance that says it refused 1")));
        let two = live.replace("refused=1", "refused=2");
        let r = parse_report(format!("{two}{refusal}{refusal}{}", summary(1, 0)).as_bytes());
        assert!(r.is_err_and(|e| e.contains("refusal #1 out of order")));
        let r = parse_report(
            format!(
                "{two}{}{refusal}{}",
                refusal.replace("#1", "#2"),
                summary(1, 0)
            )
            .as_bytes(),
        );
        assert!(r.is_err_and(|e| e.contains("out of order")));
        // Each live line owns the refusal lines after it.
        let r = parse_report(format!("{two}{refusal}{live}{refusal}{}", summary(2, 0)).as_bytes());
        let counts = r.map(|r| {
            r.instances
                .iter()
                .map(|s| s.refusals.len())
                .collect::<Vec<_>>()
        });
        assert_eq!(counts, Ok(vec![1, 1]));
    }

    #[test]
    fn refusal_lines_take_room_in_the_log() {
        let live = |n: u64| {
            format!("i bpf: target_userns: live cmds=0x1 maps=0x0 progs=0x0 attachs=0x0 cgroup=0 refused={n}\n")
        };
        let refusal = |seq: u64| {
            format!("i bpf: target_userns: refused #{seq} cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=1 vpid=1 comm=x\n")
        };
        // One instance, the six a ring keeps and the summary: 8 messages.
        let log = format!(
            "{}{}i bpf: target_userns: 1 live, 0 pending\n",
            live(9),
            (4..=9).map(refusal).collect::<String>()
        );
        let r = parse_report(log.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.instances[0].refusals.len(), 6);
        assert_eq!(r.instances[0].refusals_not_shown(), Some(3));
        // Two instances share the room: the first gets it.
        let log = format!(
            "{}{}{}i bpf: target_userns: 2 live, 0 pending\n",
            live(5),
            (1..=5).map(refusal).collect::<String>(),
            live(2)
        );
        let r = parse_report(log.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.instances[1].refusals_not_shown(), Some(2));
        assert_eq!(r.unshown(), 0);
        // Refusal lines leave room for every instance line: one missing is
        // a log that lost it.
        let log = format!(
            "{}{}{}i bpf: target_userns: 3 live, 0 pending\n",
            live(4),
            (1..=4).map(refusal).collect::<String>(),
            live(0)
        );
        let r = parse_report(log.as_bytes());
        assert!(r.is_err_and(|e| e.contains("shows only 2 of them")));
    }

    #[test]
    fn refusals_in_words() {
        let r = queue_refusal(3, b"loader");
        assert_eq!(
            r.words(),
            "map_create of queue: maps does not delegate queue"
        );
        assert_eq!(r.who(), "pid 1234, 7 in its pid namespace, comm \"loader\"");
        let same = Refusal {
            vpid: 1234,
            comm: b"a \"b\"\x1b".to_vec(),
            ..r.clone()
        };
        assert_eq!(same.who(), "pid 1234, comm \"a \\x22b\\x22\\x1b\"");
        // The kernel writes a newline as "\x0a" and a backslash as "\x5c";
        // the tool shows what it wrote, quoting only its own quote.
        let escaped = Refusal {
            comm: b"a\\nb\\\xe9".to_vec(),
            ..r.clone()
        };
        assert_eq!(
            escaped.who(),
            "pid 1234, 7 in its pid namespace, comm \"a\\nb\\\\xe9\""
        );
        let words = |cmd: u32, m: i64, p: i64, a: i64, why: Why| {
            let t = |v: i64| u64::try_from(v).ok();
            Refusal {
                cmd,
                map_type: t(m),
                prog_type: t(p),
                attach_type: t(a),
                why,
                ..r.clone()
            }
            .words()
        };
        assert_eq!(
            words(5, -1, -1, -1, Why::Cmd),
            "prog_load: cmds does not delegate prog_load"
        );
        assert_eq!(
            words(0, 22, -1, -1, Why::Cmd),
            "map_create of queue: cmds does not delegate map_create"
        );
        assert_eq!(
            words(5, -1, 18, -1, Why::ProgType),
            "prog_load of cgroup_sock_addr: progs does not delegate cgroup_sock_addr"
        );
        assert_eq!(
            words(5, -1, 18, 10, Why::AttachType),
            "prog_load of cgroup_sock_addr for cgroup_inet4_connect: attachs does not \
             delegate cgroup_inet4_connect"
        );
        assert_eq!(
            words(5, -1, 6, 0, Why::Cap(Cap::NetAdmin)),
            "prog_load of xdp for cgroup_inet_ingress: delegated, but the caller lacks \
             CAP_NET_ADMIN in the instance's user namespace"
        );
        assert_eq!(Why::from_name("cap_bpf"), Some(Why::Cap(Cap::Bpf)));
        assert_eq!(
            Why::from_name("cap_sys_admin"),
            Some(Why::Cap(Cap::SysAdmin))
        );
        assert_eq!(
            words(5, -1, 18, -1, Why::AttachTypeMissing),
            "prog_load of cgroup_sock_addr: half a program question: a program type \
             without an attach type"
        );
        assert_eq!(
            words(5, -1, -1, 10, Why::ProgTypeMissing),
            "prog_load for cgroup_inet4_connect: half a program question: an attach \
             type without a program type"
        );
        assert_eq!(
            words(0, 23, -1, -1, Why::Nothing),
            "map_create of stack: the instance delegates nothing (reset)"
        );
        assert_eq!(
            words(18, -1, -1, -1, Why::Gone),
            "btf_load: the instance is gone"
        );
        // Values this tool has no name for: by number.
        assert_eq!(
            words(99, 4294967295, -1, -1, Why::MapType),
            "command 99 of map type 4294967295: maps does not delegate map type 4294967295"
        );
        assert_eq!(
            words(5, -1, 1000, 1001, Why::AttachType),
            "prog_load of program type 1000 for attach type 1001: attachs does not \
             delegate attach type 1001"
        );
        // The first name of a value, not an alias.
        assert_eq!(
            value_name(Field::Cmds, 10).as_deref(),
            Some("prog_test_run")
        );
        for why in Why::ALL {
            assert_eq!(Why::from_name(why.name()), Some(why));
        }
    }

    #[test]
    fn refusal_lines_for_people() {
        let s = Shown {
            refused: Some(3),
            refusals: vec![queue_refusal(2, b"loader"), queue_refusal(3, b"")],
            ..Shown::new(Kind::Live, STACK)
        };
        assert_eq!(
            refusal_lines(&s, "    "),
            "    (1 earlier refusal not shown)\n\
             \x20   refused #2: map_create of queue: maps does not delegate queue (pid 1234, 7 in its pid namespace, comm \"loader\")\n\
             \x20   refused #3: map_create of queue: maps does not delegate queue (pid 1234, 7 in its pid namespace, comm \"\")\n"
        );
        let none_shown = Shown {
            refused: Some(2),
            ..Shown::new(Kind::Live, STACK)
        };
        assert_eq!(
            refusal_lines(&none_shown, "  "),
            "  (2 refusals not shown)\n"
        );
        let all_shown = Shown {
            refused: Some(1),
            refusals: vec![queue_refusal(1, b"x")],
            ..Shown::new(Kind::Live, STACK)
        };
        assert!(!refusal_lines(&all_shown, "").contains("not shown"));
        let quiet = Shown {
            refused: Some(0),
            ..Shown::new(Kind::Live, STACK)
        };
        assert_eq!(refusal_lines(&quiet, "    "), "");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str(""), "\"\"");
        assert_eq!(json_str("plain text: 0x1 ~"), "\"plain text: 0x1 ~\"");
        assert_eq!(json_str("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
        assert_eq!(
            json_str("\n\r\t\u{0}\u{1b}[2J\u{7f}"),
            "\"\\u000a\\u000d\\u0009\\u0000\\u001b[2J\\u007f\""
        );
        // C1 controls too (U+009B is a CSI); other characters as they are.
        assert_eq!(json_str("\u{9b}\u{85}é€😀"), "\"\\u009b\\u0085é€😀\"");
        assert_eq!(json_bytes(b"a\xffb\""), "\"a\u{fffd}b\\\"\"");
        assert_eq!(json_opt(None::<u64>), "null");
        assert_eq!(json_opt(Some(5)), "5");
        assert_eq!(json_array(Vec::new()), "[]");
        assert_eq!(json_array(["1".to_string(), json_str("x")]), "[1, \"x\"]");
        assert_eq!(
            JsonObject::new()
                .str("k\"", "v")
                .raw("n", 1)
                .fields(JsonObject::new().raw("b", true))
                .end(),
            "{\"k\\\"\": \"v\", \"n\": 1, \"b\": true}"
        );
        assert_eq!(JsonObject::new().end(), "{}");
    }

    #[test]
    fn json_of_an_instance() {
        let mut names = CgroupNames {
            root: None,
            found: HashMap::new(),
        };
        let s = Shown {
            refused: Some(3),
            refusals: vec![queue_refusal(3, b"lo\"ad\ner")],
            ..Shown::new(Kind::Live, SCOPED)
        };
        assert_eq!(
            JsonObject::new()
                .fields(instance_json(&s, &mut names))
                .end(),
            "{\"state\": \"live\", \"cmds\": [\"map_create\"], \"maps\": [\"stack\"], \
             \"progs\": [], \"attachs\": [], \"masks\": {\"cmds\": \"0x1\", \"maps\": \
             \"0x800000\", \"progs\": \"0x0\", \"attachs\": \"0x0\"}, \"cgroup_id\": 4242, \
             \"cgroup\": null, \"refused\": 3, \"refusals_not_shown\": 2, \"refusals\": \
             [{\"seq\": 3, \"cmd\": \"map_create\", \"map_type\": \"queue\", \"prog_type\": \
             null, \"attach_type\": null, \"why\": \"map_type\", \"words\": \"map_create of \
             queue: maps does not delegate queue\", \"pid\": 1234, \"vpid\": 7, \"comm\": \
             \"lo\\\"ad\\u000aer\"}]}"
        );
        // Pending, or an old kernel: no count.
        let p = Shown::new(Kind::Pending, Opts::default());
        let j = JsonObject::new()
            .fields(instance_json(&p, &mut names))
            .end();
        assert!(
            j.ends_with("\"refused\": null, \"refusals_not_shown\": null, \"refusals\": []}"),
            "{j}"
        );
        // Types without a name are numbers; unknown bits are not listed.
        assert_eq!(json_value(Field::Maps, 999), "999");
        assert_eq!(
            json_mask(Field::Maps, 1 << 23 | 1 << 1),
            "[\"hash\", \"stack\"]"
        );
        assert_eq!(json_mask(Field::Maps, 1 << 63), "[]");
        let any = json_mask(Field::Cmds, ANY);
        assert!(
            any.starts_with("[\"map_create\", \"map_lookup_elem\""),
            "{any}"
        );
        assert!(!any.contains("prog_run\""), "{any}");
    }

    #[test]
    fn delegation_from_mount_options() {
        assert_eq!(
            mount_delegation("rw,delegate,delegate_cmds=map_create,delegate_maps=stack"),
            Ok(STACK)
        );
        assert_eq!(
            mount_delegation(
                "rw,delegate,delegate_cmds=map_create,delegate_maps=stack,delegate_cgroup=4242"
            ),
            Ok(SCOPED)
        );
        let o = mount_delegation("rw,delegate_maps=stack:queue:0x2,delegate_progs=any");
        assert_eq!(
            o.map(|o| (o.masks.maps, o.masks.progs)),
            Ok((1 << 23 | 1 << 22 | 2, ANY))
        );
        assert_eq!(mount_delegation("rw"), Ok(Opts::default()));
        assert!(mount_delegation("rw,delegate_maps=nosuch").is_err());
        assert!(mount_delegation("rw,delegate_cgroup=x").is_err());
    }

    #[test]
    fn show_takes_json() {
        let json = |args: &[&str]| match Cli::try_parse_from(
            std::iter::once("bpf-delegate").chain(args.iter().copied()),
        )
        .ok()
        .map(|c| c.cmd)
        {
            Some(Cmd::Show { json, .. }) => Some(json),
            _ => None,
        };
        assert_eq!(json(&["show", "--pid", "1", "--json"]), Some(true));
        assert_eq!(
            json(&["show", "/sys/fs/bpf", "--pid", "1", "--json"]),
            Some(true)
        );
        assert_eq!(json(&["show", "--userns", "/run/ns"]), Some(false));
        assert_eq!(json(&["reset", "--pid", "1", "--json"]), None);
    }

    /// The report on a container like the selftest's: the libbpf client was
    /// refused a queue map through its token and through the bpffs fd.
    const CLIENT_REPORT: &[u8] = b"i bpf: target_userns: live cmds=0x40021 maps=0x800000 progs=0x2 attachs=0x1 cgroup=0 refused=2\n\
        i bpf: target_userns: refused #1 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=4321 vpid=4321 comm=libbpf_client\n\
        i bpf: target_userns: refused #2 cmd=0 map_type=22 prog_type=-1 attach_type=-1 why=map_type pid=4321 vpid=4321 comm=libbpf_client\n\
        i bpf: target_userns: 1 live, 0 pending\n";

    const CLIENT_OPTIONS: &str = "rw,nosuid,nodev,noexec,relatime,delegate,\
        delegate_cmds=map_create:prog_load:btf_load,delegate_maps=stack,\
        delegate_progs=socket_filter,delegate_attachs=cgroup_inet_ingress";

    fn no_cgroup2() -> CgroupNames {
        CgroupNames {
            root: None,
            found: HashMap::new(),
        }
    }

    #[test]
    fn show_by_user_namespace() {
        let r = parse_report(CLIENT_REPORT).unwrap_or_else(|e| panic!("{e}"));
        let refusal =
            "map_create of queue: maps does not delegate queue (pid 4321, comm \"libbpf_client\")";
        assert_eq!(
            userns_text("user:[4026532] (pid 4321)", &r, &mut no_cgroup2()),
            format!(
                "user:[4026532] (pid 4321): 1 live, 0 pending\n  live: \
                 delegate_cmds=map_create:prog_load:btf_load delegate_maps=stack \
                 delegate_progs=socket_filter delegate_attachs=cgroup_inet_ingress; \
                 cgroup: none (any cgroup)\n    refused #1: {refusal}\n    refused #2: \
                 {refusal}\n"
            )
        );
        let refusal = "{\"seq\": 1, \"cmd\": \"map_create\", \"map_type\": \"queue\", \
                       \"prog_type\": null, \"attach_type\": null, \"why\": \"map_type\", \
                       \"words\": \"map_create of queue: maps does not delegate queue\", \
                       \"pid\": 4321, \"vpid\": 4321, \"comm\": \"libbpf_client\"}";
        assert_eq!(
            userns_json("user:[4026532] (pid 4321)", 4026532, &r, &mut no_cgroup2()),
            format!(
                "{{\"userns\": \"user:[4026532] (pid 4321)\", \"userns_inode\": 4026532, \
                 \"live\": 1, \"pending\": 0, \"instances_not_shown\": 0, \"instances\": \
                 [{{\"state\": \"live\", \"cmds\": [\"map_create\", \"prog_load\", \
                 \"btf_load\"], \"maps\": [\"stack\"], \"progs\": [\"socket_filter\"], \
                 \"attachs\": [\"cgroup_inet_ingress\"], \"masks\": {{\"cmds\": \"0x40021\", \
                 \"maps\": \"0x800000\", \"progs\": \"0x2\", \"attachs\": \"0x1\"}}, \
                 \"cgroup_id\": 0, \"cgroup\": null, \"refused\": 2, \"refusals_not_shown\": \
                 0, \"refusals\": [{refusal}, {}]}}]}}\n",
                refusal.replace("\"seq\": 1", "\"seq\": 2")
            )
        );
        // Nothing found: no instances, in either form.
        let none = Report {
            instances: vec![],
            found: Some((0, 0)),
        };
        assert_eq!(
            userns_json("ns", 1, &none, &mut no_cgroup2()),
            "{\"userns\": \"ns\", \"userns_inode\": 1, \"live\": 0, \"pending\": 0, \
             \"instances_not_shown\": 0, \"instances\": []}\n"
        );
        assert!(userns_text("ns", &none, &mut no_cgroup2()).contains("(no bpffs instance"));
    }

    #[test]
    fn show_by_path() {
        let r = parse_report(CLIENT_REPORT).unwrap_or_else(|e| panic!("{e}"));
        let known = MountRefusals::Known(r.instances[0].clone());
        let text = mount_text(
            "/sys/fs/bpf",
            CLIENT_OPTIONS,
            &known,
            4321,
            &mut no_cgroup2(),
        );
        let refusal =
            "map_create of queue: maps does not delegate queue (pid 4321, comm \"libbpf_client\")";
        assert_eq!(
            text,
            format!(
                "/sys/fs/bpf: delegated\n  delegate_cmds=map_create:prog_load:btf_load\n  \
                 delegate_maps=stack\n  delegate_progs=socket_filter\n  \
                 delegate_attachs=cgroup_inet_ingress\n  cgroup: none (any cgroup)\n  \
                 refused #1: {refusal}\n  refused #2: {refusal}\n"
            )
        );
        let json = mount_json(
            "/sys/fs/bpf",
            CLIENT_OPTIONS,
            &known,
            4321,
            &mut no_cgroup2(),
        );
        let json = json.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            json.starts_with(
                "{\"path\": \"/sys/fs/bpf\", \"delegated\": true, \"cmds\": [\"map_create\", \
                 \"prog_load\", \"btf_load\"], \"maps\": [\"stack\"], "
            ),
            "{json}"
        );
        assert!(
            json.ends_with(
                "\"refused\": 2, \"refusals_not_shown\": 0, \"refusals\": [{\"seq\": 1, \
                 \"cmd\": \"map_create\", \"map_type\": \"queue\", \"prog_type\": null, \
                 \"attach_type\": null, \"why\": \"map_type\", \"words\": \"map_create of \
                 queue: maps does not delegate queue\", \"pid\": 4321, \"vpid\": 4321, \
                 \"comm\": \"libbpf_client\"}, {\"seq\": 2, \"cmd\": \"map_create\", \
                 \"map_type\": \"queue\", \"prog_type\": null, \"attach_type\": null, \"why\": \
                 \"map_type\", \"words\": \"map_create of queue: maps does not delegate \
                 queue\", \"pid\": 4321, \"vpid\": 4321, \"comm\": \"libbpf_client\"}], \
                 \"refusals_note\": null}\n"
            ),
            "{json}"
        );
        // Without --pid: nothing said in text; null and why in JSON.
        let opts = "rw,delegate,delegate_maps=stack";
        let text = mount_text("/b", opts, &MountRefusals::Unknown, 0, &mut no_cgroup2());
        assert_eq!(
            text,
            "/b: delegated\n  delegate_maps=stack\n  cgroup: none (any cgroup)\n"
        );
        let json = mount_json("/b", opts, &MountRefusals::Unknown, 0, &mut no_cgroup2());
        assert!(
            json.as_ref().is_ok_and(|j| j.ends_with(
                "\"refused\": null, \"refusals_not_shown\": null, \"refusals\": [], \
                 \"refusals_note\": \"not known without --pid (its user namespace is not \
                 known)\"}\n"
            )),
            "{json:?}"
        );
        // Several live instances, or no report: said.
        let text = mount_text(
            "/b",
            opts,
            &MountRefusals::Several(2),
            77,
            &mut no_cgroup2(),
        );
        assert!(
            text.ends_with(
                "  refusals: its user namespace has 2 live instances, which the kernel's \
                 report does not tell apart: 'bpf-delegate show --pid 77' shows them all\n"
            ),
            "{text}"
        );
        let unread = MountRefusals::Unread("EPERM: x".into());
        let text = mount_text("/b", opts, &unread, 77, &mut no_cgroup2());
        assert!(text.ends_with("  refusals: not read: EPERM: x\n"), "{text}");
        // Options that do not parse are no JSON.
        let bad = mount_json(
            "/b",
            "rw,delegate_maps=nosuch",
            &unread,
            77,
            &mut no_cgroup2(),
        );
        assert!(bad.is_err());
    }
}
