/* Fast bit-exact port of OpenCV's cv::kmeans (KMEANS_PP_CENTERS): distinct values, attempts side by
 * side. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"
#include "echo/fpstrict.h"
#include "echo/kmeans_internal.h"

/*
 * Every distance depends only on a point's value, so it is computed once per
 * distinct value (u of them, typically a tenth of n). What depends on the
 * order of the n points is kept in that order: the k-means++ walk and score
 * sums (kmeans_pp.c) and the float sums of the new centres. Those centre sums
 * are chains of dependent float additions, one per cluster and coordinate,
 * which the bit-exactness forbids to reorder; but the Lloyd iterations of
 * different attempts do not depend on each other (only the seeding draws from
 * the random generator, and it stays in attempt order). So the attempts of a
 * batch are seeded one after the other, then iterate side by side: one pass
 * over the points feeds the chains of every attempt, and the processor
 * overlaps the independent chains instead of waiting on one.
 * Points whose value is (0,0,0) (the black background, two thirds of a frame)
 * add +0.0 to their centre sums, which changes nothing, so they are left out.
 * ward_echo_kmeans_ref() is the literal port; the tests compare the two.
 */

#define VL    WARD_ECHO_KM_VL
#define BATCH WARD_ECHO_KM_BATCH
#define MAXK  WARD_ECHO_KMEANS_MAXK

typedef ward_echo_v8f v8f;
typedef ward_echo_v8i v8i;
typedef float v4f __attribute__((vector_size(16)));
_Static_assert(MAXK * sizeof(v4f) <= 256, "a label times 16 fits a byte");

/* mask ? a : b per lane (a macro: vector arguments would make gcc warn about the ABI). */
#define vselect(mask, a, b) ((v8f)(((mask) & (v8i)(a)) | (~(mask) & (v8i)(b))))

/* One attempt's Lloyd state. */
struct attempt {
	float cen[MAXK * 3], old[MAXK * 3];
	int iter, done;
	int pixmode; /* labels are per point (plab), after an empty-cluster repair */
	int *plab;
	double comp;
};

/*
 * KMeansDistanceComputer for attempt t: the nearest centre, the lowest index
 * on ties (`min_dist > dist` with min_dist starting at DBL_MAX, compared in
 * double; the same order holds for the float values with +inf as the start).
 */
WARD_ECHO_KM_CLONES static void assign(struct ward_echo_km *m, int t, int k, const float *centers)
{
	uint8_t *labs = m->labs + t;
	for (size_t u = 0; u < m->u; u += VL) {
		v8f best = (v8f){0} + INFINITY;
		v8i lab = {0};
		for (int c = 0; c < k; c++) {
			v8f dd;
			ward_echo_km_l2sqr(m, u, centers + 3 * c, &dd);
			v8i lt = dd < best;
			best = vselect(lt, dd, best);
			lab = (lt & c) | (~lt & lab);
		}
		for (int j = 0; j < VL; j++)
			labs[(u + j) * BATCH] = (uint8_t)(lab[j] << 4);
	}
}

/*
 * The centre sums of T attempts in one pass over the non-black points, in
 * point order: lanes 0-2 are OpenCV's float sums (the same additions as the
 * scalar code, lane by lane), lane 3 counts the points (exact below 2^24).
 * Labels are stored times 16, the byte offset of a centre's sums.
 */
static inline __attribute__((always_inline)) void sums_t(const struct ward_echo_km *m, int T,
                                                         v4f (*acc)[MAXK])
{
	const uint32_t *nz = m->nzidx;
	const uint8_t *labs = m->labs;
	const float *q = m->q;
	char *base = (char *)acc;
	for (size_t j = 0; j < m->nnz; j++) {
		uint32_t u = nz[j];
		v4f x, s;
		memcpy(&x, q + 4 * (size_t)u, sizeof x);
		const uint8_t *lb = labs + (size_t)u * BATCH;
#pragma GCC unroll 16
		for (int t = 0; t < T; t++) {
			char *p = base + (size_t)t * sizeof *acc + lb[t];
			memcpy(&s, p, sizeof s);
			s += x;
			memcpy(p, &s, sizeof s);
		}
	}
}

