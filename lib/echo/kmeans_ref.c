/* Straightforward port of OpenCV 4.x cv::kmeans (KMEANS_PP_CENTERS, dims 3): the reference. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"
#include "echo/fpstrict.h"
#include "echo/kmeans_internal.h"

/* cv::normL2Sqr for float, n = 3: the scalar tail loop, s += v*v in order. */
static inline float l2sqr3(const float *a, const float *b)
{
	float s = 0.f;
	for (int j = 0; j < 3; j++) {
		float v = a[j] - b[j];
		s += v * v;
	}
	return s;
}

/* generateCentersPP of kmeans.cpp. */
static void centers_pp(const float *data, size_t n, int k, struct ward_echo_rng *rng, float *dist,
                       float *tdist, float *tdist2, float *out)
{
	size_t centers[WARD_ECHO_KMEANS_MAXK];
	double sum0 = 0;
	centers[0] = ward_echo_rng_next(rng) % (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		dist[i] = l2sqr3(data + 3 * i, data + 3 * centers[0]);
		sum0 += dist[i];
	}
	for (int c = 1; c < k; c++) {
		double best_sum = DBL_MAX;
		size_t best = (size_t)-1;
		for (int t = 0; t < WARD_ECHO_KMEANS_TRIALS; t++) {
			double p = ward_echo_rng_double(rng) * sum0;
			size_t ci = 0;
			for (; ci < n - 1; ci++) {
				p -= dist[ci];
				if (p <= 0)
					break;
			}
			for (size_t i = 0; i < n; i++) {
				float d = l2sqr3(data + 3 * i, data + 3 * ci);
				tdist2[i] = d < dist[i] ? d : dist[i];
			}
			double s = ward_echo_kmeans_sum_seq(tdist2, n);
			if (s < best_sum) {
				best_sum = s;
				best = ci;
				float *tmp = tdist;
				tdist = tdist2;
				tdist2 = tmp;
			}
		}
		centers[c] = best;
		sum0 = best_sum;
		float *tmp = dist;
		dist = tdist;
		tdist = tmp;
	}
	for (int c = 0; c < k; c++)
		memcpy(out + 3 * c, data + 3 * centers[c], 3 * sizeof(float));
}

/* The "compute centers" branch, including the empty-cluster repair. */
static void update_centers(const float *data, size_t n, int k, int *labels, float *centers,
                           const float *old, double *max_shift, int iter)
{
	int counters[WARD_ECHO_KMEANS_MAXK] = {0};
	memset(centers, 0, (size_t)k * 3 * sizeof(float));
	for (size_t i = 0; i < n; i++) {
		float *c = centers + 3 * labels[i];
		for (int j = 0; j < 3; j++)
			c[j] += data[3 * i + j];
		counters[labels[i]]++;
	}
	for (int c = 0; c < k; c++) {
		if (counters[c] != 0)
			continue;
		int max_k = 0;
		for (int k1 = 1; k1 < k; k1++)
			if (counters[max_k] < counters[k1])
				max_k = k1;
		double max_dist = 0;
		size_t far = 0;
		float *base = centers + 3 * max_k, nb[3];
		float scale = 1.f / (float)counters[max_k];
		for (int j = 0; j < 3; j++)
			nb[j] = base[j] * scale;
		for (size_t i = 0; i < n; i++) {
			if (labels[i] != max_k)
				continue;
			double d = l2sqr3(data + 3 * i, nb);
			if (max_dist <= d) {
				max_dist = d;
				far = i;
			}
		}
		counters[max_k]--;
		counters[c]++;
		labels[far] = c;
		for (int j = 0; j < 3; j++) {
			base[j] -= data[3 * far + j];
			centers[3 * c + j] += data[3 * far + j];
		}
	}
	for (int c = 0; c < k; c++) {
		float scale = 1.f / (float)counters[c];
		for (int j = 0; j < 3; j++)
			centers[3 * c + j] *= scale;
		if (iter > 0) {
			double d = 0;
			for (int j = 0; j < 3; j++) {
				double t = centers[3 * c + j] - old[3 * c + j];
				d += t * t;
			}
			if (d > *max_shift)
				*max_shift = d;
		}
	}
}

/* KMeansDistanceComputer<false>: nearest centre, lowest index on ties. */
static void assign(const float *data, size_t n, int k, const float *centers, int *labels,
                   double *dists)
{
	for (size_t i = 0; i < n; i++) {
		int best = 0;
		double min_dist = DBL_MAX;
		for (int c = 0; c < k; c++) {
			double d = l2sqr3(data + 3 * i, centers + 3 * c);
			if (min_dist > d) {
				min_dist = d;
				best = c;
			}
		}
		dists[i] = min_dist;
		labels[i] = best;
	}
}

int ward_echo_kmeans_ref(const float *data, size_t n, const struct ward_echo_kmeans_opts *o,
                         struct ward_echo_rng *rng, int *labels, float *best_centers,
                         double *compactness_out)
{
	struct ward_echo_kmeans_crit cr;
	int rc = ward_echo_kmeans_check(n, o, &cr);
	if (rc)
		return rc;
	int k = o->k;
	float *fbuf = malloc(n * 3 * sizeof(float));
	double *dists = malloc(n * sizeof(double));
	int *lab = malloc(n * sizeof(int));
	float centers_a[WARD_ECHO_KMEANS_MAXK * 3], centers_b[WARD_ECHO_KMEANS_MAXK * 3];
	if (!fbuf || !dists || !lab) {
		free(fbuf);
		free(dists);
		free(lab);
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	}
	double best = DBL_MAX;
	for (int a = 0; a < cr.attempts; a++) {
		float *centers = centers_a, *old = centers_b;
		double compactness = 0;
		for (int iter = 0;;) {
			double max_shift = iter == 0 ? DBL_MAX : 0.0;
			float *t = centers;
			centers = old;
			old = t;
			if (iter == 0)
				centers_pp(data, n, k, rng, fbuf, fbuf + n, fbuf + 2 * n, centers);
			else
				update_centers(data, n, k, lab, centers, old, &max_shift, iter);
			if (++iter == cr.max_iter || max_shift <= cr.eps) {
				for (size_t i = 0; i < n; i++)
					dists[i] = l2sqr3(data + 3 * i, centers + 3 * lab[i]);
				compactness = ward_echo_kmeans_sum_f64(dists, n);
				break;
			}
			assign(data, n, k, centers, lab, dists);
		}
		if (compactness < best) {
			best = compactness;
			memcpy(best_centers, centers, (size_t)k * 3 * sizeof(float));
			memcpy(labels, lab, n * sizeof(int));
		}
	}
	if (compactness_out)
		*compactness_out = best;
	free(fbuf);
	free(dists);
	free(lab);
	return 0;
}
