/* Blowfish (Schneier 1993) with the Eksblowfish key schedule that bcrypt_pbkdf needs. */
#include <string.h>

#include "crypt4gh/blowfish_pi.h"
#include "crypt4gh/keys_internal.h"

/*
 * There is no Debian library for bcrypt_pbkdf (OpenSSL has no Blowfish in
 * its default provider in version 3), so the cipher lives here. Only
 * encryption is needed; everything is on uint32_t words.
 */

#define BLF_F(c, x)                                                                                \
	((((c)->S[0][(x) >> 24] + (c)->S[1][((x) >> 16) & 0xff]) ^ (c)->S[2][((x) >> 8) & 0xff]) + \
	 (c)->S[3][(x)&0xff])

void c4gh_blf_encipher(const struct c4gh_blf *c, uint32_t *xl, uint32_t *xr)
{
	uint32_t l = *xl, r = *xr;
	l ^= c->P[0];
	for (int i = 1; i <= 16; i += 2) {
		r ^= BLF_F(c, l) ^ c->P[i];
		l ^= BLF_F(c, r) ^ c->P[i + 1];
	}
	*xl = r ^ c->P[17];
	*xr = l;
}

void c4gh_blf_init(struct c4gh_blf *c)
{
	memcpy(c->P, blowfish_pi, sizeof c->P);
	memcpy(c->S, blowfish_pi + 18, sizeof c->S);
}

/* The next 4 bytes of data as a big-endian word, wrapping around at the end. */
static uint32_t stream2word(const uint8_t *data, size_t n, size_t *pos)
{
	uint32_t w = 0;
	for (int i = 0; i < 4; i++) {
		if (*pos >= n)
			*pos = 0;
		w = w << 8 | data[(*pos)++];
	}
	return w;
}

/*
 * Mixes the key into P, then re-encrypts the whole state. With data (the
 * salt) each block is first xored with the next salt words; without it this
 * is the ordinary Blowfish key schedule.
 */
static void expand(struct c4gh_blf *c, const uint8_t *data, size_t databytes, const uint8_t *key,
                   size_t keybytes)
{
	size_t kpos = 0, dpos = 0;
	uint32_t l = 0, r = 0;
	for (int i = 0; i < 18; i++)
		c->P[i] ^= stream2word(key, keybytes, &kpos);
	for (int i = 0; i < 18; i += 2) {
		if (data) {
			l ^= stream2word(data, databytes, &dpos);
			r ^= stream2word(data, databytes, &dpos);
		}
		c4gh_blf_encipher(c, &l, &r);
		c->P[i] = l;
		c->P[i + 1] = r;
	}
	for (int s = 0; s < 4; s++)
		for (int i = 0; i < 256; i += 2) {
			if (data) {
				l ^= stream2word(data, databytes, &dpos);
				r ^= stream2word(data, databytes, &dpos);
			}
			c4gh_blf_encipher(c, &l, &r);
			c->S[s][i] = l;
			c->S[s][i + 1] = r;
		}
}

void c4gh_blf_expand(struct c4gh_blf *c, const uint8_t *data, size_t databytes, const uint8_t *key,
                     size_t keybytes)
{
	expand(c, data, databytes, key, keybytes);
}

void c4gh_blf_expand0(struct c4gh_blf *c, const uint8_t *key, size_t keybytes)
{
	expand(c, NULL, 0, key, keybytes);
}
