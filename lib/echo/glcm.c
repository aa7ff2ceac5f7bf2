/* Grey-level co-occurrence matrices and the 19 Haralick features of the original texture code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "echo/analysis_internal.h"

/* (drow, dcol) for 0, 45, 90 and 135 degrees, as the original's offsets. */
static const int offsets[4][2] = {{0, 1}, {1, 1}, {1, 0}, {1, -1}};

void ward_echo_glcm_count(const int16_t *z, int w, int h, int levels, double *glcm)
{
	size_t ll = (size_t)levels * (size_t)levels;
	for (int a = 0; a < 4; a++) {
		int dr = offsets[a][0], dc = offsets[a][1];
		double *m = glcm + (size_t)a * ll;
		for (int r = 0; r + dr < h; r++) {
			const int16_t *row = z + (size_t)r * (size_t)w;
			const int16_t *nxt = z + (size_t)(r + dr) * (size_t)w;
			for (int c = dc < 0 ? 1 : 0; c < w && c + dc < w; c++) {
				int v0 = row[c], v1 = nxt[c + dc];
				if (v0 < 0 || v1 < 0 || v0 >= levels || v1 >= levels)
					continue;
				m[(size_t)v0 * (size_t)levels + (size_t)v1] += 1;
			}
		}
	}
}

/* p log p with 0 log 0 = 0, in the requested base. */
static inline double plogp(double p, double lb)
{
	return p > 0 ? p * log(p) / lb : 0;
}

/* Marginals, the sum and difference distributions, and the means. */
struct glcm_marg {
	double *px, *py, *psum, *pdiff; /* L, L, 2L+1 (index k = I+J), L */
	double ux, uy;
};

static void features_basic(const double *p, int L, const struct glcm_marg *m, double *f)
{
	double auto_c = 0, prom = 0, shade = 0, contrast = 0, dissim = 0, homog = 0;
	double energy = 0, maxp = 0, invd = 0, ssv = 0;
	for (int i = 0; i < L; i++) {
		for (int j = 0; j < L; j++) {
			double v = p[(size_t)i * (size_t)L + (size_t)j];
			if (v == 0)
				continue; /* every term is a multiple of v */
			double I = i + 1, J = j + 1, d = i - j, ad = fabs(d);
			double t = I + J - m->ux - m->uy;
			auto_c += I * J * v;
			prom += t * t * t * t * v;
			shade += t * t * t * v;
			contrast += d * d * v;
			dissim += ad * v;
			homog += v / (1 + d * d);
			energy += v * v;
			maxp = v > maxp ? v : maxp;
			invd += v / (1 + ad);
			ssv += (I - m->ux) * (I - m->ux) * v;
		}
	}
	f[0] = auto_c;
	f[1] = prom;
	f[2] = shade;
	f[3] = contrast;
	f[7] = dissim;
	f[8] = energy;
	f[10] = homog;
	f[13] = invd;
	f[14] = maxp;
	f[17] = ssv;
}

/* correlation: 1 when either standard deviation is below 1e-15. */
static double correlation(const double *p, int L, const struct glcm_marg *m)
{
	double mi = 0, mj = 0, vi = 0, vj = 0, cov = 0;
	for (int i = 0; i < L; i++) {
		mi += i * m->px[i];
		mj += i * m->py[i];
	}
	for (int i = 0; i < L; i++) {
		vi += (i - mi) * (i - mi) * m->px[i];
		vj += (i - mj) * (i - mj) * m->py[i];
	}
	double si = sqrt(vi), sj = sqrt(vj);
	if (si < 1e-15 || sj < 1e-15)
		return 1;
	for (int i = 0; i < L; i++)
		for (int j = 0; j < L; j++) {
			double v = p[(size_t)i * (size_t)L + (size_t)j];
			if (v != 0)
				cov += (i - mi) * (j - mj) * v;
		}
	return cov / (si * sj);
}

