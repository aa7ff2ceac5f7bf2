/* Private declarations of the key-file code: Blowfish, bcrypt_pbkdf, KDFs, PEM, parsers. */
#ifndef WARD_C4GH_KEYS_INTERNAL_H
#define WARD_C4GH_KEYS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypt4gh/c4gh_internal.h"

/* Key files are small; anything larger is rejected before parsing. */
#define C4GH_KEYFILE_MAX (64u * 1024u)
/* Longest passphrase accepted from a ward_passphrase_fn (bytes, without NUL). */
#define C4GH_PASSPHRASE_MAX 1023u

/* Defaults written by the reference implementation. */
#define C4GH_KEY_SALT      16u
#define C4GH_BCRYPT_ROUNDS 100u
#define C4GH_PBKDF2_ROUNDS 100000u
#define C4GH_SCRYPT_LOG2N  14u /* N = 2^14, r = 8, p = 1 */

/* ---- Blowfish (blowfish.c), only what bcrypt_pbkdf needs ------------------ */

struct c4gh_blf {
	uint32_t S[4][256];
	uint32_t P[18];
};

/* The initial state: hex digits of pi (blowfish_pi.h). */
void c4gh_blf_init(struct c4gh_blf *c);
/* Eksblowfish key schedule with salt: "expandstate" of bcrypt. */
void c4gh_blf_expand(struct c4gh_blf *c, const uint8_t *data, size_t databytes, const uint8_t *key,
                     size_t keybytes);
/* The same without salt ("expand0state"); it is also the plain Blowfish key schedule. */
void c4gh_blf_expand0(struct c4gh_blf *c, const uint8_t *key, size_t keybytes);
/* Encrypts one 64-bit block held as two big-endian words. */
void c4gh_blf_encipher(const struct c4gh_blf *c, uint32_t *xl, uint32_t *xr);

/* ---- bcrypt_pbkdf (bcrypt_pbkdf.c) ----------------------------------------- */

/*
 * OpenBSD bcrypt_pbkdf(3): the KDF of OpenSSH keys and of c4gh-v1 "bcrypt".
 * Returns 0, or -1 for the arguments OpenBSD rejects (empty passphrase or
 * salt, rounds 0, keylen 0 or over 1024).
 */
int c4gh_bcrypt_pbkdf(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                      uint8_t *key, size_t keylen, unsigned rounds);

/* ---- KDFs (kdf.c) ------------------------------------------------------------ */

/* Maps a c4gh-v1 kdf name to the enum; -1 if unknown. */
int c4gh_kdf_from_name(const uint8_t *name, size_t len, enum ward_c4gh_kdf *kdf);
/* The c4gh-v1 name of a kdf ("scrypt", ...), or NULL. */
const char *c4gh_kdf_name(enum ward_c4gh_kdf kdf);

/*
 * Derives outlen bytes from a passphrase. rounds is ignored by scrypt.
 * In WARD_FUZZING builds the cost is capped (see kdf.c), so the fuzzer can
 * run; those builds derive different keys.
 * Errors: WARD_E_PASSPHRASE (a passphrase the KDF refuses, e.g. empty for
 * bcrypt), WARD_E_FORMAT (bad rounds or salt), WARD_E_NOMEM.
 */
int c4gh_kdf_derive(enum ward_c4gh_kdf kdf, const char *pass, size_t passlen, const uint8_t *salt,
                    size_t saltlen, uint32_t rounds, uint8_t *out, size_t outlen);

/* ---- PEM armour and helpers (keyfile.c) -------------------------------------- */

/* A decoded "-----BEGIN label-----" block. data is sodium_malloc'ed. */
struct c4gh_pem {
	char label[64];
	uint8_t *data;
	size_t len;
};

/*
 * Decodes the first armoured block of text: blank lines and surrounding
 * white space are ignored, the body is base64 with or without padding.
 * Returns 0, or WARD_E_FORMAT (no armour, bad base64), WARD_E_NOMEM.
 */
int c4gh_pem_decode(const char *text, size_t len, struct c4gh_pem *pem);
void c4gh_pem_clear(struct c4gh_pem *pem);

/* name (from the input) if it is short printable ASCII, else "(binary)"; for messages. */
const char *c4gh_printable(const uint8_t *s, size_t n, char buf[48]);

/* "-----BEGIN label-----\n<base64>\n-----END label-----\n", malloc'ed. */
int c4gh_pem_encode(const char *label, const uint8_t *data, size_t len, char **out);

/*
 * Reads a whole small file (at most max bytes) into sodium_malloc'ed memory,
 * NUL-terminated. Like the other loaders, messages do not repeat the path:
 * callers print it (ward_report(prog, path, rc)).
 */
int c4gh_read_keyfile(const char *path, size_t max, char **buf, size_t *len);

/*
 * Asks get_pass for a passphrase into sodium_malloc'ed memory (*pass, to be
 * released with sodium_free). WARD_E_PASSPHRASE if get_pass is NULL; the
 * callback's own error code if it gives up.
 */
int c4gh_ask_passphrase(ward_passphrase_fn get_pass, void *ctx, char **pass, size_t *len);

/* ---- Parsers of decoded blobs ---------------------------------------------------- */

#define C4GH_KEY_MAGIC "c4gh-v1"
#define SSH_KEY_MAGIC  "openssh-key-v1" /* followed by a NUL byte */

/* c4gh-v1 blob (starting with its magic). keyfile_c4gh.c. */
int c4gh_keyfile_c4gh_parse(const uint8_t *blob, size_t len, ward_passphrase_fn get_pass, void *ctx,
                            struct ward_c4gh_seckey **out);

/* openssh-key-v1 blob (starting with its magic). keyfile_ssh.c. */
int c4gh_keyfile_ssh_parse(const uint8_t *blob, size_t len, ward_passphrase_fn get_pass, void *ctx,
                           struct ward_c4gh_seckey **out);

/* ---- Bounds-checked reading of big-endian structures ------------------------------ */

struct c4gh_rd {
	const uint8_t *p;
	size_t n;
};

static inline int c4gh_rd_u32(struct c4gh_rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = ward_load32_be(r->p);
	r->p += 4;
	r->n -= 4;
	return 0;
}

/* A string with a u16 length (c4gh-v1 key files). */
static inline int c4gh_rd_str16(struct c4gh_rd *r, const uint8_t **s, size_t *len)
{
	if (r->n < 2)
		return -1;
	size_t l = ward_load16_be(r->p);
	if (r->n - 2 < l)
		return -1;
	*s = r->p + 2;
	*len = l;
	r->p += 2 + l;
	r->n -= 2 + l;
	return 0;
}

/* A string with a u32 length (OpenSSH). */
static inline int c4gh_rd_str32(struct c4gh_rd *r, const uint8_t **s, size_t *len)
{
	uint32_t l;
	if (r->n < 4)
		return -1;
	l = ward_load32_be(r->p);
	if (r->n - 4 < l)
		return -1;
	*s = r->p + 4;
	*len = l;
	r->p += 4 + (size_t)l;
	r->n -= 4 + (size_t)l;
	return 0;
}

/* 1 if the string (s, len) equals the C string lit. */
static inline int c4gh_str_is(const uint8_t *s, size_t len, const char *lit)
{
	size_t i = 0;
	for (; lit[i]; i++)
		if (i >= len || s[i] != (uint8_t)lit[i])
			return 0;
	return i == len;
}

#endif
