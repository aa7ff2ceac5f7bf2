/* Fast bit-exact port of OpenCV's cv::kmeans (KMEANS_PP_CENTERS) working on distinct values. */
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
 * order of the n points is kept in that order: the k-means++ walk, the double
 * sums of the candidate scores and the float sums of the new centres. Two
 * facts make most of those cheap without changing a bit:
 *  - adding +0.0 changes nothing, so points whose value is (0,0,0) (the black
 *    background, a third of a frame) are left out of the centre sums;
 *  - a sum of non-negative terms that are all multiples of some 2^e, whose
 *    total stays below 2^(e+53), is exact at every step, hence equal to the
 *    total computed in any order; this is checked, and when it does not hold
 *    the sum is done point by point as OpenCV does.
 * ward_echo_kmeans_ref() is the literal port; the tests compare the two.
 */

#define BLOCK 256

/* 8 lanes: AVX2 where the CPU has it (target_clones picks at load time), else pairs of SSE ops. */
#define VL 8
typedef float v4f __attribute__((vector_size(4 * VL)));
typedef int32_t v4i __attribute__((vector_size(4 * VL)));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WARD_FUZZING)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif
#define PAD(u) (((u) + VL - 1) & ~(size_t)(VL - 1))
#if defined(__GNUC__) && !defined(__clang__)
/* The helpers taking vectors are static and inlined: no ABI to keep. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

struct km {
	const float *uniq;
	float *sl, *sa, *sb; /* the distinct values split by coordinate, padded to 4 */
	size_t u, n;
	const uint32_t *idx;
	uint32_t *cnt;   /* points per distinct value */
	uint32_t *nzidx; /* distinct index of the points whose value is not (0,0,0), in order */
	size_t nnz;
	float *d, *td, *td2; /* per distinct value: k-means++ distances */
	int *lab;            /* per distinct value */
	float *dmin;         /* per distinct value: distance to its centre */
	int *plab;           /* per point, when an empty-cluster repair made labels differ */
	int pixmode;
	double *blk; /* per block of points: exact distance sums (walk) */
	uint32_t *ru, *rl,
	    *rb; /* runs of equal values (value, length), cut at blocks; block starts */
};

/*
 * normL2Sqr of VL distinct values at once: the same three float operations per
 * coordinate in the same order as the scalar loop (s = 0 + v0*v0 is v0*v0).
 */
static inline __attribute__((always_inline)) void l2sqr3xv(const struct km *m, size_t u,
                                                           const float *c, v4f *out)
{
	v4f l, a, b;
	memcpy(&l, m->sl + u, sizeof l);
	memcpy(&a, m->sa + u, sizeof a);
	memcpy(&b, m->sb + u, sizeof b);
	v4f x = l - c[0], y = a - c[1], z = b - c[2];
	v4f s = x * x;
	s = s + y * y;
	s = s + z * z;
	*out = s;
}

static inline __attribute__((always_inline)) void vload(v4f *out, const float *p)
{
	memcpy(out, p, sizeof *out);
}

/* mask ? a : b per lane (a macro: vector arguments would make gcc warn about the ABI). */
#define vselect(mask, a, b) ((v4f)(((mask) & (v4i)(a)) | (~(mask) & (v4i)(b))))

static inline float l2sqr3(const float *a, const float *b)
{
	float s = 0.f;
	for (int j = 0; j < 3; j++) {
		float v = a[j] - b[j];
		s += v * v;
	}
	return s;
}

/* Lowest-bit exponent of a positive finite double. */
static inline int low_exp_d(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof b);
	int e = (int)(b >> 52 & 0x7ff);
	uint64_t m = b & 0xfffffffffffffull;
	if (e == 0)
		return -1074 + __builtin_ctzll(m);
	return e - 1075 + __builtin_ctzll(m | 1ull << 52);
}

/*
 * Sum over the n points, in order, of v[value of the point] added to a double:
 * exact totals when the terms allow it, else point by point. *minexp gets
 * the lowest-bit exponent of the terms (INT32_MAX if all are zero).
 */
