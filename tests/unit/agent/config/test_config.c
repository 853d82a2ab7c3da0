// SPDX-License-Identifier: Apache-2.0
/* The agent config file: defaults, a full file, and every kind of error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config/config.h"

/* The suite runs from the top of the tree. */
#define SHIPPED_CONFIG "agent/limpet.conf"

static char dir[] = "/tmp/limpet-config-XXXXXX";
static char conf_path[sizeof(dir) + 16];

static int make_dir(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/limpet.conf", dir);
	return 0;
}

static int remove_dir(void **state)
{
	unlink(conf_path);
	return rmdir(dir);
}

static const char *write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) < 0, 0);
	assert_int_equal(fclose(f), 0);
	return conf_path;
}

static void load_ok(const char *text, struct lp_agent_config *cfg)
{
	struct lp_err err = { 0 };

	if (lp_config_load(write_conf(text), 1, cfg, &err) != 0)
		fail_msg("rejected: %s", err.msg);
}

/* The message must start with "FILE:LINE: " followed by `want`. */
static void expect_error(const char *text, int line, const char *want)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };
	char prefix[256];

	memset(&cfg, 0x5a, sizeof(cfg));
	if (lp_config_load(write_conf(text), 1, &cfg, &err) != -1)
		fail_msg("accepted:\n%s", text);
	snprintf(prefix, sizeof(prefix), "%s:%d: %s", conf_path, line, want);
	if (strncmp(err.msg, prefix, strlen(prefix)))
		fail_msg("expected the message to start with\n  \"%s\"\nbut it is\n  \"%s\"",
			 prefix, err.msg);
	/* a failed load leaves an empty config that is safe to free */
	assert_null(cfg.root);
	assert_null(cfg.containers);
	assert_int_equal(cfg.n_containers, 0);
	lp_config_free(&cfg);
}

static void assert_fleet_defaults(const struct lp_fleet_config *f)
{
	char host[256] = "";

	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_null(f->server);
	assert_null(f->ca);
	assert_null(f->cert);
	assert_null(f->key);
	/* the hostname names the device unless the config does */
	assert_string_equal(f->device_id, host);
	assert_non_null(f->groups);
	assert_null(f->groups[0]);
	assert_int_equal(f->poll_interval_ms, 60000);
	assert_int_equal(f->poll_jitter_ms, 10000);
	assert_int_equal(f->max_download_rate, 0);
	assert_false(f->keep_downloads);
}

static void assert_defaults(const struct lp_agent_config *cfg)
{
	assert_string_equal(cfg->root, LP_DEFAULT_ROOT);
	assert_null(cfg->run_dir);
	assert_null(cfg->cgroup_parent);
	assert_int_equal(cfg->log_max_size, (int64_t)CONFIG_DEFAULT_LOG_MAX_KB * 1024);
	assert_int_equal(cfg->log_files, CONFIG_DEFAULT_LOG_FILES);
	assert_int_equal(cfg->stop_timeout_ms, 10000);
	/* no keys: an empty list, never NULL */
	assert_non_null(cfg->trusted_keys);
	assert_null(cfg->trusted_keys[0]);
	assert_false(cfg->allow_unsigned);
	assert_int_equal(cfg->image_max_file_size, (int64_t)1 << 30);
	assert_int_equal(cfg->image_max_size, (int64_t)8 << 30);
	assert_int_equal(cfg->n_containers, 0);
	assert_fleet_defaults(&cfg->fleet);
}

/* ---------------------------------------------------------------- defaults, files */

static void test_defaults(void **state)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };

	assert_int_equal(lp_config_defaults(&cfg, &err), 0);
	assert_defaults(&cfg);
	assert_null(cfg.path);
	lp_config_free(&cfg);
	assert_null(cfg.root);
	lp_config_free(&cfg);
}

static void test_missing_file(void **state)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };
	char path[sizeof(dir) + 32];

	snprintf(path, sizeof(path), "%s/nonexistent.conf", dir);
	/* the default path need not exist */
	assert_int_equal(lp_config_load(path, 0, &cfg, &err), 0);
	assert_defaults(&cfg);
	assert_null(cfg.path);
	lp_config_free(&cfg);
	/* a file named with -c must */
	assert_int_equal(lp_config_load(path, 1, &cfg, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(strstr(err.msg, path), err.msg);
	assert_non_null(strstr(err.msg, "nonexistent.conf: No such file or directory"));
}

static void test_directory(void **state)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };

	assert_int_equal(lp_config_load(dir, 0, &cfg, &err), -1);
	assert_non_null(strstr(err.msg, ": is a directory"));
}

