#!/usr/bin/env bash
# Developer tool: (re)write patches/NAME from edited copies of kernel files.
#   scripts/mkpatch.sh edit FILE...         copy FILEs from the pristine base into out/edit/
#   scripts/mkpatch.sh write NAME FILE...   diff out/edit/FILE against the base into patches/NAME
# Edit the copies in between.  Patches apply with -p1 in name order.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
[ -f "$OUT/base/.unpacked" ] || "$top/scripts/assemble.sh"
cmd=${1:-}
shift || true
case "$cmd" in
edit)
	for f in "$@"; do
		mkdir -p "$OUT/edit/$(dirname "$f")"
		[ -f "$OUT/edit/$f" ] || cp "$OUT/base/$f" "$OUT/edit/$f"
	done ;;
write)
	name=$1
	shift
	mkdir -p "$top/patches"
	(cd "$OUT" && for f in "$@"; do
		diff -u --label "a/$f" --label "b/$f" "base/$f" "edit/$f" || [ $? = 1 ]
	done) >"$top/patches/$name"
	log "wrote patches/$name: $(grep -c '^@@' "$top/patches/$name") hunks" ;;
*)
	sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
	exit 2 ;;
esac
