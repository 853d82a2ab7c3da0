// SPDX-License-Identifier: Apache-2.0
#include "agent/fleet/fleet.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent/deploy/deploy.h"
#include "agent/deploy/deploy_doc.h"
#include "agent/fleet/status.h"
#include "agent/fleet/usb.h"
#include "agent/fetch/fetch.h"
#include "agent/image/import.h"
#include "platform/board.h"
#include "platform/lib/util.h"

#define PREFIX "limpet agent: fleet"
/* Failed polls back off up to this many intervals. */
#define BACKOFF_MAX_FACTOR 16
/* A first retry comes sooner than a whole interval, but never sooner than this. */
#define BACKOFF_FIRST_MS 5000

struct poller {
	const struct lp_host *host;
	struct lp_trust trust;
	struct lp_fetch_opts poll_fetch;	/* one attempt: the poll loop backs off itself */
	struct lp_fetch_opts image_fetch;	/* retries inside: a cut download resumes at once */
	char doc_url[PATH_MAX + 32], sig_url[PATH_MAX + 32], status_url[PATH_MAX + 32];
	char incoming[PATH_MAX], doc_path[PATH_MAX], sig_path[PATH_MAX];
	char *etag;			/* of the document last handled for good */
	char *last_error;		/* what went wrong last, for the status; NULL: nothing */
	char *last_logged;
	char *sent;			/* the last status sent, without volatile fields */
	int64_t sent_ms;
	char board[128];
	int failures;
};

/* Remember err as the last error; log it unless it is what was logged last. */
static void set_error(struct poller *p, const char *msg)
{
	free(p->last_error);
	p->last_error = msg ? strdup(msg) : NULL;
	if (msg && (!p->last_logged || strcmp(p->last_logged, msg)))
		lp_say(PREFIX, "%s", msg);
	free(p->last_logged);
	p->last_logged = msg ? strdup(msg) : NULL;
}

int64_t lp_fleet_delay_ms(int64_t interval_ms, int64_t jitter_ms, int failures, uint32_t random)
{
	int64_t base = interval_ms, spread = jitter_ms;

	if (failures > 0) {
		base = (int64_t)BACKOFF_FIRST_MS << (failures - 1 < 10 ? failures - 1 : 10);
		if (base > interval_ms * BACKOFF_MAX_FACTOR)
			base = interval_ms * BACKOFF_MAX_FACTOR;
		/* Devices that failed together must not come back together: +-50 %. */
		spread = base;
		base /= 2;
	}
	return base + (spread > 0 ? (int64_t)(random % (uint64_t)(spread + 1)) : 0);
}

