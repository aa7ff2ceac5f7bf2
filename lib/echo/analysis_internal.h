/* Private declarations of the echo analysis: colours, k-means, segmentation, textures, CNN. */
#ifndef WARD_ECHO_ANALYSIS_INTERNAL_H
#define WARD_ECHO_ANALYSIS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ward/echo_analysis.h"
#include "ward/error.h"

/* ---- colour conversions (lab.c, gray.c, blur.c) ---- */

/*
 * skimage 0.19 rgb2lab of one 8-bit pixel, computed in float64 and cast to
 * float32 as the pipeline does. p[0], p[1], p[2] are taken as R, G, B (the
 * pipeline passes B, G, R bytes: it calls rgb2lab on the BGR array).
 */
void ward_echo_rgb2lab(const uint8_t p[static 3], float lab[static 3]);

/* OpenCV 4.6 8-bit BGR2GRAY: (3735 B + 19235 G + 9798 R + 16384) >> 15. */
static inline uint8_t ward_echo_gray(uint8_t b, uint8_t g, uint8_t r)
{
	return (uint8_t)((3735u * b + 19235u * g + 9798u * r + 16384u) >> 15);
}

/* Grey of n contiguous BGR pixels. */
void ward_echo_bgr2gray(const uint8_t *bgr, uint8_t *gray, size_t n);

/*
 * OpenCV's 8-bit GaussianBlur 3x3 with sigma 8/sqrt(8 ln 2): fixed-point
 * weights [84, 88, 84]/256 applied separably, (acc + 2^15) >> 16, border
 * reflect-101. src and dst are w*h bytes and must not overlap.
 * Returns 0, WARD_E_INVAL or WARD_E_NOMEM.
 */
int ward_echo_gauss3(const uint8_t *src, uint8_t *dst, int w, int h);

/* ---- cv::RNG (cvrng.c) ---- */

/* OpenCV's multiply-with-carry generator; theRNG() starts at 0xffffffff. */
struct ward_echo_rng {
	uint64_t state;
};
#define WARD_ECHO_RNG_SEED 0xffffffffu

static inline uint32_t ward_echo_rng_next(struct ward_echo_rng *r)
{
	r->state = (uint64_t)(uint32_t)r->state * 4164903690u + (r->state >> 32);
	return (uint32_t)r->state;
}

/* (double)rng: two draws, ((uint64)first << 32 | second) * 2^-64. */
double ward_echo_rng_double(struct ward_echo_rng *r);

/* ---- k-means (kmeans.c, kmeans_ref.c) ---- */

#define WARD_ECHO_KMEANS_MAXK 16

struct ward_echo_kmeans_opts {
	int k;        /* clusters, 2..WARD_ECHO_KMEANS_MAXK (OpenCV special-cases 1) */
	int max_iter; /* TermCriteria maxCount (clamped to 2..100 as OpenCV does) */
	double eps;   /* TermCriteria epsilon (squared internally as OpenCV does) */
	int attempts; /* >= 1 */
};

/*
 * cv::kmeans(data, K, labels, criteria(EPS|COUNT), attempts, KMEANS_PP_CENTERS,
 * centers) of OpenCV 4.x for 3-dimensional float data, bit-exact, drawing from
 * rng exactly as OpenCV draws from theRNG(). data holds n points of 3 floats.
 * labels (n ints) and centers (k*3 floats) receive the best attempt;
 * *compactness (may be NULL) its sum of squared distances.
 * This is the straightforward port, kept as the reference for the fast one.
 * Returns 0, WARD_E_INVAL (n < k, bad options) or WARD_E_NOMEM.
 */
int ward_echo_kmeans_ref(const float *data, size_t n, const struct ward_echo_kmeans_opts *o,
                         struct ward_echo_rng *rng, int *labels, float *centers,
                         double *compactness);

/*
 * The same computation, bit-identical in every output and in the RNG state
 * it leaves, but faster: points are given as u distinct values (uniq, u*3
 * floats) and an index per point (idx[i] < u), and the work is done per
 * distinct value wherever the floating-point order allows it.
 */
int ward_echo_kmeans(const float *uniq, size_t u, const uint32_t *idx, size_t n,
                     const struct ward_echo_kmeans_opts *o, struct ward_echo_rng *rng, int *labels,
                     float *centers, double *compactness);

/* ---- segmentation (segment.c) ---- */

struct ward_echo_segmenter;

/* What one segmentation found. */
struct ward_echo_seg_info {
	int k;                                      /* clusters */
	uint8_t centers8[WARD_ECHO_KMEANS_MAXK][3]; /* L, a, b centres cast to uint8 (wrapping) */
	uint8_t is_doppler[WARD_ECHO_KMEANS_MAXK];  /* per cluster */
	int doppler_clusters;                       /* how many clusters are Doppler */
	size_t doppler_px;       /* non-zero pixels of the masked Doppler image */
	size_t distinct_colours; /* after the black boxes */
	double compactness;
};

/* A reusable segmenter (scratch buffers, a colour -> Lab cache). */
int ward_echo_segmenter_new(struct ward_echo_segmenter **out);
void ward_echo_segmenter_free(struct ward_echo_segmenter *s);

