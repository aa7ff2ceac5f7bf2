/* ward echo: dispatches to the echocardiography subcommands (anonymise, analyse, dev tools). */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/util.h"

struct echo_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* NULL: a development tool, not listed */
};

static const struct echo_command echo_commands[] = {
    {"anonymise", cmd_echo_anonymise_main, "mask burned-in text, write PNG frames"},
    {"anonymize", cmd_echo_anonymise_main, NULL},
    {"analyse", cmd_echo_analyse_main, "Doppler segmentation, textures, RHD label"},
    {"analyze", cmd_echo_analyse_main, NULL},
    {"frames", cmd_echo_frames_main, NULL},
    {"synth", cmd_echo_synth_main, NULL},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: ward echo <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof echo_commands / sizeof echo_commands[0]; i++)
		if (echo_commands[i].help)
			fprintf(out, "  %-12s %s\n", echo_commands[i].name, echo_commands[i].help);
	fprintf(out, "\ndevelopment tools (see ward-echo(1)):\n"
	             "  frames       decode videos, print frame hashes and the Doppler decision\n"
	             "  synth        write a synthetic echo-like test video\n");
}

/* Exported: in a modular build this is looked up with dlsym in lib/ward/echo.so (cmd/ward.c). */
__attribute__((visibility("default"))) int cmd_echo_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return WARD_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof echo_commands / sizeof echo_commands[0]; i++)
		if (strcmp(echo_commands[i].name, argv[1]) == 0)
			return echo_commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ward echo: unknown command '%s' (see `ward echo --help`)\n", argv[1]);
	return WARD_EXIT_USAGE;
}
