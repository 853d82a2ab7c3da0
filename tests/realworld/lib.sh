#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the real-image tier's tests (README.md): tap.sh, the images of
# build.sh (built once per recipe, then reused from the cache), and the checks
# a Docker user would make of a Debian image.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
RWDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/realworld/dockerd.sh
. "$RWDIR/dockerd.sh"
# shellcheck source=tests/realworld/cache.sh
. "$RWDIR/cache.sh"

# What Docker answers for this image (03-docker.t asks dockerd itself).
ID_ROOT="uid=0(root) gid=0(root) groups=0(root)"
ID_ALICE="uid=1234(alice) gid=1234(alice) groups=1234(alice),20(dialout),1500(crew)"
GREETING="hello from the image config"
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# realworld_images: RW := the directory of build.sh's archives (cache.sh),
# built first if this recipe's are not in the cache; a failed build fails the test.
realworld_images() {
	if ! realworld_cache "$T/build.out"; then
		not_ok "build.sh made the real images"
		diag "$(tail -n 40 "$T/build.out")"
		exit 1
	fi
}

# info FILE EXPR: a value from info/FILE.json (archinfo.py),
# EXPR a Python expression on `d`.
info() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$RW/info/$1.json" "$2"
}

# perm_only FILE: hard links written with a permission-only mode, all layers.
perm_only() { info "$1" 'sum(l["hardlinks_perm_only"] for i in d["images"] for l in i["layers"])'; }
# marks FILE N: "(whiteouts, opaque markers)" in layer N (from 0) of FILE's first image.
marks() { info "$1" "(d['images'][0]['layers'][$2]['whiteouts'], d['images'][0]['layers'][$2]['opaque'])"; }

# rw_import FILE [IMPORT-ARGS...]: limpet image import of a built archive,
# with its signature and the key build.sh signed it with.
rw_import() {
	local f=$1
	shift
	L image import --trust "$RW/key.pub" "$@" "$RW/$f"
}