static void batch_sums(const struct ward_echo_km *m, int T, v4f (*acc)[MAXK])
{
	memset(acc, 0, (size_t)T * sizeof *acc);
	if (T == 10) /* the pipeline's attempts: unrolled with constant offsets */
		sums_t(m, 10, acc);
	else
		sums_t(m, T, acc);
}

/* Empty clusters: OpenCV's repair on per-point labels (rare, so done literally). */
static int repair_empty(struct ward_echo_km *m, struct attempt *a, int t, int k, float *centers,
                        int *counters)
{
	if (!a->plab && !(a->plab = malloc(m->n * sizeof *a->plab)))
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	if (!a->pixmode)
		for (size_t i = 0; i < m->n; i++)
			a->plab[i] = m->labs[(size_t)m->idx[i] * BATCH + (size_t)t] >> 4;
	a->pixmode = 1;
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
		for (size_t i = 0; i < m->n; i++) {
			if (a->plab[i] != max_k)
				continue;
			double dd = ward_echo_km_l2sqr1(m->uniq + 3 * m->idx[i], nb);
			if (max_dist <= dd) {
				max_dist = dd;
				far = i;
			}
		}
		counters[max_k]--;
		counters[c]++;
		a->plab[far] = c;
		const float *x = m->uniq + 3 * m->idx[far];
		for (int j = 0; j < 3; j++) {
			base[j] -= x[j];
			centers[3 * c + j] += x[j];
		}
	}
	return 0;
}

/* The "compute centers" step of attempt t from its sums; the largest squared shift. */
static int update_centers(struct ward_echo_km *m, struct attempt *a, int t, int k, const v4f *acc,
                          double *max_shift)
{
	int counters[MAXK];
	float *centers = a->cen;
	memcpy(a->old, a->cen, (size_t)k * 3 * sizeof(float));
	for (int c = 0; c < k; c++) {
		for (int j = 0; j < 3; j++)
			centers[3 * c + j] = acc[c][j];
		counters[c] = (int)acc[c][3];
	}
	if (m->nnz >= (size_t)1 << 24) { /* lane 3 is not exact: count per distinct value */
		memset(counters, 0, sizeof counters);
		for (size_t u = 0; u < m->u; u++)
			counters[m->labs[u * BATCH + (size_t)t] >> 4] += (int)m->cnt[u];
	} else {
		for (size_t z = 0; z < m->nzv; z++) /* the black values, left out of the sums */
			counters[m->labs[(size_t)m->zv[z] * BATCH + (size_t)t] >> 4] +=
			    (int)m->cnt[m->zv[z]];
	}
	a->pixmode = 0;
	for (int c = 0; c < k; c++)
		if (counters[c] == 0) {
			int rc = repair_empty(m, a, t, k, centers, counters);
			if (rc)
				return rc;
			break;
		}
	*max_shift = 0;
	for (int c = 0; c < k; c++) {
		float scale = 1.f / (float)counters[c];
		for (int j = 0; j < 3; j++)
			centers[3 * c + j] *= scale;
		double dd = 0;
		for (int j = 0; j < 3; j++) {
			double d = centers[3 * c + j] - a->old[3 * c + j];
			dd += d * d;
		}
		if (dd > *max_shift)
			*max_shift = dd;
	}
	return 0;
}

