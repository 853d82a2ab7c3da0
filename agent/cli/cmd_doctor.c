// SPDX-License-Identifier: Apache-2.0
/*
 * limpet doctor [--json]: check that this board and kernel can run limpet's
 * containers, and for every problem print the exact action that fixes it.
 * Built on platform/board.h only, so it still works where the cgroup or
 * runtime code would fail: that is when people run it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "platform/board.h"
#include "platform/lib/util.h"
#include "agent/container/vm_container.h"

#define DOCTOR_MAX_CHECKS 16
#define FOUND_MAX 512
#define FIX_MAX 1024

enum check_status {
	CHECK_OK,
	CHECK_WARN,
	CHECK_FAIL,
};

struct check {
	enum check_status status;
	const char *name;
	char found[FOUND_MAX];
	char fix[FIX_MAX];	/* empty when there is nothing to do */
};

struct report {
	struct check checks[DOCTOR_MAX_CHECKS];
	size_t n;
};

/* Namespaces limpet cannot start a container without. */
static const enum lp_board_ns required_ns[] = {
	LP_NS_MNT, LP_NS_PID, LP_NS_UTS, LP_NS_IPC, LP_NS_NET,
};

/* NULL for mnt: it has no switch, /proc/self/ns/mnt only needs Linux 3.8. */
static const char *const ns_kconfig[LP_NS_COUNT] = {
	[LP_NS_MNT] = NULL,
	[LP_NS_PID] = "CONFIG_PID_NS",
	[LP_NS_UTS] = "CONFIG_UTS_NS",
	[LP_NS_IPC] = "CONFIG_IPC_NS",
	[LP_NS_NET] = "CONFIG_NET_NS",
	[LP_NS_USER] = "CONFIG_USER_NS",
	[LP_NS_CGROUP] = "CONFIG_CGROUP_NS",
};

/* Controllers the limits need: memory.max, cpu.max, pids.max (or v1 equivalents). */
static const enum lp_board_ctrl required_ctrl[] = {
	LP_CTRL_MEMORY, LP_CTRL_CPU, LP_CTRL_PIDS,
};

/* ---------------------------------------------------------------- report */

static struct check *add_check(struct report *r, const char *name, enum check_status status)
{
	struct check *c;

	/* run_checks() adds a fixed handful: running out is a bug, not a condition */
	if (r->n == DOCTOR_MAX_CHECKS)
		abort();
	c = &r->checks[r->n++];

	c->status = status;
	c->name = name;
	c->found[0] = '\0';
	c->fix[0] = '\0';
	return c;
}

/* Append to a text buffer; output that does not fit is cut, never overrun. */
static void __attribute__((format(printf, 3, 4))) append(char *buf, size_t size,
							 const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* Several fixes in one check, "; " between them, each only once. */
static void append_fix(struct check *c, const char *fix)
{
	if (!fix || strstr(c->fix, fix))
		return;
	append(c->fix, sizeof(c->fix), "%s%s", c->fix[0] ? "; " : "", fix);
}

static bool report_failed(const struct report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->checks[i].status == CHECK_FAIL)
			return true;
	return false;
}

/* ---------------------------------------------------------------- checks */

static void check_board(struct report *r, const struct lp_board *b)
{
	struct check *c = add_check(r, "board", CHECK_OK);

	append(c->found, sizeof(c->found), "%s, model %s, Linux %s, page size %ld", b->machine,
	       b->model, b->kernel_release, b->page_size);
}

static bool ns_required(enum lp_board_ns ns)
{
	for (size_t i = 0; i < ARRAY_SIZE(required_ns); i++)
		if (required_ns[i] == ns)
			return true;
	return false;
}

static bool no_ns_at_all(const struct lp_board *b)
{
	for (int ns = 0; ns < LP_NS_COUNT; ns++)
		if (b->ns[ns])
			return false;
	return true;
}

