#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The command line as a Docker user meets it: help everywhere, from the same
# tables the parsers read; usage errors in one line naming the argument, exit
# 2; and the README listing every command and option the help does.
. "$(dirname "$0")/../lib/tap.sh"

README=$(realpath "$(dirname "$0")/../../README.md")
cd "$T" || exit 1

# Every command, and every subcommand of the ones made of them.
commands() {
	"$LIMPET" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }'
}
subcommands() {
	"$LIMPET" "$1" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }'
}
# The options a command's help lists: --long and -s, one a line.
options() {
	# shellcheck disable=SC2086
	"$LIMPET" $1 --help | awk '/^options:/ { on = 1; next } on && /^$/ { exit }
		on && $1 ~ /^-/ { for (i = 1; i <= 2; i++) { o = $i; sub(/,$/, "", o); if (o ~ /^-/) print o } }'
}

# Docker's short names: the same as limpet's long ones.
aliases() { "$LIMPET" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && / The same as limpet / { print $1 }'; }
for a in $(aliases); do
	target=$("$LIMPET" --help | awk -v a="$a" '$1 == a { sub(/.* The same as limpet /, ""); print }')
	# shellcheck disable=SC2086
	is "$("$LIMPET" $a --help)" "$("$LIMPET" $target --help)" "limpet $a is limpet $target"
done
check "images, pull and rmi are among them" test "$(aliases | tr '\n' ' ')" = "images pull rmi "

all=()
for c in $(commands); do
	case " $(aliases | tr '\n' ' ') " in *" $c "*) continue ;; esac
	all+=("$c")
	for s in $(subcommands "$c"); do all+=("$c $s"); done
done
check "the help lists the commands" test "${#all[@]}" -gt 20

help_ok=0 help_bad=
same_ok=0 same_bad=
for c in "${all[@]}"; do
	# shellcheck disable=SC2086
	out=$("$LIMPET" $c --help 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && [ "$(head -n1 <<<"$out" | cut -d' ' -f1-$(($(wc -w <<<"$c") + 2)))" = "usage: limpet $c" ]; then
		help_ok=$((help_ok + 1))
	else
		help_bad+="$c ($rc) "
	fi
	# shellcheck disable=SC2086
	if [ "$("$LIMPET" help $c 2>&1)" = "$out" ]; then same_ok=$((same_ok + 1)); else same_bad+="$c "; fi
done
is "$help_bad" "" "every command answers --help, exit 0, with its usage line ($help_ok)"
is "$same_bad" "" "limpet help COMMAND says the same ($same_ok)"

# Each option the help lists is one the parser takes: whatever else goes
# wrong with the dummy value, it is never an unknown option.  Run with a
# state directory of its own, where nothing runs.
unknown=
tried=0
for c in "${all[@]}"; do
	for o in $(options "$c"); do
		[ "$o" = --help ] && continue
		[ "$o" = -h ] && [ "$c" != run ] && continue
		tried=$((tried + 1))
		# shellcheck disable=SC2086
		out=$(timeout 60 "$LIMPET" --root "$T/probe" $c "$o" x 2>&1 </dev/null)
		case $out in *"no such option"*) unknown+="$c $o; " ;; esac
	done
done
check "the help listed options to try" test "$tried" -gt 60
is "$unknown" "" "every option the help lists is one its parser takes ($tried)"

# Usage errors: one line, exit 2, naming the argument, pointing at the help.
usage_error() { # DESCRIPTION PATTERN ARGS...
	local what=$1 want=$2 out rc
	shift 2
	out=$("$LIMPET" --root "$T/state" "$@" 2>&1 </dev/null)
	rc=$?
	is "$rc:$(wc -l <<<"$out")" "2:1" "$what: exit 2, one line"
	like "$out" "$want" "$what: says so"
}
usage_error "an unknown command" "^limpet: 'frobnicate' is not a limpet command; see 'limpet --help'$" frobnicate
usage_error "an unknown global option" "^limpet: --frob: no such global option" --frob ps
usage_error "-c without its value" "^limpet: -c needs a value" -c
usage_error "an unknown option" "^limpet run: --bogus: no such option; see 'limpet run --help'$" run --bogus "$ROOTFS" /bin/true
usage_error "an option without its value" "^limpet run: --memory needs a value \(SIZE\); see 'limpet run --help'$" run --memory
usage_error "a short option without its value" "^limpet exec: -e needs a value \(KEY=VALUE\)" exec -e
usage_error "a flag given a value" "^limpet run: --rm takes no value" run --rm=yes "$ROOTFS" /bin/true
usage_error "an unknown flag in a cluster" "^limpet run: -x: no such option" run -dx "$ROOTFS" /bin/true
usage_error "a bad value" "^limpet run: --memory: .*12X.*; see 'limpet run --help'$" run --memory 12X "$ROOTFS" /bin/true
usage_error "more CPUs than the host has" "^limpet run: --cpus: $(($(nproc) + 1)) is more than the [0-9]* CPUs? this host has" \
	run --cpus $(($(nproc) + 1)) "$ROOTFS" /bin/true
