#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Volumes: ROOT/volumes/NAME outlives the containers using it; bad specs,
# --read-only, nosuid/nodev, symlinks in the image, --userns, the config,
# and limpet volume ls/rm.
. "$(dirname "$0")/../lib/tap.sh"

L run --name writer -v data:/data "$ROOTFS" /bin/sh -c 'echo kept > /data/f'
is "$?" 0 "a container writes into a volume"
check "the volume is ROOT/volumes/data on the host" test -d "$ROOT/volumes/data"
is "$(cat "$ROOT/volumes/data/f" 2>&1)" kept "and the file is there"
is "$(stat -c %a "$ROOT/volumes/data")" 755 "made with mode 0755"
check "nothing of it is in the container's upper dir" test ! -e "$ROOT/containers/writer/upper/data/f"
L rm writer >/dev/null
check "rm removes the container" test ! -e "$ROOT/containers/writer"
check "but not the volume" test -f "$ROOT/volumes/data/f"
out=$(L run --rm --volume data:/srv/deep/data "$ROOTFS" /bin/cat /srv/deep/data/f 2>&1)
is "$out" kept "a second container reads it (at a path made on the way)"

out=$(L run --rm --read-only -v data:/data "$ROOTFS" /bin/sh -c \
	'touch /x 2>/dev/null && echo root-rw || echo root-ro; echo w > /data/w && echo vol-rw' 2>&1)
is "$out" "root-ro
vol-rw" "with --read-only the rootfs is read-only and the volume writable"

out=$(L run --rm -v data:/data "$ROOTFS" /bin/sh -c 'awk "\$5 == \"/data\" { print \$6 }" /proc/self/mountinfo' 2>&1)
like "$out" "(^|,)nosuid(,|$)" "the volume is mounted nosuid"
like "$out" "(^|,)nodev(,|$)" "and nodev"
like "$out" "^rw(,|$)" "and read-write"

out=$(L run --rm -u 1000:1000 -v userdata:/home/user/data "$ROOTFS" /bin/sh -c 'echo mine > /home/user/data/f && cat /home/user/data/f' 2>&1)
is "$out" mine "a new volume belongs to the container's user, who can write to it"
is "$(stat -c %u:%g "$ROOT/volumes/userdata")" 1000:1000 "(on the host too)"

# Bad specs: one line naming the volume, exit 2, nothing made.
for spec in data data:relative ../x:/d data:/a/../b data:/dev/x; do
	err=$(L run --rm -v "$spec" "$ROOTFS" /bin/true 2>&1)
	rc=$?
	is "$rc" 2 "-v $spec exits 2"
	is "$(echo "$err" | wc -l)" 1 "-v $spec: one line"
	like "$err" "^limpet run: -v: .*('data'|volume data|'\.\./x')" "-v $spec: names the volume"
