#!/usr/bin/env bash
# Write the series as git format-patch files with a cover letter into
# out/series/, from series/*.txt (subject, Files:, body), then check it:
# every overlay file and patch is in exactly one patch, the series applies
# with 'git am' on a fresh repository of the pristine base, the end result
# is the assembled tree, and checkpatch --strict finds no error.  BISECT=1
# also builds the kernel after every patch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

S="$OUT/series"
[ -f "$OUT/base/.unpacked" ] || "$top/scripts/assemble.sh"
base_version=$(cat "$OUT/base-version")
author_name=$(git -C "$top" config user.name || echo "bpffs delegation")
author_email=$(git -C "$top" config user.email || echo "bpffs-delegation@invalid")
signoff="Signed-off-by: $author_name <$author_email>"

# Expand each entry's Files: into the kernel paths it adds or changes.
entry_files() { sed -n 's/^Files: //p' "$1" | tr ' ' '\n' | sed '/^$/d'; }
expand() { # overlay paths and patches/ entries -> "overlay PATH" / "patch FILE"
	local f
	while read -r f; do
		case "$f" in
		patches/*) echo "patch $f" ;;
		*) (cd "$top" && git ls-files --cached --others --exclude-standard -- "$f") | sed 's/^/overlay /' ;;
		esac
	done
}

# 1. Coverage: every overlay file and every patch exactly once.
want=$( { overlay_files; (cd "$top" && ls patches/*.patch); } | sort)
got=$(for e in "$top"/series/[0-9]*.txt; do entry_files "$e" | expand; done | sed 's/^[a-z]* //' | sort)
dups=$(printf '%s\n' "$got" | uniq -d)
[ -z "$dups" ] || die "in more than one patch of the series: $dups"
missing=$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got"))
[ -z "$missing" ] || die "in no patch of the series (add them to series/*.txt): $missing"

# 2. A repository holding the base versions of every file the series touches.
rm -rf "$S"
mkdir -p "$S/repo"
touched=$( { overlay_files; for p in "$top"/patches/*.patch; do patch_files "$p"; done; } | sort -u)
for f in $touched; do
	[ -f "$OUT/base/$f" ] || continue
	mkdir -p "$S/repo/$(dirname "$f")"
	cp "$OUT/base/$f" "$S/repo/$f"
done
git -C "$S/repo" init -q
git -C "$S/repo" add -A
git -C "$S/repo" -c user.name="$author_name" -c user.email="$author_email" \
	commit -q -m "Linux $base_version (Debian linux-source-6.12)"
git -C "$S/repo" tag base

# 3. One commit per series entry.
for e in "$top"/series/[0-9]*.txt; do
	while read -r kind f; do
		case $kind in
		patch) patch -s -p1 -d "$S/repo" --no-backup-if-mismatch <"$top/$f" ||
			die "$f does not apply in series/$(basename "$e")" ;;
		overlay) mkdir -p "$S/repo/$(dirname "$f")"; cp "$top/$f" "$S/repo/$f" ;;
		esac
	done < <(entry_files "$e" | expand)
	{
		head -n1 "$e"
		sed '1,/^Files:/d' "$e"
		echo
		echo "$signoff"
	} >"$S/msg"
	git -C "$S/repo" add -A
	git -C "$S/repo" -c user.name="$author_name" -c user.email="$author_email" commit -q -F "$S/msg"
done

# 4. format-patch with the cover letter filled in.
git -C "$S/repo" format-patch -q --cover-letter --base=base -o "$S/patches" base..HEAD
cover=$(ls "$S"/patches/0000-*.patch)
mapfile -t commits < <(ls "$S"/patches/[0-9][0-9][0-9][0-9]-*.patch | grep -v '/0000-')
# One numbering: the edits to existing files that series entry NN carries
# are patches/<the name format-patch gives commit NN>, at most one per entry.
i=0
for e in "$top"/series/[0-9]*.txt; do
	i=$((i + 1))
	mine=$(entry_files "$e" | grep '^patches/' || true)
	[ "$(printf '%s' "$mine" | grep -c .)" -le 1 ] || die "$(basename "$e") names more than one patch: $mine"
	[ -n "$mine" ] || continue
	want=$(cd "$S/patches" && ls "$(printf '%04d' "$i")"-*.patch)
	[ "$mine" = "patches/$want" ] || die "$(basename "$e") is patch $i of the series: rename $mine to patches/$want"
done
python3 - "$cover" "$top/series/cover-letter.txt" "$base_version" <<'PY'
import sys
path, letter, version = sys.argv[1:]
subject, _, body = open(letter).read().partition("\n")
body = body.strip() + f"\n\nBased on Linux {version} as shipped in Debian's linux-source-6.12.\n"
s = open(path).read()
s = s.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body)
open(path, "w").write(s)
PY

# 5. It applies with git am on a fresh repository of the pristine base, and
#    the result is what the build assembles.
rm -rf "$S/am"
git clone -q "$S/repo" "$S/am"
git -C "$S/am" checkout -q base
git -C "$S/am" -c user.name=check -c user.email=check@invalid am -q "${commits[@]}"
SRC=$(BASE_ONLY=0 NO_DELEGATION=0 src_dir)
BASE_ONLY=0 "$top/scripts/assemble.sh" >/dev/null
for f in $touched; do
	cmp -s "$S/am/$f" "$SRC/$f" || die "after the series, $f differs from the assembled tree"
done
log "series: $(ls "$S"/patches/*.patch | wc -l) files (cover letter included) in $S/patches; git am and the assembled tree agree"

# 6. checkpatch --strict on every patch.
errors=0
for p in "${commits[@]}"; do
	out=$(perl "$OUT/base/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types "$p" 2>&1 || true)
	e=$(grep -c '^ERROR' <<<"$out" || true)
	w=$(grep -c '^WARNING' <<<"$out" || true)
	c=$(grep -c '^CHECK' <<<"$out" || true)
	printf '  %-72s %s errors, %s warnings, %s checks\n' "$(basename "$p")" "$e" "$w" "$c"
	[ "$e" = 0 ] || { printf '%s\n' "$out" | grep -A4 '^ERROR' | sed 's/^/    /'; }
	errors=$((errors + e))
	printf '%s\n' "$out" >"$p.checkpatch"
done
git -C "$S/repo" diff --stat base..HEAD | tail -n1
[ "$errors" = 0 ] || die "checkpatch found $errors errors (details in $S/patches/*.checkpatch)"

# 7. BISECT=1: the kernel builds after every patch.
if [ "${BISECT:-0}" = 1 ]; then
	"$top/scripts/bisect-build.sh" "$S/repo"
fi
