#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Interactive terminals as an operator uses them: `run -it`, `exec -it`,
# `run -d -t`, typed into through a real pty (tests/lib/pty-run) that plays
# the operator's terminal. The container's terminal is its own (a pty of its
# devpts, owned by its user), sized and resized from ours, ^C reaches its
# foreground job, and ours comes back as it was. Nothing of the operator's
# terminal crosses in.
. "$(dirname "$0")/../lib/tap.sh"

rf=$T/rootfs
cp -a "$ROOTFS" "$rf"
test_tool attack "$rf/attack"
test_tool pty-run "$T/pty-run"
# A prompt to wait for, the same as whatever user the shell runs as.
export PTY_RUN_TIMEOUT=${PTY_RUN_TIMEOUT:-30}

# op SCRIPT ARGS...: limpet ARGS on a 24x80 terminal driven by SCRIPT; its output, minus \r.
op() {
	local script=$1
	shift
	"$T/pty-run" -w 24x80 -e "$script" "$LIMPET" --root "$ROOT" "$@"
}

# ---------------------------------------------------------------- run -it
out=$(op $'expect ready> \nsend tty; stty size; id -u\\r\nexpect 0\nsend exit 3\\r' \
	run --rm -it -e 'PS1=ready> ' "$rf" /bin/sh)
is "$?" 3 "run -it: the shell's exit status is run's"
like "$out" "/dev/pts/0" "its terminal is a pty of the container's own devpts"
like "$out" "24 80" "sized as the operator's terminal from the start"

out=$(op $'expect looping\nresize 40 120\nexpect WINCH 40 120\nsend \\x03' \
	run --rm -it "$rf" /bin/sh -c 'trap "echo WINCH \$(stty size)" WINCH; echo looping; while :; do sleep 1; done')
is "$?" 130 "a resize of the operator's terminal, then ^C"
like "$out" "WINCH 40 120" "reaches the container's terminal and its process (SIGWINCH, new size)"

out=$(op $'expect ready> \nsend trap "echo GOT-INT" INT; sleep 100; echo after $?\\r\nsleep 200\nsend \\x03\nexpect after\nsend cat -v\\r\nsleep 200\nsend \\x10x\\r\nexpect ^Px\nsend \\x04\nexpect ready> \nsend exit 5\\r' \
	run --rm -it -e 'PS1=ready> ' "$rf" /bin/sh)
is "$?" 5 "^C, ^P and ^D typed into run -it"
like "$out" "GOT-INT" "^C interrupts the container's foreground job, not limpet"
like "$out" "after 130" "(which ended by SIGINT; the shell lives on)"
like "$out" "\\^Px" "^P x reaches the container: a foreground run has no detach keys"

# The operator's terminal comes back in the state it was in, however run ends.
out=$("$T/pty-run" -w 24x80 -e $'expect ready> \nsend exit 4\\r' bash -c \
	"stty -g; '$LIMPET' --root '$ROOT' run --rm -it -e 'PS1=ready> ' '$rf' /bin/sh; echo rc=\$?; stty -g")
before=$(sed -n 1p <<<"$out")
is "$(grep -c -x -F "$before" <<<"$out")" 2 "the operator's terminal is restored after run -it"
like "$out" "rc=4" "(run -it returned the shell's status)"

is "$("$T/pty-run" -w 24x80 "$LIMPET" --root "$ROOT" run --rm -t "$rf" /attack fds)" "0 1 2" \
	"run -t: the entrypoint holds only its terminal, as 0, 1, 2"
out=$("$T/pty-run" -w 24x80 "$LIMPET" --root "$ROOT" run --rm -t -u 1000:1000 --init "$rf" \
	/bin/sh -c 'id -u; ls -ln $(tty)')
like "$out" "crw--w---- +1 1000 +5 +136, +0 .*/dev/pts/0" \
	"run -t --init -u 1000: the pty belongs to the container's user (group tty)"

# TIOCSTI on the container's own terminal types into the container at most.
out=$("$T/pty-run" -w 24x80 bash -c \
	"'$LIMPET' --root '$ROOT' run --rm -it '$rf' /attack tiocsti; read -t 1 line; echo \"read [\$line]\"")
like "$out" "read \[\]" "run -it: TIOCSTI inside types nothing into the operator's shell"

