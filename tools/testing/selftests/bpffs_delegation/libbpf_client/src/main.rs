// SPDX-License-Identifier: GPL-2.0

//! An external client of bpffs delegation, written against libbpf's own API
//! (`bpf_token_create()`, `bpf_map_create()`, `bpf_btf_load()`,
//! `bpf_prog_load()` with a token fd), as user space written for upstream
//! BPF tokens does it.
//!
//! `libbpf-client PATH [--revoked-after FILE]` expects a delegated bpffs
//! mounted at PATH that allows map creation (stack maps), BTF loading and
//! socket filters (attach type 0) and nothing else, and a caller in the
//! instance's user namespace.  It checks every command through a token and
//! through the bpffs fd itself, plus one refused map type.  With
//! `--revoked-after FILE` it then creates `FILE.waiting`, waits for FILE to
//! appear (the privileged side has revoked the delegation by then) and
//! checks that the same token and fd are refused.  It exits 0 only if all
//! behaved.
//!
//! `libbpf-client --cgroup-scope PATH INSIDE OUTSIDE...` expects a bpffs
//! that delegates cgroup_sock_addr programs for BPF_CGROUP_INET4_CONNECT,
//! scoped to the cgroup2 directory INSIDE: it loads one through a token and
//! checks that `bpf_prog_attach()` and `bpf_link_create()` work on INSIDE
//! and are refused (EPERM) on each OUTSIDE.

use std::ffi::CString;
use std::fs::File;
use std::mem::{size_of, zeroed};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use libbpf_sys as bpf;

/// `r0 = 0; exit`, as little-endian `struct bpf_insn`s.
const PROG: [u64; 2] = [0xb7, 0x95];

/// `r0 = 1; exit`: a cgroup program that allows everything.
const PROG_ALLOW: [u64; 2] = [0x1_0000_00b7, 0x95];

/// One 32-bit signed int, the smallest useful BTF.
fn btf_blob() -> Vec<u8> {
    let mut b = Vec::new();
    let words = |b: &mut Vec<u8>, ws: &[u32]| {
        ws.iter()
            .for_each(|w| b.extend_from_slice(&w.to_ne_bytes()))
    };
    b.extend_from_slice(&0xeb9fu16.to_ne_bytes()); // magic
    b.extend_from_slice(&[1, 0]); // version, flags
    words(&mut b, &[24, 0, 16, 16, 5]); // hdr_len, type_off, type_len, str_off, str_len
                                        // "int": BTF_KIND_INT, 4 bytes, signed, 32 bits.
    words(&mut b, &[1, 1 << 24, 4, (1 << 24) | 32]);
    b.extend_from_slice(b"\0int\0");
    b
}

/// libbpf's convention: a negative errno on failure.
fn result(what: &str, ret: i32) -> Result<(), i32> {
    if ret < 0 {
        eprintln!("# {what}: {}", std::io::Error::from_raw_os_error(-ret));
        Err(-ret)
    } else {
        eprintln!("# {what}: ok");
        // SAFETY: `ret` is an fd this program just got and owns.
        unsafe { libc::close(ret) };
        Ok(())
    }
}

fn map_create(map_type: bpf::bpf_map_type, token_fd: i32) -> i32 {
    // SAFETY: an all-zero `bpf_map_create_opts` is its documented default.
    let mut opts: bpf::bpf_map_create_opts = unsafe { zeroed() };
    opts.sz = size_of::<bpf::bpf_map_create_opts>() as _;
    opts.map_flags = bpf::BPF_F_TOKEN_FD;
    opts.token_fd = token_fd as u32;
    // SAFETY: `opts` is valid and sized; no name is passed.
    unsafe { bpf::bpf_map_create(map_type, std::ptr::null(), 0, 8, 1, &opts) }
}

fn btf_load(token_fd: i32) -> i32 {
    let blob = btf_blob();
    // SAFETY: as above.
    let mut opts: bpf::bpf_btf_load_opts = unsafe { zeroed() };
    opts.sz = size_of::<bpf::bpf_btf_load_opts>() as _;
    opts.btf_flags = bpf::BPF_F_TOKEN_FD;
    opts.token_fd = token_fd as u32;
    // SAFETY: `blob` is valid for its length and `opts` is valid and sized.
    unsafe { bpf::bpf_btf_load(blob.as_ptr().cast(), blob.len() as _, &mut opts) }
}

fn prog_load(token_fd: i32) -> i32 {
    let license = CString::new("GPL").unwrap_or_default();
    // SAFETY: as above.
    let mut opts: bpf::bpf_prog_load_opts = unsafe { zeroed() };
    opts.sz = size_of::<bpf::bpf_prog_load_opts>() as _;
    opts.prog_flags = bpf::BPF_F_TOKEN_FD;
    opts.token_fd = token_fd as u32;
    // SAFETY: `PROG` holds two valid `struct bpf_insn`s (8 bytes each), the
    // license is NUL-terminated and `opts` is valid and sized.
    unsafe {
        bpf::bpf_prog_load(
            bpf::BPF_PROG_TYPE_SOCKET_FILTER,
            std::ptr::null(),
            license.as_ptr(),
            PROG.as_ptr().cast(),
            PROG.len() as _,
            &mut opts,
        )
    }
}