# R IMAGE-AND-ARGS...: limpet run --rm, output and exit status as the user sees them.
R() { L run --rm "$@"; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Count the processes it can start below --pids: PID 1 forks sleepers until
# fork fails, prints how many it got, and its exit takes the rest along.
FORK_COUNT='my $n = 0; for (1 .. 200) { my $p = fork; last unless defined $p; if (!$p) { sleep 60; exit } $n++ } print "$n\n"'
# Needs about 64 MiB more than it has under --memory 32M.
MEMORY_HOG='my $x = "x" x (64 << 20); print length($x), "\n"'
# What a user looks at first: who am I, where, with what environment (03-docker.t).
# shellcheck disable=SC2034
WHOAMI='id; echo "HOME=$HOME"; pwd; for v in PATH LANG REALWORLD_GREETING; do eval "echo $v=\${$v-unset}"; done'

# image_checks LABEL IMAGE: the image's content and its config, as run by
# limpet, against what Docker gives (see 03-docker.t for Docker's answers).
image_checks() {
	local lb=$1 img=$2 out
	is "$(R "$img" id)" "$ID_ROOT" "$lb: id (the image's default user, root)"
	is "$(R -u alice "$img" id)" "$ID_ALICE" "$lb: -u alice: uid, gid and the groups from /etc/group"
	is "$(R -u 1234 "$img" id)" "$ID_ALICE" "$lb: -u 1234: the same user by number, with its groups"
	is "$(R -u alice "$img" sh -c 'echo $HOME')" /home/alice "$lb: -u alice: HOME from /etc/passwd"
	is "$(R "$img" sh -c 'echo $HOME')" /root "$lb: root's HOME is /root"
	is "$(R -u 4242 "$img" sh -c 'echo "$HOME $(id -u) $(id -G)"')" "/ 4242 0" \
		"$lb: -u 4242 (not in /etc/passwd): HOME=/, the root group and no other"
	is "$(R -u alice "$img" sh -c 'cat ~/.realworld && touch ~/new && echo wrote')" \
		"alice was here"$'\n'"wrote" "$lb: alice reads and writes her home"
	is "$(R "$img" sh -c 'echo "$REALWORLD_GREETING|$LANG|$PATH"')" "$GREETING|C.UTF-8|$IMAGE_PATH" \
		"$lb: Env from the image config"
	is "$(R -e REALWORLD_GREETING=cli -e EXTRA=1 "$img" sh -c 'echo "$REALWORLD_GREETING|$EXTRA|$LANG"')" \
		"cli|1|C.UTF-8" "$lb: -e overrides one variable and keeps the rest"
	is "$(R "$img" pwd)" /srv/realworld "$lb: WorkingDir from the image config"
	is "$(R -w /tmp "$img" pwd)" /tmp "$lb: -w overrides it"
	R "$img" sh -c 'exit 3'
	is "$?" 3 "$lb: exit 3 -> 3"
	R --init "$img" sh -c 'kill -TERM $$'
	is "$?" 143 "$lb: --init, the command killed by SIGTERM -> 143"
	R "$img" /no/such/command 2>/dev/null
	is "$?" 127 "$lb: a missing command -> 127"
	R "$img" /etc/passwd 2>/dev/null
	is "$?" 126 "$lb: a file that is not executable -> 126"

	is "$(R "$img" sh -c 'test ! -e /opt/realworld/doomed.txt && ls /opt/realworld/conf')" c.conf \
		"$lb: layer 2's whiteout and replaced directory hide layer 1's files"
	out=$(R "$img" stat -c '%h %i' /usr/bin/perl /usr/bin/perl5.36.0)
	like "$out" '^2 ([0-9]+)'$'\n''2 \1$' "$lb: perl and perl5.36.0 are one file with two links"
	is "$(R "$img" stat -c '%a %U' /usr/bin/passwd)" "4755 root" "$lb: setuid passwd keeps its mode"
	is "$(R "$img" dpkg-query -W -f '${db:Status-Abbrev}${Package} ' procps nginx-light)" \
		"ii nginx-light ii procps " "$lb: dpkg says nginx-light and procps are installed"
	# (The recipe's `rm -rf /var/lib/apt/lists/*`, as Dockerfiles do, takes
	# apt's lists/partial directory along.)
	out=$(R "$img" sh -c 'dpkg --verify; echo "exit $?"' 2>&1 | grep -v '^missing  *[/]var/lib/apt/lists/partial$')
	is "$out" "exit 0" "$lb: dpkg --verify: every packaged file is there with its packaged content"
}

# limit_checks LABEL IMAGE: --pids and --memory, OOM reporting.
limit_checks() {
	local lb=$1 img=$2 err
	is "$(R --pids 20 "$img" perl -e "$FORK_COUNT" 2>/dev/null)" 19 \
		"$lb: --pids 20: PID 1 and 19 more, then fork fails"
	err=$(L run --name "oom-$img" --memory 32M "$img" perl -e "$MEMORY_HOG" 2>&1)
	is "$?" 137 "$lb: --memory 32M: the 64 MiB hog is killed (137)"
	like "$err" "killed by the OOM killer" "$lb: and the run says it was the OOM killer"
	is "$(ps_field "oom-$img" oom_killed)" true "$lb: inspect says oom_killed"
	like "$(L ps)" "oom-$img +oom-killed" "$lb: ps says oom-killed"
	L rm "oom-$img" >/dev/null
}

# service_checks LABEL IMAGE: nginx-light as a detached service on --net
# host (the agent must run), then exec, logs and stop.
service_checks() {
	local lb=$1 img=$2 port name=web-$2 cg
	port=$(free_port)
	L run -d --name "$name" --net host --memory 64M --pids 64 -e PORT="$port" "$img" >/dev/null
	check "$lb: nginx-light answers on 127.0.0.1:$port (--net host)" \
		wait_for 60 curl -fs -o /dev/null "http://127.0.0.1:$port/"
	is "$(curl -fsS "http://127.0.0.1:$port/")" "realworld nginx: it works" "$lb: and serves the page"
	cg=$(ps_field "$name" cgroup)
	if [ -d "/sys/fs/cgroup/memory$cg" ]; then
		is "$(cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes")" 67108864 "$lb: --memory 64M is its cgroup's limit (v1)"
	else
		is "$(cat "/sys/fs/cgroup$cg/memory.max")" 67108864 "$lb: --memory 64M is its cgroup's limit (v2)"
	fi
	check "$lb: logs has the request (nginx's access log is its stdout)" \
		wait_for 30 sh -c '"$@" | grep -q "\"GET / HTTP/1.1\" 200"' sh "$LIMPET" --root "$ROOT" logs "$name"
	is "$(L exec "$name" id)" "$ID_ROOT" "$lb: exec runs as the container's user"
	# As Docker's, exec takes Env and WorkingDir from the container's config:
	# nginx reuses its environ memory for its title.
	is "$(L exec "$name" sh -c 'echo "$REALWORLD_GREETING|$PWD"')" "$GREETING|/srv/realworld" \
		"$lb: exec gets the image's Env and WorkingDir"
	is "$(L exec -w /tmp -e REALWORLD_GREETING=cli "$name" sh -c 'echo "$REALWORLD_GREETING|$PWD|$LANG"')" \
		"cli|/tmp|C.UTF-8" "$lb: exec -e and -w over them"
	like "$(L exec "$name" ps -e -o user=,comm=)" "root +nginx"$'\n'"www-data +nginx" \
		"$lb: exec ps (procps, from layer 2): the nginx master and its www-data worker"
	L stop -t 10 "$name" >/dev/null
	is "$(L ps | awk -v n="$name" '$1 == n { print $2 }')" "exited(0)" "$lb: stop: nginx shuts down on SIGTERM, exit 0"
	L rm "$name" >/dev/null
}

# archive_checks FILE LABEL NAME [all]: import FILE as NAME, then
# image_checks; with `all`, limit_checks and service_checks too (these take
# longer and do not depend on how the layers were packed: once per packer).
archive_checks() {
	local out
	out=$(rw_import "$1" --name "$3" 2>&1)
	is "$?:$out" "0:$3" "$1 imports as $3 (signature, digests)"
	[ "$out" = "$3" ] || return
	image_checks "$2" "$3"
	[ "${4:-}" = all ] || return 0
	limit_checks "$2" "$3"
	start_agent
	service_checks "$2" "$3"
	stop_agent
}
