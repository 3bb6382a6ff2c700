// SPDX-License-Identifier: GPL-2.0

//! `bpf-delegate`: the privileged side of bpffs delegation.
//!
//! It plays the "delegating task" of the design: it lets a container open a
//! bpffs context in its own user namespace, binds its consent to that
//! namespace, sets what the instance delegates and the `delegate` flag, and
//! hands the context back; later it narrows, resets and shows a live
//! instance.  The names and the rules of the masks are the kernel's own: the
//! policy files of `kernel/bpf/delegation/` are compiled into this tool.

use std::ffi::OsString;
use std::fs;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use bpf_delegation_host::policy::{self, Field, Masks, State};
use bpf_delegation_host::text;
use clap::{Args, Parser, Subcommand};
use rustix::fs::{fstatfs, openat2, statx, AtFlags, Mode, OFlags, ResolveFlags, StatxFlags, CWD};
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
use rustix::thread::{unshare_unsafe, UnshareFlags};

const BPF_FS_MAGIC: u64 = 0xcafe_4a11;

/// Exit codes a script can rely on.
mod exit {
    /// The kernel refused, or a system call failed.
    pub const REFUSED: u8 = 1;
    /// Bad command line or names.
    pub const USAGE: u8 = 2;
    /// The instance does not say what was asked after a change (an old
    /// kernel that ignores the keys, say).
    pub const MISMATCH: u8 = 3;
}

const EXAMPLES: &str = "\
Examples:
  # A shell for user 1000 in a new user namespace with a bpffs at
  # /sys/fs/bpf that lets it create stack and hash maps and load socket
  # filters:
  bpf-delegate run --user 1000 --cmds map_create,prog_load --maps stack,hash \\
      --progs socket_filter --attachs cgroup_inet_ingress -- sh

  # Narrow that instance, seen from the container whose pid is 1234, then
  # revoke it, and show what it delegates:
  bpf-delegate set /sys/fs/bpf --pid 1234 --cmds map_create --maps stack
  bpf-delegate reset /sys/fs/bpf --pid 1234
  bpf-delegate show /sys/fs/bpf --pid 1234

Names are the kernel's (enum bpf_cmd, bpf_map_type, bpf_prog_type,
bpf_attach_type), any case, with or without their BPF_ prefixes, separated by
',' or ':'; numbers and \"any\" work too.  Exit codes: 0 done, 1 refused by the
kernel, 2 usage, 3 the instance does not say what was asked; 'run' exits with
the command's status.";

#[derive(Parser)]
#[command(name = "bpf-delegate", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command in a new user and mount namespace with a delegated bpffs.
    Run {
        #[command(flatten)]
        masks: MaskArgs,
        /// Where the command gets the bpffs, in its own mount namespace.
        #[arg(long, default_value = "/sys/fs/bpf")]
        mount: String,
        /// Run the container as this unprivileged user (UID or UID:GID),
        /// root inside its user namespace; default: the invoking user.
        #[arg(long, value_parser = parse_user)]
        user: Option<(u32, u32)>,
        /// The command and its arguments.
        #[arg(required = true, last = true)]
        command: Vec<OsString>,
    },
    /// Replace what a mounted bpffs delegates.
    Set {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        masks: MaskArgs,
    },
    /// Revoke everything a mounted bpffs delegates.
    Reset {
        #[command(flatten)]
        target: Target,
    },
    /// Show what a mounted bpffs delegates.
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

#[derive(Args)]
struct Target {
    /// The bpffs mount point.
    path: String,
    /// Resolve PATH in this process's root and mount namespace (a
    /// container's), never following its symlinks.
    #[arg(long)]
    pid: Option<u32>,
}

fn parse_user(s: &str) -> Result<(u32, u32), String> {
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    let num = |x: &str| {
        x.parse::<u32>()
            .map_err(|_| format!("'{x}' is not a numeric id"))
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
        Errno::BADF => "EBADF",
        Errno::ACCESS => "EACCES",
        Errno::BUSY => "EBUSY",
        Errno::NOTDIR => "ENOTDIR",
        Errno::INVAL => "EINVAL",
        Errno::TOOBIG => "E2BIG",
        Errno::LOOP => "ELOOP",
        Errno::XDEV => "EXDEV",
        Errno::OPNOTSUPP => "EOPNOTSUPP",
        Errno::NOSYS => "ENOSYS",
        _ => "error",
    }
}