static void test_empty_file(void **state)
{
	struct lp_agent_config cfg;

	load_ok("# nothing here\n", &cfg);
	assert_defaults(&cfg);
	assert_string_equal(cfg.path, conf_path);
	lp_config_free(&cfg);
}

static void test_shipped_config(void **state)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };

	if (lp_config_load(SHIPPED_CONFIG, 1, &cfg, &err) != 0)
		fail_msg("%s: %s", SHIPPED_CONFIG, err.msg);
	/* it documents the defaults, so loading it changes nothing */
	assert_defaults(&cfg);
	assert_string_equal(cfg.path, SHIPPED_CONFIG);
	lp_config_free(&cfg);
}

/* ---------------------------------------------------------------- a full file */

static const char full_conf[] =
	"root = \"/data/limpet\";\n"				/* 1 */
	"run_dir = \"/run/lp\";\n"				/* 2 */
	"cgroup_parent = \"/edge/limpet\";\n"			/* 3 */
	"log = { max_size = \"256K\"; files = 4; };\n"		/* 4 */
	"stop_timeout = \"2500ms\";\n"				/* 5 */
	"containers = (\n"					/* 6 */
	"  {\n"							/* 7 */
	"    name = \"web\";\n"					/* 8 */
	"    rootfs = \"/srv/web\";\n"				/* 9 */
	"    command = [ \"/bin/httpd\", \"-f\", \"-p\", \"80\" ];\n"
	"    env = [ \"A=B\", \"C=\" ];\n"
	"    hostname = \"web-host\";\n"
	"    workdir = \"/www\";\n"
	"    user = \"1000:100\";\n"
	"    memory = \"64M\";\n"
	"    cpus = 0.5;\n"
	"    cpu_weight = 200;\n"
	"    pids = 64;\n"
	"    net = \"host\";\n"
	"    read_only = true;\n"
	"    init = true;\n"
	"    restart = \"on-failure:3\";\n"
	"    devices = [ \"/dev/null:rw\", \"/dev/null:/dev/gpiochip0\" ];\n"
	"  },\n"						/* 24 */
	"  {\n"							/* 25 */
	"    name = \"db\";\n"
	"    rootfs = \"/srv/db\";\n"
	"    command = ( \"/bin/db\" );\n"
	"    memory = 8388608;\n"
	"    cpus = 2;\n"
	"    restart = \"always\";\n"
	"  },\n"
	"  { name = \"cron\"; rootfs = \"/srv/cron\"; command = [ \"/bin/crond\", \"-f\" ];\n"
	"    cpus = \"1.5\"; memory = 4294967296L; volumes = ( \"cron:/var/spool\" ); }\n" /* 34 */
	");\n"
	"trust = [ \"/etc/limpet/keys/release.pem\",\n"
	"          \"/etc/limpet/keys/backup.pem\" ];\n"
	"allow_unsigned = true;\n"
	"images = { max_file_size = \"256M\"; max_size = \"10G\"; };\n"
	"fleet = {\n"
	"  server = \"https://fleet.example.com/devices/\";\n"
	"  ca = \"/etc/limpet/fleet-ca.pem\";\n"
	"  cert = \"/etc/limpet/device.pem\";\n"
	"  key = \"/etc/limpet/device.key\";\n"
	"  device_id = \"pi-0042\";\n"
	"  groups = [ \"kitchen\", \"eu\" ];\n"
	"  poll_interval = \"5m\";\n"
	"  poll_jitter = 30;\n"
	"  max_download_rate = \"512K\";\n"
	"  keep_downloads = true;\n"
	"};\n";

