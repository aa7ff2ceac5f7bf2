/* Echo analysis: k-means (fast vs literal port), segmentation and texture vectors, IBSI,
 * classifier. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "echo/analysis_internal.h"
#include "echo/echo_internal.h"
#include "echo/kmeans_internal.h"
#include "test.h"

static void md5hex(const uint8_t *b, size_t n, char out[33])
{
	unsigned char d[16];
	unsigned len = 16;
	EVP_Digest(b, n, d, &len, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A reference PNG (true colours) as the pipeline's BGR array. */
static uint8_t *load_bgr(const char *name, int *w, int *h)
{
	uint8_t *px = NULL;
	if (ward_echo_png_read(test_data(name), &px, w, h) != 0)
		return NULL;
	for (size_t i = 0; i < (size_t)*w * (size_t)*h; i++) {
		uint8_t t = px[3 * i];
		px[3 * i] = px[3 * i + 2];
		px[3 * i + 2] = t;
	}
	return px;
}

static double rel(double a, double b)
{
	if (a == b)
		return 0;
	return fabs(a - b) / fmax(fabs(b), 1e-300);
}

/* Random clustered 3D data with many repeated values and some zero points. */
static void random_points(uint32_t seed, size_t n, size_t u, float *uniq, uint32_t *idx)
{
	struct ward_echo_rng r = {seed * 2654435761u + 1};
	for (size_t i = 0; i < u; i++)
		for (int j = 0; j < 3; j++) {
			int centre = (int)(ward_echo_rng_next(&r) % 5) * 20;
			uniq[3 * i + j] =
			    i == 0
			        ? 0.f
			        : (float)centre + (float)(ward_echo_rng_next(&r) % 10000) / 997.f;
		}
	for (size_t i = 0; i < n; i++) {
		uint32_t x = ward_echo_rng_next(&r);
		idx[i] = x % 3 == 0 ? 0 : (uint32_t)(x / 3 % u); /* runs of zeros, like black */
		if (i > 0 && x % 7 < 3)
			idx[i] = idx[i - 1];
	}
}

static void test_kmeans(void)
{
	const struct ward_echo_kmeans_opts o = {8, 10, 0.01, 10};
	static const size_t sizes[][2] = {
	    {3000, 400}, {5000, 9}, {2000, 5}, {777, 700}, {4096, 64}};
	for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
		size_t n = sizes[t][0], u = sizes[t][1];
		float *uniq = malloc(u * 3 * sizeof *uniq), *data = malloc(n * 3 * sizeof *data);
		uint32_t *idx = malloc(n * sizeof *idx);
		int *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
		random_points((uint32_t)t + 1, n, u, uniq, idx);
		for (size_t i = 0; i < n; i++)
			memcpy(data + 3 * i, uniq + 3 * idx[i], 3 * sizeof(float));
		struct ward_echo_rng r1 = {WARD_ECHO_RNG_SEED}, r2 = {WARD_ECHO_RNG_SEED};
		float c1[24], c2[24];
		double k1 = 0, k2 = 0;
		int ok = 1;
		for (int call = 0; call < 2 && ok; call++) { /* the state carries over */
			CHECK_RC(ward_echo_kmeans_ref(data, n, &o, &r1, l1, c1, &k1), 0,
			         "kmeans ref");
			CHECK_RC(ward_echo_kmeans(uniq, u, idx, n, &o, &r2, l2, c2, &k2), 0,
			         "kmeans fast");
			ok = memcmp(l1, l2, n * sizeof *l1) == 0 &&
			     memcmp(c1, c2, sizeof c1) == 0 && k1 == k2 && r1.state == r2.state;
		}
		CHECK(ok,
		      "fast k-means == literal port (n=%zu, %zu distinct): labels, centres, "
		      "compactness, RNG state",
		      n, u);
		free(uniq);
		free(data);
		free(idx);
		free(l1);
		free(l2);
	}
	struct ward_echo_kmeans_opts bad = {1, 10, 0.01, 10};
	float x[6] = {0};
	uint32_t ix[2] = {0, 0};
	int lab[2];
	float c[3];
	struct ward_echo_rng r = {1};
	CHECK_RC(ward_echo_kmeans(x, 1, ix, 2, &bad, &r, lab, c, NULL), WARD_E_INVAL,
	         "k=1 refused");
	bad.k = 8;
	CHECK_RC(ward_echo_kmeans(x, 1, ix, 2, &bad, &r, lab, c, NULL), WARD_E_INVAL,
	         "n < k refused");
}

