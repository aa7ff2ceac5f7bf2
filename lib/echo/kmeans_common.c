/* Shared parts of the k-means ports: OpenCV's criteria handling and its two summation orders. */
#include <float.h>

#include "core/core_internal.h"
#include "echo/fpstrict.h"
#include "echo/kmeans_internal.h"

int ward_echo_kmeans_check(size_t n, const struct ward_echo_kmeans_opts *o,
                           struct ward_echo_kmeans_crit *cr)
{
	if (o->k < 2 || o->k > WARD_ECHO_KMEANS_MAXK)
		return ward_error(WARD_E_INVAL, "kmeans: k = %d out of range", o->k);
	if (n < (size_t)o->k || n > (size_t)INT32_MAX)
		return ward_error(WARD_E_INVAL, "kmeans: %zu points for %d clusters", n, o->k);
	cr->eps = o->eps > 0 ? o->eps : 0;
	cr->eps *= cr->eps;
	/* The first shift counts as DBL_MAX: an eps at least that large would stop before any
	 * assignment, with no labels (OpenCV would read uninitialised ones). */
	if (!(cr->eps < DBL_MAX))
		return ward_error(WARD_E_INVAL, "kmeans: eps %g too large", o->eps);
	cr->max_iter = o->max_iter < 2 ? 2 : o->max_iter > 100 ? 100 : o->max_iter;
	cr->attempts = o->attempts < 1 ? 1 : o->attempts;
	return 0;
}

double ward_echo_kmeans_sum_seq(const float *v, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

double ward_echo_kmeans_sum_f64(const double *v, size_t n)
{
	double s = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		s += v[i] + v[i + 1] + v[i + 2] + v[i + 3];
	for (; i < n; i++)
		s += v[i];
	return s;
}
