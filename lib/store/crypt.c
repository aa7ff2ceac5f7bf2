/* AES-256-GCM encryption at rest (OpenSSL) with length-prefixed associated data. */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "store/store_internal.h"
#include "ward/secmem.h"

void store_aad_init(struct store_aad *a, const char *kind)
{
	a->len = 0;
	a->overflow = 0;
	store_aad_str(a, "ward-cas-v1");
	store_aad_str(a, kind);
}

void store_aad_add(struct store_aad *a, const void *p, size_t n)
{
	if (a->overflow || n > sizeof a->buf - 4 - a->len) {
		a->overflow = 1;
		return;
	}
	ward_store32_be(a->buf + a->len, (uint32_t)n);
	if (n)
		memcpy(a->buf + a->len + 4, p, n);
	a->len += 4 + n;
}

void store_aad_str(struct store_aad *a, const char *s)
{
	store_aad_add(a, s, strlen(s));
}

int store_encrypt(const uint8_t key[32], const struct store_aad *aad, const uint8_t *pt, size_t len,
                  uint8_t **blob, size_t *blen)
{
	*blob = NULL;
	if (aad->overflow || len > (size_t)INT32_MAX)
		return ward_error(WARD_E_INTERNAL, "store: record too large to encrypt");
	uint8_t *out = malloc(STORE_NONCE + len + STORE_TAG);
	if (!out)
		return ward_error(WARD_E_NOMEM, "out of memory");
	randombytes_buf(out, STORE_NONCE);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0,
	    ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
	         EVP_EncryptUpdate(c, NULL, &n, aad->buf, (int)aad->len) == 1 &&
	         (len == 0 || EVP_EncryptUpdate(c, out + STORE_NONCE, &n, pt, (int)len) == 1) &&
	         EVP_EncryptFinal_ex(c, out + STORE_NONCE + len, &n) == 1 &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, STORE_TAG, out + STORE_NONCE + len) ==
	             1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		free(out);
		return ward_error(WARD_E_INTERNAL, "store: AES-GCM encryption failed");
	}
	*blob = out;
	*blen = STORE_NONCE + len + STORE_TAG;
	return 0;
}

int store_decrypt(const uint8_t key[32], const struct store_aad *aad, const uint8_t *blob,
                  size_t blen, uint8_t **pt, size_t *len)
{
	*pt = NULL;
	*len = 0;
	if (aad->overflow || blen < STORE_NONCE + STORE_TAG || blen > (size_t)INT32_MAX)
		return ward_error(WARD_E_BADMSG, "store: stored record is malformed");
	size_t n = blen - STORE_NONCE - STORE_TAG;
	uint8_t *out = ward_secmem_alloc(n + 1);
	if (!out)
		return ward_error(WARD_E_NOMEM, "out of memory");
	uint8_t tag[STORE_TAG];
	memcpy(tag, blob + STORE_NONCE + n, STORE_TAG);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int m = 0,
	    ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, blob) == 1 &&
	         EVP_DecryptUpdate(c, NULL, &m, aad->buf, (int)aad->len) == 1 &&
	         (n == 0 || EVP_DecryptUpdate(c, out, &m, blob + STORE_NONCE, (int)n) == 1) &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, STORE_TAG, tag) == 1 &&
	         EVP_DecryptFinal_ex(c, out + n, &m) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok) {
		ward_secmem_free(out); /* never release unauthenticated plaintext */
		return ward_error(
		    WARD_E_BADMSG,
		    "store: a stored record failed authentication (altered on disk?)");
	}
	out[n] = 0;
	*pt = out;
	*len = n;
	return 0;
}
