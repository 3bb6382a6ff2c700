#!/usr/bin/env bash
# Build the kernel after every patch of the series (out/series/repo, made by
# scripts/series.sh), incrementally in its own tree, with the patched
# flavour's options on a lean base (configs/bisect/): the series must be
# bisectable.
#   scripts/bisect-build.sh [SERIES_REPO]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup
repo=${1:-$OUT/series/repo}
[ -d "$repo/.git" ] || die "no series repository at $repo: run 'make series' first"
SRC="$OUT/src-bisect"
B="$OUT/build-bisect"
# The patched flavour's kbuild (lib.sh), on this tree and build folder.
kb() { BASE_ONLY=0 NO_DELEGATION=0 DEBUG=0 KSRC="$SRC" KBUILD="$B" kmake "$@"; }

if [ ! -f "$SRC/.bisect" ]; then
	log "copying base to $SRC"
	rm -rf "$SRC" "$B"
	cp -a "$OUT/base" "$SRC"
	touch "$SRC/.bisect"
fi
mkdir -p "$B"
fragments=("$top"/configs/{bpf,kunit,rust}.config "$top/configs/flavours/patched.config"
	"$top"/configs/bisect/*.config)
files=$(git -C "$repo" diff --name-only base HEAD)
start_all=$(date +%s)
for c in $(git -C "$repo" rev-list --reverse base..HEAD); do
	subject=$(git -C "$repo" log -1 --format=%s "$c")
	# Lay the tree as it is at this commit, rewriting only what changed.
	for f in $files; do
		if git -C "$repo" cat-file -e "$c:$f" 2>/dev/null; then
			git -C "$repo" show "$c:$f" >"$OUT/bisect.tmp"
		elif [ -f "$OUT/base/$f" ]; then
			cp "$OUT/base/$f" "$OUT/bisect.tmp"
		else
			rm -f "$SRC/$f"
			continue
		fi
		cmp -s "$OUT/bisect.tmp" "$SRC/$f" || { mkdir -p "$(dirname "$SRC/$f")"; cp "$OUT/bisect.tmp" "$SRC/$f"; }
	done
	# A patch that touches only documentation and selftests cannot change
	# what the kernel build reads: the build after the previous one stands.
	if ! git -C "$repo" diff-tree --no-commit-id --name-only -r "$c" |
		grep -qvE '^(Documentation|tools/testing)/'; then
		log "builds after '$subject' (touches no kernel build input)"
		continue
	fi
	# New options appear with the patches: configure again whenever a
	# patch touches a Kconfig file (and at the first build).
	if [ ! -f "$B/.config" ] || [ -z "${configured:-}" ] ||
		git -C "$repo" diff-tree --no-commit-id --name-only -r "$c" | grep -q '/Kconfig'; then
		kb -s tinyconfig >/dev/null
		(cd "$B" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$B" "$B/.config" "${fragments[@]}" >/dev/null 2>&1)
		kb -s olddefconfig >/dev/null
		configured=1
		# Once the series has added the option, every build must have it.
		if grep -q '^config BPF_DELEGATION$' "$SRC/kernel/bpf/Kconfig" &&
			! grep -q '^CONFIG_BPF_DELEGATION=y' "$B/.config"; then
			die "CONFIG_BPF_DELEGATION did not survive olddefconfig after: $subject"
		fi
	fi
	start=$(date +%s)
	if ! kb -s bzImage >"$OUT/bisect-build.log" 2>&1; then
		tail -n 30 "$OUT/bisect-build.log" >&2
		die "the kernel does not build after: $subject"
	fi
	grep -E 'warning:' "$OUT/bisect-build.log" | sed 's/^/    /' >&2 || true
	log "builds after '$subject' ($(($(date +%s) - start)) s; CONFIG_BPF_DELEGATION=$(sed -n 's/^CONFIG_BPF_DELEGATION=//p' "$B/.config"))"
done
log "bisectable: every patch builds ($(($(date +%s) - start_all)) s)"