static void assert_web(const struct lp_container_cfg *c, const char *path)
{
	assert_string_equal(c->name, "web");
	assert_string_equal(c->rootfs, "/srv/web");
	assert_string_equal(c->argv[0], "/bin/httpd");
	assert_string_equal(c->argv[3], "80");
	assert_null(c->argv[4]);
	assert_string_equal(c->env[0], "A=B");
	assert_string_equal(c->env[1], "C=");
	assert_null(c->env[2]);
	assert_string_equal(c->hostname, "web-host");
	assert_string_equal(c->cwd, "/www");
	assert_int_equal(c->uid, 1000);
	assert_int_equal(c->gid, 100);
	assert_int_equal(c->limits.memory, 64 << 20);
	assert_int_equal(c->limits.cpu_quota, 50000);
	assert_int_equal(c->limits.cpu_period, 100000);
	assert_int_equal(c->limits.cpu_weight, 200);
	assert_int_equal(c->limits.pids, 64);
	assert_int_equal(c->net, LP_NET_HOST);
	assert_true(c->read_only);
	assert_true(c->init);
	assert_int_equal(c->restart.policy, LP_RESTART_ON_FAILURE);
	assert_int_equal(c->restart.max_retries, 3);
	assert_int_equal(c->n_devices, 2);
	assert_string_equal(c->devices[0].inner, "/dev/null");
	assert_string_equal(c->devices[0].perms, "rw");
	assert_string_equal(c->devices[1].inner, "/dev/gpiochip0");
	assert_string_equal(c->devices[1].perms, "rwm");
	assert_int_equal(c->devices[1].type, 'c');
	assert_int_equal(c->devices[1].major, 1);
	assert_int_equal(c->devices[1].minor, 3);
	assert_int_equal(c->userns_count, 0);
	assert_ptr_equal(c->source, path);
	assert_int_equal(c->source_line, 7);
}

static void test_full_config(void **state)
{
	struct lp_agent_config cfg;
	const struct lp_container_cfg *db, *cron;

	load_ok(full_conf, &cfg);
	assert_string_equal(cfg.path, conf_path);
	assert_string_equal(cfg.root, "/data/limpet");
	assert_string_equal(cfg.run_dir, "/run/lp");
	assert_string_equal(cfg.cgroup_parent, "/edge/limpet");
	assert_int_equal(cfg.log_max_size, 256 << 10);
	assert_int_equal(cfg.log_files, 4);
	assert_int_equal(cfg.stop_timeout_ms, 2500);
	assert_string_equal(cfg.trusted_keys[0], "/etc/limpet/keys/release.pem");
	assert_string_equal(cfg.trusted_keys[1], "/etc/limpet/keys/backup.pem");
	assert_null(cfg.trusted_keys[2]);
	assert_true(cfg.allow_unsigned);
	assert_int_equal(cfg.image_max_file_size, (int64_t)256 << 20);
	assert_int_equal(cfg.image_max_size, (int64_t)10 << 30);
	assert_string_equal(cfg.fleet.server, "https://fleet.example.com/devices/");
	assert_string_equal(cfg.fleet.ca, "/etc/limpet/fleet-ca.pem");
	assert_string_equal(cfg.fleet.cert, "/etc/limpet/device.pem");
	assert_string_equal(cfg.fleet.key, "/etc/limpet/device.key");
	assert_string_equal(cfg.fleet.device_id, "pi-0042");
	assert_string_equal(cfg.fleet.groups[0], "kitchen");
	assert_string_equal(cfg.fleet.groups[1], "eu");
	assert_null(cfg.fleet.groups[2]);
	assert_int_equal(cfg.fleet.poll_interval_ms, 300000);
	assert_int_equal(cfg.fleet.poll_jitter_ms, 30000);
	assert_int_equal(cfg.fleet.max_download_rate, 512 << 10);
	assert_true(cfg.fleet.keep_downloads);
	assert_int_equal(cfg.n_containers, 3);
	assert_web(&cfg.containers[0], cfg.path);

	db = &cfg.containers[1];
	assert_string_equal(db->name, "db");
	assert_string_equal(db->argv[0], "/bin/db");
	assert_null(db->argv[1]);
	/* no env setting: an empty list, never NULL */
	assert_non_null(db->env);
	assert_null(db->env[0]);
	assert_null(db->hostname);
	assert_null(db->cwd);
	assert_int_equal(db->limits.memory, 8 << 20);
	assert_int_equal(db->limits.cpu_quota, 200000);
	assert_int_equal(db->limits.pids, 0);
	assert_int_equal(db->net, LP_NET_NONE);
	assert_int_equal(db->restart.policy, LP_RESTART_ALWAYS);
	assert_int_equal(db->n_devices, 0);
	assert_null(db->devices);
	assert_int_equal(db->n_volumes, 0);
	assert_null(db->volumes);
	assert_int_equal(db->source_line, 25);

	cron = &cfg.containers[2];
	assert_string_equal(cron->name, "cron");
	assert_int_equal(cron->limits.cpu_quota, 150000);
	assert_int_equal(cron->limits.memory, (int64_t)4 << 30);
	assert_int_equal(cron->restart.policy, LP_RESTART_NO);
	assert_int_equal(cron->source_line, 33);
	assert_int_equal(cron->n_volumes, 1);
	assert_string_equal(cron->volumes[0].name, "cron");
	assert_string_equal(cron->volumes[0].path, "/var/spool");
	lp_config_free(&cfg);
	assert_null(cfg.containers);
}

