#!/usr/bin/env bash
# Lint the series' code in the patched tree: rustfmt (the kernel's
# rustfmtcheck), clippy on our Rust objects, rustdoc for the kernel crate,
# and W=1 on the C files we touch, which may not warn more than in the
# vanilla tree.  Needs the patched kernel built (and the vanilla one for
# the W=1 comparison).  Ends with 'N passed, N failed'.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup
"$top/scripts/build.sh" >/dev/null
passed=0 failed=0
result() { # NAME STATUS LOG
	if [ "$2" = 0 ]; then
		passed=$((passed + 1)); echo "ok   $1"
	else
		failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/    /' "$3" | head -40
	fi
}
L="$OUT/lint"
mkdir -p "$L"

rc=0; kmake -s rustfmtcheck >"$L/rustfmt.log" 2>&1 || rc=$?
result "rustfmtcheck (whole tree)" "$rc" "$L/rustfmt.log"

# Rebuild our Rust objects through clippy-driver (the policy's object
# needs the generated name tables its rule provides, so no assembly
# target here).
touch "$(src_dir)/kernel/bpf/delegation.rs" "$(src_dir)/rust/kernel/seq_file.rs"
rc=0; kmake CLIPPY=1 kernel/bpf/delegation.o rust/kernel.o >"$L/clippy.log" 2>&1 || rc=$?
grep -q '^warning\|^error' "$L/clippy.log" && rc=1
result "clippy: kernel/bpf/delegation.o rust/kernel.o" "$rc" "$L/clippy.log"

rc=0; kmake rustdoc >"$L/rustdoc.log" 2>&1 || rc=$?
grep -q '^warning\|^error' "$L/rustdoc.log" && rc=1
result "rustdoc (kernel crate, seq_file included)" "$rc" "$L/rustdoc.log"

# W=1: no new warnings in the C files the series touches or adds.  The
# file is compiled to assembly (FILE.s), with the same flags and warnings
# as its object, which stays as built.  (W=1 also rebuilds the Rust
# crates and modpost in kbuild's prepare step, so the next build still
# relinks each kernel.)
w1() { # FLAVOUR FILE.o -> warnings, without line numbers
	local base_only obj=$2
	base_only=$([ "$1" = vanilla ] && echo 1 || echo 0)
	rm -f "$(BASE_ONLY=$base_only build_dir)/${obj%.o}.s"
	BASE_ONLY=$base_only kmake W=1 "${obj%.o}.s" 2>&1 |
		sed -n 's/^.*\/\([^/]*\.[ch]\):[0-9]*:[0-9]*: warning: /\1: /p' | sort
}
for obj in kernel/bpf/inode.o kernel/bpf/token.o kernel/bpf/syscall.o kernel/bpf/cgroup.o kernel/bpf/delegation_kunit.o; do
	w1 patched "$obj" >"$L/w1-patched.log"
	if [ -d "$(BASE_ONLY=1 build_dir)" ] && [ -f "$OUT/base/${obj%.o}.c" ]; then
		w1 vanilla "$obj" >"$L/w1-vanilla.log"
	else
		: >"$L/w1-vanilla.log"
	fi
	comm -23 "$L/w1-patched.log" "$L/w1-vanilla.log" >"$L/w1-new.log"
	rc=0; [ -s "$L/w1-new.log" ] && rc=1
	result "W=1 ${obj%.o}.c: $(wc -l <"$L/w1-patched.log") warnings, $(wc -l <"$L/w1-new.log") new" "$rc" "$L/w1-new.log"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
