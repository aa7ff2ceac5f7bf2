/* Shamir k-of-n secret sharing over GF(2^8) and the text form of a share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "ward/shamir.h"

#define SHARE_PREFIX "ward-share-1:"

/*
 * Multiplication in GF(2^8) modulo x^8+x^4+x^3+x+1 (the AES field), with no
 * table look-ups and no secret-dependent branches, so the time taken does not
 * depend on the share or key bytes.
 */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;
	for (int i = 0; i < 8; i++) {
		r ^= (uint8_t)(-(b & 1u)) & a;
		b >>= 1;
		uint8_t hi = (uint8_t)(-(a >> 7));
		a = (uint8_t)((a << 1) ^ (0x1bu & hi));
	}
	return r;
}

/* a^254 = a^-1 for a != 0 (and 0 for 0), by a fixed square-and-multiply chain. */
static uint8_t gf_inv(uint8_t a)
{
	uint8_t a2 = gf_mul(a, a);    /* a^2 */
	uint8_t a3 = gf_mul(a2, a);   /* a^3 */
	uint8_t a6 = gf_mul(a3, a3);  /* a^6 */
	uint8_t a12 = gf_mul(a6, a6); /* a^12 */
	uint8_t a15 = gf_mul(a12, a3);
	uint8_t a30 = gf_mul(a15, a15);
	uint8_t a60 = gf_mul(a30, a30);
	uint8_t a63 = gf_mul(a60, a3);
	uint8_t a126 = gf_mul(a63, a63);
	uint8_t a127 = gf_mul(a126, a);
	return gf_mul(a127, a127); /* a^254 */
}

int ward_shamir_split(const uint8_t *secret, size_t len, unsigned k, unsigned n, uint8_t *shares)
{
	if (len == 0 || len > WARD_SHAMIR_MAX_SECRET || k == 0 || n == 0 || k > n ||
	    n > WARD_SHAMIR_MAX_SHARES) {
		if (n > 0 && n <= WARD_SHAMIR_MAX_SHARES && len <= WARD_SHAMIR_MAX_SECRET)
			sodium_memzero(shares, (size_t)n * len);
		return ward_error(WARD_E_INVAL,
		                  "shamir: need 1 <= k <= n <= 255 and 1..64 secret bytes "
		                  "(k=%u n=%u len=%zu)",
		                  k, n, len);
	}
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	/* coef[j] holds the degree-j coefficients for every byte; degree 0 is the secret. */
	uint8_t coef[WARD_SHAMIR_MAX_SHARES][WARD_SHAMIR_MAX_SECRET];
	memcpy(coef[0], secret, len);
	for (unsigned j = 1; j < k; j++)
		randombytes_buf(coef[j], len);
	for (unsigned i = 0; i < n; i++) {
		uint8_t x = (uint8_t)(i + 1);
		uint8_t *y = shares + (size_t)i * len;
		for (size_t b = 0; b < len; b++) {
			/* Horner's rule from the highest degree down. */
			uint8_t acc = 0;
			for (unsigned j = k; j-- > 0;)
				acc = gf_mul(acc, x) ^ coef[j][b];
			y[b] = acc;
		}
	}
	sodium_memzero(coef, sizeof coef);
	return 0;
}

int ward_shamir_combine(const uint8_t *xs, const uint8_t *const *ys, unsigned k, size_t len,
                        uint8_t *secret)
{
	if (k == 0 || k > WARD_SHAMIR_MAX_SHARES || len == 0 || len > WARD_SHAMIR_MAX_SECRET)
		return ward_error(WARD_E_INVAL, "shamir: bad share count %u or length %zu", k, len);
	for (unsigned i = 0; i < k; i++) {
		if (xs[i] == 0)
			return ward_error(WARD_E_INVAL, "shamir: share x coordinate 0 is invalid");
		for (unsigned j = 0; j < i; j++)
			if (xs[i] == xs[j])
				return ward_error(WARD_E_INVAL, "shamir: share %u given twice",
				                  xs[i]);
	}
	uint8_t out[WARD_SHAMIR_MAX_SECRET] = {0};
	for (unsigned i = 0; i < k; i++) {
		/* Lagrange basis polynomial i at 0: prod x_j / (x_i - x_j); minus is xor. */
		uint8_t num = 1, den = 1;
		for (unsigned j = 0; j < k; j++) {
			if (j == i)
				continue;
			num = gf_mul(num, xs[j]);
			den = gf_mul(den, (uint8_t)(xs[i] ^ xs[j]));
		}
		uint8_t li = gf_mul(num, gf_inv(den));
		for (size_t b = 0; b < len; b++)
			out[b] ^= gf_mul(ys[i][b], li);
	}
	memcpy(secret, out, len);
	sodium_memzero(out, sizeof out);
	return 0;
}