static void fix_missing_ns(struct check *c, const struct lp_board *b)
{
	char configs[256] = "";
	char fix[FIX_MAX];

	if (no_ns_at_all(b)) {
		append_fix(c, "/proc is not mounted: mount -t proc proc /proc");
		return;
	}
	if (!b->ns[LP_NS_MNT])
		append_fix(c, "use Linux 3.8 or later");
	for (int ns = 0; ns < LP_NS_COUNT; ns++)
		if (!b->ns[ns] && ns_kconfig[ns])
			append(configs, sizeof(configs), " %s=y", ns_kconfig[ns]);
	if (!configs[0])
		return;
	snprintf(fix, sizeof(fix), "use a kernel built with%s", configs);
	append_fix(c, fix);
}

static void check_namespaces(struct report *r, const struct lp_board *b)
{
	struct check *c = add_check(r, "namespaces", CHECK_OK);
	char missing[FOUND_MAX] = "";

	for (int ns = 0; ns < LP_NS_COUNT; ns++) {
		char *list = b->ns[ns] ? c->found : missing;
		size_t size = b->ns[ns] ? sizeof(c->found) : sizeof(missing);

		append(list, size, "%s%s", list[0] ? " " : "", lp_board_ns_name(ns));
		if (!b->ns[ns] && ns_required(ns))
			c->status = CHECK_FAIL;
		else if (!b->ns[ns] && c->status == CHECK_OK)
			c->status = CHECK_WARN;
	}
	if (!missing[0])
		return;
	append(c->found, sizeof(c->found), "%smissing: %s", c->found[0] ? "; " : "", missing);
	fix_missing_ns(c, b);
}

static void check_overlay(struct report *r, const struct lp_board *b)
{
	struct check *c;

	if (b->overlay) {
		c = add_check(r, "overlayfs", CHECK_OK);
		append(c->found, sizeof(c->found), "overlay in /proc/filesystems");
		return;
	}
	/* the kernel loads a filesystem module by itself on the first mount */
	if (b->overlay_module) {
		c = add_check(r, "overlayfs", CHECK_WARN);
		append(c->found, sizeof(c->found),
		       "overlay module installed but not loaded yet (loads on first mount)");
		append_fix(c, "modprobe overlay");
		return;
	}
	c = add_check(r, "overlayfs", CHECK_FAIL);
	append(c->found, sizeof(c->found),
	       "overlay not in /proc/filesystems; no overlay module found for Linux %s",
	       b->kernel_release);
	append_fix(c, "modprobe overlay (the module may need loading); if that fails, use a "
		      "kernel built with CONFIG_OVERLAY_FS=y or =m");
}

static const char *ctrl_missing_reason(const struct lp_board *b, enum lp_board_ctrl ctrl)
{
	const struct lp_board_ctrl_state *st = &b->ctrl[ctrl];

	if (b->cgroup_mode == LP_BOARD_CGROUP_V2)
		return "not in cgroup.controllers";
	if (!st->available)
		return "not in this kernel";
	if (!st->enabled)
		return "disabled at boot";
	return "not mounted";
}

/* A hierarchy limpet was configured without cannot be used, whatever it holds. */
static bool cgroup_mode_built_in(const struct lp_board *b, struct check *c)
{
	if (b->cgroup_mode == LP_BOARD_CGROUP_V2) {
#ifndef CONFIG_CGROUP_V2
		append_fix(c, "rebuild limpet with CONFIG_CGROUP_V2=y (make menuconfig)");
		return false;
#endif
	} else {
#ifndef CONFIG_CGROUP_V1
		append_fix(c, "rebuild limpet with CONFIG_CGROUP_V1=y (make menuconfig), or boot "
			      "with cgroup v2 (systemd.unified_cgroup_hierarchy=1 on the kernel "
			      "command line)");
		return false;
#endif
	}
	return true;
}

static bool ctrl_required(enum lp_board_ctrl ctrl)
{
	for (size_t i = 0; i < ARRAY_SIZE(required_ctrl); i++)
		if (required_ctrl[i] == ctrl)
			return true;
	return false;
}