/* Fast and literal k-means on the same points: 1 if labels, centres, compactness, RNG agree. */
static int kmeans_agree(const float *uniq, size_t u, const uint32_t *idx, size_t n,
                        const struct ward_echo_kmeans_opts *o, uint32_t seed)
{
	float *data = malloc(n * 3 * sizeof *data);
	int *l1 = malloc(n * sizeof *l1), *l2 = malloc(n * sizeof *l2);
	int ok = data && l1 && l2;
	for (size_t i = 0; ok && i < n; i++)
		memcpy(data + 3 * i, uniq + 3 * idx[i], 3 * sizeof(float));
	struct ward_echo_rng r1 = {seed}, r2 = {seed};
	float c1[3 * WARD_ECHO_KMEANS_MAXK], c2[3 * WARD_ECHO_KMEANS_MAXK];
	double k1 = 0, k2 = 0;
	for (int call = 0; call < 2 && ok; call++) { /* the state carries over */
		ok = ward_echo_kmeans_ref(data, n, o, &r1, l1, c1, &k1) == 0 &&
		     ward_echo_kmeans(uniq, u, idx, n, o, &r2, l2, c2, &k2) == 0 &&
		     memcmp(l1, l2, n * sizeof *l1) == 0 &&
		     memcmp(c1, c2, (size_t)o->k * 3 * sizeof(float)) == 0 && k1 == k2 &&
		     r1.state == r2.state;
	}
	free(data);
	free(l1);
	free(l2);
	return ok;
}

/*
 * Options the pipeline does not use: other k, attempts over several batches
 * of the side-by-side iterations (16), early convergence; and values whose
 * squared distances are tiny next to their totals, so that the k-means++
 * score sums and walks are not exact per distinct value and take the
 * block-by-block path.
 */
static void test_kmeans_options(void)
{
	static const struct {
		size_t n, u;
		struct ward_echo_kmeans_opts o;
		int tiny;
	} cases[] = {
	    {3000, 300, {2, 10, 0.01, 1}, 0},  {2500, 200, {5, 4, 0.01, 17}, 0},
	    {2000, 400, {16, 10, 0.01, 3}, 0}, {3000, 250, {8, 30, 2.0, 35}, 0},
	    {2000, 6, {12, 10, 0.01, 18}, 0},  {5000, 900, {8, 10, 0.01, 10}, 1},
	    {4000, 500, {6, 10, 0.01, 20}, 1},
	};
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		size_t n = cases[t].n, u = cases[t].u;
		float *uniq = malloc(u * 3 * sizeof *uniq);
		uint32_t *idx = malloc(n * sizeof *idx);
		random_points((uint32_t)t + 11, n, u, uniq, idx);
		if (cases[t]
		        .tiny) { /* near 50, apart by multiples of 2^-13: distances down to 2^-26 */
			struct ward_echo_rng r = {(uint32_t)t + 5};
			for (size_t i = 3; i < 3 * u; i++)
				uniq[i] = 50.f + (float)(ward_echo_rng_next(&r) % 4096) / 8192.f;
		}
		const struct ward_echo_kmeans_opts *o = &cases[t].o;
		CHECK(kmeans_agree(uniq, u, idx, n, o, WARD_ECHO_RNG_SEED + (uint32_t)t),
		      "fast k-means == literal port: n=%zu, %zu distinct, k=%d, %d iterations, eps "
		      "%g, "
		      "%d attempts%s",
		      n, u, o->k, o->max_iter, o->eps, o->attempts,
		      cases[t].tiny ? ", tiny distances" : "");
		free(uniq);
		free(idx);
	}
	const struct ward_echo_kmeans_opts huge = {8, 10, 1e200, 10};
	float x[24] = {0};
	uint32_t ix[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	int lab[8];
	float c[24];
	struct ward_echo_rng r = {1};
	for (int i = 0; i < 24; i++)
		x[i] = (float)i;
	CHECK_RC(ward_echo_kmeans(x, 8, ix, 8, &huge, &r, lab, c, NULL), WARD_E_INVAL,
	         "an eps whose square overflows is refused (no iteration would assign labels)");
}

