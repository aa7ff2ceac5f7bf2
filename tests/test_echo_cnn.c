/* View-classifier CNN: Keras-layout HDF5 written here, forward pass vs a naive double-precision
 * one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hdf5.h>

#include "echo/analysis_internal.h"
#include "test.h"

struct net {
	int h, w, filters[5];
	float *k[6], *b[6];
	int cin[6], cout[6];
};

static float frand(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)((*s >> 8) / 16777216.0 - 0.5);
}

/* Random weights, scaled by fan-in so the logits stay informative. */
static void net_init(struct net *n, int h, int w, const int filters[5], int classes, uint32_t seed)
{
	n->h = h;
	n->w = w;
	int cin = 1, hh = h, ww = w;
	for (int i = 0; i < 6; i++) {
		int conv = i < 5, cout = conv ? filters[i] : classes;
		if (!conv)
			cin *= hh * ww;
		size_t nk = (size_t)(conv ? 9 : 1) * (size_t)cin * (size_t)cout;
		n->k[i] = malloc(nk * sizeof(float));
		n->b[i] = malloc((size_t)cout * sizeof(float));
		float scale = 2.0f / sqrtf((float)(conv ? 9 * cin : cin));
		for (size_t j = 0; j < nk; j++)
			n->k[i][j] = frand(&seed) * scale;
		for (int j = 0; j < cout; j++)
			n->b[i][j] = frand(&seed) * 0.2f;
		n->cin[i] = cin;
		n->cout[i] = cout;
		cin = cout;
		hh /= 2;
		ww /= 2;
	}
}

static void net_free(struct net *n)
{
	for (int i = 0; i < 6; i++) {
		free(n->k[i]);
		free(n->b[i]);
	}
}

static void str_attr(hid_t obj, const char *name, const char *const *v, int n)
{
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len = strlen(v[i]) > len ? strlen(v[i]) : len;
	hid_t ty = H5Tcopy(H5T_C_S1);
	H5Tset_size(ty, len);
	hsize_t dim = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
	char *buf = calloc((size_t)(n ? n : 1), len);
	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * len, v[i], strlen(v[i]));
	hid_t at = H5Acreate2(obj, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
	if (n)
		H5Awrite(at, ty, buf);
	H5Aclose(at);
	H5Sclose(sp);
	H5Tclose(ty);
	free(buf);
}

static void dataset(hid_t g, const char *name, int rank, const hsize_t *dims, const float *v)
{
	hid_t sp = H5Screate_simple(rank, dims, NULL);
	hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
	H5Dclose(ds);
	H5Sclose(sp);
}