/* First 4 bytes of SHA-256(text[0..n)) as 8 hex digits. */
static void check_digits(const char *text, size_t n, char hex[9])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)text, n, md);
	sodium_bin2hex(hex, 9, md, 4);
}

int ward_shamir_share_format(const uint8_t set_id[WARD_SHAMIR_SETID_BYTES], unsigned k, unsigned x,
                             const uint8_t *y, size_t len, char out[WARD_SHAMIR_TEXT_MAX])
{
	if (k == 0 || k > WARD_SHAMIR_MAX_SHARES || x == 0 || x > WARD_SHAMIR_MAX_SHARES ||
	    len == 0 || len > WARD_SHAMIR_MAX_SECRET)
		return ward_error(WARD_E_INVAL, "shamir: bad share parameters");
	char set_hex[2 * WARD_SHAMIR_SETID_BYTES + 1];
	char y_hex[2 * WARD_SHAMIR_MAX_SECRET + 1];
	sodium_bin2hex(set_hex, sizeof set_hex, set_id, WARD_SHAMIR_SETID_BYTES);
	sodium_bin2hex(y_hex, sizeof y_hex, y, len);
	int n =
	    snprintf(out, WARD_SHAMIR_TEXT_MAX, SHARE_PREFIX "%s:%u:%u:%s:", set_hex, k, x, y_hex);
	sodium_memzero(y_hex, sizeof y_hex);
	if (n < 0 || (size_t)n + 9 > WARD_SHAMIR_TEXT_MAX)
		return ward_error(WARD_E_INTERNAL, "shamir: share text too long");
	check_digits(out, (size_t)n - 1, out + n);
	return 0;
}

/* Parses a decimal number 1..255 from [s, e). */
static int parse_small(const char *s, const char *e, unsigned *out)
{
	if (e <= s || e - s > 3)
		return -1;
	unsigned v = 0;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v == 0 || v > WARD_SHAMIR_MAX_SHARES)
		return -1;
	*out = v;
	return 0;
}

int ward_shamir_share_parse(const char *text, uint8_t set_id[WARD_SHAMIR_SETID_BYTES], unsigned *k,
                            unsigned *x, uint8_t *y, size_t cap, size_t *len)
{
	while (isspace((unsigned char)*text))
		text++;
	size_t n = strlen(text);
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	const size_t plen = sizeof SHARE_PREFIX - 1;
	if (n < plen || n >= WARD_SHAMIR_TEXT_MAX || memcmp(text, SHARE_PREFIX, plen) != 0)
		return ward_error(WARD_E_FORMAT, "not a ward unseal share (expected '%s...')",
		                  SHARE_PREFIX);
	/* Fields after the prefix: set, k, x, y, check. */
	const char *f[6];
	f[0] = text + plen;
	int nf = 1;
	for (const char *p = f[0]; p < text + n && nf < 6; p++)
		if (*p == ':')
			f[nf++] = p + 1;
	if (nf != 5 || memchr(f[4], ':', (size_t)(text + n - f[4])))
		return ward_error(WARD_E_FORMAT, "unseal share: expected 5 ':'-separated fields");
	char want[9];
	check_digits(text, (size_t)(f[4] - 1 - text), want);
	if (text + n - f[4] != 8 || memcmp(f[4], want, 8) != 0)
		return ward_error(WARD_E_FORMAT, "unseal share: check digits do not match (typo?)");
	size_t got = 0;
	if (f[1] - 1 - f[0] != 2 * WARD_SHAMIR_SETID_BYTES ||
	    sodium_hex2bin(set_id, WARD_SHAMIR_SETID_BYTES, f[0], (size_t)(f[1] - 1 - f[0]), NULL,
	                   &got, NULL) != 0 ||
	    got != WARD_SHAMIR_SETID_BYTES)
		return ward_error(WARD_E_FORMAT, "unseal share: bad set id");
	if (parse_small(f[1], f[2] - 1, k) || parse_small(f[2], f[3] - 1, x))
		return ward_error(WARD_E_FORMAT, "unseal share: bad threshold or index");
	size_t yhex = (size_t)(f[4] - 1 - f[3]);
	if (yhex == 0 || yhex % 2)
		return ward_error(WARD_E_FORMAT, "unseal share: bad share bytes");
	if (yhex / 2 > cap)
		return ward_error(WARD_E_RANGE, "unseal share: share longer than %zu bytes", cap);
	if (sodium_hex2bin(y, cap, f[3], yhex, NULL, len, NULL) != 0 || *len != yhex / 2) {
		sodium_memzero(y, cap);
		return ward_error(WARD_E_FORMAT, "unseal share: bad share bytes");
	}
	return 0;
}
