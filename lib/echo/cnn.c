/* The view classifier CNN: Keras 2.2.4 HDF5 weights, 5 x (conv3x3 + ReLU + maxpool2), dense,
 * softmax. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <hdf5.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

#define NLAYERS (WARD_ECHO_CNN_BLOCKS + 1)

/*
 * OpenBLAS (its pthreads build, Debian's default) starts a thread pool when it
 * is loaded, and each idle thread spins (sched_yield) for a while before it
 * sleeps: 30-100 ms of CPU for every `ward echo` command, although only
 * `analyse --weights` runs the CNN. So the pool is stopped as soon as this
 * code is loaded (OpenBLAS initialises first, as a dependency). OpenBLAS
 * starts it again by itself at its first multithreaded call (the path it
 * takes after fork(), which is what blas_thread_shutdown_ exists for).
 * The function is exported by OpenBLAS but not declared in cblas.h; weak, so
 * that another BLAS without it is left alone.
 */
extern int blas_thread_shutdown_(void) __attribute__((weak));

__attribute__((constructor)) static void cnn_park_blas_threads(void)
{
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
}

struct cnn_layer {
	int cin, cout; /* conv: channels; dense: inputs, outputs */
	float *kernel; /* conv HWIO (9*cin rows x cout); dense (cin x cout) */
	float *bias;
};

struct ward_echo_cnn {
	int h, w;
	struct cnn_layer l[NLAYERS];
	float *a, *b, *col; /* activations (ping-pong) and the im2col buffer */
};

/* Reads a string attribute (one or an array, fixed or variable length) into a malloc'ed vector. */
static int read_strings(hid_t obj, const char *name, char ***out, int *n)
{
	*out = NULL;
	*n = 0;
	if (H5Aexists(obj, name) <= 0)
		return ward_error(WARD_E_FORMAT, "HDF5: no attribute %s", name);
	hid_t at = H5Aopen(obj, name, H5P_DEFAULT), ty = H5Aget_type(at), sp = H5Aget_space(at);
	int rc = 0;
	hssize_t cnt = H5Sget_simple_extent_npoints(sp);
	char **v = NULL;
	if (at < 0 || ty < 0 || sp < 0 || cnt < 0 || cnt > 4096 || H5Tget_class(ty) != H5T_STRING) {
		rc = ward_error(WARD_E_FORMAT, "HDF5: attribute %s is not a string list", name);
		goto cleanup;
	}
	v = calloc((size_t)cnt + 1, sizeof *v);
	if (!v) {
		rc = ward_error(WARD_E_NOMEM, "HDF5: out of memory");
		goto cleanup;
	}
	if (H5Tis_variable_str(ty) > 0) {
		hid_t mt = H5Tcopy(H5T_C_S1);
		H5Tset_size(mt, H5T_VARIABLE);
		if (H5Aread(at, mt, v) < 0)
			rc = ward_error(WARD_E_FORMAT, "HDF5: cannot read %s", name);
		for (hssize_t i = 0; rc == 0 && i < cnt; i++) {
			char *s = strdup(v[i] ? v[i] : "");
			H5free_memory(v[i]);
			v[i] = s;
		}
		H5Tclose(mt);
	} else {
		size_t sz = H5Tget_size(ty);
		char *buf = calloc((size_t)cnt, sz + 1);
		hid_t mt = H5Tcopy(H5T_C_S1);
		H5Tset_size(mt, sz);
		if (!buf || H5Aread(at, mt, buf) < 0)
			rc = ward_error(WARD_E_FORMAT, "HDF5: cannot read %s", name);
		for (hssize_t i = 0; rc == 0 && i < cnt; i++)
			v[i] = strndup(buf + (size_t)i * sz, sz);
		free(buf);
		H5Tclose(mt);
	}
	*out = v;
	*n = (int)cnt;
cleanup:
	if (sp >= 0)
		H5Sclose(sp);
	if (ty >= 0)
		H5Tclose(ty);
	if (at >= 0)
		H5Aclose(at);
	return rc;
}

static void free_strings(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Reads a float dataset of the given rank; dims receives its shape. */
static int read_dataset(hid_t g, const char *path, int rank, hsize_t dims[4], float **out)
{
	*out = NULL;
	if (H5Lexists(g, path, H5P_DEFAULT) <= 0)
		return ward_error(WARD_E_FORMAT, "HDF5: no dataset %s", path);
	hid_t ds = H5Dopen(g, path, H5P_DEFAULT);
	hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
	int rc = 0;
	if (sp < 0 || H5Sget_simple_extent_ndims(sp) != rank) {
		rc = ward_error(WARD_E_FORMAT, "HDF5: %s is not of rank %d", path, rank);
		goto cleanup;
	}
	H5Sget_simple_extent_dims(sp, dims, NULL);
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] == 0 || dims[i] > (1u << 20) || n > (1u << 28) / dims[i]) {
			rc = ward_error(WARD_E_FORMAT, "HDF5: %s has a bad shape", path);
			goto cleanup;
		}
		n *= dims[i];
	}
	*out = malloc(n * sizeof **out);
	if (!*out)
		rc = ward_error(WARD_E_NOMEM, "HDF5: out of memory");
	else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
		rc = ward_error(WARD_E_FORMAT, "HDF5: cannot read %s", path);