/*
 * The lowest-bit exponent of the non-zero terms (*minexp, INT32_MAX if none)
 * and the total of cnt[u] * v[u] (products exact: < 2^17 times 24 bits),
 * four values at a time; the lowest set bit comes from m & -m converted to
 * float. The total is exact (hence order-free) iff *exact.
 */
CLONES static double exact_total(const struct km *m, const float *v, int *minexp, int *exact)
{
	const v4i big = (v4i){0} + INT32_MAX;
	v4i me = big;
	double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
	for (size_t u = 0; u < m->u; u += VL) {
		v4f x;
		vload(&x, v + u);
		v4i b = (v4i)x, c;
		memcpy(&c, m->cnt + u, sizeof c);
		v4i e = b >> 23 & 0xff, normal = e != 0;
		v4i mant = (b & 0x7fffff) | (normal & 0x800000);
		v4f lowf = __builtin_convertvector(mant & -mant, v4f);
		v4i ex =
		    ((normal & (e - 150)) | (~normal & -149)) + (((v4i)lowf >> 23 & 0xff) - 127);
		v4i use = (x != 0) & (c != 0);
		ex = (use & ex) | (~use & big);
		v4i lt = ex < me;
		me = (lt & ex) | (~lt & me);
		for (size_t j = 0; j < VL; j += 4) {
			t0 += (double)m->cnt[u + j] * v[u + j];
			t1 += (double)m->cnt[u + j + 1] * v[u + j + 1];
			t2 += (double)m->cnt[u + j + 2] * v[u + j + 2];
			t3 += (double)m->cnt[u + j + 3] * v[u + j + 3];
		}
	}
	int mn = INT32_MAX;
	for (int j = 0; j < VL; j++)
		mn = me[j] < mn ? me[j] : mn;
	/* Nonnegative terms: if the true total is below 2^(mn+53) so is every partial sum. */
	double total = (t0 + t1) + (t2 + t3);
	*minexp = mn;
	*exact = mn == INT32_MAX || total < ldexp(1.0, mn + 53);
	return total;
}

static double seq_sum(const struct km *m, const float *v, int *minexp, int *exact)
{
	double total = exact_total(m, v, minexp, exact);
	if (*exact)
		return total;
	double s = 0;
	for (size_t i = 0; i < m->n; i++)
		s += v[m->idx[i]];
	return s;
}

/* Block sums of d for the walk; valid (returns 1) only when every partial sum is exact. */
static int walk_blocks(struct km *m, const float *d, int exact)
{
	if (!exact)
		return 0;
	/* Exact, so any order: per run of equal values, length times distance. */
	for (size_t b = 0; b * BLOCK < m->n; b++) {
		double s0 = 0, s1 = 0;
		uint32_t r = m->rb[b], end = m->rb[b + 1];
		for (; r + 2 <= end; r += 2) {
			s0 += (double)m->rl[r] * d[m->ru[r]];
			s1 += (double)m->rl[r + 1] * d[m->ru[r + 1]];
		}
		if (r < end)
			s0 += (double)m->rl[r] * d[m->ru[r]];
		m->blk[b] = s0 + s1;
	}
	return 1;
}

/* for (ci = 0; ci < n-1; ci++) { p -= dist[ci]; if (p <= 0) break; } */
static size_t walk(const struct km *m, const float *d, double p, int blocks_ok, int me)
{
	size_t ci = 0, n = m->n;
	/*
	 * While p stays positive, every p - prefix is a multiple of 2^ge (the
	 * lowest bit of p and of the terms) in (0, p]: exact when p < 2^(ge+53).
	 * The block sums are exact because the whole sum is (walk_blocks).
	 */
	int ge = p > 0 ? low_exp_d(p) : INT32_MIN;
	ge = ge < me ? ge : me;
	if (blocks_ok && p > 0 && ge < 900 && p < ldexp(1.0, ge + 53)) {
		size_t b = 0;
		for (; (b + 1) * BLOCK < n; b++) {
			if (p - m->blk[b] <= 0)
				break;
			p -= m->blk[b];
		}
		ci = b * BLOCK;
	}
	for (; ci < n - 1; ci++) {
		p -= d[m->idx[ci]];
		if (p <= 0)
			break;
	}
	return ci;
}

