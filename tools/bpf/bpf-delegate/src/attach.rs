// SPDX-License-Identifier: GPL-2.0

//! `attach`: a delegated bpffs for a container the tool did not make (one a
//! runtime such as crun, runc or LXC made), by the pid of one of its
//! processes.
//!
//! The tool cannot simply join the container: in a child user namespace it
//! would lose the initial namespace's `CAP_SYS_ADMIN` that consent needs.  So
//! it splits in two, as the design's flow has it:
//!
//! - the **helper**, a short-lived child, joins the container's user and
//!   mount namespaces through the target's pidfd (one `setns()` of both),
//!   opens the bpffs context there and hands it to the parent; once the
//!   parent has consented it creates the instance, hands its mount to the
//!   parent, and attaches it at the mount point in the container's mount
//!   namespace, resolved inside the container's root without following a
//!   symlink;
//! - the **parent** stays in the initial namespaces and holds the target by
//!   its pidfd from the start: it takes the user namespace from that pidfd,
//!   consents (`delegate_userns`, then `delegate`, then `abilities`), and
//!   checks that the mount it is handed is a bpffs of that user namespace
//!   (`delegate_userns` on a reconfigure context of it) before the helper
//!   may attach it.
//!
//! The helper is undumpable and keeps none of the operator's groups; it runs
//! outside the container's pid namespace, so nothing in the container can
//! name it.  What is delegated stays the parent's to change: `set`, `reset`
//! and `show` with `--pid` reach the instance through its user namespace
//! wherever the container moves it.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rustix::fs::{fstatfs, openat2, stat, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{move_mount, MoveMountFlags};
use rustix::net::sockopt::{set_socket_timeout, Timeout};

use crate::{
    consent, drop_groups, exit, make_instance, nothing_to_do, recv_byte, refused, say_error,
    scope_warning, send_byte, session, shown, usage, userns_not_ours, warn_scopes, Failure,
    MaskArgs, Process, Res, Userns, BPF_FS_MAGIC,
};

/// `PIDFD_GET_USER_NAMESPACE` (`include/uapi/linux/pidfd.h`, Linux 6.11):
/// `_IO(PIDFS_IOCTL_MAGIC, 9)`.
const PIDFD_GET_USER_NAMESPACE: libc::c_ulong = (0xff << 8) | 9;

/// What `attach` was asked.
pub struct AttachArgs<'a> {
    pub masks: &'a MaskArgs,
    /// The target, held by its pidfd from the start.
    pub process: Process,
    pub mount: &'a str,
    pub replace: bool,
}

/// The target's user namespace, from its pidfd (before Linux 6.11, from
/// /proc/PID/ns/user, checked against the pidfd); never the tool's own.
fn userns_of(p: &Process) -> Res<Userns> {
    // SAFETY: an ioctl without an argument on a pidfd this process owns; it
    // returns a new fd or -1.
    let fd = unsafe { libc::ioctl(p.pidfd.as_raw_fd(), PIDFD_GET_USER_NAMESPACE as _) };
    if fd >= 0 {
        // SAFETY: the kernel just returned `fd`, a new fd nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        return userns_not_ours(fd, format!("pid {}", p.pid));
    }
    match Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) {
        Errno::NOTTY | Errno::INVAL => p.container_userns(),
        Errno::SRCH => Err(gone(p.pid, "its user namespace was being opened")),
        e => Err(refused(&format!("pid {}'s user namespace", p.pid), e, None)),
    }
}

fn gone(pid: u32, when: &str) -> Failure {
    nothing_to_do(format!(
        "process {pid} exited while {when}; no bpffs was attached"
    ))
}

/// Refuses a target that shares the tool's mount namespace: the helper
/// would attach the instance in the host's mount table (the kernel refuses
/// the helper's `setns()` anyway).
fn own_mount_namespace(p: &Process) -> Res<()> {
    let theirs = stat(format!("/proc/{}/ns/mnt", p.pid).as_str())
        .map_err(|e| refused(&format!("/proc/{}/ns/mnt", p.pid), e, None))?;
    p.alive("its mount namespace")?;
    let ours = stat("/proc/self/ns/mnt").map_err(|e| refused("/proc/self/ns/mnt", e, None))?;
    if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino) {
        return Err(nothing_to_do(format!(
            "process {} shares bpf-delegate's mount namespace (the host's): a \
             container needs a mount namespace of its own to get a bpffs; \
             nothing changed",
            p.pid
        )));
    }
    Ok(())
}

