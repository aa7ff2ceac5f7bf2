/* ward echo synth: write a synthetic echo-like video for tests and demonstrations. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "ward/echo.h"

#define PROG "ward echo synth"

static void usage(FILE *out)
{
	fprintf(out, "usage: ward echo synth [--size WxH] [--frames N] [--no-doppler] [--no-text]\n"
	             "                       [--seed N] [--codec NAME] [--pix-fmt FMT] "
	             "[--faststart] OUT.mp4\n"
	             "  Writes a synthetic colour-Doppler echo video (default 240x320, 10 frames,\n"
	             "  Doppler blobs and burned-in digits; libx264 if available, else mpeg4).\n"
	             "  Test and demonstration data only: no patient, no recording.\n");
}

static int parse_size(const char *s, int *w, int *h)
{
	char tail;
	return sscanf(s, "%dx%d%c", w, h, &tail) == 2 && *w > 0 && *h > 0 && *w <= 8192 &&
	               *h <= 8192
	           ? 0
	           : -1;
}

int cmd_echo_synth_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"size", required_argument, NULL, 's'},    {"frames", required_argument, NULL, 'n'},
	    {"no-doppler", no_argument, NULL, 'D'},    {"no-text", no_argument, NULL, 'T'},
	    {"seed", required_argument, NULL, 'S'},    {"codec", required_argument, NULL, 'c'},
	    {"pix-fmt", required_argument, NULL, 'p'}, {"faststart", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	struct ward_echo_synth_opts o = {
	    .width = 240, .height = 320, .frames = 10, .doppler = 1, .text = 1, .seed = 1390};
	unsigned long long n;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_size(optarg, &o.width, &o.height) != 0) {
				fprintf(stderr, PROG ": --size: WIDTHxHEIGHT, each 1..8192\n");
				return WARD_EXIT_USAGE;
			}
			break;
		case 'n':
			if (ward_parse_u64(optarg, &n) != 0 || n > 100000) {
				fprintf(stderr, PROG ": --frames: a number from 0 to 100000\n");
				return WARD_EXIT_USAGE;
			}
			o.frames = (int)n;
			break;
		case 'S':
			if (ward_parse_u64(optarg, &n) != 0 || n > 0xffffffffULL) {
				fprintf(stderr, PROG ": --seed: a 32-bit number\n");
				return WARD_EXIT_USAGE;
			}
			o.seed = (unsigned)n;
			break;
		case 'D':
			o.doppler = 0;
			break;
		case 'T':
			o.text = 0;
			break;
		case 'c':
			o.codec = optarg;
			break;
		case 'p':
			o.pix_fmt = optarg;
			break;
		case 'F':
			o.faststart = 1;
			break;
		case 'h':
			usage(stdout);
			return WARD_EXIT_OK;
		default:
			usage(stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	int rc = ward_echo_synth(argv[optind], &o);
	return rc < 0 ? ward_report(PROG, argv[optind], rc) : WARD_EXIT_OK;
}
