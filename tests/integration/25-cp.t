#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet cp as docker cp: files, trees and symlinks out of and into running
# and stopped containers, modes, times and owners (a --userns root too);
# then an image that plants symlinks to /, /etc and host paths, `..`, a
# FIFO and devices: nothing lands on the host, nothing of it is read, and
# what cannot be copied is refused in one line.
. "$(dirname "$0")/../lib/tap.sh"

rf=$T/rootfs
cp -a "$ROOTFS" "$rf"
tag=cp-$$-$RANDOM
mkdir -p "$T/hostdir"
echo host-secret >"$T/hostdir/secret"
echo canary >"$T/canary"
# What a hostile image plants: links out of its root, and things that are no files.
ln -s / "$rf/toroot"
ln -s /etc "$rf/toetc"
ln -s "$T/hostdir" "$rf/tohost"
ln -s "$T/canary" "$rf/tocanary"
ln -s ../../../../../.. "$rf/up"
mkfifo "$rf/fifo"
echo inside >"$rf/etc/cp-mark"

# running NAME: the agent has it running
running() { [ "$(L inspect -f status "$1")" = running ]; }
# inside NAME CMD: a shell command inside
inside() { L exec "$1" /bin/sh -c "$2"; }
# one_line DESC RC WANT-RC OUT REGEX: a refusal in one line
one_line() {
	is "$2" "$3" "$1: exit $3"
	like "$4" "$5" "$1: one line saying why"
	is "$(wc -l <<<"$4")" 1 "$1: (just one)"
}

start_agent
L run -d --name web "$rf" /bin/sleep 100000 >/dev/null
check "a running container" wait_for 30 running web
inside web 'mkdir -p /data/a/b && echo hi >/data/a/b/f && chmod 640 /data/a/b/f &&
	touch -d @1000000000 /data/a/b/f && ln -s b/f /data/a/lnk && chmod 750 /data/a'

# ------------------------------------------------------ out of a running one
L cp web:/data/a/b/f "$T/out-f"
is "$(cat "$T/out-f")" hi "out: a file"
is "$(stat -c '%a %Y %u' "$T/out-f")" "640 1000000000 0" "out: its mode and mtime kept, ours"
L cp web:/data "$T/out-d"
is "$(cat "$T/out-d/a/b/f")" hi "out: a tree, to a new directory"
check "out: a symlink stays a symlink" test -L "$T/out-d/a/lnk"
is "$(readlink "$T/out-d/a/lnk")" b/f "out: with the same target"
is "$(stat -c %a "$T/out-d/a")" 750 "out: a directory's mode kept"
mkdir "$T/into" "$T/into2"
L cp web:/data "$T/into"
check "out: into an existing directory, under its name" test -f "$T/into/data/a/b/f"
L cp web:/data/. "$T/into2"
check "out: DIR/. copies what it holds" test -f "$T/into2/a/b/f"
L cp -L web:/data/a/lnk "$T/out-L"
check "out: -L follows the source's link" test -f "$T/out-L" -a ! -L "$T/out-L"

# ---------------------------------------------------------- into a running one
mkdir -p "$T/src/d1/d2"
echo x >"$T/src/d1/d2/x"
chmod 751 "$T/src/d1/d2/x"
touch -d @1100000000 "$T/src/d1/d2/x"
ln -s d2/x "$T/src/d1/l"
chown -R -h 1234:1234 "$T/src/d1"
L cp "$T/src/d1" web:/tmp/
is "$(inside web 'cat /tmp/d1/d2/x; stat -c "%a %Y %u:%g" /tmp/d1/d2/x; readlink /tmp/d1/l')" "x
751 1100000000 0:0
d2/x" "in: a tree with nested directories, mode, mtime, a symlink; owned by root"
L cp -a "$T/src/d1" web:/tmp/d1a
is "$(inside web 'stat -c %u:%g /tmp/d1a/d2/x /tmp/d1a/l' | tr '\n' ' ')" "1234:1234 1234:1234 " \
	"in: -a keeps uid and gid"
