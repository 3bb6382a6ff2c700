// SPDX-License-Identifier: GPL-2.0

//! What the command of `run` is given, and the tool's side of it while it
//! runs.
//!
//! The command belongs to the container, so it gets nothing of the operator's
//! that it could keep or use after the tool is gone: a new session (no
//! controlling terminal of the operator's), a new pseudoterminal of its own
//! when the operator has a terminal (the tool relays between the two and
//! closes it when the command exits, so nothing left behind can read, write
//! or push input into the operator's terminal with `TIOCSTI`), a minimal
//! environment, `/` as its working directory, fds 0-2 only, no new
//! privileges, and every signal at its default disposition and unblocked.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{open, Mode, OFlags};
use rustix::io::Errno;
use rustix::pty::{grantpt, ioctl_tiocgptpeer, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{
    isatty, tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, LocalModes, OptionalActions,
    SpecialCodeIndex, Termios,
};

use crate::{refused, Res};

/// The command's `PATH`; `HOME` is `/`, and `TERM` is set only with a pty.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// At most this much of what the command's pty holds when the command has
/// exited is relayed: what it left behind may go on writing.
const DRAIN_LIMIT: usize = 1 << 20;

/// The tool's fd `n` (0, 1 or 2), if it is open.
fn std_fd(n: RawFd) -> Option<BorrowedFd<'static>> {
    // SAFETY: F_GETFD only asks whether `n` is open.
    if unsafe { libc::fcntl(n, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: fds 0-2 are open (just checked) and nothing in this program
    // closes them.
    Some(unsafe { BorrowedFd::borrow_raw(n) })
}

/// The operator's `TERM` for the command's pty if it looks like a terminal
/// type's name, else one every terminal understands.
fn term_value(term: Option<&OsStr>) -> OsString {
    match term {
        Some(t)
            if !t.is_empty()
                && t.len() <= 64
                && t.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(b)) =>
        {
            t.to_os_string()
        }
        _ => "vt100".into(),
    }
}

/// A new pseudoterminal for the command, made when any of the tool's fds
/// 0-2 is a terminal.
pub struct Pty {
    /// The tool's end, non-blocking.
    master: OwnedFd,
    /// The command's end.  The tool keeps it open to read its settings.
    slave: OwnedFd,
    /// The operator's terminal (the first of fds 0-2 that is one): its
    /// settings and size are the pty's to start with.
    tty: BorrowedFd<'static>,
    /// The command's `TERM`.
    term: OsString,
}

impl Pty {
    /// A pty for the command if the operator has a terminal, else `None`
    /// (fds 0-2 are then passed through as they are).
    pub fn for_operator() -> Res<Option<Pty>> {
        let Some(tty) = (0..3).filter_map(std_fd).find(|fd| isatty(fd)) else {
            return Ok(None);
        };
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        let master = openpt(flags).map_err(|e| refused("opening a pty (/dev/ptmx)", e, None))?;
        grantpt(&master).map_err(|e| refused("grantpt", e, None))?;
        unlockpt(&master).map_err(|e| refused("unlockpt", e, None))?;
        let slave = match ioctl_tiocgptpeer(&master, flags) {
            Ok(fd) => fd,
            // Before Linux 4.13: by its name.
            Err(_) => {
                let name = ptsname(&master, Vec::new()).map_err(|e| refused("ptsname", e, None))?;
                open(
                    name.as_c_str(),
                    OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| refused("opening the pty", e, None))?
            }
        };
        if let Ok(mut t) = tcgetattr(tty) {
            // Input that is not typed is not echoed back.
            if !std_fd(0).is_some_and(isatty) {
                t.local_modes.remove(LocalModes::ECHO | LocalModes::ECHONL);
            }
            let _ = tcsetattr(&slave, OptionalActions::Now, &t);
        }
        if let Ok(size) = tcgetwinsize(tty) {
            let _ = tcsetwinsize(&slave, size);
        }
        rustix::io::ioctl_fionbio(&master, true)
            .map_err(|e| refused("making the pty non-blocking", e, None))?;
        let term = term_value(std::env::var_os("TERM").as_deref());
        Ok(Some(Pty {
            master,
            slave,
            tty,
            term,
        }))
    }

    /// In the child: what the command gets, its end and its `TERM`; the
    /// tool's end is closed.
    pub fn into_command_side(self) -> (OwnedFd, OsString) {
        (self.slave, self.term)
    }
}

/// In the child, first: a new session, so that the command has no
/// controlling terminal of the operator's (and none at all without a pty).
pub fn new_session() -> Res<()> {
    rustix::process::setsid()
        .map(|_| ())
        .map_err(|e| refused("setsid", e, None))
}

/// Closes every fd from 3 up.
fn close_fds_from_3() -> std::io::Result<()> {
    // SAFETY: close_range(2) closes fds; nothing in this process uses any
    // but 0-2 after it.
    if unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0 {
        return Ok(());
    }
    // Before Linux 5.9: every fd /proc/self/fd lists.
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: as above; the directory's own fd is closed already.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// Every signal at its default disposition (an ignored one stays ignored
/// across exec) and none blocked.
fn default_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is always a valid disposition; the C library's
        // own real-time signals are refused (EINVAL) and stay as they are.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: an empty set, initialised by sigemptyset.
    unsafe {
        let mut none = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// In the child, last: runs `command` with the pty's end as its fds 0-2 and
/// controlling terminal (or fds 0-2 as they are), a minimal environment, `/`
/// as its working directory, no other fd, no new privileges and default
/// signals.  Returns only on failure.
pub fn exec(command: &[OsString], pty: Option<(OwnedFd, OsString)>) -> std::io::Error {
    let mut term = None;
    if let Some((slave, t)) = pty {
        for fd in 0..3 {
            // SAFETY: dup2 onto fds 0-2, which this process owns.
            if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
                return std::io::Error::last_os_error();
            }
        }
        drop(slave);
        // SAFETY: fd 0 is the pty's end (just made so).
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        if let Err(e) = rustix::process::ioctl_tiocsctty(stdin) {
            return e.into();
        }
        term = Some(t);
    }
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", "/")
        .current_dir("/");
    if let Some(t) = term {
        cmd.env("TERM", t);
    }
    // SAFETY: the closure runs in this (single-threaded) process right
    // before exec and only makes system calls.
    unsafe {
        cmd.pre_exec(|| {
            close_fds_from_3()?;
            default_signals();
            rustix::thread::set_no_new_privs(true)?;
            Ok(())
        });
    }
    cmd.exec()
}

/// Where the signal handler writes the signals it got.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; errno is kept for the code
        // the signal interrupted.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, (&b as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Signals the tool passes on to the command while it waits for it, so that
/// it is never gone with the command still running and its instance not
/// revoked; SIGWINCH resizes the command's pty.  A signal the invoker left
/// ignored stays ignored for the tool.
struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl Signals {
    fn install() -> Res<Signals> {
        let mut p = [0; 2];
        // SAFETY: pipe2 fills `p` with two new fds on success.
        if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
            return Err(refused(
                "pipe2",
                Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL),
                None,
            ));
        }
        // SAFETY: both fds are new and ours.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        let mut old = Vec::new();
        for sig in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGWINCH,
        ] {
            // SAFETY: plain sigaction(2) calls with initialised structs; the
            // handler only writes to a pipe.
            unsafe {
                let mut prev = std::mem::zeroed::<libc::sigaction>();
                libc::sigaction(sig, std::ptr::null(), &mut prev);
                if prev.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut act = std::mem::zeroed::<libc::sigaction>();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                if libc::sigaction(sig, &act, std::ptr::null_mut()) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Ok(Signals {
            read,
            _write: write,
            old,
        })
    }

    /// The signals received since the last call.
    fn received(&self) -> Vec<libc::c_int> {
        let mut buf = [0u8; 64];
        let mut sigs = Vec::new();
        while let Ok(n @ 1..) = rustix::io::read(&self.read, &mut buf) {
            sigs.extend(buf[..n].iter().map(|&b| libc::c_int::from(b)));
        }
        sigs
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores what sigaction(2) returned before.
            unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
        }
        SIGNAL_PIPE.store(-1, Ordering::Relaxed);
    }
}

