// SPDX-License-Identifier: Apache-2.0
/*
 * limpet volume create | ls | rm: the directories under ROOT/volumes that
 * containers keep their data in (volume.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "agent/container/volume.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define USERS_MAX 256	/* the CONTAINERS column; longer lists end in "..." */

static bool uses(const struct lp_container_cfg *c, const char *volume)
{
	size_t i;

	for (i = 0; i < c->n_volumes; i++)
		if (!strcmp(c->volumes[i].name, volume))
			return true;
	return false;
}

/* The existing containers that use volume, ", " separated ("" for none). */
static int users(struct lp_globals *g, const char *volume, char *buf, size_t len,
		 struct lp_err *err)
{
	char **names;
	size_t n, i, used = 0;

	buf[0] = '\0';
	if (lp_ct_names(&g->host, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		struct lp_err ignored;

		/* one being made or removed right now has nothing to say */
		if (lp_ct_load(&g->host, names[i], &ct, &ignored) < 0)
			continue;
		if (uses(&ct.cfg, volume) && used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
						 ct.cfg.name);
		lp_ct_free(&ct);
	}
	lp_ct_names_free(names, n);
	if (used >= len && len > 4)
		strcpy(buf + len - 4, "...");
	return 0;
}

static int is_volume(const struct dirent *de)
{
	return (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
	       lp_volume_name_valid(de->d_name, NULL) == 0;
}

static int volume_ls(struct lp_globals *g)
{
	char dir[PATH_MAX], used_by[USERS_MAX];
	struct dirent **list = NULL;
	struct lp_err err = { 0 };
	int i, n, rc = 0;

	if (lp_path(dir, sizeof(dir), &err, "%s/volumes", g->host.root) < 0)
		return lp_cmd_fail("volume ls", &err);
	n = scandir(dir, &list, is_volume, alphasort);
	if (n < 0 && errno != ENOENT) {
		lp_fail_errno(&err, "%s", dir);
		return lp_cmd_fail("volume ls", &err);
	}
	printf("%-24s %s\n", "NAME", "CONTAINERS");
	for (i = 0; i < n; i++) {
		if (rc == 0 && users(g, list[i]->d_name, used_by, sizeof(used_by), &err) < 0)
			rc = lp_cmd_fail("volume ls", &err);
		if (rc == 0 && used_by[0])
			printf("%-24s %s\n", list[i]->d_name, used_by);
		else if (rc == 0)
			printf("%s\n", list[i]->d_name);
		free(list[i]);
	}
	free(list);
	return rc;
}

static int volume_rm(struct lp_globals *g, const char *name)
{
	char path[PATH_MAX], used_by[USERS_MAX];
	struct lp_err err = { 0 };

	if (lp_volume_dir(&g->host, name, path, sizeof(path), &err) < 0)
		return lp_usage_error("volume rm", "%s", err.msg);
	if (access(path, F_OK) < 0) {
		lp_fail(&err, ENOENT, "no such volume: %s", name);
		return lp_cmd_fail("volume rm", &err);
	}
	if (users(g, name, used_by, sizeof(used_by), &err) < 0)
		return lp_cmd_fail("volume rm", &err);
	if (used_by[0]) {
		lp_fail(&err, EBUSY, "volume %s: used by container %s", name, used_by);
		return lp_cmd_fail("volume rm", &err);
	}
	if (lp_remove_tree(path, &err) < 0) {
		lp_prefix(&err, "volume %s", name);
		return lp_cmd_fail("volume rm", &err);
	}
	printf("%s\n", name);
	return 0;
}

static int cmd_volume_create(int argc, char **argv, struct lp_globals *g);
static int cmd_volume_ls(int argc, char **argv, struct lp_globals *g);
static int cmd_volume_rm(int argc, char **argv, struct lp_globals *g);

static const struct lp_opt create_opts[] = {
	{ 'o', 0, "owner", "UID[:GID]", "who owns it (numeric; default 0:0, GID 0 if left out)" },
	{ 0 },
};

static const struct lp_cmd_doc doc_create = {
	.name = "volume create",
	.operands = "NAME",
	.summary = "Make a volume now, as a container's first use would (one that exists is kept)",
	.opts = create_opts,
	.fn = cmd_volume_create,
};

static const struct lp_cmd_doc doc_ls = {
	.name = "volume ls",
	.summary = "List volumes, and the containers that use each",
	.fn = cmd_volume_ls,
};

static const struct lp_cmd_doc doc_rm = {
	.name = "volume rm",
	.operands = "NAME...",
	.summary = "Remove volumes, with their data, that no container uses",
	.fn = cmd_volume_rm,
};

static int cmd_volume_create(int argc, char **argv, struct lp_globals *g)
{
	uint32_t uid = 0, gid = 0;
	struct lp_err err = { 0 };
	bool owner = false;
	struct lp_opts p;
	int opt;

	lp_opts_init(&p, &doc_create, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (lp_parse_user(p.arg, &uid, &gid, &err) < 0)
			return lp_usage_error("volume create", "--owner: %s", err.msg);
		owner = true;
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p) != 1)
		return lp_usage_error("volume create", "needs exactly one volume NAME");
	if (lp_volume_name_valid(argv[p.ind], &err) < 0)
		return lp_usage_error("volume create", "%s", err.msg);
	/* As docker volume create: one that is there already is fine, unless it is another's. */
	if (lp_volume_create(&g->host, argv[p.ind], uid, gid, owner, &err) < 0)
		return lp_cmd_fail("volume create", &err);
	printf("%s\n", argv[p.ind]);
	return 0;
}

static int cmd_volume_ls(int argc, char **argv, struct lp_globals *g)
{
	int first = 0, rc = lp_opts_none(&doc_ls, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first < argc)
		return lp_usage_error("volume ls", "takes no arguments ('%s')", argv[first]);
	return volume_ls(g);
}

static int cmd_volume_rm(int argc, char **argv, struct lp_globals *g)
{
	int i, first = 0, rc = lp_opts_none(&doc_rm, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first == argc)
		return lp_usage_error("volume rm", "needs a volume NAME");
	for (i = first, rc = 0; i < argc; i++) {
		int one = volume_rm(g, argv[i]);

		if (one)
			rc = one;
	}
	return rc;
}

static const struct lp_cmd_doc *const volume_subs[] = { &doc_create, &doc_ls, &doc_rm, NULL };

static int cmd_volume(int argc, char **argv, struct lp_globals *g)
{
	return lp_cmd_dispatch(&lp_doc_volume, argc, argv, g);
}

const struct lp_cmd_doc lp_doc_volume = {
	.name = "volume",
	.operands = "COMMAND",
	.summary = "Make, list and remove named volumes (also made when a container first uses one)",
	.subs = volume_subs,
	.fn = cmd_volume,
};