static void test_numbers_as_plain_values(void **state)
{
	struct lp_agent_config cfg;

	load_ok("stop_timeout = 30;\n"
		"log = { max_size = 65536; };\n"
		"images = { max_size = 8589934592L; max_file_size = 1048576; };\n"
		"trust = ( \"/k.pem\" );\n"
		"containers = ( { name = \"a\"; rootfs = \"/a\"; command = [ \"/a\" ];\n"
		"                 memory = \"1.5G\"; } );\n",
		&cfg);
	assert_int_equal(cfg.stop_timeout_ms, 30000);
	assert_int_equal(cfg.log_max_size, 65536);
	assert_int_equal(cfg.log_files, CONFIG_DEFAULT_LOG_FILES);
	assert_int_equal(cfg.image_max_size, (int64_t)8 << 30);
	assert_int_equal(cfg.image_max_file_size, 1 << 20);
	assert_string_equal(cfg.trusted_keys[0], "/k.pem");
	assert_null(cfg.trusted_keys[1]);
	assert_int_equal(cfg.containers[0].limits.memory, (int64_t)3 << 29);
	lp_config_free(&cfg);
}

static void test_userns(void **state)
{
	static const char conf[] =
		"containers = (\n"
		"  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n"
		"    userns = \"100000:1000\"; }\n"
		");\n";
#ifdef CONFIG_USERNS
	struct lp_agent_config cfg;

	load_ok(conf, &cfg);
	assert_int_equal(cfg.containers[0].userns_uid, 100000);
	assert_int_equal(cfg.containers[0].userns_count, 1000);
	lp_config_free(&cfg);
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n"
		     "    userns = \"100000:0\"; }\n"
		     ");\n",
		     3, "containers.web.userns: '100000:0': the count must be at least 1");
#else
	expect_error(conf, 3, "containers.web.userns: not built in (CONFIG_USERNS)");
#endif
}

/* ---------------------------------------------------------------- errors */

static void test_syntax_error(void **state)
{
	expect_error("root = \"/x\";\nlog = ;\n", 2, "syntax error");
	expect_error("containers = (\n  { name = \"web\" \n", 3, "syntax error");
	/* libconfig catches these itself */
	expect_error("root = \"/x\";\nroot = \"/y\";\n", 2, "duplicate setting name");
}

static void test_unknown_settings(void **state)
{
	expect_error("root = \"/x\";\nrot = \"/x\";\n", 2, "rot: unknown setting");
	expect_error("log = {\n  maxsize = \"1M\";\n};\n", 2, "log.maxsize: unknown setting");
	expect_error("images = {\n  max_files = 3;\n};\n", 2, "images.max_files: unknown setting");
	expect_error("trusted = [ \"/k.pem\" ];\n", 1, "trusted: unknown setting");
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n"
		     "    memroy = \"64M\"; }\n"
		     ");\n",
		     3, "containers.web.memroy: unknown setting");
	/* without a usable name, the entry is known by its index */
	expect_error("containers = (\n"
		     "  { rootfs = \"/srv\";\n"
		     "    cmd = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     3, "containers.[0].cmd: unknown setting");
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ]; },\n"
		     "  { name = \"bad name\"; rootfs = \"/srv\";\n"
		     "    cmd = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     4, "containers.[1].cmd: unknown setting");
}

#define ENTRY(line) \
	"containers = (\n  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n" line \
	" }\n);\n"