/* The last pass: distances to the (unchanged) labels' centres, summed as cv::sum does. */
static double compactness(struct ward_echo_km *m, const struct attempt *a, int t)
{
	if (!a->pixmode) {
		for (size_t u = 0; u < m->u; u++)
			m->dmin[u] = ward_echo_km_l2sqr1(
			    m->uniq + 3 * u, a->cen + 3 * (m->labs[u * BATCH + (size_t)t] >> 4));
		/* The exactness test also covers cv::sum's grouping by four. */
		int me, exact;
		double total = ward_echo_km_total(m, m->dmin, &me, &exact);
		if (exact)
			return total;
		for (size_t i = 0; i < m->n; i++)
			m->pbuf[i] = m->dmin[m->idx[i]];
	} else {
		for (size_t i = 0; i < m->n; i++)
			m->pbuf[i] =
			    ward_echo_km_l2sqr1(m->uniq + 3 * m->idx[i], a->cen + 3 * a->plab[i]);
	}
	return ward_echo_kmeans_sum_f64(m->pbuf, m->n);
}

/* T attempts: seeded in order, then iterated side by side until each one stops. */
static int run_batch(struct ward_echo_km *m, int k, const struct ward_echo_kmeans_crit *cr,
                     struct ward_echo_rng *rng, struct attempt *at, int T, v4f (*acc)[MAXK])
{
	for (int t = 0; t < T; t++) {
		/* Iteration 0, the seeding, counts as a shift of DBL_MAX: never below eps. */
		ward_echo_km_seed(m, k, rng, at[t].cen);
		at[t].iter = 1;
		at[t].done = 0;
		at[t].pixmode = 0;
		assign(m, t, k, at[t].cen);
	}
	for (int active = T; active > 0;) {
		batch_sums(m, T, acc);
		for (int t = 0; t < T; t++) {
			if (at[t].done)
				continue;
			double max_shift;
			int rc = update_centers(m, &at[t], t, k, acc[t], &max_shift);
			if (rc)
				return rc;
			if (++at[t].iter == cr->max_iter || max_shift <= cr->eps) {
				at[t].comp = compactness(m, &at[t], t);
				at[t].done = 1;
				active--;
			} else {
				assign(m, t, k, at[t].cen);
			}
		}
	}
	return 0;
}

void ward_echo_km_free(struct ward_echo_km *m)
{
	free(m->cnt);
	free(m->nzidx);
	free(m->zv);
	free(m->d);
	free(m->td);
	free(m->td2);
	free(m->dmin);
	free(m->pbuf);
	free(m->labs);
	free(m->blk);
	free(m->sl);
	free(m->q);
	free(m->ru);
	free(m->rl);
	free(m->rb);
	free(m->bex);
	free(m->ex);
	free(m->ex2);
}

/* Runs of equal values for the walk's block sums, cut where a block of points starts. */
static void km_runs(struct ward_echo_km *m)
{
	const size_t block = WARD_ECHO_KM_BLOCK;
	uint32_t nr = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (i % block == 0)
			m->rb[i / block] = nr;
		if (i % block != 0 && m->idx[i] == m->idx[i - 1]) {
			m->rl[nr - 1]++;
			continue;
		}
		m->ru[nr] = m->idx[i];
		m->rl[nr++] = 1;
	}
	m->rb[(m->n + block - 1) / block] = nr;
}