/// The fs_context log's messages after a refusal, if any.
fn fc_log(fd: Option<BorrowedFd<'_>>) -> String {
    let Some(fd) = fd else { return String::new() };
    let mut out = String::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf[..n]);
        out.push_str(&format!(" [kernel: {}]", line.trim_end()));
    }
    out
}

fn refused(what: &str, e: Errno, fc: Option<BorrowedFd<'_>>) -> Failure {
    let hint = match (e, what) {
        (Errno::PERM, w) if w.contains("delegate") || w.contains("abilities") => {
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
        RecvFlags::empty(),
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
) -> Res<()> {
    if let Some((uid, gid)) = user {
        // Become the unprivileged user who owns the container.
        // SAFETY: plain system calls on this single-threaded process.
        let dropped = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(gid, gid, gid) == 0
                && libc::setresuid(uid, uid, uid) == 0
        };
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
    fs::create_dir_all(mount).map_err(|e| usage(format!("{mount}: {e}")))?;
    move_mount(
        &mnt,
        "",
        CWD,
        mount,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| refused(&format!("mounting at {mount}"), e, None))?;
    drop(sock);
    let err = Command::new(&command[0])
        .args(&command[1..])
        .env("BPF_DELEGATE_BPFFS", mount)
        .exec();
    Err(usage(format!("{}: {err}", command[0].to_string_lossy())))
}

fn write_map(pid: i32, file: &str, text: &str) -> Res<()> {
    fs::write(format!("/proc/{pid}/{file}"), text)
        .map_err(|e| usage(format!("/proc/{pid}/{file}: {e}")))
}

fn run(masks: &MaskArgs, mount: &str, command: &[OsString], user: Option<(u32, u32)>) -> Res<u8> {
    let masks = masks.masks()?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| usage(format!("socketpair: {e}")))?;
    let (uid, gid) = user.unwrap_or((
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    ));
    // SAFETY: the child only makes system calls and execs or exits; it never
    // returns into code that assumes other threads (this program has none).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(usage(format!("fork: {}", std::io::Error::last_os_error())));
    }
    if pid == 0 {
        drop(ours);
        let f = container(theirs, mount, command, user).err();
        if let Some(f) = f {
            eprintln!("bpf-delegate (container): {}", f.msg);
            std::process::exit(i32::from(f.code) + 124);
        }
        std::process::exit(127);
    }
    drop(theirs);
    let result = delegate(&ours, pid, uid, gid, &masks);
    if result.is_err() {
        let _ = send_byte(&ours, 1);
    }
    drop(ours);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result?;
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        128 + libc::WTERMSIG(status) as u8
    })
}

/// The privileged side of `run`: map the container's ids, take its
/// context, consent for its user namespace only, and give it back.
fn delegate(sock: &UnixStream, pid: i32, uid: u32, gid: u32, masks: &Masks) -> Res<()> {
    recv_byte(sock)?;
    write_map(pid, "setgroups", "deny")?;
    write_map(pid, "uid_map", &format!("0 {uid} 1"))?;
    write_map(pid, "gid_map", &format!("0 {gid} 1"))?;
    send_byte(sock, 0)?;
    let fs = recv_fd(sock)?;
    let userns = fs::File::open(format!("/proc/{pid}/ns/user"))
        .map_err(|e| usage(format!("user namespace: {e}")))?;
    fsconfig_set_fd(&fs, "delegate_userns", userns.as_fd())
        .map_err(|e| refused("delegate_userns", e, Some(fs.as_fd())))?;
    fsconfig_set_binary(&fs, "abilities", &blob(masks))
        .map_err(|e| refused("abilities", e, Some(fs.as_fd())))?;
    fsconfig_set_flag(&fs, "delegate").map_err(|e| refused("delegate", e, Some(fs.as_fd())))?;
    send_byte(sock, 0)
}