static void test_wrong_types(void **state)
{
	expect_error("root = 5;\n", 1, "root: expected a string, got an integer");
	expect_error("\nrun_dir = [ \"/run\" ];\n", 2, "run_dir: expected a string, got an array");
	expect_error("log = 5;\n", 1, "log: expected a group { max_size = ...; files = ...; }");
	expect_error("log = { files = \"2\"; };\n", 1,
		     "log.files: expected an integer, got a string");
	expect_error("log = { max_size = 1.5; };\n", 1, "log.max_size: expected a size");
	expect_error("stop_timeout = 1.5;\n", 1, "stop_timeout: expected a duration");
	expect_error("trust = \"/k.pem\";\n", 1,
		     "trust: expected an array of strings [ \"...\" ], got a string");
	/* libconfig arrays hold one type; a list may mix them */
	expect_error("\ntrust = ( \"/k.pem\", 5 );\n", 2,
		     "trust: element 1: expected a string, got an integer");
	expect_error("allow_unsigned = \"yes\";\n", 1,
		     "allow_unsigned: expected true or false, got a string");
	expect_error("allow_unsigned = 1;\n", 1, "allow_unsigned: expected true or false");
	expect_error("images = \"8G\";\n", 1,
		     "images: expected a group { max_file_size = ...; max_size = ...; }, got a string");
	expect_error("images = { max_size = 1.5; };\n", 1,
		     "images.max_size: expected a size (\"64M\") or a number of bytes, got a float");
	expect_error("images = { max_file_size = true; };\n", 1,
		     "images.max_file_size: expected a size");
	expect_error("containers = { };\n", 1, "containers: expected a list ( { ... }, { ... } )");
	expect_error("containers = ( \"web\" );\n", 1, "containers.[0]: expected a group");
	expect_error(ENTRY("    read_only = \"yes\";"), 3,
		     "containers.web.read_only: expected true or false, got a string");
	expect_error(ENTRY("    init = 1;"), 3, "containers.web.init: expected true or false");
	expect_error(ENTRY("    env = \"A=B\";"), 3,
		     "containers.web.env: expected an array of strings");
	expect_error(ENTRY("    devices = [ 1 ];"), 3,
		     "containers.web.devices: element 0: expected a string, got an integer");
	expect_error(ENTRY("    volumes = \"data:/d\";"), 3,
		     "containers.web.volumes: expected an array of strings");
	expect_error(ENTRY("    volumes = ( 1 );"), 3,
		     "containers.web.volumes: element 0: expected a string, got an integer");
	expect_error(ENTRY("    cpus = true;"), 3,
		     "containers.web.cpus: expected a number of CPUs");
	expect_error(ENTRY("    memory = 1.5;"), 3,
		     "containers.web.memory: expected a size (\"64M\") or a number of bytes, "
		     "got a float");
	expect_error(ENTRY("    pids = \"64\";"), 3, "containers.web.pids: expected an integer");
	expect_error(ENTRY("    user = 1000;"), 3, "containers.web.user: expected a string");
	expect_error(ENTRY("    net = 0;"), 3, "containers.web.net: expected a string");
	expect_error("containers = (\n"
		     "  { name = 5; rootfs = \"/srv\"; command = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     2, "containers.[0].name: expected a string, got an integer");
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\";\n"
		     "    command = ( \"/bin/sh\", 1 ); }\n"
		     ");\n",
		     3, "containers.web.command: element 1: expected a string, got an integer");
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\";\n"
		     "    command = \"/bin/sh\"; }\n"
		     ");\n",
		     3, "containers.web.command: expected an array of strings");
}