int ward_echo_km_init(struct ward_echo_km *m, const float *uniq, size_t u, const uint32_t *idx,
                      size_t n)
{
	memset(m, 0, sizeof *m);
	m->uniq = uniq;
	m->u = u;
	m->idx = idx;
	m->n = n;
	size_t u8 = WARD_ECHO_KM_PAD(u);
	m->cnt = calloc(u8, sizeof *m->cnt);
	m->nzidx = malloc(n * sizeof *m->nzidx);
	m->zv = malloc(u * sizeof *m->zv);
	m->d = malloc(u8 * sizeof *m->d);
	m->td = malloc(u8 * sizeof *m->td);
	m->td2 = malloc(u8 * sizeof *m->td2);
	m->dmin = calloc(u8, sizeof *m->dmin);
	m->pbuf = malloc(n * sizeof *m->pbuf);
	m->labs = calloc(u8, BATCH);
	m->sl = calloc(3 * u8, sizeof *m->sl);
	m->q = malloc(4 * u * sizeof *m->q);
	m->blk = malloc((n / WARD_ECHO_KM_BLOCK + 1) * sizeof *m->blk);
	m->ru = malloc(n * sizeof *m->ru);
	m->rl = malloc(n * sizeof *m->rl);
	m->rb = malloc((n / WARD_ECHO_KM_BLOCK + 2) * sizeof *m->rb);
	m->bex = malloc((n / WARD_ECHO_KM_BLOCK + 1) * sizeof *m->bex);
	m->ex = malloc(u8 * sizeof *m->ex);
	m->ex2 = malloc(u8 * sizeof *m->ex2);
	if (!m->cnt || !m->nzidx || !m->zv || !m->d || !m->td || !m->td2 || !m->dmin || !m->pbuf ||
	    !m->labs || !m->sl || !m->q || !m->blk || !m->ru || !m->rl || !m->rb || !m->bex ||
	    !m->ex || !m->ex2) {
		ward_echo_km_free(m);
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	}
	m->sa = m->sl + u8;
	m->sb = m->sa + u8;
	for (size_t i = 0; i < u; i++) {
		const float *x = uniq + 3 * i;
		m->sl[i] = x[0];
		m->sa[i] = x[1];
		m->sb[i] = x[2];
		memcpy(m->q + 4 * i, x, 3 * sizeof *x);
		m->q[4 * i + 3] = x[0] != 0 || x[1] != 0 || x[2] != 0; /* 0 marks the black value */
		if (m->q[4 * i + 3] == 0)
			m->zv[m->nzv++] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++) {
		if (idx[i] >= u) {
			ward_echo_km_free(m);
			return ward_error(WARD_E_INVAL, "kmeans: index out of range");
		}
		m->cnt[idx[i]]++;
		if (m->q[4 * idx[i] + 3] != 0)
			m->nzidx[m->nnz++] = idx[i];
	}
	km_runs(m);
	return 0;
}

int ward_echo_kmeans(const float *uniq, size_t u, const uint32_t *idx, size_t n,
                     const struct ward_echo_kmeans_opts *o, struct ward_echo_rng *rng, int *labels,
                     float *best_centers, double *compactness_out)
{
	struct ward_echo_kmeans_crit cr;
	int rc = ward_echo_kmeans_check(n, o, &cr);
	if (rc == 0 && u == 0)
		rc = ward_error(WARD_E_INVAL, "kmeans: no values");
	struct ward_echo_km m;
	if (rc || (rc = ward_echo_km_init(&m, uniq, u, idx, n)))
		return rc;
	int k = o->k;
	struct attempt at[BATCH] = {0};
	v4f acc[BATCH][MAXK];
	double best = DBL_MAX;
	for (int a0 = 0; a0 < cr.attempts && rc == 0; a0 += BATCH) {
		int T = cr.attempts - a0 < BATCH ? cr.attempts - a0 : BATCH;
		rc = run_batch(&m, k, &cr, rng, at, T, acc);
		for (int t = 0; t < T && rc == 0; t++) {
			if (!(at[t].comp < best)) /* strict: the earlier attempt wins ties */
				continue;
			best = at[t].comp;
			memcpy(best_centers, at[t].cen, (size_t)k * 3 * sizeof(float));
			for (size_t i = 0; i < n; i++)
				labels[i] = at[t].pixmode
				                ? at[t].plab[i]
				                : m.labs[(size_t)idx[i] * BATCH + (size_t)t] >> 4;
		}
	}
	if (rc == 0 && compactness_out)
		*compactness_out = best;
	for (int t = 0; t < BATCH; t++)
		free(at[t].plab);
	ward_echo_km_free(&m);
	return rc;
}
