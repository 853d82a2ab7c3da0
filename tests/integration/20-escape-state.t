#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Attacks on the state limpet keeps on the host, as the issue found them:
# a --userns container's host uid planting links where the root agent
# writes (logs, their rotation), volumes readable by every local user,
# FIFOs, links, devices and sparse giants on a stick or in an imported
# folder (the updater must refuse them at once and keep polling), and
# container and volume trees too deep for one descriptor per level.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/nginx.sh"
test_images
# busybox's setpriv cannot change ids (the boards have only busybox).
test_tool runas "$T/runas"
MAPPED=100000
# as_mapped CMD...: CMD as the host uid a --userns container's root is
as_mapped() { "$T/runas" $MAPPED $MAPPED "$@"; }
# denied CMD...: CMD fails as some other local user
denied() { ! "$T/runas" 65534 65534 "$@" >/dev/null 2>&1; }
canary() { echo "canary $1" >"$T/canary-$1"; }
intact() { [ "$(cat "$T/canary-$1")" = "canary $1" ]; }

# A user namespace root must be able to walk down to its container directory.
chmod 711 "$T"
ufs=$T/userns-rootfs
cp -a "$ROOTFS" "$ufs" && chown -R -h $MAPPED:$MAPPED "$ufs"
cat >"$T/limpet.conf" <<CONF
log = { max_size = "16K"; files = 2; };
usb = { enabled = false; };
CONF
start_agent -c "$T/limpet.conf" || exit 1

# ---- the agent's files in a --userns container's directory
# The container says it started, floods its log when /ctl/go appears (the
# agent rotates it), and exits when /ctl/exit appears (the agent restarts it).
L run -d --name uns --userns $MAPPED:65536 --restart always -v ctl:/ctl "$ufs" /bin/sh -c '
	echo started; echo x >> /ctl/runs
	while [ ! -e /ctl/go ]; do sleep 0.1; done; rm -f /ctl/go
	i=0; while [ $i -lt 400 ]; do echo "line $i ....................................................................."; i=$((i + 1)); done
	while [ ! -e /ctl/exit ]; do sleep 0.1; done; rm -f /ctl/exit' >/dev/null
D=$ROOT/containers/uns
CTL=$ROOT/volumes/ctl
check "a --userns container runs" wait_for 10 test -s "$CTL/runs"
like "$(stat -c '%u %g %a' "$D")" "^0 $MAPPED 710$" \
	"its directory is root's; the mapped root may only walk through (root:$MAPPED 0710)"
is "$(stat -c %u "$D/upper")" $MAPPED "its upper dir belongs to the mapped root"
canary rot
as_mapped ln -s "$T/canary-rot" "$D/container.log.1.tmp" 2>/dev/null
check "the mapped uid cannot plant the rotation's temp file" test ! -L "$D/container.log.1.tmp"
touch "$CTL/go"
check "the log is rotated" wait_for 10 test -s "$D/container.log.1"
check "not through a link the container's uid planted" intact rot

canary log
as_mapped sh -c "mv '$D/container.log' '$D/old.log' && ln -s '$T/canary-log' '$D/container.log'" 2>/dev/null
check "the mapped uid cannot replace container.log with a link" test ! -L "$D/container.log"
touch "$CTL/exit"
check "the container is restarted" wait_for 15 sh -c "[ \$(wc -l <'$CTL/runs') -ge 2 ]"
check "and its output goes nowhere a planted link points" intact log
check "but into its log" wait_for 5 sh -c "'$LIMPET' --root '$ROOT' logs uns | grep -q started"

# The previous version left this directory to the mapped uid: an agent
# restarted over it takes it back, and links planted meanwhile are dropped.
stop_agent
canary old
chown $MAPPED:$MAPPED "$D" && chmod 700 "$D"
as_mapped ln -s "$T/canary-old" "$D/container.log.1.tmp"
as_mapped mkfifo "$D/container.log.2"
start_agent -c "$T/limpet.conf" || exit 1
check "an agent restarted over the old layout adopts the container" \
	wait_for 10 grep -q "container uns: adopted" "$T/agent.log"
taken_back() { [ "$(stat -c '%u %g %a' "$D")" = "0 $MAPPED 710" ]; }
check "and takes its directory back (root:$MAPPED 0710)" wait_for 10 taken_back
check "dropping the links planted in it" test ! -L "$D/container.log.1.tmp" -a ! -p "$D/container.log.2"
touch "$CTL/go"
check "the log is rotated again" wait_for 10 sh -c "[ \$(stat -c %s '$D/container.log.1') -gt 16000 ]"
check "and nothing was written through the old links" intact old
L rm -f uns >/dev/null
check "rm -f removes it" test ! -e "$D"
stop_agent

