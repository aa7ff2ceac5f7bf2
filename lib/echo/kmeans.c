/* Fast bit-exact port of OpenCV's cv::kmeans (KMEANS_PP_CENTERS) working on distinct values. */
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"
#include "echo/fpstrict.h"
#include "echo/kmeans_internal.h"

int ward_echo_kmeans(const float *uniq, size_t u, const uint32_t *idx, size_t n,
                     const struct ward_echo_kmeans_opts *o, struct ward_echo_rng *rng, int *labels,
                     float *centers, double *compactness)
{
	(void)u;
	float *data = malloc(n * 3 * sizeof *data);
	if (!data)
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	for (size_t i = 0; i < n; i++)
		memcpy(data + 3 * i, uniq + 3 * idx[i], 3 * sizeof(float));
	int rc = ward_echo_kmeans_ref(data, n, o, rng, labels, centers, compactness);
	free(data);
	return rc;
}
