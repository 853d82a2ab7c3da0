#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian image as umoci + skopeo pack it (the README's recipe): the
# oci-archive and the docker-archive of one umoci layout, imported and run as
# a Docker user would run them (lib.sh), under limits, as a service.
. "$(dirname "$0")/lib.sh"
realworld_images

check "umoci writes hard links with a permission-only mode ($(perm_only umoci-oci.tar) in umoci-oci.tar)" \
	test "$(perm_only umoci-oci.tar)" -gt 0
is "$(marks umoci-oci.tar 1)" "(3, 0)" \
	"layer 2 carries whiteouts: one per removed file (umoci writes no opaque marker)"

archive_checks umoci-oci.tar umoci rw-umoci all
archive_checks umoci-docker.tar umoci-docker rw-umoci-docker
layers() { L image inspect "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["layers"])'; }
is "$(layers rw-umoci-docker)" "$(layers rw-umoci)" "skopeo's two archives hold the same layers (diff_ids)"
