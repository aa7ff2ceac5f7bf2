/* ward measure: the SHA-256 measurement of a program (or of ward itself) for a session. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "ward/attest.h"

static const char usage_text[] =
    "usage: ward measure [--verbose] PROGRAM...\n"
    "       ward measure --launcher\n"
    "\n"
    "Prints the measurement (SHA-256 of the executable's content, 64 hex digits) that\n"
    "a session lists under a service's accepted measurements. PROGRAM is resolved\n"
    "like `ward run` resolves command[0] (PATH if it has no '/'), and the same checks\n"
    "apply: an ELF file that only root or you can write. --launcher prints the\n"
    "measurement of this ward binary, which the LAS reports as the launcher and the\n"
    "key service must trust (`ward cas platform add`).\n"
    "  -v, --verbose   also print the resolved path after the digest\n";

static int measure_one(const char *prog, int verbose)
{
	char path[4096];
	int fd = -1;
	int rc = ward_attest_open_program(prog, getenv("PATH"), path, sizeof path, &fd);
	uint8_t m[32];
	if (rc == 0)
		rc = ward_attest_measure_fd(fd, m);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return ward_report("ward measure", NULL, rc);
	char hex[65];
	ward_attest_hex(m, hex);
	if (verbose)
		printf("%s  %s\n", hex, path);
	else
		printf("%s\n", hex);
	return 0;
}

int cmd_measure_main(int argc, char **argv)
{
	static const struct option opts[] = {{"launcher", no_argument, NULL, 'l'},
	                                     {"verbose", no_argument, NULL, 'v'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int launcher = 0, verbose = 0, c;
	while ((c = getopt_long(argc, argv, "lvh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			launcher = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (launcher == (optind < argc)) {
		fputs(usage_text, stderr);
		return WARD_EXIT_USAGE;
	}
	if (launcher) {
		uint8_t m[32];
		char hex[65];
		/* Exactly what the LAS computes for a process running this ward. */
		int rc = ward_attest_measure_process(0, NULL, m);
		if (rc < 0)
			return ward_report("ward measure", "launcher", rc);
		ward_attest_hex(m, hex);
		printf(verbose ? "%s  launcher\n" : "%s\n", hex);
		return 0;
	}
	int status = 0;
	for (int i = optind; i < argc; i++) {
		int r = measure_one(argv[i], verbose);
		if (r && !status)
			status = r;
	}
	return status;
}
