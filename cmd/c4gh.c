/* crypt4gh: placeholder until the CLI lands in this session. */
#include <stdio.h>
#include "cmd/commands.h"
int cmd_c4gh_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "crypt4gh: not built yet\n");
	return 1;
}