err=$(L run --rm -it "$rf" /bin/true </dev/null 2>&1)
is "$?" 125 "run -it with input that is no terminal: refused, 125"
like "$err" "^limpet run: the input device is not a TTY$" "(Docker's message)"
out=$(L run --rm -t "$rf" /bin/sh -c 'tty' </dev/null | tr -d '\r')
is "$out" "/dev/pts/0" "run -t without -i needs no terminal of ours: the container still gets one"

# ---------------------------------------------------------------- exec -it
start_agent
L run -d --name box "$rf" /bin/sleep 1000 >/dev/null
L run -d --name box1k -u 1000:1000 "$rf" /bin/sleep 1000 >/dev/null
chmod 711 "$T"
urf=$T/userns-rootfs
cp -a "$rf" "$urf" && chown -R -h 100000:100000 "$urf"
L run -d --name ubox --userns 100000:65536 "$urf" /bin/sleep 1000 >/dev/null
wait_for 30 bash -c "[ \$('$LIMPET' --root '$ROOT' ps | grep -c running) = 3 ]"

out=$(op $'expect ready> \nsend stty size; tty\\r\nexpect /dev/pts/\nresize 50 132\nsend stty size\\r\nexpect 50 132\nsend exit 6\\r' \
	exec -it -e 'PS1=ready> ' box /bin/sh)
is "$?" 6 "exec -it: the command's exit status is exec's"
like "$out" "24 80" "its terminal starts at the operator's size"
like "$out" "50 132" "and follows a resize"
for ct in box1k ubox; do
	want=$([ $ct = box1k ] && echo 1000 || echo 0)
	out=$("$T/pty-run" -w 24x80 "$LIMPET" --root "$ROOT" exec -t $ct /bin/sh -c 'ls -ln $(tty); /attack fds')
	like "$out" "crw--w---- +1 $want +5 +136, +[0-9]+ .*/dev/pts/[0-9]+" \
		"exec -t in $ct: a pty of the container's devpts, owned by its user ($want)"
	like "$out" "0 1 2" "(and the command holds nothing else)"
done
out=$("$T/pty-run" -w 24x80 bash -c \
	"'$LIMPET' --root '$ROOT' exec -it box /attack tiocsti; read -t 1 line; echo \"read [\$line]\"")
like "$out" "read \[\]" "exec -it: TIOCSTI inside types nothing into the operator's shell"
err=$(L exec -it box /bin/true </dev/null 2>&1)
is "$?" 125 "exec -it with input that is no terminal: refused, 125"
like "$err" "^limpet exec: the input device is not a TTY$" "(one line)"

# ------------------------------------------------------------ run -d -t
L run -d -t --name tlog "$rf" /bin/sh -c 'echo hello; tty; exec sleep 1000' >/dev/null
check "a detached container's terminal goes to its log" \
	wait_for 30 sh -c "'$LIMPET' --root '$ROOT' logs tlog | grep -q /dev/pts/0"
is "$(L logs tlog | head -1 | od -An -c | tr -s ' ')" " h e l l o \r \n" \
	"(as the terminal wrote it: \\r\\n)"
L run -d -t --init --name tinit "$rf" /bin/sleep 1000 >/dev/null
pid1=$(ps_field tinit pid)
is "$(stat -L -c %t:%T "/proc/$pid1/fd/0" "/proc/$pid1/fd/1" | tr '\n' ' ')" "1:3 1:3 " \
	"--init -t: PID 1 holds no terminal at all"

# ---------------------------------------------------------------- attach
L run -d -it --name sh1 -e 'PS1=ready> ' "$rf" /bin/sh >/dev/null
out=$(op $'expect ready> \nsend echo one; stty size\\r\nexpect 24 80\nsend \\x10\\x11' attach sh1 2>&1)
is "$?" 0 "attach, then ctrl-p ctrl-q: detached, exit 0"
like "$out" "read escape sequence" "(saying so, as Docker does)"
is "$(ps_field sh1 status)" running "the container runs on after the detach"
is "$(ps_field sh1 '{{.Config.Tty}}') $(ps_field sh1 '{{.Config.OpenStdin}}')" "true true" \
	"inspect shows -t and -i (Docker's .Config.Tty, .Config.OpenStdin)"