static size_t naive_walk(const float *d, const uint32_t *idx, size_t n, double p)
{
	size_t ci = 0;
	for (; ci < n - 1; ci++) {
		p -= d[idx[ci]];
		if (p <= 0)
			break;
	}
	return ci;
}

/*
 * The k-means++ score sum and walk against the plain loops, on distances
 * whose sums are exact (coarse values) or not (a few with far lower bits),
 * with blocks of zeros, and p at and next to the running sums.
 */
static void test_kmeans_sums(void)
{
	const size_t n = 9000, u = 700;
	float *uniq = calloc(u * 3, sizeof *uniq), *v = calloc(WARD_ECHO_KM_PAD(u), sizeof *v);
	uint32_t *idx = malloc(n * sizeof *idx);
	double *prefix = malloc(n * sizeof *prefix);
	struct ward_echo_rng r = {4242};
	int sum_ok = 1, walk_ok = 1, walks = 0;
	for (int t = 0; t < 12; t++) {
		random_points((uint32_t)t + 31, n, u, uniq, idx);
		for (size_t i = 1000; i < 1700; i++) /* more than a block of the same value */
			idx[i] = 0;
		for (size_t j = 0; j < u; j++) {
			uint32_t x = ward_echo_rng_next(&r);
			int fine = t % 2 && x % 50 == 0;
			v[j] = j == 0 && t % 3 == 0
			           ? 0.f
			           : ldexpf((float)(x % (1u << 20)), fine ? -40 : (int)(x % 8));
		}
		struct ward_echo_km m;
		if (ward_echo_km_init(&m, uniq, u, idx, n) != 0) {
			sum_ok = 0;
			break;
		}
		double s = 0;
		for (size_t i = 0; i < n; i++)
			prefix[i] = s += v[idx[i]];
		int me, exact;
		double total = ward_echo_km_total(&m, v, &me, &exact);
		double fast = exact ? total : ward_echo_km_sum_points(&m, v);
		sum_ok &= memcmp(&fast, &s, sizeof s) == 0 && exact == !(t % 2);
		m.nblk = 0;
		m.ex_valid = 0;
		for (int k = 0; k < 60; k++) {
			size_t at = ward_echo_rng_next(&r) % n;
			double p = k == 0       ? 0
			           : k == 1     ? s
			           : k == 2     ? 2 * s
			           : k % 3 == 0 ? prefix[at]
			           : k % 3 == 1 ? nextafter(prefix[at], 0)
			                        : ward_echo_rng_double(&r) * s;
			walk_ok &=
			    ward_echo_km_walk(&m, v, p, exact, me) == naive_walk(v, idx, n, p);
			walks++;
		}
		ward_echo_km_free(&m);
	}
	CHECK(sum_ok, "k-means++ score sums == the point-ordered double sum (exact and not)");
	CHECK(walk_ok, "k-means++ walks == the point-by-point walk (%d walks)", walks);
	free(uniq);
	free(v);
	free(idx);
	free(prefix);
}

/*
 * The textures are computed around the non-black pixels only; the result must
 * equal the whole image's, also when those pixels touch the edges (the blur's
 * reflect-101 border) or lie 1, 2 or 3 pixels from them.
 */