/* out[u] = |value u - c|^2 for every distinct value. */
CLONES static void dist_all(const struct km *m, const float *c, float *out)
{
	for (size_t u = 0; u < m->u; u += VL) {
		v4f dd;
		l2sqr3xv(m, u, c, &dd);
		memcpy(out + u, &dd, sizeof dd);
	}
}

/* out[u] = min(|value u - c|^2, d[u]) (KMeansPPDistanceComputer). */
CLONES static void dist_min(const struct km *m, const float *c, const float *d, float *out)
{
	for (size_t u = 0; u < m->u; u += VL) {
		v4f dd, old;
		l2sqr3xv(m, u, c, &dd);
		vload(&old, d + u);
		v4f r = vselect(dd < old, dd, old);
		memcpy(out + u, &r, sizeof r);
	}
}

static void centers_pp(struct km *m, int k, struct ward_echo_rng *rng, float *out)
{
	size_t centers[WARD_ECHO_KMEANS_MAXK];
	float *d = m->d, *td = m->td, *td2 = m->td2;
	centers[0] = ward_echo_rng_next(rng) % (uint32_t)m->n;
	const float *c0 = m->uniq + 3 * m->idx[centers[0]];
	dist_all(m, c0, d);
	int me, me_best = INT32_MAX, exact, exact_best = 0;
	double sum0 = seq_sum(m, d, &me, &exact);
	for (int c = 1; c < k; c++) {
		double best_sum = DBL_MAX;
		size_t best = 0;
		int blocks_ok = walk_blocks(m, d, exact);
		for (int t = 0; t < WARD_ECHO_KMEANS_TRIALS; t++) {
			double p = ward_echo_rng_double(rng) * sum0;
			size_t ci = walk(m, d, p, blocks_ok, me);
			const float *cv = m->uniq + 3 * m->idx[ci];
			dist_min(m, cv, d, td2);
			int me2, exact2;
			double s = seq_sum(m, td2, &me2, &exact2);
			if (s < best_sum) {
				best_sum = s;
				best = ci;
				me_best = me2;
				exact_best = exact2;
				float *tmp = td;
				td = td2;
				td2 = tmp;
			}
		}
		centers[c] = best;
		sum0 = best_sum;
		me = me_best;
		exact = exact_best;
		float *tmp = d;
		d = td;
		td = tmp;
	}
	m->d = d;
	m->td = td;
	m->td2 = td2;
	for (int c = 0; c < k; c++)
		memcpy(out + 3 * c, m->uniq + 3 * m->idx[centers[c]], 3 * sizeof(float));
}

/* Empty clusters: OpenCV's repair on per-point labels (rare, so done literally). */
static void repair_empty(struct km *m, int k, float *centers, int *counters)
{
	if (!m->pixmode)
		for (size_t i = 0; i < m->n; i++)
			m->plab[i] = m->lab[m->idx[i]];
	m->pixmode = 1;
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
			if (m->plab[i] != max_k)
				continue;
			double dd = l2sqr3(m->uniq + 3 * m->idx[i], nb);
			if (max_dist <= dd) {
				max_dist = dd;
				far = i;
			}
		}
		counters[max_k]--;
		counters[c]++;
		m->plab[far] = c;
		const float *x = m->uniq + 3 * m->idx[far];
		for (int j = 0; j < 3; j++) {
			base[j] -= x[j];
			centers[3 * c + j] += x[j];
		}
	}
}

