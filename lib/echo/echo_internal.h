/* Private declarations shared by lib/echo (frames, colours, PNG, pseudonyms). */
#ifndef WARD_ECHO_INTERNAL_H
#define WARD_ECHO_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/echo.h"

/*
 * Bit-exact OpenCV 4.x cvtColor(COLOR_BGR2HSV) for 8-bit pixels, H in [0,180).
 * bgr and hsv hold n pixels of 3 bytes each; they may be the same buffer.
 */
void ward_echo_bgr2hsv(const uint8_t *bgr, uint8_t *hsv, size_t n);

/*
 * Writes an 8-bit RGB, non-interlaced PNG with no ancillary chunks (no
 * metadata), through libpng, atomically (temporary file + rename; an existing
 * path is replaced). px holds h rows of w pixels of 3 bytes, row r at
 * px + r * stride. The bytes of each pixel become the R, G, B samples in
 * order; swap_rb = 1 swaps the first and third byte while writing.
 *   BGR frame, true colours:            swap_rb = 1 (the default mode)
 *   BGR frame, the original's output:   swap_rb = 0 (PIL wrote the BGR array
 *                                       as RGB: red and blue swapped)
 *   RGB buffer:                         swap_rb = 0
 * Returns 0, WARD_E_INVAL, WARD_E_IO or WARD_E_NOMEM.
 */
int ward_echo_png_write(const char *path, const uint8_t *px, int w, int h, size_t stride,
                        int swap_rb);

/*
 * Same, into an already open descriptor (not closed). For callers that manage
 * their own temporary files.
 */
int ward_echo_png_write_fd(int fd, const uint8_t *px, int w, int h, size_t stride, int swap_rb);

/*
 * Reads a PNG into RGB24 (w * 3 bytes per row, no padding), converting
 * palette, grey, 16-bit and alpha images to 8-bit RGB (alpha dropped).
 * *px is malloc'ed; the caller frees it. Returns 0, WARD_E_IO, WARD_E_FORMAT
 * or WARD_E_NOMEM; on failure *px is NULL.
 */
int ward_echo_png_read(const char *path, uint8_t **px, int *w, int *h);

/*
 * A pool of threads writing frames as DIR/<index>.png (ward_echo_png_write_fd
 * with swap_rb), so encoding overlaps decoding. threads <= 0: one per CPU, at
 * most 4. The files are written in place (no fsync, no rename): DIR is meant
 * to be a temporary directory renamed when complete.
 */
struct ward_echo_writer;
int ward_echo_writer_start(const char *dir, int swap_rb, int threads,
                           struct ward_echo_writer **out);

/*
 * Queues a copy of f as frame index, waiting while every slot is busy.
 * Returns 0, or the first failure of a worker (later frames are dropped).
 */
int ward_echo_writer_put(struct ward_echo_writer *w, long index, const struct ward_echo_frame *f);

/* Waits for the queued frames, stops the threads, frees w (NULL is fine): 0 or the first failure.
 */
int ward_echo_writer_finish(struct ward_echo_writer *w);

/*
 * Set by anonymise's signal handler before it removes the frames written so
 * far: the frame writer then creates no further file, so the directory it
 * removes stays removed even while other threads still run.
 */
extern volatile sig_atomic_t echo_dying;

#endif