/// Refuses a mount point that is not absolute or has a `.` or `..`
/// component: it is looked up in the container's root, and under its
/// rootfs before the runtime pivots (oci-hook), where `..` would climb out
/// of the rootfs into the rest of the tree.
pub fn plain_mount_path(mount: &str) -> Res<()> {
    if !mount.starts_with('/') || mount.split('/').any(|c| c == "." || c == "..") {
        return Err(usage(format!(
            "mount point {mount:?}: give an absolute path without . or .. components"
        )));
    }
    Ok(())
}

/// How long the tool waits for the helper at each step: a stopped helper
/// (the container can signal it) must not hang the tool, or the runtime
/// that runs it as a hook.
const HELPER_TIMEOUT: Duration = Duration::from_secs(120);

pub fn attach(a: &AttachArgs<'_>) -> Res<u8> {
    let (ask, _cgroup) = a.masks.abilities()?;
    plain_mount_path(a.mount)?;
    warn_scopes([scope_warning(&ask.masks, ask.scope.unwrap_or(0))]);
    let p = &a.process;
    let pid = p.pid;
    let ns = userns_of(p)?;
    own_mount_namespace(p)?;
    let root = p.root()?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| usage(format!("socketpair: {e}")))?;
    set_socket_timeout(&ours, Timeout::Recv, Some(HELPER_TIMEOUT))
        .map_err(|e| refused("SO_RCVTIMEO", e, None))?;
    // SAFETY: the child only makes system calls and exits; it never returns
    // into code that assumes other threads (this program has none).
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(usage(format!("fork: {}", std::io::Error::last_os_error())));
    }
    if child == 0 {
        drop(ours);
        let code = match helper(theirs, p, root, a.mount, a.replace) {
            Ok(()) => 0,
            Err(f) => {
                say_error(&format!(
                    "bpf-delegate (helper in pid {}'s namespaces): {}",
                    pid, f.msg
                ));
                f.code
            }
        };
        // SAFETY: _exit() ends this forked child without running the
        // parent's exit handlers or flushing its buffers twice.
        unsafe { libc::_exit(i32::from(code)) };
    }
    drop(theirs);
    drop(root);
    let result = consent(&ours, ns.fd.as_fd(), &ask);
    // The helper says when it has attached the instance, or fails (and says
    // why on stderr).
    let attached = result.is_ok() && recv_byte(&ours).is_ok();
    if result.is_err() {
        // The helper stops where it waits, creating nothing.
        let _ = send_byte(&ours, 1);
    }
    drop(ours);
    let helper_status = session::reap(child).map(session::exit_code);
    let instance = match (result, helper_status) {
        (Ok(i), Ok(0)) if attached => i,
        (Ok(i), status) => {
            // The helper failed after consent: the instance may exist
            // unattached, or be attached; it delegates nothing now.
            let _ = i.revoke();
            return Err(helper_failed(status, "; what it made was revoked"));
        }
        (Err(f), Ok(0)) => return Err(f),
        // The helper's own message (on stderr) says why; the parent's
        // failure is what it saw of that.
        (Err(f), status) => return Err(helper_failed(status, &format!(" ({})", f.msg))),
    };
    if p.alive("its bpffs was being attached").is_err() {
        let _ = instance.revoke();
        return Err(nothing_to_do(format!(
            "process {} exited while its bpffs was being attached; the \
             instance was revoked",
            pid
        )));
    }
    let what = shown(&ask.after(0));
    let _ = writeln!(
        std::io::stdout(),
        "attached a bpffs at {} in the mount namespace of process {}, user \
         namespace {}: {}\nnarrow, revoke or show it with: bpf-delegate \
         set|reset|show --pid {}",
        a.mount,
        pid,
        ns.name,
        if what.is_empty() {
            "delegate (nothing delegated)".to_string()
        } else {
            format!("delegate{what}")
        },
        pid
    );
    Ok(0)
}

