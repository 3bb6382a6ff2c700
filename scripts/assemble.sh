#!/usr/bin/env bash
# Assemble the kernel source tree: Debian's linux-source-6.12 tarball, plus this
# repository's overlay of new files (kernel paths under the repo root), plus its
# patches to existing files (patches/*.patch, applied in name order).
#
# The pristine base is unpacked once into $OUT/base.  $SRC is a copy of it in
# which only files whose content changed are rewritten, so an incremental kbuild
# rebuilds only what an edit touched.  BASE_ONLY=1 assembles the vanilla base.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

TARBALL=${TARBALL:-/usr/src/linux-source-6.12.tar.xz}
WANT_VERSION=6
WANT_PATCHLEVEL=12
SRC=${SRC:-$(src_dir)}
lock assemble

[ -f "$TARBALL" ] || die "$TARBALL is missing: run 'make setup' (Debian package linux-source-6.12)"

# 1. Pristine base, unpacked once.
if [ ! -f "$OUT/base/.unpacked" ]; then
	log "unpacking $(basename "$TARBALL") into $OUT/base"
	rm -rf "$OUT/base" "$OUT/base.tmp"
	mkdir -p "$OUT/base.tmp"
	tar -xf "$TARBALL" -C "$OUT/base.tmp" --strip-components=1
	mv "$OUT/base.tmp" "$OUT/base"
	touch "$OUT/base/.unpacked"
fi
mkvar() { sed -n "s/^$1 = //p" "$OUT/base/Makefile" | head -n1; }
ver=$(mkvar VERSION) pl=$(mkvar PATCHLEVEL) sub=$(mkvar SUBLEVEL)
if [ "$ver" != "$WANT_VERSION" ] || [ "$pl" != "$WANT_PATCHLEVEL" ]; then
	die "unexpected base kernel $ver.$pl.$sub in $TARBALL: this series is for $WANT_VERSION.$WANT_PATCHLEVEL.y"
fi
log "base: Linux $ver.$pl.$sub ($(dpkg-query -W -f='${Package} ${Version}' linux-source-6.12 2>/dev/null || echo unknown package))"
echo "$ver.$pl.$sub" > "$OUT/base-version"

# 2. Working tree: a copy of the base, made once.
if [ ! -f "$SRC/.assembled" ]; then
	log "copying base to $SRC"
	rm -rf "$SRC"
	cp -a "$OUT/base" "$SRC"
	rm -f "$SRC/.unpacked"
	: > "$SRC/.overlay-files"
	touch "$SRC/.assembled"
fi

# 3. Stage overlay + patches in a scratch tree holding only the touched files.
stage=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# The vanilla tree (BASE_ONLY=1) gets the selftests only: no kernel change.
files=()
mapfile -t files < <(overlay_files)
if [ "${BASE_ONLY:-0}" = 1 ]; then
	mapfile -t files < <(printf '%s\n' "${files[@]}" | grep '^tools/testing/' || true)
	layer_patches "$stage" 0000 "${files[@]}"
else
	layer_patches "$stage" "" "${files[@]}" || exit 1
	for p in "$top"/patches/*.patch; do
		mapfile -t -O "${#files[@]}" files < <(patch_files "$p")
	done
fi
mapfile -t files < <(printf '%s\n' "${files[@]}" | sed '/^$/d' | sort -u)
for f in "${files[@]}"; do
	[ -f "$top/$f" ] || continue
	mkdir -p "$stage/$(dirname "$f")"
	cp -p "$top/$f" "$stage/$f"
done

# 4. Sync into $SRC, rewriting only files whose content differs.  Files that
# an earlier run overlaid or patched but this one does not go back to the base.
changed=0
sync_one() { # $1 = new content, $2 = relative path
	if ! cmp -s "$1" "$SRC/$2"; then
		mkdir -p "$SRC/$(dirname "$2")"
		cp "$1" "$SRC/$2"
		changed=$((changed + 1))
	fi
}
for f in "${files[@]}"; do
	[ -f "$stage/$f" ] && sync_one "$stage/$f" "$f"
done
while IFS= read -r f; do
	[ -n "$f" ] || continue
	printf '%s\n' "${files[@]}" | grep -qxF -- "$f" && continue
	if [ -f "$OUT/base/$f" ]; then
		sync_one "$OUT/base/$f" "$f"
	else
		rm -f "$SRC/$f"
		changed=$((changed + 1))
	fi
done <"$SRC/.overlay-files"
printf '%s\n' "${files[@]}" | sed '/^$/d' >"$SRC/.overlay-files"
log "assembled $SRC: ${#files[@]} files from the repo, $changed rewritten"
