/* Pieces shared by the reference and the fast k-means ports (kmeans_ref.c, kmeans.c). */
#ifndef WARD_ECHO_KMEANS_INTERNAL_H
#define WARD_ECHO_KMEANS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "echo/analysis_internal.h"

/* SPP_TRIALS in kmeans.cpp: candidates drawn per k-means++ centre. */
#define WARD_ECHO_KMEANS_TRIALS 3

/* The termination criteria after OpenCV's adjustments. */
struct ward_echo_kmeans_crit {
	int max_iter; /* min(max(maxCount, 2), 100) */
	double eps;   /* epsilon squared */
	int attempts; /* max(attempts, 1) */
};

/* Validates the options; fills cr. Returns 0 or WARD_E_INVAL. */
int ward_echo_kmeans_check(size_t n, const struct ward_echo_kmeans_opts *o,
                           struct ward_echo_kmeans_crit *cr);

/*
 * The k-means++ candidate score: the distances added one by one to a double.
 * (The shared README describes blocks of 8 floats; with that order one of the
 * 102 reference frames, VH020213M4_001418 frame 1, comes out different.)
 */
double ward_echo_kmeans_sum_seq(const float *v, size_t n);

/* cv::sum of n doubles: s += ((v0 + v1) + v2) + v3 per group of 4, then the tail. */
double ward_echo_kmeans_sum_f64(const double *v, size_t n);

/* ---- the fast port (kmeans.c: Lloyd iterations; kmeans_pp.c: k-means++ seeding) ---- */

/* Attempts whose Lloyd iterations run side by side (their seeding stays in order). */
#define WARD_ECHO_KM_BATCH 16

/* Points per block sum of the k-means++ walk. */
#define WARD_ECHO_KM_BLOCK 256

/* 8 float lanes: AVX2 where the CPU has it (target_clones picks at load time), else SSE pairs. */
#define WARD_ECHO_KM_VL 8
typedef float ward_echo_v8f __attribute__((vector_size(4 * WARD_ECHO_KM_VL)));
typedef int32_t ward_echo_v8i __attribute__((vector_size(4 * WARD_ECHO_KM_VL)));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(WARD_FUZZING)
#define WARD_ECHO_KM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WARD_ECHO_KM_CLONES
#endif
#define WARD_ECHO_KM_PAD(u) (((u) + WARD_ECHO_KM_VL - 1) & ~(size_t)(WARD_ECHO_KM_VL - 1))
#if defined(__GNUC__) && !defined(__clang__)
/* The helpers taking vectors are static and inlined: no ABI to keep. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* The data of one ward_echo_kmeans call, shared by its attempts. */
struct ward_echo_km {
	const float *uniq; /* u distinct values, 3 floats each */
	size_t u, n;
	const uint32_t *idx; /* per point: its distinct value */
	float *sl, *sa, *sb; /* the distinct values split by coordinate, padded to VL */
	float *q;            /* the distinct values as (L, a, b, 1) quadruples */
	uint32_t *cnt;       /* points per distinct value */
	uint32_t *nzidx;     /* distinct index of the points whose value is not (0,0,0), in order */
	size_t nnz;
	uint32_t *zv; /* the distinct values that are (0,0,0) (+0 or -0 coordinates) */
	size_t nzv;
	float *d, *td, *td2; /* per distinct value: k-means++ distances */
	float *dmin;         /* per distinct value: distance to its centre */
	double *pbuf;        /* per point: distances, when summed point by point */
	uint8_t *labs;       /* labs[v * WARD_ECHO_KM_BATCH + t]: label of value v in attempt t */
	double *blk;         /* per block of points: exact distance sums (walk) */
	uint32_t *ru, *rl,
	    *rb;      /* runs of equal values (value, length), cut at blocks; block starts */
	size_t nblk;  /* blk[0 .. nblk-1] hold the sums of the current distances */
	int32_t *bex; /* per block: lowest-bit exponent of its terms (when the sum is not exact) */
	int32_t *ex;  /* per distinct value: lowest-bit exponent of the current distance */
	int32_t *ex2; /* the same, scratch for a candidate's distances */
	int ex_valid; /* ex holds the current distances' exponents */
};

/*
 * normL2Sqr of VL distinct values (from index v) at once: the same three float
 * operations per coordinate in the same order as the scalar loop
 * (s = 0 + x*x is x*x).
 */
static inline __attribute__((always_inline)) void
ward_echo_km_l2sqr(const struct ward_echo_km *m, size_t v, const float *c, ward_echo_v8f *out)
{
	ward_echo_v8f l, a, b;
	memcpy(&l, m->sl + v, sizeof l);
	memcpy(&a, m->sa + v, sizeof a);
	memcpy(&b, m->sb + v, sizeof b);
	ward_echo_v8f x = l - c[0], y = a - c[1], z = b - c[2];
	ward_echo_v8f s = x * x;
	s = s + y * y;
	s = s + z * z;
	*out = s;
}

/* The scalar normL2Sqr of 3 floats: s += v*v in order. */
static inline float ward_echo_km_l2sqr1(const float *a, const float *b)
{
	float s = 0.f;
	for (int j = 0; j < 3; j++) {
		float v = a[j] - b[j];
		s += v * v;
	}
	return s;
}

/*
 * The total over the points of v[value of the point] (the sum of cnt[v] *
 * v[v]), in any order; *exact says whether that equals every point-ordered
 * double sum of the same terms (and cv::sum's grouping): it does when the
 * terms are multiples of 2^*minexp and the total is below 2^(*minexp + 53).
 * *minexp is INT32_MAX when every term is zero.
 */
double ward_echo_km_total(const struct ward_echo_km *m, const float *v, int *minexp, int *exact);

/*
 * for (i = 0; i < n; i++) s += v[idx[i]] (a double), for distances v whose
 * total is not exact (ward_echo_km_total): the blocks of points that can be
 * added at once exactly are, the others point by point.
 */
double ward_echo_km_sum_points(struct ward_echo_km *m, const float *v);

/*
 * The k-means++ walk: for (ci = 0; ci < n-1; ci++) { p -= d[idx[ci]]; if
 * (p <= 0) break; }, returning ci. exact and me come from
 * ward_echo_km_total(d). Block sums of d are kept for the next walk over the
 * same d: set m->nblk = 0 and m->ex_valid = 0 when d changes.
 */
size_t ward_echo_km_walk(struct ward_echo_km *m, const float *d, double p, int exact, int me);

/* Sets up m for the points (idx[i] < u, else WARD_E_INVAL) or fails with WARD_E_NOMEM. */
int ward_echo_km_init(struct ward_echo_km *m, const float *uniq, size_t u, const uint32_t *idx,
                      size_t n);
void ward_echo_km_free(struct ward_echo_km *m);

/* generateCentersPP: k centres (k*3 floats) drawn from rng as OpenCV does. */
void ward_echo_km_seed(struct ward_echo_km *m, int k, struct ward_echo_rng *rng, float *out);

#endif
