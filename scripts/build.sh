#!/usr/bin/env bash
# Build the kernel of the chosen flavour (see flavour() in lib.sh) from tinyconfig plus
# the fragments in configs/, check that Kconfig kept every option asked for,
# then build bzImage, the uAPI headers and the selftests built against them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
need_setup
lock "build-$(flavour)"

"$top/scripts/assemble.sh"
B=$(build_dir)
mkdir -p "$B"

# Common fragments, then the flavour's, which may override them.
fragments=("$top"/configs/*.config "$top/configs/flavours/$(flavour).config")
# The patched and vanilla kernels are built as distributions build them,
# with BTF and the BPF LSM (configs/btf/): upstream's token selftests run
# on both.
has_btf && fragments+=("$top"/configs/btf/*.config)
# The config is regenerated only when a fragment changed, so an incremental
# build does not see a new .config.
stamp=$(cat "${fragments[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$B/.config" ] || [ "$(cat "$B/.config-fragments" 2>/dev/null)" != "$stamp" ]; then
	log "configuring: tinyconfig + ${fragments[*]##*/}"
	kmake -s rustavailable
	kmake -s tinyconfig
	(cd "$B" && "$(src_dir)/scripts/kconfig/merge_config.sh" -m -O "$B" "$B/.config" "${fragments[@]}" >/dev/null)
	kmake -s olddefconfig
	# Kconfig silently drops options whose dependencies are not met: check
	# the final value of every option the fragments ask for.
	declare -A want=()
	while IFS= read -r line; do
		want[${line%%=*}]=${line#*=}
	done < <(cat "${fragments[@]}" | sed 's/[[:space:]]*#.*//' | grep '^CONFIG_')
	missing=()
	for opt in "${!want[@]}"; do
		got=$(sed -n "s/^$opt=//p" "$B/.config")
		if [ "${want[$opt]}" = n ]; then
			[ -z "$got" ] || missing+=("$opt=n (got $opt=$got)")
		elif [ "$got" != "${want[$opt]}" ]; then
			missing+=("$opt=${want[$opt]} (got ${got:-not set})")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		printf 'error: Kconfig dropped options the fragments ask for:\n' >&2
		printf '  %s\n' "${missing[@]}" >&2
		rm -f "$B/.config-fragments"
		exit 1
	fi
	echo "$stamp" >"$B/.config-fragments"
fi

log "building $(flavour) kernel in $B"
start=$(date +%s)
kmake -s bzImage
kmake -s headers_install INSTALL_HDR_PATH="$B/usr" >/dev/null
# kselftests, built against the uAPI headers of the kernel under test.
mkdir -p "$B/selftests"
make -s -C "$(src_dir)/tools/testing/selftests/bpffs_delegation" OUTPUT="$B/selftests" \
	KHDR_INCLUDES="-isystem $B/usr/include"
if has_btf; then
	# Upstream's own token selftest, built once for every BTF flavour.
	"$top/scripts/build-test-progs.sh" "$B/vmlinux"
	cp "$OUT/test-progs/test_progs" "$B/selftests/test_progs"
	cp "$top/tools/testing/selftests/bpffs_delegation/upstream_token_test.sh" "$B/selftests/"
fi
if has_delegation; then
	# An external client on libbpf's own API (libbpf-sys vendors libbpf).
	cargo build --release --locked --quiet \
		--manifest-path "$top/tools/testing/selftests/bpffs_delegation/libbpf_client/Cargo.toml" \
		--target-dir "$OUT/cargo-target"
	cp "$OUT/cargo-target/release/libbpf-client" "$B/selftests/libbpf_client"
	# The privileged side's CLI and its in-VM test.
	cargo build --release --locked --quiet \
		--manifest-path "$top/tools/bpf/bpf-delegate/Cargo.toml" \
		--target-dir "$OUT/cargo-target"
	cp "$OUT/cargo-target/release/bpf-delegate" "$B/selftests/bpf-delegate"
	cp "$top/tools/testing/selftests/bpffs_delegation/bpf_delegate_test.sh" \
		"$top/tools/testing/selftests/bpffs_delegation/oci_bundle.sh" "$B/selftests/"
fi
log "$(flavour) kernel built in $(($(date +%s) - start)) s: $B/arch/x86/boot/bzImage"
