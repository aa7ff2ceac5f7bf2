/* crypt4gh-keygen: placeholder until the CLI lands in this session. */
#include <stdio.h>
#include "cmd/commands.h"
int cmd_keygen_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "crypt4gh-keygen: not built yet\n");
	return 1;
}
