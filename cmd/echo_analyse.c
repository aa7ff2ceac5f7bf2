/* ward echo analyse: radiomics analysis of colour-Doppler echo videos (work in progress). */
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/util.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: ward echo analyse -i IN [-o REPORT] [--compat] "
		     "[--weights FILE | --no-view-filter] [--overlay DIR]\n");
}

int cmd_echo_analyse_main(int argc, char **argv)
{
	const char *in = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return WARD_EXIT_OK;
		}
		if (strcmp(argv[i], "-i") == 0 && i + 1 < argc)
			in = argv[++i];
	}
	if (!in) {
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	fprintf(stderr, "ward echo analyse: %s: not implemented yet\n", in);
	return WARD_EXIT_FAIL;
}