cleanup:
	if (rc) {
		free(*out);
		*out = NULL;
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ds >= 0)
		H5Dclose(ds);
	return rc;
}

/* Loads layer i from group <name>/<name>/{kernel,bias}:0 and checks its shape. */
static int load_layer(hid_t root, const char *name, int i, int cin, struct cnn_layer *l)
{
	char kp[512], bp[512];
	snprintf(kp, sizeof kp, "%s/%s/kernel:0", name, name);
	snprintf(bp, sizeof bp, "%s/%s/bias:0", name, name);
	hsize_t kd[4] = {0}, bd[4] = {0};
	int conv = i < WARD_ECHO_CNN_BLOCKS;
	int rc = read_dataset(root, kp, conv ? 4 : 2, kd, &l->kernel);
	if (rc == 0)
		rc = read_dataset(root, bp, 1, bd, &l->bias);
	if (rc)
		return rc;
	hsize_t in = conv ? kd[2] : kd[0], out = conv ? kd[3] : kd[1];
	if ((conv && (kd[0] != 3 || kd[1] != 3)) || in != (hsize_t)cin || bd[0] != out)
		return ward_error(WARD_E_FORMAT,
		                  "HDF5: layer %d (%s) has shape %llux%llux%llux%llu", i + 1, name,
		                  (unsigned long long)kd[0], (unsigned long long)kd[1],
		                  (unsigned long long)kd[2], (unsigned long long)kd[3]);
	l->cin = cin;
	l->cout = (int)out;
	return 0;
}

/* Maps the layers that have weights, in order, to the 5 convolutions and the dense layer. */
static int load_layers(hid_t file, struct ward_echo_cnn *c)
{
	hid_t root = H5Lexists(file, "model_weights", H5P_DEFAULT) > 0
	                 ? H5Gopen(file, "model_weights", H5P_DEFAULT)
	                 : H5Gopen(file, "/", H5P_DEFAULT);
	if (root < 0)
		return ward_error(WARD_E_FORMAT, "HDF5: no model_weights group");
	char **names = NULL;
	int n = 0, used = 0;
	int rc = read_strings(root, "layer_names", &names, &n);
	int cin = 1, hh = c->h, ww = c->w;
	for (int i = 0; rc == 0 && i < n && used < NLAYERS; i++) {
		hid_t g = H5Gopen(root, names[i], H5P_DEFAULT);
		if (g < 0) {
			rc = ward_error(WARD_E_FORMAT, "HDF5: no group for layer %s", names[i]);
			break;
		}
		char **wn = NULL;
		int nw = 0;
		rc = read_strings(g, "weight_names", &wn, &nw);
		free_strings(wn);
		H5Gclose(g);
		if (rc || nw == 0)
			continue; /* input, activation, pooling and flatten layers */
		if (used == WARD_ECHO_CNN_BLOCKS)
			cin *= hh * ww; /* flatten */
		rc = load_layer(root, names[i], used, cin, &c->l[used]);
		cin = c->l[used].cout;
		hh /= 2;
		ww /= 2;
		used++;
	}
	if (rc == 0 && used != NLAYERS)
		rc = ward_error(WARD_E_FORMAT, "HDF5: %d layers with weights, expected %d", used,
		                NLAYERS);
	if (rc == 0 && c->l[NLAYERS - 1].cout != WARD_ECHO_CNN_CLASSES)
		rc = ward_error(WARD_E_FORMAT, "HDF5: the dense layer has %d outputs, expected 3",
		                c->l[NLAYERS - 1].cout);
	free_strings(names);
	H5Gclose(root);
	return rc;
}

