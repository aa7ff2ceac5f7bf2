/* k-means++ seeding of the fast k-means (kmeans.c): OpenCV's generateCentersPP, bit for bit. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "echo/analysis_internal.h"
#include "echo/fpstrict.h"
#include "echo/kmeans_internal.h"

/*
 * Distances depend only on a point's value, so they are computed per distinct
 * value. What depends on the order of the n points (the double sums of the
 * candidate scores and the walk that picks a candidate) is formed per
 * distinct value when that is exact: a sum of non-negative terms that are all
 * multiples of some 2^e, whose total stays below 2^(e+53), is exact at every
 * step, hence equal to the total formed in any order. This is checked every
 * time; when it does not hold, the sum is done point by point.
 */

#define VL    WARD_ECHO_KM_VL
#define BLOCK WARD_ECHO_KM_BLOCK

typedef ward_echo_v8f v8f;
typedef ward_echo_v8i v8i;
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

/* mask ? a : b per lane (a macro: vector arguments would make gcc warn about the ABI). */
#define vselect(mask, a, b) ((v8f)(((mask) & (v8i)(a)) | (~(mask) & (v8i)(b))))

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
 * The lowest-bit exponent of the non-zero terms, eight values at a time (the
 * lowest set bit of the mantissa comes from m & -m converted to float), and
 * the total of cnt[v] * v[v] in double vectors. A product is exact when it is
 * below 2^(e+53), and so is every partial sum; when the total is not, any
 * order of rounding still gives a total >= 2^(e+53) (rounding is monotonic),
 * so the test does not depend on the order either.
 */
struct total {
	v8i me;
	v4d t0, t1;
};

/* Lowest-bit exponents of 8 values (INT32_MAX where the value or its count is 0). */
static inline __attribute__((always_inline)) void low_exp8(const struct ward_echo_km *m,
                                                           const float *v, size_t u, v8i *out)
{
	const v8i big = (v8i){0} + INT32_MAX;
	v8f x;
	v8i c;
	memcpy(&x, v + u, sizeof x);
	memcpy(&c, m->cnt + u, sizeof c);
	v8i b = (v8i)x;
	v8i e = b >> 23 & 0xff, normal = e != 0;
	v8i mant = (b & 0x7fffff) | (normal & 0x800000);
	v8f lowf = __builtin_convertvector(mant & -mant, v8f);
	v8i ex = ((normal & (e - 150)) | (~normal & -149)) + (((v8i)lowf >> 23 & 0xff) - 127);
	v8i use = (x != 0) & (c != 0);
	*out = (use & ex) | (~use & big);
}

static inline __attribute__((always_inline)) void
total_add(struct total *a, const struct ward_echo_km *m, const float *v, size_t u)
{
	v8i ex;
	low_exp8(m, v, u, &ex);
	v8i lt = ex < a->me;
	a->me = (lt & ex) | (~lt & a->me);
	v4f x0, x1;
	v4i c0, c1;
	memcpy(&x0, v + u, sizeof x0);
	memcpy(&x1, v + u + 4, sizeof x1);
	memcpy(&c0, m->cnt + u, sizeof c0);
	memcpy(&c1, m->cnt + u + 4, sizeof c1);
	a->t0 += __builtin_convertvector(x0, v4d) * __builtin_convertvector(c0, v4d);
	a->t1 += __builtin_convertvector(x1, v4d) * __builtin_convertvector(c1, v4d);
}

static inline __attribute__((always_inline)) double total_end(const struct total *a, int *minexp,
                                                              int *exact)
{
	int mn = INT32_MAX;
	for (int j = 0; j < VL; j++)
		mn = a->me[j] < mn ? a->me[j] : mn;
	v4d t = a->t0 + a->t1;
	double total = (t[0] + t[1]) + (t[2] + t[3]);
	*minexp = mn;
	*exact = mn == INT32_MAX || total < ldexp(1.0, mn + 53);
	return total;
}

WARD_ECHO_KM_CLONES static double total_all(const struct ward_echo_km *m, const float *v,
                                            int *minexp, int *exact)
{
	struct total a = {(v8i){0} + INT32_MAX, {0}, {0}};
	for (size_t u = 0; u < m->u; u += VL)
		total_add(&a, m, v, u);
	return total_end(&a, minexp, exact);
}

