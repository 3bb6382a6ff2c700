// SPDX-License-Identifier: GPL-2.0

//! Raw bytes as the `abilities` value: `parse_blob()` must agree with the
//! model on every size and every bit, and the `abilities` key must apply
//! exactly what it parsed, for privileged callers only, and only with a
//! scope that names a cgroup: the four masks always, the scope only from a
//! struct of VER1 or longer (a shorter one leaves it as it was).  The same
//! bytes as a `delegate_cgroup` string must give the model's scope or error.

#![no_main]

use std::cell::Cell;

use bpf_delegation_fuzz as model;
use bpf_delegation_host::policy::{
    parse_blob, parse_param, parse_param_scoped, Context, Error, Field, Key, Opts, Request, Value,
    E2BIG, EINVAL, ENOENT, EPERM, OPTS_SIZE, OPTS_SIZE_MAX, OPTS_SIZE_VER0, OPTS_SIZE_VER1, SCOPE,
};
use libfuzzer_sys::fuzz_target;

fn encode(o: &Opts) -> [u8; model::VER1] {
    let mut b = [0u8; model::VER1];
    for (i, f) in Field::ALL.into_iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&o.masks.get(f).to_ne_bytes());
    }
    b[model::VER0..].copy_from_slice(&o.cgroup_id.to_ne_bytes());
    b
}