/// The operator's terminal in raw mode while the tool relays, restored when
/// dropped (on every path out of the relay).
struct RawMode {
    fd: BorrowedFd<'static>,
    saved: Termios,
}

impl RawMode {
    fn enter(fd: BorrowedFd<'static>) -> Option<RawMode> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

/// Writes all of `data` to `fd`; false if it cannot.
fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return false,
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            // Someone made the operator's terminal non-blocking.
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
                let _ = poll(&mut fds, None);
            }
            Err(_) => return false,
        }
    }
    true
}

/// The relay between the operator's fds and the command's pty.
struct Relay<'a> {
    pty: &'a Pty,
    /// fd 0 until it reaches its end.
    input: Option<BorrowedFd<'static>>,
    input_is_tty: bool,
    /// fd 1 until writing to it fails: what the command writes after that
    /// is read and dropped, so that it never blocks on a full pty.
    output: Option<BorrowedFd<'static>>,
    /// Input read but not yet taken by the pty.
    pending: Vec<u8>,
    /// The last byte of input given to the pty.
    last: u8,
    /// Whether reading the pty may still give something.
    master_open: bool,
}

impl Relay<'_> {
    fn output(&mut self, data: &[u8]) {
        if let Some(fd) = self.output {
            if !write_all(fd, data) {
                self.output = None;
            }
        }
    }

    /// Reads what the command wrote, once; false when there is nothing now.
    fn read_pty(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match rustix::io::read(&self.pty.master, &mut buf) {
            Ok(0) => {
                self.master_open = false;
                false
            }
            Ok(n) => {
                self.output(&buf[..n]);
                true
            }
            Err(Errno::INTR) => true,
            Err(Errno::AGAIN) => false,
            // EIO: no process has the pty's end open any more.
            Err(_) => {
                self.master_open = false;
                false
            }
        }
    }

    fn read_input(&mut self) {
        let Some(fd) = self.input else { return };
        let mut buf = [0u8; 4096];
        match rustix::io::read(fd, &mut buf) {
            Ok(n @ 1..) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.last = buf[n - 1];
            }
            Err(Errno::INTR | Errno::AGAIN) => {}
            Ok(0) | Err(_) => {
                self.input = None;
                // A pipe or file ended: the command reads its end of file
                // (in canonical mode; after a partial line it takes two).
                if !self.input_is_tty {
                    if let Ok(t) = tcgetattr(&self.pty.slave) {
                        let eof = t.special_codes[SpecialCodeIndex::VEOF];
                        if t.local_modes.contains(LocalModes::ICANON) && eof != 0 {
                            if self.last != b'\n' && self.last != 0 {
                                self.pending.push(eof);
                            }
                            self.pending.push(eof);
                        }
                    }
                }
            }
        }
    }

    fn write_pty(&mut self) {
        match rustix::io::write(&self.pty.master, &self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(Errno::INTR | Errno::AGAIN) => {}
            Err(_) => {
                self.pending.clear();
                self.input = None;
            }
        }
    }
}

