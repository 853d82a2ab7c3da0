#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# doctor on the real kernel, and what `make install` lays out.
. "$(dirname "$0")/../lib/tap.sh"

out=$(L doctor)
is "$?" 0 "doctor passes on this host"
like "$out" "ok +namespaces +mnt pid uts ipc net" "it checks namespaces"
like "$out" "ok +cgroup +v[12]" "it reports the cgroup version"
like "$out" "(ok|warn) +kvm" "it reports KVM"
json=$(L doctor --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], len(d["checks"]))')
like "$json" "^True [0-9]+$" "doctor --json is JSON with the checks"
L doctor extra >/dev/null 2>&1
is "$?" 2 "doctor with a stray argument exits 2"
# a config the agent would refuse: doctor says so, and checks the rest
printf 'log = { max_size = "12Q"; };\n' >"$T/bad.conf"
out=$(L -c "$T/bad.conf" doctor)
is "$?" 1 "doctor with a bad config fails"
like "$out" "FAIL +config +$T/bad.conf:1: log.max_size" "naming the file, line and setting"
like "$out" "ok +namespaces" "and checks the rest all the same"

top=$(cd "$(dirname "$0")/../.." && pwd)
dest=$T/pkg
make -s -C "$top" install DESTDIR="$dest" PREFIX=/usr LIMPET_BIN="$LIMPET" >/dev/null 2>&1
check "make install puts the binary in PREFIX/bin" test -x "$dest/usr/bin/limpet"
check "and the bash completion where bash-completion looks" \
	test -f "$dest/usr/share/bash-completion/completions/limpet"
check "and the commented config in /etc/limpet" test -f "$dest/etc/limpet/limpet.conf"
"$dest/usr/bin/limpet" -c "$dest/etc/limpet/limpet.conf" --root "$T/st" ps >/dev/null
is "$?" 0 "the installed config loads"
unit=$dest/lib/systemd/system/limpet.service
check "and the systemd unit in /lib/systemd/system" test -f "$unit"
is "$(stat -c %a "$unit")" 644 "the unit is mode 0644"
is "$(grep '^ExecStart=' "$unit")" "ExecStart=/usr/bin/limpet agent" "it starts the installed binary"
is "$(grep -cE '^(Type=notify|KillMode=process|Delegate=yes|WatchdogSec=.+)$' "$unit")" 4 \
	"Type=notify, KillMode=process, Delegate=yes and a watchdog"
is "$(stat -c %a "$dest/var/lib/limpet")" 700 "the state directory is mode 0700"
make -s -C "$top" install DESTDIR="$T/pkg2" PREFIX=/opt/limpet SYSCONFDIR=/opt/limpet/etc \
	LIMPET_BIN="$LIMPET" >/dev/null 2>&1
is "$(grep '^ExecStart=' "$T/pkg2/lib/systemd/system/limpet.service")" \
	"ExecStart=/opt/limpet/bin/limpet -c /opt/limpet/etc/limpet/limpet.conf agent" \
	"with another PREFIX and SYSCONFDIR the unit follows them"