int ward_echo_cnn_load(const char *path, int h, int w, struct ward_echo_cnn **out)
{
	*out = NULL;
	if (h < 32 || w < 32 || h > 4096 || w > 4096)
		return ward_error(WARD_E_INVAL, "CNN: input %dx%d too small or too large", h, w);
	struct ward_echo_cnn *c = calloc(1, sizeof *c);
	if (!c)
		return ward_error(WARD_E_NOMEM, "CNN: out of memory");
	c->h = h;
	c->w = w;
	H5Eset_auto(H5E_DEFAULT, NULL, NULL); /* the library never prints */
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	int rc = f < 0 ? ward_error(WARD_E_IO, "%s: cannot open as HDF5", path) : 0;
	if (rc == 0)
		rc = load_layers(f, c);
	if (f >= 0)
		H5Fclose(f);
	/* Buffers: the largest activation and im2col matrix (first two layers dominate). */
	size_t act = 0, col = 0;
	for (int i = 0, hh = h, ww = w; rc == 0 && i < WARD_ECHO_CNN_BLOCKS;
	     i++, hh /= 2, ww /= 2) {
		size_t px = (size_t)hh * (size_t)ww;
		size_t a = px * (size_t)(c->l[i].cout > c->l[i].cin ? c->l[i].cout : c->l[i].cin);
		act = a > act ? a : act;
		col = px * 9 * (size_t)c->l[i].cin > col ? px * 9 * (size_t)c->l[i].cin : col;
	}
	if (rc == 0) {
		c->a = malloc(act * sizeof(float));
		c->b = malloc(act * sizeof(float));
		c->col = malloc(col * sizeof(float));
		if (!c->a || !c->b || !c->col)
			rc = ward_error(WARD_E_NOMEM, "CNN: out of memory");
	}
	if (rc) {
		ward_echo_cnn_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ward_echo_cnn_free(struct ward_echo_cnn *c)
{
	if (!c)
		return;
	for (int i = 0; i < NLAYERS; i++) {
		free(c->l[i].kernel);
		free(c->l[i].bias);
	}
	free(c->a);
	free(c->b);
	free(c->col);
	free(c);
}

/* im2col for a 3x3 'same' convolution with zero padding: rows (y, x), columns (ky, kx, ci). */
static void im2col(const float *in, int h, int w, int cin, float *col)
{
	size_t k = 9 * (size_t)cin;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			float *row = col + ((size_t)y * (size_t)w + (size_t)x) * k;
			for (int ky = 0; ky < 3; ky++)
				for (int kx = 0; kx < 3; kx++, row += cin) {
					int sy = y + ky - 1, sx = x + kx - 1;
					if (sy < 0 || sy >= h || sx < 0 || sx >= w)
						memset(row, 0, (size_t)cin * sizeof *row);
					else
						memcpy(row,
						       in + ((size_t)sy * (size_t)w + (size_t)sx) *
						                (size_t)cin,
						       (size_t)cin * sizeof *row);
				}
		}
}

/* ReLU then 2x2 max pooling with stride 2 (floor): HWC in, HWC out. */
static void relu_pool(const float *in, int h, int w, int ch, float *out)
{
	int oh = h / 2, ow = w / 2;
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			const float *p =
			    in + ((size_t)(2 * y) * (size_t)w + (size_t)(2 * x)) * (size_t)ch;
			const float *q = p + (size_t)w * (size_t)ch;
			float *o = out + ((size_t)y * (size_t)ow + (size_t)x) * (size_t)ch;
			for (int c = 0; c < ch; c++) {
				float m = fmaxf(fmaxf(p[c], p[c + ch]), fmaxf(q[c], q[c + ch]));
				o[c] = m > 0 ? m : 0;
			}
		}
}

int ward_echo_cnn_forward(struct ward_echo_cnn *c, const float *in, float prob[static 3])
{
	int h = c->h, w = c->w;
	const float *x = in;
	for (int i = 0; i < WARD_ECHO_CNN_BLOCKS; i++) {
		const struct cnn_layer *l = &c->l[i];
		int px = h * w, k = 9 * l->cin;
		im2col(x, h, w, l->cin, c->col);
		for (int p = 0; p < px; p++)
			memcpy(c->b + (size_t)p * (size_t)l->cout, l->bias,
			       (size_t)l->cout * sizeof(float));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, px, l->cout, k, 1.0f, c->col,
		            k, l->kernel, l->cout, 1.0f, c->b, l->cout);
		relu_pool(c->b, h, w, l->cout, c->a);
		x = c->a;
		h /= 2;
		w /= 2;
	}
	const struct cnn_layer *d = &c->l[WARD_ECHO_CNN_BLOCKS];
	float z[WARD_ECHO_CNN_CLASSES];
	memcpy(z, d->bias, sizeof z);
	cblas_sgemv(CblasRowMajor, CblasTrans, d->cin, d->cout, 1.0f, d->kernel, d->cout, x, 1,
	            1.0f, z, 1);
	float m = fmaxf(fmaxf(z[0], z[1]), z[2]), s = 0;
	for (int j = 0; j < 3; j++)
		s += prob[j] = expf(z[j] - m);
	for (int j = 0; j < 3; j++)
		prob[j] /= s;
	return 0;
}
