/* The JSON report of one analysed video (json-c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "echo/analysis_internal.h"

/* JSON has no NaN or infinity: they become null. */
static json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static json_object *hex16(const uint8_t d[16])
{
	char h[33];
	for (int i = 0; i < 16; i++)
		snprintf(h + 2 * i, 3, "%02x", d[i]);
	return json_object_new_string(h);
}

static json_object *array(const double *v, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);
	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, num(v[i]));
	return a;
}

static json_object *frames(const struct ward_echo_analyse_opts *o,
                           const struct ward_echo_video_result *r)
{
	json_object *a = json_object_new_array_ext((int)r->nframes);
	for (size_t i = 0; a && i < r->nframes; i++) {
		const struct ward_echo_frame_result *f = &r->f[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "frame", json_object_new_int64((int64_t)i));
		json_object_object_add(j, "doppler_px",
		                       json_object_new_int64((int64_t)f->doppler_px));
		json_object_object_add(j, "doppler_clusters",
		                       json_object_new_int(f->doppler_clusters));
		if (o->frame_hashes) {
			json_object_object_add(j, "md5_doppler_masked_bgr", hex16(f->md5_dm));
			json_object_object_add(j, "md5_anatomic_bgr", hex16(f->md5_an));
		}
		json_object_object_add(j, "textures",
		                       f->has_textures ? array(f->feat, WARD_ECHO_NFEAT) : NULL);
		if (f->view >= 0) {
			double p[3] = {f->prob[0], f->prob[1], f->prob[2]};
			json_object_object_add(j, "view", json_object_new_int(f->view));
			json_object_object_add(j, "view_prob", array(p, 3));
		}
		json_object_array_add(a, j);
	}
	return a;
}

/* The quirks of the original that shape this report, named for docs/echo.md. */
static json_object *quirks(const struct ward_echo_analyse_opts *o)
{
	json_object *q = json_object_new_array();
	json_object_array_add(
	    q, json_object_new_string(o->compat
	                                  ? (o->rng_per_video ? "kmeans_rng_state_carried_per_video"
	                                                      : "kmeans_rng_state_carried")
	                                  : "fixed: kmeans_rng_seeded_per_frame"));
	json_object_array_add(q, json_object_new_string("rgb2lab_on_bgr"));
	json_object_array_add(q, json_object_new_string("level_64_left_out_of_glcm"));
	json_object_array_add(q, json_object_new_string("x56_python_list_max"));
	json_object_array_add(
	    q,
	    json_object_new_string(o->compat ? "lr_normalisation_mismatch_reproduced"
	                                     : "fixed: lr_normalisation_mismatch_label_withheld"));
	return q;
}

static void add_timing(json_object *j, const struct ward_echo_video_result *r)
{
	json_object *t = json_object_new_object();
	json_object_object_add(t, "decode", json_object_new_double(r->ms_decode));
	json_object_object_add(t, "segment", json_object_new_double(r->ms_segment));
	json_object_object_add(t, "textures", json_object_new_double(r->ms_textures));
	json_object_object_add(t, "cnn", json_object_new_double(r->ms_cnn));
	json_object_object_add(j, "timing_ms", t);
}

char *ward_echo_report_json(const struct ward_echo_analyse_opts *o, const char *name,
                            const struct ward_echo_video_result *r)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	json_object_object_add(j, "video", json_object_new_string(name));
	json_object_object_add(j, "mode", json_object_new_string(o->compat ? "compat" : "default"));
	json_object_object_add(j, "glcm", json_object_new_string(o->ibsi ? "ibsi" : "pipeline"));
	json_object_object_add(j, "is_doppler", json_object_new_boolean(r->is_doppler));
	json_object_object_add(j, "frame0_blue_px", json_object_new_int64(r->blue));
	json_object_object_add(j, "frame0_red_px", json_object_new_int64(r->red));
	json_object_object_add(j, "frames", json_object_new_int64((int64_t)r->nframes));
	json_object_object_add(j, "per_frame", frames(o, r));
	json_object *vg = json_object_new_object();
	json_object_object_add(vg, "applied", json_object_new_boolean(r->view_applied));
	if (r->view_applied)
		json_object_object_add(vg, "majority", json_object_new_int(r->view_majority));
	json_object_object_add(vg, "long_axis", json_object_new_boolean(r->long_axis));
	json_object_object_add(j, "view_gate", vg);
	if (r->have_x) {
		json_object_object_add(j, "x", array(r->x, WARD_ECHO_NX));
		json_object_object_add(j, "x56_frame", json_object_new_int64((int64_t)r->picked));
		json_object_object_add(j, "lr_decision", num(r->decision));
	}
	json_object_object_add(
	    j, "label", r->label < 0 ? NULL : json_object_new_string(r->label ? "RHD" : "Normal"));
	if (r->reason)
		json_object_object_add(j, "label_withheld", json_object_new_string(r->reason));
	json_object_object_add(j, "quirks", quirks(o));
	if (o->timing)
		add_timing(j, r);
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = s ? strdup(s) : NULL;
	json_object_put(j);
	return out;
}
