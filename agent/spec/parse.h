/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for the values users type: sizes, durations, CPU counts, policies. */
#ifndef LIMPET_PARSE_H
#define LIMPET_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "agent/spec/spec.h"

/* "64M", "1g", "512k", "1048576", "1.5G" -> bytes (binary units). */
int lp_parse_size(const char *s, int64_t *bytes, struct lp_err *err);
/* "10", "10s", "500ms", "2m", "1h" -> milliseconds (bare number = seconds). */
int lp_parse_duration(const char *s, int64_t *ms, struct lp_err *err);
/* "0.5", "2" -> quota/period in microseconds (period 100000). */
int lp_parse_cpus(const char *s, struct lp_limits *limits, struct lp_err *err);
/* The same for a number that is already a double (the config's `cpus = 0.5`). */
int lp_cpus_to_limits(double cpus, struct lp_limits *limits, struct lp_err *err);
/* "no", "always", "on-failure", "on-failure:3". */
int lp_parse_restart(const char *s, struct lp_restart *r, struct lp_err *err);
/* "none" or "host". */
int lp_parse_net(const char *s, enum lp_net_mode *net, struct lp_err *err);
/*
 * A point in time as Unix ns, in the forms docker logs --since takes: RFC
 * 3339 ("2026-12-07T18:00:00Z", "...T18:00:00.5+01:00", "2026-12-07",
 * "2026-12-07T18:00"; without a zone, UTC), Unix seconds ("1700000000",
 * "1700000000.25"), or a duration before now_ns ("10m", "1h30m", "500ms").
 */
int lp_parse_time_ns(const char *s, int64_t now_ns, int64_t *ns, struct lp_err *err);
/* A stop timeout in whole seconds (0 to a day), as milliseconds; -1 if it is not one. */
int lp_parse_seconds_ms(const char *s, int64_t *ms);
/* A signal as kill(1) takes it: KILL, SIGKILL, sigkill or 9. */
int lp_parse_signal(const char *s, int *sig, struct lp_err *err);
/* "container", "vm" or "auto". */
int lp_parse_isolation(const char *s, enum lp_isolation *iso, struct lp_err *err);
const char *lp_isolation_name(enum lp_isolation iso);
/* "/dev/x", "/dev/x:rw", "/dev/x:/dev/y", "/dev/x:/dev/y:rwm"; stats the node. */
int lp_parse_device(const char *s, struct lp_device *dev, struct lp_err *err);
/*
 * The same syntax, checked without looking at the node (which may exist only
 * on the device a deployment is for): host, inner and perms are filled in,
 * type, major and minor stay 0 until lp_parse_device resolves the spec.
 */
int lp_parse_device_syntax(const char *s, struct lp_device *dev, struct lp_err *err);
/*
 * "NAME:/PATH", appended to the n volumes in *vols (grown with realloc) if
 * it passes lp_volume_check against them; on failure they are unchanged.
 */
int lp_parse_volume(const char *s, struct lp_volume **vols, size_t *n, struct lp_err *err);
/* "uid" (gid 0, as under Docker) or "uid:gid" (numeric). */
int lp_parse_user(const char *s, uint32_t *uid, uint32_t *gid, struct lp_err *err);
/*
 * True if USER[:GROUP] names its user or its group ("alice", "alice:1500",
 * "4242:crew"): the root's /etc/passwd and /etc/group resolve it at start.
 * Else it is numbers for lp_parse_user to check.
 */
bool lp_user_has_name(const char *s);
/* "HOSTUID" or "HOSTUID:COUNT" for the user namespace mapping. */
int lp_parse_userns(const char *s, uint32_t *uid, uint32_t *count, struct lp_err *err);

/*
 * Restart backoff: the delay before restart number `attempt` (1-based),
 * doubling from 100 ms up to 30 s.  A container that ran for at least
 * 10 s before failing starts again from attempt 1 (the caller resets).
 */
int64_t lp_restart_delay_ms(int attempt);
#define LP_RESTART_RESET_MS 10000

#endif