static void test_textures_region(void)
{
	const int w = 40, h = 31;
	uint8_t *img = malloc((size_t)w * (size_t)h * 3);
	struct ward_echo_rng r = {77};
	int ok = img != NULL;
	const struct ward_echo_glcm_opts go = {64, 0, 0};
	for (int t = 0; ok && t < 24; t++) {
		memset(img, 0, (size_t)w * (size_t)h * 3);
		int r0 = t % 4, c0 = t / 4 % 4, r1 = h - (t / 2 % 4), c1 = w - (t / 3 % 4);
		if (t >= 16) { /* a small blob in the middle, or a single pixel */
			r0 = 10, c0 = 12, r1 = t == 23 ? 11 : 14, c1 = t == 23 ? 13 : 19;
		}
		for (int y = r0; y < r1; y++)
			for (int x = c0; x < c1; x++)
				if (ward_echo_rng_next(&r) % 3)
					for (int j = 0; j < 3; j++)
						img[3 * ((size_t)y * (size_t)w + (size_t)x) +
						    (size_t)j] =
						    (uint8_t)(ward_echo_rng_next(&r) % 256);
		double a[WARD_ECHO_NFEAT], b[WARD_ECHO_NFEAT];
		long pa[4], pb[4];
		const int all[4] = {0, h, 0, w};
		ok = ward_echo_textures(img, w, h, &go, a, pa) == 0 &&
		     ward_echo_textures_in(img, w, h, all, &go, b, pb) == 0 &&
		     memcmp(pa, pb, sizeof pa) == 0;
		for (int k = 0; ok && k < WARD_ECHO_NFEAT; k++)
			ok = a[k] == b[k] || (isnan(a[k]) && isnan(b[k]));
		if (!ok)
			printf("# region case %d differs\n", t);
	}
	CHECK(ok, "textures around the non-black pixels == textures of the whole image (24 cases)");
	free(img);
}

/* Per-angle features, pair counts and levels of tv_111534_f0_textures.json. */
static void test_textures(json_object *ref, const uint8_t *dm, int w, int h)
{
	struct ward_echo_glcm_opts go = {64, 0, 0};
	double f[WARD_ECHO_NFEAT];
	long pairs[4];
	CHECK_RC(ward_echo_textures(dm, w, h, &go, f, pairs), 0, "textures of the vector frame");
	json_object *feat = json_object_object_get(ref, "features");
	double worst = 0;
	for (int k = 0; k < WARD_ECHO_NFEAT; k++) {
		double want = json_object_get_double(
		    json_object_object_get(feat, ward_echo_feature_names[k]));
		worst = fmax(worst, rel(f[k], want));
	}
	CHECK(worst < 1e-12, "28 texture features within 1e-12 relative (worst %.2g)", worst);
	json_object *pc = json_object_object_get(ref, "glcm_pair_counts_per_angle");
	int ok = 1;
	for (int a = 0; a < 4; a++)
		ok &= pairs[a] == json_object_get_int64(json_object_array_get_idx(pc, (size_t)a));
	CHECK(ok, "GLCM pair counts per angle (%ld %ld %ld %ld)", pairs[0], pairs[1], pairs[2],
	      pairs[3]);
	/* Per-angle features straight from the counted matrices. */
	size_t npx = (size_t)w * (size_t)h;
	int16_t *z = malloc(npx * sizeof *z);
	double *glcm = calloc(4 * 64 * 64, sizeof *glcm);
	for (size_t i = 0; i < npx; i++) {
		int g = ward_echo_gray(dm[3 * i], dm[3 * i + 1], dm[3 * i + 2]);
		int q = (int)rint(g / 4.0);
		z[i] = q ? (int16_t)q : -1;
	}
	ward_echo_glcm_count(z, w, h, 64, glcm);
	json_object *pa = json_object_object_get(ref, "glcm_features_per_angle_0_45_90_135");
	worst = 0;
	for (int a = 0; a < 4; a++) {
		double fa[WARD_ECHO_NGLCM];
		ward_echo_glcm_features(glcm + (size_t)a * 4096, &go, fa);
		for (int k = 0; k < WARD_ECHO_NGLCM; k++) {
			json_object *arr = json_object_object_get(pa, ward_echo_feature_names[k]);
			double want =
			    json_object_get_double(json_object_array_get_idx(arr, (size_t)a));
			worst = fmax(worst, rel(fa[k], want));
		}
	}
	CHECK(worst < 1e-12, "19 GLCM features x 4 angles within 1e-12 relative (worst %.2g)",
	      worst);
	json_object *lv = json_object_object_get(ref, "grey_levels_present");
	int present[65] = {0};
	for (size_t i = 0; i < npx; i++)
		if (z[i] > 0)
			present[z[i]] = 1;
	size_t nlv = 0;
	ok = 1;
	for (int l = 0; l <= 64; l++)
		if (present[l])
			ok &= l == json_object_get_int(json_object_array_get_idx(lv, nlv++));
	CHECK(ok && nlv == json_object_array_length(lv), "grey levels present (%zu)", nlv);
	free(z);
	free(glcm);
}

