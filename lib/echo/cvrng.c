/* cv::RNG: the generator behind cv::theRNG(), which the original k-means draws from. */
#include "echo/analysis_internal.h"

double ward_echo_rng_double(struct ward_echo_rng *r)
{
	/* OpenCV: unsigned t = next(); return (((uint64)t << 32) | next()) * 2^-64. */
	uint64_t t = ward_echo_rng_next(r);
	t = t << 32 | ward_echo_rng_next(r);
	return (double)t * 5.4210108624275221700372640043497e-20;
}
