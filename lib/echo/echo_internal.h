/* Private declarations shared by lib/echo (frames, colours, PNG, pseudonyms). */
#ifndef WARD_ECHO_INTERNAL_H
#define WARD_ECHO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ward/echo.h"

/*
 * Bit-exact OpenCV 4.x cvtColor(COLOR_BGR2HSV) for 8-bit pixels, H in [0,180).
 * bgr and hsv hold n pixels of 3 bytes each; they may be the same buffer.
 */
void ward_echo_bgr2hsv(const uint8_t *bgr, uint8_t *hsv, size_t n);

/*
 * Writes an 8-bit RGB, non-interlaced PNG with no ancillary chunks, through
 * libpng, atomically (temporary file + rename; refuses nothing: replaces
 * path). px holds h rows of w pixels of 3 bytes, row r at px + r * stride.
 * swap_rb = 0: px is BGR (a frame) and the PNG gets true colours;
 * swap_rb = 1: the bytes are stored as they are, so BGR frames come out with
 * red and blue swapped exactly like the original (PIL on a BGR array).
 * Returns 0, WARD_E_IO or WARD_E_NOMEM.
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

#endif
