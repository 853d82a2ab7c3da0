# SPDX-License-Identifier: Apache-2.0
#
# Debian packages of the static build (included by the top Makefile):
#
#   make deb ARCH=arm64     build-static-arm64/limpet_$(VERSION)_arm64.deb
#   make deb ARCH=x86_64    build-static-x86_64/limpet_$(VERSION)_amd64.deb
#   make deb-only ARCH=...  package build-static-$(ARCH)/limpet as it is
#
# The package holds the binary, the systemd unit, the commented config (a
# conffile) and maintainer scripts that enable and start the agent, also
# when systemd is not running (an image being built).

deb-arch-arm64 := arm64
deb-arch-x86_64 := amd64
deb-arch = $(deb-arch-$(ARCH))
deb-file = build-static-$(ARCH)/limpet_$(VERSION)_$(deb-arch).deb

.PHONY: deb deb-only
deb:
	@test -n "$(deb-arch)" || { echo "make deb: give ARCH=arm64 or ARCH=x86_64" >&2; exit 2; }
	$(MAKE) static ARCH=$(ARCH)
	$(MAKE) deb-only ARCH=$(ARCH)

deb-only:
	@test -n "$(deb-arch)" || { echo "make deb-only: give ARCH=arm64 or ARCH=x86_64" >&2; exit 2; }
	platform/dist/mkdeb.sh build-static-$(ARCH)/limpet $(VERSION) $(deb-arch) $(deb-file)
