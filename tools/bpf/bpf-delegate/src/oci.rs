// SPDX-License-Identifier: GPL-2.0

//! `oci-hook`: `attach` as an OCI runtime hook.
//!
//! The runtime (crun, runc; podman through hooks.d) runs the hook on the
//! host with the container's state as JSON on stdin:
//! `{"ociVersion", "id", "status", "pid", "bundle", "annotations"}`.  What to
//! delegate comes from the container's annotations, all under one prefix:
//!
//! | annotation | value |
//! | --- | --- |
//! | `org.kernel.bpf.delegate.cmds` | as `--cmds` |
//! | `org.kernel.bpf.delegate.maps` | as `--maps` |
//! | `org.kernel.bpf.delegate.progs` | as `--progs` |
//! | `org.kernel.bpf.delegate.attachs` | as `--attachs` |
//! | `org.kernel.bpf.delegate.mount` | as `--mount` (default `/sys/fs/bpf`) |
//! | `org.kernel.bpf.delegate.replace` | `true`: as `--replace` |
//!
//! A container without any of them gets nothing and the hook exits 0.  An
//! unknown annotation under the prefix, or an unknown name in one, fails the
//! hook, and with it the container (a hook's failure is fatal in OCI).
//!
//! Annotations are the word of whoever starts the container (`podman run
//! --annotation`, a pod's spec), not the operator's.  So the hook's own
//! arguments, which the operator writes into hooks.d or config.json, are
//! the most it grants: `oci-hook --cmds ... --maps ... --progs ...
//! --attachs ...`, and an annotation that asks for a type outside them
//! fails the hook.  Without them it grants nothing.
//!
//! As a `createRuntime` hook the container's process has not pivoted into
//! its root yet: the mount point is then the container's root (`root.path`
//! of the bundle's config.json) followed by the mount annotation, resolved
//! in the container's mount namespace; the runtime's `pivot_root()` takes
//! the instance along.  Once the process has pivoted (a `poststart` hook,
//! LXC's `lxc.hook.start-host`) the mount annotation is used as it is.

use std::fs;
use std::io::Read;

use rustix::fs::{fstat, open, openat2, FileType, Mode, OFlags, ResolveFlags};
use serde_json::Value;

use crate::attach::{attach, plain_mount_path, AttachArgs};
use crate::{refused, usage, MaskArgs, Process, Res};
use bpf_delegation_host::policy::{Field, Masks};

/// The annotations' common prefix.
pub const PREFIX: &str = "org.kernel.bpf.delegate.";

/// At most this much is read from stdin: a state is a few hundred bytes.
const STATE_MAX: u64 = 1 << 20;

/// What the annotations ask, if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Asked {
    pub cmds: String,
    pub maps: String,
    pub progs: String,
    pub attachs: String,
    pub mount: Option<String>,
    pub replace: bool,
}

/// The delegation the annotations of `state` ask for: `None` without any
/// annotation under [`PREFIX`].
pub fn asked(state: &Value) -> Result<Option<Asked>, String> {
    let Some(ann) = state.get("annotations") else {
        return Ok(None);
    };
    if ann.is_null() {
        return Ok(None);
    }
    let ann = ann
        .as_object()
        .ok_or("the state's \"annotations\" is not an object")?;
    let mut a = Asked::default();
    let mut any = false;
    for (key, value) in ann {
        let Some(name) = key.strip_prefix(PREFIX) else {
            continue;
        };
        any = true;
        let value = value
            .as_str()
            .ok_or_else(|| format!("annotation {key}: not a string"))?
            .to_string();
        match name {
            "cmds" => a.cmds = value,
            "maps" => a.maps = value,
            "progs" => a.progs = value,
            "attachs" => a.attachs = value,
            "mount" => a.mount = Some(value),
            "replace" => {
                a.replace = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!(
                            "annotation {key}: \"{value}\" is not true or false"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "unknown annotation {key} (known: {PREFIX}cmds, maps, progs, \
                     attachs, mount, replace)"
                ))
            }
        }
    }
    Ok(any.then_some(a))
}

/// The container's root as the bundle's config.json names it (absolute, or
/// relative to the bundle).
pub fn root_path(bundle: &str, config: &Value) -> Result<String, String> {
    let path = config
        .get("root")
        .and_then(|r| r.get("path"))
        .and_then(Value::as_str)
        .ok_or("the bundle's config.json has no root.path")?;
    Ok(if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", bundle.trim_end_matches('/'))
    })
}

/// Where the mount point `mount` (as the container will see it) is for the
/// process `p` now: under `rootfs` while the process has not pivoted into it
/// (its root is elsewhere and `rootfs` is found from there), else `mount`.
fn mount_point(p: &Process, rootfs: &str, mount: &str) -> Res<String> {
    let root = p.root()?;
    let found = openat2(
        &root,
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    );
    let Ok(dir) = found else {
        return Ok(mount.to_string());
    };
    let (a, b) = match (fstat(&root), fstat(&dir)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return Ok(mount.to_string()),
    };
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
        return Ok(mount.to_string());
    }
    Ok(format!(
        "{}/{}",
        rootfs.trim_end_matches('/'),
        mount.trim_start_matches('/')
    ))
}

/// Refuses what `asked` has beyond `max` (the hook's arguments), naming the
/// annotation.
pub fn within(asked: &Masks, max: &Masks) -> Result<(), String> {
    for f in Field::ALL {
        let beyond = asked.get(f) & !max.get(f);
        if beyond != 0 {
            return Err(format!(
                "annotation {PREFIX}{} asks for more than this hook grants (its \
                 --{} argument; bits {beyond:#x} are beyond it)",
                f.name(),
                f.name()
            ));
        }
    }
    Ok(())
}