/// Waits for the command, our child `pid` held by `pidfd`, to exit: passes
/// on the signals the tool gets and, with a pty, relays between the
/// operator's fds and the pty (the operator's terminal in raw mode if fd 0
/// is one).  Returns its wait status once it has been reaped.
pub fn supervise(pid: libc::pid_t, pidfd: &OwnedFd, pty: Option<&Pty>) -> Res<libc::c_int> {
    let signals = Signals::install()?;
    let mut relay = pty.map(|pty| {
        let input = std_fd(0);
        Relay {
            pty,
            input,
            input_is_tty: input.is_some_and(isatty),
            output: std_fd(1),
            pending: Vec::new(),
            last: 0,
            master_open: true,
        }
    });
    let raw = relay
        .as_ref()
        .and_then(|r| r.input.filter(|_| r.input_is_tty))
        .and_then(RawMode::enter);
    loop {
        let (mut at_master, mut at_input) = (None, None);
        let mut fds = vec![
            PollFd::new(pidfd, PollFlags::IN),
            PollFd::new(&signals.read, PollFlags::IN),
        ];
        if let Some(r) = &relay {
            let mut ev = PollFlags::empty();
            if r.master_open {
                ev |= PollFlags::IN;
            }
            if !r.pending.is_empty() {
                ev |= PollFlags::OUT;
            }
            if !ev.is_empty() {
                at_master = Some(fds.len());
                fds.push(PollFd::new(&r.pty.master, ev));
            }
            if let Some(fd) = r.input.filter(|_| r.pending.is_empty()) {
                at_input = Some(fds.len());
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
            }
        }
        match poll(&mut fds, None) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(refused("poll", e, None)),
        }
        let revents: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
        drop(fds);
        for sig in signals.received() {
            if sig == libc::SIGWINCH {
                if let (Some(p), Some(r)) = (pty, &relay) {
                    if let Ok(size) = tcgetwinsize(p.tty) {
                        let _ = tcsetwinsize(&r.pty.master, size);
                    }
                }
            } else {
                signal(pidfd, sig);
            }
        }
        if let Some(r) = relay.as_mut() {
            if let Some(i) = at_master {
                if revents[i].intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
                    && !r.read_pty()
                    && revents[i].contains(PollFlags::HUP)
                {
                    r.master_open = false;
                }
                if revents[i].contains(PollFlags::OUT) {
                    r.write_pty();
                }
            }
            if let Some(i) = at_input {
                if !revents[i].is_empty() {
                    r.read_input();
                }
            }
        }
        if !revents[0].is_empty() {
            break;
        }
    }
    // What the command wrote before it exited, within reason.
    if let Some(r) = relay.as_mut() {
        let mut budget = DRAIN_LIMIT / 4096;
        while r.master_open && budget > 0 && r.read_pty() {
            budget -= 1;
        }
    }
    drop(raw);
    drop(signals);
    reap(pid)
}

