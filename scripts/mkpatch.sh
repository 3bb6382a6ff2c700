#!/usr/bin/env bash
# Developer tool: (re)write patches/NAME from edited copies of kernel files.
#   scripts/mkpatch.sh edit FILE...         copy FILEs, as all patches leave them, into out/edit/
#   scripts/mkpatch.sh write NAME FILE...   diff the FILEs, as the patches before NAME leave
#                                           them, against out/edit/FILE into patches/NAME
# Edit the copies in between.  Patches apply with -p1 in name order; out/edit
# holds the tip of the series, so write the newest patch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
[ -f "$OUT/base/.unpacked" ] || "$top/scripts/assemble.sh"
cmd=${1:-}
shift || true
case "$cmd" in
edit)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	layer_patches "$tmp" "" "$@" || die "the patches do not apply"
	for f in "$@"; do
		mkdir -p "$OUT/edit/$(dirname "$f")"
		[ -f "$OUT/edit/$f" ] || cp "$tmp/$f" "$OUT/edit/$f"
	done ;;
write)
	name=$1
	shift
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	layer_patches "$tmp/a" "$name" "$@" || die "the patches before $name do not apply"
	mkdir -p "$top/patches"
	(cd "$tmp" && for f in "$@"; do
		diff -u --label "a/$f" --label "b/$f" "a/$f" "$OUT/edit/$f" || [ $? = 1 ]
	done) >"$top/patches/$name"
	log "wrote patches/$name: $(grep -c '^@@' "$top/patches/$name") hunks" ;;
*)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 2 ;;
esac