/* After every change, and every status_interval even without one. */
static void report(struct poller *p)
{
	json_t *stable = lp_status_report(p->host, p->board, p->last_error, false), *full;
	char *key = stable ? json_dumps(stable, JSON_COMPACT | JSON_SORT_KEYS) : NULL, *body;
	struct lp_err err = { 0 };

	json_decref(stable);
	if (!key)
		return;
	if (p->sent && !strcmp(key, p->sent) &&
	    lp_now_ms() - p->sent_ms < p->host->cfg.fleet.status_interval_ms) {
		free(key);
		return;
	}
	full = lp_status_report(p->host, p->board, p->last_error, true);
	body = full ? json_dumps(full, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(full);
	if (body && lp_fetch_put(p->status_url, body, strlen(body), "application/json",
				 &p->poll_fetch, &err) == 0) {
		free(p->sent);
		p->sent = steal_ptr(key);
		p->sent_ms = lp_now_ms();
	} else if (body) {
		/* Kept unsent: the next poll tries again. */
		lp_say(PREFIX, "status report: %s", err.msg);
	}
	free(body);
	free(key);
}

/* ---------------------------------------------------------------- polling */

static int fetch_signature(struct poller *p, struct lp_err *err)
{
	char *body = NULL;
	size_t len = 0;
	long status = 0;
	int rc;

	if (lp_fetch_get(p->sig_url, NULL, &body, &len, NULL, &status, LP_SIG_FILE_MAX,
			 &p->poll_fetch, err) < 0)
		return -1;
	rc = lp_write_file(p->sig_path, body, len, err);
	free(body);
	return rc;
}

/* One poll; 0 when it went as it should (nothing new counts), -1 to back off. */
static int poll_once(struct poller *p)
{
	struct lp_apply_opts o = { .doc = p->doc_path, .sig = p->sig_path,
				   .origin = p->doc_url, .trust = &p->trust,
				   .fetch = &p->image_fetch, .log_prefix = PREFIX };
	struct lp_err err = { 0 };
	enum lp_apply_result r;
	char *body = NULL, *etag = NULL;
	size_t len = 0;
	long status = 0;

	/* A `limpet deploy` killed mid-switch left it to whoever takes the lock next. */
	if (lp_deploy_recover(p->host, NULL, PREFIX, &err) < 0)
		lp_say(PREFIX, "%s", err.msg);
	if (lp_fetch_get(p->doc_url, p->etag, &body, &len, &etag, &status, LP_DEPLOY_MAX,
			 &p->poll_fetch, &err) < 0) {
		set_error(p, err.msg);
		/* Nothing published for this device yet is not the server failing. */
		return err.code == ENOENT ? 0 : -1;
	}
	if (!body) { /* 304: the document we handled last */
		free(etag);
		return 0;
	}
	if (lp_write_file(p->doc_path, body, len, &err) < 0 || fetch_signature(p, &err) < 0) {
		free(body);
		free(etag);
		set_error(p, err.msg);
		return -1;
	}
	free(body);
	r = lp_deploy_apply(p->host, &o, &err);
	if (r == LP_APPLY_RETRY) {
		/* The ETag is not kept: the next poll fetches the document again. */
		free(etag);
		set_error(p, err.msg);
		return -1;
	}
	if (r == LP_APPLY_REFUSED && err.code == EKEYREJECTED) {
		/*
		 * Perhaps caught between the upload of a new document and of its
		 * signature: look again next time instead of waiting for a change.
		 */
		free(etag);
		etag = NULL;
	}
	free(p->etag);
	p->etag = etag;
	if (r == LP_APPLY_DONE || r == LP_APPLY_UNCHANGED)
		set_error(p, NULL);
	else
		set_error(p, err.msg);
	return 0;
}

static int poller_init(struct poller *p, const struct lp_host *host, struct lp_err *err)
{
	const struct lp_fleet_config *f = &host->cfg.fleet;
	const char *sep = f->server[strlen(f->server) - 1] == '/' ? "" : "/";
	struct lp_board b;

	memset(p, 0, sizeof(*p));
	p->host = host;
	p->poll_fetch = (struct lp_fetch_opts){ .ca_file = f->ca, .cert_file = f->cert,
						.key_file = f->key, .attempts = 1 };
	p->image_fetch = p->poll_fetch;
	p->image_fetch.attempts = 0;
	p->image_fetch.max_bytes_per_s = f->max_download_rate;
	if (lp_path(p->doc_url, sizeof(p->doc_url), err, "%s%sdeployment.json", f->server, sep) <
		    0 ||
	    lp_path(p->sig_url, sizeof(p->sig_url), err, "%s.sig", p->doc_url) < 0 ||
	    lp_path(p->status_url, sizeof(p->status_url), err, "%s%s%s",
		    f->status_url ? f->status_url : f->server, f->status_url ? "" : sep,
		    f->status_url ? "" : "status.json") < 0 ||
	    lp_path(p->incoming, sizeof(p->incoming), err, "%s/deployments/incoming", host->root) <
		    0 ||
	    lp_path(p->doc_path, sizeof(p->doc_path), err, "%s/deployment.json", p->incoming) <
		    0 ||
	    lp_path(p->sig_path, sizeof(p->sig_path), err, "%s/deployment.json.sig",
		    p->incoming) < 0 ||
	    lp_mkdir_p(p->incoming, 0700, err) < 0)
		return -1;
	if (lp_host_trust(host, NULL, 0, &p->trust, err) < 0)
		return -1;
	if (lp_board_probe(&b, err) < 0)
		snprintf(p->board, sizeof(p->board), "unknown");
	else
		snprintf(p->board, sizeof(p->board), "%s", b.model);
	return 0;
}

static void poller_free(struct poller *p)
{
	lp_trust_free(&p->trust);
	free(p->etag);
	free(p->last_error);
	free(p->last_logged);
	free(p->sent);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Sleep ms (forever: -1), handling stick uevents as they come. */
static void wait_events(struct lp_usb *usb, struct poller *p, int64_t ms)
{
	int64_t until = ms >= 0 ? lp_now_ms() + ms : -1;

	if (!usb) {
		sleep_ms(ms);
		return;
	}
	for (;;) {
		struct pollfd pfd = { .fd = lp_usb_fd(usb), .events = POLLIN };
		int64_t left = until < 0 ? -1 : until - lp_now_ms();

		if (until >= 0 && left <= 0)
			return;
		if (poll(&pfd, 1, (int)left) > 0) {
			lp_usb_handle(usb);
			if (p)
				report(p); /* what the stick changed, at once */
		}
	}
}

int lp_fleet_run(const struct lp_host *host, struct lp_err *err)
{
	const struct lp_fleet_config *f = &host->cfg.fleet;
	struct lp_usb *usb = NULL;
	struct poller p;

	if (!f->server && !host->cfg.usb.enabled)
		return lp_fail(err, EINVAL, "neither fleet.server nor usb.enabled: nothing to do");
	if (f->server && poller_init(&p, host, err) < 0) {
		poller_free(&p);
		return -1;
	}
	if (host->cfg.usb.enabled && lp_usb_open(host, "limpet agent: usb", &usb, err) < 0) {
		lp_say(PREFIX, "USB sticks will not be noticed: %s", err->msg);
		usb = NULL;
		if (!f->server)
			return -1;
	}
	if (f->server)
		lp_say(PREFIX, "polling %s every %llds", p.doc_url,
		       (long long)f->poll_interval_ms / 1000);
	if (usb)
		fprintf(stderr, "limpet agent: usb: watching for sticks with a limpet/ bundle\n");
	if (lp_deploy_recover(host, NULL, PREFIX, err) < 0)
		lp_say(PREFIX, "%s", err->msg);
	for (;;) {
		uint32_t r = 0;

		if (!f->server) {
			wait_events(usb, NULL, -1);
			continue;
		}
		if (poll_once(&p) < 0)
			p.failures++;
		else
			p.failures = 0;
		report(&p);
		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
			r = (uint32_t)lp_now_ms();
		wait_events(usb, &p,
			    lp_fleet_delay_ms(f->poll_interval_ms, f->poll_jitter_ms, p.failures, r));
	}
}
