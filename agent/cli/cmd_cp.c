// SPDX-License-Identifier: Apache-2.0
/*
 * limpet cp: files, directories and symlinks between the host and a
 * container, running or stopped, by docker cp's rules.  Arguments in, the
 * copy handed down: the container's root comes from agent/container, the
 * confined walk from platform/copy.h.
 */
#include <stdio.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "platform/copy.h"

static const struct lp_opt cp_opts[] = {
	{ 'a', 'a', "archive", NULL, "keep uid and gid (else: the container's root, or yours)" },
	{ 'L', 'L', "follow-link", NULL, "follow SRC_PATH's own symlink (inside the container)" },
	{ 0 },
};

static int cmd_cp(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_cp = {
	.name = "cp",
	.operands = "CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
	.summary = "Copy files and directories between a container and the host",
	.opts = cp_opts,
	.notes = "The container may be running or stopped. Paths in it resolve inside its\n"
		 "root; symlinks are copied as symlinks, never followed out of it. A\n"
		 "DEST_PATH that is a directory gets SRC_PATH under its own name (SRC_PATH/.\n"
		 "copies what it holds); one ending in / must be a directory. Modes and\n"
		 "times are kept (setuid and setgid not, on what leaves a container).\n"
		 "Device nodes, FIFOs and sockets are refused; - (a tar stream) is not\n"
		 "supported.",
	.fn = cmd_cp,
};

/*
 * Docker's rule: NAME:PATH is a container's path unless it starts with '/'
 * or '.' (./a:b is a host file).  The container's name, or NULL.
 */
static char *split(char *arg, char **path)
{
	char *colon = strchr(arg, ':');

	*path = arg;
	if (arg[0] == '/' || arg[0] == '.' || !colon)
		return NULL;
	*colon = '\0';
	*path = colon + 1;
	return arg;
}

static int copy(int rootfd, void *spec, struct lp_err *err)
{
	return lp_copy(rootfd, spec, err);
}

static int cmd_cp(int argc, char **argv, struct lp_globals *g)
{
	struct lp_copy_spec spec = { 0 };
	struct lp_container ct;
	struct lp_err err = { 0 };
	char label[LP_NAME_MAX + 2], *src, *dst, *from, *to;
	struct lp_opts p;
	int opt, rc;

	lp_opts_init(&p, &lp_doc_cp, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == 'a')
			spec.archive = true;
		else
			spec.follow = true;
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p) != 2)
		return lp_usage_error("cp", "needs SRC_PATH and DEST_PATH, one of them "
					    "CONTAINER:PATH");
	if (!strcmp(argv[p.ind], "-") || !strcmp(argv[p.ind + 1], "-"))
		return lp_usage_error("cp", "-: tar streams are not supported; name a file");
	from = split(argv[p.ind], &src);
	to = split(argv[p.ind + 1], &dst);
	if (from && to)
		return lp_usage_error("cp", "%s:%s, %s:%s: copying between containers is not "
					    "supported",
				      from, src, to, dst);
	if (!from && !to)
		return lp_usage_error("cp", "neither %s nor %s is CONTAINER:PATH", src, dst);
	if (!*(from ? from : to))
		return lp_usage_error("cp", ":%s: no container name before ':'", from ? src : dst);
	if (!*src || !*dst)
		return lp_usage_error("cp", "%s is empty", *src ? "DEST_PATH" : "SRC_PATH");
	if (lp_ct_load(&g->host, from ? from : to, &ct, &err) < 0)
		return lp_cmd_fail("cp", &err);
	snprintf(label, sizeof(label), "%s:", ct.cfg.name);
	spec.src = src;
	spec.dst = dst;
	spec.into = to != NULL;
	spec.label = label;
	spec.userns_uid = ct.cfg.userns_uid;
	spec.userns_count = ct.cfg.userns_count;
	rc = lp_ct_with_root(&g->host, &ct, copy, &spec, &err) < 0 ? lp_cmd_fail("cp", &err) : 0;
	lp_ct_free(&ct);
	return rc;
}
