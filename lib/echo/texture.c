/* textures(): the 28 per-frame features (GLCM, first order, velocity) and the IBSI phantom check.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

const char *const ward_echo_feature_names[WARD_ECHO_NFEAT] = {
    "autoCorrelation",
    "clusterProminence",
    "clusterShade",
    "contrast",
    "correlation",
    "differenceEntropy",
    "differenceVariance",
    "dissimilarity",
    "energy",
    "entropy",
    "homogeneity",
    "informationMeasureOfCorrelation1",
    "informationMeasureOfCorrelation2",
    "inverseDifference",
    "maximumProbability",
    "sumAverage",
    "sumEntropy",
    "sumOfSquaresVariance",
    "sumVariance",
    "kurtosis",
    "skewness",
    "mean",
    "std",
    "median",
    "p25",
    "p75",
    "maxVelocity",
    "meanVelocity",
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double ward_echo_percentile(const double *v, size_t n, double q)
{
	if (n == 0)
		return NAN;
	double pos = (double)(n - 1) * q;
	size_t lo = (size_t)floor(pos);
	if (lo + 1 >= n)
		return v[n - 1];
	double frac = pos - (double)lo;
	/* numpy's _lerp: a + (b - a) * t, switching ends for t >= 0.5. */
	double a = v[lo], b = v[lo + 1], d = b - a;
	return frac >= 0.5 ? b - d * (1 - frac) : a + d * frac;
}

void ward_echo_first_order(double *v, size_t n, double out[static WARD_ECHO_NFIRST])
{
	if (n == 0) {
		for (int i = 0; i < WARD_ECHO_NFIRST; i++)
			out[i] = NAN;
		return;
	}
	size_t i = 1;
	while (i < n && v[i - 1] <= v[i])
		i++;
	if (i < n)
		qsort(v, n, sizeof *v, cmp_double);
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += v[i];
	mean /= (double)n;
	double m2 = 0, m3 = 0, m4 = 0;
	for (size_t i = 0; i < n; i++) {
		double d = v[i] - mean, d2 = d * d;
		m2 += d2;
		m3 += d2 * d;
		m4 += d2 * d2;
	}
	m2 /= (double)n;
	m3 /= (double)n;
	m4 /= (double)n;
	/* scipy: moments of (nearly) constant data give NaN. */
	int flat = m2 <= (1e-15 * mean) * (1e-15 * mean);
	out[0] = flat ? NAN : m4 / (m2 * m2);
	out[1] = flat ? NAN : m3 / pow(m2, 1.5);
	out[2] = mean;
	out[3] = sqrt(m2);
	/* np.median: the mean of the two middle values for an even count. */
	out[4] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out[5] = ward_echo_percentile(v, n, 0.25);
	out[6] = ward_echo_percentile(v, n, 0.75);
}

/* numpy nanmean over the 4 angles of each GLCM feature. */
static void nanmean4(const double f[4][WARD_ECHO_NGLCM], double *out)
{
	for (int k = 0; k < WARD_ECHO_NGLCM; k++) {
		double s = 0;
		int c = 0;
		for (int a = 0; a < 4; a++)
			if (!isnan(f[a][k])) {
				s += f[a][k];
				c++;
			}
		out[k] = c ? s / c : NAN;
	}
}

/*
 * The rows r0..r1-1 and columns c0..c1-1 holding every non-black pixel, widened
 * by 2 and clipped to the image (the whole image when all are black). Outside
 * it every level is missing (grey 0), so every GLCM pair and every counted
 * value lies inside; the blurred levels are 0 beyond 1 pixel from the
 * non-black ones, and with a 2-pixel margin the border rule (reflect-101) at
 * an edge of the region reads 0s as the whole image would, or is the image's
 * own edge. So the textures of the region equal those of the image.
 */