/// A wait status as a shell gives it: the exit status, or 128 + the
/// signal that ended the process.
pub fn exit_code(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    }
}

/// The wait status of our child `pid`, once it has exited.
pub fn reap(pid: libc::pid_t) -> Res<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let e = Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL);
        if e != Errno::INTR {
            return Err(refused(&format!("waitpid({pid})"), e, None));
        }
    }
}

/// Sends `sig` to the process of `pidfd`, which names it even if it has
/// been reaped and its pid reused meanwhile; errors are ignored.
fn signal(pidfd: &OwnedFd, sig: libc::c_int) {
    // SAFETY: pidfd_send_signal(2) with a valid pidfd and no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
}

/// Reaps our child `pid` after a failure, killing it first through its
/// pidfd if there is one.
pub fn abandon(pid: libc::pid_t, pidfd: Option<&OwnedFd>) {
    if let Some(fd) = pidfd {
        signal(fd, libc::SIGKILL);
    }
    let _ = reap(pid);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_is_a_name_or_vt100() {
        assert_eq!(
            term_value(Some(OsStr::new("xterm-256color"))),
            "xterm-256color"
        );
        assert_eq!(
            term_value(Some(OsStr::new("screen.xterm+x"))),
            "screen.xterm+x"
        );
        assert_eq!(term_value(None), "vt100");
        assert_eq!(term_value(Some(OsStr::new(""))), "vt100");
        assert_eq!(term_value(Some(OsStr::new("x;rm -rf /"))), "vt100");
        assert_eq!(term_value(Some(OsStr::new("\x1b]0;x\x07"))), "vt100");
        assert_eq!(term_value(Some(OsStr::new(&"x".repeat(65)))), "vt100");
    }
}
