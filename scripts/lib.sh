# Shared settings for the scripts; sourced, not run.
# shellcheck shell=bash
top=${top:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
OUT=${OUT:-$top/out}
TOOLS=${TOOLS:-$OUT/tools}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Which kernel: "patched" (the default), "vanilla" (BASE_ONLY=1: the base
# without overlay or patches), "nodelegation" (NO_DELEGATION=1: patched,
# but without Rust and so without the feature) or "debug" (DEBUG=1: patched,
# built with clang and KASAN, lockdep, UBSAN, kmemleak).  Each has its own
# build, so all can be kept side by side.
flavour() {
	if [ "${BASE_ONLY:-0}" = 1 ]; then
		echo vanilla
	elif [ "${NO_DELEGATION:-0}" = 1 ]; then
		echo nodelegation
	elif [ "${DEBUG:-0}" = 1 ]; then
		echo debug
	else
		echo patched
	fi
}
# The nodelegation kernel is built from the patched tree.
src_dir() { if [ "$(flavour)" = vanilla ]; then echo "$OUT/src-vanilla"; else echo "$OUT/src-patched"; fi; }
build_dir() { echo "$OUT/build-$(flavour)"; }
# Is the flavour built with BTF and the BPF LSM (configs/btf/)?
has_btf() { case "$(flavour)" in patched | vanilla) return 0 ;; *) return 1 ;; esac; }
# Does the flavour carry the feature (and so its tests and tools)?
has_delegation() { case "$(flavour)" in patched | debug) return 0 ;; *) return 1 ;; esac; }

# The repo's overlay: new files that live at their kernel path.
OVERLAY_DIRS=(kernel rust include tools/testing Documentation lib net)
overlay_files() {
	local d
	for d in "${OVERLAY_DIRS[@]}"; do
		[ -d "$top/$d" ] || continue
		(cd "$top" && git ls-files --cached --others --exclude-standard -- "$d")
	done
}

# Files a patch touches (its +++ lines, -p1).
patch_files() {
	sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"
}

# The one place the series' patches are laid over the base (assemble.sh,
# mkpatch.sh): in directory $1, copy from the base the files that the
# patches sorting before $2 (all of them when $2 is empty) touch, and the
# further files named after $2, then apply those patches in name order.
# Prints what does not apply, with its rejected hunks, and fails.
layer_patches() {
	local dir=$1 upto=$2 p f out
	shift 2
	local files=("$@") patches=()
	for p in "$top"/patches/*.patch; do
		[ -e "$p" ] || continue
		[ -n "$upto" ] && [[ ! "$(basename "$p")" < "$upto" ]] && continue
		patches+=("$p")
		mapfile -t -O "${#files[@]}" files < <(patch_files "$p")
	done
	for f in "${files[@]}"; do
		[ -n "$f" ] && [ -f "$OUT/base/$f" ] || continue
		mkdir -p "$dir/$(dirname "$f")"
		cp -p "$OUT/base/$f" "$dir/$f"
	done
	for p in "${patches[@]}"; do
		if ! out=$(patch -p1 -d "$dir" --forward --no-backup-if-mismatch -r - <"$p" 2>&1); then
			printf '%s\n' "$out" >&2
			printf '\nerror: patches/%s does not apply to Linux %s; the failing hunk(s):\n' \
				"$(basename "$p")" "$(cat "$OUT/base-version" 2>/dev/null || echo '(base)')" >&2
			patch -p1 -d "$dir" --dry-run --forward --no-backup-if-mismatch -r "$dir/.rej" <"$p" >/dev/null 2>&1 || true
			cat "$dir/.rej" >&2 2>/dev/null || true
			rm -f "$dir/.rej"
			return 1
		fi
	done
}

# kbuild with Debian's rustc-web (it ships the library sources kbuild needs)
# and the pinned bindgen; the rustup toolchain in PATH has no rust-src.  The
# debug kernel is built with clang (LLVM=1): Rust with KASAN needs it.  Every
# kernel build goes through here; KSRC and KBUILD name another tree and
# build folder than the flavour's (the per-patch bisect builds).
kmake() {
	local llvm=()
	[ "$(flavour)" = debug ] && llvm=(LLVM=1)
	# bindgen loads the newest libclang it finds (clang-19's, since setup
	# installs it for the BPF objects) unless told: use the one of the
	# clang that builds the kernel, or LLVM=1 builds pass it clang 14 flags
	# it does not know.
	LIBCLANG_PATH="/usr/lib/llvm-$(clang -dumpversion | cut -d. -f1)/lib" \
	make -C "${KSRC:-$(src_dir)}" O="${KBUILD:-$(build_dir)}" ARCH=x86_64 "${llvm[@]}" \
		RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
		RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver \
		BINDGEN="$TOOLS/bin/bindgen" PAHOLE="$TOOLS/bin/pahole" -j"${JOBS:-$(($(nproc) + 1))}" "$@"
}
# Serialise work on a shared tree: lock NAME holds $OUT/.NAME.lock until the
# calling script exits, so two make invocations (or a developer and a helper
# script) never run kbuild in the same directory at once.
lock() {
	mkdir -p "$OUT"
	exec {_lockfd}>"$OUT/.$1.lock"
	if ! flock -n "$_lockfd"; then
		log "waiting for another build holding $OUT/.$1.lock"
		flock "$_lockfd"
	fi
}
need_setup() {
	[ -f "$TOOLS/.setup-done" ] || die "tools are missing: run 'make setup' first"
}
