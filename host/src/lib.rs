// SPDX-License-Identifier: GPL-2.0

//! The kernel's pure delegation policy, compiled for the host.
//!
//! Nothing here is a copy: the modules are the kernel's own files, included
//! by path with the same module names as in `kernel/bpf/delegation.rs`, so
//! `cargo test` exercises exactly what kbuild compiles.

#![no_std]

#[cfg(test)]
extern crate std;

#[path = "../../kernel/bpf/delegation/names.rs"]
pub mod names;
#[path = "../../kernel/bpf/delegation/policy.rs"]
pub mod policy;
#[path = "../../kernel/bpf/delegation/text.rs"]
pub mod text;
/// The kernel crate's size-versioned struct rules, which use only `core`.
#[path = "../../rust/kernel/fs_param/versioned.rs"]
pub mod versioned;
