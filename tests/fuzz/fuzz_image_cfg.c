// SPDX-License-Identifier: Apache-2.0
/*
 * An image's config and user database at container start (agent/container/image_cfg.c):
 * Entrypoint, Cmd, Env, WorkingDir and User from the image config, and the
 * user looked up in the image's own /etc/passwd and /etc/group.  The input
 * is four parts separated by FZ_SEP: the image config (JSON), etc/passwd,
 * etc/group, and the container's user setting (empty: none).
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "agent/config/host.h"
#include "agent/config/config.h"
#include "agent/container/image_cfg.h"
#include "agent/spec/spec.h"
#include "agent/image/store.h"

#define LAYER_HEX "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"

static struct lp_host host;
static char etc[4096 + 128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lp_err err = { 0 };

	if (lp_config_defaults(&host.cfg, &err) < 0)
		fz_fail("%s", err.msg);
	snprintf(host.root, sizeof(host.root), "%s/root", fz_scratch());
	snprintf(etc, sizeof(etc), "%s/store/layers/" LAYER_HEX "/etc", host.root);
	if (lp_mkdir_p(etc, 0755, &err) < 0)
		fz_fail("%s", err.msg);
	return 0;
}

static void save_image(json_t *config)
{
	struct lp_store st;
	struct lp_err err = { 0 };
	json_t *rec = json_pack("{s:s, s:[s], s:O}", "name", "fuzz:latest", "layers", LAYER_HEX,
				"config", config);

	if (!rec || lp_store_open(&host, &st, &err) < 0 || lp_store_save_image(&st, rec, &err) < 0)
		fz_fail("save the image: %s", rec ? err.msg : "out of memory");
	lp_store_close(&st);
	json_decref(rec);
}

static void write_etc(const char *name, const struct fz_part *part)
{
	char path[sizeof(etc) + 16];
	struct lp_err err = { 0 };

	snprintf(path, sizeof(path), "%s/%s", etc, name);
	if (lp_write_file(path, part->p, part->len, &err) < 0)
		fz_fail("%s", err.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part parts[4] = { { "", 0 }, { "", 0 }, { "", 0 }, { "", 0 } };
	char *argv[] = { NULL }, *env[] = { "TERM=vt100", NULL };
	struct lp_container_cfg c = { .name = "fuzz", .image = "fuzz", .argv = argv, .env = env };
	struct lp_image_run r;
	struct lp_err err = { 0 };
	cleanup_free char *user = NULL;
	json_error_t jerr;
	json_t *config;

	fz_split(data, size, parts, 4);
	config = json_loadb(parts[0].p, parts[0].len, 0, &jerr);
	if (!config)
		return 0;
	save_image(config);
	json_decref(config);
	write_etc("passwd", &parts[1]);
	write_etc("group", &parts[2]);
	user = fz_strndup(parts[3].p, parts[3].len);
	c.user = *user ? user : NULL;
	if (lp_image_resolve(&host, &c, &r, &err) < 0) {
		fz_check_err(&err);
		return 0;
	}
	if (!r.lowerdir || !r.argv || !r.argv[0] || !r.env)
		fz_fail("resolved without a lowerdir, a command or an environment");
	if (r.user.uid == UINT32_MAX || r.user.gid == UINT32_MAX)
		fz_fail("resolved to uid %u gid %u: -1 means \"unchanged\" to the kernel",
			r.user.uid, r.user.gid);
	if (r.user.n_groups > LP_GROUPS_MAX || !r.user.home[0])
		fz_fail("resolved to %zu groups (at most %d), home '%s'", r.user.n_groups,
			LP_GROUPS_MAX, r.user.home);
	lp_image_run_free(&r);
	return 0;
}