/*
 * The original segmentation() of one w x h BGR frame (contiguous, 3*w bytes
 * per row). bgr is modified in place as the original does (the black boxes).
 * dmask and anat (w*h*3 bytes each) receive the masked Doppler image and the
 * anatomic image. use_ref selects the reference k-means (for tests).
 * If no cluster is Doppler (the original crashes), dmask is all zero,
 * info->doppler_clusters is 0, and anat is the frame after the black boxes.
 * Returns 0, WARD_E_INVAL or WARD_E_NOMEM.
 */
int ward_echo_segment(struct ward_echo_segmenter *s, uint8_t *bgr, int w, int h,
                      struct ward_echo_rng *rng, uint8_t *dmask, uint8_t *anat,
                      struct ward_echo_seg_info *info);
void ward_echo_segmenter_use_ref(struct ward_echo_segmenter *s, int use_ref);

/* ---- GLCM and texture features (glcm.c, texture.c) ---- */

#define WARD_ECHO_NGLCM  19
#define WARD_ECHO_NFIRST 7
#define WARD_ECHO_NFEAT  28

/* Names of the 28 features, pipeline order (the 19 GLCM features first). */
extern const char *const ward_echo_feature_names[WARD_ECHO_NFEAT];

struct ward_echo_glcm_opts {
	int levels;      /* grey levels counted: values 0 .. levels-1; others are left out */
	int symmetric;   /* add the transposed matrix (IBSI) */
	double log_base; /* entropies: 0 or M_E natural log, 2 for IBSI */
};

/*
 * Counts the co-occurrence matrices of a 2D image of level indices (z[r*w+c],
 * negative = missing) at distance 1 for the angles 0, 45, 90, 135 degrees,
 * offsets (drow, dcol) = (0,+1), (+1,+1), (+1,0), (+1,-1); pair P[z0][z1].
 * glcm receives 4 * levels * levels counts (added to what it holds).
 */
void ward_echo_glcm_count(const int16_t *z, int w, int h, int levels, double *glcm);

/*
 * The 19 Haralick features of one co-occurrence matrix of counts (levels x
 * levels, normalised here by its sum; a zero sum is treated as 1), with the
 * original code's definitions (1-based levels). out[19].
 */
void ward_echo_glcm_features(const double *counts, const struct ward_echo_glcm_opts *o,
                             double out[static WARD_ECHO_NGLCM]);

/*
 * First-order statistics of n values: kurtosis (Pearson, not excess),
 * skewness, mean, std (ddof 0), median, p25, p75 (linear). v is sorted in
 * place. n = 0 gives NaN everywhere.
 */
void ward_echo_first_order(double *v, size_t n, double out[static WARD_ECHO_NFIRST]);

/* numpy's percentile (linear interpolation at (n-1)q) of sorted v, q in [0,1]. */
double ward_echo_percentile(const double *sorted, size_t n, double q);

/*
 * textures() of the original pipeline on a w x h BGR Doppler-masked image:
 * out[28] in the order of ward_echo_feature_names. pairs (may be NULL)
 * receives the GLCM pair count per angle. Returns 0 or WARD_E_NOMEM.
 */
int ward_echo_textures(const uint8_t *bgr, int w, int h, const struct ward_echo_glcm_opts *o,
                       double out[static WARD_ECHO_NFEAT], long pairs[4]);

/*
 * The same, computed over rows reg[0]..reg[1]-1 and columns reg[2]..reg[3]-1
 * only, as if the image were that region. ward_echo_textures uses the region
 * around the non-black pixels (the result is the same); the tests pass the
 * whole image to check that. Returns 0, WARD_E_INVAL (region not inside the
 * image) or WARD_E_NOMEM.
 */
int ward_echo_textures_in(const uint8_t *bgr, int w, int h, const int reg[static 4],
                          const struct ward_echo_glcm_opts *o, double out[static WARD_ECHO_NFEAT],
                          long pairs[4]);

/* ---- NIfTI-1 (nifti.c) ---- */

struct ward_echo_volume {
	int nx, ny, nz; /* x varies fastest */
	double *v;      /* nx*ny*nz values, scaled by scl_slope/scl_inter when set */
	double dx, dy, dz;
};

/*
 * Parses a NIfTI-1 single-file image (.nii, or gzip-compressed .nii.gz) of up
 * to 3 dimensions from memory: int8/uint8/int16/uint16/int32/float32/float64,
 * either byte order. Returns 0, WARD_E_FORMAT, WARD_E_UNSUPPORTED or
 * WARD_E_NOMEM. vol->v is malloc'ed.
 */
int ward_echo_nifti_parse(const uint8_t *buf, size_t len, struct ward_echo_volume *vol);
int ward_echo_nifti_read(const char *path, struct ward_echo_volume *vol);
void ward_echo_volume_free(struct ward_echo_volume *vol);

/*
 * IBSI-style features of a phantom: GLCM "2D, averaged" (per z slice, the 4
 * directions, features averaged over the slice x direction matrices) and the
 * first order statistics over the ROI (mask != 0). Grey level g is index g-1.
 * glcm[19]; first[8] = mean, variance, skewness, excess kurtosis, median, p10,
 * p90, IQR.
 */
