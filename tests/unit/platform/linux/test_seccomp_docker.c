// SPDX-License-Identifier: Apache-2.0
/*
 * limpet's seccomp filter against Docker's default profile, syscall by
 * syscall, on each architecture limpet builds: the BPF program limpet loads
 * on an x86_64 board (with its i386 and x32 entry points) and on an aarch64
 * one (with arm) runs here in a small BPF interpreter, for every syscall
 * libseccomp knows, with argument values around every value the filters
 * compare with, and its verdict must be the one Docker's profile gives a
 * container with Docker's default capabilities (limpet's, caps.c).
 *
 * The profile is Docker's own default.json as Debian packages it
 * (golang-github-docker-docker-dev: `make deps` extracts that one file with
 * tests/lib/docker-seccomp.sh, and `make check-unit` names it in
 * $LIMPET_DOCKER_SECCOMP).  Without it the comparison is skipped; the checks
 * of limpet's own choices (test_seccomp.c) run anyway.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef CONFIG_SECCOMP

#include <jansson.h>

#include "seccomp_bpf.h"

/* ---------------------------------------------------------------- Docker's profile */

/* Not a seccomp action: the profile's default (EPERM, or ENOSYS past its newest syscall). */
#define DOCKER_DEFAULT 0xffffffffu

#define CAP(c) [c] = #c
static const char *const cap_names[] = {
	CAP(CAP_CHOWN), CAP(CAP_DAC_OVERRIDE), CAP(CAP_DAC_READ_SEARCH), CAP(CAP_FOWNER),
	CAP(CAP_FSETID), CAP(CAP_KILL), CAP(CAP_SETGID), CAP(CAP_SETUID), CAP(CAP_SETPCAP),
	CAP(CAP_LINUX_IMMUTABLE), CAP(CAP_NET_BIND_SERVICE), CAP(CAP_NET_BROADCAST),
	CAP(CAP_NET_ADMIN), CAP(CAP_NET_RAW), CAP(CAP_IPC_LOCK), CAP(CAP_IPC_OWNER),
	CAP(CAP_SYS_MODULE), CAP(CAP_SYS_RAWIO), CAP(CAP_SYS_CHROOT), CAP(CAP_SYS_PTRACE),
	CAP(CAP_SYS_PACCT), CAP(CAP_SYS_ADMIN), CAP(CAP_SYS_BOOT), CAP(CAP_SYS_NICE),
	CAP(CAP_SYS_RESOURCE), CAP(CAP_SYS_TIME), CAP(CAP_SYS_TTY_CONFIG), CAP(CAP_MKNOD),
	CAP(CAP_LEASE), CAP(CAP_AUDIT_WRITE), CAP(CAP_AUDIT_CONTROL), CAP(CAP_SETFCAP),
	CAP(CAP_MAC_OVERRIDE), CAP(CAP_MAC_ADMIN), CAP(CAP_SYSLOG), CAP(CAP_WAKE_ALARM),
	CAP(CAP_BLOCK_SUSPEND), CAP(CAP_AUDIT_READ), CAP(CAP_PERFMON), CAP(CAP_BPF),
	CAP(CAP_CHECKPOINT_RESTORE),
};

struct cond {
	unsigned int idx;
	enum scmp_compare op;
	uint64_t a, b;
};

/* One name of one of the profile's entries that applies to the container. */
struct drule {
	const char *name;
	uint32_t action;
	size_t ncond;
	struct cond cond[6];
};

struct profile {
	json_t *root;
	const char *path;
	struct drule *rule;
	size_t n;
	uint32_t sub[4]; /* the architectures a filter for this native one has */
	size_t nsub;
};

static bool held(const char *cap)
{
	unsigned long long caps = lp_caps_default();
	size_t i;

	for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (cap_names[i] && strcmp(cap_names[i], cap) == 0)
			return caps & (1ULL << i);
	return false; /* a capability newer than this list: not in Docker's default set */
}