enum ctrl_group {
	CTRL_USABLE,
	CTRL_MISSING_REQUIRED,
	CTRL_MISSING_OPTIONAL,
};

static enum ctrl_group ctrl_group_of(const struct lp_board *b, enum lp_board_ctrl ctrl)
{
	if (lp_board_ctrl_usable(b, ctrl))
		return CTRL_USABLE;
	return ctrl_required(ctrl) ? CTRL_MISSING_REQUIRED : CTRL_MISSING_OPTIONAL;
}

/* Append the names of one group, e.g. "memory cpu pids"; false when it is empty. */
static bool list_controllers(char *buf, size_t size, const struct lp_board *b,
			     enum ctrl_group group)
{
	bool any = false;

	for (int ctrl = 0; ctrl < LP_CTRL_COUNT; ctrl++) {
		if (ctrl_group_of(b, ctrl) != group)
			continue;
		append(buf, size, "%s%s", !any ? "" : group == CTRL_MISSING_REQUIRED ? ", " : " ",
		       lp_board_ctrl_name(b, ctrl));
		if (group == CTRL_MISSING_REQUIRED)
			append(buf, size, " (%s)", ctrl_missing_reason(b, ctrl));
		any = true;
	}
	return any;
}

static void describe_controllers(struct check *c, const struct lp_board *b)
{
	static const struct {
		enum ctrl_group group;
		const char *label;
	} groups[] = {
		{ CTRL_USABLE, ": " },
		{ CTRL_MISSING_REQUIRED, "; missing: " },
		{ CTRL_MISSING_OPTIONAL, "; optional, unavailable: " },
	};

	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		char list[FOUND_MAX] = "";

		if (list_controllers(list, sizeof(list), b, groups[i].group))
			append(c->found, sizeof(c->found), "%s%s", groups[i].label, list);
	}
}

static void fix_required_controllers(struct check *c, const struct lp_board *b)
{
	char fix[FIX_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(required_ctrl); i++) {
		enum lp_board_ctrl ctrl = required_ctrl[i];

		if (lp_board_ctrl_usable(b, ctrl))
			continue;
		c->status = CHECK_FAIL;
		append_fix(c, lp_board_ctrl_fix(b, ctrl, fix, sizeof(fix)));
	}
}

static void check_cgroup(struct report *r, const struct lp_board *b)
{
	struct check *c = add_check(r, "cgroup", CHECK_OK);

	if (b->cgroup_mode == LP_BOARD_CGROUP_NONE) {
		c->status = CHECK_FAIL;
		append(c->found, sizeof(c->found), "no cgroup hierarchy mounted at /sys/fs/cgroup");
		append_fix(c, "mount -t cgroup2 cgroup2 /sys/fs/cgroup");
		return;
	}
	if (b->cgroup_mode == LP_BOARD_CGROUP_HYBRID)
		append(c->found, sizeof(c->found), "v1 (hybrid)");
	else
		append(c->found, sizeof(c->found), "%s", lp_board_cgroup_mode_name(b->cgroup_mode));
	if (!cgroup_mode_built_in(b, c)) {
		c->status = CHECK_FAIL;
		append(c->found, sizeof(c->found), ", which this limpet was built without");
		return;
	}
	describe_controllers(c, b);
	fix_required_controllers(c, b);
}

static void check_seccomp(struct report *r, const struct lp_board *b)
{
#ifdef CONFIG_SECCOMP
	struct check *c;

	if (b->seccomp && b->seccomp_filter) {
		c = add_check(r, "seccomp", CHECK_OK);
		append(c->found, sizeof(c->found), "filter mode available");
		return;
	}
	c = add_check(r, "seccomp", CHECK_FAIL);
	if (b->seccomp) {
		append(c->found, sizeof(c->found), "strict mode only, no filter mode");
		append_fix(c, "use a kernel built with CONFIG_SECCOMP_FILTER=y, or rebuild limpet "
			      "without CONFIG_SECCOMP (make menuconfig)");
		return;
	}
	append(c->found, sizeof(c->found), "kernel without seccomp");
	append_fix(c, "use a kernel built with CONFIG_SECCOMP=y and CONFIG_SECCOMP_FILTER=y, or "
		      "rebuild limpet without CONFIG_SECCOMP (make menuconfig)");
#else
	struct check *c = add_check(r, "seccomp", CHECK_OK);

	append(c->found, sizeof(c->found), "not used: limpet built without CONFIG_SECCOMP");
#endif
}

