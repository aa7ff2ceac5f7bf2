/* OpenCV 4.6 8-bit BGR2GRAY, the fixed-point formula the pipeline's cvtColor uses. */
#include "echo/analysis_internal.h"

void ward_echo_bgr2gray(const uint8_t *bgr, uint8_t *gray, size_t n)
{
	for (size_t i = 0; i < n; i++, bgr += 3)
		gray[i] = ward_echo_gray(bgr[0], bgr[1], bgr[2]);
}
