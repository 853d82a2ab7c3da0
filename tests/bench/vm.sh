#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/vm.sh [PATH/TO/limpet]
#
# microVM start, limpet's own VMM against QEMU, on the same KVM, guest
# kernel and initramfs. Made for the emulated arm64 board: `make bench-vm`
# boots it with this script instead of the tests (tests/board/run.sh with
# BOARD_BENCH=bench/vm.sh), and puts Debian's qemu-system-aarch64 and its
# libraries in /opt/qemu. The board is QEMU TCG with nested KVM: absolute
# times are inflated, the ratios are what to read.
#
#   1. limpet run --rm --isolation vm ROOTFS /bin/echo hi (busybox rootfs,
#      256 MiB, 1 vCPU): time to the first byte of its output, and to its
#      exit. No agent: `run` in the foreground is the supervisor.
#   2. the same guest kernel and initramfs (the one limpet wrote for that
#      container) under `limpet vmm --times` and under qemu-system-aarch64
#      -accel kvm -M virt: the same two times. Their command line is limpet's
#      (console=ttyS1 panic=-1 quiet rdinit=/.limpet/init). QEMU gets two
#      16550 UARTs on PCI (pci-serial-2x), which the guest kernel names
#      ttyS0 and ttyS1 as it does limpet's, so the guest init runs unchanged:
#      `hi` leaves through ttyS0 in both. All three are interleaved, one
#      warm-up run each, then LIMPET_BENCH_RUNS rounds (default 9: under
#      TCG one run varies by up to 2x), medians.
#   3. the VMM's own cost, from the `limpet vmm --times` runs of 2: start to
#      first KVM_RUN, guest end to teardown, RSS beyond guest RAM.
#
# Targets (the issue): limpet before QEMU to first output; the VMM's RSS
# beyond guest RAM under 2 MiB (Firecracker publishes <= 5 MiB and ~12 ms
# VMM start). PASS/MISS is printed; the exit status is 0 either way, and
# non-zero only if something failed to run. Needs root, /dev/kvm, a static
# limpet, busybox, and LIMPET_TEST_GUEST_KERNEL (the board sets it).
# Knobs, for a run by hand (a shell on the bench's board: BOARD_SHELL=1
# BOARD_BENCH=bench/vm.sh tests/board/run.sh LIMPET, then
# bash /limpet/tests/bench/vm.sh): LIMPET_BENCH_RUNS (9), LIMPET_BENCH_QEMU
# (/opt/qemu), LIMPET_BENCH_MEMORY (256, MiB).
set -euo pipefail

RUNS=${LIMPET_BENCH_RUNS:-9}
QDIR=${LIMPET_BENCH_QEMU:-/opt/qemu}
MEM=${LIMPET_BENCH_MEMORY:-256}
KERNEL=${LIMPET_TEST_GUEST_KERNEL:-}
# limpet's guest command line (platform/kvm/vmm.h, LP_VM_BASE_CMDLINE).
CMDLINE="console=ttyS1 panic=-1 quiet rdinit=/.limpet/init"

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_limpet "${1:-${LIMPET:-}}" "KVM, cgroups"
[ -c /dev/kvm ] || die "no /dev/kvm"
{ [ -n "$KERNEL" ] && [ -r "$KERNEL" ]; } || die "no guest kernel (LIMPET_TEST_GUEST_KERNEL=$KERNEL)"
QEMU=("$QDIR/lib/ld-linux-aarch64.so.1" --library-path "$QDIR/lib" "$QDIR/bin/qemu-system-aarch64")
[ -x "$QDIR/bin/qemu-system-aarch64" ] || die "no $QDIR/bin/qemu-system-aarch64 (make bench-vm puts it there)"