static void check_pidfd(struct report *r, const struct lp_board *b)
{
	struct check *c;

	if (b->pidfd) {
		c = add_check(r, "pidfd", CHECK_OK);
		append(c->found, sizeof(c->found), "%s",
		       b->from_sysroot ? "kernel is 5.3 or later" : "pidfd_open works");
		return;
	}
	c = add_check(r, "pidfd", CHECK_FAIL);
	if (!lp_board_kernel_at_least(b, 5, 3)) {
		append(c->found, sizeof(c->found), "Linux %s has no pidfd_open (needs 5.3)",
		       b->kernel_release);
		append_fix(c, "upgrade to Linux 5.3 or later");
		return;
	}
	append(c->found, sizeof(c->found), "pidfd_open failed: %s", strerror(b->pidfd_errno));
	append_fix(c, "a seccomp filter around limpet blocks pidfd_open (an older container "
		      "runtime's profile, or systemd SystemCallFilter=): allow pidfd_open");
}

#ifdef CONFIG_USERNS
static void check_userns(struct report *r, const struct lp_board *b)
{
	struct check *c;

	if (b->userns_allowed) {
		c = add_check(r, "userns", CHECK_OK);
		append(c->found, sizeof(c->found), "allowed (user.max_user_namespaces=%ld)",
		       b->max_user_namespaces);
		return;
	}
	c = add_check(r, "userns", CHECK_WARN);
	if (!b->ns[LP_NS_USER]) {
		append(c->found, sizeof(c->found),
		       "kernel without user namespaces; --userns unavailable");
		append_fix(c, "use a kernel built with CONFIG_USER_NS=y");
	} else if (b->max_user_namespaces < 0) {
		append(c->found, sizeof(c->found),
		       "no user.max_user_namespaces sysctl; --userns unavailable");
		append_fix(c, "use Linux 4.9 or later");
	} else {
		append(c->found, sizeof(c->found),
		       "user.max_user_namespaces=%ld; --userns unavailable",
		       b->max_user_namespaces);
		append_fix(c, "sysctl -w user.max_user_namespaces=10000, and to keep it: echo "
			      "user.max_user_namespaces=10000 > /etc/sysctl.d/90-limpet.conf");
	}
}
#else
static void check_userns(struct report *r, const struct lp_board *b)
{
	struct check *c = add_check(r, "userns", CHECK_OK);

	append(c->found, sizeof(c->found), "not used: limpet built without CONFIG_USERNS");
}
#endif

static void describe_usable_kvm(struct check *c, const struct lp_board *b)
{
	const struct lp_board_kvm *kvm = &b->kvm;

	append(c->found, sizeof(c->found), "/dev/kvm: API %d", kvm->api_version);
	if (kvm->max_vcpus > 0)
		append(c->found, sizeof(c->found), ", up to %d vCPUs", kvm->max_vcpus);
	if (kvm->arm_ipa_bits > 0)
		append(c->found, sizeof(c->found), ", %d-bit IPA", kvm->arm_ipa_bits);
	/* Guest RAM is mapped in host pages: a Pi 5 kernel uses 16K ones. */
	if (b->page_size > 0)
		append(c->found, sizeof(c->found), ", %ldK pages", b->page_size / 1024);
	if (kvm->arm_vgic_v2 || kvm->arm_vgic_v3)
		append(c->found, sizeof(c->found), ", vGIC%s%s", kvm->arm_vgic_v2 ? " v2" : "",
		       kvm->arm_vgic_v3 ? " v3" : "");
	else if (kvm->arm_ipa_bits > 0)
		append(c->found, sizeof(c->found), ", no vGIC");
}

