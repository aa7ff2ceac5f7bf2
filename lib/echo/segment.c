/* The original segmentation(): black boxes, Lab, k-means (k=8), Doppler clusters, grey mask,
 * erosion. */
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

#define SEG_K 8

/*
 * Lab values depend only on the colour, so they are cached across frames in
 * one table of every colour seen. It grows to a few MB, more than the
 * processor's caches keep between frames, and a frame has thousands of
 * colours (speckle): so each frame first maps its pixels to distinct colours
 * with a small table of its own, then looks all its distinct colours up in
 * the large table in one pass, a few lookups ahead (prefetching), so that
 * the memory accesses overlap instead of waiting one after the other.
 */

/* One cached colour and its Lab value. */
struct lab_slot {
	uint32_t key; /* colour + 1; 0 = empty */
	float lab[3];
};

struct ward_echo_segmenter {
	struct lab_slot *tab; /* every colour seen: open addressing, power-of-two capacity */
	size_t cap, used;
	uint32_t *fkey;     /* this frame's colours: colour | stamp << 24 (other stamps: empty) */
	uint32_t *fval;     /* their distinct-colour index */
	size_t fcap, fused; /* fused: colours of this frame */
	uint32_t fstamp;    /* 1..255 */
	size_t npx;
	uint32_t *idx;    /* per pixel: distinct colour index */
	uint32_t *colour; /* per distinct colour: its B, G, R bytes */
	float *uniq;      /* distinct Lab values, 3 floats each */
	float *data;      /* per pixel Lab (reference k-means only) */
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
	s->fcap = 1u << 14;
	s->fkey = calloc(s->fcap, sizeof *s->fkey);
	s->fval = calloc(s->fcap, sizeof *s->fval);
	if (!s->tab || !s->fkey || !s->fval) {
		ward_echo_segmenter_free(s);
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
	free(s->fkey);
	free(s->fval);
	free(s->idx);
	free(s->colour);
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
	free(s->colour);
	free(s->uniq);
	free(s->data);
	free(s->labels);
	free(s->bin);
	s->idx = malloc(npx * sizeof *s->idx);
	s->colour = malloc(npx * sizeof *s->colour);
	s->uniq = malloc(npx * 3 * sizeof *s->uniq);
	s->data = malloc(npx * 3 * sizeof *s->data);
	s->labels = malloc(npx * sizeof *s->labels);
	s->bin = malloc(npx);
	if (!s->idx || !s->colour || !s->uniq || !s->data || !s->labels || !s->bin) {
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

/* Doubles the colour cache (rehashing); on failure the old table stays. */
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

/* The Lab value of a colour, computing and caching it when new. NULL: out of memory. */
static const float *lookup(struct ward_echo_segmenter *s, uint32_t colour)
{
	uint32_t key = colour + 1;
	size_t h = hash24(key, s->cap - 1);
	while (s->tab[h].key) {
		if (s->tab[h].key == key)
			return s->tab[h].lab;
		h = (h + 1) & (s->cap - 1);
	}
	if (2 * (s->used + 1) > s->cap) {
		if (grow(s))
			return NULL;
		return lookup(s, colour);
	}
	s->used++;
	s->tab[h].key = key;
	const uint8_t px[3] = {(uint8_t)colour, (uint8_t)(colour >> 8), (uint8_t)(colour >> 16)};
	ward_echo_rgb2lab(px, s->tab[h].lab);
	return s->tab[h].lab;
}

/* Doubles the frame table, keeping this frame's colours; on failure the old table stays. */
static int grow_frame(struct ward_echo_segmenter *s)
{
	size_t cap = s->fcap * 2;
	uint32_t *k = calloc(cap, sizeof *k), *v = malloc(cap * sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return ward_error(WARD_E_NOMEM, "segmentation: out of memory");
	}
	for (size_t i = 0; i < s->fcap; i++) {
		if (s->fkey[i] >> 24 != s->fstamp)
			continue;
		size_t h = hash24(s->fkey[i] & 0xffffff, cap - 1);
		while (k[h])
			h = (h + 1) & (cap - 1);
		k[h] = s->fkey[i];
		v[h] = s->fval[i];
	}
	free(s->fkey);
	free(s->fval);
	s->fkey = k;
	s->fval = v;
	s->fcap = cap;
	return 0;
}

/* A new frame: entries with another stamp count as empty (cleared once every 255 frames). */
static void new_frame(struct ward_echo_segmenter *s)
{
	if (++s->fstamp > 255) {
		memset(s->fkey, 0, s->fcap * sizeof *s->fkey);
		s->fstamp = 1;
	}
	s->fused = 0;
}

/* The distinct-colour index of a pixel, numbering the colour when new. -1: out of memory. */
static int64_t colour_index(struct ward_echo_segmenter *s, const uint8_t *p, size_t *u)
{
	uint32_t colour = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
	uint32_t key = colour | s->fstamp << 24;
	size_t mask = s->fcap - 1, h = hash24(colour, mask);
	for (; s->fkey[h] >> 24 == s->fstamp; h = (h + 1) & mask)
		if (s->fkey[h] == key)
			return s->fval[h];
	s->colour[*u] = colour;
	s->fkey[h] = key;
	s->fval[h] = (uint32_t)*u;
	if (2 * ++s->fused > s->fcap && grow_frame(s))
		return -1;
	return (int64_t)(*u)++;
}

/* Maps every pixel to a distinct-colour index; fills s->uniq. Returns the count or 0. */
static size_t distinct_colours(struct ward_echo_segmenter *s, const uint8_t *bgr, size_t npx)
{
	size_t u = 0;
	new_frame(s);
	for (size_t i = 0; i < npx; i++) {
		const uint8_t *p = bgr + 3 * i;
		if (i > 0 && memcmp(p, p - 3, 3) == 0) {
			s->idx[i] = s->idx[i - 1];
			continue;
		}
		int64_t x = colour_index(s, p, &u);
		if (x < 0)
			return 0;
		s->idx[i] = (uint32_t)x;
	}
	const size_t ahead = 8;
	for (size_t v = 0; v < u; v++) {
		if (v + ahead < u)
			__builtin_prefetch(s->tab + hash24(s->colour[v + ahead] + 1, s->cap - 1));
		const float *lab = lookup(s, s->colour[v]);
		if (!lab)
			return 0;
		memcpy(s->uniq + 3 * v, lab, 3 * sizeof *lab);
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
		/* A mask, not a branch: Doppler and anatomy pixels alternate unpredictably. */
		uint8_t keep = (uint8_t)-info->is_doppler[s->labels[i]];
		const uint8_t *p = bgr + 3 * i;
		uint8_t *dp = dmask + 3 * i, *ap = anat + 3 * i;
		for (int j = 0; j < 3; j++) {
			dp[j] = p[j] & keep;
			ap[j] = p[j] & (uint8_t)~keep;
		}
	}
	info->doppler_px = mask_doppler(s->bin, dmask, w, h);
	return 0;
}
