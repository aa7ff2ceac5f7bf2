/* One video through the original main.py: Doppler test, segmentation, view gate, textures, label.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"
#include "echo/echo_internal.h"

struct ward_echo_analyser {
	struct ward_echo_analyse_opts o;
	struct ward_echo_rng rng; /* compat: carried across frames and videos */
	struct ward_echo_segmenter *seg;
	struct ward_echo_cnn *cnn;
	int cnn_h, cnn_w;
	uint8_t *frame, *orig, *dm, *an, *vmask, *ov;
	float *vin;
	size_t npx;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int ward_echo_analyser_new(const struct ward_echo_analyse_opts *o, struct ward_echo_analyser **out)
{
	*out = NULL;
	if (!o->weights && !o->no_view_filter)
		return ward_error(WARD_E_INVAL,
		                  "no view-classifier weights (the original classifier.hdf5 was "
		                  "never published): give --weights FILE or --no-view-filter");
	struct ward_echo_analyser *a = calloc(1, sizeof *a);
	if (!a)
		return ward_error(WARD_E_NOMEM, "analyse: out of memory");
	a->o = *o;
	a->rng.state = WARD_ECHO_RNG_SEED;
	int rc = ward_echo_segmenter_new(&a->seg);
	if (rc) {
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void ward_echo_analyser_free(struct ward_echo_analyser *a)
{
	if (!a)
		return;
	ward_echo_segmenter_free(a->seg);
	ward_echo_cnn_free(a->cnn);
	free(a->frame);
	free(a->orig);
	free(a->dm);
	free(a->an);
	free(a->vmask);
	free(a->ov);
	free(a->vin);
	free(a);
}

void ward_echo_video_result_free(struct ward_echo_video_result *r)
{
	if (!r)
		return;
	free(r->f);
	r->f = NULL;
}

static int buffers(struct ward_echo_analyser *a, int w, int h)
{
	size_t npx = (size_t)w * (size_t)h;
	if (npx <= a->npx)
		return 0;
	free(a->frame);
	free(a->orig);
	free(a->dm);
	free(a->an);
	free(a->vmask);
	free(a->ov);
	free(a->vin);
	a->frame = malloc(3 * npx);
	a->orig = malloc(3 * npx);
	a->dm = malloc(3 * npx);
	a->an = malloc(3 * npx);
	a->vmask = malloc(npx);
	a->ov = malloc(3 * npx);
	a->vin = malloc(npx * sizeof(float));
	if (!a->frame || !a->orig || !a->dm || !a->an || !a->vmask || !a->ov || !a->vin) {
		a->npx = 0;
		return ward_error(WARD_E_NOMEM, "analyse: out of memory");
	}
	a->npx = npx;
	return 0;
}

static void md5(const uint8_t *b, size_t n, uint8_t out[16])
{
	unsigned len = 16;
	if (!EVP_Digest(b, n, out, &len, EVP_md5(), NULL))
		memset(out, 0, 16);
}

/* The view CNN on one anatomic image; loads the weights for this frame size on first use. */
static int view_frame(struct ward_echo_analyser *a, int w, int h, struct ward_echo_frame_result *fr)
{
	fr->view = -1;
	if (a->o.no_view_filter)
		return 0;
	if (!a->cnn || a->cnn_w != w || a->cnn_h != h) {
		ward_echo_cnn_free(a->cnn);
		a->cnn = NULL;
		int rc = ward_echo_cnn_load(a->o.weights, h, w, &a->cnn);
		if (rc)
			return rc;
		a->cnn_w = w;
		a->cnn_h = h;
	}
	ward_echo_view_blackout_mask(a->vmask, w, h);
	ward_echo_view_preprocess(a->an, w, h, a->vmask, a->vin);
	int rc = ward_echo_cnn_forward(a->cnn, a->vin, fr->prob);
	if (rc)
		return rc;
	fr->view = 0;
	for (int c = 1; c < WARD_ECHO_CNN_CLASSES; c++)
		if (fr->prob[c] > fr->prob[fr->view])
			fr->view = c;
	return 0;
}

/* Overlay for a person: grey anatomy, the Doppler segmentation in colour, its outline in yellow. */
static int overlay(struct ward_echo_analyser *a, const char *name, size_t idx, int w, int h)
{
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/%s", a->o.overlay_dir, name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ward_error_errno("%s", dir);
	struct ward_echo_frame f = {w, h, 3 * (size_t)w, a->orig};
	ward_echo_frame_mask_text(&f); /* no burned-in exam number or date in the picture */
	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			size_t i = (size_t)r * (size_t)w + (size_t)c;
			const uint8_t *d = a->dm + 3 * i, *o = a->orig + 3 * i;
			uint8_t *p = a->ov + 3 * i;
			int in = d[0] | d[1] | d[2];
			int edge =
			    in && (r == 0 || c == 0 || r == h - 1 || c == w - 1 ||
			           !(a->dm[3 * (i - 1)] | a->dm[3 * (i - 1) + 1] |
			             a->dm[3 * (i - 1) + 2]) ||
			           !(a->dm[3 * (i + 1)] | a->dm[3 * (i + 1) + 1] |
			             a->dm[3 * (i + 1) + 2]) ||
			           !(a->dm[3 * (i - (size_t)w)] | a->dm[3 * (i - (size_t)w) + 1] |
			             a->dm[3 * (i - (size_t)w) + 2]) ||
			           !(a->dm[3 * (i + (size_t)w)] | a->dm[3 * (i + (size_t)w) + 1] |
			             a->dm[3 * (i + (size_t)w) + 2]));
			uint8_t g = ward_echo_gray(o[0], o[1], o[2]);
			if (edge) {
				p[0] = 0, p[1] = 255, p[2] = 255;
			} else if (in) {
				memcpy(p, d, 3);
			} else {
				p[0] = p[1] = p[2] = (uint8_t)(g / 2);
			}
		}
	snprintf(path, sizeof path, "%s/%zu.png", dir, idx);
	return ward_echo_png_write(path, a->ov, w, h, 3 * (size_t)w, 1);
}

/* Segmentation, view and textures of one decoded frame. */
static int one_frame(struct ward_echo_analyser *a, const struct ward_echo_frame *fr,
                     const char *name, struct ward_echo_video_result *r)
{
	int w = fr->width, h = fr->height;
	int rc = buffers(a, w, h);
	if (rc)
		return rc;
	for (int y = 0; y < h; y++)
		memcpy(a->frame + (size_t)y * 3 * (size_t)w, fr->bgr + (size_t)y * fr->stride,
		       3 * (size_t)w);
	if (a->o.overlay_dir)
		memcpy(a->orig, a->frame, 3 * (size_t)w * (size_t)h);
	struct ward_echo_frame_result *f = &r->f[r->nframes];
	memset(f, 0, sizeof *f);
	struct ward_echo_rng fixed = {WARD_ECHO_RNG_SEED};
	struct ward_echo_seg_info info;
	double t0 = now_ms();
	rc = ward_echo_segment(a->seg, a->frame, w, h, a->o.compat ? &a->rng : &fixed, a->dm, a->an,
	                       &info);
	double t1 = now_ms();
	r->ms_segment += t1 - t0;
	if (rc)
		return rc;
	f->doppler_px = info.doppler_px;
	f->doppler_clusters = info.doppler_clusters;
	if (a->o.frame_hashes) {
		md5(a->dm, 3 * (size_t)w * (size_t)h, f->md5_dm);
		md5(a->an, 3 * (size_t)w * (size_t)h, f->md5_an);
	}
	rc = view_frame(a, w, h, f);
	double t2 = now_ms();
	r->ms_cnn += t2 - t1;
	if (rc)
		return rc;
	if (f->doppler_px > 0) {
		struct ward_echo_glcm_opts go = {64, a->o.ibsi, a->o.ibsi ? 2 : 0};
		rc = ward_echo_textures(a->dm, w, h, &go, f->feat, NULL);
		f->has_textures = rc == 0;
	}
	r->ms_textures += now_ms() - t2;
	if (rc == 0 && a->o.overlay_dir)
		rc = overlay(a, name, r->nframes, w, h);
	r->nframes++;
	return rc;
}

/* View gate, aggregation and the classifier, once every frame is done. */
static int conclude(struct ward_echo_analyser *a, struct ward_echo_video_result *r)
{
	r->label = -1;
	r->view_applied = !a->o.no_view_filter;
	r->long_axis = 1;
	if (r->view_applied) {
		int *cls = malloc((r->nframes ? r->nframes : 1) * sizeof *cls);
		if (!cls)
			return ward_error(WARD_E_NOMEM, "analyse: out of memory");
		for (size_t i = 0; i < r->nframes; i++)
			cls[i] = r->f[i].view;
		r->view_majority = ward_echo_view_majority(cls, r->nframes);
		free(cls);
		r->long_axis = r->view_majority == 2;
	}
	if (!r->long_axis) {
		r->reason = "not a parasternal long-axis view (Unspecific label)";
		return 0;
	}
	double *feat = malloc((r->nframes ? r->nframes : 1) * WARD_ECHO_NFEAT * sizeof *feat);
	size_t *map = malloc((r->nframes ? r->nframes : 1) * sizeof *map);
	if (!feat || !map) {
		free(feat);
		free(map);
		return ward_error(WARD_E_NOMEM, "analyse: out of memory");
	}
	size_t n = 0;
	for (size_t i = 0; i < r->nframes; i++)
		if (r->f[i].has_textures) {
			memcpy(feat + n * WARD_ECHO_NFEAT, r->f[i].feat, sizeof r->f[i].feat);
			map[n++] = i;
		}
	if (n == 0) {
		r->reason = "no frame has Doppler pixels (the original stops with an IndexError)";
	} else if (ward_echo_aggregate(feat, n, r->x, &r->picked) == 0) {
		r->picked = map[r->picked];
		r->have_x = 1;
		r->decision = ward_echo_lr_decision(&ward_echo_lr_original, r->x);
		if (a->o.compat)
			r->label = r->decision > 0;
		else
			r->reason =
			    "the original classifier's standardisation does not fit its "
			    "features (see docs/echo.md): label withheld; --compat gives it";
	}
	free(feat);
	free(map);
	return 0;
}

int ward_echo_analyse_result(struct ward_echo_analyser *a, const char *path, const char *name,
                             struct ward_echo_video_result *r)
{
	memset(r, 0, sizeof *r);
	r->label = -1;
	if (a->o.compat && a->o.rng_per_video)
		a->rng.state = WARD_ECHO_RNG_SEED;
	struct ward_echo_video *v = NULL;
	int rc = ward_echo_video_open(path, &v);
	size_t cap = 0;
	double t = now_ms();
	int first = 1;
	while (rc == 0) {
		struct ward_echo_frame fr;
		rc = ward_echo_video_next(v, &fr);
		r->ms_decode += now_ms() - t;
		if (rc <= 0)
			break;
		rc = 0;
		if (first) {
			first = 0;
			int d = ward_echo_video_is_doppler(&fr, &r->blue, &r->red);
			if (d < 0) {
				rc = d;
				break;
			}
			r->is_doppler = d;
			if (!d)
				break; /* the original skips the video */
		}
		if (r->nframes == cap) {
			cap = cap ? 2 * cap : 64;
			struct ward_echo_frame_result *nf = realloc(r->f, cap * sizeof *nf);
			if (!nf) {
				rc = ward_error(WARD_E_NOMEM, "analyse: out of memory");
				break;
			}
			r->f = nf;
		}
		rc = one_frame(a, &fr, name, r);
		t = now_ms();
	}
	ward_echo_video_close(v);
	if (rc == 0 && first)
		r->reason = "the video has no frames";
	else if (rc == 0 && !r->is_doppler)
		r->reason = "not a Doppler video (frame 0)";
	else if (rc == 0)
		rc = conclude(a, r);
	if (rc)
		ward_echo_video_result_free(r);
	return rc;
}

int ward_echo_analyse_video(struct ward_echo_analyser *a, const char *path, const char *name,
                            char **json)
{
	*json = NULL;
	struct ward_echo_video_result r;
	int rc = ward_echo_analyse_result(a, path, name, &r);
	if (rc)
		return rc;
	*json = ward_echo_report_json(&a->o, name, &r);
	ward_echo_video_result_free(&r);
	return *json ? 0 : ward_error(WARD_E_NOMEM, "analyse: out of memory");
}
