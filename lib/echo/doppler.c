/* The original pipeline's Doppler test (HSV colour counts on frame 0) and its text mask. */
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "echo/echo_internal.h"

/* cv2.inRange bounds of the original (video_frames.classify_video). */
static int in_range(const uint8_t *hsv, int hlo, int hhi)
{
	return hsv[0] >= hlo && hsv[0] <= hhi && hsv[1] >= 50 && hsv[2] >= 50;
}

int ward_echo_video_is_doppler(const struct ward_echo_frame *f0, unsigned *blue, unsigned *red)
{
	if (!f0->bgr || f0->width <= 0 || f0->height <= 0 || f0->stride < 3 * (size_t)f0->width)
		return ward_error(WARD_E_INVAL, "empty frame");
	uint8_t row[3 * 1024];
	unsigned nb = 0, nr = 0;
	for (int y = 0; y < f0->height; y++) {
		const uint8_t *src = f0->bgr + (size_t)y * f0->stride;
		for (int x = 0; x < f0->width;) {
			int n = f0->width - x < 1024 ? f0->width - x : 1024;
			ward_echo_bgr2hsv(src + 3 * (size_t)x, row, (size_t)n);
			for (int i = 0; i < n; i++) {
				/* H never exceeds 179, so the red range 169..189 is 169..179. */
				nb += (unsigned)in_range(row + 3 * i, 110, 130);
				nr += (unsigned)in_range(row + 3 * i, 169, 189);
			}
			x += n;
		}
	}
	if (blue)
		*blue = nb;
	if (red)
		*red = nr;
	/* The original compares the sums of 0/255 masks with 25000: 99 pixels or more. */
	return (unsigned long long)nb * 255 >= 25000 || (unsigned long long)nr * 255 >= 25000;
}

void ward_echo_frame_mask_text(struct ward_echo_frame *f)
{
	/*
	 * The original loops j over range(int(2W/3)-10, W) and indexes with j:
	 * for W < 15 the negative j wrap to the row's end, so the whole row is
	 * cleared, which starting at column 0 also does. The integer divisions
	 * equal Python's int() of the float quotients for every size.
	 */
	int rows = f->height / 6;
	int col = 2 * f->width / 3 - 10;
	if (col < 0)
		col = 0;
	if (col >= f->width)
		return;
	for (int y = 0; y < rows; y++)
		memset(f->bgr + (size_t)y * f->stride + 3 * (size_t)col, 0,
		       3 * (size_t)(f->width - col));
}
