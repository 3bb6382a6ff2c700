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
# $1 = directory to fill with FILEs ($3...) as the patches before $2 leave
# them ($2 empty: all patches).
layered() {
	local dir=$1 upto=$2 p f
	shift 2
	local files=("$@")
	for p in "$top"/patches/*.patch; do
		[ -e "$p" ] || continue
		[ -n "$upto" ] && [[ ! "$(basename "$p")" < "$upto" ]] && continue
		mapfile -t -O "${#files[@]}" files < <(patch_files "$p")
	done
	for f in "${files[@]}"; do
		[ -f "$OUT/base/$f" ] || continue
		mkdir -p "$dir/$(dirname "$f")"
		cp "$OUT/base/$f" "$dir/$f"
	done
	for p in "$top"/patches/*.patch; do
		[ -e "$p" ] || continue
		[ -n "$upto" ] && [[ ! "$(basename "$p")" < "$upto" ]] && continue
		patch -s -p1 -d "$dir" --no-backup-if-mismatch <"$p" || die "patches/$(basename "$p") does not apply"
	done
}

case "$cmd" in
edit)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	layered "$tmp" "" "$@"
	for f in "$@"; do
		mkdir -p "$OUT/edit/$(dirname "$f")"
		[ -f "$OUT/edit/$f" ] || cp "$tmp/$f" "$OUT/edit/$f"
	done ;;
write)
	name=$1
	shift
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	layered "$tmp/a" "$name" "$@"
	mkdir -p "$top/patches"
	(cd "$tmp" && for f in "$@"; do
		diff -u --label "a/$f" --label "b/$f" "a/$f" "$OUT/edit/$f" || [ $? = 1 ]
	done) >"$top/patches/$name"
	log "wrote patches/$name: $(grep -c '^@@' "$top/patches/$name") hunks" ;;
*)
	sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 2 ;;
esac