static void nonblack_region(const uint8_t *bgr, int w, int h, int reg[4])
{
	int r0 = h, r1 = -1, c0 = w, c1 = -1;
	for (int r = 0; r < h; r++) {
		const uint8_t *row = bgr + (size_t)r * 3 * (size_t)w;
		int first = -1, last = -1;
		for (int c = 0; c < w; c++)
			if (row[3 * c] | row[3 * c + 1] | row[3 * c + 2]) {
				first = first < 0 ? c : first;
				last = c;
			}
		if (first < 0)
			continue;
		r0 = r < r0 ? r : r0;
		r1 = r;
		c0 = first < c0 ? first : c0;
		c1 = last > c1 ? last : c1;
	}
	if (r1 < 0) {
		reg[0] = 0, reg[1] = h, reg[2] = 0, reg[3] = w;
		return;
	}
	reg[0] = r0 >= 2 ? r0 - 2 : 0;
	reg[1] = r1 + 3 < h ? r1 + 3 : h;
	reg[2] = c0 >= 2 ? c0 - 2 : 0;
	reg[3] = c1 + 3 < w ? c1 + 3 : w;
}

int ward_echo_textures(const uint8_t *bgr, int w, int h, const struct ward_echo_glcm_opts *o,
                       double out[static WARD_ECHO_NFEAT], long pairs[4])
{
	int reg[4];
	nonblack_region(bgr, w, h, reg);
	return ward_echo_textures_in(bgr, w, h, reg, o, out, pairs);
}

int ward_echo_textures_in(const uint8_t *bgr, int w, int h, const int reg[static 4],
                          const struct ward_echo_glcm_opts *o, double out[static WARD_ECHO_NFEAT],
                          long pairs[4])
{
	if (reg[0] < 0 || reg[1] > h || reg[0] >= reg[1] || reg[2] < 0 || reg[3] > w ||
	    reg[2] >= reg[3])
		return ward_error(WARD_E_INVAL, "textures: region outside the %dx%d image", w, h);
	int cw = reg[3] - reg[2], ch = reg[1] - reg[0];
	size_t npx = (size_t)cw * (size_t)ch, L = (size_t)o->levels;
	int16_t *z = malloc(npx * sizeof *z);
	uint8_t *z8 = malloc(2 * npx);
	double *vals = malloc(npx * sizeof *vals);
	double *glcm = calloc(4 * L * L, sizeof *glcm);
	if (!z || !z8 || !vals || !glcm) {
		free(z);
		free(z8);
		free(vals);
		free(glcm);
		return ward_error(WARD_E_NOMEM, "textures: out of memory");
	}
	/* Z = round_half_even(grey / 4): 254 and 255 become 64; 0 is missing. */
	uint8_t quant[256];
	for (int g = 0; g < 256; g++)
		quant[g] = (uint8_t)rint(g / 4.0);
	size_t n = 0, hist[65] = {0};
	for (int r = 0; r < ch; r++) {
		const uint8_t *p = bgr + 3 * ((size_t)(reg[0] + r) * (size_t)w + (size_t)reg[2]);
		for (int c = 0; c < cw; c++, p += 3) {
			uint8_t q = quant[ward_echo_gray(p[0], p[1], p[2])];
			size_t i = (size_t)r * (size_t)cw + (size_t)c;
			z8[i] = q;
			z[i] = q ? q : -1;
			hist[q]++;
		}
	}
	/* The values 1..64, already sorted (the statistics do not depend on their order). */
	for (int q = 1; q <= 64; q++)
		for (size_t c = 0; c < hist[q]; c++)
			vals[n++] = q;
	ward_echo_glcm_count(z, cw, ch, o->levels, glcm);
	double f[4][WARD_ECHO_NGLCM];
	for (int a = 0; a < 4; a++) {
		const double *m = glcm + (size_t)a * L * L;
		if (pairs) {
			double s = 0;
			for (size_t i = 0; i < L * L; i++)
				s += m[i];
			pairs[a] = (long)s;
		}
		ward_echo_glcm_features(m, o, f[a]);
	}
	nanmean4(f, out);
	ward_echo_first_order(vals, n, out + WARD_ECHO_NGLCM);
	/* Velocity: a luminance proxy with the hard-coded 0.64 m/s scale. */
	uint8_t *zb = z8 + npx, zmax = 0;
	int rc = ward_echo_gauss3(z8, zb, cw, ch);
	for (size_t i = 0; rc == 0 && i < npx; i++)
		zmax = zb[i] > zmax ? zb[i] : zmax;
	out[26] = 0.64 * zmax / 64;
	out[27] = 0.64 * out[21] / 64;
	free(z);
	free(z8);
	free(vals);
	free(glcm);
	return rc;
}

