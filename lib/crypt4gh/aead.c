/* Segment encryption: IETF ChaCha20-Poly1305 through OpenSSL's EVP (much faster than libsodium's
 * here). */
#include <openssl/evp.h>
#include <stdlib.h>

#include "crypt4gh/c4gh_internal.h"

struct c4gh_aead {
	EVP_CIPHER_CTX *ctx;
	const uint8_t *key; /* the key set in ctx, to skip re-keying */
};

struct c4gh_aead *c4gh_aead_new(void)
{
	struct c4gh_aead *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx ||
	    EVP_CipherInit_ex(a->ctx, EVP_chacha20_poly1305(), NULL, NULL, NULL, 1) != 1) {
		c4gh_aead_free(a);
		return NULL;
	}
	return a;
}

void c4gh_aead_free(struct c4gh_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx); /* clears the key schedule */
	free(a);
}

/* Segments are at most 64 KiB, so lengths always fit an int. */
int c4gh_aead_seal_to(struct c4gh_aead *a, const uint8_t key[32], const uint8_t *pt, size_t len,
                      uint8_t *seg)
{
	int n = 0, fin = 0;
	uint8_t *ct = seg + C4GH_NONCE;
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, key, seg, 1) != 1 ||
	    EVP_CipherUpdate(a->ctx, ct, &n, pt, (int)len) != 1 ||
	    EVP_CipherFinal_ex(a->ctx, ct + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_GET_TAG, C4GH_MAC, ct + len) != 1)
		return ward_error(WARD_E_INTERNAL, "ChaCha20-Poly1305 encryption failed");
	return 0;
}

int c4gh_aead_seal(struct c4gh_aead *a, const uint8_t key[32], uint8_t *seg, size_t len)
{
	return c4gh_aead_seal_to(a, key, seg + C4GH_NONCE, len, seg);
}

int c4gh_aead_open_to(struct c4gh_aead *a, const uint8_t key[32], const uint8_t *seg, size_t clen,
                      uint8_t *pt)
{
	int n = 0, fin = 0;
	size_t len = clen - C4GH_NONCE - C4GH_MAC;
	const uint8_t *ct = seg + C4GH_NONCE;
	/* OpenSSL only reads the tag here; the cast drops const for its ctrl API. */
	if (EVP_CipherInit_ex(a->ctx, NULL, NULL, key, seg, 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_AEAD_SET_TAG, C4GH_MAC, (void *)(ct + len)) != 1 ||
	    EVP_CipherUpdate(a->ctx, pt, &n, ct, (int)len) != 1)
		return WARD_E_INTERNAL;
	if (EVP_CipherFinal_ex(a->ctx, pt + n, &fin) != 1)
		return WARD_E_BADMSG;
	return 0;
}

int c4gh_aead_open(struct c4gh_aead *a, const uint8_t key[32], uint8_t *seg, size_t clen)
{
	return c4gh_aead_open_to(a, key, seg, clen, seg + C4GH_NONCE);
}
