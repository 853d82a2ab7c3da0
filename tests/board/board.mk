# SPDX-License-Identifier: Apache-2.0
# The emulated board tier (tests/board/README.md): the static limpet on a
# QEMU board with Debian's kernel, cgroup v2 and nested KVM. The default is
# the Pi-4-like arm64 board (GIC-400); BOARD_ARCH=x86_64 is a q35 PC with
# AMD SVM.
#
#   make check-board                 build, boot, run the board's tests
#   make check-board BOARD_TESTS=... only these (paths under tests/)
#   make check-board BOARD_GIC=3     the arm64 board with a GICv3
#   make check-board BOARD_ARCH=x86_64
#   make board-shell                 the same board with a shell on the console
#   make check-boards                all three: the arm64 board with every test, then
#                                    the GICv3 and x86_64 boards with board.t and the
#                                    microVM tests (what CI runs)

BOARD_ARCH ?= arm64
BOARD_GIC ?= 2
DEB_BOARD := qemu-system-arm qemu-system-x86 cpio file
BOARD_RUN = BOARD_ARCH=$(BOARD_ARCH) BOARD_GIC=$(BOARD_GIC) \
	tests/board/run.sh $(abspath build-static-$(BOARD_ARCH)/limpet)

.PHONY: check-board check-boards board-shell board-deps
board-deps:
	@if ! dpkg -s $(DEB_BOARD) >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_BOARD); \
	fi

check-board: board-deps
	$(MAKE) static ARCH=$(BOARD_ARCH)
	$(BOARD_RUN)

BOARD_VARIANT_TESTS := board/board.t integration/17-vm.t
# The two short boards take about 1.5 minutes each: 15 stop one that hangs.
check-boards: board-deps
	$(MAKE) static ARCH=arm64
	$(MAKE) static ARCH=x86_64
	BOARD_ARCH=arm64 BOARD_GIC=2 tests/board/run.sh $(abspath build-static-arm64/limpet)
	BOARD_ARCH=arm64 BOARD_GIC=3 BOARD_TIMEOUT=900 tests/board/run.sh $(abspath build-static-arm64/limpet) \
		$(BOARD_VARIANT_TESTS)
	BOARD_ARCH=x86_64 BOARD_TIMEOUT=900 tests/board/run.sh $(abspath build-static-x86_64/limpet) \
		$(BOARD_VARIANT_TESTS)

board-shell: board-deps
	$(MAKE) static ARCH=$(BOARD_ARCH)
	BOARD_SHELL=1 $(BOARD_RUN)
