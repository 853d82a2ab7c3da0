# SPDX-License-Identifier: Apache-2.0
# The emulated board tier (tests/board/README.md): the static arm64 limpet
# on a QEMU arm64 board with Debian's kernel, cgroup v2 and nested KVM.
#
#   make check-board                 build, boot, run the board's tests
#   make check-board BOARD_TESTS=... only these (paths under tests/)
#   make board-shell                 the same board with a shell on the console

DEB_BOARD := qemu-system-arm cpio file

.PHONY: check-board board-shell board-deps
board-deps:
	@if ! dpkg -s $(DEB_BOARD) >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_BOARD); \
	fi

check-board: board-deps
	$(MAKE) static ARCH=arm64
	tests/board/run.sh $(abspath build-static-arm64/limpet)

board-shell: board-deps
	$(MAKE) static ARCH=arm64
	BOARD_SHELL=1 tests/board/run.sh $(abspath build-static-arm64/limpet)
