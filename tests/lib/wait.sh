#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the tests (tap.sh) and the benchmarks.

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
