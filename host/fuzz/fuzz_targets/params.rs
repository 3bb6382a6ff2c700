// SPDX-License-Identifier: GPL-2.0

//! A bpffs instance's life as `fsconfig()` calls: a create context (string,
//! blob, flag and fd parameters, privileged callers or not), perhaps narrowed
//! while pending, the create, then reconfigure contexts, in a world whose
//! cgroup2 directories one byte of the input picks.  After every call the
//! kernel's request must equal the model's, cgroup scope included; refused
//! calls and unprivileged callers change nothing; the live state must equal
//! the model's after every step, allow exactly the cgroup attachments the
//! model allows (in and out of the scope, multi or legacy, `BPF_LSM_CGROUP`
//! among them), and read back the same from its mountinfo text.  (The
//! gated commands' bit tests are C, inline in the header: KUnit tests them.)

#![no_main]

use bpf_delegation_fuzz as model;
use bpf_delegation_host::policy::{
    may_commit, may_create, parse_param, parse_param_scoped, Context, Field, Key, Request, State,
    Userns, Value, ANY,
};
use bpf_delegation_host::text::show;
use libfuzzer_sys::fuzz_target;
use std::cell::Cell;
use std::sync::LazyLock;

/// `FUZZ_DEBUG=1 params FILE` prints the life an input decodes to.
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("FUZZ_DEBUG").is_some());

const KEYS: [&str; 9] = [
    "delegate",
    "delegate_userns",
    "abilities",
    "delegate_cmds",
    "delegate_maps",
    "delegate_progs",
    "delegate_attachs",
    "target_userns",
    "delegate_cgroup",
];
/// bpffs's own keys and near misses: none is delegation's business.
const OTHER_KEYS: [&str; 7] = [
    "mode",
    "uid",
    "gid",
    "Delegate",
    "delegate_",
    "abilities ",
    "",
];

/// The input, read front to back: every choice is one byte taken modulo
/// the number of choices, numbers are little-endian, and an exhausted input
/// reads as zeros (so every input is a valid, finite life).  `gen-seeds.py`
/// writes the committed seeds in the same format.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }
    fn flag(&mut self) -> bool {
        self.byte() & 1 != 0
    }
    fn le<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0; N];
        for x in &mut b {
            *x = self.byte();
        }
        b
    }
    fn u16(&mut self) -> usize {
        usize::from(u16::from_le_bytes(self.le()))
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.le())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.le())
    }
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.pick(max + 1).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

enum Val {
    Flag,
    Str(Vec<u8>),
    Blob(Vec<u8>),
    Fd(Userns),
    Other,
}

struct Op {
    key: Vec<u8>,
    val: Val,
    privileged: bool,
}

impl std::fmt::Debug for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Flag => f.write_str("flag"),
            Val::Str(s) => write!(f, "string {:?}", String::from_utf8_lossy(s)),
            Val::Blob(b) => {
                write!(f, "blob of {} bytes", b.len())?;
                for w in b.chunks(8).take(5) {
                    let mut word = [0; 8];
                    word[..w.len()].copy_from_slice(w);
                    write!(f, " {:#x}", u64::from_ne_bytes(word))?;
                }
                match b.iter().skip(model::VER1).position(|&c| c != 0) {
                    Some(at) => write!(f, ", non-zero byte at {}", model::VER1 + at),
                    None => Ok(()),
                }
            }
            Val::Fd(u) => write!(f, "fd {u:?}"),
            Val::Other => f.write_str("other"),
        }
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} = {:?}",
            if self.privileged {
                "privileged"
            } else {
                "unprivileged"
            },
            String::from_utf8_lossy(&self.key),
            self.val
        )
    }
}

impl Op {
    fn value(&self) -> Value<'_> {
        match &self.val {
            Val::Flag => Value::Flag,
            Val::Str(s) => Value::String(s),
            Val::Blob(b) => Value::Blob(b),
            Val::Fd(u) => Value::Fd(*u),
            Val::Other => Value::Other,
        }
    }
}

fn field(inp: &mut Input) -> Field {
    Field::ALL[inp.pick(4)]
}

