/* libFuzzer harness for echo video decoding (FFmpeg demux/decode, then Ward's BGR24 conversion,
 * Doppler test, mask, PNG). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "echo/echo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The API takes a path: hand FFmpeg the input as an anonymous file. */
	int fd = memfd_create("ward-fuzz-video", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct ward_echo_video *v = NULL;
	int rc = ward_echo_video_open(path, &v);
	if (rc > 0 || (rc < 0 && v))
		abort();
	struct ward_echo_frame f;
	for (int i = 0; v && i < 6 && (rc = ward_echo_video_next(v, &f)) == 1; i++) {
		if (f.width <= 0 || f.height <= 0 || f.stride < 3 * (size_t)f.width || !f.bgr)
			abort();
		/* Touch every byte the frame claims, so ASan checks the buffer's extent. */
		unsigned sum = 0;
		for (int y = 0; y < f.height; y++)
			for (size_t x = 0; x < 3 * (size_t)f.width; x++)
				sum += f.bgr[(size_t)y * f.stride + x];
		if ((long)f.width * f.height > 1 << 20)
			break; /* large frames: decoding was the test */
		unsigned blue, red;
		if (ward_echo_video_is_doppler(&f, &blue, &red) < 0 ||
		    blue + red > (unsigned)(f.width * f.height))
			abort();
		ward_echo_frame_mask_text(&f);
		if (i == 0 && (long)f.width * f.height <= 1 << 16 &&
		    ward_echo_png_write("/dev/null", f.bgr, f.width, f.height, f.stride,
		                        (int)(sum & 1)) == WARD_E_INVAL)
			abort();
	}
	if (rc > 1)
		abort();
	ward_echo_video_close(v);
	close(fd);
	return 0;
}