fn helper_failed(status: Res<u8>, more: &str) -> Failure {
    let code = match &status {
        Ok(exit::USAGE) => exit::USAGE,
        _ => exit::REFUSED,
    };
    let how = match status {
        Ok(c) => format!("exited with {c}"),
        Err(f) => f.msg,
    };
    Failure {
        code,
        msg: format!("the helper in the container's namespaces {how}{more}"),
    }
}

/// Makes this process undumpable: no core dump, and no ptrace but by a
/// task with CAP_SYS_PTRACE over the user namespace its memory was made in
/// (the initial one).
fn undumpable() -> Res<()> {
    // SAFETY: prctl(2) on this process, no pointers.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(usage(format!(
            "prctl(PR_SET_DUMPABLE): {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The helper's side; runs in the forked child.
fn helper(sock: UnixStream, p: &Process, root: OwnedFd, mount: &str, replace: bool) -> Res<()> {
    // None of the operator's supplementary groups, and no core dump or
    // ptrace by anyone who could otherwise reach a process in the
    // container's user namespace.
    drop_groups()?;
    undumpable()?;
    // Both namespaces at once, of the process the pidfd holds: if it has
    // exited, this fails (ESRCH) rather than join whatever its pid names now.
    // SAFETY: setns() on this single-threaded process, with a pidfd it owns.
    if unsafe { libc::setns(p.pidfd.as_raw_fd(), libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        let e = std::io::Error::last_os_error();
        let e = Errno::from_raw_os_error(e.raw_os_error().unwrap_or(0));
        return Err(refused("joining its user and mount namespaces", e, None));
    }
    // Be the container's root where it maps one (gid and uid 0): the
    // instance is then its own.  Without such a mapping the helper stays
    // unmapped in it (the overflow ids), which the kernel's checks ignore;
    // a gid without its uid is refused rather than half done.
    // SAFETY: as above.
    if unsafe { libc::setresgid(0, 0, 0) } == 0 && unsafe { libc::setresuid(0, 0, 0) } != 0 {
        return Err(usage(format!(
            "becoming the container's root: {}",
            std::io::Error::last_os_error()
        )));
    }
    // A change of credentials resets the dumpable flag to fs.suid_dumpable:
    // set it again, and keep none of the operator's fds but stderr.
    undumpable()?;
    // SAFETY: plain system calls; the fds replaced are this process's own.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null < 0 || libc::dup2(null, 0) < 0 || libc::dup2(null, 1) < 0 {
            return Err(usage(format!(
                "/dev/null for fds 0 and 1: {}",
                std::io::Error::last_os_error()
            )));
        }
        libc::close(null);
    }
    // The mount point, in the container's root as its processes see it, with
    // no symlink or magic link followed (the container owns that tree).
    let dir = openat2(
        &root,
        mount,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| refused(&format!("{mount} (symlinks are not followed)"), e, None))?;
    drop(root);
    let st = fstatfs(&dir).map_err(|e| refused(mount, e, None))?;
    #[allow(clippy::unnecessary_cast)]
    if st.f_type as u64 == BPF_FS_MAGIC && !replace {
        return Err(Failure {
            code: exit::REFUSED,
            msg: format!(
                "{mount} already holds a bpffs: --replace mounts the new one \
                 over it; nothing changed"
            ),
        });
    }
    let mnt = make_instance(&sock)?;
    move_mount(
        &mnt,
        "",
        &dir,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| refused(&format!("mounting at {mount}"), e, None))?;
    send_byte(&sock, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_plain() {
        for ok in ["/sys/fs/bpf", "/", "/a//b", "/run/bpf/"] {
            assert!(plain_mount_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "sys/fs/bpf",
            "/../etc",
            "/a/../b",
            "/a/./b",
            "/a/..",
            "",
            "./x",
        ] {
            assert!(plain_mount_path(bad).is_err(), "{bad}");
        }
    }
}