/* Not itself cloned: clang 14 names the dispatcher of an external clone differently. */
double ward_echo_km_total(const struct ward_echo_km *m, const float *v, int *minexp, int *exact)
{
	return total_all(m, v, minexp, exact);
}

/* ex[v] = the lowest-bit exponent of v[v] (INT32_MAX for zero), for every distinct value. */
WARD_ECHO_KM_CLONES static void low_exps(const struct ward_echo_km *m, const float *v, int32_t *ex)
{
	for (size_t u = 0; u < m->u; u += VL) {
		v8i e;
		low_exp8(m, v, u, &e);
		memcpy(ex + u, &e, sizeof e);
	}
}

/* Sum of d over block b of the points (exact if below 2^(*e + 53)); *e: its terms' lowest bit. */
static double block_sum_ex(const struct ward_echo_km *m, const float *d, const int32_t *ex,
                           size_t b, int *e)
{
	double s = 0;
	int32_t mn = INT32_MAX;
	for (uint32_t r = m->rb[b]; r < m->rb[b + 1]; r++) {
		s += (double)m->rl[r] * d[m->ru[r]];
		mn = ex[m->ru[r]] < mn ? ex[m->ru[r]] : mn;
	}
	*e = mn;
	return s;
}

/*
 * for (i = 0; i < n; i++) s += v[idx[i]], when the whole sum is not exact. A
 * block can still be added at once when every partial sum within it is
 * exact: all are multiples of 2^g, g the lower of the lowest bits of s and of
 * the block's terms, so they are exact when s + (block sum) < 2^(g+53)
 * (a rounded s + sum is below that bound exactly when the true one is).
 * Other blocks are added point by point.
 */
double ward_echo_km_sum_points(struct ward_echo_km *m, const float *v)
{
	low_exps(m, v, m->ex2);
	double s = 0;
	for (size_t b = 0; b * BLOCK < m->n; b++) {
		int e;
		double sb = block_sum_ex(m, v, m->ex2, b, &e);
		if (e == INT32_MAX)
			continue; /* only zeros: s + 0 = s (s is not -0: the terms are >= +0) */
		int g = s > 0 ? low_exp_d(s) : e;
		g = g < e ? g : e;
		if (s + sb < ldexp(1.0, g + 53)) {
			s += sb;
			continue;
		}
		size_t end = (b + 1) * BLOCK < m->n ? (b + 1) * BLOCK : m->n;
		for (size_t i = b * BLOCK; i < end; i++)
			s += v[m->idx[i]];
	}
	return s;
}

/* Sum of d over block b of the points, exact (the caller checked the whole sum is). */
static double block_sum(const struct ward_echo_km *m, const float *d, size_t b)
{
	/* Exact, so any order: per run of equal values, length times distance. */
	double s0 = 0, s1 = 0;
	uint32_t r = m->rb[b], end = m->rb[b + 1];
	for (; r + 2 <= end; r += 2) {
		s0 += (double)m->rl[r] * d[m->ru[r]];
		s1 += (double)m->rl[r + 1] * d[m->ru[r + 1]];
	}
	if (r < end)
		s0 += (double)m->rl[r] * d[m->ru[r]];
	return s0 + s1;
}

/*
 * The walk when the sum of d is not exact: a block is skipped when p stays
 * positive through it and every p - prefix in it is exact (multiples of 2^g,
 * g the lower of the lowest bits of p and of the block's terms, in (0, p]:
 * exact when p < 2^(g+53)); other blocks are walked point by point.
 */
static size_t walk_inexact(struct ward_echo_km *m, const float *d, double p)
{
	size_t n = m->n;
	if (!m->ex_valid) {
		low_exps(m, d, m->ex);
		m->ex_valid = 1;
	}
	for (size_t b = 0; p > 0 && (b + 1) * BLOCK < n; b++) {
		if (b == m->nblk) {
			int e;
			m->blk[b] = block_sum_ex(m, d, m->ex, b, &e);
			m->bex[m->nblk++] = e;
		}
		int g = low_exp_d(p);
		g = g < m->bex[b] ? g : m->bex[b];
		if (p < ldexp(1.0, g + 53) && p - m->blk[b] > 0) {
			p -= m->blk[b];
			continue;
		}
		for (size_t ci = b * BLOCK; ci < (b + 1) * BLOCK; ci++) {
			p -= d[m->idx[ci]];
			if (p <= 0)
				return ci;
		}
	}
	size_t ci = 0;
	if (p > 0) /* in the last block */
		ci = (n - 1) / BLOCK * BLOCK;
	for (; ci < n - 1; ci++) {
		p -= d[m->idx[ci]];
		if (p <= 0)
			break;
	}
	return ci;
}

