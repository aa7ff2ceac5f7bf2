/* Echo analysis of the shared sample videos against the original pipeline's per-frame outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "echo/analysis_internal.h"
#include "test.h"

static double rel(double a, double b)
{
	if (a == b || (isnan(a) && isnan(b)))
		return 0;
	return fabs(a - b) / fmax(fabs(b), 1e-300);
}

static void hex(const uint8_t d[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Compares one analysed video with its entry of pipeline_per_frame.json; returns frames equal. */
static size_t compare(const struct ward_echo_video_result *r, json_object *ref, double *worst)
{
	json_object *pf = json_object_object_get(ref, "per_frame");
	size_t same = 0, nf = json_object_array_length(pf);
	for (size_t i = 0; i < nf && i < r->nframes; i++) {
		json_object *f = json_object_array_get_idx(pf, i);
		char dm[33], an[33];
		hex(r->f[i].md5_dm, dm);
		hex(r->f[i].md5_an, an);
		int eq = strcmp(dm, json_object_get_string(json_object_object_get(
		                        f, "md5_doppler_masked_bgr"))) == 0 &&
		         strcmp(an, json_object_get_string(
		                        json_object_object_get(f, "md5_anatomic_bgr"))) == 0 &&
		         (long)r->f[i].doppler_px ==
		             json_object_get_int64(json_object_object_get(f, "doppler_nonzero_px"));
		json_object *t = json_object_object_get(f, "textures");
		int has = t && json_object_get_type(t) == json_type_array;
		eq &= has == r->f[i].has_textures;
		for (size_t k = 0; eq && has && k < WARD_ECHO_NFEAT; k++) {
			json_object *e = json_object_array_get_idx(t, k);
			*worst =
			    fmax(*worst, rel(r->f[i].feat[k], e ? json_object_get_double(e) : NAN));
		}
		same += eq;
	}
	return same;
}

/* main_pipeline_no_cnn_results.tsv: the decision value of a video. */
static double tsv_decision(const char *tsv, const char *video)
{
	const char *p = strstr(tsv, video);
	double d = NAN;
	if (p && sscanf(p + strlen(video), "\t%*d\t%*f\t%lf", &d) != 1)
		d = NAN;
	return d;
}

static void reference_run(const char *dir, json_object *videos, const char *tsv, size_t nv)
{
	struct ward_echo_analyse_opts o = {
	    .compat = 1, .rng_per_video = 1, .no_view_filter = 1, .frame_hashes = 1};
	struct ward_echo_analyser *a;
	CHECK_RC(ward_echo_analyser_new(&o, &a), 0, "analyser (compat, new RNG per video)");
	for (size_t v = 0; v < nv; v++) {
		json_object *ref = json_object_array_get_idx(videos, v);
		const char *name = json_object_get_string(json_object_object_get(ref, "video"));
		char path[8192];
		if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
			continue;
		struct ward_echo_video_result r;
		if (!CHECK_RC(ward_echo_analyse_result(a, path, name, &r), 0, "analyse %s", name))
			continue;
		double worst = 0;
		size_t same = compare(&r, ref, &worst);
		size_t nf = (size_t)json_object_get_int64(json_object_object_get(ref, "frames"));
		CHECK(
		    r.nframes == nf && same == nf,
		    "%s: %zu/%zu frames bit-exact (Doppler-masked and anatomic MD5s, pixel counts)",
		    name, same, nf);
		CHECK(worst < 1e-11, "%s: per-frame textures within 1e-11 relative (worst %.2g)",
		      name, worst);
		json_object *x57 = json_object_object_get(ref, "x57");
		double wx = 0;
		for (size_t k = 0; r.have_x && k < WARD_ECHO_NX; k++)
			wx = fmax(wx, rel(r.x[k], json_object_get_double(
			                              json_object_array_get_idx(x57, k))));
		double want = tsv_decision(tsv, name);
		CHECK(r.have_x && wx < 1e-11 && rel(r.decision, want) < 1e-11 && r.label == 0,
		      "%s: x[0:57] (worst %.2g), decision %.13g (want %.13g), label Normal", name,
		      wx, r.decision, want);
		ward_echo_video_result_free(&r);
	}
	ward_echo_analyser_free(a);
}