static bool in_list(json_t *list, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static bool kernel_at_least(const char *version)
{
	struct utsname u;
	unsigned int maj, min, want_maj, want_min;

	assert_int_equal(uname(&u), 0);
	assert_int_equal(sscanf(version, "%u.%u", &want_maj, &want_min), 2);
	assert_int_equal(sscanf(u.release, "%u.%u", &maj, &min), 2);
	return maj > want_maj || (maj == want_maj && min >= want_min);
}

/* Does the entry apply to a container with Docker's default capabilities on goarch? */
static bool applies(json_t *entry, const char *goarch)
{
	json_t *inc = json_object_get(entry, "includes"), *exc = json_object_get(entry, "excludes");
	json_t *caps, *v, *min;
	size_t i;

	if (exc) {
		if (in_list(json_object_get(exc, "arches"), goarch))
			return false;
		caps = json_object_get(exc, "caps");
		json_array_foreach(caps, i, v)
			if (held(json_string_value(v)))
				return false;
	}
	if (inc) {
		v = json_object_get(inc, "arches");
		if (json_array_size(v) && !in_list(v, goarch))
			return false;
		caps = json_object_get(inc, "caps");
		json_array_foreach(caps, i, v)
			if (!held(json_string_value(v)))
				return false;
		min = json_object_get(inc, "minKernel");
		if (json_is_string(min) && !kernel_at_least(json_string_value(min)))
			return false;
	}
	return true;
}

static enum scmp_compare op_of(const char *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0)
			return ops[i].op;
	fail_msg("profile: unknown comparison %s", op);
	return SCMP_CMP_EQ;
}

static uint32_t action_of(json_t *entry)
{
	const char *action = json_string_value(json_object_get(entry, "action"));
	json_t *errno_ret = json_object_get(entry, "errnoRet");

	assert_non_null(action);
	if (strcmp(action, "SCMP_ACT_ALLOW") == 0)
		return SCMP_ACT_ALLOW;
	if (strcmp(action, "SCMP_ACT_ERRNO") == 0)
		return ERRNO(json_is_integer(errno_ret) ? json_integer_value(errno_ret) : EPERM);
	fail_msg("profile: action %s: not in this test", action);
	return 0;
}

/* $LIMPET_DOCKER_SECCOMP (make check-unit sets it), or the package installed the usual way. */
static char *profile_path(void)
{
	const char *env = getenv("LIMPET_DOCKER_SECCOMP");
	const char *path = env && *env ? env :
		"/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json";

	return access(path, R_OK) == 0 ? strdup(path) : NULL;
}

static void add_cond(struct drule *r, json_t *arg)
{
	json_t *two = json_object_get(arg, "valueTwo");
	struct cond *c;

	assert_true(r->ncond < 6);
	c = &r->cond[r->ncond++];
	c->idx = (unsigned int)json_integer_value(json_object_get(arg, "index"));
	c->op = op_of(json_string_value(json_object_get(arg, "op")));
	c->a = (uint64_t)json_integer_value(json_object_get(arg, "value"));
	c->b = json_is_integer(two) ? (uint64_t)json_integer_value(two) : 0;
}

/* The profile's entries for a container on native (Docker's goarch), one per name. */
static bool load_profile(struct profile *pr, uint32_t native, const char *goarch)
{
	const char *native_name = native == SCMP_ARCH_X86_64 ? "SCMP_ARCH_X86_64" :
							     "SCMP_ARCH_AARCH64";
	json_t *entry, *name, *arg, *map, *v;
	json_error_t jerr;
	size_t i, j, k;
	char *path = profile_path();

	memset(pr, 0, sizeof(*pr));
	if (!path)
		return false;
	pr->path = path;
	pr->root = json_load_file(path, 0, &jerr);
	if (!pr->root)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);

	pr->sub[pr->nsub++] = native;
	json_array_foreach(json_object_get(pr->root, "archMap"), i, map) {
		if (strcmp(json_string_value(json_object_get(map, "architecture")), native_name))
			continue;
		json_array_foreach(json_object_get(map, "subArchitectures"), j, v) {
			const char *s = json_string_value(v);

			assert_true(pr->nsub < 4);
			pr->sub[pr->nsub++] = strcmp(s, "SCMP_ARCH_X86") == 0 ? SCMP_ARCH_X86 :
					      strcmp(s, "SCMP_ARCH_X32") == 0 ? SCMP_ARCH_X32 :
					      strcmp(s, "SCMP_ARCH_ARM") == 0 ? SCMP_ARCH_ARM :
										0;
			if (!pr->sub[pr->nsub - 1])
				fail_msg("profile: sub-architecture %s: not in this test", s);
		}
	}

	json_array_foreach(json_object_get(pr->root, "syscalls"), i, entry) {
		if (!applies(entry, goarch))
			continue;
		json_array_foreach(json_object_get(entry, "names"), j, name) {
			json_t *args = json_object_get(entry, "args");
			struct drule *r;

			pr->rule = realloc(pr->rule, (pr->n + 1) * sizeof(*pr->rule));
			assert_non_null(pr->rule);
			r = &pr->rule[pr->n++];
			memset(r, 0, sizeof(*r));
			r->name = json_string_value(name);
			r->action = action_of(entry);
			json_array_foreach(args, k, arg)
				add_cond(r, arg);
		}
	}
	return true;
}

