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

mod session;

use std::ffi::OsString;
use std::fs;
use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use bpf_delegation_host::policy::{self, Field, Masks, State};
use bpf_delegation_host::text;
use clap::{Args, Parser, Subcommand};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{
    fstat, fstatfs, open, openat2, stat, statx, AtFlags, Mode, OFlags, ResolveFlags, StatxFlags,
    CWD,
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

Names are the kernel's (enum bpf_cmd, bpf_map_type, bpf_prog_type,
bpf_attach_type), any case, with or without their BPF_ prefixes, separated by
',' or ':'; numbers and \"any\" work too.  Exit codes: 0 done, 1 refused by the
kernel or no instance of the user namespace found (nothing changed), 2 usage,
3 an instance does not say what was asked after a change, or could not be
read back (the change stays made; the message says what it was); a closed
standard output ends the tool with 1; 'run' exits with the command's status, or 1 if revoking its instance
after the command exited failed.";

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
    /// Replace what a mounted bpffs, or every bpffs of a user namespace,
    /// delegates.
    Set {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        masks: MaskArgs,
    },
    /// Revoke everything a mounted bpffs, or every bpffs of a user
    /// namespace, delegates.
    Reset {
        #[command(flatten)]
        target: Target,
    },
    /// Show what a mounted bpffs, or every bpffs of a user namespace,
    /// delegates.
    Show {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args)]
struct MaskArgs {
    /// Commands (map_create, btf_load, prog_load).
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
        policy::parse_blob(&blob(&masks)).map_err(|e| usage(e.to_string()))
    }
}

/// `struct bpf_delegation_opts`, version 0.
fn blob(m: &Masks) -> [u8; policy::OPTS_SIZE_VER0] {
    let mut b = [0u8; policy::OPTS_SIZE_VER0];
    for (i, f) in Field::ALL.into_iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&m.get(f).to_ne_bytes());
    }
    b
}

/// What mountinfo shows for these masks.
fn shown(m: &Masks) -> String {
    let mut s = String::new();
    let _ = text::show(
        &mut s,
        &State {
            delegated: false,
            dead: false,
            masks: *m,
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
    // SAFETY: plain system calls on this single-threaded process.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0
        && unsafe { libc::getgroups(0, std::ptr::null_mut()) } != 0
    {
        return Err(usage(format!(
            "dropping the supplementary groups: {}",
            std::io::Error::last_os_error()
        )));
    }
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
    let fs = fsopen("bpf", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| refused("fsopen(\"bpf\")", e, None))?;
    send_fd(&sock, fs.as_fd())?;
    if recv_byte(&sock)? != 0 {
        return Err(usage("the delegating side refused".into()));
    }
    fsconfig_create(&fs).map_err(|e| refused("creating the bpffs", e, Some(fs.as_fd())))?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| refused("fsmount", e, Some(fs.as_fd())))?;
    // The delegating side keeps a handle on this very instance before anyone
    // can reach it through a path.
    send_fd(&sock, mnt.as_fd())?;
    if recv_byte(&sock)? != 0 {
        return Err(usage("the delegating side refused the instance".into()));
    }
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
    let masks = a.masks.masks()?;
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
        let instance = delegate(&ours, pid, uid, gid, &masks)?;
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
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    })
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
        fsconfig_set_binary(&self.pick, "abilities", &blob(&Masks::default()))
            .map_err(|e| why(refused("abilities", e, Some(self.pick.as_fd()))))?;
        fsconfig_reconfigure(&self.pick)
            .map_err(|e| why(refused("reconfigure", e, Some(self.pick.as_fd()))))
    }
}

