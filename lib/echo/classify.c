/* Aggregation of the per-frame features (x[0:57]) and the original logistic-regression decision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

/*
 * Python's a > b for two lists of floats: the first position where the items
 * are not equal decides (NaN is never equal), by that position's >; equal
 * lists are not greater.
 */
static int list_greater(const double *a, const double *b)
{
	for (int i = 0; i < WARD_ECHO_NFEAT; i++) {
		if (a[i] == b[i])
			continue;
		return a[i] > b[i];
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int ward_echo_aggregate(const double *feat, size_t nframes, double x[static WARD_ECHO_NX],
                        size_t *picked)
{
	if (nframes == 0)
		return ward_error(WARD_E_INVAL, "aggregation: no frame with Doppler pixels");
	double *col = malloc(nframes * sizeof *col);
	if (!col)
		return ward_error(WARD_E_NOMEM, "aggregation: out of memory");
	for (int k = 0; k < WARD_ECHO_NFEAT; k++) {
		size_t n = 0;
		double s = 0;
		for (size_t f = 0; f < nframes; f++) {
			double v = feat[f * WARD_ECHO_NFEAT + (size_t)k];
			if (!isnan(v)) {
				s += v;
				col[n++] = v;
			}
		}
		x[k] = n ? s / (double)n : NAN;
		if (n == 0) {
			x[WARD_ECHO_NFEAT + k] = NAN;
			continue;
		}
		qsort(col, n, sizeof *col, cmp_double);
		x[WARD_ECHO_NFEAT + k] = n % 2 ? col[n / 2] : (col[n / 2 - 1] + col[n / 2]) / 2;
	}
	free(col);
	/* max(list of feature lists)[-2]: the picked frame's maxVelocity. */
	size_t best = 0;
	for (size_t f = 1; f < nframes; f++)
		if (list_greater(feat + f * WARD_ECHO_NFEAT, feat + best * WARD_ECHO_NFEAT))
			best = f;
	x[2 * WARD_ECHO_NFEAT] = feat[best * WARD_ECHO_NFEAT + WARD_ECHO_NFEAT - 2];
	if (picked)
		*picked = best;
	return 0;
}

double ward_echo_lr_decision(const struct ward_echo_lr *lr, const double x[static WARD_ECHO_NX])
{
	double d = 0;
	for (int k = 0; k < WARD_ECHO_NX; k++)
		d += lr->coef[k] * ((x[k] - lr->mean[k]) / lr->std[k]);
	return d + lr->intercept;
}

/* Parses one double; advances *p past it. */
static int field(const char **p, double *v)
{
	char *end;
	*v = strtod(*p, &end);
	if (end == *p)
		return -1;
	*p = end;
	return 0;
}

int ward_echo_lr_parse(const char *text, struct ward_echo_lr *lr)
{
	memset(lr, 0, sizeof *lr);
	int rows = 0, have_icpt = 0;
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, "# intercept\t", 12) == 0) {
			const char *p = line + 12;
			have_icpt = field(&p, &lr->intercept) == 0;
		} else if (*line != '#' && strncmp(line, "index", 5) != 0 && *line != '\n') {
			double idx, m, s, c;
			const char *p = line;
			if (field(&p, &idx) || idx != rows || rows >= WARD_ECHO_NX)
				return ward_error(WARD_E_FORMAT, "classifier: bad row %d", rows);
			p = strchr(p + 1, '\t'); /* skip the feature name */
			if (!p || field(&p, &m) || field(&p, &s) || field(&p, &c) || s == 0)
				return ward_error(WARD_E_FORMAT, "classifier: bad row %d", rows);
			lr->mean[rows] = m;
			lr->std[rows] = s;
			lr->coef[rows] = c;
			rows++;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (rows != WARD_ECHO_NX || !have_icpt)
		return ward_error(WARD_E_FORMAT, "classifier: %d rows%s", rows,
		                  have_icpt ? "" : ", no intercept");
	return 0;
}
