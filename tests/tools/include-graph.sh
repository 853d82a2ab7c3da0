#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# include-graph.sh [TOP]: the #include "..." edges between the files of
# agent/ and platform/, so the layout's rule can be checked at a glance:
# data flows down
#
#   agent/cli -> agent/fleet -> agent/deploy -> agent/daemon -> agent/container -> agent/image
#     -> agent/config | agent/fetch | agent/spec | agent/trust -> platform/ -> platform/lib
#
# and no include runs back up; platform/ never includes agent/.  It prints
# the number of includes between each pair of folders, every upward include,
# every two-file loop (A.c or A.h includes B.h while B.c or B.h includes
# A.h; a header without a .c, as deploy_internal.h, is part of the files
# that include it, not a loop with them), and the totals.  Folders outside that order (the flat agent/ of old,
# a new one) are counted but not ranked.  An include is resolved as the
# compiler does with -I$(srctree): beside the including file, then from TOP;
# one that is neither (a generated or system header) is not an edge.
set -euo pipefail

top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top"

mapfile -t files < <(find agent platform -name '*.[ch]' | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || { echo "include-graph: no agent/ or platform/ sources under $top" >&2; exit 1; }

# "FILE:#include "X"" lines; the file list first, so awk knows what resolves.
{
	printf 'FILE %s\n' "${files[@]}"
	grep -H '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "${files[@]}" || true
} | LC_ALL=C awk '
function dir(p) { return p ~ /\// ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "." }
# a/b/../c -> a/c, ./x -> x
function norm(p,   n, i, k, part, out) {
	n = split(p, part, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (part[i] == "." || part[i] == "")
			continue
		if (part[i] == ".." && k > 0 && out[k] != "..")
			k--
		else
			out[++k] = part[i]
	}
	p = ""
	for (i = 1; i <= k; i++)
		p = p (i > 1 ? "/" : "") out[i]
	return p
}
# Place in the data flow, top (0) to bottom; -1: not in it.
function rank(d) {
	if (d == "agent/cli") return 0
	if (d == "agent/fleet") return 1
	if (d == "agent/deploy") return 2
	if (d == "agent/daemon") return 3
	if (d == "agent/container") return 4
	if (d == "agent/image") return 5
	if (d ~ /^agent\/(config|fetch|spec|trust)$/) return 6
	if (d == "platform/lib") return 8
	if (d ~ /^platform(\/|$)/) return 7
	return -1
}
function upward(from, to,   rf, rt) {
	if (from ~ /^platform(\/|$)/ && to ~ /^agent(\/|$)/)
		return 1
	rf = rank(from)
	rt = rank(to)
	return rf >= 0 && rt >= 0 && rt < rf
}
function module(p) { sub(/\.[ch]$/, "", p); return p }

$1 == "FILE" {
	known[$2] = 1
	if ($2 ~ /\.c$/)
		hasc[module($2)] = 1
	next
}
{
	src = substr($0, 1, index($0, ":") - 1)
	inc = $0
	sub(/^[^"]*"/, "", inc)
	sub(/".*/, "", inc)
	to = norm(dir(src) "/" inc)
	if (!(to in known))
		to = norm(inc)
	if (!(to in known) || to == src)
		next
	if (seen[src, to]++)
		next
	fd = dir(src)
	td = dir(to)
	if (fd != td) {
		cross++
		pair[fd " -> " td]++
		if (upward(fd, td)) {
			up++
			ups[src " -> " to] = 1
		}
	}
	ma = module(src)
	mb = module(to)
	if (ma != mb)
		dep[ma, mb] = 1
}
END {
	print "# #include \"...\" edges of agent/ and platform/"
	print "cross-folder includes (from -> to: includes):"
	n = 0
	for (k in pair)
		line[++n] = sprintf("  %-44s %3d", k, pair[k])
	sortprint(line, n)

	print "upward includes (against cli > fleet > deploy > daemon > container > image >"
	print "  config|fetch|spec|trust > platform > platform/lib; platform never includes agent):"
	n = 0
	for (k in ups)
		line[++n] = "  " k
	if (!sortprint(line, n))
		print "  none"

	print "two-file loops (A.c or A.h includes B.h, B.c or B.h includes A.h):"
	n = 0
	for (k in dep) {
		split(k, m, SUBSEP)
		if (m[1] < m[2] && ((m[2], m[1]) in dep) && (m[1] in hasc) && (m[2] in hasc))
			line[++n] = "  " m[1] " <-> " m[2] (dir(m[1]) == dir(m[2]) ? "" : "  (across folders)")
	}
	loops = n
	if (!sortprint(line, n))
		print "  none"

	printf "totals: cross-folder includes %d, upward includes %d, two-file loops %d\n",
	       cross, up, loops
}
# print line[1..n] sorted (insertion sort: a few hundred lines at most)
function sortprint(line, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = line[i]
		for (j = i - 1; j >= 1 && line[j] > t; j--)
			line[j + 1] = line[j]
		line[j + 1] = t
	}
	for (i = 1; i <= n; i++)
		print line[i]
	return n
}
'
