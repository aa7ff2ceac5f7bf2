/* The original segmentation(): black boxes, Lab, k-means (k=8), Doppler clusters, grey mask,
 * erosion. */
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

#define SEG_K 8

/* One cached colour: its Lab value and its index among this frame's distinct colours. */
struct lab_slot {
	uint32_t key; /* colour + 1; 0 = empty */
	uint32_t stamp;
	uint32_t uidx;
	float lab[3];
};

struct ward_echo_segmenter {
	struct lab_slot *tab; /* open addressing, power-of-two capacity */
	size_t cap, used;
	uint32_t stamp;
	size_t npx;
	uint32_t *idx; /* per pixel: distinct colour index */
	float *uniq;   /* distinct Lab values, 3 floats each */
	float *data;   /* per pixel Lab (reference k-means only) */
	int *labels;
	uint8_t *bin;
	int use_ref;
};

int ward_echo_segmenter_new(struct ward_echo_segmenter **out)
{
	struct ward_echo_segmenter *s = calloc(1, sizeof *s);
	if (!s)
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	s->cap = 1u << 14;
	s->tab = calloc(s->cap, sizeof *s->tab);
	if (!s->tab) {
		free(s);
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	}
	*out = s;
	return 0;
}

void ward_echo_segmenter_free(struct ward_echo_segmenter *s)
{
	if (!s)
		return;
	free(s->tab);
	free(s->idx);
	free(s->uniq);
	free(s->data);
	free(s->labels);
	free(s->bin);
	free(s);
}

void ward_echo_segmenter_use_ref(struct ward_echo_segmenter *s, int use_ref)
{
	s->use_ref = use_ref;
}

static int buffers(struct ward_echo_segmenter *s, size_t npx)
{
	if (npx <= s->npx)
		return 0;
	free(s->idx);
	free(s->uniq);
	free(s->data);
	free(s->labels);
	free(s->bin);
	s->idx = malloc(npx * sizeof *s->idx);
	s->uniq = malloc(npx * 3 * sizeof *s->uniq);
	s->data = malloc(npx * 3 * sizeof *s->data);
	s->labels = malloc(npx * sizeof *s->labels);
	s->bin = malloc(npx);
	if (!s->idx || !s->uniq || !s->data || !s->labels || !s->bin) {
		s->npx = 0;
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	}
	s->npx = npx;
	return 0;
}

static inline size_t hash24(uint32_t key, size_t mask)
{
	return (size_t)((key * 2654435761u) >> 8) & mask;
}

/* Doubles the cache (rehashing); on failure the old table stays. */
static int grow(struct ward_echo_segmenter *s)
{
	size_t cap = s->cap * 2;
	struct lab_slot *t = calloc(cap, sizeof *t);
	if (!t)
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->tab[i].key)
			continue;
		size_t h = hash24(s->tab[i].key, cap - 1);
		while (t[h].key)
			h = (h + 1) & (cap - 1);
		t[h] = s->tab[i];
	}
	free(s->tab);
	s->tab = t;
	s->cap = cap;
	return 0;
}

/* The Lab slot of a colour, computing and caching it when new. NULL: out of memory. */
static struct lab_slot *lookup(struct ward_echo_segmenter *s, const uint8_t *px)
{
	uint32_t key = ((uint32_t)px[0] | (uint32_t)px[1] << 8 | (uint32_t)px[2] << 16) + 1;
	size_t h = hash24(key, s->cap - 1);
	while (s->tab[h].key) {
		if (s->tab[h].key == key)
			return &s->tab[h];
		h = (h + 1) & (s->cap - 1);
	}
	if (2 * (s->used + 1) > s->cap) {
		if (grow(s))
			return NULL;
		return lookup(s, px);
	}
	s->used++;
	s->tab[h].key = key;
	s->tab[h].stamp = 0;
	ward_echo_rgb2lab(px, s->tab[h].lab);
	return &s->tab[h];
}

/* Maps every pixel to a distinct-colour index; fills s->uniq. Returns the count or 0. */
static size_t distinct_colours(struct ward_echo_segmenter *s, const uint8_t *bgr, size_t npx)
{
	size_t u = 0;
	if (++s->stamp == 0) { /* wrapped: forget every stamp */
		for (size_t i = 0; i < s->cap; i++)
			s->tab[i].stamp = 0;
		s->stamp = 1;
	}
	for (size_t i = 0; i < npx; i++) {
		const uint8_t *p = bgr + 3 * i;
		if (i > 0 && memcmp(p, p - 3, 3) == 0) {
			s->idx[i] = s->idx[i - 1];
			continue;
		}
		struct lab_slot *e = lookup(s, p);
		if (!e)
			return 0;
		if (e->stamp != s->stamp) {
			e->stamp = s->stamp;
			e->uidx = (uint32_t)u;
			memcpy(s->uniq + 3 * u, e->lab, sizeof e->lab);
			u++;
		}
		s->idx[i] = e->uidx;
	}
	return u;
}

