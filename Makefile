# SPDX-License-Identifier: Apache-2.0
#
# limpet: Kconfig -> .config -> $(O)/include/generated/autoconf.h -> objects
# selected by CONFIG_* switches -> one binary, $(O)/limpet.
#
#   make defconfig | menuconfig | olddefconfig | <board>_defconfig
#   make            build $(O)/limpet (dynamic, for development)
#   make static [ARCH=x86_64|arm64]   the release: static musl build-static-ARCH/limpet
#   make size | deb ARCH=...          its size per library | its Debian package
#   make check      unit tests, integration tests on the static binary, then
#                   both again on the dynamic build under ASan+UBSan, then make fuzz
#   make fuzz       every parser's libFuzzer target for FUZZ_SECONDS each (clang)
#   make check-board  the static arm64 binary on an emulated arm64 board (cgroup v2, KVM)
#   make check-boards that board, then a GICv3 one and an x86_64 one (microVMs)
#   make install DESTDIR=... PREFIX=/usr [LIMPET_BIN=build-static-arm64/limpet]
#   make deps       install the Debian packages needed to build and test
#   make deps-graph the #include edges between agent/ and platform/ folders

VERSION := 0.1.0
srctree := $(CURDIR)
O ?= build
KCONFIG_CONFIG ?= $(srctree)/.config
export srctree KCONFIG_CONFIG

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= /lib/systemd/system
DESTDIR ?=

HOSTARCH := $(shell uname -m)
ifeq ($(HOSTARCH),aarch64)
DEFCONFIG ?= rpi4_defconfig
else
DEFCONFIG ?= x86_64_defconfig
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libconfig jansson libarchive libcurl
# CFLAGS is the user's (optimisation, debug); LP_CFLAGS is what the code needs.
CFLAGS ?= -O2 -g
LP_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	  -fno-strict-aliasing -I$(srctree) -I$(O)/include \
	  -include $(O)/include/generated/autoconf.h \
	  -DLIMPET_VERSION='"$(VERSION)"' -MMD -MP
ifeq ($(SANITIZE),1)
LP_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# The fuzz targets' build (make fuzz): clang instruments the library for
# libFuzzer.  -Wno-string-plus-int: clang's warning for LP_GUEST_DIR + 1,
# which agent/container/initramfs.c means (the name without its leading '/').
ifeq ($(SANITIZE),fuzzer)
LP_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=undefined -Wno-string-plus-int
endif

CONFIG_TARGETS := defconfig menuconfig olddefconfig savedefconfig %_defconfig
NO_BUILD_TARGETS := $(CONFIG_TARGETS) deps clean distclean help fuzz \
		    static static-deps static-sources size deb deb-only check-board check-boards board-shell bench-vm

.PHONY: all check check-unit check-integration check-static check-asan install deps clean distclean \
	defconfig menuconfig olddefconfig savedefconfig demo bench help
all: $(O)/limpet

