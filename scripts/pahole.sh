#!/usr/bin/env bash
# A pahole that can encode BTF for a Rust kernel, without touching the
# system's package state.
#
# Linux 6.12 lets RUST and DEBUG_INFO_BTF coexist only with pahole >= 1.26
# (PAHOLE_HAS_LANG_EXCLUDE); Debian 12 ships 1.24.  Debian 13 (trixie) has
# 1.30 as a binary package, built against a newer glibc and libbpf than
# Debian 12's.  So this downloads trixie's pahole and the libraries it links
# (with apt-get, against a private sources list and state folder whose
# archive URI is the one this machine's own apt sources use), unpacks them
# into $TOOLS/pahole with dpkg-deb, and writes $TOOLS/bin/pahole, a wrapper
# that runs it through trixie's own dynamic loader and libraries.
#   scripts/pahole.sh        install if missing, print the version
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

MIN_VERSION=126
SUITE=trixie
PACKAGES=(pahole libc6 libbpf1 libdw1t64 libelf1t64 zlib1g libzstd1 liblzma5 libbz2-1.0)
D=$TOOLS/pahole
W=$TOOLS/bin/pahole

# pahole --version prints "v1.30": 130, comparable with kbuild's PAHOLE_VERSION.
version_of() {
	"$1" --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p' |
		{ read -r major minor && printf '%d%02d\n' "$major" "$minor"; }
}

if [ -x "$W" ] && [ "$(version_of "$W" || echo 0)" -ge "$MIN_VERSION" ]; then
	log "pahole $("$W" --version) ($W)"
	exit 0
fi

# The archive this machine already uses for Debian itself: the first deb822
# or one-line source whose suite is the running release (not -security, not
# -updates).
release=$(. /etc/os-release && echo "$VERSION_CODENAME")
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	uri=$(awk -v rel="$release" '
		/^[[:space:]]*$/ { if (ok && u != "") { print u; exit } ok = 0; u = ""; next }
		/^URIs:/ { u = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == rel) ok = 1 }
		END { if (ok && u != "") print u }' "$f" | head -n1)
	[ -n "$uri" ] && break
done
if [ -z "$uri" ]; then
	uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v rel="$release" '$1 == "deb" { for (i = 3; i <= NF; i++) if ($i == rel) { print ($2 ~ /^\[/ ? $3 : $2); exit } }')
fi
[ -n "$uri" ] || die "no Debian archive for '$release' in this machine's apt sources"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "$keyring is missing (package debian-archive-keyring)"

log "fetching pahole from Debian $SUITE ($uri) into $D"
A=$OUT/apt-$SUITE
rm -rf "$A" "$D.new"
mkdir -p "$A/etc/preferences.d" "$A/etc/apt.conf.d" "$A/state/lists/partial" "$A/cache/archives/partial" "$A/debs" "$D.new"
echo "deb [signed-by=$keyring] $uri $SUITE main" >"$A/etc/sources.list"
: >"$A/state/status"
apt_private=(
	-o Dir::Etc::SourceList="$A/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::Etc::Preferences="$A/etc/preferences" -o Dir::Etc::PreferencesParts="$A/etc/preferences.d"
	-o Dir::Etc::Parts="$A/etc/apt.conf.d"
	-o Dir::State="$A/state" -o Dir::State::Status="$A/state/status" -o Dir::Cache="$A/cache"
	-o APT::Architecture="$(dpkg --print-architecture)" -o APT::Architectures::="$(dpkg --print-architecture)"
	-o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
apt-get "${apt_private[@]}" -qq update
(cd "$A/debs" && apt-get "${apt_private[@]}" -qq download "${PACKAGES[@]}")
for deb in "$A"/debs/*.deb; do
	dpkg-deb -x "$deb" "$D.new"
	log "  $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
done
rm -rf "$D"
mv "$D.new" "$D"
rm -rf "$A"

lib=$D/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] && [ -x "$D/usr/bin/pahole" ] || die "the $SUITE packages did not unpack as expected"
mkdir -p "$TOOLS/bin"
cat >"$W" <<EOF
#!/bin/sh
# Debian $SUITE's pahole on its own loader and libraries (scripts/pahole.sh).
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$D/usr/bin/pahole" "\$@"
EOF
chmod +x "$W"
got=$(version_of "$W" || echo 0)
[ "$got" -ge "$MIN_VERSION" ] || die "pahole from $SUITE reports version $got, need >= $MIN_VERSION"
log "pahole $("$W" --version) ($W)"