static void test_bad_values(void **state)
{
	expect_error(ENTRY("    memory = \"64Q\";"), 3,
		     "containers.web.memory: '64Q' is not a size (e.g. 64M, 1G)");
	expect_error(ENTRY("    memory = -5;"), 3, "containers.web.memory: -5 is negative");
	expect_error(ENTRY("    cpus = 0;"), 3, "containers.web.cpus: '0' is out of range");
	expect_error(ENTRY("    cpus = \"2000\";"), 3,
		     "containers.web.cpus: '2000' is out of range");
	expect_error(ENTRY("    cpus = -0.5;"), 3, "containers.web.cpus: '-0.5' is out of range");
	expect_error(ENTRY("    cpu_weight = 0;"), 3,
		     "containers.web.cpu_weight: 0 is out of range (1 to 10000)");
	expect_error(ENTRY("    cpu_weight = 20000;"), 3, "containers.web.cpu_weight: 20000");
	expect_error(ENTRY("    restart = \"sometimes\";"), 3,
		     "containers.web.restart: 'sometimes' is not a restart policy");
	expect_error(ENTRY("    net = \"bridge\";"), 3,
		     "containers.web.net: 'bridge' is not a network");
	expect_error(ENTRY("    user = \"1x\";"), 3, "containers.web.user: '1x' is not a user");
	expect_error(ENTRY("    devices = [ \"/dev/null\", \"/dev/limpet-nope\" ];"), 3,
		     "containers.web.devices: /dev/limpet-nope: No such file or directory");
	expect_error(ENTRY("    devices = [ \"/dev/null:rwx\" ];"), 3,
		     "containers.web.devices: /dev/null: 'rwx' is not a set of permissions");
	expect_error(ENTRY("    volumes = ( \"data\" );"), 3,
		     "containers.web.volumes: 'data' is not NAME:/PATH");
	expect_error(ENTRY("    volumes = ( \"../x:/d\" );"), 3,
		     "containers.web.volumes: '../x' is a host path: limpet mounts only named volumes");
	expect_error(ENTRY("    volumes = ( \"data:relative\" );"), 3,
		     "containers.web.volumes: volume data: 'relative' is not an absolute path");
	expect_error(ENTRY("\n    volumes = ( \"a:/x\",\n                \"b:/x\" );"), 4,
		     "containers.web.volumes: volume b: '/x' is also the path of volume a");
	expect_error(ENTRY("    userns = \"nobody\";"), 3,
		     "containers.web.userns: 'nobody' is not a uid mapping");
	expect_error("stop_timeout = \"soon\";\n", 1,
		     "stop_timeout: 'soon' is not a duration (e.g. 10s, 500ms, 2m)");
	expect_error("stop_timeout = -1;\n", 1, "stop_timeout: -1 is negative");
	expect_error("log = {\n  max_size = \"1K\";\n};\n", 2,
		     "log.max_size: 1024 bytes is out of range (4K to 1G)");
	expect_error("log = { max_size = \"2G\"; };\n", 1, "log.max_size: 2147483648 bytes is out");
	expect_error("log = { files = 0; };\n", 1, "log.files: 0 is out of range (1 to 16)");
	expect_error("log = { files = 17; };\n", 1, "log.files: 17 is out of range (1 to 16)");
	expect_error("trust = [ \"/etc/limpet/keys/a.pem\",\n"
		     "          \"keys/b.pem\" ];\n",
		     1, "trust: element 1: 'keys/b.pem' is not an absolute path");
	expect_error("trust = [ \"\" ];\n", 1, "trust: element 0: '' is not an absolute path");
	expect_error("images = {\n  max_size = \"512K\";\n};\n", 2,
		     "images.max_size: 524288 bytes is below the 1M minimum");
	expect_error("images = { max_file_size = 8; };\n", 1,
		     "images.max_file_size: 8 bytes is below the 1M minimum");
	expect_error("images = { max_size = -1; };\n", 1, "images.max_size: -1 is negative");
	expect_error("images = { max_size = \"8X\"; };\n", 1,
		     "images.max_size: '8X' is not a size");
	expect_error("root = \"var/lib/limpet\";\n", 1,
		     "root: 'var/lib/limpet' is not an absolute path");
	expect_error("run_dir = \"\";\n", 1, "run_dir: '' is not an absolute path");
	expect_error("cgroup_parent = \"/a/../b\";\n", 1,
		     "cgroup_parent: '/a/../b' is not a cgroup path");
	expect_error("cgroup_parent = \"limpet\";\n", 1, "cgroup_parent: 'limpet' is not a cgroup");
}

