/* Echocardiography radiomics: Doppler segmentation, view gate, textures and the RHD classifier. */
#ifndef WARD_ECHO_ANALYSIS_H
#define WARD_ECHO_ANALYSIS_H

#include <stddef.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ward_echo_analyse_opts {
	/*
	 * 1: reproduce the original: one k-means random state carried from
	 * frame to frame and from video to video (in the order they are
	 * analysed), and the label of the original classifier despite its
	 * normalisation quirk. 0: every frame is segmented with the same fixed
	 * seed (results independent of order), the label is withheld.
	 */
	int compat;
	/* compat only: a new random state for each video, as the reference outputs were made. */
	int rng_per_video;
	const char *weights;     /* Keras HDF5 weights of the view CNN, or NULL */
	int no_view_filter;      /* treat every video as a long-axis view (no CNN) */
	const char *overlay_dir; /* write <dir>/<name>/<frame>.png overlays, or NULL */
	int ibsi;                /* GLCM with IBSI conventions (symmetric, log2) */
	int frame_hashes;        /* report MD5s of the per-frame images */
	int timing;              /* report the time spent per stage */
};

/* An analysis session (opaque): the random state, the CNN, scratch buffers. Not thread-safe. */
struct ward_echo_analyser;

/*
 * Creates an analyser. Without weights, no_view_filter must be set
 * (WARD_E_INVAL says so). Loading weights can fail with WARD_E_IO or
 * WARD_E_FORMAT. opts is copied (the strings are not: they must outlive a).
 */
WARD_EXPORT WARD_NODISCARD WARD_NONNULL(1, 2) int ward_echo_analyser_new(
    const struct ward_echo_analyse_opts *opts, struct ward_echo_analyser **out);

/*
 * Analyses one video: path is opened, name is what the report calls it. On
 * success *json is a malloc'ed JSON object (the caller frees it) describing
 * the video: Doppler decision, per-frame results, features, decision, label.
 * A video the pipeline cannot label (not Doppler, no Doppler pixels, not a
 * long-axis view) is still a success with the reason in the report.
 * Returns 0 or a negative ward_err (unreadable or corrupt video: then *json
 * is NULL and ward_last_error() says why).
 */
WARD_EXPORT WARD_NODISCARD WARD_NONNULL(1, 2, 3, 4) int ward_echo_analyse_video(
    struct ward_echo_analyser *a, const char *path, const char *name, char **json);

/* Frees a. Accepts NULL. */
WARD_EXPORT void ward_echo_analyser_free(struct ward_echo_analyser *a);

#ifdef __cplusplus
}
#endif
#endif
