/* OpenBSD bcrypt_pbkdf(3): PBKDF2-like KDF over a bcrypt core (OpenSSH and c4gh-v1 keys). */
#include <string.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"

/*
 * Written from the published description of bcrypt_pbkdf (OpenBSD
 * lib/libutil/bcrypt_pbkdf.c, Ted Unangst 2013): each output block is the
 * xor of `rounds` iterations of a bcrypt hash keyed by SHA-512(passphrase)
 * and salted by SHA-512(salt || counter), then previous output; the blocks
 * are interleaved into the key ("stride"), not concatenated.
 */

#define BCRYPT_WORDS 8
#define BCRYPT_HASH  (BCRYPT_WORDS * 4)
#define SHA512_LEN   crypto_hash_sha512_BYTES

struct bcrypt_work {
	struct c4gh_blf blf;
	uint8_t sha2pass[SHA512_LEN];
	uint8_t sha2salt[SHA512_LEN];
	uint8_t out[BCRYPT_HASH];
	uint8_t tmp[BCRYPT_HASH];
	uint32_t cdata[BCRYPT_WORDS];
};

/* One bcrypt hash: 64 rounds of Eksblowfish expansion, then 64 encryptions of a constant. */
static void bcrypt_hash(struct bcrypt_work *w, uint8_t out[BCRYPT_HASH])
{
	static const uint8_t magic[BCRYPT_HASH] = "OxychromaticBlowfishSwatDynamite";
	struct c4gh_blf *c = &w->blf;

	c4gh_blf_init(c);
	c4gh_blf_expand(c, w->sha2salt, SHA512_LEN, w->sha2pass, SHA512_LEN);
	for (int i = 0; i < 64; i++) {
		c4gh_blf_expand0(c, w->sha2salt, SHA512_LEN);
		c4gh_blf_expand0(c, w->sha2pass, SHA512_LEN);
	}
	for (int i = 0; i < BCRYPT_WORDS; i++)
		w->cdata[i] = ward_load32_be(magic + 4 * i);
	for (int i = 0; i < 64; i++)
		for (int b = 0; b < BCRYPT_WORDS; b += 2)
			c4gh_blf_encipher(c, &w->cdata[b], &w->cdata[b + 1]);
	/* The words come out little-endian: a quirk of the original, kept for compatibility. */
	for (int i = 0; i < BCRYPT_WORDS; i++)
		ward_store32_le(out + 4 * i, w->cdata[i]);
}

int c4gh_bcrypt_pbkdf(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                      uint8_t *key, size_t keylen, unsigned rounds)
{
	if (rounds < 1 || passlen == 0 || saltlen == 0 || keylen == 0 ||
	    keylen > BCRYPT_HASH * BCRYPT_HASH)
		return -1;
	struct bcrypt_work *w = sodium_malloc(sizeof *w);
	if (!w)
		return -1;
	size_t stride = (keylen + BCRYPT_HASH - 1) / BCRYPT_HASH;
	size_t amt = (keylen + stride - 1) / stride;
	size_t remaining = keylen;
	crypto_hash_sha512(w->sha2pass, (const uint8_t *)pass, passlen);

	for (uint32_t count = 1; remaining > 0; count++) {
		uint8_t cnt[4];
		crypto_hash_sha512_state st;
		ward_store32_be(cnt, count);
		crypto_hash_sha512_init(&st);
		crypto_hash_sha512_update(&st, salt, saltlen);
		crypto_hash_sha512_update(&st, cnt, sizeof cnt);
		crypto_hash_sha512_final(&st, w->sha2salt);
		bcrypt_hash(w, w->tmp);
		memcpy(w->out, w->tmp, BCRYPT_HASH);
		for (unsigned r = 1; r < rounds; r++) {
			crypto_hash_sha512(w->sha2salt, w->tmp, BCRYPT_HASH);
			bcrypt_hash(w, w->tmp);
			for (size_t j = 0; j < BCRYPT_HASH; j++)
				w->out[j] ^= w->tmp[j];
		}
		/* Interleave: byte i of block `count` lands at i * stride + count - 1. */
		if (amt > remaining)
			amt = remaining;
		size_t i;
		for (i = 0; i < amt; i++) {
			size_t dest = i * stride + (count - 1);
			if (dest >= keylen)
				break;
			key[dest] = w->out[i];
		}
		remaining -= i;
	}
	sodium_free(w); /* wipes the state, hashes and outputs */
	return 0;
}