/*
 * for (ci = 0; ci < n-1; ci++) { p -= dist[ci]; if (p <= 0) break; }
 * exact says whether every partial sum of d is exact (me: the lowest-bit
 * exponent of its terms); then whole blocks can be subtracted at once. The
 * block sums are computed as far as a walk needs them and kept in m->blk
 * for the other walks over the same d (m->nblk of them are valid).
 */
size_t ward_echo_km_walk(struct ward_echo_km *m, const float *d, double p, int exact, int me)
{
	size_t ci = 0, n = m->n;
	if (!exact)
		return walk_inexact(m, d, p);
	/*
	 * While p stays positive, every p - prefix is a multiple of 2^ge (the
	 * lowest bit of p and of the terms) in (0, p]: exact when p < 2^(ge+53).
	 */
	int ge = p > 0 ? low_exp_d(p) : INT32_MIN;
	ge = ge < me ? ge : me;
	if (p > 0 && ge < 900 && p < ldexp(1.0, ge + 53)) {
		size_t b = 0;
		for (; (b + 1) * BLOCK < n; b++) {
			if (b == m->nblk)
				m->blk[m->nblk++] = block_sum(m, d, b);
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

/* out[v] = |value v - c|^2 for every distinct value. */
WARD_ECHO_KM_CLONES static void dist_all(const struct ward_echo_km *m, const float *c, float *out)
{
	for (size_t u = 0; u < m->u; u += VL) {
		v8f dd;
		ward_echo_km_l2sqr(m, u, c, &dd);
		memcpy(out + u, &dd, sizeof dd);
	}
}

/*
 * out[v] = min(|value v - c|^2, d[v]) (KMeansPPDistanceComputer) and the
 * candidate's score: the distances of the n points added one by one to a
 * double (formed per distinct value when that is exact).
 */
WARD_ECHO_KM_CLONES static double dist_min(struct ward_echo_km *m, const float *c, const float *d,
                                           float *out, int *minexp, int *exact)
{
	struct total a = {(v8i){0} + INT32_MAX, {0}, {0}};
	for (size_t u = 0; u < m->u; u += VL) {
		v8f dd, old;
		ward_echo_km_l2sqr(m, u, c, &dd);
		memcpy(&old, d + u, sizeof old);
		v8f r = vselect(dd < old, dd, old);
		memcpy(out + u, &r, sizeof r);
		total_add(&a, m, out, u);
	}
	double total = total_end(&a, minexp, exact);
	return *exact ? total : ward_echo_km_sum_points(m, out);
}

void ward_echo_km_seed(struct ward_echo_km *m, int k, struct ward_echo_rng *rng, float *out)
{
	size_t centers[WARD_ECHO_KMEANS_MAXK];
	float *d = m->d, *td = m->td, *td2 = m->td2;
	centers[0] = ward_echo_rng_next(rng) % (uint32_t)m->n;
	const float *c0 = m->uniq + 3 * m->idx[centers[0]];
	dist_all(m, c0, d);
	int me, me_best = INT32_MAX, exact, exact_best = 0;
	double sum0 = ward_echo_km_total(m, d, &me, &exact);
	m->ex_valid = 0;
	if (!exact)
		sum0 = ward_echo_km_sum_points(m, d);
	for (int c = 1; c < k; c++) {
		double best_sum = DBL_MAX;
		size_t best = 0;
		m->nblk = 0; /* new distances */
		m->ex_valid = 0;
		for (int t = 0; t < WARD_ECHO_KMEANS_TRIALS; t++) {
			double p = ward_echo_rng_double(rng) * sum0;
			size_t ci = ward_echo_km_walk(m, d, p, exact, me);
			const float *cv = m->uniq + 3 * m->idx[ci];
			int me2, exact2;
			double s = dist_min(m, cv, d, td2, &me2, &exact2);
			if (s < best_sum) { /* strict: the first candidate wins ties */
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