fn token_create(bpffs_fd: i32) -> i32 {
    // SAFETY: an all-zero `bpf_token_create_opts` with its size set is valid.
    let mut topts: bpf::bpf_token_create_opts = unsafe { zeroed() };
    topts.sz = size_of::<bpf::bpf_token_create_opts>() as _;
    // SAFETY: `bpffs_fd` is open and `topts` is valid and sized.
    unsafe { bpf::bpf_token_create(bpffs_fd, &mut topts) }
}

/// A cgroup_sock_addr program for connect() over IPv4, through a token.
fn cgroup_prog_load(token_fd: i32) -> i32 {
    let license = CString::new("GPL").unwrap_or_default();
    // SAFETY: an all-zero `bpf_prog_load_opts` with its size set is valid.
    let mut opts: bpf::bpf_prog_load_opts = unsafe { zeroed() };
    opts.sz = size_of::<bpf::bpf_prog_load_opts>() as _;
    opts.prog_flags = bpf::BPF_F_TOKEN_FD;
    opts.token_fd = token_fd as u32;
    opts.expected_attach_type = bpf::BPF_CGROUP_INET4_CONNECT;
    // SAFETY: `PROG_ALLOW` holds two valid `struct bpf_insn`s, the license
    // is NUL-terminated and `opts` is valid and sized.
    unsafe {
        bpf::bpf_prog_load(
            bpf::BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            std::ptr::null(),
            license.as_ptr(),
            PROG_ALLOW.as_ptr().cast(),
            PROG_ALLOW.len() as _,
            &mut opts,
        )
    }
}

/// `--cgroup-scope PATH INSIDE OUTSIDE...`: the number of checks that failed.
fn cgroup_scope(path: &str, inside: &str, outside: &[String]) -> usize {
    let open = |p: &str| File::open(p).map_err(|e| eprintln!("# {p}: {e}")).ok();
    let (Some(root), Some(inside_dir)) = (open(path), open(inside)) else {
        return 1;
    };
    let token = token_create(root.as_raw_fd());
    if token < 0 {
        eprintln!(
            "# bpf_token_create: {}",
            std::io::Error::from_raw_os_error(-token)
        );
        return 1;
    }
    let prog = cgroup_prog_load(token);
    if prog < 0 {
        eprintln!(
            "# token: bpf_prog_load(cgroup_sock_addr): {}",
            std::io::Error::from_raw_os_error(-prog)
        );
        return 1;
    }
    eprintln!("# token: bpf_prog_load(cgroup_sock_addr, cgroup_inet4_connect): ok");
    let attach = bpf::BPF_CGROUP_INET4_CONNECT;
    let mut failed = 0;
    let expect = |what: String, ret: i32, want: i32| -> usize {
        let got = if ret < 0 { -ret } else { 0 };
        let shown = if got == 0 {
            "ok".to_string()
        } else {
            std::io::Error::from_raw_os_error(got).to_string()
        };
        let verdict = if got == want { "as it should" } else { "WRONG" };
        eprintln!("# {what}: {shown} ({verdict})");
        usize::from(got != want)
    };
    let mut targets = vec![(Some(inside_dir), inside, 0)];
    targets.extend(outside.iter().map(|o| (open(o), o.as_str(), libc::EPERM)));
    for (dir, name, want) in targets {
        let Some(dir) = dir else {
            failed += 1;
            continue;
        };
        let cg = dir.as_raw_fd();
        // A scoped program attaches only as one of several: a legacy
        // attachment (flags 0) would replace the one already there.
        // SAFETY: `prog` and `cg` are open fds; no options.
        let ret = unsafe { bpf::bpf_prog_attach(prog, cg, attach, 0) };
        failed += expect(
            format!("bpf_prog_attach (legacy) to {name}"),
            ret,
            libc::EPERM,
        );
        if ret == 0 {
            // SAFETY: as above.
            unsafe { bpf::bpf_prog_detach2(prog, cg, attach) };
        }
        // SAFETY: as above.
        let ret = unsafe { bpf::bpf_prog_attach(prog, cg, attach, bpf::BPF_F_ALLOW_MULTI) };
        failed += expect(format!("bpf_prog_attach (multi) to {name}"), ret, want);
        if ret == 0 {
            // SAFETY: as above.
            unsafe { bpf::bpf_prog_detach2(prog, cg, attach) };
        }
        // SAFETY: as above; a null `opts` is libbpf's default.
        let link = unsafe { bpf::bpf_link_create(prog, cg, attach, std::ptr::null()) };
        failed += expect(format!("bpf_link_create on {name}"), link, want);
        if link >= 0 {
            // SAFETY: `link` is an fd this program owns.
            unsafe { libc::close(link) };
        }
    }
    failed
}