done
err=$(L run --rm -v a:/d -v b:/d "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "two volumes on one path exit 2"
like "$err" "volume b: '/d' is also the path of volume a" "and say which"
check "bad specs made no volume" test ! -e "$ROOT/volumes/x" -a ! -e "$ROOT/volumes/a"

# Symlinks in the image resolve inside the container's root, never the host's.
evil=$T/evil-rootfs
cp -a "$ROOTFS" "$evil"
ln -s ../../../../../../../etc "$evil/up"
ln -s / "$evil/top"
probe=limpet-volume-probe-$$
out=$(L run --rm -v data:/up/$probe "$evil" /bin/sh -c "test -d /etc/$probe && echo inside" 2>&1)
is "$out" inside "a target through a climbing symlink lands in the container's /etc"
check "and not in the host's" test ! -e "/etc/$probe"
err=$(L run --rm -v data:/top "$evil" /bin/true 2>&1)
check "a target that resolves to the root itself is refused" test $? -ne 0
like "$err" 'volume /top: /top is a symlink \(top -> /\): refused' "naming the volume"
check "the lower rootfs was not written" test ! -e "$evil/etc/$probe"

# With --userns a new volume belongs to the container's user, mapped.
chmod 711 "$T"
ufs=$T/userns-rootfs
cp -a "$ROOTFS" "$ufs" && chown -R -h 100000:100000 "$ufs"
out=$(L run --rm --userns 100000:65536 -v unsdata:/data "$ufs" /bin/sh -c 'echo x > /data/x && stat -c %u /data/x' 2>&1)
is "$out" 0 "--userns: container root writes to a new volume"
is "$(stat -c %u:%g "$ROOT/volumes/unsdata")" 100000:100000 "which belongs to the mapped root"
is "$(stat -c %u "$ROOT/volumes/unsdata/x")" 100000 "and so does what it wrote"

# The config: volumes = ( "NAME:/PATH" ).
cat >"$T/limpet.conf" <<CONF
usb = { enabled = false; };
containers = (
	{ name = "cfgvol"; rootfs = "$ROOTFS"; volumes = ( "shared:/var/shared" );
	  command = [ "/bin/sh", "-c", "echo from-config > /var/shared/c; exec sleep 1000" ]; }
);
CONF
check "the agent starts" start_agent -c "$T/limpet.conf"
check "a config container writes to its volume" wait_for 10 test -s "$ROOT/volumes/shared/c"
is "$(cat "$ROOT/volumes/shared/c" 2>&1)" from-config "what it wrote"
stop_agent
L rm -f cfgvol >/dev/null
cat >"$T/bad.conf" <<CONF
containers = (
	{ name = "bad"; rootfs = "$ROOTFS"; command = [ "/bin/true" ];
	  volumes = ( "bad:here" ); }
);
CONF
err=$(L -c "$T/bad.conf" ps 2>&1)
is "$?" 2 "a bad volume in the config exits 2"
like "$err" "bad.conf:3: containers.bad.volumes: volume bad: 'here' is not an absolute path" "naming file, line and volume"

# limpet volume ls / rm
L run --name user -v data:/data "$ROOTFS" /bin/true
ls=$(L volume ls)
like "$ls" "^NAME +CONTAINERS"$'\n'"data +user"$'\n' "volume ls lists the volume and who uses it"
check "and a volume nobody uses" grep -qx shared <<<"$ls"
err=$(L volume rm data 2>&1)
check "volume rm refuses a volume a container uses" test $? -ne 0
is "$err" "limpet volume rm: volume data: used by container user" "and says which"
check "the data is still there" test -f "$ROOT/volumes/data/f"
L rm user >/dev/null
is "$(L volume rm data)" data "with the container gone, volume rm removes it"
check "and its directory" test ! -e "$ROOT/volumes/data"
err=$(L volume rm data 2>&1)
like "$err" "no such volume: data" "removing it twice says so"
err=$(L volume rm ../containers 2>&1)
is "$?" 2 "volume rm refuses a name that is not one"

# limpet volume create: made now as a first use would make it, idempotent as Docker's.
is "$(L volume create made)" made "volume create prints the name"
is "$(stat -c %a:%u:%g "$ROOT/volumes/made")" 755:0:0 "made 0755, root's"
check "volume ls shows it" grep -qx made <<<"$(L volume ls)"
is "$(L volume create made 2>&1)" made "creating it again is fine, and changes nothing"
is "$(L volume create --owner 1000:1000 owned)" owned "volume create --owner"
is "$(stat -c %a:%u:%g "$ROOT/volumes/owned")" 755:1000:1000 "gives it to that owner"
out=$(L run --rm -u 1000:1000 -v owned:/data "$ROOTFS" /bin/sh -c 'echo mine > /data/f && cat /data/f' 2>&1)
is "$out" mine "a container running as that owner writes to it"
is "$(L volume create --owner 1000:1000 owned)" owned "again with the same owner: fine"
err=$(L volume create --owner 2000 owned 2>&1)
is "$?:$err" "1:limpet volume create: volume owned exists, owned by 1000:1000, not 2000:0" \
	"another owner for one that exists: refused, in one line"
is "$(stat -c %u:%g "$ROOT/volumes/owned")" 1000:1000 "and left as it was"
err=$(L volume create ../x 2>&1)
is "$?:$(wc -l <<<"$err")" "2:1" "a bad name: a usage error, one line"
like "$err" "^limpet volume create: '\.\./x' is not a volume name" "naming it"
err=$(L volume create --owner bob x 2>&1)
is "$?" 2 "a bad --owner: a usage error"
like "$err" "^limpet volume create: --owner: 'bob'" "naming it"
check "neither made anything" test ! -e "$ROOT/volumes/x"