/* GLCM features of one z slice of the phantom (grey g -> index g-1, outside the ROI missing). */
static int ibsi_slice(const struct ward_echo_volume *img, const struct ward_echo_volume *mask,
                      int zs, const struct ward_echo_glcm_opts *o, double f[4][WARD_ECHO_NGLCM])
{
	size_t L = (size_t)o->levels, plane = (size_t)img->nx * (size_t)img->ny;
	int16_t *z = malloc(plane * sizeof *z);
	double *glcm = calloc(4 * L * L, sizeof *glcm);
	if (!z || !glcm) {
		free(z);
		free(glcm);
		return ward_error(WARD_E_NOMEM, "ibsi: out of memory");
	}
	/* Rows are y, columns x (x varies fastest, as in the file). */
	for (size_t i = 0; i < plane; i++) {
		double g = img->v[(size_t)zs * plane + i];
		int in = mask->v[(size_t)zs * plane + i] != 0;
		z[i] = in && g >= 1 && g <= (double)L ? (int16_t)(g - 1) : -1;
	}
	ward_echo_glcm_count(z, img->nx, img->ny, o->levels, glcm);
	for (int a = 0; a < 4; a++)
		ward_echo_glcm_features(glcm + (size_t)a * L * L, o, f[a]);
	free(z);
	free(glcm);
	return 0;
}

int ward_echo_ibsi_features(const struct ward_echo_volume *img, const struct ward_echo_volume *mask,
                            const struct ward_echo_glcm_opts *o,
                            double glcm[static WARD_ECHO_NGLCM], double first[static 8])
{
	if (img->nx != mask->nx || img->ny != mask->ny || img->nz != mask->nz)
		return ward_error(WARD_E_INVAL, "ibsi: image and mask sizes differ");
	double sum[WARD_ECHO_NGLCM] = {0};
	int cnt[WARD_ECHO_NGLCM] = {0};
	for (int zs = 0; zs < img->nz; zs++) {
		double f[4][WARD_ECHO_NGLCM];
		int rc = ibsi_slice(img, mask, zs, o, f);
		if (rc)
			return rc;
		for (int a = 0; a < 4; a++)
			for (int k = 0; k < WARD_ECHO_NGLCM; k++)
				if (!isnan(f[a][k])) {
					sum[k] += f[a][k];
					cnt[k]++;
				}
	}
	for (int k = 0; k < WARD_ECHO_NGLCM; k++)
		glcm[k] = cnt[k] ? sum[k] / cnt[k] : NAN;
	size_t nv = (size_t)img->nx * (size_t)img->ny * (size_t)img->nz, n = 0;
	double *v = malloc((nv ? nv : 1) * sizeof *v);
	if (!v)
		return ward_error(WARD_E_NOMEM, "ibsi: out of memory");
	for (size_t i = 0; i < nv; i++)
		if (mask->v[i] != 0)
			v[n++] = img->v[i];
	double fo[WARD_ECHO_NFIRST];
	ward_echo_first_order(v, n, fo);
	first[0] = fo[2];
	first[1] = fo[3] * fo[3];
	first[2] = fo[1];
	first[3] = fo[0] - 3;
	first[4] = fo[4];
	first[5] = ward_echo_percentile(v, n, 0.10);
	first[6] = ward_echo_percentile(v, n, 0.90);
	first[7] = fo[6] - fo[5];
	free(v);
	return 0;
}