TMP=$(mktemp -d /tmp/limpet-bench-vm.XXXXXX)
STATE=$TMP/state
cleanup() {
	local rc=$? d
	trap - EXIT
	set +e
	"$LIMPET" --root "$STATE" rm -f bench-ir >/dev/null 2>&1
	# As lib.sh's remove_tmp, for busybox's rm (no --one-file-system):
	# nothing is left mounted below $TMP before it goes.
	awk -v p="$TMP/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r d; do umount -l "$d" 2>/dev/null; done
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

# time_one NAME CMD...: one run of CMD, stdin /dev/null, stdout into a pipe
# read here, stderr into $TMP/NAME.err. Appends "NAME FIRST_US EXIT_US" to
# $TIMES: from just before the fork to the first byte read from the pipe,
# and to the wait for CMD's exit. $EPOCHREALTIME (microseconds) is read in
# place: no subshell, no fork around the timing points. Its output is left in $TMP/NAME.out; dies
# if CMD fails or prints nothing.
time_one() {
	local name=$1 fifo=$TMP/out.fifo t0 t1='' t2 c='' pid rc fd
	shift
	rm -f "$fifo" && mkfifo "$fifo"
	t0=${EPOCHREALTIME/[.,]/}
	"$@" </dev/null >"$fifo" 2>"$TMP/$name.err" &
	pid=$!
	exec {fd}<"$fifo"
	if IFS= read -r -N 1 -u "$fd" c; then t1=${EPOCHREALTIME/[.,]/}; fi
	rc=0
	wait "$pid" || rc=$?
	t2=${EPOCHREALTIME/[.,]/}
	# The rest is a line or two, well within the pipe's buffer.
	{ printf '%s' "$c"; cat <&"$fd"; } >"$TMP/$name.out"
	exec {fd}<&-
	if [ "$rc" != 0 ] || [ -z "$t1" ]; then
		echo "$name: exit status $rc; output:" >&2
		cat "$TMP/$name.out" "$TMP/$name.err" >&2
		die "$name failed: $*"
	fi
	echo "$name $((t1 - t0)) $((t2 - t0))" >>"$TIMES"
}

# check_out NAME REGEX: the run's output is what the guest's echo printed.
check_out() {
	local out
	out=$(tr '\n' '|' <"$TMP/$1.out")
	[[ $out =~ $2 ]] ||
		die "$1: unexpected output: $(cat "$TMP/$1.out") (stderr: $(cat "$TMP/$1.err"))"
}

# ------------------------------------------------------------------ setup
ROOTFS=$TMP/rootfs
# shellcheck source=tests/lib/rootfs.sh
. "$TOP/tests/lib/rootfs.sh"
make_busybox_rootfs "$ROOTFS"
printf 'vm = { kernel = "%s"; memory = "%dM"; };\n' "$KERNEL" "$MEM" >"$TMP/limpet.conf"
LP=("$LIMPET" -c "$TMP/limpet.conf" --root "$STATE")
TIMES=$TMP/times
: >"$TIMES"

# The initramfs limpet writes for this container (its rootfs flattened,
# limpet as init, the spec): kept by running once without --rm.
"${LP[@]}" run --name bench-ir --isolation vm "$ROOTFS" /bin/echo hi </dev/null >"$TMP/ir.out" ||
	die "limpet run --isolation vm failed: $(cat "$TMP/ir.out")"
[ "$(cat "$TMP/ir.out")" = hi ] || die "limpet run --isolation vm printed '$(cat "$TMP/ir.out")', not hi"
INITRD=$TMP/initramfs.cpio
cp "$STATE/containers/bench-ir/initramfs.cpio" "$INITRD"
"${LP[@]}" rm bench-ir >/dev/null

# shellcheck disable=SC2054 # -M and -device take comma-separated options
qemu_cmd=("${QEMU[@]}" -accel kvm -M virt,gic-version=host -cpu host -m "$MEM" -smp 1
	-nographic -no-reboot -nic none -serial null -monitor none -L "$QDIR/share"
	-chardev stdio,id=ct -chardev "file,id=con,path=$TMP/qemu-console.log"
	-device pci-serial-2x,chardev1=ct,chardev2=con
	-kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE")
NAMES=(limpet vmm qemu)
run_one() { # NAME: one timed run, its output checked
	case $1 in
	limpet) time_one limpet "${LP[@]}" run --rm --isolation vm "$ROOTFS" /bin/echo hi ;;
	vmm)
		time_one vmm "$LIMPET" vmm --kernel "$KERNEL" --initrd "$INITRD" --memory "${MEM}M" --times
		grep '^vmm: ' "$TMP/vmm.err" >>"$TMP/vmm.times" || die "limpet vmm --times printed no times"
		;;
	qemu) time_one qemu "${qemu_cmd[@]}" ;;
	esac
	case $1 in
	# The guest init finds no exit device in QEMU's machine, says so on
	# its console (ttyS0) after the command's output, and powers off.
	qemu) check_out qemu '^hi[|]' ;;
	*) check_out "$1" '^hi[|]$' ;;
	esac
}