/// Opens a bpffs mount root safely: inside the container's root when `pid`
/// is given, never following symlinks or magic links there, and checks that
/// it is a bpffs.
fn open_target(t: &Target) -> Res<(OwnedFd, Option<u32>)> {
    let root = match t.pid {
        Some(pid) => Some(
            openat2(
                CWD,
                format!("/proc/{pid}/root"),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::empty(),
            )
            .map_err(|e| refused(&format!("/proc/{pid}/root"), e, None))?,
        ),
        None => None,
    };
    let (dir, resolve) = match &root {
        Some(r) => (r.as_fd(), ResolveFlags::IN_ROOT),
        None => (CWD, ResolveFlags::empty()),
    };
    let fd = openat2(
        dir,
        &t.path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| refused(&format!("{} (symlinks are not followed)", t.path), e, None))?;
    let st = fstatfs(&fd).map_err(|e| refused(&t.path, e, None))?;
    #[allow(clippy::unnecessary_cast)]
    if st.f_type as u64 != BPF_FS_MAGIC {
        return Err(usage(format!("{}: not a bpffs", t.path)));
    }
    Ok((fd, t.pid))
}

/// The bpffs options of the mount `fd`, from the mountinfo of the mount
/// namespace it was looked up in.
fn mount_options(fd: &OwnedFd, pid: Option<u32>) -> Res<String> {
    let st = statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map_err(|e| refused("statx", e, None))?;
    let file = match pid {
        Some(pid) => format!("/proc/{pid}/mountinfo"),
        None => "/proc/self/mountinfo".into(),
    };
    let info = fs::read_to_string(&file).map_err(|e| usage(format!("{file}: {e}")))?;
    for line in info.lines() {
        let mut fields = line.split(' ');
        if fields.next() != Some(&st.stx_mnt_id.to_string()) {
            continue;
        }
        if let Some((_, tail)) = line.split_once(" - bpf ") {
            let opts = tail.split(' ').nth(1).unwrap_or("");
            return Ok(opts.to_string());
        }
    }
    Err(usage(format!(
        "mount {} not found in {file}",
        st.stx_mnt_id
    )))
}

/// The delegation options of a super options string.
fn delegation_part(opts: &str) -> String {
    opts.split(',')
        .filter(|o| o.starts_with("delegate_"))
        .map(|o| format!(",{o}"))
        .collect()
}

fn set(t: &Target, masks: &Masks) -> Res<u8> {
    let (fd, pid) = open_target(t)?;
    let pick = fspick(
        &fd,
        "",
        FsPickFlags::FSPICK_EMPTY_PATH
            | FsPickFlags::FSPICK_SYMLINK_NOFOLLOW
            | FsPickFlags::FSPICK_CLOEXEC,
    )
    .map_err(|e| refused(&format!("{} is not a mount root", t.path), e, None))?;
    fsconfig_set_binary(&pick, "abilities", &blob(masks))
        .map_err(|e| refused("abilities", e, Some(pick.as_fd())))?;
    fsconfig_reconfigure(&pick).map_err(|e| refused("reconfigure", e, Some(pick.as_fd())))?;
    // An old kernel ignores unknown keys: read the instance back.
    let got = delegation_part(&mount_options(&fd, pid)?);
    let want = shown(masks);
    if got != want {
        return Err(Failure {
            code: exit::MISMATCH,
            msg: format!("{}: the instance shows '{got}' instead of '{want}'", t.path),
        });
    }
    Ok(0)
}

fn show(t: &Target) -> Res<u8> {
    let (fd, pid) = open_target(t)?;
    let opts = mount_options(&fd, pid)?;
    let delegated = opts.split(',').any(|o| o == "delegate");
    println!(
        "{}: {}",
        t.path,
        if delegated {
            "delegated"
        } else {
            "not created under delegate"
        }
    );
    let mut any = false;
    for o in opts.split(',').filter(|o| o.starts_with("delegate_")) {
        println!("  {o}");
        any = true;
    }
    if !any {
        println!("  (nothing delegated)");
    }
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        Cmd::Run {
            masks,
            mount,
            command,
            user,
        } => run(masks, mount, command, *user),
        Cmd::Set { target, masks } => masks.masks().and_then(|m| set(target, &m)),
        Cmd::Reset { target } => set(target, &Masks::default()),
        Cmd::Show { target } => show(target),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("bpf-delegate: {}", f.msg);
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
}
