/* Pieces shared by the reference and the fast k-means ports (kmeans_ref.c, kmeans.c). */
#ifndef WARD_ECHO_KMEANS_INTERNAL_H
#define WARD_ECHO_KMEANS_INTERNAL_H

#include <stddef.h>

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

#endif
