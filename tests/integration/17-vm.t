#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# KVM microVM isolation. Everywhere: bad settings are refused, `vm` without
# KVM is a clear error, `auto` falls back to namespaces. Where /dev/kvm works
# and a guest kernel is given (the emulated board: LIMPET_TEST_GUEST_KERNEL):
# the same contract as a namespace container, inside a microVM.
. "$(dirname "$0")/../lib/tap.sh"

KERNEL=${LIMPET_TEST_GUEST_KERNEL:-/nonexistent/vmlinuz}
cat >"$T/vm.conf" <<EOF
vm = { kernel = "$KERNEL"; memory = "128M"; };
EOF
# A guest that never ends must fail its check, not stall the whole board:
# after 300 s limpet is killed (it would pass SIGTERM on to the guest), and
# so are this test's microVMs, which outlive it.
V() {
	local start=$SECONDS rc p
	timeout -s KILL 300 "$LIMPET" -c "$T/vm.conf" --root "$ROOT" "$@"
	rc=$?
	if [ "$rc" = 137 ] && [ $((SECONDS - start)) -ge 299 ]; then
		diag "limpet $1 did not end in 300 s: killing this test's microVMs" >&2
		for p in /proc/[0-9]*; do
			[[ $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) == "limpet vmm "*" $ROOT/"* ]] &&
				kill -KILL "${p#/proc/}"
		done
	fi
	return "$rc"
}