/// Upstream's `struct bpf_token_info` (Linux 6.17): what a token allows now.
fn token_info(token: i32) -> Result<[u64; 4], i32> {
    let mut info = [0u64; 4];
    let mut len = size_of::<[u64; 4]>() as u32;
    // SAFETY: `info` is valid for writes of `len` bytes and `len` for a u32.
    let ret = unsafe { bpf::bpf_obj_get_info_by_fd(token, info.as_mut_ptr().cast(), &mut len) };
    if ret < 0 {
        eprintln!("# token info: {}", std::io::Error::from_raw_os_error(-ret));
        return Err(-ret);
    }
    eprintln!(
        "# token info: allowed_cmds {:#x}, allowed_maps {:#x}, allowed_progs {:#x}, allowed_attachs {:#x}",
        info[0], info[1], info[2], info[3]
    );
    Ok(info)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--cgroup-scope") {
        let (Some(path), Some(inside)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: libbpf-client --cgroup-scope BPFFS_PATH INSIDE OUTSIDE...");
            return ExitCode::from(2);
        };
        let failed = cgroup_scope(path, inside, &args[4..]);
        if failed == 0 {
            return ExitCode::SUCCESS;
        }
        eprintln!("# {failed} checks failed");
        return ExitCode::FAILURE;
    }
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: libbpf-client BPFFS_PATH");
        return ExitCode::from(2);
    };
    let root = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("# {path}: {e}");
            return ExitCode::from(3);
        }
    };
    let bpffs_fd = root.as_raw_fd();
    // SAFETY: an all-zero `bpf_token_create_opts` with its size set is valid.
    let mut topts: bpf::bpf_token_create_opts = unsafe { zeroed() };
    topts.sz = size_of::<bpf::bpf_token_create_opts>() as _;
    // SAFETY: `bpffs_fd` is open and `topts` is valid and sized.
    let token = unsafe { bpf::bpf_token_create(bpffs_fd, &mut topts) };
    if token < 0 {
        eprintln!(
            "# bpf_token_create: {}",
            std::io::Error::from_raw_os_error(-token)
        );
        return ExitCode::from(4);
    }
    eprintln!("# bpf_token_create: ok");
    // The token says what it allows: the three commands, stack maps,
    // socket filters with attach type 0.
    let want = [
        1 << bpf::BPF_MAP_CREATE | 1 << bpf::BPF_BTF_LOAD | 1 << bpf::BPF_PROG_LOAD,
        1 << bpf::BPF_MAP_TYPE_STACK,
        1 << bpf::BPF_PROG_TYPE_SOCKET_FILTER,
        1,
    ];
    let info_ok = token_info(token) == Ok(want);

    let mut failed = usize::from(!info_ok);
    for (name, fd) in [("token", token), ("bpffs fd", bpffs_fd)] {
        let checks = [
            result(
                &format!("{name}: bpf_map_create(stack)"),
                map_create(bpf::BPF_MAP_TYPE_STACK, fd),
            ),
            result(&format!("{name}: bpf_btf_load"), btf_load(fd)),
            result(
                &format!("{name}: bpf_prog_load(socket_filter)"),
                prog_load(fd),
            ),
            // Not delegated: refused, as the caller has no global CAP_BPF.
            match result(
                &format!("{name}: bpf_map_create(queue)"),
                map_create(bpf::BPF_MAP_TYPE_QUEUE, fd),
            ) {
                Err(libc::EPERM) => Ok(()),
                _ => Err(0),
            },
        ];
        failed += checks.iter().filter(|r| r.is_err()).count();
    }
    let mut args = std::env::args().skip(2);
    if let (Some(flag), Some(file)) = (args.next(), args.next()) {
        if flag != "--revoked-after" {
            eprintln!("usage: libbpf-client BPFFS_PATH [--revoked-after FILE]");
            return ExitCode::from(2);
        }
        let _ = File::create(format!("{file}.waiting"));
        eprintln!("# waiting for the delegation to be revoked ({file})");
        let mut waited = 0;
        while std::fs::metadata(&file).is_err() && waited < 300 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            waited += 1;
        }
        for (name, fd) in [("token", token), ("bpffs fd", bpffs_fd)] {
            for (what, ret) in [
                (
                    "bpf_map_create(stack)",
                    map_create(bpf::BPF_MAP_TYPE_STACK, fd),
                ),
                ("bpf_prog_load(socket_filter)", prog_load(fd)),
            ] {
                if result(&format!("after revocation, {name}: {what}"), ret) != Err(libc::EPERM) {
                    failed += 1;
                }
            }
        }
        // And the token says so.
        failed += usize::from(token_info(token) != Ok([0; 4]));
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("# {failed} checks failed");
        ExitCode::FAILURE
    }
}
