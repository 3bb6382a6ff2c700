#!/usr/bin/env bash
# Install everything the build, the VM runner and the tests need, idempotently.
# Debian packages by name (the archive keeps only current versions), bindgen-cli
# from crates.io and virtme-ng from PyPI at pinned versions.  Prints what it got.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

BINDGEN_VERSION=0.73.2
# cargo-fuzz for scripts/fuzz.sh, in its own root under $TOOLS.
CARGO_FUZZ_VERSION=0.13.2
# virtme-ng and its dependencies, pinned in scripts/virtme-ng-requirements.txt.
VIRTME_NG_VERSION=$(sed -n 's/^virtme-ng==//p' "$top/scripts/virtme-ng-requirements.txt")

DEB_PACKAGES=(
	linux-source-6.12 rustc-web rust-web-src rust-web-clippy rustfmt-web
	libclang-dev clang lld llvm qemu-system-x86 busybox-static bc flex bison
	libelf-dev libssl-dev cpio xz-utils make gcc libc6-dev pkg-config
	python3-venv kmod udev zstd rsync zlib1g-dev
	# Upstream's token selftest (scripts/build-test-progs.sh): its BPF
	# objects are built with clang-19 (Debian 12's default clang is 14).
	clang-19 llvm-19 lld-19
	# A real OCI runtime for bpf-delegate oci-hook (bpf_delegate_test.sh).
	crun
	# scripts/insn-trace.sh steps a VM's bpf() calls through QEMU's gdbstub.
	gdb
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "Debian packages:"
dpkg-query -W -f='  ${Package} ${Version}\n' "${DEB_PACKAGES[@]}"

mkdir -p "$TOOLS"
if ! "$TOOLS/bin/bindgen" --version 2>/dev/null | grep -qx "bindgen $BINDGEN_VERSION"; then
	log "installing bindgen-cli $BINDGEN_VERSION from crates.io"
	cargo install --locked --quiet --root "$TOOLS" bindgen-cli --version "=$BINDGEN_VERSION"
fi
log "$("$TOOLS/bin/bindgen" --version)"

if ! "$TOOLS/cargo-fuzz/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io"
	cargo install --locked --quiet --root "$TOOLS/cargo-fuzz" cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
fi
log "$("$TOOLS/cargo-fuzz/bin/cargo-fuzz" --version)"

if ! "$TOOLS/venv/bin/vng" --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
	log "installing virtme-ng $VIRTME_NG_VERSION from PyPI into $TOOLS/venv"
	python3 -m venv "$TOOLS/venv"
	"$TOOLS/venv/bin/pip" install -q -r "$top/scripts/virtme-ng-requirements.txt"
fi
# pahole >= 1.26 for BTF in a Rust kernel (Debian 12 has 1.24).
"$top/scripts/pahole.sh"

log "virtme-ng $("$TOOLS/venv/bin/vng" --version 2>&1 | tail -n1)"
log "$(/usr/bin/rustc --version) / $(gcc --version | head -n1) / $(qemu-system-x86_64 --version | head -n1)"
touch "$TOOLS/.setup-done"
