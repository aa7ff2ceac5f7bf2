/* ward echo anonymise: mask burned-in text of Doppler echo videos, write PNG frames (placeholder).
 */
#include <stdio.h>

#include "cmd/commands.h"
#include "cmd/util.h"

int cmd_echo_anonymise_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ward echo anonymise: not implemented yet\n");
	return WARD_EXIT_FAIL;
}