/// `exists`, counting the calls and refusing 0 (no scope names nothing).
fn counted<'a>(exists: &'a dyn Fn(u64) -> bool, asked: &'a Cell<u32>) -> impl Fn(u64) -> bool + 'a {
    move |id| {
        assert_ne!(id, 0, "cgroup_exists asked about 0, which is no scope");
        asked.set(asked.get() + 1);
        exists(id)
    }
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        (OPTS_SIZE_VER0, OPTS_SIZE_VER1, OPTS_SIZE, OPTS_SIZE_MAX),
        (model::VER0, model::VER1, model::VER1, model::PAGE)
    );
    let got = parse_blob(data);
    let want = model::blob(data);
    assert_eq!(got, want, "parse_blob of {} bytes", data.len());

    match got {
        Err(e) => {
            assert_eq!(e.errno(), model::blob_errno(&e));
            // The size rules of copy_struct_from_user(), spelled out.
            if data.len() < model::VER0 {
                assert_eq!(e.errno(), EINVAL);
            } else if data.len() > model::PAGE || data.iter().skip(model::VER1).any(|&b| b != 0) {
                assert_eq!(e.errno(), E2BIG);
            } else {
                assert_eq!(e.errno(), EINVAL);
            }
            model::message(&e);
        }
        Ok(o) => {
            // Never a bit that was not in the struct, each mask "any" or
            // within what a binary mask may name, and the scope exactly the
            // bytes given (zero-extended if the struct ends inside it).
            let n = data.len().min(model::VER1);
            assert_eq!(encode(&o)[..n], data[..n]);
            assert!(encode(&o)[n..].iter().all(|&b| b == 0));
            for f in Field::ALL {
                let v = o.masks.get(f);
                assert!(v == u64::MAX || v & !model::allowed(f) == 0, "{f:?} {v:#x}");
            }
            // The zero tail does not matter: VER1 alone, or zero-extended to
            // a page, says the same; VER0 alone says the same without a scope.
            let mut page = [0u8; model::PAGE];
            page[..n].copy_from_slice(&data[..n]);
            assert_eq!(parse_blob(&page[..model::VER1]), Ok(o));
            assert_eq!(parse_blob(&page), Ok(o));
            let ver0 = Opts { cgroup_id: 0, ..o };
            assert_eq!(parse_blob(&data[..model::VER0]), Ok(ver0));
        }
    }

    // Through the key, in a context of another user namespace, in a world
    // whose cgroups the input's first byte picks, on a request that has or
    // has not named a scope already: a privileged caller gets exactly the
    // parse's masks, all four fields named, and the scope only from a
    // struct that has all of cgroup_id (a shorter one leaves the scope's
    // value as it was), unless a non-zero cgroup_id, whatever the size,
    // names no cgroup (ENOENT); anyone else EPERM; other keys refuse a
    // blob.  Existence is asked once at most, after the privilege and the
    // parse, and only about a non-zero cgroup_id.
    let exists = model::cgroups(data.first().copied().unwrap_or(0));
    let ctx = Context {
        init_userns: false,
        reconfigure: data.first().is_some_and(|&b| b & 2 != 0),
    };
    let start = if data.first().is_some_and(|&b| b & 4 != 0) {
        Request {
            scope: 7,
            set: SCOPE,
            ..Request::default()
        }
    } else {
        Request::default()
    };
    let names_scope = data.len() >= model::VER1;
    let mstart = model::Req {
        scope_named: start.set & SCOPE != 0,
        scope: start.scope,
        ..model::Req::default()
    };
    let want_req = model::param(
        &mstart,
        b"abilities",
        Value::Blob(data),
        ctx.init_userns,
        ctx.reconfigure,
        true,
        &exists,
    )
    .unwrap();
    let asked = Cell::new(0);
    let r = parse_param_scoped(
        &start,
        b"abilities",
        Value::Blob(data),
        &ctx,
        &|| true,
        &counted(&exists, &asked),
    )
    .unwrap();
    let scoped = got.is_ok_and(|o| o.cgroup_id != 0);
    assert_eq!(asked.get(), u32::from(scoped), "cgroup_exists asked");
    match (&r, &want_req) {
        (Ok(req), Ok(m)) => assert!(m.matches(req), "kernel {req:?}, model {m:?}"),
        (Err(e), Err(w)) => assert_eq!(e, w),
        (r, w) => panic!("abilities {r:?} but the model {w:?}"),
    }
    match (r, got) {
        (Ok(req), Ok(o)) => {
            assert!(o.cgroup_id == 0 || exists(o.cgroup_id));
            assert_eq!(req.masks, o.masks);
            assert!(Field::ALL.iter().all(|&f| req.is_set(f)));
            if names_scope {
                // VER1 or longer names the scope, 0 ("none") included.
                assert_eq!(req.scope, o.cgroup_id);
                assert_ne!(req.set & SCOPE, 0);
            } else {
                // Shorter: the scope's value is left as it was.
                assert_eq!(req.scope, start.scope, "a VER0 struct changed the scope");
            }
            assert!(!req.delegate && !req.target);
        }
        (Err(e), Ok(o)) => {
            assert!(o.cgroup_id != 0 && !exists(o.cgroup_id), "{e:?} for {o:?}");
            assert_eq!(e, Error::NoCgroup(Key::Abilities, o.cgroup_id));
            assert_eq!(e.errno(), ENOENT);
            model::message(&e);
        }
        (Err(e), Err(b)) => assert_eq!(e, Error::Blob(b)),
        (r, g) => panic!("abilities {r:?} but parse_blob {g:?}"),
    }
    // parse_param is the kernel's call in a world where every id exists.
    let every = parse_param(&start, b"abilities", Value::Blob(data), &ctx, &|| true).unwrap();
    assert_eq!(
        every.ok().map(|r| (r.masks, r.scope)),
        got.ok().map(|o| (
            o.masks,
            if names_scope {
                o.cgroup_id
            } else {
                start.scope
            }
        ))
    );
    let asked = Cell::new(0);
    let r = parse_param_scoped(
        &start,
        b"abilities",
        Value::Blob(data),
        &ctx,
        &|| false,
        &counted(&exists, &asked),
    )
    .unwrap();
    assert_eq!(r.map_err(|e| e.errno()), Err(EPERM));
    assert_eq!(
        asked.get(),
        0,
        "cgroup_exists asked for an unprivileged caller"
    );
    let r = parse_param(&start, b"delegate_maps", Value::Blob(data), &ctx, &|| true).unwrap();
    assert_eq!(r, Err(Error::WrongType(Key::Strings(Field::Maps))));
    let r = parse_param(&start, b"delegate_cgroup", Value::Blob(data), &ctx, &|| {
        true
    })
    .unwrap();
    assert_eq!(r, Err(Error::WrongType(Key::Cgroup)));
    let r = parse_param(&start, b"mode", Value::Blob(data), &ctx, &|| true).unwrap();
    assert_eq!(r, Err(Error::BlobForOtherKey(b"mode")));

    // The same bytes as a delegate_cgroup string (what fsconfig() passes:
    // at most 255 bytes, up to a NUL), on a request that has a scope.
    let s = &data[..data.len().min(model::STRING_MAX)];
    let s = &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())];
    let before = Request {
        scope: 7,
        set: SCOPE,
        ..Request::default()
    };
    let asked = Cell::new(0);
    let r = parse_param_scoped(
        &before,
        b"delegate_cgroup",
        Value::String(s),
        &ctx,
        &|| true,
        &counted(&exists, &asked),
    )
    .unwrap();
    let number = model::cgroup_number(s);
    assert_eq!(asked.get(), u32::from(number.is_some_and(|id| id != 0)));
    match (r, number) {
        (Err(e), None) => {
            assert_eq!(e, Error::CgroupNumber(s));
            assert_eq!(e.errno(), EINVAL);
            model::message(&e);
        }
        (Err(e), Some(id)) => {
            assert!(id != 0 && !exists(id));
            assert_eq!(e, Error::NoCgroup(Key::Cgroup, id));
            assert_eq!(e.errno(), ENOENT);
            model::message(&e);
        }
        (Ok(req), Some(id)) => {
            // The scope alone, replaced: "0" clears it.
            assert_eq!(
                req,
                Request {
                    scope: id,
                    ..before
                }
            );
        }
        (r, n) => panic!("delegate_cgroup {r:?} but the model reads {n:?}"),
    }
});