out=$(op $'expect ready> \nsend cat -v\\r\nsleep 200\nsend \\x10x\\r\nexpect ^Px\nsend \\x04\nexpect ready> \nsend \\x01\\x02' \
	attach --detach-keys ctrl-a,ctrl-b sh1 2>&1)
is "$?" 0 "--detach-keys ctrl-a,ctrl-b detaches instead"
like "$out" "\\^Px" "and ctrl-p reaches the container then"
err=$(L attach --detach-keys ctrl-1 sh1 2>&1)
is "$?" 2 "--detach-keys with a key that is none: a usage error"
like "$err" "ctrl-1" "(naming it)"

# Two at once: both see the output; one typing is heard by the other.
"$T/pty-run" -w 24x80 -e $'expect ready> \nexpect FROM-TWO\nsend \\x10\\x11' \
	"$LIMPET" --root "$ROOT" attach sh1 >"$T/one.out" 2>&1 &
one=$!
check "a first attacher is connected" wait_for 30 grep -q "ready> " "$T/one.out"
out=$(op $'expect ready> \nsend echo FROM-\\x54WO\\r\nexpect FROM-TWO\nsend \\x10\\x11' attach sh1 2>&1)
wait $one
is "$?" 0 "a second attacher's typing reaches the container, and the first sees its output"

# A stopped attacher is let go, never waited for: the agent and the log go on.
# About 40 KB/s: a running attacher keeps up with it even on a loaded machine,
# a stopped one falls 64 KiB behind within seconds, even on a slow board.
L run -d -t --name flood "$rf" /bin/sh -c \
	'while :; do yes 0123456789abcdefghijklmnopqrstuvwxyz | head -n 100; sleep 0.1; done' >/dev/null
"$T/pty-run" -w 24x80 "$LIMPET" --root "$ROOT" attach --no-stdin flood >"$T/flood.out" 2>&1 &
stuck=$!
check "an attacher follows a container that writes without pause" wait_for 30 test -s "$T/flood.out"
# children PID: the processes whose parent is PID (the boards have no pgrep).
children() {
	local p f
	for p in /proc/[0-9]*; do
		read -r -a f 2>/dev/null <"$p/stat" && [ "${f[3]}" = "$1" ] && echo "${p#/proc/}"
	done
}
attacher=$(children $stuck)
check "(the attacher is pty-run's child, $attacher)" test -n "$attacher"
kill -STOP ${attacher:-$stuck}
touch "$T/stopped"
logf=$ROOT/containers/flood/container.log
check "with that attacher stopped, the log is still written" \
	wait_for 30 test "$logf" -nt "$T/stopped"
# start of a running container is a request the agent answers (EALREADY: nothing to do).
check "and the agent still answers requests" eval 'L start sh1 >/dev/null'
check "the agent lets the stopped attacher go (its log says so)" \
	wait_for 120 grep -q "container flood: an attached terminal fell .* behind its output: let go" \
	"$T/agent.log"
kill -CONT ${attacher:-$stuck}
check "the stopped attacher was let go, and says so when it wakes" \
	wait_for 60 grep -q "the agent ended the session" "$T/flood.out"
kill $stuck 2>/dev/null
wait $stuck
L rm -f flood >/dev/null

# The container's end reaches every attacher as its exit status.
out=$(op $'expect ready> \nsend exit 7\\r' attach sh1 2>&1)
is "$?" 7 "the shell's exit ends attach with its status"
log=$(L logs sh1 | tr -d '\r')
like "$log" "one" "the log has what was typed in the first session"
like "$log" "exit 7" "and in the last"
L run -d -it --name sh2 "$rf" /bin/sh >/dev/null
"$T/pty-run" -w 24x80 "$LIMPET" --root "$ROOT" attach sh2 >"$T/rm.out" 2>&1 &
att=$!
wait_for 30 grep -q "#" "$T/rm.out"
L rm -f sh2 >/dev/null
wait $att
is "$?" 137 "rm -f during attach ends it with the container's status (killed: 137)"

err=$(L attach box 2>&1)
is "$?" 1 "attach to a container started without -t: refused"
like "$err" "^limpet attach: container box has no terminal .*limpet logs -f$" "(one line, saying what to use)"
err=$(L attach nosuch 2>&1)
is "$?" 1 "attach to no such container: refused"

stop_agent