static void free_profile(struct profile *pr)
{
	json_decref(pr->root);
	free(pr->rule);
	free((char *)pr->path);
}

/* libseccomp compares the low 32 bits only on a 32-bit ABI (i386, arm, x32). */
static bool holds(const struct cond *c, uint64_t v, bool narrow)
{
	uint64_t m = narrow ? 0xffffffff : UINT64_MAX, a = c->a & m, b = c->b & m;

	v &= m;
	switch (c->op) {
	case SCMP_CMP_NE:
		return v != a;
	case SCMP_CMP_LT:
		return v < a;
	case SCMP_CMP_LE:
		return v <= a;
	case SCMP_CMP_EQ:
		return v == a;
	case SCMP_CMP_GE:
		return v >= a;
	case SCMP_CMP_GT:
		return v > a;
	case SCMP_CMP_MASKED_EQ:
		return (v & a) == b;
	default:
		return false;
	}
}

/* What the profile does with name(args: value at idx, zeros elsewhere). */
static uint32_t docker_verdict(const struct profile *pr, const char *name, unsigned int idx,
			       uint64_t value, bool narrow)
{
	uint32_t got = DOCKER_DEFAULT;
	size_t i, c;

	for (i = 0; i < pr->n; i++) {
		const struct drule *r = &pr->rule[i];
		bool match = strcmp(r->name, name) == 0;

		for (c = 0; match && c < r->ncond; c++)
			match = holds(&r->cond[c], r->cond[c].idx == idx ? value : 0, narrow);
		if (!match)
			continue;
		if (got != DOCKER_DEFAULT && got != r->action)
			fail_msg("profile: %s(arg%u=%#llx) has two actions", name, idx,
				 (unsigned long long)value);
		got = r->action;
	}
	return got;
}

static bool same(uint32_t docker, uint32_t limpet)
{
	/* Denied either way: EPERM as Docker says, or ENOSYS as for a syscall too new. */
	if (docker == DOCKER_DEFAULT)
		return limpet == ERRNO(EPERM) || limpet == ERRNO(ENOSYS);
	return docker == limpet;
}

/* ---------------------------------------------------------------- the comparison */

/*
 * Where limpet differs from the profile on purpose (README.md, "Seccomp").
 * always: limpet is stricter than any Docker profile, so it must differ;
 * otherwise Docker changed its profile after the copy Debian 12 ships
 * (20.10's), and limpet follows Docker's newer one: either is fine.
 */
static const struct difference {
	const char *name;
	bool always;
} differences[] = {
	/* limpet refuses them; Docker allows ptrace on kernels from 4.8 */
	{ "ptrace", true },
	{ "process_vm_readv", false },
	{ "process_vm_writev", false },
	/* limpet refuses them; Docker allows them (read-only without CAP_SYS_TIME) */
	{ "adjtimex", true },
	{ "clock_adjtime", true },
	{ "clock_adjtime64", true },
	/* refused, as Docker has since 2023 */
	{ "io_uring_setup", false },
	{ "io_uring_enter", false },
	{ "io_uring_register", false },
	/* AF_ALG and AF_VSOCK refused, as in Docker's newer profiles */
	{ "socket", false },
	/* allowed by Docker's newer profiles */
	{ "cachestat", false },
	{ "fchmodat2", false },
	{ "futex_requeue", false },
	{ "futex_wait", false },
	{ "futex_wake", false },
	{ "getxattrat", false },
	{ "listmount", false },
	{ "listxattrat", false },
	{ "map_shadow_stack", false },
	{ "mseal", false },
	{ "name_to_handle_at", false },
	{ "pkey_alloc", false },
	{ "pkey_free", false },
	{ "pkey_mprotect", false },
	{ "removexattrat", false },
	{ "setxattrat", false },
	{ "statmount", false },
	{ "uretprobe", false },
};

static const struct difference *expected_difference(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(differences) / sizeof(differences[0]); i++)
		if (strcmp(differences[i].name, name) == 0)
			return &differences[i];
	return NULL;
}