static void test_segmentation(void)
{
	int w, h, w2, h2, w3, h3;
	uint8_t *in = load_bgr("echo/tv_111534_f0_input_bgr.png", &w, &h);
	uint8_t *dm_ref = load_bgr("echo/tv_111534_f0_doppler_masked.png", &w2, &h2);
	uint8_t *an_ref = load_bgr("echo/tv_111534_f0_anatomic.png", &w3, &h3);
	size_t len;
	char *js = (char *)test_read_file(test_data("echo/tv_111534_f0_textures.json"), &len);
	json_object *ref = json_tokener_parse(js);
	if (!CHECK(in && dm_ref && an_ref && ref && w == 240 && h == 320 && w2 == w && h3 == h,
	           "one-frame vector loads (240x320)"))
		return;
	size_t n = (size_t)w * (size_t)h;
	char m[33];
	md5hex(in, 3 * n, m);
	CHECK(strcmp(m, json_object_get_string(json_object_object_get(ref, "md5_input_bgr"))) == 0,
	      "input MD5 %s", m);
	uint8_t *f = malloc(3 * n), *dm = malloc(3 * n), *an = malloc(3 * n);
	struct ward_echo_segmenter *s;
	CHECK_RC(ward_echo_segmenter_new(&s), 0, "segmenter");
	json_object *three =
	    json_object_object_get(ref, "same_frame_segmented_three_times_in_one_process");
	for (int use_ref = 0; use_ref < 2; use_ref++) {
		ward_echo_segmenter_use_ref(s, use_ref);
		struct ward_echo_rng rng = {WARD_ECHO_RNG_SEED};
		for (size_t call = 0; call < 3; call++) {
			memcpy(f, in, 3 * n);
			struct ward_echo_seg_info info;
			CHECK_RC(ward_echo_segment(s, f, w, h, &rng, dm, an, &info), 0, "segment");
			json_object *c = json_object_array_get_idx(three, call);
			char md[33], ma[33];
			md5hex(dm, 3 * n, md);
			md5hex(an, 3 * n, ma);
			long want =
			    json_object_get_int64(json_object_object_get(c, "doppler_nonzero_px"));
			CHECK(
			    (long)info.doppler_px == want &&
			        strcmp(md, json_object_get_string(json_object_object_get(
			                       c, "md5_doppler_masked"))) == 0 &&
			        strcmp(ma, json_object_get_string(
			                       json_object_object_get(c, "md5_anatomic"))) == 0,
			    "%s k-means, call %zu in one process: %zu Doppler px (want %ld), MD5s",
			    use_ref ? "literal" : "fast", call + 1, info.doppler_px, want);
			if (call == 0 && !use_ref) {
				CHECK(memcmp(dm, dm_ref, 3 * n) == 0,
				      "Doppler-masked image == tv_111534_f0_doppler_masked.png");
				CHECK(memcmp(an, an_ref, 3 * n) == 0,
				      "anatomic image == tv_111534_f0_anatomic.png");
				test_textures(ref, dm, w, h);
			}
		}
	}
	ward_echo_segmenter_free(s);
	json_object_put(ref);
	free(js);
	free(in);
	free(dm_ref);
	free(an_ref);
	free(f);
	free(dm);
	free(an);
}