echo new >"$T/new"
L cp "$T/new" web:/data/a/b/f
is "$(inside web 'cat /data/a/b/f')" new "in: an existing file is replaced"
out=$(L cp "$T/new" web:/nonexistent/ 2>&1)
one_line "in: to DIR/ that is not there" "$?" 1 "$out" "^limpet cp: web:/nonexistent/: the destination directory must exist$"
out=$(L cp "$T/src/d1" web:/data/a/b/f 2>&1)
one_line "in: a directory onto a file" "$?" 1 "$out" "cannot overwrite a non-directory"

# ------------------------------------------------ a hostile image, copying in
cp "$T/new" "$T/$tag"
L cp "$T/$tag" web:/toroot/
check "in through a link to /: inside the container's root" inside web "test -f /$tag"
check "and not on the host's" test ! -e "/$tag"
L cp "$T/$tag" web:/toetc/
check "in through a link to /etc: the container's /etc" inside web "test -f /etc/$tag"
check "and not the host's" test ! -e "/etc/$tag"
L cp "$T/$tag" "web:/toetc/x-$tag"
check "a link to /etc as a path component: the container's" inside web "test -f /etc/x-$tag"
check "(not the host's)" test ! -e "/etc/x-$tag"
L cp "$T/$tag" "web:/tohost/" 2>/dev/null
L cp "$T/$tag" "web:/tohost/y" 2>/dev/null
check "a link to a host directory: nothing reaches it" test ! -e "$T/hostdir/$tag" -a ! -e "$T/hostdir/y"
L cp "$T/$tag" "web:/up/u-$tag"
check "a link climbing with ..: the file stays inside" inside web "test -f /u-$tag"
check "(not in the host's /)" test ! -e "/u-$tag"
L cp "$T/$tag" "web:/../../../../tmp/v-$tag"
check ".. in the path cannot leave the root" inside web "test -f /tmp/v-$tag"
check "(the host's /tmp has nothing)" test ! -e "/tmp/v-$tag"
L cp "$T/$tag" web:/tocanary
check "a link as the destination file is replaced, not written through" inside web 'test ! -L /tocanary'
is "$(cat "$T/canary")" canary "(the host file it named is untouched)"
inside web 'ln -sf /etc /tmp/swap'
L cp "$T/src/d1" web:/tmp/swap/
check "a link to /etc made by the running container: its own /etc" inside web 'test -f /etc/d1/d2/x'
check "(not the host's)" test ! -e /etc/d1/d2/x

# ----------------------------------------------- a hostile image, copying out
inside web "ln -s $T/canary /tmp/tocanary2"
L cp web:/tocanary2 "$T/o1" 2>/dev/null
L cp web:/toetc/cp-mark "$T/o2"
is "$(cat "$T/o2")" inside "out through a link to /etc: the container's file"
L cp web:/toroot "$T/o3"
check "out: a link to / comes out as a link" test -L "$T/o3"
is "$(readlink "$T/o3")" / "(with its target text)"
L cp web:/up "$T/o4"
is "$(readlink "$T/o4")" ../../../../../.. "out: a link climbing with .. as well"
out=$(L cp web:/tohost/secret "$T/o5" 2>&1)
is "$?" 1 "out: a host path through a link is not the host's"
check "(nothing copied)" test ! -e "$T/o5"
out=$(L cp -L web:/tohost "$T/o6" 2>&1)
is "$?" 1 "out: -L resolves the link inside the root, where the host path is not"
check "(nothing of the host's directory copied)" test ! -e "$T/o6/secret"