/// A name in lower, upper or mixed case.
fn cased(inp: &mut Input, s: &str) -> Vec<u8> {
    let flip = match inp.pick(4) {
        0 => u64::MAX,
        1 => 0,
        _ => inp.u64(),
    };
    s.bytes()
        .enumerate()
        .map(|(i, c)| {
            if flip >> (i % 64) & 1 != 0 {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

fn number(inp: &mut Input) -> Vec<u8> {
    let n = match inp.pick(4) {
        0 => 1u64 << inp.pick(64),
        1 => inp.pick(71) as u64,
        2 => ANY,
        _ => inp.u64(),
    };
    let mut s = match inp.pick(4) {
        0 => format!("{n}"),
        1 => format!("{n:#x}"),
        2 => format!("{n:#X}"),
        _ => format!("0{n:o}"),
    }
    .into_bytes();
    match inp.pick(8) {
        0 => s.insert(0, b'+'),
        1 => s.push(b'\n'),
        2 => s.push(b'0'), // may overflow
        3 => s.push(inp.byte()),
        // A digit of another radix, a hex letter, an 'x'.
        4 => s.push(b"0123456789abcdefxX"[inp.pick(18)]),
        _ => {}
    }
    s
}

fn token(inp: &mut Input, f: Field) -> Vec<u8> {
    match inp.pick(8) {
        0 => cased(inp, "any"),
        1..=3 => {
            // Mostly the key's own enum, sometimes another one's.
            let f = if inp.pick(4) != 0 { f } else { field(inp) };
            let (name, _) = f.names()[inp.pick(f.names().len())];
            let full = if inp.flag() {
                format!("{}{name}", f.prefix())
            } else {
                name.to_string()
            };
            cased(inp, &full)
        }
        4 | 5 => number(inp),
        6 => Vec::new(),
        _ => inp.bytes(8).to_vec(),
    }
}

fn string(inp: &mut Input, f: Field) -> Vec<u8> {
    let mut s = Vec::new();
    if inp.pick(8) == 0 {
        s.extend_from_slice(inp.bytes(40));
    } else {
        for i in 0..1 + inp.pick(6) {
            if i > 0 {
                s.push(b':');
            }
            s.extend(token(inp, f));
        }
    }
    // What fsconfig() lets through: at most 255 bytes, up to a NUL.
    s.truncate(model::STRING_MAX);
    if let Some(nul) = s.iter().position(|&c| c == 0) {
        s.truncate(nul);
    }
    s
}

/// A `delegate_cgroup` value: mostly a small id (which exists or not by the
/// input's rule) or "0", else any number or string.
fn cgroup_string(inp: &mut Input) -> Vec<u8> {
    let mut s = match inp.pick(4) {
        0 => format!("{}", inp.pick(16)).into_bytes(),
        1 => b"0".to_vec(),
        2 => number(inp),
        _ => {
            let f = field(inp);
            string(inp, f)
        }
    };
    // What fsconfig() lets through: up to a NUL.
    if let Some(nul) = s.iter().position(|&c| c == 0) {
        s.truncate(nul);
    }
    s
}

/// A `cgroup_id`: none, a small id, or any.
fn cgroup_id(inp: &mut Input) -> u64 {
    match inp.pick(4) {
        0 => 0,
        1 | 2 => inp.pick(16) as u64,
        _ => inp.u64(),
    }
}

fn word(inp: &mut Input, f: Field) -> u64 {
    match inp.pick(6) {
        0 => 0,
        1 => ANY,
        2 | 3 => inp.u64() & model::allowed(f),
        4 => 1 << inp.pick(64),
        _ => inp.u64(),
    }
}

fn blob(inp: &mut Input) -> Vec<u8> {
    if inp.pick(8) == 0 {
        return inp.bytes(48).to_vec();
    }
    let mut b = Vec::new();
    for f in Field::ALL {
        b.extend_from_slice(&word(inp, f).to_ne_bytes());
    }
    b.extend_from_slice(&cgroup_id(inp).to_ne_bytes());
    // VER0 leaves the scope alone; a size inside cgroup_id gives what fits,
    // which must name a cgroup if not 0, but does not name the scope.
    let size = match inp.pick(8) {
        0 | 1 => model::VER0,
        2 | 3 => model::VER1,
        4 => model::VER0 + 4 * (1 + inp.pick(8)),
        5 => [model::PAGE, model::PAGE + 1, 8, 0][inp.pick(4)],
        _ => inp.u16() % (model::PAGE + 65),
    };
    b.resize(size, 0);
    if size > model::VER0 && inp.pick(4) == 0 {
        let at = model::VER0 + inp.u16() % (size - model::VER0);
        b[at] = 1 + inp.pick(255) as u8;
    }
    b
}

fn op(inp: &mut Input) -> Op {
    let key = match inp.pick(16) {
        k @ 0..=13 => KEYS[k % KEYS.len()].as_bytes().to_vec(),
        14 => OTHER_KEYS[inp.pick(OTHER_KEYS.len())].as_bytes().to_vec(),
        _ => inp.bytes(16).to_vec(),
    };
    let f = match model::key(&key) {
        Some(Key::Strings(f)) => Some(f),
        _ => None,
    };
    // 0 flag, 1 string, 2 blob, 3 fd, 4 other; mostly what the key takes.
    let natural = match &key[..] {
        b"delegate" => 0,
        b"abilities" => 2,
        b"delegate_userns" | b"target_userns" => 3,
        _ => 1,
    };
    let kind = match inp.pick(8) {
        k @ 0..=4 => k,
        _ => natural,
    };
    let val = match kind {
        0 => Val::Flag,
        1 if key == b"delegate_cgroup" => Val::Str(cgroup_string(inp)),
        1 => {
            let f = f.unwrap_or_else(|| field(inp));
            Val::Str(string(inp, f))
        }
        2 => Val::Blob(blob(inp)),
        3 => Val::Fd([Userns::Same, Userns::Same, Userns::Other, Userns::NotUserns][inp.pick(4)]),
        _ => Val::Other,
    };
    Op {
        key,
        val,
        privileged: inp.pick(5) != 0,
    }
}

fn ops(inp: &mut Input, max: usize) -> Vec<Op> {
    (0..inp.pick(max + 1)).map(|_| op(inp)).collect()
}

/// Whether the kernel must ask if a cgroup exists for `op`: a privileged
/// caller's scope that parsed and is not 0.
fn asks_cgroup(op: &Op) -> bool {
    op.privileged
        && match (model::key(&op.key), op.value()) {
            (Some(Key::Abilities), Value::Blob(b)) => {
                model::blob(b).is_ok_and(|o| o.cgroup_id != 0)
            }
            (Some(Key::Cgroup), Value::String(s)) => {
                model::cgroup_number(s).is_some_and(|id| id != 0)
            }
            _ => false,
        }
}

/// Applies one context's parameters to the kernel's request and the model's,
/// checking both after each; returns whether any call was accepted.
fn apply(
    ops: &[Op],
    ctx: &Context,
    exists: &dyn Fn(u64) -> bool,
    req: &mut Request,
    mreq: &mut model::Req,
) -> bool {
    let mut accepted = false;
    for op in ops {
        let asked = Cell::new(0);
        let privileged = || {
            asked.set(asked.get() + 1);
            op.privileged
        };
        let looked_up = Cell::new(0);
        let cgroup_exists = |id| {
            assert_eq!(
                asked.get(),
                1,
                "{op:?}: a cgroup looked up before privilege"
            );
            assert_ne!(id, 0, "{op:?}: a cgroup looked up for no scope");
            looked_up.set(looked_up.get() + 1);
            exists(id)
        };
        let got = parse_param_scoped(req, &op.key, op.value(), ctx, &privileged, &cgroup_exists);
        let want = model::param(
            mreq,
            &op.key,
            op.value(),
            ctx.init_userns,
            ctx.reconfigure,
            op.privileged,
            exists,
        );
        // Privilege is asked once for a delegation key, never for others;
        // a cgroup once for a scope that parsed, never for anything else.
        let delegation = model::key(&op.key).is_some();
        assert_eq!(asked.get(), u32::from(delegation), "{op:?}");
        assert_eq!(looked_up.get(), u32::from(asks_cgroup(op)), "{op:?}");
        match (got, want) {
            (None, None) => {}
            (Some(Ok(r)), Some(Ok(m))) => {
                assert!(op.privileged, "an unprivileged call was accepted: {op:?}");
                assert!(m.matches(&r), "{op:?}: kernel {r:?}, model {m:?}");
                *req = r;
                *mreq = m;
                accepted = true;
            }
            (Some(Err(e)), Some(Err(w))) => {
                assert_eq!(e, w, "{op:?}");
                assert_eq!(e.errno(), model::errno(&w), "{op:?}");
                model::message(&e);
                // The caller keeps its request: nothing changes.
            }
            (g, w) => panic!("{op:?}: kernel {g:?}, model {w:?}"),
        }
        assert!(mreq.matches(req));
    }
    accepted
}

/// Cgroup attachments of a program loaded through `state`: an attach type
/// (mostly a small one, often `BPF_LSM_CGROUP`), multi or legacy, and a
/// target cgroup, given by the ids of itself and its ancestors.
fn check_cgroup_attach(inp: &mut Input, state: &State) {
    let lsm = model::lsm_cgroup();
    for _ in 0..inp.pick(4) {
        let attach_type = match inp.pick(8) {
            0 => inp.u32(),
            1 => lsm,
            _ => inp.pick(71) as u32,
        };
        let multi = inp.flag();
        let chain: Vec<u64> = (0..inp.pick(4))
            .map(|_| match inp.pick(4) {
                0 | 1 => state.scope,
                2 => inp.pick(16) as u64,
                _ => inp.u64(),
            })
            .collect();
        let asked = Cell::new(0);
        let within = |id| {
            assert_eq!(id, state.scope, "within() asked about another cgroup");
            assert_ne!(state.scope, 0, "within() asked without a scope");
            asked.set(asked.get() + 1);
            chain.contains(&id)
        };
        let got = state.allows_cgroup_attach(attach_type, multi, &within);
        if *DEBUG {
            let how = if multi { "multi" } else { "legacy" };
            eprintln!("  cgroup attach {attach_type} ({how}) to {chain:?}: {got}");
        }
        assert!(asked.get() <= 1);
        assert_eq!(
            got,
            model::allows_cgroup_attach(state, attach_type, multi, &|id| chain.contains(&id)),
            "attach {attach_type} multi {multi} to {chain:?}, {state:?}"
        );
        // The rules, spelled out: a scope never lets a legacy attachment
        // or BPF_LSM_CGROUP through, whatever the cgroup; without one,
        // neither matters.
        if state.scope != 0 {
            assert!(!state.allows_cgroup_attach(attach_type, false, &|_| true));
            assert!(!state.allows_cgroup_attach(lsm, true, &|_| true));
        } else {
            assert_eq!(
                state.allows_cgroup_attach(attach_type, !multi, &|_| panic!("no scope")),
                got
            );
        }
        let dead = State {
            dead: true,
            ..*state
        };
        assert!(!dead.allows_cgroup_attach(attach_type, multi, &|_| true));
    }
}

/// mountinfo's text, given back as string options in a new context (each
/// piece at most 255 bytes), creates the same delegation.
fn round_trip(state: &State) {
    let mut text = String::new();
    show(&mut text, state).unwrap();
    let ctx = Context {
        init_userns: false,
        reconfigure: false,
    };
    let mut req = Request::default();
    let mut last = None;
    for opt in text.split(',').skip(1) {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        let order = KEYS.iter().position(|&k| k == key).expect(opt);
        assert!(last < Some(order), "{text}: out of order");
        last = Some(order);
        if key == "delegate" {
            assert!(value.is_empty(), "{text}");
            req = parse_param(&req, b"delegate", Value::Flag, &ctx, &|| true)
                .unwrap()
                .unwrap();
            continue;
        }
        assert!(
            value
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_:".contains(&c)),
            "{text}"
        );
        for piece in model::pieces(value) {
            assert!(piece.len() <= model::STRING_MAX);
            req = parse_param(
                &req,
                key.as_bytes(),
                Value::String(piece.as_bytes()),
                &ctx,
                &|| true,
            )
            .unwrap()
            .unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }
    assert!(text.is_empty() || text.starts_with(','), "{text}");
    // The scope last, in decimal, and only when there is one.
    let scope = model::shown_scope(state.scope);
    assert!(text.ends_with(&scope), "{text}: want {scope}");
    assert_eq!(
        text.matches("delegate_cgroup").count(),
        usize::from(state.scope != 0)
    );
    let back = req.create();
    assert_eq!(back, model::shown(state), "{text}");
    let mut again = String::new();
    show(&mut again, &back).unwrap();
    assert_eq!(again, text);
}

fn run(inp: &mut Input) {
    let init_userns = inp.pick(8) == 0;
    let creator_privileged = inp.flag();
    let rule = inp.byte();
    let exists = model::cgroups(rule);
    let create_ops = ops(inp, 8);

    let ctx = Context {
        init_userns,
        reconfigure: false,
    };
    let mut req = Request::default();
    let mut mreq = model::Req::default();
    apply(&create_ops, &ctx, &exists, &mut req, &mut mreq);
    if *DEBUG {
        eprintln!("cgroups: ids n != 0 with bit n % 8 of {rule:#010b}");
        eprintln!("create {ctx:?}, creator privileged {creator_privileged}:");
        create_ops.iter().for_each(|op| eprintln!("  {op:?}"));
    }
    if inp.pick(4) == 0 {
        // Pending: a privileged target_userns reconfigure narrows it.
        let ctx = Context {
            init_userns: true,
            reconfigure: true,
        };
        let narrow_ops = ops(inp, 4);
        let mut nreq = Request::default();
        let mut mnreq = model::Req::default();
        apply(&narrow_ops, &ctx, &exists, &mut nreq, &mut mnreq);
        req = nreq.narrow_pending(&req);
        mreq = mnreq.narrow(&mreq);
        if *DEBUG {
            eprintln!("narrowed while pending:");
            narrow_ops.iter().for_each(|op| eprintln!("  {op:?}"));
            eprintln!("  -> {req:?}");
        }
        assert!(
            mreq.matches(&req),
            "narrowed: kernel {req:?}, model {mreq:?}"
        );
    }
    let allowed = may_create(&req, init_userns, &|| creator_privileged);
    assert_eq!(allowed, init_userns || mreq.delegate || creator_privileged);
    if !allowed {
        return;
    }
    let mut state = req.create();
    if *DEBUG {
        eprintln!("  -> {state:?}");
    }
    let want = State {
        delegated: mreq.delegate,
        dead: false,
        masks: mreq.masks(),
        scope: mreq.scope,
    };
    assert_eq!(state, want);
    round_trip(&state);
    check_cgroup_attach(inp, &state);

    for _ in 0..inp.pick(5) {
        let ctx = Context {
            init_userns,
            reconfigure: true,
        };
        let reconf_ops = ops(inp, 6);
        let mut req = Request::default();
        let mut mreq = model::Req::default();
        let accepted = apply(&reconf_ops, &ctx, &exists, &mut req, &mut mreq);
        let next = req.reconfigure(&state);
        if *DEBUG {
            eprintln!("reconfigure:");
            reconf_ops.iter().for_each(|op| eprintln!("  {op:?}"));
            eprintln!("  -> {next:?}");
        }
        assert_eq!(next, model::reconfigure(&mreq, &state));
        assert_eq!(next.delegated, state.delegated);
        // Only a task privileged at commit time commits delegation.
        let asks = mreq.any_named() || mreq.target || mreq.delegate;
        assert_eq!(may_commit(&req, &|| false), !asks, "{reconf_ops:?}");
        assert!(may_commit(&req, &|| true));
        if !accepted || reconf_ops.iter().all(|op| !op.privileged) {
            // Refused and unprivileged calls leave the instance as it is.
            assert!(!mreq.any_named());
            assert_eq!(next, state, "{reconf_ops:?}");
        }
        state = next;
        round_trip(&state);
        check_cgroup_attach(inp, &state);
    }
}

fuzz_target!(|data: &[u8]| run(&mut Input(data)));