/* reference_values.tsv: the original code's values with and without the IBSI conventions. */
static void test_ibsi(void)
{
	struct ward_echo_volume img, mask;
	CHECK_RC(ward_echo_nifti_read(test_data("echo/phantom.nii.gz"), &img), 0, "phantom.nii.gz");
	CHECK_RC(ward_echo_nifti_read(test_data("echo/mask.nii.gz"), &mask), 0, "mask.nii.gz");
	CHECK(img.nx == 5 && img.ny == 4 && img.nz == 4 && img.dx == 2, "phantom is 5x4x4, 2 mm");
	size_t roi = 0;
	for (size_t i = 0; i < 80; i++)
		roi += mask.v[i] != 0;
	CHECK(roi == 74, "74 ROI voxels");
	size_t len;
	char *tsv = (char *)test_read_file(test_data("echo/reference_values.tsv"), &len);
	double g[2][WARD_ECHO_NGLCM], fo[2][8];
	for (int s = 0; s < 2; s++) {
		struct ward_echo_glcm_opts o = {6, s == 0, s == 0 ? 2 : 0};
		CHECK_RC(ward_echo_ibsi_features(&img, &mask, &o, g[s], fo[s]), 0, "IBSI features");
	}
	static const char *const fo_names[8] = {"mean",   "variance", "skewness", "excess_kurtosis",
	                                        "median", "p10",      "p90",      "iqr"};
	int rows = 0;
	double worst_ibsi = 0, worst_code[2] = {0, 0};
	for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || strncmp(line, "feature\t", 8) == 0)
			continue;
		char name[64];
		double ibsi, sym, pipe;
		if (sscanf(line, "%63[^\t]\t%*[^\t]\t%*[^\t]\t%lf\t%lf\t%lf", name, &ibsi, &sym,
		           &pipe) != 4)
			continue;
		const double *v[2] = {NULL, NULL};
		for (int k = 0; k < WARD_ECHO_NGLCM; k++)
			if (strcmp(name, ward_echo_feature_names[k]) == 0)
				v[0] = &g[0][k], v[1] = &g[1][k];
		for (int k = 0; k < 8; k++)
			if (strcmp(name, fo_names[k]) == 0)
				v[0] = &fo[0][k], v[1] = &fo[1][k];
		if (!v[0])
			continue;
		rows++;
		/* The IBSI values have 3 significant digits. */
		worst_ibsi = fmax(worst_ibsi, fabs(*v[0] - ibsi) / fmax(fabs(ibsi), 1e-3));
		worst_code[0] = fmax(worst_code[0], rel(*v[0], sym));
		worst_code[1] = fmax(worst_code[1], rel(*v[1], pipe));
	}
	CHECK(rows == 27, "27 reference rows compared (%d)", rows);
	CHECK(worst_ibsi < 5e-3, "IBSI reference values, symmetric + log2 (worst %.2g)",
	      worst_ibsi);
	CHECK(worst_code[0] < 1e-8, "original code, symmetric + log2 (worst %.2g)", worst_code[0]);
	CHECK(worst_code[1] < 1e-8, "original code, pipeline setting (worst %.2g)", worst_code[1]);
	free(tsv);
	ward_echo_volume_free(&img);
	ward_echo_volume_free(&mask);
}

