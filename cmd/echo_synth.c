/* ward echo synth: write a synthetic echo-like test video (placeholder). */
#include <stdio.h>

#include "cmd/commands.h"
#include "cmd/util.h"

int cmd_echo_synth_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ward echo synth: not implemented yet\n");
	return WARD_EXIT_FAIL;
}