usage_error "a Docker bind mount" "^limpet run: -v: '/srv/data' is a host path: limpet mounts only named volumes" \
	run --rm -v /srv/data:/data "$ROOTFS" /bin/true
usage_error "run without an image" "^limpet run: needs an IMAGE or ROOTFS_DIR" run
usage_error "stop without a name" "^limpet stop: needs a container NAME" stop
usage_error "stop -t that is not seconds" "^limpet stop: -t soon: not a number of seconds" stop -t soon x
usage_error "image without its command" "^limpet image: needs a COMMAND: import, pull, ls" image
usage_error "an unknown image command" "^limpet image: 'frob' is not one of its commands" image frob
usage_error "ps given an operand" "^limpet ps: takes no arguments \('x'\)" ps x
usage_error "help for an unknown command" "^limpet: 'nope' is not a limpet command" help nope
usage_error "help for an unknown subcommand" "^limpet help: 'nope' is not a command of limpet image" help image nope

# The forms options come in, as with Docker's CLI.
is "$(L run --rm --memory=64M -e A=1 -eB=2 "$ROOTFS" /bin/sh -c 'echo $A$B')" 12 \
	"--opt=VALUE, -e VALUE and -eVALUE"
is "$(L run --rm "$ROOTFS" /bin/echo --help -h)" "--help -h" "options after the image are the command's own"
is "$(L run --rm -- "$ROOTFS" /bin/echo ok)" ok "-- ends the options"
is "$(L run --rm -h boxy "$ROOTFS" /bin/hostname)" boxy "run -h is --hostname, as in docker run"
out=$("$LIMPET" -c /nonexistent/limpet.conf run --help 2>&1)
is "$?:$(head -n1 <<<"$out" | cut -d' ' -f1-3)" "0:usage: limpet run" "--help works beside a config that cannot be read"
is "$("$LIMPET" --version)" "$("$LIMPET" version)" "--version and version agree"
"$LIMPET" >/dev/null 2>&1
is "$?" 2 "limpet alone: the usage, exit 2"

