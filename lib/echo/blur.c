/* OpenCV's fixed-point 8-bit 3x3 GaussianBlur (the velocity estimate's smoothing). */
#include <stdlib.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

/* Reflect-101 index (…2 1 | 0 1 2 … n-2 n-1 | n-2 …) for i in [-1, n]. */
static inline int reflect101(int i, int n)
{
	if (n == 1)
		return 0;
	if (i < 0)
		return -i;
	if (i >= n)
		return 2 * n - 2 - i;
	return i;
}

int ward_echo_gauss3(const uint8_t *src, uint8_t *dst, int w, int h)
{
	if (w <= 0 || h <= 0)
		return ward_error(WARD_E_INVAL, "blur: empty image");
	/* Horizontal pass in 8.8 fixed point (uint16), exact: 255 * 256 fits. */
	uint16_t *tmp = malloc((size_t)w * (size_t)h * sizeof *tmp);
	if (!tmp)
		return ward_error(WARD_E_NOMEM, "blur: out of memory");
	for (int r = 0; r < h; r++) {
		const uint8_t *s = src + (size_t)r * (size_t)w;
		uint16_t *t = tmp + (size_t)r * (size_t)w;
		for (int c = 0; c < w; c++) {
			unsigned a = s[reflect101(c - 1, w)], b = s[c], d = s[reflect101(c + 1, w)];
			t[c] = (uint16_t)(84u * a + 88u * b + 84u * d);
		}
	}
	/* Vertical pass: 16 fractional bits, rounded to nearest. */
	for (int r = 0; r < h; r++) {
		const uint16_t *t0 = tmp + (size_t)reflect101(r - 1, h) * (size_t)w;
		const uint16_t *t1 = tmp + (size_t)r * (size_t)w;
		const uint16_t *t2 = tmp + (size_t)reflect101(r + 1, h) * (size_t)w;
		uint8_t *d = dst + (size_t)r * (size_t)w;
		for (int c = 0; c < w; c++) {
			uint32_t acc = 84u * t0[c] + 88u * t1[c] + 84u * t2[c];
			d[c] = (uint8_t)((acc + (1u << 15)) >> 16);
		}
	}
	free(tmp);
	return 0;
}