/* --compat in one process: the state runs on from video to video, as main.py does. */
static void carried_run(const char *dir, json_object *videos)
{
	struct ward_echo_analyse_opts o = {.compat = 1, .no_view_filter = 1, .frame_hashes = 1};
	struct ward_echo_analyser *a;
	CHECK_RC(ward_echo_analyser_new(&o, &a), 0, "analyser (compat, carried RNG)");
	size_t same[2] = {0, 0}, nf[2] = {0, 0};
	for (size_t v = 0; v < 2; v++) {
		json_object *ref = json_object_array_get_idx(videos, v);
		const char *name = json_object_get_string(json_object_object_get(ref, "video"));
		char path[8192];
		if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
			continue;
		struct ward_echo_video_result r;
		if (ward_echo_analyse_result(a, path, name, &r) != 0)
			continue;
		double worst = 0;
		same[v] = compare(&r, ref, &worst);
		nf[v] = r.nframes;
		ward_echo_video_result_free(&r);
	}
	CHECK(same[0] == nf[0] && nf[0] > 0, "carried RNG: the first video matches the reference");
	CHECK(same[1] < nf[1],
	      "carried RNG: the second video differs from the new-process reference (%zu/%zu "
	      "frames equal), as the original run over a folder would",
	      same[1], nf[1]);
	ward_echo_analyser_free(a);
}

/* Default mode: a fixed seed per frame, so a video's report does not depend on what came before. */
static void default_run(const char *dir, json_object *videos)
{
	struct ward_echo_analyse_opts o = {.no_view_filter = 1, .frame_hashes = 1};
	const char *n0 = json_object_get_string(
	    json_object_object_get(json_object_array_get_idx(videos, 0), "video"));
	const char *n1 = json_object_get_string(
	    json_object_object_get(json_object_array_get_idx(videos, 1), "video"));
	char p0[8192], p1[8192];
	if (snprintf(p0, sizeof p0, "%s/%s", dir, n0) >= (int)sizeof p0 ||
	    snprintf(p1, sizeof p1, "%s/%s", dir, n1) >= (int)sizeof p1)
		return;
	char *alone = NULL, *after = NULL, *first = NULL;
	struct ward_echo_analyser *a;
	CHECK_RC(ward_echo_analyser_new(&o, &a), 0, "analyser (default)");
	CHECK_RC(ward_echo_analyse_video(a, p1, n1, &alone), 0, "default: second video alone");
	ward_echo_analyser_free(a);
	CHECK_RC(ward_echo_analyser_new(&o, &a), 0, "analyser (default)");
	CHECK_RC(ward_echo_analyse_video(a, p0, n0, &first), 0, "default: first video");
	CHECK_RC(ward_echo_analyse_video(a, p1, n1, &after), 0, "default: second video after it");
	ward_echo_analyser_free(a);
	CHECK(alone && after && strcmp(alone, after) == 0,
	      "default mode: a video's report does not depend on the videos before it");
	json_object *j = first ? json_tokener_parse(first) : NULL;
	json_object *ref0 = json_object_array_get_idx(
	    json_object_object_get(json_object_array_get_idx(videos, 0), "per_frame"), 0);
	json_object *f0 = json_object_array_get_idx(json_object_object_get(j, "per_frame"), 0);
	const char *got =
	    json_object_get_string(json_object_object_get(f0, "md5_doppler_masked_bgr"));
	const char *want =
	    json_object_get_string(json_object_object_get(ref0, "md5_doppler_masked_bgr"));
	CHECK(got && want && strcmp(got, want) == 0,
	      "default mode: frame 0 equals the reference (both start from the initial state)");
	CHECK(json_object_get_type(json_object_object_get(j, "label")) == json_type_null &&
	          json_object_object_get(j, "label_withheld") &&
	          json_object_object_get(j, "lr_decision"),
	      "default mode: decision reported, label withheld (normalisation quirk)");
	json_object_put(j);
	free(alone);
	free(after);
	free(first);
}

int main(void)
{
	const char *shared = getenv("WARD_SHARED");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/data/echo/videos", shared ? shared : "../shared");
	struct stat st;
	if (stat(dir, &st) != 0) {
		test_skip("shared sample videos not found in %s: per-frame comparison with the "
		          "original pipeline not run",
		          dir);
		return test_done();
	}
	size_t len;
	char *js = (char *)test_read_file(test_data("echo/pipeline_per_frame.json"), &len);
	char *tsv =
	    (char *)test_read_file(test_data("echo/main_pipeline_no_cnn_results.tsv"), &len);
	json_object *ref = json_tokener_parse(js);
	json_object *videos = json_object_object_get(ref, "videos");
	size_t nv = json_object_array_length(videos);
	CHECK(nv == 6, "6 reference videos");
	reference_run(dir, videos, tsv, nv);
	carried_run(dir, videos);
	default_run(dir, videos);
	json_object_put(ref);
	free(js);
	free(tsv);
	return test_done();
}
