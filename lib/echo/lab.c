/* skimage 0.19 rgb2lab (float64, D65/2 degrees) cast to float32, as the segmentation uses it. */
#include <math.h>
#include <pthread.h>

#include "echo/analysis_internal.h"
#include "echo/fpstrict.h"

static double lin[256];
static pthread_once_t lin_once = PTHREAD_ONCE_INIT;

/* img_as_float multiplies by 1/255; then skimage's sRGB linearisation. */
static void lin_init(void)
{
	for (int i = 0; i < 256; i++) {
		double c = (double)i * (1.0 / 255.0);
		lin[i] = c > 0.04045 ? pow((c + 0.055) / 1.055, 2.4) : c / 12.92;
	}
}

static inline double lab_f(double t)
{
	return t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0;
}

void ward_echo_rgb2lab(const uint8_t p[static 3], float lab[static 3])
{
	pthread_once(&lin_once, lin_init);
	double r = lin[p[0]], g = lin[p[1]], b = lin[p[2]];
	/* arr @ xyz_from_rgb.T, summed in index order. */
	double x = r * 0.412453 + g * 0.357580 + b * 0.180423;
	double y = r * 0.212671 + g * 0.715160 + b * 0.072169;
	double z = r * 0.019334 + g * 0.119193 + b * 0.950227;
	double fx = lab_f(x / 0.95047), fy = lab_f(y / 1.0), fz = lab_f(z / 1.08883);
	lab[0] = (float)(116.0 * fy - 16.0);
	lab[1] = (float)(500.0 * (fx - fy));
	lab[2] = (float)(200.0 * (fy - fz));
}
