#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# size.sh BINARY MAP: the static binary's size, and the bytes each library
# puts in it, summed from the linker map over the input sections the link
# kept (after --gc-sections).  "file" is code, read-only data and data, what
# the binary carries; "bss" is zeroed memory at run time, not in the file.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BINARY MAP" >&2; exit 2; }
bin=$1 map=$2
for f in "$bin" "$map"; do
	[ -f "$f" ] || { echo "size: $f: missing (make static builds it)" >&2; exit 1; }
done

bytes=$(stat -c %s "$bin")
kind=$(file -b "$bin" | grep -o 'statically linked, stripped' || echo 'NOT static and stripped')

awk -v bin="$bin" -v bytes="$bytes" -v kind="$kind" '
# mawk has no strtonum
function hex(s,   i, n) {
	s = tolower(s)
	sub(/^0x/, "", s)
	n = 0
	for (i = 1; i <= length(s); i++)
		n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return n
}
function lib(file,   a) {
	if (match(file, /lib[A-Za-z0-9_+-]+\.a\(/)) {
		a = substr(file, RSTART + 3, RLENGTH - 6)
		if (a ~ /^mbed/) return "mbedtls"
		if (a == "curl") return "curl"
		if (a == "archive") return "libarchive"
		if (a == "zstd") return "zstd"
		if (a == "z") return "zlib"
		if (a == "config") return "libconfig"
		if (a == "jansson") return "jansson"
		if (a == "seccomp") return "libseccomp"
		if (a == "c" || a == "pthread") return "libc (musl)"
		if (a ~ /^gcc/) return "libgcc"
		if (a == "limpet") return "limpet"
		return "lib" a
	}
	if (file ~ /\/crt(begin|end)/) return "libgcc"
	if (file ~ /\/(S|r)?crt[0-9in]\.o$/) return "libc (musl)"
	if (file ~ /^build/) return "limpet"
	return "other"
}
function add(size, file) {
	size = hex(size)
	if (size == 0 || !alloc) return
	if (bss) b[lib(file)] += size
	else f[lib(file)] += size
}
/^Linker script and memory map/ { on = 1; next }
!on { next }
# output section: an address of 0 means it is not loaded (.comment, debug)
/^\.[^ ]+/ {
	alloc = NF >= 2 && hex($2) != 0
	bss = $1 ~ /^\.t?bss$/
	pending = 0
	next
}
/^ (\.|COMMON)/ {
	if (NF >= 4) add($3, $4)
	else if (NF == 1) pending = 1
	next
}
pending && NF == 3 && $1 ~ /^0x/ && $2 ~ /^0x/ { add($2, $3) }
{ pending = 0 }
END {
	printf "%s: %d bytes (%.2f MiB), %s\n", bin, bytes, bytes / 1048576, kind
	for (k in f) seen[k] = 1
	for (k in b) seen[k] = 1
	n = 0
	for (k in seen) order[++n] = k
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (f[order[j]] > f[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
	printf "  %-14s %10s %7s %9s\n", "library", "file", "share", "bss"
	for (i = 1; i <= n; i++) {
		k = order[i]
		tf += f[k]; tb += b[k]
		printf "  %-14s %10d %6.1f%% %9d\n", k, f[k], 100 * f[k] / bytes, b[k]
	}
	printf "  %-14s %10d %6.1f%%\n", "ELF, padding", bytes - tf, 100 * (bytes - tf) / bytes
	printf "  %-14s %10d %6.1f%% %9d\n", "total", bytes, 100, tb
}' "$map"