# ps -q, ps -a
L run --name one "$ROOTFS" /bin/true
L run --name two --memory 32M --restart on-failure:2 -e K=V -h box -w /tmp "$ROOTFS" /bin/sh -c 'exit 3'
is "$(L ps -q | tr '\n' ' ')" "one two " "ps -q: the names alone"
is "$(L ps -a -q | tr '\n' ' ')" "one two " "ps -a: the same (limpet lists stopped ones anyway)"
like "$(L ps | head -n1)" "^NAME +STATUS +PID +RESTARTS +IMAGE +COMMAND$" "ps: its columns"
shown=$ROOTFS
[ ${#shown} -le 24 ] || shown="${ROOTFS:0:21}..."
like "$(L ps | grep '^two ')" "^two +exited\(3\) +- +2 +${shown//./\\.} +/bin/sh -c exit 3$" \
	"an exited container: no PID, its restarts, its image (here its root, cut short), its command"

# inspect: the whole configuration, and nothing made up.
is "$(ps_field two pid)" null "inspect: no pid for a container that is not running"
is "$(ps_field one limits.memory)" null "no memory limit is null, not 0"
is "$(ps_field two limits.memory)" 33554432 "a memory limit in bytes"
is "$(ps_field two config.env)" '["K=V"]' "its environment"
is "$(ps_field two config.hostname):$(ps_field two config.workdir)" "box:/tmp" "hostname and workdir"
is "$(ps_field two config.restart.policy):$(ps_field two config.restart.max_retries)" "on-failure:2" \
	"restart policy"
is "$(ps_field two config.net):$(ps_field two config.read_only)" "none:false" "network and read-only"
is "$(L ps --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[1]["config"]["limits"]["memory"])')" \
	33554432 "ps --json holds the same"
# Docker's template paths, the common ones.
is "$(ps_field two '{{.State.ExitCode}}')" 3 "-f {{.State.ExitCode}}"
is "$(ps_field two '{{.State.Running}}')" false "-f {{.State.Running}}"
is "$(ps_field two '{{ .HostConfig.Memory }}')" 33554432 "-f {{ .HostConfig.Memory }}"
is "$(ps_field two '{{.HostConfig.RestartPolicy.Name}}')" on-failure "-f {{.HostConfig.RestartPolicy.Name}}"
is "$(ps_field two '{{json .Config.Env}}')" '["K=V"]' "-f {{json .Config.Env}}"
is "$(ps_field two '{{.config.hostname}}')" box "-f {{.limpet.path}} works too"
usage_error "a template limpet does not understand" \
	"^limpet inspect: -f '\{\{range .Mounts\}\}': only \{\{.Field\}\} and \{\{json .Field\}\}" \
	inspect -f '{{range .Mounts}}' two
out=$(L inspect -f '{{.State.Nope}}' two 2>&1)
is "$?: $out" "1: limpet inspect: two has no field State.Nope" "a field that is not there: exit 1, naming it"

# start, restart, kill: the agent runs them again.
out=$(L start one 2>&1)
is "$?:$(wc -l <<<"$out")" "1:1" "start without an agent: exit 1, one line"
like "$out" "^limpet start: one: .*limpet agent" "saying that the agent starts containers"
start_agent
L run -d --name svc --restart always "$ROOTFS" /bin/sh -c 'trap "echo got HUP" HUP; trap "exit 0" TERM; echo up; while :; do sleep 1; done' >/dev/null
wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status svc)\" = running ]"
# "up" comes after its traps are set: a HUP before them would be ignored (PID 1).
check "svc is up, its traps set" wait_for 60 grep -q '^up' "$ROOT/containers/svc/container.log"
pid1=$(ps_field svc pid)
L kill -s hup svc >/dev/null
check "kill -s hup: its PID 1 gets SIGHUP" wait_for 30 grep -q 'got HUP' "$ROOT/containers/svc/container.log"
is "$(ps_field svc pid)" "$pid1" "and runs on"
is "$(L kill -s TERM svc)" svc "kill -s TERM"
check "ends it" wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status svc)\" = exited ]"
check "and restart always does not bring it back, as after a stop" \
	bash -c "! grep -q 'container svc: restarting' $T/agent.log"
out=$(L kill svc 2>&1)
is "$?: $out" "1: limpet kill: container svc is not running" "kill on a stopped container: exit 1, one line"
usage_error "kill with a bad signal" "^limpet kill: -s: 'SIGNOPE' is not a signal" kill -s SIGNOPE svc
is "$(L start svc)" svc "start prints its name"
check "and the agent runs it again" wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status svc)\" = running ]"
pid2=$(ps_field svc pid)
check "as a new process" test "$pid2" != "$pid1"
is "$(L start svc)" svc "start on a running container: nothing to do, as docker start"
is "$(L restart -t 0 svc)" svc "restart"
check "runs it as a new process again" wait_for 30 bash -c "p=\$($LIMPET --root $ROOT inspect -f pid svc); [ -n \"\$p\" ] && [ \"\$p\" != $pid2 ] && [ \"\$p\" != 0 ]"
# A container that ran in the foreground starts under the agent, its output in its log.
L run --name fg "$ROOTFS" /bin/sh -c 'echo ran' >/dev/null
L start fg >/dev/null
check "start: a foreground container's next run goes to its log" \
	wait_for 30 grep -q '^ran' "$ROOT/containers/fg/container.log"
# stats: from the container's cgroup (v1 here, v2 on the boards: board.t).
L run -d --name busy --memory 32M --pids 16 "$ROOTFS" /bin/sh -c 'while :; do :; done' >/dev/null
wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status busy)\" = running ]"
stats=$(L stats --no-stream --json busy)
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)[0]
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1" <<<"$stats"; }
is "$(field memory.limit)" 33554432 "stats: the memory limit"
check "stats: memory in use" test "$(field memory.usage)" -gt 0
is "$(field pids)" 1 "stats: its tasks"
check "stats: a busy loop uses CPU (over 5%: $(field cpu_percent))" \
	python3 -c "import sys; sys.exit(0 if $(field cpu_percent) > 5 else 1)"