# ---- volumes and container directories are not for other local users
chmod 755 "$ROOT"
L run --name priv -v secret:/data "$ROOTFS" /bin/sh -c 'echo s3cret > /data/f; echo s3cret > /f' >/dev/null
is "$(stat -c %a "$ROOT/volumes")" 700 "ROOT/volumes is 0700, whatever ROOT's mode"
is "$(stat -c %a "$ROOT/volumes/secret")" 755 "a volume keeps 0755 for the container's users"
check "another local user cannot read a volume by name" denied cat "$ROOT/volumes/secret/f"
check "nor a container's files" denied cat "$ROOT/containers/priv/upper/f"
is "$(stat -c %a "$ROOT/containers/priv")" 700 "a container's directory is 0700"
L rm priv >/dev/null
# an older version's ROOT/volumes (0711) is tightened
chmod 711 "$ROOT/volumes"
L run --rm -v secret:/data "$ROOTFS" /bin/true
is "$(stat -c %a "$ROOT/volumes")" 700 "an older ROOT/volumes (0711) is tightened on use"
for d in run deployments; do
	[ -d "$ROOT/$d" ] && is "$(stat -c %a "$ROOT/$d")" 700 "ROOT/$d is 0700"
done
# --userns still reaches its volume through the 0700 ROOT/volumes
out=$(L run --rm --userns $MAPPED:65536 -v unsvol:/data "$ufs" /bin/sh -c 'echo x > /data/x && cat /data/x' 2>&1)
is "$out" x "a --userns container still uses its volume under a 0700 ROOT/volumes"

# ---- trees deeper than the descriptors limpet may open
deep='i=0; while [ $i -lt 2000 ]; do mkdir d && cd d || exit 1; i=$((i + 1)); done; ln -s '"$T/keep"' out; echo deep'
mkdir "$T/keep" && echo kept >"$T/keep/f"
out=$(L run --name deep "$ROOTFS" /bin/sh -c "cd /tmp && $deep" 2>&1)
is "$out" deep "a container makes a tree 2000 levels deep"
out=$(ulimit -n 64 && L rm deep 2>&1)
is "$?" 0 "rm removes it with 64 descriptors at most"
check "leaving nothing of the container behind" test ! -e "$ROOT/containers/deep"
out=$(L run --rm -v deepvol:/v "$ROOTFS" /bin/sh -c "cd /v && $deep" 2>&1)
is "$out" deep "a container makes a tree 2000 levels deep in a volume"
out=$(ulimit -n 64 && L volume rm deepvol 2>&1)
is "$?" 0 "volume rm removes it with 64 descriptors at most"
check "leaving nothing of the volume behind" test ! -e "$ROOT/volumes/deepvol"
check "and following no link out of it" test -f "$T/keep/f"

# ---- files from an imported folder or a stick: regular files only, never links
future=$(date_in 30)
host=$(hostname)
# doc FILE VERSION ARCHIVE: one container "app" from ARCHIVE as images/app.tar
doc() {
	cat >"$1" <<EOF
{ "version": $2, "expires": "$future", "target": { "devices": ["$host"] },
  "containers": [ { "name": "app", "init": true, "command": ["exec sleep 1000"],
    "image": { "url": "images/app.tar", "size": $(stat -c %s "$3"),
               "sha256": "$(sha256sum <"$3" | cut -c1-64)" } } ] }
EOF
}
doc "$T/v1.json" 1 "$IMG/hello.tar"
L bundle create --key "$IMG/demo.key" "$T/good" "$T/v1.json" "$IMG/hello.tar" >/dev/null
canary host
# bad NAME FILE HOW: a copy of the good bundle with limpet/FILE made HOW
bad() {
	rm -rf "$T/$1" && cp -a "$T/good" "$T/$1" && rm -f "$T/$1/limpet/$2" || return 1
	case $3 in
	fifo) mkfifo "$T/$1/limpet/$2" ;;
	link) ln -s "$T/canary-host" "$T/$1/limpet/$2" ;;
	device) mknod "$T/$1/limpet/$2" c 1 3 ;;
	sparse) truncate -s 1099511627776 "$T/$1/limpet/$2" ;; # 1 TiB (busybox: no suffix T)
	esac
}
start_agent -c "$T/limpet.conf" || exit 1
for c in "deployment.json fifo FIFO" "deployment.json.sig fifo FIFO" "images/app.tar fifo FIFO" \
	"deployment.json link link" "deployment.json.sig link link" "images/app.tar link link" \
	"deployment.json.sig device device" "images/app.tar sparse 1099511627776 bytes" \
	"deployment.json sparse larger"; do
	set -- $c
	bad b "$1" "$2" || { echo "Bail out! cannot make $1 a $2"; exit 1; }
	err=$(timeout 30 "$LIMPET" --root "$ROOT" import --trust "$IMG/demo.pub" "$T/b" 2>&1)
	rc=$?
	is "$rc" 1 "import of a folder with $1 as a $2 refuses it (exit 1, not stuck)"
	err=$(grep -v ': applying deployment version' <<<"$err")
	is "$(echo "$err" | wc -l)" 1 "$1 as a $2: one line (besides the progress)"
	like "$err" "$1: .*$3" "$1 as a $2: it names the file and why"
