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
WARD_EXPORT WARD_NODISCARD int ward_echo_video_open(const char *path, struct ward_echo_video **out)
    WARD_NONNULL(1, 2);

/*
 * Decodes the next frame into *f. Returns 1 with a frame (the pixel buffer is
 * owned by v and valid until the next call on v or ward_echo_video_close),
 * 0 at the end of the video, or a negative ward_err: WARD_E_FORMAT for a
 * corrupt stream, WARD_E_TRUNCATED when the file ends inside the data it
 * announces. After an error every further call returns the same error.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_video_next(struct ward_echo_video *v,
                                                    struct ward_echo_frame *f) WARD_NONNULL(1, 2);

/* The number of frames returned so far by ward_echo_video_next. */
WARD_EXPORT long ward_echo_video_frames(const struct ward_echo_video *v) WARD_NONNULL(1);

/* Closes v and frees everything it owns. Accepts NULL. */
WARD_EXPORT void ward_echo_video_close(struct ward_echo_video *v);

/*
 * The original pipeline's Doppler test on frame 0: 8-bit OpenCV BGR->HSV, blue
 * = H 110..130, red = H 169..179 (both with S and V 50..255); Doppler iff
 * either mask sums to >= 25000 (at least 99 pixels). Stores the pixel counts
 * in *blue and *red when they are not NULL. Returns 1 (Doppler), 0 (not), or
 * WARD_E_INVAL for an empty frame.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_video_is_doppler(const struct ward_echo_frame *f0,
                                                          unsigned *blue, unsigned *red)
    WARD_NONNULL(1);

/*
 * Zeroes the burned-in text region of a frame in place, as the original
 * anonymiser does: rows 0 .. floor(H/6)-1, columns max(0, floor(2W/3)-10) ..
 * W-1. For 240x320 that is rows 0-52, columns 150-239.
 */
WARD_EXPORT void ward_echo_frame_mask_text(struct ward_echo_frame *f) WARD_NONNULL(1);

/* What ward_echo_anonymise did with a video. */
enum ward_echo_outcome {
	WARD_ECHO_WRITTEN = 1,     /* a Doppler video: every frame written, masked */
	WARD_ECHO_NOT_DOPPLER = 2, /* frame 0 is not colour Doppler: nothing written */
	WARD_ECHO_NO_FRAMES = 3,   /* the video holds no frame: nothing written */
};

struct ward_echo_anonymise_opts {
	/*
	 * 1: store each frame's B,G,R bytes as the PNG's R,G,B samples, as the
	 * original did (red and blue swapped); 0: true colours.
	 */
	int original_colours;
	/* 1: replace an existing output directory; 0: refuse (WARD_E_EXISTS). */
	int replace;
	/* Threads encoding PNGs while the next frames decode; 0: one per CPU, at most 4. */
	int threads;
};

struct ward_echo_anonymise_result {
	enum ward_echo_outcome outcome;
	unsigned blue, red; /* frame 0's Doppler pixel counts */
	long frames;        /* frames decoded (and written, for WARD_ECHO_WRITTEN) */
	int opened;         /* 1 once the file opened as a video: a later failure is a
	                       corrupt video, an earlier one may be a file of another kind */
};

/*
 * Anonymises one video: decides Doppler from frame 0, and for a Doppler video
 * masks the burned-in text of every frame (ward_echo_frame_mask_text) and
 * writes frame i as out_dir/<i>.png (8-bit RGB, no metadata). The directory
 * is built under a hidden temporary name beside out_dir and renamed to
 * out_dir only when every frame is written, so out_dir is complete or absent;
 * the temporary directory is removed on failure and on SIGINT, SIGTERM,
 * SIGHUP and SIGPIPE. opts NULL means the defaults (true colours, no
 * replacing). Returns 0 with *res filled, or a negative ward_err: those of
 * ward_echo_video_open/next, WARD_E_EXISTS, WARD_E_IO. Encodes on its own
 * threads (opts->threads); calls for different out_dir may run on different
 * threads, at most 4 at once.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_anonymise(const char *video_path, const char *out_dir,
                                                   const struct ward_echo_anonymise_opts *opts,
                                                   struct ward_echo_anonymise_result *res)
    WARD_NONNULL(1, 2, 4);

/*
 * The same in two steps, so that a caller can decode the next video while
 * the previous one is flushed to disk and renamed (on another thread).
 * ward_echo_anonymise_begin does everything up to the rename: for a Doppler
 * video it writes the frames into the temporary directory and returns a
 * pending output in *pending; otherwise *pending is NULL. Then exactly one
 * of ward_echo_anonymise_publish (flush, rename into place; frees pending;
 * on failure the temporary directory is removed) or
 * ward_echo_anonymise_discard (removes it; accepts NULL). At most 4 outputs
 * may be pending at once. publish may run on another thread than begin.
 */
