# SPDX-License-Identifier: Apache-2.0
#
# Release builds: one static, stripped binary on musl, with the libraries
# built from pinned Debian sources (platform/static/README.md).
#
#   make static [ARCH=x86_64|arm64]  build-static-$(ARCH)/limpet
#   make size [ARCH=...]             its size, and what each library adds
#   make static-deps                 install the Debian packages that needs (root)
#   make static-sources              fetch and check every pinned source afresh

ARCH ?= $(patsubst aarch64,arm64,$(HOSTARCH))
STATIC_O := build-static-$(ARCH)
STATIC_DEFCONFIG_x86_64 := x86_64_defconfig
STATIC_DEFCONFIG_arm64 := rpi4_defconfig
STATIC_DEFCONFIG := $(STATIC_DEFCONFIG_$(ARCH))
STATIC_LDFLAGS := -static -Wl,--gc-sections -Wl,-Map=$(STATIC_O)/limpet.map -s

# For an x86_64 (amd64) build host, the usual one; apt's arm64 architecture
# and the deb-src entries are added by static-deps itself.
DEB_STATIC := musl-tools musl-dev:arm64 gcc-aarch64-linux-gnu linux-libc-dev:arm64 \
	      dpkg-dev autoconf automake libtool gperf pkg-config kconfig-frontends-nox \
	      qemu-user-static file

.PHONY: static static-deps static-sources size

static-deps:
	@platform/static/setup.sh $(DEB_STATIC)

# Every pinned source, resolved and downloaded into an empty directory: what
# a new machine would get, whatever ~/.cache holds (make check starts here).
static-sources: static-deps
	@d=$$(mktemp -d /tmp/limpet-sources.XXXXXX) && \
	LIMPET_DL_DIR=$$d platform/static/deps.sh --sources; rc=$$?; rm -rf "$$d"; exit $$rc

# The board's defconfig, not the developer's .config: a release is reproducible.
$(STATIC_O)/.config: platform/board/configs/$(STATIC_DEFCONFIG)
	@test -n "$(STATIC_DEFCONFIG)" || { echo "make static: ARCH=$(ARCH): not supported (x86_64 or arm64)" >&2; exit 2; }
	@mkdir -p $(STATIC_O)
	@echo "  DEFCONFIG $< ($(STATIC_O))"
	@KCONFIG_CONFIG=$(abspath $@) kconfig-conf --defconfig=$< Kconfig >/dev/null

# Objects compiled against another prefix's headers must not be linked with
# this one's libraries: a new prefix starts the objects afresh.  So does a
# binary that is not static: a plain `make O=build-static-...` (make install
# in tests/integration/05 does it when a source changed) rebuilt it with the
# host's compiler and libraries.
static: $(STATIC_O)/.config
	@platform/static/deps.sh $(ARCH) >$(STATIC_O)/deps.env
	@. ./$(STATIC_O)/deps.env; \
	if [ "$$(cat $(STATIC_O)/deps.prefix 2>/dev/null)" != "$$PREFIX" ] || \
	   ! file -b $(STATIC_O)/limpet 2>/dev/null | grep -q 'statically linked'; then \
		rm -rf $(addprefix $(STATIC_O)/,agent platform include liblimpet.a limpet); \
		echo "$$PREFIX" >$(STATIC_O)/deps.prefix; \
	fi; \
	PKG_CONFIG_LIBDIR=$$PREFIX/lib/pkgconfig PKG_CONFIG_PATH= \
	$(MAKE) --no-print-directory O=$(STATIC_O) KCONFIG_CONFIG=$(abspath $(STATIC_O))/.config \
		CC="$$CC" AR="$$AR" PKG_CONFIG="pkg-config --static" \
		CFLAGS="$$CFLAGS" LDFLAGS="$(STATIC_LDFLAGS)" \
		$(STATIC_O)/limpet
	@file -b $(STATIC_O)/limpet | grep -q 'statically linked' || \
		{ echo "make static: $(STATIC_O)/limpet is not statically linked" >&2; exit 1; }
	@echo "  STATIC  $(STATIC_O)/limpet: $$(stat -c %s $(STATIC_O)/limpet) bytes"

size: static
	@platform/static/size.sh $(STATIC_O)/limpet $(STATIC_O)/limpet.map