/* Argument values to try: small numbers, every bit, each compared value and its neighbours. */
static size_t probe_values(const struct profile *pr, const char *name, bool wide,
			   uint64_t *v, size_t max)
{
	size_t n = 0, i, c;
	uint64_t k;

	for (k = 0; k <= 64; k++)
		v[n++] = k;
	for (k = 0; k < (wide ? 64 : 32); k++)
		v[n++] = 1ULL << k;
	v[n++] = 0xfffffffe;
	v[n++] = 0xffffffff;
	for (i = 0; i < pr->n; i++) {
		if (strcmp(pr->rule[i].name, name))
			continue;
		for (c = 0; c < pr->rule[i].ncond && n + 3 <= max; c++) {
			k = pr->rule[i].cond[c].a;
			v[n++] = k - 1;
			v[n++] = k;
			v[n++] = k + 1;
		}
	}
	/* A 32-bit architecture's registers hold 32 bits. */
	for (i = 0; !wide && i < n; i++)
		v[i] &= 0xffffffff;
	assert_true(n <= max);
	return n;
}

static void describe(char *buf, size_t len, uint32_t action)
{
	if (action == DOCKER_DEFAULT)
		snprintf(buf, len, "refused (default)");
	else if (action == SCMP_ACT_ALLOW)
		snprintf(buf, len, "allowed");
	else if ((action & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO)
		snprintf(buf, len, "%s", strerrorname_np((int)(action & SECCOMP_RET_DATA)) ?:
					     "errno ?");
	else
		snprintf(buf, len, "action %#x", action);
}

/* Compare on every architecture of a board whose native one is native. */
static void compare(uint32_t native, const char *goarch)
{
	struct profile pr;
	struct prog p;
	size_t a, i, j, failures = 0, nv;
	unsigned int idx;
	uint64_t v[256];

	if (!load_profile(&pr, native, goarch)) {
		/* CI must compare: a comparison that silently skips proves nothing. */
		if (getenv("CI") && !strcmp(getenv("CI"), "true"))
			fail_msg("Docker's default profile not found (CI=true): `make deps` fetches it");
		print_message("# SKIP Docker's default profile not found: `make deps` "
			      "fetches it (or set LIMPET_DOCKER_SECCOMP)\n");
		skip();
		return;
	}
	p = export_filter(native);
	print_message("# %s: %zu BPF instructions, against %s\n", arch_name(native), p.len,
		      pr.path);

	for (a = 0; a < pr.nsub; a++) {
		uint32_t arch = pr.sub[a];
		/* 64-bit registers; libseccomp still compares 32 bits for x32 */
		bool wide = arch == SCMP_ARCH_X86_64 || arch == SCMP_ARCH_X32 ||
			    arch == SCMP_ARCH_AARCH64;
		bool narrow = arch != SCMP_ARCH_X86_64 && arch != SCMP_ARCH_AARCH64;
		struct syscalls sys = { 0 };

		syscalls_of(&sys, arch);
		for (i = 0; i < sys.n; i++) {
			const char *name = sys.name[i];
			const struct difference *diff = expected_difference(name);
			int nr = sys.nr[i];
			bool differs = false;
			char want[64], got[64];

			nv = probe_values(&pr, name, wide, v, sizeof(v) / sizeof(v[0]));
			for (idx = 0; idx < 3 && !differs; idx++) {
				for (j = 0; j < nv && !differs; j++) {
					uint32_t d = docker_verdict(&pr, name, idx, v[j], narrow);
					uint32_t l = verdict(&p, arch, nr, idx, v[j]);

					if (same(d, l))
						continue;
					differs = true;
					if (diff)
						break;
					describe(want, sizeof(want), d);
					describe(got, sizeof(got), l);
					print_error("%s: %s(arg%u=%#llx): Docker: %s, limpet: %s\n",
						    arch_name(arch), name, idx,
						    (unsigned long long)v[j], want, got);
					failures++;
				}
			}
			if (diff && diff->always && !differs) {
				print_error("%s: %s: listed as limpet's own choice, but the "
					    "filter does what Docker's profile does\n",
					    arch_name(arch), name);
				failures++;
			}
		}
		free_syscalls(&sys);
	}
	free(p.insn);
	free_profile(&pr);
	if (failures)
		fail_msg("%zu difference(s) from Docker's default profile", failures);
}

static void test_x86_64_matches_docker(void **state)
{
	(void)state;
	compare(SCMP_ARCH_X86_64, "amd64");
}

static void test_aarch64_matches_docker(void **state)
{
	(void)state;
	compare(SCMP_ARCH_AARCH64, "arm64");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x86_64_matches_docker),
		cmocka_unit_test(test_aarch64_matches_docker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* !CONFIG_SECCOMP */

static void test_no_seccomp(void **state)
{
	(void)state;
	print_message("# built without CONFIG_SECCOMP: no filter to compare\n");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_no_seccomp) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