int ward_echo_ibsi_features(const struct ward_echo_volume *img, const struct ward_echo_volume *mask,
                            const struct ward_echo_glcm_opts *o,
                            double glcm[static WARD_ECHO_NGLCM], double first[static 8]);

/* ---- view classifier (cnn.c, viewgate.c) ---- */

#define WARD_ECHO_CNN_BLOCKS  5
#define WARD_ECHO_CNN_CLASSES 3

struct ward_echo_cnn;

/*
 * Loads a Keras 2.2.4 HDF5 file (model_weights/<layer>/<layer>/kernel:0 HWIO
 * and bias:0), mapping the 6 layers with weights by order: 5 conv 3x3 layers
 * then one dense layer. The input size (h x w x 1) fixes the dense size.
 * Returns 0, WARD_E_IO, WARD_E_FORMAT or WARD_E_NOMEM.
 */
int ward_echo_cnn_load(const char *path, int h, int w, struct ward_echo_cnn **out);
void ward_echo_cnn_free(struct ward_echo_cnn *c);

/* Forward pass of one h x w x 1 float image; prob[3] gets the softmax. */
int ward_echo_cnn_forward(struct ward_echo_cnn *c, const float *in, float prob[static 3]);

/*
 * The view classifier's preprocessing of an anatomic BGR frame (320 rows x
 * 240 columns expected; other sizes are clipped): the blackout rectangles,
 * grey, min-max scaling and the fixed normalisation, into out (w*h floats).
 * ward_echo_view_blackout_mask computes the 0/255 mask (w*h bytes) once.
 */
void ward_echo_view_blackout_mask(uint8_t *mask, int w, int h);
void ward_echo_view_preprocess(const uint8_t *bgr, int w, int h, const uint8_t *mask, float *out);

/* Majority of per-frame classes: bincount then argmax (ties go low). */
int ward_echo_view_majority(const int *cls, size_t n);

/* ---- aggregation and classifier (classify.c) ---- */

#define WARD_ECHO_NX 57

/*
 * The aggregation of 4.4: x[0:28] nanmean over frames, x[28:56] nanmedian,
 * x[56] = max(list of feature lists)[-2] with Python's comparison. feat holds
 * nframes * 28 values; frames without Doppler pixels are left out by the
 * caller. *picked receives the frame index max() picked. Returns 0 or
 * WARD_E_INVAL (no frame).
 */
int ward_echo_aggregate(const double *feat, size_t nframes, double x[static WARD_ECHO_NX],
                        size_t *picked);

/* The logistic-regression model of texture_classifier_params.tsv. */
struct ward_echo_lr {
	double mean[WARD_ECHO_NX], std[WARD_ECHO_NX], coef[WARD_ECHO_NX];
	double intercept;
};

/* The built-in copy of classifiers/texture_classifier_params.tsv, and the names of x. */
extern const struct ward_echo_lr ward_echo_lr_original;
extern const char *const ward_echo_x_names[WARD_ECHO_NX];

/* Parses the TSV form (comment lines with "# intercept\t<v>"). */
int ward_echo_lr_parse(const char *text, struct ward_echo_lr *lr);

/* sum coef_k (x_k - mean_k) / std_k + intercept. */
double ward_echo_lr_decision(const struct ward_echo_lr *lr, const double x[static WARD_ECHO_NX]);

/* ---- one video (analyse.c, report.c) ---- */

struct ward_echo_analyse_opts;

/* Per-frame results. */
struct ward_echo_frame_result {
	size_t doppler_px;    /* non-zero pixels of the masked Doppler image */
	int doppler_clusters; /* 0: no cluster passed the test (the original crashes) */
	int has_textures;     /* textures computed (the masked image is not all zero) */
	double feat[WARD_ECHO_NFEAT];
	int view; /* argmax of the CNN, -1 without it */
	float prob[WARD_ECHO_CNN_CLASSES];
	uint8_t md5_dm[16], md5_an[16]; /* with opts->frame_hashes */
};

struct ward_echo_video_result {
	int is_doppler;
	unsigned blue, red; /* frame-0 HSV pixel counts */
	size_t nframes;
	struct ward_echo_frame_result *f;
	int view_applied, view_majority, long_axis;
	int have_x;
	double x[WARD_ECHO_NX];
	size_t picked; /* frame index (among all frames) max() picked */
	double decision;
	int label;          /* 0 Normal, 1 RHD, -1 none */
	const char *reason; /* why there is no label, or NULL */
	double ms_decode, ms_segment, ms_textures, ms_cnn;
};

/* Analyses one video into r (freed with ward_echo_video_result_free). */
int ward_echo_analyse_result(struct ward_echo_analyser *a, const char *path, const char *name,
                             struct ward_echo_video_result *r);
void ward_echo_video_result_free(struct ward_echo_video_result *r);

/* The JSON report of one video (malloc'ed), or NULL when out of memory. */
char *ward_echo_report_json(const struct ward_echo_analyse_opts *o, const char *name,
                            const struct ward_echo_video_result *r);

#endif