/* Step 1: the black boxes, as numpy slices (clipped to the frame). */
static void black_boxes(uint8_t *bgr, int w, int h)
{
	static const int box[3][4] = {/* r0, r1, c0, c1 (exclusive ends) */
	                              {1, 150, 1, 25},
	                              {0, 1 << 30, 230, 240},
	                              {305, 320, 200, 240}};
	for (int b = 0; b < 3; b++) {
		int r1 = box[b][1] < h ? box[b][1] : h, c1 = box[b][3] < w ? box[b][3] : w;
		for (int r = box[b][0]; r < r1; r++)
			for (int c = box[b][2]; c < c1; c++)
				memset(bgr + 3 * ((size_t)r * (size_t)w + (size_t)c), 0, 3);
	}
}

/* Steps 4-5: uint8 centres (numpy's wrapping cast) and the Doppler test per cluster. */
static void doppler_clusters(const float *centers, struct ward_echo_seg_info *info)
{
	info->k = SEG_K;
	info->doppler_clusters = 0;
	for (int c = 0; c < SEG_K; c++) {
		for (int j = 0; j < 3; j++)
			info->centers8[c][j] = (uint8_t)(int32_t)centers[3 * c + j];
		const uint8_t *v = info->centers8[c];
		int d = v[0] > 10 && ((v[1] > 20 && v[1] < 230) || (v[2] > 20 && v[2] < 230));
		info->is_doppler[c] = (uint8_t)d;
		info->doppler_clusters += d;
	}
}

/* Steps 6-8: grey > 1, erosion by the 3x3 cross (no erosion from outside), masking. */
static size_t mask_doppler(uint8_t *bin, uint8_t *dimg, int w, int h)
{
	size_t npx = (size_t)w * (size_t)h, count = 0;
	for (size_t i = 0; i < npx; i++)
		bin[i] = ward_echo_gray(dimg[3 * i], dimg[3 * i + 1], dimg[3 * i + 2]) > 1;
	for (int r = 0; r < h; r++) {
		const uint8_t *row = bin + (size_t)r * (size_t)w;
		for (int c = 0; c < w; c++) {
			int keep = row[c] && (c == 0 || row[c - 1]) && (c == w - 1 || row[c + 1]) &&
			           (r == 0 || row[c - w]) && (r == h - 1 || row[c + w]);
			uint8_t *p = dimg + 3 * ((size_t)r * (size_t)w + (size_t)c);
			if (!keep)
				memset(p, 0, 3);
			else
				count += (p[0] | p[1] | p[2]) != 0;
		}
	}
	return count;
}

int ward_echo_segment(struct ward_echo_segmenter *s, uint8_t *bgr, int w, int h,
                      struct ward_echo_rng *rng, uint8_t *dmask, uint8_t *anat,
                      struct ward_echo_seg_info *info)
{
	if (w <= 0 || h <= 0 || (size_t)w * (size_t)h < SEG_K)
		return ward_error(WARD_E_INVAL, "segmentation: frame too small (%dx%d)", w, h);
	size_t npx = (size_t)w * (size_t)h;
	int rc = buffers(s, npx);
	if (rc)
		return rc;
	memset(info, 0, sizeof *info);
	black_boxes(bgr, w, h);
	size_t u = distinct_colours(s, bgr, npx);
	if (u == 0)
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	info->distinct_colours = u;
	static const struct ward_echo_kmeans_opts ko = {SEG_K, 10, 0.01, 10};
	float centers[SEG_K * 3];
	if (s->use_ref) {
		for (size_t i = 0; i < npx; i++)
			memcpy(s->data + 3 * i, s->uniq + 3 * s->idx[i], 3 * sizeof(float));
		rc = ward_echo_kmeans_ref(s->data, npx, &ko, rng, s->labels, centers,
		                          &info->compactness);
	} else {
		rc = ward_echo_kmeans(s->uniq, u, s->idx, npx, &ko, rng, s->labels, centers,
		                      &info->compactness);
	}
	if (rc)
		return rc;
	doppler_clusters(centers, info);
	for (size_t i = 0; i < npx; i++) {
		int d = info->is_doppler[s->labels[i]];
		const uint8_t *p = bgr + 3 * i;
		uint8_t *dp = dmask + 3 * i, *ap = anat + 3 * i;
		for (int j = 0; j < 3; j++) {
			dp[j] = d ? p[j] : 0;
			ap[j] = d ? 0 : p[j];
		}
	}
	info->doppler_px = mask_doppler(s->bin, dmask, w, h);
	return 0;
}
