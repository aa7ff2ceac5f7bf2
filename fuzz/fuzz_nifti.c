/* libFuzzer harness for the NIfTI-1 reader (gzip or plain) and the IBSI features of what it reads.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "echo/analysis_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_echo_volume v;
	int rc = ward_echo_nifti_parse(data, size, &v);
	if (rc != 0) {
		if (rc > 0 || v.v != NULL)
			abort();
		return 0;
	}
	size_t n = (size_t)v.nx * (size_t)v.ny * (size_t)v.nz;
	if (v.nx < 1 || v.ny < 1 || v.nz < 1 || !v.v)
		abort();
	/* Small volumes also go through the texture code, as image and mask at once. */
	if (n <= 4096) {
		for (size_t i = 0; i < n; i++)
			if (!isfinite(v.v[i]) || fabs(v.v[i]) > 1e6)
				v.v[i] = 0;
		struct ward_echo_glcm_opts o = {8, (int)(size & 1), size & 2 ? 2 : 0};
		double g[WARD_ECHO_NGLCM], f[8];
		if (ward_echo_ibsi_features(&v, &v, &o, g, f) != 0)
			abort();
	}
	ward_echo_volume_free(&v);
	return 0;
}