/* Checks on the whole entry still point at the setting at fault. */
static void test_validation_errors(void **state)
{
	expect_error(ENTRY("    memory = \"1M\";"), 3,
		     "containers.web.memory: 1M is below the 4M minimum a container needs");
	expect_error(ENTRY("    env = [ \"A=B\",\n            \"FOO\" ];"), 3,
		     "containers.web.env: 'FOO' is not NAME=VALUE");
	expect_error(ENTRY("    hostname = \"web_1\";"), 3,
		     "containers.web.hostname: 'web_1' is not a valid hostname");
	expect_error(ENTRY("    workdir = \"www\";"), 3,
		     "containers.web.workdir: 'www' is not an absolute path");
	expect_error(ENTRY("    pids = -1;"), 3, "containers.web.pids: -1 is negative");
	expect_error("containers = (\n"
		     "  { name = \"web\";\n"
		     "    rootfs = \"srv\"; command = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     3, "containers.web.rootfs: 'srv' is not an absolute path");
	expect_error("containers = (\n"
		     "  { name = \"web\";\n"
		     "    command = [ ]; rootfs = \"/srv\"; }\n"
		     ");\n",
		     3, "containers.web.command: empty");
	/* a missing setting: blame the entry */
	expect_error("containers = (\n"
		     "  {\n"
		     "    name = \"web\"; command = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     2, "containers.web.rootfs: missing");
	expect_error("containers = (\n"
		     "  { rootfs = \"/srv\"; command = [ \"/bin/sh\" ]; }\n"
		     ");\n",
		     2, "containers.[0].name: missing");
	expect_error("containers = (\n"
		     "  { rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n"
		     "    name = \"bad name\"; }\n"
		     ");\n",
		     3, "containers.[0].name: 'bad name' is not a valid name");
}

/* The registry group: hosts as references name them, mirrors, TLS per host. */
static void test_registry(void **state)
{
	const struct lp_registry_host *h;
	struct lp_agent_config cfg;

	(void)state;
	load_ok("", &cfg);
	assert_null(cfg.registry.auth_file);
	assert_false(cfg.registry.signatures_by_repository);
	assert_int_equal(cfg.registry.n_hosts, 0);
	lp_config_free(&cfg);
	load_ok("registry = {\n"
		"  auth_file = \"/etc/limpet/auth.json\";\n"
		"  signatures = \"repository\";\n"
		"  hosts = (\n"
		"    { host = \"registry.example.com:5000\"; ca = \"/etc/limpet/reg.pem\";\n"
		"      mirrors = [ \"mirror.lan:5000\", \"localhost\" ]; },\n"
		"    { host = \"index.docker.io\"; mirrors = [ \"hub.lan\" ]; mirror_tags = true; }\n"
		"  );\n"
		"};\n",
		&cfg);
	assert_string_equal(cfg.registry.auth_file, "/etc/limpet/auth.json");
	assert_true(cfg.registry.signatures_by_repository);
	h = lp_registry_host_find(&cfg.registry, "registry.example.com:5000");
	assert_non_null(h);
	assert_string_equal(h->ca, "/etc/limpet/reg.pem");
	assert_string_equal(h->mirrors[0], "mirror.lan:5000");
	assert_string_equal(h->mirrors[1], "localhost");
	assert_null(h->mirrors[2]);
	assert_false(h->mirror_tags);
	/* Docker Hub by any of its names is docker.io, as references say */
	h = lp_registry_host_find(&cfg.registry, "docker.io");
	assert_non_null(h);
	assert_true(h->mirror_tags);
	assert_null(h->ca);
	assert_null(lp_registry_host_find(&cfg.registry, "other.example.com"));
	lp_config_free(&cfg);

	expect_error("registry = 1;\n", 1, "registry: expected a group { hosts = ( ... ); ... }");
	expect_error("registry = { signatures = \"any\"; };\n", 1,
		     "registry.signatures: 'any': exact or repository");
	expect_error("registry = { auth_file = \"auth.json\"; };\n", 1,
		     "registry.auth_file: 'auth.json' is not an absolute path");
	expect_error("registry = { hosts = ( { ca = \"/x.pem\"; } ); };\n", 1,
		     "registry.hosts[0]: needs host = \"registry.example.com\"");
	expect_error("registry = { hosts = ( { host = \"registry\"; } ); };\n", 1,
		     "registry.hosts[0].host: 'registry' is not a registry host");
	expect_error("registry = { hosts = ( { host = \"r.example/x\"; } ); };\n", 1,
		     "registry.hosts[0].host: 'r.example/x' is not a registry host");
	expect_error("registry = { hosts = ( { host = \"r.example\"; mirrors = [ \"m\" ]; } ); };\n", 1,
		     "registry.hosts[0].mirrors: element 0: 'm' is not a registry host");
	expect_error("registry = { hosts = ( { host = \"r.example\"; cert = \"/c.pem\"; } ); };\n",
		     1, "registry.hosts[0]: needs key as well");
	expect_error("registry = { hosts = ( { host = \"r.example\"; },\n{ host = \"r.example\"; } ); };\n",
		     2, "registry.hosts[1]: r.example is listed twice");
}

/* The fleet group: paths absolute, https only, plain names, a certificate with its key. */
static void test_fleet_errors(void **state)
{
	struct lp_agent_config cfg;

	load_ok("fleet = { };\n", &cfg);
	assert_fleet_defaults(&cfg.fleet);
	lp_config_free(&cfg);
	load_ok("fleet = { max_download_rate = 1048576; poll_jitter = \"0s\"; };\n", &cfg);
	assert_int_equal(cfg.fleet.max_download_rate, 1 << 20);
	assert_int_equal(cfg.fleet.poll_jitter_ms, 0);
	lp_config_free(&cfg);

	load_ok("fleet = { status_url = \"https://f.example/s/pi.json\"; status_interval = \"30s\"; };\n",
		&cfg);
	assert_string_equal(cfg.fleet.status_url, "https://f.example/s/pi.json");
	assert_int_equal(cfg.fleet.status_interval_ms, 30000);
	assert_true(cfg.usb.enabled); /* sticks are watched unless turned off */
	assert_false(cfg.usb.write_status);
	lp_config_free(&cfg);
	load_ok("usb = { enabled = false; write_status = true; };\n", &cfg);
	assert_false(cfg.usb.enabled);
	assert_true(cfg.usb.write_status);
	lp_config_free(&cfg);

	expect_error("usb = true;\n", 1, "usb: expected a group { enabled = true; ... }");
	expect_error("usb = {\n  enable = true;\n};\n", 2, "usb.enable: unknown setting");
	expect_error("fleet = {\n  status_url = \"http://x/s.json\";\n};\n", 2,
		     "fleet.status_url");
	expect_error("fleet = 1;\n", 1, "fleet: expected a group { server = ...; ... }");
	expect_error("fleet = {\n  sever = \"https://x/\";\n};\n", 2, "fleet.sever: unknown setting");
	expect_error("fleet = {\n  server = \"http://fleet.example.com/\";\n};\n", 2,
		     "fleet.server: 'http://fleet.example.com/': only https:// URLs are allowed");
	expect_error("fleet = { server = \"fleet.example.com\"; };\n", 1,
		     "fleet.server: 'fleet.example.com' is not a URL");
	expect_error("fleet = { server = 5; };\n", 1,
		     "fleet.server: expected a string, got an integer");
	expect_error("fleet = { ca = \"fleet-ca.pem\"; };\n", 1,
		     "fleet.ca: 'fleet-ca.pem' is not an absolute path");
	expect_error("fleet = {\n  cert = \"/d.pem\";\n  key = \"d.key\";\n};\n", 3,
		     "fleet.key: 'd.key' is not an absolute path");
	expect_error("fleet = {\n  server = \"https://x/\";\n  cert = \"/d.pem\";\n};\n", 3,
		     "fleet.cert: needs fleet.key as well");
	expect_error("fleet = {\n  key = \"/d.key\"; };\n", 2, "fleet.key: needs fleet.cert as well");
	expect_error("fleet = { device_id = \"pi 42\"; };\n", 1,
		     "fleet.device_id: 'pi 42' is not a valid device id");
	expect_error("fleet = { device_id = \"\"; };\n", 1,
		     "fleet.device_id: '' is not a valid device id");
	expect_error("fleet = { groups = [ \"eu\", \"../x\" ]; };\n", 1,
		     "fleet.groups: element 1: '../x' is not a valid group name");
	expect_error("fleet = { groups = \"eu\"; };\n", 1,
		     "fleet.groups: expected an array of strings");
	expect_error("fleet = { poll_interval = \"500ms\"; };\n", 1,
		     "fleet.poll_interval: 500 ms is out of range (1s to 86400s)");
	expect_error("fleet = { poll_interval = \"2d\"; };\n", 1,
		     "fleet.poll_interval: '2d' is not a duration");
	expect_error("fleet = { poll_jitter = -1; };\n", 1, "fleet.poll_jitter: -1 is negative");
	expect_error("fleet = { max_download_rate = \"fast\"; };\n", 1,
		     "fleet.max_download_rate: 'fast' is not a size");
	expect_error("fleet = { keep_downloads = \"no\"; };\n", 1,
		     "fleet.keep_downloads: expected true or false, got a string");
}

static void test_duplicate_names(void **state)
{
	expect_error("containers = (\n"
		     "  { name = \"web\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ]; },\n"
		     "  { name = \"db\"; rootfs = \"/srv\"; command = [ \"/bin/sh\" ]; },\n"
		     "  { rootfs = \"/srv\"; command = [ \"/bin/sh\" ];\n"
		     "    name = \"web\"; }\n"
		     ");\n",
		     5, "containers.web.name: duplicate name 'web' (also used at line 2)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_numbers_as_plain_values),
		cmocka_unit_test(test_userns),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_unknown_settings),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_fleet_errors),
		cmocka_unit_test(test_registry),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