/* A Keras 2.2.4 save_model layout: model_weights/<layer>/<layer>/{kernel,bias}:0. */
static int write_keras(const char *path, const struct net *n)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (f < 0)
		return -1;
	hid_t mw = H5Gcreate2(f, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	const char *names[13];
	char buf[13][32];
	int nl = 0, conv = 0, pool = 0;
	snprintf(buf[nl], 32, "input_1");
	names[nl] = buf[nl], nl++;
	for (int i = 0; i < 5; i++) {
		snprintf(buf[nl], 32, "conv2d_%d", ++conv);
		names[nl] = buf[nl], nl++;
		snprintf(buf[nl], 32, "max_pooling2d_%d", ++pool);
		names[nl] = buf[nl], nl++;
	}
	snprintf(buf[nl], 32, "flatten_1");
	names[nl] = buf[nl], nl++;
	snprintf(buf[nl], 32, "dense_1");
	names[nl] = buf[nl], nl++;
	str_attr(mw, "layer_names", names, nl);
	for (int i = 0, wl = 0; i < nl; i++) {
		hid_t g = H5Gcreate2(mw, names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		int has = strncmp(names[i], "conv", 4) == 0 || strncmp(names[i], "dense", 5) == 0;
		if (!has) {
			str_attr(g, "weight_names", NULL, 0);
			H5Gclose(g);
			continue;
		}
		char kn[64], bn[64];
		snprintf(kn, sizeof kn, "%s/kernel:0", names[i]);
		snprintf(bn, sizeof bn, "%s/bias:0", names[i]);
		const char *wn[2] = {kn, bn};
		str_attr(g, "weight_names", wn, 2);
		hid_t sub = H5Gcreate2(g, names[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		hsize_t kd4[4] = {3, 3, (hsize_t)n->cin[wl], (hsize_t)n->cout[wl]};
		hsize_t kd2[2] = {(hsize_t)n->cin[wl], (hsize_t)n->cout[wl]};
		hsize_t bd = (hsize_t)n->cout[wl];
		dataset(sub, "kernel:0", wl < 5 ? 4 : 2, wl < 5 ? kd4 : kd2, n->k[wl]);
		dataset(sub, "bias:0", 1, &bd, n->b[wl]);
		H5Gclose(sub);
		H5Gclose(g);
		wl++;
	}
	H5Gclose(mw);
	H5Fclose(f);
	return 0;
}

/* The independent reference: direct convolution in double, HWC, Keras semantics. */
static void naive_forward(const struct net *n, const float *in, double prob[3])
{
	int h = n->h, w = n->w, c = 1;
	double *x = malloc((size_t)h * (size_t)w * sizeof *x);
	for (size_t i = 0; i < (size_t)h * (size_t)w; i++)
		x[i] = in[i];
	for (int l = 0; l < 5; l++) {
		int co = n->cout[l];
		double *y = malloc((size_t)h * (size_t)w * (size_t)co * sizeof *y);
		for (int r = 0; r < h; r++)
			for (int q = 0; q < w; q++)
				for (int o = 0; o < co; o++) {
					double s = n->b[l][o];
					for (int dr = 0; dr < 3; dr++)
						for (int dq = 0; dq < 3; dq++) {
							int rr = r + dr - 1, qq = q + dq - 1;
							if (rr < 0 || rr >= h || qq < 0 || qq >= w)
								continue;
							for (int i = 0; i < c; i++)
								s +=
								    x[((size_t)rr * w + qq) * c +
								      i] *
								    n->k[l][(((size_t)dr * 3 + dq) *
								                 c +
								             i) *
								                co +
								            o];
						}
					y[((size_t)r * w + q) * co + o] = s > 0 ? s : 0;
				}
		int oh = h / 2, ow = w / 2;
		double *p = malloc((size_t)oh * (size_t)ow * (size_t)co * sizeof *p);
		for (int r = 0; r < oh; r++)
			for (int q = 0; q < ow; q++)
				for (int o = 0; o < co; o++) {
					double m = -INFINITY;
					for (int dr = 0; dr < 2; dr++)
						for (int dq = 0; dq < 2; dq++)
							m = fmax(m, y[((size_t)(2 * r + dr) * w +
							               2 * q + dq) *
							                  co +
							              o]);
					p[((size_t)r * ow + q) * co + o] = m;
				}
		free(x);
		free(y);
		x = p;
		h = oh;
		w = ow;
		c = co;
	}
	double z[3], mx = -INFINITY, s = 0;
	for (int o = 0; o < 3; o++) {
		z[o] = n->b[5][o];
		for (int i = 0; i < n->cin[5]; i++)
			z[o] += x[i] * n->k[5][(size_t)i * 3 + o];
		mx = fmax(mx, z[o]);
	}
	for (int o = 0; o < 3; o++)
		s += prob[o] = exp(z[o] - mx);
	for (int o = 0; o < 3; o++)
		prob[o] /= s;
	free(x);
}

static void test_small(void)
{
	static const int filters[5] = {4, 8, 8, 16, 16};
	static const int sizes[][2] = {{40, 36}, {64, 35}};
	for (size_t t = 0; t < 2; t++) {
		struct net n;
		int h = sizes[t][0], w = sizes[t][1];
		net_init(&n, h, w, filters, 3, 7 + (uint32_t)t);
		char path[4200];
		snprintf(path, sizeof path, "%s/w%zu.hdf5", test_tmpdir(), t);
		CHECK(write_keras(path, &n) == 0, "Keras-layout HDF5 written (%dx%d)", h, w);
		struct ward_echo_cnn *c;
		CHECK_RC(ward_echo_cnn_load(path, h, w, &c), 0,
		         "weights load, layers mapped by order");
		float *in = malloc((size_t)h * (size_t)w * sizeof *in);
		double worst = 0;
		for (int trial = 0; trial < 3 && c; trial++) {
			uint32_t s = 99 + (uint32_t)trial;
			for (int i = 0; i < h * w; i++)
				in[i] = frand(&s) * 4;
			float p[3];
			double q[3];
			CHECK_RC(ward_echo_cnn_forward(c, in, p), 0, "forward");
			naive_forward(&n, in, q);
			for (int o = 0; o < 3; o++)
				worst = fmax(worst, fabs(p[o] - q[o]));
		}
		CHECK(worst < 1e-4, "softmax == naive double forward pass (%dx%d, worst %.2g)", h,
		      w, worst);
		ward_echo_cnn_free(c);
		/* The same file for another input size has a dense layer of the wrong size. */
		CHECK_RC(ward_echo_cnn_load(path, h * 2, w * 2, &c), WARD_E_FORMAT,
		         "dense size mismatch refused");
		free(in);
		net_free(&n);
	}
	struct net n;
	net_init(&n, 40, 36, filters, 4, 1);
	char path[4200];
	snprintf(path, sizeof path, "%s/four.hdf5", test_tmpdir());
	write_keras(path, &n);
	struct ward_echo_cnn *c;
	CHECK_RC(ward_echo_cnn_load(path, 40, 36, &c), WARD_E_FORMAT, "4 classes refused");
	CHECK_RC(ward_echo_cnn_load("/nonexistent/x.hdf5", 40, 36, &c), WARD_E_IO,
	         "missing file refused");
	net_free(&n);
}

/* Full-size random weights of the original architecture (used by bench/echo.sh). */
static int write_full(const char *path)
{
	static const int filters[5] = {32, 64, 128, 256, 512};
	struct net n;
	net_init(&n, 320, 240, filters, 3, 12345);
	int rc = write_keras(path, &n);
	net_free(&n);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-weights") == 0)
		return write_full(argv[2]) ? 1 : 0;
	H5Eset_auto(H5E_DEFAULT, NULL, NULL);
	test_small();
	char path[4200];
	snprintf(path, sizeof path, "%s/full.hdf5", test_tmpdir());
	CHECK(write_full(path) == 0, "full-size weights written");
	struct ward_echo_cnn *c;
	CHECK_RC(ward_echo_cnn_load(path, 320, 240, &c), 0,
	         "full-size network loads (1675523 parameters)");
	float *in = calloc(320 * 240, sizeof *in);
	float p[3];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_RC(c ? ward_echo_cnn_forward(c, in, p) : WARD_E_INVAL, 0, "full-size forward pass");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("info: full-size CNN forward pass %.1f ms\n",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	CHECK(fabsf(p[0] + p[1] + p[2] - 1) < 1e-5, "probabilities sum to 1");
	free(in);
	ward_echo_cnn_free(c);
	return test_done();
}