# ---------------------------------------------------------------- everywhere
err=$(V run --rm --isolation vm --net host "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "vm with --net host is a usage error"
like "$err" "isolation: vm: a microVM has no network yet \(only network mode none\)" "and says why"
err=$(V run --rm --isolation auto -v data:/data "$ROOTFS" /bin/true 2>&1)
like "$err" "isolation: auto: a microVM cannot mount volumes yet" "auto is held to the same rules"
err=$(V run --rm --isolation vm --memory 16M "$ROOTFS" /bin/true 2>&1)
like "$err" "a microVM needs a memory limit of at least 64 MiB" "too little guest RAM is refused"
err=$(V run --rm --isolation kvm "$ROOTFS" /bin/true 2>&1)
like "$err" "'kvm' is not an isolation \(container, vm, auto\)" "an unknown isolation is refused"
printf 'vm = { memory = "8M"; };\n' >"$T/bad.conf"
err=$("$LIMPET" -c "$T/bad.conf" --root "$ROOT" ps 2>&1)
like "$err" "bad.conf:1: vm.memory: at least 64 MiB" "a config with too little vm.memory names file:line"

# A guest of a few instructions says whether KVM really runs guests here; it
# ends within its own time limit whatever the host's KVM does.
out=$(timeout -s KILL 60 "$LIMPET" vmm --probe 2>&1)
rc=$?
if [ "$rc" = 0 ]; then
	is "$out" "a probe guest ran" "vmm --probe: a guest runs here"
else
	is "$rc" 255 "vmm --probe: no guest runs here (exit 255, not a hang)"
	like "$out" "^limpet vmm: [^"$'\n'"]+$" "and says why in one line ($out)"
fi

if [ ! -c /dev/kvm ]; then
	err=$(V run --rm --isolation vm "$ROOTFS" /bin/echo hi 2>&1)
	is "$?" 125 "vm without /dev/kvm fails to start (125, as any start failure)"
	like "$err" "isolation vm: no /dev/kvm on this board" "and says why in one line"
	is "$(L ps | grep -c .)" 1 "and leaves no container behind (ps shows only its header)"
	out=$(V run --rm --isolation auto "$ROOTFS" /bin/sh -c 'echo $$' 2>"$T/auto.err")
	is "$out" 1 "auto without KVM runs in namespaces (the entrypoint is PID 1)"
	like "$(cat "$T/auto.err")" "isolation auto: namespaces \(no /dev/kvm on this board\)" \
		"with one line saying which and why"
	exit 0
fi

# ---------------------------------------------------------------- with KVM
if [ ! -r "$KERNEL" ]; then
	# /dev/kvm opening proves little: auto needs a guest kernel, a static
	# limpet and a probe guest that ran, and says which one it lacks.
	out=$(V run --rm --isolation auto "$ROOTFS" /bin/sh -c 'echo $$' 2>"$T/auto.err")
	is "$out" 1 "auto with KVM but no guest kernel runs in namespaces"
	like "$(cat "$T/auto.err")" "isolation auto: namespaces \(no guest kernel: $KERNEL: " \
		"with one line saying the guest kernel is missing"
	: >"$T/vmlinuz"
	printf 'vm = { kernel = "%s"; };\n' "$T/vmlinuz" >"$T/kernel.conf"
	out=$(timeout -s KILL 120 "$LIMPET" -c "$T/kernel.conf" --root "$ROOT" run --rm --isolation auto \
		"$ROOTFS" /bin/sh -c 'echo $$' 2>"$T/auto.err")
	if grep -q "isolation auto: namespaces" "$T/auto.err"; then
		is "$out" 1 "with a kernel file, auto still falls back where no guest can start"
		like "$(cat "$T/auto.err")" "namespaces \((this limpet is dynamically linked|a probe guest did not)" \
			"saying what is missing"
	else
		ok "# skip a probe guest runs here: auto takes a microVM"
	fi
	like "$(L doctor)" "microvm .*(guest kernel|dynamically linked|probe guest)" "doctor says what microVMs lack or have"
	ok "# skip microVMs: no guest kernel (LIMPET_TEST_GUEST_KERNEL)"
	exit 0
fi

out=$(V run --rm --isolation vm "$ROOTFS" /bin/echo hello from a microVM)
is "$?" 0 "a microVM runs and exits 0"
is "$out" "hello from a microVM" "its output reaches us, byte for byte"

V run --rm --isolation vm "$ROOTFS" /bin/sh -c 'exit 3'
is "$?" 3 "exit code 3 propagates out of the VM"
V run --rm --isolation vm "$ROOTFS" /bin/sh -c 'kill -KILL $$; sleep 1'
is "$?" 137 "an entrypoint killed by SIGKILL inside exits 128+9"
err=$(V run --rm --isolation vm "$ROOTFS" /no/such/cmd 2>&1)
is "$?" 127 "a missing command exits 127"
like "$err" "/no/such/cmd" "and the error names it"
err=$(V run --name nocmd --isolation vm "$ROOTFS" /no/such/cmd 2>&1)
rc=$?
like "$(cat "$ROOT/containers/nocmd/kernel.log")" "exec /no/such/cmd" \
	"the guest kernel's console is kept in the container's kernel.log"
[ -f "$ROOT/containers/nocmd/kernel.log" ] || diag "limpet run exited $rc: $err; $(ls -la "$ROOT/containers/nocmd" 2>&1)"
L rm nocmd >/dev/null

out=$(V run --rm --isolation vm "$ROOTFS" /bin/cat /proc/cmdline)
like "$out" "console=ttyS1 panic=-1 quiet rdinit=/.limpet/init" "it runs on the guest kernel limpet booted"

out=$(V run --rm --isolation vm --hostname vm1 -e GREETING=hi --workdir /tmp --user 1000:1000 \
	"$ROOTFS" /bin/sh -c 'echo $(hostname) $GREETING $(pwd) $(id -u) $(id -g)')
is "$out" "vm1 hi /tmp 1000 1000" "hostname, env, workdir and user apply inside"

# A named user's groups and HOME come from the root's own files, as in a
# namespace container (01-run.t): a service user reaches /dev nodes through them.
A=$T/accounts
make_accounts_rootfs "$ROOTFS" "$A"
vm_ids() {
	V run --rm --isolation vm "$@" /bin/sh -c \
		'echo "$(id -u):$(id -g) $(id -G | tr " " "\n" | sort -n | tr "\n" " ")$HOME"'
}
is "$(vm_ids -u alice "$A")" "1234:1234 44 1234 1500 /home/alice" \
	"-u NAME in a microVM: the user's gid, supplementary groups and HOME"
is "$(vm_ids "$A")" "0:0 0 10 /root" "root in a microVM gets its groups too"

out=$(V run --rm --isolation vm --memory 160M "$ROOTFS" /bin/sh -c \
	'sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo')
check "--memory 160M is the guest's RAM (MemTotal $out kB)" \
	test "${out:-0}" -gt $((100 * 1024)) -a "${out:-0}" -le $((160 * 1024))
out=$(V run --rm --isolation vm --cpus 2 "$ROOTFS" /bin/nproc)
is "$out" 2 "--cpus 2 gives two vCPUs"
out=$(V run --rm --isolation vm --pids 8 "$ROOTFS" /bin/sh -c \
	'cat /sys/fs/cgroup/ct/pids.max; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 3 & done')
like "$out" "^8" "--pids sets pids.max inside the guest"
like "$out" "can't fork" "and holds the entrypoint to it"

if [ "${LIMPET_TEST_BOARD_ARCH:-}" = x86_64 ]; then
	want="KVM works here"
else
	want="KVM works here, vGIC v${LIMPET_TEST_BOARD_GIC:-[23]}"
fi
err=$(V run --rm --isolation auto "$ROOTFS" /bin/true 2>&1)
like "$err" "isolation auto: microVM \($want\)" "auto picks a microVM where KVM works, and says so"

# A terminal (-it): the guest's serial console is the entrypoint's, with the
# guest's own line discipline (echo, ^C), sized and resized from ours.
test_tool pty-run "$T/pty-run"
# vop SCRIPT ARGS...: limpet ARGS on a 24x80 terminal driven by SCRIPT (tests/lib/pty-run.c).
vop() {
	local script=$1
	shift
	PTY_RUN_TIMEOUT=120 timeout -s KILL 300 "$T/pty-run" -w 24x80 -e "$script" \
		"$LIMPET" -c "$T/vm.conf" --root "$ROOT" "$@"
}
paste=$(printf 'line%04d-abcdefghijklmnopqrstuvwxyz0123456789\\r' $(seq 200))
out=$(vop $'expect vm> \nsend tty; stty size\\r\nexpect 24 80\nresize 40 120\nsleep 300\nsend stty size\\r\nexpect 40 120\nsend sleep 100\\r\nsleep 300\nsend \\x03\nexpect vm> \nsend echo after $?\\r\nexpect after 130\nsend cat >/tmp/paste\\r\nsleep 300\nsend '"$paste"$'\nsend \\x04\nexpect vm> \nsend wc -c </tmp/paste\\r\nexpect 9200\nsend exit 3\\r' \
	run --rm -it --isolation vm -e 'PS1=vm> ' "$ROOTFS" /bin/sh)
is "$?" 3 "run -it in a microVM: a shell on its terminal, its exit status run's"
like "$out" "/dev/ttyS0" "the guest's serial console is its terminal"
like "$out" "24 80" "sized as ours from the start"
like "$out" "40 120" "and resized with ours"
like "$out" "after 130" "^C is the guest terminal's SIGINT to the foreground job"
like "$out" "9200" "a 9200-byte paste arrives whole"

# Detached: logs, ps, a graceful stop and a hard one.
start_agent -c "$T/vm.conf"
V run -d --name calm --isolation vm "$ROOTFS" /bin/sh -c \
	'trap "echo got TERM; exit 7" TERM; echo up; while :; do sleep 1; done' >/dev/null
is "$?" 0 "a detached microVM starts"
wait_for 60 grep -q up "$ROOT/containers/calm/container.log"
check "its output goes to limpet logs" grep -q up <<<"$(L logs calm)"
is "$(ps_field calm vm)" true "inspect says it runs as a microVM"
is "$(ps_field calm isolation)" vm "as it was asked to"
pid=$(ps_field calm pid)
check "its process is the VMM (limpet vmm)" grep -q vmm <<<"$(tr '\0' ' ' </proc/$pid/cmdline)"
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
check "the VMM runs in the container's cgroup ($cg)" test -n "$cg" -a "$cg" = "$(ps_field calm cgroup)"
mem=$(cat "/sys/fs/cgroup$cg/memory.max")
check "whose memory.max holds guest RAM and the VMM ($mem)" \
	test "$mem" -gt $((128 << 20)) -a "$mem" -lt $((192 << 20))
err=$(L exec calm /bin/true 2>&1)
is "$?" 1 "exec into a microVM fails"
like "$err" "container calm runs in a microVM: exec cannot enter it yet" "and says why"
V run -d -it --name vmtty --isolation vm -e 'PS1=vm> ' "$ROOTFS" /bin/sh >/dev/null
out=$(vop $'expect vm> \nsend stty size\\r\nexpect 24 80\nsend \\x10\\x11' attach vmtty 2>&1)
rc=$?
like "$out" "24 80.*read escape sequence" \
	"attach to a detached microVM's terminal: our size, and the detach keys"
is "$rc" 0 "(attach exits 0)"
is "$(ps_field vmtty status)" running "it runs on"
out=$(vop $'expect vm> \nsend exit 5\\r' attach vmtty 2>&1)
is "$?" 5 "its end ends attach with its status"
L stop -t 30 calm
# stop returns once the VMM is gone; the agent records the exit just after.
check "stop reaches the guest's entrypoint: it exits 7 by its trap" \
	wait_for 10 sh -c "'$LIMPET' --root '$ROOT' ps | grep -q '^calm .*exited(7)'"
like "$(L logs calm)" "got TERM" "and its last words are in the log"

V run -d --name stubborn --isolation vm "$ROOTFS" /bin/sh -c \
	'trap "" TERM; echo up; while :; do sleep 1; done' >/dev/null
wait_for 60 grep -q up "$ROOT/containers/stubborn/container.log"
L stop -t 2 stubborn
check "a VM ignoring SIGTERM is killed after the timeout" \
	wait_for 10 sh -c "'$LIMPET' --root '$ROOT' ps | grep -q '^stubborn .*killed(9)'"
is "$(ps_field stubborn signal)" 9 "by SIGKILL"

test_images
L image import --trust "$IMG/demo.pub" "$IMG/hello.tar" >/dev/null
out=$(V run --rm --isolation vm hello)
like "$out" "^hello from [a-z0-9-]+ as 1000:1000 in /home/user with GREETING=hi$" \
	"a signed image runs in a microVM as its config says (user, workdir, env)"
L image import --trust "$IMG/demo.pub" "$IMG/layers.tar" >/dev/null
out=$(V run --rm --isolation vm layers /bin/sh -c 'echo $(ls /data) / $(ls /opt/dir)')
is "$out" "keep.txt new.txt / c.txt" "its layers are flattened: whiteout and opaque dir applied"

# Restart policies hold for a microVM as for any container.
V run -d --name flaky --isolation vm --restart on-failure:2 "$ROOTFS" /bin/sh -c 'exit 1' >/dev/null
# between a count and its restart ps says exited(1) too: wait for the end
wait_for 120 grep -q "container flaky: giving up after 2 restarts" "$T/agent.log"
like "$(L ps)" "flaky +exited\(1\) +- +2 " "on-failure:2 restarts a failing microVM twice, then gives up"

# A deployment asks for a microVM the same way.
D=$T/bundle
mkdir -p "$D/images"
cp "$IMG/hello.tar" "$D/images/"
SHA=$(sha256sum <"$D/images/hello.tar" | cut -c1-64)
SIZE=$(stat -c %s "$D/images/hello.tar")
# vmdoc VERSION CMD HEALTH: one container "vmapp" in a microVM
vmdoc() {
	cat >"$D/deployment.json" <<EOF
{ "version": $1, "expires": "$(date_in 30)", "target": { "devices": ["$(hostname)"] },
  "containers": [ { "name": "vmapp", "isolation": "vm", "limits": { "memory": "96M" },
    "image": { "url": "images/hello.tar", "size": $SIZE, "sha256": "$SHA" },
    "command": ["$2"], "health": $3 } ] }
EOF
	L image sign "$IMG/demo.key" "$D/deployment.json" >/dev/null
}
deploy() { L deploy --trust "$IMG/demo.pub" "$D/deployment.json"; }

vmdoc 1 'echo deployed; exec sleep 1000' '{ "command": ["true"] }'
err=$(deploy 2>&1)
is "$?" 1 "a deployment with a health command for a microVM is refused"
like "$err" "containers\[0\].health.command: probes cannot run inside a microVM yet" "and says why"
vmdoc 2 'echo deployed; exec sleep 1000' '{ "start_period": "3s" }'
deploy 2>"$T/err"
is "$?" 0 "a deployment of a microVM container is applied (healthy: still running after 3s)"
is "$(ps_field vmapp.v2 vm)" true "its container runs as a microVM"
# Healthy means running after the start period, which may end while the guest still boots.
wait_for 60 grep -q deployed "$ROOT/containers/vmapp.v2/container.log"
like "$(L logs vmapp.v2)" "deployed" "and its output is in its log"
vmdoc 3 'exit 1' '{ "start_period": "60s" }'
deploy 2>"$T/err"
rc=$?
is "$rc" 3 "a microVM that dies at once is rolled back (exit 3)"
[ "$rc" = 3 ] || diag "limpet deploy: $(cat "$T/err")"
is "$(ps_field vmapp.v2 status)" running "and version 2's microVM runs on"
