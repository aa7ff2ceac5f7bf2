/* libFuzzer harness for the LAS request parser (one JSON line from any local user). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ward/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t nonce[32], rd[32];
	int want = -1;
	int rc = ward_attest_las_parse_request((const char *)data, size, nonce, rd, &want);
	if (rc < 0 && (!sodium_is_zero(nonce, 32) || !sodium_is_zero(rd, 32) || want != 0))
		abort();
	if (rc == 0 && want != 0 && want != 1)
		abort();
	return 0;
}
