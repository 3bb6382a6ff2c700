// SPDX-License-Identifier: GPL-2.0

//! Generates the policy's name tables as kbuild does: the kernel's
//! `names.awk` over the base tree's uAPI header (`BPF_UAPI_H` overrides it).

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let awk = dir.join("../kernel/bpf/delegation/names.awk");
    let header = env::var_os("BPF_UAPI_H")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("../out/base/include/uapi/linux/bpf.h"));
    println!("cargo:rerun-if-changed={}", awk.display());
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=BPF_UAPI_H");
    if !header.exists() {
        panic!(
            "{} is missing: run 'make assemble' first, or set BPF_UAPI_H",
            header.display()
        );
    }
    let out = Command::new("awk")
        .arg("-f")
        .arg(&awk)
        .arg(&header)
        .output()
        .expect("running awk");
    if !out.status.success() {
        panic!("names.awk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("names.rs");
    fs::write(dest, out.stdout).expect("writing names.rs");
}