/// The privileged side of `run`: map the container's ids, take its
/// context, consent for its user namespace only, and give it back; then
/// take the instance's mount before it is attached and keep a handle on it.
fn delegate(sock: &UnixStream, pid: i32, uid: u32, gid: u32, masks: &Masks) -> Res<Instance> {
    recv_byte(sock)?;
    write_map(pid, "setgroups", "deny")?;
    write_map(pid, "uid_map", &format!("0 {uid} 1"))?;
    write_map(pid, "gid_map", &format!("0 {gid} 1"))?;
    send_byte(sock, 0)?;
    let fs = recv_fd(sock)?;
    // Nothing that grants is written before two checks passed.
    // `delegate_userns` records nothing and fails unless the context is of
    // the child's user namespace, so `delegate` is never set on a context of
    // a namespace nobody checked (a flag that cannot be taken back).
    let userns = fs::File::open(format!("/proc/{pid}/ns/user"))
        .map_err(|e| usage(format!("user namespace: {e}")))?;
    fsconfig_set_fd(&fs, "delegate_userns", userns.as_fd())
        .map_err(|e| refused("delegate_userns", e, Some(fs.as_fd())))?;
    // `delegate` next: the kernel refuses it on anything but a new bpffs
    // request, so a container cannot send a reconfigure context of its own
    // live instance to have consent recorded on it.
    fsconfig_set_flag(&fs, "delegate").map_err(|e| not_a_request(e, fs.as_fd()))?;
    fsconfig_set_binary(&fs, "abilities", &blob(masks))
        .map_err(|e| refused("abilities", e, Some(fs.as_fd())))?;
    send_byte(sock, 0)?;
    let mnt = recv_fd(sock)?;
    let instance = Instance::take(&mnt, userns.as_fd())?;
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

fn set(t: &Target, masks: &Masks) -> Res<u8> {
    match &t.path {
        Some(path) => set_mount(path, t.pid, masks),
        None => set_userns(&open_userns(t)?, masks),
    }
}

fn show(t: &Target) -> Res<u8> {
    match &t.path {
        Some(path) => show_mount(path, t.pid),
        None => show_userns(&open_userns(t)?),
    }
}

/// Replaces what the bpffs mounted at `path` delegates.
fn set_mount(path: &str, pid: Option<u32>, masks: &Masks) -> Res<u8> {
    let m = open_target(path, pid)?;
    let pick = pick(path, &m)?;
    fsconfig_set_binary(&pick, "abilities", &blob(masks))
        .map_err(|e| refused("abilities", e, Some(pick.as_fd())))?;
    fsconfig_reconfigure(&pick).map_err(|e| refused("reconfigure", e, Some(pick.as_fd())))?;
    // An old kernel ignores unknown keys: read the instance back.
    let applied = format!(
        "the abilities of {path} were set to {} ({})",
        words(masks),
        hex_masks(masks)
    );
    let opts = mount_options(&m)
        .map_err(|f| mismatch(format!("{applied}; reading them back failed: {}", f.msg)))?;
    let got = delegation_part(&opts);
    let want = shown(masks);
    if got != want {
        return Err(mismatch(format!(
            "{applied}, but the instance shows '{got}' instead of '{want}'"
        )));
    }
    Ok(0)
}

/// Shows what the bpffs mounted at `path` delegates.
fn show_mount(path: &str, pid: Option<u32>) -> Res<u8> {
    let m = open_target(path, pid)?;
    // With --pid, only the container's instance: the same check as a change.
    drop(pick(path, &m)?);
    let opts = mount_options(&m)?;
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
    for o in opts.split(',').filter(|o| o.starts_with("delegate_")) {
        out.push_str(&format!("  {o}\n"));
        any = true;
    }
    if !any {
        out.push_str("  (nothing delegated)\n");
    }
    emit(&out)?;
    Ok(0)
}

/// A user namespace whose bpffs instances are reached without a path.
struct Userns {
    fd: OwnedFd,
    /// For messages: "user:[INODE] (pid PID)" or "user:[INODE] (FILE)".
    name: String,
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
    let name = format!("user:[{}] ({whose})", st.st_ino);
    let ours = stat("/proc/self/ns/user").map_err(|e| refused("/proc/self/ns/user", e, None))?;
    if (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino) {
        return Err(nothing_to_do(format!(
            "{name} is bpf-delegate's own user namespace, the initial one, not \
             a container's: the host's instances are reached by their path \
             without --pid, a container's by its process or user namespace; \
             nothing changed"
        )));
    }
    Ok(Userns { fd, name })
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
fn reach_userns(ns: &Userns, abilities: Option<&Masks>) -> Res<Result<Vec<u8>, Errno>> {
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
    if let Some(m) = abilities {
        fsconfig_set_binary(&fs, "abilities", &blob(m))
            .map_err(|e| refused("abilities", e, Some(fs.as_fd())))?;
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
    instances: Vec<(Kind, Masks)>,
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

/// "N live, M pending".
fn parse_found(body: &str) -> Option<(u32, u32)> {
    let (live, pending) = body.strip_suffix(" pending")?.split_once(" live, ")?;
    Some((decimal(live)?, decimal(pending)?))
}

/// "live|pending cmds=0x.. maps=0x.. progs=0x.. attachs=0x..".
fn parse_instance(body: &str) -> Option<(Kind, Masks)> {
    let mut words = body.split(' ');
    let kind = match words.next()? {
        "live" => Kind::Live,
        "pending" => Kind::Pending,
        _ => return None,
    };
    let mut masks = Masks::default();
    for field in Field::ALL {
        let (key, value) = words.next()?.split_once('=')?;
        if key != field.name() {
            return None;
        }
        *masks.get_mut(field) = hex(value)?;
    }
    match words.next() {
        Some(_) => None,
        None => Some((kind, masks)),
    }
}

/// Reads the kernel's `target_userns` report out of a drained fs_context
/// log.  Lines that are not its info messages are ignored; one of its lines
/// that does not parse, or a report that contradicts itself, is an error.
fn parse_report(log: &[u8]) -> Result<Report, String> {
    let mut report = Report::default();
    let mut others = 0usize;
    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Some(body) = report_body(line) else {
            others += 1;
            continue;
        };
        let bad = || format!("malformed line '{}'", escape(line));
        let body = std::str::from_utf8(body).map_err(|_| bad())?;
        if let Some(found) = parse_found(body) {
            if report.found.replace(found).is_some() {
                return Err("two summary lines".into());
            }
        } else {
            report.instances.push(parse_instance(body).ok_or_else(bad)?);
        }
    }
    check_report(&report, others)?;
    Ok(report)
}

/// A report must not show more instances than its summary counts, nor fewer
/// than the log had room for.
fn check_report(r: &Report, others: usize) -> Result<(), String> {
    let Some((live, pending)) = r.found else {
        if r.instances.is_empty() {
            return Ok(());
        }
        return Err("instance lines without the summary line".into());
    };
    let shown = |k: Kind| r.instances.iter().filter(|(x, _)| *x == k).count() as u64;
    let (shown_live, shown_pending) = (shown(Kind::Live), shown(Kind::Pending));
    if shown_live > u64::from(live) || shown_pending > u64::from(pending) {
        return Err(format!(
            "the summary says {live} live, {pending} pending but the log shows \
             {shown_live} live, {shown_pending} pending"
        ));
    }
    let room = (LOG_MESSAGES - 1).saturating_sub(others) as u64;
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
fn words(m: &Masks) -> String {
    let s = shown(m);
    let w: Vec<&str> = s.split(',').filter(|w| !w.is_empty()).collect();
    if w.is_empty() {
        "(nothing delegated)".into()
    } else {
        w.join(" ")
    }
}

/// A delegation as the kernel's report writes it, unknown bits included.
fn hex_masks(m: &Masks) -> String {
    Field::ALL
        .iter()
        .map(|&f| format!("{}={:#x}", f.name(), m.get(f)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks the report of a change to `want` of the instances of `ns`: the
/// kernel found some, and every one it shows delegates exactly `want`.
/// Returns how many live and pending instances it found.
fn verify(ns: &str, r: &Report, want: &Masks) -> Res<(u32, u32)> {
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
        .filter(|(_, m)| m != want)
        .map(|(k, m)| {
            format!(
                "a {} instance shows {} ({})",
                k.name(),
                words(m),
                hex_masks(m)
            )
        })
        .collect();
    if !wrong.is_empty() {
        return Err(mismatch(format!(
            "{ns}: read-back mismatch: {} instead of {} ({}); the change was \
             committed to the {live} live and {pending} pending instances the \
             kernel found, and what was changed has been changed",
            wrong.join("; "),
            words(want),
            hex_masks(want)
        )));
    }
    Ok((live, pending))
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

/// Replaces what every bpffs instance and pending consent of `ns` delegates.
fn set_userns(ns: &Userns, masks: &Masks) -> Res<u8> {
    let failed = |e: String| {
        mismatch(format!(
            "the abilities of every bpffs instance and pending consent of user \
             namespace {} were set to {} ({}); reading them back failed: {e}",
            ns.name,
            words(masks),
            hex_masks(masks)
        ))
    };
    let log =
        reach_userns(ns, Some(masks))?.map_err(|e| failed(format!("{}: {e}", errno_name(e))))?;
    let report = parse_report(&log)
        .map_err(|e| failed(format!("the kernel's target_userns report: {e}")))?;
    let (live, pending) = verify(&ns.name, &report, masks)?;
    let mut out = format!(
        "{}: {live} live, {pending} pending, each delegating {}\n",
        ns.name,
        words(masks)
    );
    if let Some(note) = unshown_note(&report, "not read back") {
        out.push_str(&format!("{note}\n"));
    }
    emit(&out)?;
    Ok(0)
}

/// Shows what every bpffs instance and pending consent of `ns` delegates.
fn show_userns(ns: &Userns) -> Res<u8> {
    let log = reach_userns(ns, None)?
        .map_err(|e| refused("reading the kernel's target_userns report", e, None))?;
    let report = parse_report(&log).map_err(|e| {
        nothing_to_do(format!(
            "{}: the kernel's target_userns report is unreadable: {e}",
            ns.name
        ))
    })?;
    let Some((live, pending)) = report.found else {
        return Err(nothing_to_do(format!(
            "{}: the kernel did not report on target_userns (a kernel that \
             ignores the key?)",
            ns.name
        )));
    };
    let mut out = format!("{}: {live} live, {pending} pending\n", ns.name);
    for (kind, masks) in &report.instances {
        out.push_str(&format!("  {}: {}\n", kind.name(), words(masks)));
    }
    if live == 0 && pending == 0 {
        out.push_str("  (no bpffs instance or pending consent of this user namespace)\n");
    }
    if let Some(note) = unshown_note(&report, "not shown") {
        out.push_str(&format!("{note}\n"));
    }
    emit(&out)?;
    Ok(0)
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
        Cmd::Set { target, masks } => masks.masks().and_then(|m| set(target, &m)),
        Cmd::Reset { target } => set(target, &Masks::default()),
        Cmd::Show { target } => show(target),
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
        };
        assert!(m
            .masks()
            .err()
            .is_some_and(|f| f.msg.contains("not delegatable")));
    }

    #[test]
    fn shown_matches_the_kernels_format() {
        let m = Masks {
            cmds: 1,
            maps: 1 << 23,
            ..Masks::default()
        };
        assert_eq!(shown(&m), ",delegate_cmds=map_create,delegate_maps=stack");
        assert_eq!(
            delegation_part("rw,delegate,delegate_cmds=map_create,delegate_maps=stack"),
            shown(&m)
        );
    }

    const STACK: Masks = Masks {
        cmds: 1,
        maps: 1 << 23,
        progs: 0,
        attachs: 0,
    };

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
                instances: vec![(Kind::Live, STACK), (Kind::Pending, Masks::default())],
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
            r.map(|r| r.instances),
            Ok(vec![(
                Kind::Live,
                Masks {
                    cmds: ANY,
                    maps: 0xabc,
                    progs: 0,
                    attachs: 1
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
        assert_eq!(
            parse_report(log).map(|r| r.instances),
            Ok(vec![(Kind::Live, STACK)])
        );
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
        let report = |masks: &[(Kind, Masks)], found| Report {
            instances: masks.to_vec(),
            found,
        };
        let ok = report(&[(Kind::Live, STACK), (Kind::Pending, STACK)], Some((1, 1)));
        assert_eq!(verify("ns", &ok, &STACK).ok(), Some((1, 1)));

        let wrong = report(
            &[(Kind::Live, STACK), (Kind::Live, Masks::default())],
            Some((2, 0)),
        );
        let (code, msg) = code_and_msg(verify("ns", &wrong, &STACK));
        assert_eq!(code, exit::MISMATCH);
        assert!(msg.contains("read-back mismatch"), "{msg}");
        assert!(
            msg.contains("a live instance shows (nothing delegated)"),
            "{msg}"
        );
        assert!(msg.contains("what was changed has been changed"), "{msg}");

        let reset = report(&[(Kind::Live, STACK)], Some((1, 0)));
        let (code, _) = code_and_msg(verify("ns", &reset, &Masks::default()));
        assert_eq!(code, exit::MISMATCH);

        let none = report(&[], Some((0, 0)));
        let (code, msg) = code_and_msg(verify("user:[5] (pid 7)", &none, &STACK));
        assert_eq!(code, exit::REFUSED);
        assert_eq!(
            msg,
            "no bpffs instance or pending consent of user namespace user:[5] (pid 7) \
             found; nothing changed"
        );

        let silent = report(&[], None);
        let (code, _) = code_and_msg(verify("ns", &silent, &STACK));
        assert_eq!(code, exit::MISMATCH);
    }

    #[test]
    fn words_for_people() {
        assert_eq!(
            words(&STACK),
            "delegate_cmds=map_create delegate_maps=stack"
        );
        assert_eq!(words(&Masks::default()), "(nothing delegated)");
        assert_eq!(
            hex_masks(&STACK),
            "cmds=0x1 maps=0x800000 progs=0x0 attachs=0x0"
        );
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
            Some(Cmd::Reset { target } | Cmd::Show { target } | Cmd::Set { target, .. }) => {
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
        assert!(parse(&["show", "/sys/fs/bpf", "--userns", "/run/ns"]).is_err());
        assert!(parse(&["reset", "--pid", "1", "--userns", "/run/ns"]).is_err());
    }
}