struct ward_echo_pending;
WARD_EXPORT WARD_NODISCARD int
ward_echo_anonymise_begin(const char *video_path, const char *out_dir,
                          const struct ward_echo_anonymise_opts *opts,
                          struct ward_echo_anonymise_result *res,
                          struct ward_echo_pending **pending) WARD_NONNULL(1, 2, 4, 5);
WARD_EXPORT WARD_NODISCARD int ward_echo_anonymise_publish(struct ward_echo_pending *pending)
    WARD_NONNULL(1);
WARD_EXPORT void ward_echo_anonymise_discard(struct ward_echo_pending *pending);

/* A secret key naming anonymised videos by keyed pseudonym (opaque, in locked memory). */
struct ward_echo_pseudonym_key;

#define WARD_ECHO_PSEUDONYM_KEYBYTES 32
#define WARD_ECHO_PSEUDONYM_HEXLEN   64

/*
 * Loads a pseudonym key file: 64 hexadecimal digits (32 bytes), optionally
 * followed by one newline. Returns 0 and sets *out, or WARD_E_IO,
 * WARD_E_FORMAT (anything else in the file), WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_pseudonym_key_load(const char *path,
                                                            struct ward_echo_pseudonym_key **out)
    WARD_NONNULL(1, 2);

/*
 * Creates a new random key file at path (mode 0600, never overwriting:
 * WARD_E_EXISTS) and returns the key in *out.
 */
WARD_EXPORT WARD_NODISCARD int
ward_echo_pseudonym_key_generate(const char *path, struct ward_echo_pseudonym_key **out)
    WARD_NONNULL(1, 2);

/* Wipes and frees a key. Accepts NULL. */
WARD_EXPORT void ward_echo_pseudonym_key_free(struct ward_echo_pseudonym_key *k);

/*
 * The pseudonym of a video: lower-case hex HMAC-SHA256 of the file's bytes
 * under k, NUL-terminated. The same content gives the same name; without the
 * key a name cannot be linked to a file. Returns 0 or WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_pseudonym(const struct ward_echo_pseudonym_key *k,
                                                   const char *video_path,
                                                   char hex[static WARD_ECHO_PSEUDONYM_HEXLEN + 1])
    WARD_NONNULL(1, 2, 3);

/*
 * The original's directory name: lower-case hex MD5 of the path string as
 * given (the original hashed os.path.join(IN, name), not the content).
 * Reversible by guessing file names: for comparisons with the original only.
 */
WARD_EXPORT void ward_echo_compat_name(const char *path_string, char hex[static 33])
    WARD_NONNULL(1, 2);

/*
 * Synthetic echo-like videos for tests and demonstrations (not clinical
 * data): a grey speckle sector, optionally a blue and a red colour-Doppler
 * blob (inside the original's HSV ranges) and burned-in white digits in the
 * corner the anonymiser masks. Null strings take the defaults in brackets.
 */
struct ward_echo_synth_opts {
	int width, height;     /* frame size, 1..8192 (the sample videos: 240 x 320) */
	int frames;            /* number of frames, may be 0 */
	int doppler;           /* 1: draw the Doppler blobs */
	int text;              /* 1: draw the digits */
	unsigned seed;         /* speckle pattern and exam number */
	const char *codec;     /* libavcodec encoder [libx264 if present, else mpeg4] */
	const char *pix_fmt;   /* encoder pixel format [yuv420p] */
	const char *container; /* libavformat muxer [from the file name's extension] */
	int faststart;         /* 1: MP4/MOV index before the data (a truncated file then
	                          keeps its index, and the frames are what is cut) */
};

/*
 * Renders synthetic frame index into bgr (BGR24, height rows of stride
 * bytes): what ward_echo_synth encodes, for lossless-codec comparisons.
 */
WARD_EXPORT void ward_echo_synth_frame(const struct ward_echo_synth_opts *o, long index,
                                       uint8_t *bgr, size_t stride) WARD_NONNULL(1, 3);

/*
 * Encodes o->frames synthetic frames into a video at path (written under a
 * temporary name, renamed when complete). Returns 0, WARD_E_INVAL (size,
 * file name without a known container), WARD_E_UNSUPPORTED (encoder or
 * pixel format unavailable), WARD_E_IO, WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_echo_synth(const char *path,
                                               const struct ward_echo_synth_opts *o)
    WARD_NONNULL(1, 2);

#ifdef __cplusplus
}
#endif
#endif