done
check "no such import changed the host file" intact host
check "nor ran anything" sh -c "! '$LIMPET' --root '$ROOT' ps | grep -q '^app'"
err=$(L import --trust "$IMG/demo.pub" "$T/good" 2>&1)
is "$?" 0 "the good folder still applies"
stop_agent
L rm -f app.v1 >/dev/null
rm -rf "$ROOT/deployments"

# The agent's updater: a stick with a FIFO for its deployment is refused at
# once, and the fleet polls go on.
# (The boards have no nginx, and busybox has no mkfs.ext4.)
command -v nginx >/dev/null && command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null &&
	[ -e /dev/loop-control ] || {
	ok "# SKIP sticks and fleet polls: needs nginx, mkfs.ext4, losetup and loop devices"
	exit 0
}
LOOPS=()
trap 'rc=$?; nginx_stop; for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; (exit $rc); _finish' EXIT
stick() {
	MARK=$(($(wc -l <"$T/agent.log") + 1))
	mkfs.ext4 -q -F -d "$2" "$T/$1.img" $((8 + $(du -sm "$2" | cut -f1) * 2))M >/dev/null 2>&1 &&
		LOOP=$(losetup -f --show "$T/$1.img") && LOOPS+=("$LOOP")
}
unplug() { wait_for 10 losetup -d "$LOOP" 2>/dev/null; }
logged() { tail -n +"$MARK" "$T/agent.log" | grep -q -- "$1"; }
polls() { nginx_requests fleet/pi-0042/deployment.json | wc -l; }
more_polls() { [ "$(polls)" -gt "$1" ]; }
nginx_start || exit 1
mkdir -p "$T/status-dir"
cat >"$T/fleet.conf" <<EOF
trust = [ "$IMG/demo.pub" ];
usb = { write_status = true; };
fleet = {
	server = "$(nginx_url fleet/pi-0042/)";
	ca = "$NGINX_PKI/ca.pem"; cert = "$NGINX_PKI/device.pem"; key = "$NGINX_PKI/device.key";
	device_id = "pi-0042"; poll_interval = "1s"; poll_jitter = "0s";
};
EOF
: >"$T/agent.log"
start_agent -c "$T/fleet.conf" || exit 1
check "the updater watches for sticks" wait_for 10 grep -q 'usb: watching' "$T/agent.log"
check "and polls the fleet server" wait_for 10 more_polls 0
bad fifo deployment.json fifo
stick fifo "$T/fifo" || exit 1
check "a stick whose deployment.json is a FIFO is refused" \
	wait_for 20 logged "usb: $LOOP: ignored (refused): .*deployment.json: .*FIFO"
unplug
n=$(polls)
check "and the fleet polls go on" wait_for 10 more_polls "$n"
# a stick whose limpet/status is a link to a host directory: the status stays on the stick
rm -rf "$T/lst" && cp -a "$T/good" "$T/lst" && ln -s "$T/status-dir" "$T/lst/limpet/status"
# tampered too: refused, so no container starts, but a status is written
sed -i 's/"version": 1/"version": 2/' "$T/lst/limpet/deployment.json"
stick lst "$T/lst" || exit 1
check "a stick with links is handled" wait_for 20 logged "usb: status"
check "its status is not written through its link into the host" \
	sh -c "[ -z \"\$(ls -A '$T/status-dir')\" ]"
unplug
stop_agent
