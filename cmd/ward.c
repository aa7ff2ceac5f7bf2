/* ward: the multi-call binary. Dispatches on argv[0] or on the first argument. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/util.h"

/*
 * Commands with heavy dependencies (FFmpeg, HDF5, OpenBLAS, libmicrohttpd,
 * libcurl) live in modules, lib/ward/<module>.so beside bin/: loading those
 * libraries costs ~30 MB of RSS at start-up, which crypt4gh must not pay.
 * Their entry points are weak here; when one is not linked in, it is looked
 * up by name in the modules.
 */
int cmd_echo_main(int argc, char **argv) __attribute__((weak));
int cmd_cas_main(int argc, char **argv) __attribute__((weak));
int cmd_session_main(int argc, char **argv) __attribute__((weak));
int cmd_las_main(int argc, char **argv) __attribute__((weak));
int cmd_run_main(int argc, char **argv) __attribute__((weak));
int cmd_measure_main(int argc, char **argv) __attribute__((weak));

static const char *const modules[] = {"echo", "cas"};

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"c4gh", cmd_c4gh_main, "Crypt4GH files: encrypt, decrypt, reencrypt, rearrange"},
    {"crypt4gh", cmd_c4gh_main, NULL},
    {"crypt4gh-keygen", cmd_keygen_main, "generate a Crypt4GH key pair"},
    {"keygen", cmd_keygen_main, NULL},
    {"echo", cmd_echo_main, "echocardiography videos: anonymise, analyse"},
    {"vcf", cmd_vcf_main, "VCF on Crypt4GH: encrypt, process (IDs), query -f (bcftools)"},
    {"cas", cmd_cas_main, "key service: sessions, secrets, attestation (ward cas --help)"},
    {"session", cmd_session_main, "manage key-service sessions: create, update, get, delete"},
    {"las", cmd_las_main, "local attestation service for host mode (ward las --help)"},
    {"measure", cmd_measure_main, "print the measurement of a program for a session"},
    {"run", cmd_run_main, "run a session's service as an attested workload"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ward <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].help)
			fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n`ward <command> --help` shows a command's options.\n");
}

/* Finds cmd_<name>_main in the modules installed beside the binary. */
static int (*module_entry(const char *name))(int, char **)
{
	char exe[PATH_MAX], path[PATH_MAX + 64], sym[128];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(sym, sizeof sym, "cmd_%s_main", name);
	for (char *p = sym; *p; p++)
		if (*p == '-')
			*p = '_';
	/*
	 * Load only the module that holds the command: loading another one runs
	 * its libraries' initialisers for nothing (OpenBLAS threads, leaks that
	 * LeakSanitizer reports after dlclose) and maps code into `ward run`.
	 */
	const char *home = strncmp(name, "echo", 4) == 0 ? "echo" : "cas";
	for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
		if (strcmp(modules[i], home) != 0)
			continue;
		snprintf(path, sizeof path, "%s/../lib/ward/%s.so", exe, modules[i]);
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			continue;
		void *fn = dlsym(h, sym);
		if (fn)
			return (int (*)(int, char **))fn;
		dlclose(h);
	}
	return NULL;
}

static int run(const struct command *c, int argc, char **argv)
{
	int (*fn)(int, char **) = c->fn ? c->fn : module_entry(c->name);
	if (!fn) {
		fprintf(stderr,
		        "ward: the '%s' command is not installed (its module in lib/ward/ "
		        "is missing)\n",
		        c->name);
		return WARD_EXIT_FAIL;
	}
	return fn(argc, argv);
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : (argc > 0 ? argv[0] : "ward");
	const struct command *c = find(base);
	if (c && strcmp(base, "ward") != 0)
		return run(c, argc, argv);

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? WARD_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ward %s\n", WARD_VERSION_STRING);
		return 0;
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "ward: unknown command '%s' (see `ward --help`)\n", argv[1]);
		return WARD_EXIT_USAGE;
	}
	return run(c, argc - 1, argv + 1);
}
