# bpffs delegation: assemble, build, boot and test a patched Linux 6.12.
#
#   make run      build the patched kernel, boot it, show delegation working
#   make check    the whole test suite (host, kselftests and KUnit in a VM)
#
# BASE_ONLY=1 does the same with the vanilla kernel (no overlay, no patches),
# NO_DELEGATION=1 with the patched tree built without Rust, DEBUG=1 with the
# patched tree on a clang-built debug kernel (KASAN, lockdep, UBSAN, kmemleak).
.DEFAULT_GOAL := help
SHELL := /bin/bash

.PHONY: help setup assemble kernel run check host-test series lint fuzz bench trace clean distclean

help: ## this list
	@echo "Targets (kernel flavours: default patched, BASE_ONLY=1 vanilla, NO_DELEGATION=1, DEBUG=1):"
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install toolchain, QEMU and virtme-ng (idempotent)
	scripts/setup.sh

assemble: ## unpack Debian's linux-source-6.12, add overlay and patches
	scripts/assemble.sh

kernel: setup ## configure and build bzImage + uAPI headers
	scripts/build.sh

run: ## the main job: build, boot, show delegation working
	scripts/run.sh

check: ## the whole test suite; ends with 'N passed, N failed'
	scripts/check.sh

series: setup ## write the patch series to out/series/patches and check it (git am, checkpatch)
	scripts/series.sh

lint: setup ## rustfmtcheck, clippy, rustdoc and W=1 (no new warnings) on the series' code
	scripts/lint.sh

fuzz: setup ## fuzz the delegation policy on the host (FUZZ_SECONDS per target, default 600)
	scripts/fuzz.sh

bench: setup ## benchmark vanilla vs patched in QEMU (icount), write out/bench/report.md (BENCH_SHORT=1: CI variant)
	scripts/bench.sh

trace: setup ## single-step the bench's bpf() calls in QEMU, instructions by function, vanilla vs patched (out/trace/report.md)
	scripts/insn-trace.sh

host-test: ## only the host-side unit tests of the Rust policy
	cd host && cargo test --offline --locked

clean: ## remove the builds and results, keep tools and the unpacked base
	rm -rf out/build-* out/results-* out/src-*

distclean: ## remove everything made here, tools included
	rm -rf out host/target