/* KVM only adds microVM isolation: its absence is worth a warning, never a failure. */
static void check_kvm(struct report *r, const struct lp_board *b)
{
	const struct lp_board_kvm *kvm = &b->kvm;
	struct check *c;

	if (!kvm->present) {
		c = add_check(r, "kvm", CHECK_WARN);
		append(c->found, sizeof(c->found),
		       "no /dev/kvm: microVM isolation unavailable; containers use namespaces");
	} else if (b->from_sysroot) {
		c = add_check(r, "kvm", CHECK_OK);
		append(c->found, sizeof(c->found), "/dev/kvm present (not opened: LIMPET_SYSROOT)");
	} else if (kvm->open_errno) {
		c = add_check(r, "kvm", CHECK_WARN);
		append(c->found, sizeof(c->found), "/dev/kvm: %s; microVM isolation unavailable",
		       strerror(kvm->open_errno));
		if (kvm->open_errno == EACCES)
			append_fix(c, "run limpet as root, or add its user to the kvm group");
	} else if (!kvm->usable) {
		c = add_check(r, "kvm", CHECK_WARN);
		append(c->found, sizeof(c->found),
		       "/dev/kvm: API version %d, not the stable 12; microVM isolation unavailable",
		       kvm->api_version);
	} else {
		c = add_check(r, "kvm", CHECK_OK);
		describe_usable_kvm(c, b);
	}
}

/* Whether isolation auto gets a microVM here, and what is missing if not. */
static void check_microvm(struct report *r, const struct lp_board *b, struct lp_globals *g)
{
	static const char *const fixes[] = {
		[LP_VM_NO_KERNEL] = "install a guest kernel there, or point vm.kernel at one "
				    "(see images/README.md)",
		[LP_VM_NOT_STATIC] = "install the static build (make static)",
		[LP_VM_NO_GUEST] = "this host's KVM cannot run a guest (often a nested one that "
				   "fails): use isolation container here",
	};
	struct lp_vm_caps caps;
	enum lp_vm_missing m;
	struct check *c;
	char why[256];

	/* The kvm check already says why there is no KVM to try. */
	if (!b->kvm.usable || b->from_sysroot)
		return;
	m = lp_vm_ready(&g->host.cfg.vm, g->host.run_dir, &caps, why, sizeof(why));
	if (m == LP_VM_READY) {
		c = add_check(r, "microvm", CHECK_OK);
		append(c->found, sizeof(c->found), "a probe guest ran; guest kernel %s",
		       g->host.cfg.vm.kernel);
		return;
	}
	c = add_check(r, "microvm", CHECK_WARN);
	append(c->found, sizeof(c->found), "%s; isolation auto uses namespaces", why);
	if (m < ARRAY_SIZE(fixes))
		append_fix(c, fixes[m]);
}

/* A config the agent would refuse; the other checks go on with the defaults. */
static void check_config(struct report *r, const struct lp_globals *g)
{
	struct check *c;

	if (!g->config_error[0])
		return;
	c = add_check(r, "config", CHECK_FAIL);
	append(c->found, sizeof(c->found), "%s", g->config_error);
	append_fix(c, "correct it: the agent and every command but doctor refuse to start with it");
}

static void run_checks(struct report *r, const struct lp_board *b, struct lp_globals *g)
{
	r->n = 0;
	check_config(r, g);
	check_board(r, b);
	check_namespaces(r, b);
	check_overlay(r, b);
	check_cgroup(r, b);
	check_seccomp(r, b);
	check_pidfd(r, b);
	check_userns(r, b);
	check_kvm(r, b);
	check_microvm(r, b, g);
}

/* ---------------------------------------------------------------- output */

static const char *status_text(enum check_status s)
{
	switch (s) {
	case CHECK_OK:
		return "ok";
	case CHECK_WARN:
		return "warn";
	case CHECK_FAIL:
		break;
	}
	return "FAIL";
}