/// At most this much of config.json is read.
const CONFIG_MAX: u64 = 4 << 20;

/// Reads the bundle's config.json: a regular file (not through a symlink
/// at its last component, never a FIFO or device), up to [`CONFIG_MAX`].
fn read_config(file: &str) -> Res<String> {
    let fd = open(
        file,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| refused(file, e, None))?;
    let st = fstat(&fd).map_err(|e| refused(file, e, None))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(usage(format!("{file}: not a regular file")));
    }
    let mut text = String::new();
    fs::File::from(fd)
        .take(CONFIG_MAX)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("{file}: {e}")))?;
    Ok(text)
}

pub fn hook(max: &MaskArgs) -> Res<u8> {
    if max.cgroup.is_some() {
        return Err(usage(
            "oci-hook takes no --cgroup: a container's cgroup scope is not \
             implemented for hooks yet"
                .into(),
        ));
    }
    let max = max.masks()?;
    let mut text = String::new();
    std::io::stdin()
        .take(STATE_MAX)
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("reading the OCI state from stdin: {e}")))?;
    let state: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("the OCI state on stdin is not JSON: {e}")))?;
    let Some(a) = asked(&state).map_err(usage)? else {
        return Ok(0);
    };
    let masks = MaskArgs {
        cmds: a.cmds,
        maps: a.maps,
        progs: a.progs,
        attachs: a.attachs,
        cgroup: None,
    };
    within(&masks.masks()?, &max).map_err(usage)?;
    let pid = state
        .get("pid")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| usage("the OCI state has no pid".into()))?;
    let bundle = state
        .get("bundle")
        .and_then(Value::as_str)
        .ok_or_else(|| usage("the OCI state has no bundle".into()))?;
    let config = read_config(&format!("{bundle}/config.json"))?;
    let config: Value =
        serde_json::from_str(&config).map_err(|e| usage(format!("{bundle}/config.json: {e}")))?;
    let rootfs = root_path(bundle, &config).map_err(usage)?;
    // As the runtime sees it, without symlinks: the path is looked up again
    // in the container's mount namespace, where none is followed.
    let rootfs = fs::canonicalize(&rootfs)
        .map_err(|e| usage(format!("the container's root {rootfs}: {e}")))?
        .to_string_lossy()
        .into_owned();
    let mount = a.mount.as_deref().unwrap_or("/sys/fs/bpf");
    plain_mount_path(mount)?;
    let p = Process::open(pid)?;
    let at = mount_point(&p, &rootfs, mount)?;

    attach(&AttachArgs {
        masks: &masks,
        process: p,
        mount: &at,
        replace: a.replace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(annotations: &str) -> Value {
        serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42,
                "bundle":"/b","annotations":{annotations}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn no_annotations_ask_nothing() {
        assert_eq!(asked(&state("{}")), Ok(None));
        assert_eq!(asked(&state("null")), Ok(None));
        assert_eq!(
            asked(&state(r#"{"org.opencontainers.image.os":"linux"}"#)),
            Ok(None)
        );
        let v: Value = serde_json::from_str(r#"{"pid":1}"#).unwrap();
        assert_eq!(asked(&v), Ok(None));
    }

    #[test]
    fn annotations_ask() {
        let a = asked(&state(
            r#"{"org.kernel.bpf.delegate.cmds":"map_create,prog_load",
                "org.kernel.bpf.delegate.maps":"stack",
                "org.kernel.bpf.delegate.mount":"/run/bpf",
                "org.kernel.bpf.delegate.replace":"true",
                "other":"x"}"#,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(a.cmds, "map_create,prog_load");
        assert_eq!(a.maps, "stack");
        assert_eq!(a.progs, "");
        assert_eq!(a.mount.as_deref(), Some("/run/bpf"));
        assert!(a.replace);
    }

    #[test]
    fn bad_annotations_fail() {
        let e = asked(&state(r#"{"org.kernel.bpf.delegate.map":"stack"}"#)).unwrap_err();
        assert!(
            e.contains("unknown annotation org.kernel.bpf.delegate.map"),
            "{e}"
        );
        let e = asked(&state(r#"{"org.kernel.bpf.delegate.maps":1}"#)).unwrap_err();
        assert!(e.contains("not a string"), "{e}");
        let e = asked(&state(r#"{"org.kernel.bpf.delegate.replace":"yes"}"#)).unwrap_err();
        assert!(e.contains("not true or false"), "{e}");
        assert!(asked(&state("[]")).is_err());
    }

    #[test]
    fn annotations_stay_within_the_hooks_arguments() {
        let max = Masks {
            cmds: 0b11,
            maps: 0b100,
            ..Masks::default()
        };
        assert!(within(&Masks::default(), &max).is_ok());
        assert!(within(&max, &max).is_ok());
        let over = Masks { maps: 0b110, ..max };
        let e = within(&over, &max).unwrap_err();
        assert!(
            e.contains("org.kernel.bpf.delegate.maps asks for more"),
            "{e}"
        );
        assert!(e.contains("bits 0x2 are beyond"), "{e}");
        let over = Masks { progs: 1, ..max };
        assert!(within(&over, &Masks::default()).is_err());
    }

    #[test]
    fn root_paths() {
        let c: Value = serde_json::from_str(r#"{"root":{"path":"rootfs"}}"#).unwrap();
        assert_eq!(root_path("/b/", &c).unwrap(), "/b/rootfs");
        let c: Value = serde_json::from_str(r#"{"root":{"path":"/r"}}"#).unwrap();
        assert_eq!(root_path("/b", &c).unwrap(), "/r");
        let c: Value = serde_json::from_str(r#"{"process":{}}"#).unwrap();
        assert!(root_path("/b", &c).is_err());
    }
}