table=$(L stats --no-stream)
like "$(head -n1 <<<"$table")" "^NAME +CPU % +MEM USAGE / LIMIT +MEM % +PIDS +BLOCK I/O$" "stats: docker's columns"
like "$table" $'\n''busy +[0-9.]+% +[0-9.]+[KM]iB / 32MiB +[0-9.]+% +1 ' "stats: a row for the running container"
check "and none for the stopped ones" bash -c "! grep -q '^fg ' <<<'$table'"
# top: the processes in its cgroup, with the host's pids.
L run -d --name tops "$ROOTFS" /bin/sh -c 'sleep 1001 & exec sleep 1002' >/dev/null
wait_for 30 bash -c "$LIMPET --root $ROOT top tops 2>/dev/null | grep -q 'sleep 1001'"
out=$(L top tops)
like "$(head -n1 <<<"$out")" "^PID +UID +TIME +COMMAND$" "top: its columns"
is "$(grep -c 'sleep 100[12]$' <<<"$out")" 2 "top: both of the container's processes"
pid=$(ps_field tops pid)
like "$out" $'\n'"$pid +0 +[0-9]+:[0-9]{2}  sleep 1002" "top: PID 1 by its host pid"
out=$(L top fg 2>&1)
is "$?: $out" "1: limpet top: container fg is not running" "top on a stopped container: exit 1, one line"
L rm -f svc fg busy tops >/dev/null
stop_agent

# system df and system prune, on a state directory of their own.
test_images
S() { "$LIMPET" --root "$T/sys" "$@"; }
S image import --trust "$IMG/demo.pub" "$IMG/hello.tar" >/dev/null
S image import --trust "$IMG/demo.pub" "$IMG/layers.tar" >/dev/null
S run --name used -v keep:/data hello 'echo data > /data/f' >/dev/null
df() { S system df --json | python3 -c 'import json,sys; d=json.load(sys.stdin)
print(" ".join(str(d[k][f]) for k in ("images","containers","volumes") for f in ("total","active")))'; }
is "$(df)" "2 1 1 0 1 1" "system df: 2 images (1 used by a container), 1 stopped container, 1 volume in use"
like "$(S system df | head -n1)" "^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$" "system df: docker's columns"
usage_error "prune with no terminal to ask on" "^limpet system prune: there is no terminal to ask on: give -f" \
	--root "$T/sys" system prune
check "and it removed nothing" test -d "$T/sys/containers/used"
out=$(S system prune -f)
like "$out" "deleted container used" "system prune -f: the stopped container"
is "$(df)" "2 0 0 0 1 0" "system prune: the images and the volume stay"
check "the volume's data too" test -f "$T/sys/volumes/keep/f"
out=$(S system prune -a -f)
like "$out" "deleted image hello:latest" "system prune -a: the images nothing uses"
is "$(df)" "0 0 0 0 1 0" "and their layers"
is "$(find "$T/sys/store/layers" -mindepth 1 -maxdepth 1 | wc -l)" 0 "no layer is left"

# Bash completion, from the same help.
_limpet_bin=$LIMPET
# shellcheck source=../../platform/dist/limpet.bash-completion
. "$(dirname "$README")/platform/dist/limpet.bash-completion"
completes() { # WORDS...: what TAB offers for the last one
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	_limpet
	echo "${COMPREPLY[*]}"
}
is "$(completes limpet ru)" run "completion: a command"
is "$(completes limpet image i)" "import inspect" "completion: a subcommand"
is "$(completes limpet run --mem)" --memory "completion: an option of run"
is "$(completes limpet image pull --li)" --limit-rate "completion: an option of a subcommand"
is "$(completes limpet --root "$ROOT" stop o)" one "completion: a container's name"
is "$(completes limpet help vo)" volume "completion: help's command"

# The man page names every command the help lists, and points at --help for the rest.
man=$(dirname "$README")/platform/dist/limpet.1
missing=
for c in $(commands); do grep -q "^\.B[RI]* .*\b$c\b" "$man" || missing+="$c "; done
is "$missing" "" "the man page names every command"
check "and to limpet help COMMAND for the rest" grep -q '^\.BR help ' "$man"

# The README: every command and every long option the help lists.
missing=
for c in "${all[@]}"; do
	grep -q "limpet $c\b" "$README" || missing+="'limpet $c' "
	for o in $(options "$c"); do
		case $o in --help | -?) continue ;; esac
		grep -q -- "$o\b" "$README" || missing+="$c $o; "
	done
done
is "$missing" "" "the README names every command and long option the help lists"

