/* c4gh-v1 private key files: parse (kdf scrypt, bcrypt, pbkdf2_hmac_sha256, none) and format. */
#include <string.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"

/*
 * Blob layout (all strings are a u16 big-endian length + bytes):
 *   "c4gh-v1" | kdfname | [kdfoptions = u32 rounds | salt, unless kdf none]
 *   | ciphername | data | [comment]
 * data is the raw X25519 key (cipher none) or nonce(12) | ct(32) | tag(16)
 * of ChaCha20-Poly1305-IETF with empty AAD under the 32-byte KDF output.
 */

#define CIPHER_NONE   "none"
#define CIPHER_CHACHA "chacha20_poly1305"
#define SEALED_LEN                                                                                 \
	(crypto_aead_chacha20poly1305_IETF_NPUBBYTES + 32u +                                       \
	 crypto_aead_chacha20poly1305_IETF_ABYTES)

/* Secrets of one decryption, kept together in one locked allocation. */
struct unlock {
	uint8_t kek[32];
	uint8_t sk[32];
};

static int unlock_key(enum ward_c4gh_kdf kdf, const uint8_t *opts, size_t on, const uint8_t *data,
                      ward_passphrase_fn get_pass, void *ctx, struct ward_c4gh_seckey **out)
{
	char *pass = NULL;
	size_t plen = 0;
	int rc = c4gh_ask_passphrase(get_pass, ctx, &pass, &plen);
	if (rc)
		return rc;
	struct unlock *u = sodium_malloc(sizeof *u);
	if (!u) {
		sodium_free(pass);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	rc = c4gh_kdf_derive(kdf, pass, plen, opts + 4, on - 4, ward_load32_be(opts), u->kek,
	                     sizeof u->kek);
	sodium_free(pass);
	if (rc == 0) {
		const uint8_t *nonce = data;
		const uint8_t *ct = data + crypto_aead_chacha20poly1305_IETF_NPUBBYTES;
		if (crypto_aead_chacha20poly1305_ietf_decrypt(
		        u->sk, NULL, NULL, ct,
		        SEALED_LEN - crypto_aead_chacha20poly1305_IETF_NPUBBYTES, NULL, 0, nonce,
		        u->kek) != 0)
			rc = ward_error(WARD_E_PASSPHRASE,
			                "wrong passphrase (or the key file was altered)");
		else
			rc = ward_c4gh_seckey_from_raw(u->sk, out);
	}
	sodium_free(u); /* wipes kek and sk */
	return rc;
}

int c4gh_keyfile_c4gh_parse(const uint8_t *blob, size_t len, ward_passphrase_fn get_pass, void *ctx,
                            struct ward_c4gh_seckey **out)
{
	const size_t ml = strlen(C4GH_KEY_MAGIC);
	struct c4gh_rd r = {blob + ml, len - ml};
	const uint8_t *kdfname, *opts = NULL, *cipher, *data;
	size_t kn, on = 0, cn, dn;
	enum ward_c4gh_kdf kdf;
	char name[48];

	if (c4gh_rd_str16(&r, &kdfname, &kn) != 0)
		return ward_error(WARD_E_FORMAT, "c4gh-v1 key truncated in the kdf name");
	if (c4gh_kdf_from_name(kdfname, kn, &kdf) != 0)
		return ward_error(WARD_E_UNSUPPORTED, "c4gh-v1 key uses an unknown kdf '%s'",
		                  c4gh_printable(kdfname, kn, name));
	if (kdf != WARD_C4GH_KDF_NONE) {
		if (c4gh_rd_str16(&r, &opts, &on) != 0)
			return ward_error(WARD_E_FORMAT,
			                  "c4gh-v1 key truncated in the kdf options");
		if (on < 4)
			return ward_error(WARD_E_FORMAT,
			                  "c4gh-v1 kdf options shorter than 4 bytes");
	}
	if (c4gh_rd_str16(&r, &cipher, &cn) != 0)
		return ward_error(WARD_E_FORMAT, "c4gh-v1 key truncated in the cipher name");
	if (c4gh_rd_str16(&r, &data, &dn) != 0)
		return ward_error(WARD_E_FORMAT, "c4gh-v1 key truncated in the key data");
	/* An optional comment may follow; like the reference, it is not needed. */

	if (c4gh_str_is(cipher, cn, CIPHER_NONE)) {
		if (dn != 32)
			return ward_error(WARD_E_FORMAT,
			                  "unencrypted c4gh-v1 key of %zu bytes, not 32", dn);
		return ward_c4gh_seckey_from_raw(data, out);
	}
	if (!c4gh_str_is(cipher, cn, CIPHER_CHACHA))
		return ward_error(WARD_E_UNSUPPORTED, "c4gh-v1 key uses an unknown cipher '%s'",
		                  c4gh_printable(cipher, cn, name));
	if (kdf == WARD_C4GH_KDF_NONE)
		return ward_error(WARD_E_FORMAT, "encrypted c4gh-v1 key with kdf 'none'");
	if (dn != SEALED_LEN)
		return ward_error(WARD_E_FORMAT, "encrypted c4gh-v1 key data of %zu bytes, not %u",
		                  dn, (unsigned)SEALED_LEN);
	return unlock_key(kdf, opts, on, data, get_pass, ctx, out);
}

/* ---- Writing ------------------------------------------------------------------- */

static uint8_t *put_str(uint8_t *p, const void *s, size_t n)
{
	ward_store16_be(p, (uint16_t)n);
	memcpy(p + 2, s, n);
	return p + 2 + n;
}

/* Fills data (SEALED_LEN bytes) and opts (4 + salt) for an encrypted key. */
static int seal_key(const struct ward_c4gh_seckey *sk, enum ward_c4gh_kdf kdf,
                    const char *passphrase, uint32_t rounds, uint8_t *opts, uint8_t *data)
{
	uint8_t *kek = sodium_malloc(32);
	if (!kek)
		return ward_error(WARD_E_NOMEM, "out of memory");
	ward_store32_be(opts, rounds);
	randombytes_buf(opts + 4, C4GH_KEY_SALT);
	int rc = c4gh_kdf_derive(kdf, passphrase, strlen(passphrase), opts + 4, C4GH_KEY_SALT,
	                         rounds, kek, 32);
	if (rc == 0) {
		randombytes_buf(data, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
		crypto_aead_chacha20poly1305_ietf_encrypt(
		    data + crypto_aead_chacha20poly1305_IETF_NPUBBYTES, NULL,
		    ward_c4gh_seckey_bytes(sk), 32, NULL, 0, NULL, data, kek);
	}
	sodium_free(kek);
	return rc;
}

static int check_format_args(enum ward_c4gh_kdf kdf, const char *passphrase, uint32_t *rounds,
                             const char *comment)
{
	if (!c4gh_kdf_name(kdf))
		return ward_error(WARD_E_INVAL, "unknown kdf %d", (int)kdf);
	if (comment && strlen(comment) > 0xffff)
		return ward_error(WARD_E_INVAL, "comment longer than 65535 bytes");
	if (kdf == WARD_C4GH_KDF_NONE)
		return 0;
	if (!passphrase || !passphrase[0])
		return ward_error(WARD_E_INVAL, "an encrypted key needs a non-empty passphrase");
	if (strlen(passphrase) > C4GH_PASSPHRASE_MAX)
		return ward_error(WARD_E_INVAL, "passphrase longer than %u bytes",
		                  C4GH_PASSPHRASE_MAX);
	if (kdf == WARD_C4GH_KDF_SCRYPT && *rounds != 0)
		return ward_error(WARD_E_INVAL, "scrypt has a fixed cost: rounds must be 0");
	if (kdf == WARD_C4GH_KDF_BCRYPT && *rounds == 0)
		*rounds = C4GH_BCRYPT_ROUNDS;
	if (kdf == WARD_C4GH_KDF_PBKDF2 && *rounds == 0)
		*rounds = C4GH_PBKDF2_ROUNDS;
	if (kdf == WARD_C4GH_KDF_PBKDF2 && *rounds > 0x7fffffffu)
		return ward_error(WARD_E_INVAL, "pbkdf2 rounds above 2^31-1");
	return 0;
}

int ward_c4gh_seckey_format(const struct ward_c4gh_seckey *sk, enum ward_c4gh_kdf kdf,
                            const char *passphrase, uint32_t rounds, const char *comment,
                            char **out)
{
	if (!sk || !out)
		ward_misuse("ward_c4gh_seckey_format: NULL argument");
	int rc = check_format_args(kdf, passphrase, &rounds, comment);
	if (rc)
		return rc;
	const int enc = kdf != WARD_C4GH_KDF_NONE;
	const char *kname = c4gh_kdf_name(kdf);
	const char *cname = enc ? CIPHER_CHACHA : CIPHER_NONE;
	size_t clen = comment ? strlen(comment) : 0;
	size_t optlen = 4 + C4GH_KEY_SALT, datalen = enc ? SEALED_LEN : 32;
	size_t size = strlen(C4GH_KEY_MAGIC) + 2 + strlen(kname) + (enc ? 2 + optlen : 0) + 2 +
	              strlen(cname) + 2 + datalen + (clen ? 2 + clen : 0);

	/* The blob of an unencrypted key is the secret: keep it in locked memory. */
	uint8_t *blob = sodium_malloc(size);
	uint8_t *opts = sodium_malloc(optlen + datalen);
	if (!blob || !opts) {
		rc = ward_error(WARD_E_NOMEM, "out of memory");
		goto cleanup;
	}
	uint8_t *data = opts + optlen;
	if (enc)
		rc = seal_key(sk, kdf, passphrase, rounds, opts, data);
	else
		memcpy(data, ward_c4gh_seckey_bytes(sk), 32);
	if (rc)
		goto cleanup;
	uint8_t *p = blob;
	memcpy(p, C4GH_KEY_MAGIC, strlen(C4GH_KEY_MAGIC));
	p += strlen(C4GH_KEY_MAGIC);
	p = put_str(p, kname, strlen(kname));
	if (enc)
		p = put_str(p, opts, optlen);
	p = put_str(p, cname, strlen(cname));
	p = put_str(p, data, datalen);
	if (clen)
		p = put_str(p, comment, clen);
	/* The reference (1.8) labels every private key CRYPT4GH PRIVATE KEY; htslib-crypt4gh
	 * and the Go implementation expect ENCRYPTED for encrypted ones; all accept this. */
	rc = c4gh_pem_encode(enc ? "CRYPT4GH ENCRYPTED PRIVATE KEY" : "CRYPT4GH PRIVATE KEY", blob,
	                     (size_t)(p - blob), out);
cleanup:
	sodium_free(blob);
	sodium_free(opts);
	return rc;
}
