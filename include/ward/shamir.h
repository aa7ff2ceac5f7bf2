/*
 * Shamir secret sharing over GF(256) (k-of-n), used to split the key
 * service's key-encryption key into unseal shares, and the text form of a
 * share ("ward-share-1:...").
 *
 * Thread safety: every function is reentrant. Randomness comes from
 * libsodium (sodium_init must have succeeded; the functions call it).
 */
#ifndef WARD_SHAMIR_H
#define WARD_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_SHAMIR_MAX_SHARES  255u
#define WARD_SHAMIR_MAX_SECRET  64u
#define WARD_SHAMIR_SETID_BYTES 8u
/* Longest text share: prefix, set id, k, x, 2*64 hex, check, separators, NUL. */
#define WARD_SHAMIR_TEXT_MAX 192u

/*
 * Splits secret (len bytes, 1..WARD_SHAMIR_MAX_SECRET) into n shares of len
 * bytes each, any k of which (1 <= k <= n <= 255) recover it. Share i
 * (0-based) is written at shares + i*len and has x coordinate i+1.
 * The random polynomial coefficients are wiped before returning.
 * Errors: WARD_E_INVAL. On error shares is zeroed.
 */
WARD_EXPORT WARD_NODISCARD int ward_shamir_split(const uint8_t *secret, size_t len, unsigned k,
                                                 unsigned n, uint8_t *shares) WARD_NONNULL(1, 5);

/*
 * Recovers the secret from k shares: xs[i] is the x coordinate (1..255,
 * pairwise distinct) of the share whose len bytes are ys[i]. With fewer than
 * the threshold the result is a wrong value, not an error: the caller checks
 * the secret (the key service does so with an authenticated unwrap).
 * Errors: WARD_E_INVAL (k == 0, x == 0, repeated x, len out of range).
 */
WARD_EXPORT WARD_NODISCARD int ward_shamir_combine(const uint8_t *xs, const uint8_t *const *ys,
                                                   unsigned k, size_t len, uint8_t *secret)
    WARD_NONNULL(1, 2, 5);

/*
 * Formats one share as text:
 *   ward-share-1:<set id, 16 hex>:<k>:<x>:<y, 2*len hex>:<check, 8 hex>
 * where check is the first 4 bytes of SHA-256 of everything before the last
 * ':' (it catches typing mistakes; it is not a MAC). out must hold
 * WARD_SHAMIR_TEXT_MAX bytes; the caller wipes it.
 */
WARD_EXPORT WARD_NODISCARD int
ward_shamir_share_format(const uint8_t set_id[WARD_SHAMIR_SETID_BYTES], unsigned k, unsigned x,
                         const uint8_t *y, size_t len, char out[WARD_SHAMIR_TEXT_MAX]);

/*
 * Parses a text share (surrounding white space allowed). y receives up to
 * cap bytes; *len is set to the share's length.
 * Errors: WARD_E_FORMAT (syntax, bad check digits), WARD_E_RANGE (y too big).
 */
WARD_EXPORT WARD_NODISCARD int ward_shamir_share_parse(const char *text,
                                                       uint8_t set_id[WARD_SHAMIR_SETID_BYTES],
                                                       unsigned *k, unsigned *x, uint8_t *y,
                                                       size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
