/* Echocardiography videos: decoding to BGR24 frames, Doppler detection, anonymisation. */
#ifndef WARD_ECHO_H
#define WARD_ECHO_H

#include <stddef.h>
#include <stdint.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One decoded frame: BGR24 (3 bytes per pixel, B first), rows top to bottom,
 * row r starting at bgr + r * stride (stride >= 3 * width). The bytes are
 * those of `ffmpeg -pix_fmt bgr24` with the default swscale flags, which is
 * what OpenCV's VideoCapture returns.
 */
struct ward_echo_frame {
	int width, height;
	size_t stride;
	uint8_t *bgr;
};

/* An open video being decoded (opaque). Not thread-safe; one per thread. */
struct ward_echo_video;

/*
 * Opens the video file at path and its first video stream. Returns 0 and sets
 * *out, or WARD_E_IO (cannot open), WARD_E_FORMAT (not a video FFmpeg can
 * demux, or no video stream), WARD_E_UNSUPPORTED (no decoder), WARD_E_NOMEM.
 * On failure *out is NULL.
 */
WARD_EXPORT WARD_NODISCARD WARD_NONNULL(1,
                                        2) int ward_echo_video_open(const char *path,
                                                                    struct ward_echo_video **out);

/*
 * Decodes the next frame into *f. Returns 1 with a frame (the pixel buffer is
 * owned by v and valid until the next call on v or ward_echo_video_close),
 * 0 at the end of the video, or a negative ward_err: WARD_E_FORMAT for a
 * corrupt stream, WARD_E_TRUNCATED when the file ends inside the data it
 * announces. After an error every further call returns the same error.
 */
WARD_EXPORT WARD_NODISCARD WARD_NONNULL(1, 2) int ward_echo_video_next(struct ward_echo_video *v,
                                                                       struct ward_echo_frame *f);

/* The number of frames returned so far by ward_echo_video_next. */
WARD_EXPORT WARD_NONNULL(1) long ward_echo_video_frames(const struct ward_echo_video *v);

/* Closes v and frees everything it owns. Accepts NULL. */
WARD_EXPORT void ward_echo_video_close(struct ward_echo_video *v);

/*
 * The original pipeline's Doppler test on frame 0: 8-bit OpenCV BGR->HSV, blue
 * = H 110..130, red = H 169..179 (both with S and V 50..255); Doppler iff
 * either mask sums to >= 25000 (at least 99 pixels). Stores the pixel counts
 * in *blue and *red when they are not NULL. Returns 1 (Doppler), 0 (not), or
 * WARD_E_INVAL for an empty frame.
 */
WARD_EXPORT
    WARD_NODISCARD WARD_NONNULL(1) int ward_echo_video_is_doppler(const struct ward_echo_frame *f0,
                                                                  unsigned *blue, unsigned *red);

/*
 * Zeroes the burned-in text region of a frame in place, as the original
 * anonymiser does: rows 0 .. floor(H/6)-1, columns max(0, floor(2W/3)-10) ..
 * W-1. For 240x320 that is rows 0-52, columns 150-239.
 */
WARD_EXPORT WARD_NONNULL(1) void ward_echo_frame_mask_text(struct ward_echo_frame *f);

#ifdef __cplusplus
}
#endif
#endif