# ------------------------------------------------------ what is not a file
out=$(L cp web:/fifo "$T/o7" 2>&1)
one_line "out: a FIFO" "$?" 1 "$out" "^limpet cp: web:/fifo is a FIFO: refused"
out=$(L cp web:/dev/null "$T/o8" 2>&1)
one_line "out: a device node" "$?" 1 "$out" "^limpet cp: web:/dev/null is a character device: refused"
mkfifo "$T/hostfifo"
out=$(L cp "$T/hostfifo" web:/tmp/ 2>&1)
one_line "in: a FIFO of the host" "$?" 1 "$out" "^limpet cp: $T/hostfifo is a FIFO: refused"
out=$(timeout 20 "$LIMPET" --root "$ROOT" cp web:/proc/kmsg "$T/o9" 2>&1)
one_line "out: a kernel file" "$?" 1 "$out" "^limpet cp: web:/proc/kmsg is a kernel file"

# ------------------------------------------------------------ usage errors
out=$(L cp "$T/a" "$T/b" 2>&1)
one_line "no CONTAINER:PATH" "$?" 2 "$out" "^limpet cp: neither .* is CONTAINER:PATH; see 'limpet cp --help'$"
out=$(L cp web:/a web:/b 2>&1)
one_line "two containers" "$?" 2 "$out" "copying between containers is not supported"
out=$(L cp nosuch:/a "$T/x" 2>&1)
one_line "an unknown container" "$?" 1 "$out" "^limpet cp: .*nosuch"
out=$(L cp - web:/tmp 2>&1)
one_line "a tar stream" "$?" 2 "$out" "^limpet cp: -: tar streams are not supported; name a file"
out=$(L cp web:/a 2>&1)
one_line "one operand" "$?" 2 "$out" "^limpet cp: needs SRC_PATH and DEST_PATH"

# ------------------------------------------------------------- a stopped one
L run -d --name st "$rf" /bin/sleep 100000 >/dev/null
check "another running container" wait_for 30 running st
L stop -t 0 st >/dev/null
L cp "$T/new" st:/tmp/put
is "$?" 0 "in: into a stopped container"
L cp "$T/src/d1" st:/tmp/
L start st >/dev/null
check "it starts again" wait_for 30 running st
is "$(inside st 'cat /tmp/put /tmp/d1/d2/x')" "new
x" "and sees what was copied in"
L stop -t 0 st >/dev/null
L cp st:/tmp/put "$T/from-stopped"
is "$(cat "$T/from-stopped")" new "out: of a stopped container"
L cp st:/toetc/cp-mark "$T/from-stopped2"
is "$(cat "$T/from-stopped2")" inside "out of a stopped one: links resolve inside its root too"
L cp "$T/$tag" "st:/toetc/s-$tag"
check "in: a stopped one's link to /etc is not the host's" test ! -e "/etc/s-$tag"
check "(it is in the container's upper layer)" test -f "$ROOT/containers/st/upper/etc/s-$tag"
is "$(grep -c " $ROOT/run/cp-" /proc/self/mountinfo)" 0 "nothing stays mounted on the host"

# ---------------------------------------------------------------- --userns
# A user namespace root must be able to walk down to its container directory.
chmod 711 "$T"
urf=$T/userns-rootfs
cp -a "$rf" "$urf" && chown -R -h 100000:100000 "$urf"
L run -d --name ubox --userns 100000:65536 "$urf" /bin/sleep 100000 >/dev/null
check "a --userns container" wait_for 30 running ubox
L cp "$T/new" ubox:/tmp/u
is "$(stat -c %u:%g "$ROOT/containers/ubox/upper/tmp/u")" 100000:100000 \
	"in, --userns: owned by the mapped root on the host"
is "$(inside ubox 'stat -c %u:%g /tmp/u')" 0:0 "(its root inside)"
L cp -a "$T/src/d1" ubox:/tmp/ua
is "$(inside ubox 'stat -c %u /tmp/ua/d2/x')" 1234 "in, --userns, -a: the uid as the container sees it"
L stop -t 0 ubox >/dev/null
L cp "$T/new" ubox:/tmp/u2
is "$(stat -c %u "$ROOT/containers/ubox/upper/tmp/u2")" 100000 "in, --userns, stopped: the mapped root too"

L rm -f web st ubox >/dev/null
stop_agent