QVER=$("${QEMU[@]}" --version | head -1)
GUEST=$(grep -m1 -o 'Linux version [^ ]*' "$KERNEL" | cut -d' ' -f3 || true)
KVMLINE=$("$LIMPET" doctor 2>/dev/null | grep -E '^[a-z]+ +kvm ' | sed 's/^[a-z]* *kvm *//' || true)
echo "microVM start: $("$LIMPET" --version 2>/dev/null | head -1) ($LIMPET) against $QVER"
echo "board: Linux $(uname -r) $(uname -m), $(nproc) CPUs, $(awk '$1 == "MemAvailable:" { printf "%d", $2 / 1024 }' /proc/meminfo) MiB available, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "KVM: ${KVMLINE:-?}"
echo "guest: $(basename "$KERNEL") (Linux ${GUEST:-?}), ${MEM} MiB, 1 vCPU, command line: $CMDLINE"
echo "initramfs: $(($(stat -c %s "$INITRD") / 1024)) KiB, written by limpet for a busybox rootfs running /bin/echo hi"
echo "runs: $RUNS of each after 1 warm-up, interleaved (order rotated each round)"
echo

# ------------------------------------------------------------------ the runs
for n in "${NAMES[@]}"; do run_one "$n"; done
echo "qemu's ttyS0 in the warm-up run: $(tr '\n' '|' <"$TMP/qemu.out")"
[ ! -s "$TMP/qemu.err" ] || echo "qemu's stderr: $(tr '\n' '|' <"$TMP/qemu.err")"
: >"$TIMES"
: >"$TMP/vmm.times"
for r in $(seq 0 $((RUNS - 1))); do
	for k in 0 1 2; do run_one "${NAMES[$(((k + r) % 3))]}"; done
done

# ------------------------------------------------------------------ results
# median NAME FIELD: of the runs' FIELD (2: first output, 3: exit), in ms.
stat_of() {
	awk -v n="$1" -v f="$2" '$1 == n { print $f / 1000 }' "$TIMES" | sort -n |
		awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
			printf "%.0f %.0f %.0f\n", m, v[1], v[NR] }'
}
# vmm_median REGEX: the median of the number the regex's first group matches in --times lines.
vmm_median() {
	sed -n "s/$1/\\1/p" "$TMP/vmm.times" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) exit 1; m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}
declare -A FIRST EXIT RANGE1 RANGE2
for n in "${NAMES[@]}"; do
	read -r m lo hi <<<"$(stat_of "$n" 2)"
	FIRST[$n]=$m RANGE1[$n]="$lo-$hi"
	read -r m lo hi <<<"$(stat_of "$n" 3)"
	EXIT[$n]=$m RANGE2[$n]="$lo-$hi"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "1./2. start of /bin/echo hi in a microVM, median of $RUNS (min-max), ms; load now $(cut -d' ' -f1 /proc/loadavg)"
printf '   %-44s %18s %18s\n' "" "to first output" "to exit"
row() { printf '   %-44s %7s (%9s) %7s (%9s)\n' "$1" "${FIRST[$2]}" "${RANGE1[$2]}" "${EXIT[$2]}" "${RANGE2[$2]}"; }
row "limpet run --rm --isolation vm ROOTFS" limpet
row "limpet vmm, the same kernel and initramfs" vmm
row "qemu-system-aarch64 -accel kvm -M virt" qemu
printf '   %-44s %18s %18s\n' "ratio qemu/limpet run" "$(ratio "${FIRST[qemu]}" "${FIRST[limpet]}")" \
	"$(ratio "${EXIT[qemu]}" "${EXIT[limpet]}")"