static void test_nifti_errors(void)
{
	size_t len;
	uint8_t *gz = test_read_file(test_data("echo/phantom.nii.gz"), &len);
	struct ward_echo_volume v;
	CHECK_RC(ward_echo_nifti_parse(gz, len - 3, &v), WARD_E_FORMAT, "truncated gzip refused");
	gz[len / 2] ^= 0x55;
	int rc = ward_echo_nifti_parse(gz, len, &v);
	CHECK(rc == WARD_E_FORMAT || rc == WARD_E_TRUNCATED, "corrupt gzip refused (%d)", rc);
	uint8_t hdr[400] = {0};
	CHECK_RC(ward_echo_nifti_parse(hdr, 100, &v), WARD_E_FORMAT, "short header refused");
	hdr[0] = 92, hdr[1] = 1; /* 348 */
	CHECK_RC(ward_echo_nifti_parse(hdr, sizeof hdr, &v), WARD_E_FORMAT, "no n+1 magic refused");
	memcpy(hdr + 344, "n+1", 4);
	hdr[40] = 3, hdr[42] = 20, hdr[44] = 2, hdr[46] = 2, hdr[70] = 4; /* 20x2x2 int16 */
	float off = 352;
	memcpy(hdr + 108, &off, 4);
	CHECK_RC(ward_echo_nifti_parse(hdr, sizeof hdr, &v), WARD_E_TRUNCATED,
	         "short data refused");
	hdr[70] = 128; /* RGB24 */
	CHECK_RC(ward_echo_nifti_parse(hdr, sizeof hdr, &v), WARD_E_UNSUPPORTED,
	         "unsupported datatype refused");
	free(gz);
}

static void test_blackout(void)
{
	uint8_t *ref = NULL;
	int w, h;
	CHECK_RC(
	    ward_echo_png_read(test_data("echo/view_classifier_blackout_mask.png"), &ref, &w, &h),
	    0, "blackout mask PNG");
	if (!ref)
		return;
	uint8_t *m = malloc((size_t)w * (size_t)h);
	ward_echo_view_blackout_mask(m, w, h);
	size_t diff = 0, zeros = 0;
	for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
		diff += (ref[3 * i] != 0) != (m[i] != 0);
		zeros += m[i] == 0;
	}
	CHECK(w == 240 && h == 320 && diff == 0 && zeros == 10360,
	      "blackout mask == reference (%zu px differ, %zu blacked out)", diff, zeros);
	int votes[] = {2, 0, 0, 2, 1, 1};
	CHECK(ward_echo_view_majority(votes, 6) == 0, "majority vote: ties go to the lower class");
	CHECK(ward_echo_view_majority(votes, 1) == 2, "majority vote of one frame");
	free(m);
	free(ref);
}

