/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Naming a place in a JSON document for error messages ("containers[1].limits
 * .memory: expected a string, got an integer"), shared by every strict
 * jansson decoder so they all speak alike.
 */
#ifndef LIMPET_SPEC_JSON_H
#define LIMPET_SPEC_JSON_H

#include <jansson.h>
#include <stddef.h>

/* "an object", "a string", ...: what v is, for "expected X, got Y". */
const char *lp_json_kind(const json_t *v);
/* buf := path.key (or key at the top); a path cut short ends in '~'. */
void lp_json_key_path(char *buf, size_t size, const char *path, const char *key);
/* buf := path[i]. */
void lp_json_index_path(char *buf, size_t size, const char *path, size_t i);

#endif
