// SPDX-License-Identifier: GPL-2.0

//! Raw bytes as the `abilities` value: `parse_blob()` must agree with the
//! model on every size and every bit, and the `abilities` key must apply
//! exactly what it parsed, for privileged callers only.

#![no_main]

use bpf_delegation_fuzz as model;
use bpf_delegation_host::policy::{
    parse_blob, parse_param, Context, Error, Field, Key, Masks, Request, Value, E2BIG, EINVAL,
    EPERM, OPTS_SIZE_MAX, OPTS_SIZE_VER0,
};
use libfuzzer_sys::fuzz_target;

fn encode(m: &Masks) -> [u8; model::VER0] {
    let mut b = [0u8; model::VER0];
    for (i, f) in Field::ALL.into_iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&m.get(f).to_ne_bytes());
    }
    b
}

fuzz_target!(|data: &[u8]| {
    assert_eq!((OPTS_SIZE_VER0, OPTS_SIZE_MAX), (model::VER0, model::PAGE));
    let got = parse_blob(data);
    let want = model::blob(data);
    assert_eq!(got, want, "parse_blob of {} bytes", data.len());

    match got {
        Err(e) => {
            assert_eq!(e.errno(), model::blob_errno(&e));
            // The size rules of copy_struct_from_user(), spelled out.
            if data.len() < model::VER0 {
                assert_eq!(e.errno(), EINVAL);
            } else if data.len() > model::PAGE || data[model::VER0..].iter().any(|&b| b != 0) {
                assert_eq!(e.errno(), E2BIG);
            } else {
                assert_eq!(e.errno(), EINVAL);
            }
            model::message(&e);
        }
        Ok(m) => {
            // Never a bit that was not in the struct, and each mask is
            // "any" or within what a binary mask may name.
            assert_eq!(encode(&m)[..], data[..model::VER0]);
            for f in Field::ALL {
                let v = m.get(f);
                assert!(v == u64::MAX || v & !model::allowed(f) == 0, "{f:?} {v:#x}");
            }
            // The zero tail does not matter: VER0 alone, or zero-extended to
            // a page, says the same.
            assert_eq!(parse_blob(&data[..model::VER0]), Ok(m));
            let mut page = [0u8; model::PAGE];
            page[..model::VER0].copy_from_slice(&data[..model::VER0]);
            assert_eq!(parse_blob(&page), Ok(m));
        }
    }

    // Through the key, in a context of another user namespace: a privileged
    // caller gets exactly the parse, all four fields named; anyone else
    // EPERM; other keys refuse a blob.
    let ctx = Context {
        init_userns: false,
        reconfigure: data.first().is_some_and(|&b| b & 1 != 0),
    };
    let start = Request::default();
    let r = parse_param(&start, b"abilities", Value::Blob(data), &ctx, &|| true).unwrap();
    match (r, got) {
        (Ok(req), Ok(m)) => {
            assert_eq!(req.masks, m);
            assert!(Field::ALL.iter().all(|&f| req.is_set(f)) && !req.delegate);
        }
        (Err(e), Err(b)) => assert_eq!(e, Error::Blob(b)),
        (r, g) => panic!("abilities {r:?} but parse_blob {g:?}"),
    }
    let r = parse_param(&start, b"abilities", Value::Blob(data), &ctx, &|| false).unwrap();
    assert_eq!(r.map_err(|e| e.errno()), Err(EPERM));
    let r = parse_param(&start, b"delegate_maps", Value::Blob(data), &ctx, &|| true).unwrap();
    assert_eq!(r, Err(Error::WrongType(Key::Strings(Field::Maps))));
    let r = parse_param(&start, b"mode", Value::Blob(data), &ctx, &|| true).unwrap();
    assert_eq!(r, Err(Error::BlobForOtherKey(b"mode")));
});