static int finish_output(struct lp_err *err)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		return lp_fail_errno(err, "writing the report");
	return 0;
}

static int print_text(const struct report *r, struct lp_err *err)
{
	int width = 0;

	for (size_t i = 0; i < r->n; i++) {
		int len = (int)strlen(r->checks[i].name);

		width = len > width ? len : width;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->checks[i];

		printf("%-4s  %-*s  %s", status_text(c->status), width, c->name, c->found);
		if (c->fix[0])
			printf("; fix: %s", c->fix);
		putchar('\n');
	}
	return finish_output(err);
}

static json_t *board_json(const struct lp_board *b)
{
	json_t *ctrl = json_object();

	if (!ctrl)
		return NULL;
	for (int c = 0; c < LP_CTRL_COUNT; c++) {
		if (json_object_set_new(ctrl, lp_board_ctrl_name(b, c),
					json_boolean(lp_board_ctrl_usable(b, c))) < 0) {
			json_decref(ctrl);
			return NULL;
		}
	}
	return json_pack("{s:s, s:b, s:s, s:s, s:I, s:s, s:o}", "model", b->model,
			 "raspberry_pi", b->is_raspberry_pi, "arch", b->machine, "kernel",
			 b->kernel_release, "page_size", (json_int_t)b->page_size, "cgroup",
			 lp_board_cgroup_mode_name(b->cgroup_mode), "controllers", ctrl);
}

static json_t *checks_json(const struct report *r)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->checks[i];
		json_t *obj = json_pack("{s:s, s:s, s:s, s:s?}", "name", c->name, "status",
					c->status == CHECK_FAIL ? "fail" : status_text(c->status),
					"found", c->found, "fix", c->fix[0] ? c->fix : NULL);

		if (json_array_append_new(arr, obj) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static int print_json(const struct report *r, const struct lp_board *b, struct lp_err *err)
{
	json_t *root = json_pack("{s:b, s:o, s:o}", "ok", !report_failed(r), "board",
				 board_json(b), "checks", checks_json(r));
	int ret;

	if (!root)
		return lp_fail(err, ENOMEM, "building the JSON report");
	ret = json_dumpf(root, stdout, JSON_INDENT(2));
	json_decref(root);
	if (ret < 0 || putchar('\n') == EOF)
		return lp_fail_errno(err, "writing the report");
	return finish_output(err);
}

/* ---------------------------------------------------------------- command */

static const struct lp_opt doctor_opts[] = {
	{ 'j', 0, "json", NULL, "the report as JSON" },
	{ 0 },
};

static int cmd_doctor(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_doctor = {
	.name = "doctor",
	.summary = "Check what this board and kernel offer limpet, and say how to fix what is missing",
	.opts = doctor_opts,
	.notes = "Exit status 1 when a check fails; warnings leave it 0.",
	.fn = cmd_doctor,
};

static int parse_args(int argc, char **argv, bool *json)
{
	struct lp_opts p;
	int opt;

	*json = false;
	lp_opts_init(&p, &lp_doc_doctor, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		*json = true;
	if (opt == LP_OPT_EXIT)
		return p.status == 0 ? -1 : p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("doctor", "takes no arguments ('%s')", argv[p.ind]);
	return 0;
}

static int cmd_doctor(int argc, char **argv, struct lp_globals *g)
{
	struct lp_board board;
	struct report report;
	struct lp_err err = { 0 };
	bool json;
	int ret = parse_args(argc, argv, &json);

	if (ret)
		return ret < 0 ? 0 : ret; /* -1: --help was printed */
	if (lp_board_probe(&board, &err) < 0)
		return lp_cmd_fail("doctor", &err);
	run_checks(&report, &board, g);
	ret = json ? print_json(&report, &board, &err) : print_text(&report, &err);
	if (ret < 0)
		return lp_cmd_fail("doctor", &err);
	return report_failed(&report) ? LP_EXIT_FAILURE : 0;
}