static void features_entropy(const double *p, int L, const struct glcm_marg *m, double lb,
                             double *f)
{
	double hxy = 0, hxy1 = 0, hxy2 = 0, hx = 0, hy = 0;
	/* log(pX pY) as log pX + log pY: the same to ~1 ulp, and L logs instead of L^2. */
	double lpx[L], lpy[L];
	for (int i = 0; i < L; i++) {
		hx -= plogp(m->px[i], lb);
		hy -= plogp(m->py[i], lb);
		lpx[i] = m->px[i] > 0 ? log(m->px[i]) : 0;
		lpy[i] = m->py[i] > 0 ? log(m->py[i]) : 0;
	}
	for (int i = 0; i < L; i++) {
		if (m->px[i] == 0)
			continue;
		for (int j = 0; j < L; j++) {
			if (m->py[j] == 0)
				continue;
			double v = p[(size_t)i * (size_t)L + (size_t)j], q = m->px[i] * m->py[j];
			if (v > 0) {
				hxy -= v * log(v) / lb;
				hxy1 -= v * (lpx[i] + lpy[j]) / lb;
			}
			if (q > 0)
				hxy2 -= q * (lpx[i] + lpy[j]) / lb;
		}
	}
	double sa = 0, se = 0, sv = 0, de = 0, dv = 0;
	for (int k = 2; k <= 2 * L; k++) {
		sa += k * m->psum[k];
		se -= plogp(m->psum[k], lb);
	}
	for (int k = 2; k <= 2 * L; k++)
		sv += (k - sa) * (k - sa) * m->psum[k];
	for (int k = 0; k < L; k++) {
		de -= plogp(m->pdiff[k], lb);
		dv += (k - f[7]) * (k - f[7]) * m->pdiff[k];
	}
	f[5] = de;
	f[6] = dv;
	f[9] = hxy;
	f[11] = (hxy - hxy1) / (hx > hy ? hx : hy);
	f[12] = sqrt(1 - exp(-2 * (hxy2 - hxy)));
	f[15] = sa;
	f[16] = se;
	f[18] = sv;
}

void ward_echo_glcm_features(const double *counts, const struct ward_echo_glcm_opts *o,
                             double out[static WARD_ECHO_NGLCM])
{
	int L = o->levels;
	size_t ll = (size_t)L * (size_t)L;
	double *p = malloc((ll + 5 * (size_t)L + 1) * sizeof *p);
	if (!p) {
		for (int i = 0; i < WARD_ECHO_NGLCM; i++)
			out[i] = NAN;
		return;
	}
	double sum = 0;
	for (int i = 0; i < L; i++)
		for (int j = 0; j < L; j++) {
			double v = counts[(size_t)i * (size_t)L + (size_t)j];
			if (o->symmetric)
				v += counts[(size_t)j * (size_t)L + (size_t)i];
			p[(size_t)i * (size_t)L + (size_t)j] = v;
			sum += v;
		}
	if (sum == 0)
		sum = 1;
	struct glcm_marg m = {p + ll, p + ll + L, p + ll + 2 * L, p + ll + 4 * L + 1, 0, 0};
	memset(m.px, 0, (5 * (size_t)L + 1) * sizeof *p);
	for (int i = 0; i < L; i++)
		for (int j = 0; j < L; j++) {
			double v = p[(size_t)i * (size_t)L + (size_t)j] / sum;
			p[(size_t)i * (size_t)L + (size_t)j] = v;
			m.px[i] += v;
			m.py[j] += v;
			m.psum[i + j + 2] += v;
			m.pdiff[abs(i - j)] += v;
		}
	for (int i = 0; i < L; i++) {
		m.ux += (i + 1) * m.px[i];
		m.uy += (i + 1) * m.py[i];
	}
	double lb = o->log_base > 0 ? log(o->log_base) : 1.0;
	features_basic(p, L, &m, out);
	out[4] = correlation(p, L, &m);
	features_entropy(p, L, &m, lb, out);
	free(p);
}
