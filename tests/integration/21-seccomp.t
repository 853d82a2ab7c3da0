#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The seccomp allowlist in a running container: what Docker's default profile
# refuses fails (socket families, personality flags, namespaces, syscalls
# newer than the list), and everyday programs still work. The comparison with
# Docker's profile, syscall by syscall, is tests/unit/platform/linux/test_seccomp_docker.c.
. "$(dirname "$0")/../lib/tap.sh"

# A static probe in a copy of the busybox rootfs: it makes the calls the image's
# shell cannot (tests/lib/seccomp-probe.c).
RFS=$T/rootfs
cp -a "$ROOTFS" "$RFS"
test_tool seccomp-probe "$RFS/bin/probe"

probe() { L run --rm "$RFS" /bin/probe "$@" 2>&1; }

out=$(probe getpid inet personality-query)
is "$out" "getpid: ok
inet: ok
personality-query: ok" "ordinary calls work: getpid, an AF_INET socket, a personality query"

out=$(probe vsock alg)
is "$out" "vsock: EPERM
alg: EPERM" "socket(AF_VSOCK) and socket(AF_ALG) fail with EPERM"

# The built filter is kept for the next start; one the kernel refuses (a
# damaged file) is built afresh, never skipped.
cache=$(ls "$ROOT"/run/seccomp-*.bpf 2>/dev/null | head -1)
check "the built filter is kept in the run directory" test -s "${cache:-/nonexistent}"
like "$(stat -c %a "${cache:-/dev/null}")" '^6[04][04]$' "writable by root alone"
head -c 64 /dev/zero >"${cache:-/dev/null}"
out=$(probe vsock getpid)
is "$out" "vsock: EPERM
getpid: ok" "a damaged cached filter is rebuilt: the rules still hold"
chmod 0666 "${cache:-/dev/null}"
out=$(probe vsock getpid)
is "$out" "vsock: EPERM
getpid: ok" "a cached filter others could write is not read"

out=$(probe no-randomize read-implies-exec)
like "$out" "^no-randomize: E[A-Z]+
read-implies-exec: E[A-Z]+$" "personality(ADDR_NO_RANDOMIZE) and personality(READ_IMPLIES_EXEC) fail"

out=$(probe open_tree_attr nr-1000 clone3)
is "$out" "open_tree_attr: ENOSYS
nr-1000: ENOSYS
clone3: ENOSYS" "syscalls newer than the list (open_tree_attr, clone3, an unknown number) get ENOSYS"

out=$(probe clone-newuser fanotify mbind ptrace io_uring_setup)
is "$out" "clone-newuser: EPERM
fanotify: EPERM
mbind: EPERM
ptrace: EPERM
io_uring_setup: EPERM" "new namespaces, fanotify, NUMA policy, ptrace and io_uring fail with EPERM"

# The i386 entry point, from a 64-bit process (needs the kernel's IA32 emulation).
if [ "$(uname -m)" = x86_64 ] && [ "$(probe i386-getpid)" = "i386-getpid: ok" ]; then
	out=$(probe i386-vsock i386-no-randomize i386-nr-1000)
	like "$out" "^i386-vsock: E[A-Z]+
i386-no-randomize: E[A-Z]+
i386-nr-1000: ENOSYS$" "the i386 entry point is filtered too (AF_VSOCK, ADDR_NO_RANDOMIZE, unknown syscall)"
	like "$out" "^i386-vsock: E(PERM|NOSYS)" "i386 socket(AF_VSOCK) is refused by the filter"
else
	ok "# SKIP no i386 entry point here"
	ok "# SKIP no i386 entry point here"
fi

# Everyday programs: a shell, ls, sleep, and wget to a server on the host's loopback.
out=$(L run --rm "$RFS" /bin/sh -c 'ls / >/dev/null && sleep 0.1 && echo fine' 2>&1)
is "$out" fine "busybox sh, ls and sleep run"

mkdir -p "$T/www"
echo "hello from the host" >"$T/www/index.html"
httpd_pid=
for _ in 1 2 3; do
	port=$(free_port) || break
	busybox httpd -f -p "127.0.0.1:$port" -h "$T/www" &
	httpd_pid=$!
	wait_for 5 bash -c "kill -0 $httpd_pid && (: </dev/tcp/127.0.0.1/$port) 2>/dev/null" && break
	kill "$httpd_pid" 2>/dev/null
	wait "$httpd_pid" 2>/dev/null
	httpd_pid=
done
if [ -n "$httpd_pid" ]; then
	out=$(L run --rm --net host "$RFS" wget -q -O - "http://127.0.0.1:$port/" 2>&1)
	is "$out" "hello from the host" "wget to 127.0.0.1 under --net host works"
	kill "$httpd_pid"
	wait "$httpd_pid" 2>/dev/null || : # killed: 143
else
	not_ok "wget to 127.0.0.1 under --net host works"
	diag "busybox httpd did not start on 127.0.0.1"
fi