static void update_centers(struct km *m, int k, float *centers, const float *old, double *max_shift,
                           int iter)
{
	int counters[WARD_ECHO_KMEANS_MAXK] = {0};
	memset(centers, 0, (size_t)k * 3 * sizeof(float));
	for (size_t u = 0; u < m->u; u++)
		counters[m->lab[u]] += (int)m->cnt[u];
	/*
	 * Float sums in point order, one chain per cluster and coordinate. The
	 * running sums of the current cluster stay in registers (neighbouring
	 * points mostly share a cluster), which avoids a store-to-load round
	 * trip per point; the additions are the same.
	 */
	int cur = m->nnz ? m->lab[m->nzidx[0]] : 0;
	float a0 = 0, a1 = 0, a2 = 0;
	for (size_t j = 0; j < m->nnz; j++) {
		uint32_t u = m->nzidx[j];
		int lab = m->lab[u];
		if (lab != cur) {
			float *c = centers + 3 * cur;
			c[0] = a0, c[1] = a1, c[2] = a2;
			cur = lab;
			c = centers + 3 * cur;
			a0 = c[0], a1 = c[1], a2 = c[2];
		}
		a0 += m->sl[u];
		a1 += m->sa[u];
		a2 += m->sb[u];
	}
	centers[3 * cur] = a0;
	centers[3 * cur + 1] = a1;
	centers[3 * cur + 2] = a2;
	m->pixmode = 0;
	for (int c = 0; c < k; c++)
		if (counters[c] == 0) {
			repair_empty(m, k, centers, counters);
			break;
		}
	for (int c = 0; c < k; c++) {
		float scale = 1.f / (float)counters[c];
		for (int j = 0; j < 3; j++)
			centers[3 * c + j] *= scale;
		if (iter > 0) {
			double dd = 0;
			for (int j = 0; j < 3; j++) {
				double t = centers[3 * c + j] - old[3 * c + j];
				dd += t * t;
			}
			if (dd > *max_shift)
				*max_shift = dd;
		}
	}
}

/*
 * KMeansDistanceComputer: the nearest centre, the lowest index on ties
 * (`min_dist > dist` with min_dist starting at DBL_MAX, compared in double;
 * the same order holds for the float values with +inf as the start).
 */
CLONES static void assign(struct km *m, int k, const float *centers)
{
	for (size_t u = 0; u < m->u; u += VL) {
		v4f best = (v4f){0} + INFINITY;
		v4i lab = {0};
		for (int c = 0; c < k; c++) {
			v4f dd;
			l2sqr3xv(m, u, centers + 3 * c, &dd);
			v4i lt = dd < best;
			best = vselect(lt, dd, best);
			lab = (lt & c) | (~lt & lab);
		}
		memcpy(m->lab + u, &lab, sizeof lab);
	}
}

/* The last pass: distances to the (unchanged) labels' centres, summed as cv::sum does. */
static double compactness(struct km *m, const float *centers, double *pbuf)
{
	if (!m->pixmode) {
		for (size_t u = 0; u < m->u; u++)
			m->dmin[u] = l2sqr3(m->uniq + 3 * u, centers + 3 * m->lab[u]);
		/* The exactness test also covers cv::sum's grouping by four. */
		int me, exact;
		double total = exact_total(m, m->dmin, &me, &exact);
		if (exact)
			return total;
		for (size_t i = 0; i < m->n; i++)
			pbuf[i] = m->dmin[m->idx[i]];
	} else {
		for (size_t i = 0; i < m->n; i++)
			pbuf[i] = l2sqr3(m->uniq + 3 * m->idx[i], centers + 3 * m->plab[i]);
	}
	return ward_echo_kmeans_sum_f64(pbuf, m->n);
}

static void km_free(struct km *m)
{
	free(m->cnt);
	free(m->nzidx);
	free(m->d);
	free(m->td);
	free(m->td2);
	free(m->lab);
	free(m->dmin);
	free(m->plab);
	free(m->blk);
	free(m->sl);
	free(m->ru);
	free(m->rl);
	free(m->rb);
}