# ---------------------------------------------------------------- Kconfig
KCONFIG_FILES := Kconfig $(wildcard */Kconfig */*/Kconfig)

$(KCONFIG_CONFIG):
	@echo "  DEFCONFIG platform/board/configs/$(DEFCONFIG) (no .config yet)"
	@kconfig-conf --defconfig=platform/board/configs/$(DEFCONFIG) Kconfig >/dev/null

defconfig:
	kconfig-conf --defconfig=platform/board/configs/$(DEFCONFIG) Kconfig >/dev/null
%_defconfig: platform/board/configs/%_defconfig
	kconfig-conf --defconfig=$< Kconfig >/dev/null
olddefconfig:
	kconfig-conf --olddefconfig Kconfig >/dev/null
menuconfig:
	kconfig-mconf Kconfig
savedefconfig:
	kconfig-conf --savedefconfig=defconfig Kconfig

# kconfig-conf writes include/ relative to its working directory: run it in $(O).
$(O)/include/config/auto.conf $(O)/include/generated/autoconf.h: $(KCONFIG_CONFIG) $(KCONFIG_FILES)
	@mkdir -p $(O)/include/config $(O)/include/generated
	@cd $(O) && kconfig-conf --olddefconfig $(srctree)/Kconfig >/dev/null
	@cd $(O) && kconfig-conf --silentoldconfig $(srctree)/Kconfig </dev/null >/dev/null
	@touch $(O)/include/config/auto.conf

# Read the config unless every goal is one that must work without it.
NO_BUILD_TARGETS += docker-seccomp deps-graph
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NO_BUILD_TARGETS),$(MAKECMDGOALS)),all),)
-include $(O)/include/config/auto.conf
endif

# ---------------------------------------------------------------- objects
ifeq ($(CONFIG_SECCOMP),y)
PKGS += libseccomp
endif
LP_CFLAGS += $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# mbedtls (agent/trust/trust.c) ships no .pc file in Debian 12
LDLIBS += -lmbedcrypto -pthread

gated-src := platform/linux/seccomp.c platform/linux/cgroup_v1.c platform/linux/cgroup_v2.c \
	     platform/linux/cgroup_bpf.c \
	     agent/daemon/agent.c agent/cli/cmd_agent.c
lib-src := $(filter-out agent/cli/main.c $(gated-src), \
	     $(wildcard platform/lib/*.c platform/linux/*.c agent/*/*.c))
lib-src-$(CONFIG_SECCOMP) += platform/linux/seccomp.c
lib-src-$(CONFIG_CGROUP_V1) += platform/linux/cgroup_v1.c
lib-src-$(CONFIG_CGROUP_V2) += platform/linux/cgroup_v2.c platform/linux/cgroup_bpf.c
lib-src-$(CONFIG_AGENT) += agent/daemon/agent.c agent/cli/cmd_agent.c
lib-src += $(filter $(wildcard $(gated-src)),$(lib-src-y))

