#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: build the signed hello image (busybox-static,
# umoci, skopeo, signed with a demo key), import it -- the signature and
# every digest are checked -- and run it under memory, CPU and pids limits.
set -eu
LIMPET=${1:?usage: demo.sh PATH/TO/limpet}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$TOP/tests/.work
IMG=$WORK/images
STATE=$WORK/demo-state
L() { "$LIMPET" --root "$STATE" "$@"; }
# What a reader can paste: paths from the top of the tree.
rel() { echo "${1#"$TOP"/}"; }
SHOW="$(rel "$LIMPET") --root $STATE"
mkdir -p "$WORK"
cd "$TOP"

echo "+ images/build.sh $(rel "$IMG")   (hello.tar: an OCI archive, hello.tar.sig: its signature)"
"$TOP/images/build.sh" "$IMG" >/dev/null
echo "+ $SHOW image import --trust $(rel "$IMG")/demo.pub $(rel "$IMG")/hello.tar"
L rm -f demo >/dev/null 2>&1 || true
L image import --trust "$IMG/demo.pub" "$IMG/hello.tar"
echo "+ $SHOW run --name demo --memory 64M --cpus 0.5 --pids 64 hello"
L run --name demo --memory 64M --cpus 0.5 --pids 64 hello \
	'echo "hello from $(hostname) as $(id -u):$(id -g) in $(pwd), GREETING=$GREETING"
	 echo "I am PID $$ and see $(set -- /proc/[0-9]*; echo $#) process(es)"
	 grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status
	 sleep 2' &
run=$!
for _ in $(seq 50); do
	cg=$(L ps --json | sed -n 's/.*"cgroup": "\(.*\)".*/\1/p' | head -1)
	[ -n "$cg" ] && L ps | grep -q '^demo .*running' && break
	sleep 0.1
done
echo "+ the host's view of the container's cgroup ($cg):"
for f in memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us pids/pids.max; do
	[ -f "/sys/fs/cgroup/${f%%/*}$cg/${f#*/}" ] && echo "  ${f#*/} = $(cat "/sys/fs/cgroup/${f%%/*}$cg/${f#*/}")"
done
for f in memory.max cpu.max pids.max; do
	[ -f "/sys/fs/cgroup$cg/$f" ] && echo "  $f = $(cat "/sys/fs/cgroup$cg/$f")"
done
wait $run
echo "+ $SHOW image ls; $SHOW ps"
L image ls
L ps
L rm demo >/dev/null
cat <<EOF

What this made (nothing outside this tree but the packages make deps installed):
  $(rel "$LIMPET")                 limpet, built with the system's libraries
  $(rel "$STATE")/     its state directory (--root): the image store, containers
  $(rel "$IMG")/demo.key, demo.pub   the demo signing key pair
  $(rel "$IMG")/hello.tar, .sig      the signed image

To go on from here (README.md, "Using it"):
  alias limpet="$LIMPET --root $STATE"
  limpet run --rm hello
  limpet --help
EOF
