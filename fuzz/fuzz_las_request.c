/* libFuzzer harness for the LAS request parser (one JSON line from any local user). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ward/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_attest_las_req req;
	memset(&req, 0xa5, sizeof req);
	int rc = ward_attest_las_parse_request((const char *)data, size, &req);
	if (rc < 0 && !sodium_is_zero((const uint8_t *)&req, sizeof req))
		abort(); /* a refused request leaves nothing behind */
	if (rc == 0 && req.want_workload != 0 && req.want_workload != 1)
		abort();
	return 0;
}
