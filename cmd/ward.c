/* ward: the multi-call binary. Dispatches on argv[0] or on the first argument. */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/util.h"

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
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ward <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (commands[i].help)
			fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n`ward <command> --help` shows a command's options.\n");
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
		return c->fn(argc, argv);

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
	return c->fn(argc - 1, argv + 1);
}