static int km_init(struct km *m, const float *uniq, size_t u, const uint32_t *idx, size_t n)
{
	memset(m, 0, sizeof *m);
	m->uniq = uniq;
	m->u = u;
	m->idx = idx;
	m->n = n;
	m->cnt = calloc(PAD(u), sizeof *m->cnt);
	m->nzidx = malloc(n * sizeof *m->nzidx);
	size_t u4 = PAD(u);
	m->d = malloc(u4 * sizeof *m->d);
	m->td = malloc(u4 * sizeof *m->td);
	m->td2 = malloc(u4 * sizeof *m->td2);
	m->lab = malloc(u4 * sizeof *m->lab);
	m->sl = calloc(3 * u4, sizeof *m->sl);
	m->dmin = calloc(PAD(u), sizeof *m->dmin);
	m->plab = malloc(n * sizeof(double)); /* also the compactness buffer */
	m->blk = malloc((n / BLOCK + 1) * sizeof *m->blk);
	m->ru = malloc(n * sizeof *m->ru);
	m->rl = malloc(n * sizeof *m->rl);
	m->rb = malloc((n / BLOCK + 2) * sizeof *m->rb);
	if (!m->cnt || !m->nzidx || !m->d || !m->td || !m->td2 || !m->lab || !m->dmin || !m->plab ||
	    !m->blk) {
		km_free(m);
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	}
	m->sa = m->sl + u4;
	m->sb = m->sa + u4;
	for (size_t i = 0; i < u; i++) {
		m->sl[i] = uniq[3 * i];
		m->sa[i] = uniq[3 * i + 1];
		m->sb[i] = uniq[3 * i + 2];
	}
	for (size_t i = 0; i < n; i++) {
		if (idx[i] >= u) {
			km_free(m);
			return ward_error(WARD_E_INVAL, "kmeans: index out of range");
		}
		m->cnt[idx[i]]++;
		const float *x = uniq + 3 * idx[i];
		if (x[0] != 0 || x[1] != 0 || x[2] != 0)
			m->nzidx[m->nnz++] = idx[i];
	}
	uint32_t nr = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % BLOCK == 0)
			m->rb[i / BLOCK] = nr;
		if (i % BLOCK != 0 && idx[i] == idx[i - 1]) {
			m->rl[nr - 1]++;
			continue;
		}
		m->ru[nr] = idx[i];
		m->rl[nr++] = 1;
	}
	m->rb[(n + BLOCK - 1) / BLOCK] = nr;
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
	struct km m;
	if (rc || (rc = km_init(&m, uniq, u, idx, n)))
		return rc;
	double *pbuf = malloc(n * sizeof *pbuf);
	if (!pbuf) {
		km_free(&m);
		return ward_error(WARD_E_NOMEM, "kmeans: out of memory");
	}
	int k = o->k;
	float ca[WARD_ECHO_KMEANS_MAXK * 3], cb[WARD_ECHO_KMEANS_MAXK * 3];
	double best = DBL_MAX;
	for (int a = 0; a < cr.attempts; a++) {
		float *centers = ca, *old = cb;
		double comp = 0;
		m.pixmode = 0;
		for (int iter = 0;;) {
			double max_shift = iter == 0 ? DBL_MAX : 0.0;
			float *t = centers;
			centers = old;
			old = t;
			if (iter == 0)
				centers_pp(&m, k, rng, centers);
			else
				update_centers(&m, k, centers, old, &max_shift, iter);
			if (++iter == cr.max_iter || max_shift <= cr.eps) {
				comp = compactness(&m, centers, pbuf);
				break;
			}
			assign(&m, k, centers);
		}
		if (comp < best) {
			best = comp;
			memcpy(best_centers, centers, (size_t)k * 3 * sizeof(float));
			for (size_t i = 0; i < n; i++)
				labels[i] = m.pixmode ? m.plab[i] : m.lab[idx[i]];
		}
	}
	if (compactness_out)
		*compactness_out = best;
	free(pbuf);
	km_free(&m);
	return 0;
}
