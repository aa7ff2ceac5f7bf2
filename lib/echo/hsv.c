/* Bit-exact port of OpenCV 4.x cvtColor(COLOR_BGR2HSV) for 8-bit images (H in [0,180)). */
#include <math.h>
#include <pthread.h>

#include "echo/echo_internal.h"

enum { HSV_SHIFT = 12 };

static int sdiv_table[256];
static int hdiv_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/*
 * OpenCV fills these with saturate_cast<int>(double), i.e. cvRound, which
 * rounds half to even: that is rint() in the default rounding mode.
 */
static void init_tables(void)
{
	sdiv_table[0] = hdiv_table[0] = 0;
	for (int i = 1; i < 256; i++) {
		sdiv_table[i] = (int)rint((double)(255 << HSV_SHIFT) / (double)i);
		hdiv_table[i] = (int)rint((double)(180 << HSV_SHIFT) / (6.0 * i));
	}
}

/* Floor of x / 2^12 after adding one half, as OpenCV's arithmetic shift does. */
static inline int descale(int x)
{
	x += 1 << (HSV_SHIFT - 1);
	return x >= 0 ? x >> HSV_SHIFT : -((-x + (1 << HSV_SHIFT) - 1) >> HSV_SHIFT);
}

void ward_echo_bgr2hsv(const uint8_t *bgr, uint8_t *hsv, size_t n)
{
	pthread_once(&tables_once, init_tables);
	for (size_t i = 0; i < n; i++) {
		int b = bgr[3 * i], g = bgr[3 * i + 1], r = bgr[3 * i + 2];
		int v = b > g ? b : g;
		v = v > r ? v : r;
		int vmin = b < g ? b : g;
		vmin = vmin < r ? vmin : r;
		int diff = v - vmin;
		int s = descale(diff * sdiv_table[v]);
		int h;
		if (v == r)
			h = g - b;
		else if (v == g)
			h = b - r + 2 * diff;
		else
			h = r - g + 4 * diff;
		h = descale(h * hdiv_table[diff]);
		if (h < 0)
			h += 180;
		hsv[3 * i] = (uint8_t)h;
		hsv[3 * i + 1] = (uint8_t)s;
		hsv[3 * i + 2] = (uint8_t)v;
	}
}