/* Aggregation and decision from the reference per-frame features (no video needed). */
static void test_classifier(void)
{
	size_t len;
	char *tsv = (char *)test_read_file(test_data("echo/texture_classifier_params.tsv"), &len);
	struct ward_echo_lr lr;
	CHECK_RC(ward_echo_lr_parse(tsv, &lr), 0, "classifier TSV parses");
	CHECK(memcmp(&lr, &ward_echo_lr_original, sizeof lr) == 0,
	      "built-in classifier == texture_classifier_params.tsv");
	free(tsv);
	char *js = (char *)test_read_file(test_data("echo/pipeline_per_frame.json"), &len);
	json_object *ref = json_tokener_parse(js);
	json_object *videos = json_object_object_get(ref, "videos");
	size_t nv = json_object_array_length(videos);
	double worst_x = 0, worst_d = 0;
	int labels_ok = 1;
	for (size_t v = 0; v < nv; v++) {
		json_object *vid = json_object_array_get_idx(videos, v);
		json_object *pf = json_object_object_get(vid, "per_frame");
		size_t nf = json_object_array_length(pf), n = 0;
		double *feat = malloc(nf * WARD_ECHO_NFEAT * sizeof *feat);
		for (size_t f = 0; f < nf; f++) {
			json_object *t =
			    json_object_object_get(json_object_array_get_idx(pf, f), "textures");
			if (!t || json_object_get_type(t) != json_type_array)
				continue;
			for (size_t k = 0; k < WARD_ECHO_NFEAT; k++) {
				json_object *e = json_object_array_get_idx(t, k);
				feat[n * WARD_ECHO_NFEAT + k] = e ? json_object_get_double(e) : NAN;
			}
			n++;
		}
		double x[WARD_ECHO_NX];
		CHECK_RC(ward_echo_aggregate(feat, n, x, NULL), 0, "aggregate");
		json_object *x57 = json_object_object_get(vid, "x57");
		for (size_t k = 0; k < WARD_ECHO_NX; k++)
			worst_x = fmax(worst_x, rel(x[k], json_object_get_double(
			                                      json_object_array_get_idx(x57, k))));
		double d = ward_echo_lr_decision(&ward_echo_lr_original, x);
		worst_d = fmax(worst_d, rel(d, json_object_get_double(
		                                   json_object_object_get(vid, "lr_decision"))));
		labels_ok &= (d > 0) == json_object_get_int(json_object_object_get(vid, "label"));
		free(feat);
	}
	CHECK(nv == 6 && worst_x < 1e-12,
	      "x[0:57] of 6 videos from the reference features (worst %.2g)", worst_x);
	CHECK(worst_d < 1e-12, "LR decision values (worst %.2g)", worst_d);
	CHECK(labels_ok, "labels");
	json_object_put(ref);
	free(js);
	/* Python's list max: NaN first never wins, ties go to the next feature. */
	double a[3][WARD_ECHO_NFEAT] = {{0}};
	a[0][0] = 5, a[1][0] = NAN, a[2][0] = 5, a[2][1] = 1;
	for (int f = 0; f < 3; f++)
		a[f][26] = f + 1.0;
	double x[WARD_ECHO_NX];
	size_t picked = 9;
	CHECK_RC(ward_echo_aggregate(&a[0][0], 3, x, &picked), 0, "aggregate with NaN");
	CHECK(picked == 2 && x[56] == 3.0, "x56 from Python's list max (picked frame %zu)", picked);
	a[0][0] = NAN;
	ward_echo_aggregate(&a[0][0], 3, x, &picked);
	CHECK(picked == 0 && x[56] == 1.0 && x[0] == 5.0 && x[28] == 5.0,
	      "a NaN in the current best is never replaced; nanmean/nanmedian skip NaN");
}

static void test_blur_gray(void)
{
	enum { W = 7, H = 5 };
	uint8_t src[W * H], dst[W * H];
	test_fill(src, sizeof src, 42);
	CHECK_RC(ward_echo_gauss3(src, dst, W, H), 0, "blur");
	int ok = 1;
	for (int r = 0; r < H; r++)
		for (int c = 0; c < W; c++) {
			/* 2D direct sum with mirrored indices: the separable fixed point is exact.
			 */
			static const int k[3] = {84, 88, 84};
			long acc = 0;
			for (int dr = -1; dr <= 1; dr++)
				for (int dc = -1; dc <= 1; dc++) {
					int rr = abs(r + dr), cc = abs(c + dc);
					rr = rr >= H ? 2 * H - 2 - rr : rr;
					cc = cc >= W ? 2 * W - 2 - cc : cc;
					acc += (long)k[dr + 1] * k[dc + 1] * src[rr * W + cc];
				}
			ok &= dst[r * W + c] == (uint8_t)((acc + 32768) >> 16);
		}
	CHECK(ok, "3x3 Gaussian == direct 2D fixed-point sum with reflect-101 borders");
	CHECK(ward_echo_gray(255, 255, 255) == 255 && ward_echo_gray(0, 0, 0) == 0 &&
	          ward_echo_gray(0, 0, 255) == 76 && ward_echo_gray(255, 0, 0) == 29,
	      "grey of white, black, red, blue");
	float lab[3];
	ward_echo_rgb2lab((const uint8_t[3]){255, 255, 255}, lab);
	CHECK(fabsf(lab[0] - 100.f) < 1e-4f && fabsf(lab[1]) < 1e-2f && fabsf(lab[2]) < 1e-2f,
	      "Lab of white = (100, 0, 0)");
}

int main(void)
{
	test_blur_gray();
	test_kmeans();
	test_kmeans_options();
	test_kmeans_sums();
	test_textures_region();
	test_segmentation();
	test_ibsi();
	test_nifti_errors();
	test_blackout();
	test_classifier();
	return test_done();
}