# The VMM: its core and the architecture the compiler targets; elsewhere, or
# without CONFIG_KVM, absent.c says why there are no microVMs.
kvm-arch := $(patsubst aarch64,arm64,$(firstword $(subst -, ,$(shell $(CC) -dumpmachine))))
ifeq ($(CONFIG_KVM)-$(filter arm64 x86_64,$(kvm-arch)),y-$(kvm-arch))
lib-src += $(filter-out platform/kvm/absent.c,$(wildcard platform/kvm/*.c)) \
	   $(wildcard platform/kvm/guest/*.c platform/kvm/$(kvm-arch)/*.c)
ifeq ($(kvm-arch),arm64)
# Debian's libfdt-dev has no .pc file; the static prefix writes one.
LP_CFLAGS += $(shell $(PKG_CONFIG) --cflags libfdt 2>/dev/null)
LDLIBS += $(or $(shell $(PKG_CONFIG) --libs libfdt 2>/dev/null),-lfdt)
endif
else
lib-src += platform/kvm/absent.c
endif

lib-obj := $(lib-src:%.c=$(O)/%.o)
main-obj := $(O)/agent/cli/main.o

$(O)/%.o: %.c $(O)/include/generated/autoconf.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(LP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(O)/liblimpet.a: $(lib-obj)
	@rm -f $@
	@$(AR) rcs $@ $^

$(O)/limpet: $(main-obj) $(O)/liblimpet.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- tests
unit-src := $(wildcard tests/unit/*/*/test_*.c)
unit-bin := $(unit-src:tests/unit/%.c=$(O)/tests/unit/%)

$(O)/tests/unit/%: tests/unit/%.c $(O)/liblimpet.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(LP_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/liblimpet.a $(LDLIBS) -lcmocka

# Docker's default seccomp profile, which tests/unit/platform/linux/test_seccomp_docker.c compares
# limpet's filter with: `make deps` takes it out of Debian's package.
DOCKER_SECCOMP := $(or $(LIMPET_CACHE_DIR),$(HOME)/.cache/limpet)/docker-seccomp/default.json

check-unit: $(unit-bin)
	@set -e; for t in $(unit-bin); do echo "# $$t"; LIMPET_DOCKER_SECCOMP=$(DOCKER_SECCOMP) $$t; done

check-integration: $(O)/limpet
	LIMPET=$(abspath $(O)/limpet) prove -v --timer tests/integration/*.t

# What ships is what is tested: the static build of this host's ARCH
# (platform/static/static.mk) runs the integration suite.
check-static:
	$(MAKE) static
	LIMPET=$(abspath build-static-$(ARCH)/limpet) prove -v --timer tests/integration/*.t
	$(MAKE) check-real LIMPET_BIN=build-static-$(ARCH)/limpet

# Unit tests, the suite on the static binary, then everything once more on
# the dynamic build under ASan+UBSan, then each fuzz target for a few seconds.
# The emulated board: make check-board.
CHECK_FUZZ_SECONDS ?= 10
check: static-sources check-unit check-static
	$(MAKE) O=build-asan SANITIZE=1 check-unit check-integration
	$(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)

check-asan:
	$(MAKE) O=build-asan SANITIZE=1 check-unit check-integration

# ---------------------------------------------------------------- fuzzing
# Every parser of untrusted bytes has a libFuzzer target, tests/fuzz/fuzz_NAME.c,
# and seeds in tests/fuzz/corpus/NAME/ (tests/fuzz/README.md).  `make fuzz`
# builds them with clang under ASan+UBSan in build-fuzz and runs each for
# FUZZ_SECONDS on a copy of its corpus; any crash, leak or hang fails it.
FUZZ_SECONDS ?= 20
FUZZ_O := build-fuzz
fuzz-names := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: fuzz fuzz-build fuzz-run
.PRECIOUS: $(O)/tests/fuzz/fuzz_%
fuzz:
	$(MAKE) O=$(FUZZ_O) CC=clang SANITIZE=fuzzer fuzz-run

fuzz-build: $(fuzz-names:%=$(O)/tests/fuzz/fuzz_%)
fuzz-run: $(fuzz-names:%=fuzz-run-%)

$(O)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(O)/liblimpet.a
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(LP_CFLAGS) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(O)/liblimpet.a $(LDLIBS)

fuzz-run-%: $(O)/tests/fuzz/fuzz_%
	@rm -rf $(O)/fuzz/$* && mkdir -p $(O)/fuzz/$*/corpus $(O)/fuzz/$*/crash
	@cp -r tests/fuzz/corpus/$*/. $(O)/fuzz/$*/corpus/
	@echo "  FUZZ    $* ($(FUZZ_SECONDS) s)"
	@LSAN_OPTIONS=suppressions=$(srctree)/tests/fuzz/lsan.supp:print_suppressions=0 \
		$< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=$(O)/fuzz/$*/crash/ $(O)/fuzz/$*/corpus \
		>$(O)/fuzz/$*/log 2>&1 || \
		{ tail -n 60 $(O)/fuzz/$*/log; \
		  echo "fuzz_$*: failed; the input is in $(O)/fuzz/$*/crash/" >&2; exit 1; }
	@grep -h '^#[0-9]*.*DONE' $(O)/fuzz/$*/log | sed 's/^/          /'

# ---------------------------------------------------------------- usage
# Includes between folders, any that runs up the data flow, two-file loops
# (tests/tools/include-graph.sh).
.PHONY: deps-graph
deps-graph:
	@tests/tools/include-graph.sh $(srctree)

demo: $(O)/limpet
	tests/lib/demo.sh $(abspath $(O)/limpet)

bench: $(O)/limpet
	tests/bench/start.sh $(abspath $(O)/limpet)

# The fleet agent: idle cost of 304 polls, and pull throughput against
# curl | tar over mutual TLS (tests/bench/README.md). About 3 minutes; needs
# nginx, curl, hyperfine, skopeo, umoci. Not part of `make bench`.
.PHONY: bench-fleet
bench-fleet: $(O)/limpet
	tests/bench/fleet.sh $(abspath $(O)/limpet)

# Registry pull: limpet image pull against skopeo copy + umoci unpack and
# curl | tar of the blobs, from docker-registry over TLS on 127.0.0.1; the
# static binary too when `make static` made it (tests/bench/README.md).
# About 3 minutes; needs docker-registry, skopeo, umoci, curl, hyperfine.
.PHONY: bench-registry
bench-registry: $(O)/limpet
	tests/bench/registry.sh $(abspath $(O)/limpet) $(abspath build-static-$(ARCH)/limpet)

# microVM start: limpet's VMM against QEMU on the same KVM, guest kernel and
# initramfs, inside the emulated arm64 board (tests/board/, nested KVM on
# TCG: read the ratios). About 3.5 minutes. Not part of `make bench`.
.PHONY: bench-vm
bench-vm: board-deps
	$(MAKE) static ARCH=arm64
	BOARD_ARCH=arm64 BOARD_BENCH=bench/vm.sh tests/board/run.sh $(abspath build-static-arm64/limpet)

# The unit names /usr/bin/limpet and the default config: point it at what
# PREFIX and SYSCONFDIR say instead.
unit-execstart := $(PREFIX)/bin/limpet$(if $(filter-out /etc,$(SYSCONFDIR)), -c $(SYSCONFDIR)/limpet/limpet.conf) agent
# LIMPET_BIN installs a binary built elsewhere (make static) as it is.
LIMPET_BIN ?= $(O)/limpet
install: $(LIMPET_BIN)
	install -D -m 0755 $(LIMPET_BIN) $(DESTDIR)$(PREFIX)/bin/limpet
	install -D -m 0644 agent/limpet.conf $(DESTDIR)$(SYSCONFDIR)/limpet/limpet.conf
	install -D -m 0644 platform/dist/limpet.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/limpet
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|^ExecStart=/usr/bin/limpet agent$$|ExecStart=$(unit-execstart)|' \
		platform/dist/limpet.service >$(DESTDIR)$(SYSTEMDUNITDIR)/limpet.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/limpet.service
	install -d -m 0700 $(DESTDIR)/var/lib/limpet

# Real images (tests/realworld/README.md): Debian bookworm made by mmdebstrap,
# packed by umoci + skopeo, buildah/podman and docker, run by limpet and
# checked against docker run. The images are built once per recipe into
# $${LIMPET_CACHE_DIR:-~/.cache/limpet}/realworld (15-25 minutes), then
# reused (the tests: about 100 s of CPU). LIMPET_BIN: the binary under test.
.PHONY: check-real
check-real: $(LIMPET_BIN)
	LIMPET=$(abspath $(LIMPET_BIN)) prove -v --timer tests/realworld/*.t

# Everything needed to build and test on a fresh Debian 12.
DEB_BUILD := build-essential pkg-config kconfig-frontends-nox libncurses-dev \
	     libconfig-dev libjansson-dev libseccomp-dev libcmocka-dev libmbedtls-dev \
	     libarchive-dev libcurl4-openssl-dev
DEB_TEST := busybox-static crun runc hyperfine iproute2 procps openssl curl skopeo umoci zstd \
	    docker-registry apache2-utils python3-nacl python3-cryptography jq \
	    python3 file nginx-core dosfstools mtools fdisk e2fsprogs lintian \
	    clang libclang-rt-14-dev mmdebstrap docker.io podman buildah qemu-user-static
deps:
	@if command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		dpkg -s $(DEB_BUILD) $(DEB_TEST) >/dev/null 2>&1 || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends $(DEB_BUILD) $(DEB_TEST); }; \
	else echo "make deps: needs apt-get (Debian 12); install: $(DEB_BUILD) $(DEB_TEST)" >&2; exit 1; fi
	@$(MAKE) --no-print-directory static-deps board-deps docker-seccomp

.PHONY: docker-seccomp
docker-seccomp:
	@tests/lib/docker-seccomp.sh $(DOCKER_SECCOMP)

clean:
	rm -rf $(O) build-asan build-fuzz
distclean: clean
	rm -f .config .config.old

help:
	@sed -n '3,18p' Makefile

# Release builds, packaging and the emulated board, each beside its files.
include $(wildcard platform/static/static.mk platform/dist/dist.mk tests/board/board.mk)