printf '   %-44s %18s %18s\n' "ratio qemu/limpet vmm" "$(ratio "${FIRST[qemu]}" "${FIRST[vmm]}")" \
	"$(ratio "${EXIT[qemu]}" "${EXIT[vmm]}")"
for n in "${NAMES[@]}"; do
	printf '   %-7s runs (first/exit, in order): %s\n' "$n" \
		"$(awk -v n="$n" '$1 == n { printf "%s%.0f/%.0f", s, $2 / 1000, $3 / 1000; s = " " }' "$TIMES")"
done
# A process start alone, for scale: QEMU's dynamic loader resolves ~50
# libraries, limpet is static. Median of 3 each.
qv=() lv=()
for k in 1 2 3; do
	t0=${EPOCHREALTIME/[.,]/}
	"${QEMU[@]}" --version >/dev/null
	t1=${EPOCHREALTIME/[.,]/}
	"$LIMPET" --version >/dev/null
	t2=${EPOCHREALTIME/[.,]/}
	qv+=($(((t1 - t0) / 1000))) lv+=($(((t2 - t1) / 1000)))
done
echo "   process start alone (--version, median of 3): qemu-system-aarch64 $(printf '%s\n' "${qv[@]}" | sort -n | sed -n 2p) ms, limpet $(printf '%s\n' "${lv[@]}" | sort -n | sed -n 2p) ms"
echo "   limpet run: the whole container start: the initramfs written from the rootfs, the"
echo "     cgroup, the VMM, the guest; exit includes removing the container (--rm)."
echo "   limpet vmm and qemu: the prebuilt initramfs; exit is the VMM process's. The guest"
echo "     init ends limpet's VM at its exit device; in QEMU it finds none there (/dev/mem"
echo "     refuses the RTC's page) and powers off through PSCI."
printf '   the qemu command:'
for a in "${qemu_cmd[@]}"; do case $a in *' '*) printf ' "%s"' "$a" ;; *) printf ' %s' "$a" ;; esac; done
echo
echo

START=$(vmm_median '^vmm: start to first KVM_RUN \([0-9.]*\) ms.*') || die "no start time in: $(cat "$TMP/vmm.times")"
TEARDOWN=$(vmm_median '.*guest end to teardown \([0-9.]*\) ms$')
RSS=$(vmm_median '^vmm: RSS \([0-9]*\) kB.*')
GUESTKB=$(vmm_median '.*of which guest RAM \([0-9]*\) kB.*')
BEYOND=$(vmm_median '.*: \([0-9]*\) kB beyond guest RAM$')
echo "3. the VMM's own cost, limpet vmm --times, median of $RUNS:"
echo "   start to first KVM_RUN $START ms; guest end to teardown $TEARDOWN ms"
echo "   RSS $RSS kB, of which guest RAM $GUESTKB kB: $BEYOND kB beyond guest RAM"
echo "   runs (start to first KVM_RUN, ms): $(sed -n 's/^vmm: start to first KVM_RUN \([0-9.]*\) ms.*/\1/p' "$TMP/vmm.times" | paste -sd' ')"
echo "   (Firecracker publishes <= 5 MiB beyond guest RAM and ~12 ms VMM start, on real hardware)"
echo

verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
t1=$(awk -v l="${FIRST[limpet]}" -v q="${FIRST[qemu]}" 'BEGIN { print (l < q) }')
t2=$(awk -v b="$BEYOND" 'BEGIN { print (b < 2048) }')
echo "target: limpet run before QEMU to first output: $(verdict "$t1") (${FIRST[limpet]} ms against ${FIRST[qemu]} ms, qemu/limpet $(ratio "${FIRST[qemu]}" "${FIRST[limpet]}"))"
echo "target: VMM RSS beyond guest RAM under 2 MiB (2048 kB): $(verdict "$t2") ($BEYOND kB)"
