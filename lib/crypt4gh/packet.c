/* Header packets: X25519 key agreement and ChaCha20-Poly1305 sealing of one packet. */
#include <string.h>

#include <sodium.h>

#include "crypt4gh/c4gh_internal.h"

int c4gh_shared_key(uint8_t key[32], const uint8_t my_sk[32], const uint8_t peer_pk[32],
                    const uint8_t reader_pk[32], const uint8_t writer_pk[32])
{
	uint8_t dh[32];
	uint8_t digest[64];
	/* crypto_scalarmult refuses an all-zero result: a low-order point, not for us. */
	if (crypto_scalarmult(dh, my_sk, peer_pk) != 0) {
		sodium_memzero(dh, sizeof dh);
		return -1;
	}
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof digest);
	crypto_generichash_update(&st, dh, sizeof dh);
	crypto_generichash_update(&st, reader_pk, 32);
	crypto_generichash_update(&st, writer_pk, 32);
	crypto_generichash_final(&st, digest, sizeof digest);
	memcpy(key, digest, 32);
	sodium_memzero(dh, sizeof dh);
	sodium_memzero(digest, sizeof digest);
	sodium_memzero(&st, sizeof st);
	return 0;
}

int c4gh_packet_seal(uint8_t *out, const uint8_t *payload, size_t len,
                     const struct ward_c4gh_seckey *w, const uint8_t recipient_pk[32])
{
	uint8_t key[32];
	if (c4gh_shared_key(key, w->sk, recipient_pk, recipient_pk, w->pk) != 0)
		return ward_error(WARD_E_INVAL, "recipient public key is a low-order point");
	size_t total = C4GH_PACKET_OVERHEAD + len;
	ward_store32_le(out, (uint32_t)total);
	ward_store32_le(out + 4, C4GH_METHOD_X25519_CHACHA20);
	memcpy(out + 8, w->pk, 32);
	uint8_t *nonce = out + 40;
	randombytes_buf(nonce, C4GH_NONCE);
	unsigned long long clen;
	crypto_aead_chacha20poly1305_ietf_encrypt(out + 40 + C4GH_NONCE, &clen, payload, len, NULL,
	                                          0, NULL, nonce, key);
	sodium_memzero(key, sizeof key);
	return 0;
}

int c4gh_packet_open(const uint8_t *pkt, uint32_t len, const struct ward_c4gh_seckey *k,
                     const uint8_t *sender_pk, uint8_t *out)
{
	if (len < C4GH_PACKET_OVERHEAD || ward_load32_le(pkt + 4) != C4GH_METHOD_X25519_CHACHA20)
		return -1;
	const uint8_t *writer_pk = pkt + 8;
	if (sender_pk && sodium_memcmp(sender_pk, writer_pk, 32) != 0)
		return -1;
	uint8_t key[32];
	if (c4gh_shared_key(key, k->sk, writer_pk, k->pk, writer_pk) != 0)
		return -1;
	unsigned long long mlen;
	const uint8_t *nonce = pkt + 40;
	int rc = crypto_aead_chacha20poly1305_ietf_decrypt(
	    out, &mlen, NULL, nonce + C4GH_NONCE, len - 40 - C4GH_NONCE, NULL, 0, nonce, key);
	sodium_memzero(key, sizeof key);
	return rc == 0 ? 0 : -1;
}
