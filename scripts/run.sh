#!/usr/bin/env bash
# The main job: build the patched kernel, boot it under virtme-ng and show
# what it does, then print where the console log is.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

"$top/scripts/setup.sh"
"$top/scripts/build.sh"
B=$(build_dir)
R="$OUT/run-$(flavour)"
rm -rf "$R"
mkdir -p "$R"
"$top/scripts/vm-run.sh" "$B/arch/x86/boot/bzImage" "$R" "${VM_TIMEOUT:-600}" -- \
	"$top/scripts/guest-demo.sh" "$R" "$B/selftests"
[ -f "$R/demo.txt" ] || die "the demo did not run; console log: $R/console.log"
cat "$R/demo.txt"
grep -q '^DEMO OK$' "$R/demo.txt"
