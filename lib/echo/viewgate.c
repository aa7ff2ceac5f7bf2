/* The view classifier's input: blackout rectangles over burned-in text, grey, normalisation; the
 * vote. */
#include <float.h>
#include <string.h>

#include "echo/analysis_internal.h"

/* classifiers/letters.npy: x1, y1, x2, y2 with y measured from the bottom (h - y). */
static const int letters[47][4] = {
    {163, 301, 176, 311}, {177, 301, 185, 310}, {186, 301, 195, 311}, {203, 301, 209, 311},
    {210, 301, 216, 311}, {217, 301, 223, 311}, {224, 301, 230, 311}, {236, 299, 240, 300},
    {158, 286, 171, 296}, {171, 285, 176, 297}, {176, 286, 184, 296}, {185, 283, 191, 293},
    {193, 286, 197, 293}, {197, 285, 202, 297}, {203, 286, 216, 296}, {217, 286, 223, 296},
    {224, 286, 230, 296}, {161, 271, 167, 281}, {167, 271, 174, 281}, {178, 271, 184, 281},
    {185, 271, 191, 281}, {195, 271, 201, 281}, {202, 271, 207, 281}, {211, 271, 219, 280},
    {220, 271, 229, 281}, {236, 279, 240, 280}, {183, 256, 191, 266}, {191, 256, 198, 263},
    {200, 256, 204, 263}, {204, 256, 211, 266}, {213, 256, 214, 263}, {215, 256, 222, 263},
    {223, 256, 229, 263}, {236, 259, 240, 260}, {194, 241, 203, 251}, {205, 241, 206, 251},
    {213, 241, 220, 251}, {223, 241, 230, 251}, {236, 239, 240, 240}, {197, 226, 203, 236},
    {205, 226, 206, 236}, {213, 226, 220, 236}, {224, 226, 230, 236}, {200, 2, 206, 12},
    {207, 2, 219, 12},    {221, 2, 231, 10},    {130, 308, 137, 318}};

/* classifiers/mean.npy and std.npy. */
#define VIEW_MEAN 0.06280599540406188
#define VIEW_STD  0.14614177064709225

/* cv2.rectangle(thickness=-1): filled, both corners inclusive, clipped. */
static void fill_rect(uint8_t *m, int w, int h, int x1, int y1, int x2, int y2)
{
	int xa = x1 < x2 ? x1 : x2, xb = x1 < x2 ? x2 : x1;
	int ya = y1 < y2 ? y1 : y2, yb = y1 < y2 ? y2 : y1;
	xa = xa < 0 ? 0 : xa;
	ya = ya < 0 ? 0 : ya;
	xb = xb >= w ? w - 1 : xb;
	yb = yb >= h ? h - 1 : yb;
	for (int y = ya; y <= yb; y++)
		for (int x = xa; x <= xb; x++)
			m[(size_t)y * (size_t)w + (size_t)x] = 0;
}

void ward_echo_view_blackout_mask(uint8_t *m, int w, int h)
{
	memset(m, 255, (size_t)w * (size_t)h);
	/* img[:, -8:] = 0 comes first. */
	for (int y = 0; y < h; y++)
		for (int x = w > 8 ? w - 8 : 0; x < w; x++)
			m[(size_t)y * (size_t)w + (size_t)x] = 0;
	/* The original uses h = 320 whatever the frame: its coordinates are for the Vscan. */
	const int H = 320;
	for (int i = 0; i < 43; i++) {
		const int *l = letters[i];
		fill_rect(m, w, h, l[0] - 15, H - l[1] + 3, l[2] + 3, H - l[3] - 6);
	}
	const int *l = letters[46];
	fill_rect(m, w, h, l[0] - 2, H - l[1] + 2, l[2] + 3, H - l[3] - 2);
	fill_rect(m, w, h, 197, 297, 236, 318);
}

void ward_echo_view_preprocess(const uint8_t *bgr, int w, int h, const uint8_t *mask, float *out)
{
	size_t n = (size_t)w * (size_t)h;
	int lo = 255, hi = 0;
	for (size_t i = 0; i < n; i++) {
		int g = mask[i] ? ward_echo_gray(bgr[3 * i], bgr[3 * i + 1], bgr[3 * i + 2]) : 0;
		out[i] = (float)g;
		lo = g < lo ? g : lo;
		hi = g > hi ? g : hi;
	}
	/* A flat image would divide by zero in the original; it becomes all zeros here. */
	double range = hi > lo ? (double)(hi - lo) : 1.0;
	for (size_t i = 0; i < n; i++) {
		double x = ((double)out[i] - lo) / range;
		out[i] = (float)((x - VIEW_MEAN) / VIEW_STD);
	}
}

int ward_echo_view_majority(const int *cls, size_t n)
{
	size_t count[WARD_ECHO_CNN_CLASSES] = {0};
	for (size_t i = 0; i < n; i++)
		if (cls[i] >= 0 && cls[i] < WARD_ECHO_CNN_CLASSES)
			count[cls[i]]++;
	int best = 0;
	for (int c = 1; c < WARD_ECHO_CNN_CLASSES; c++)
		if (count[c] > count[best])
			best = c;
	return best;
}
