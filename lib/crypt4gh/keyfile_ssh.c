/* OpenSSH ed25519 private keys (openssh-key-v1), converted to X25519 for Crypt4GH. */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypt4gh/keys_internal.h"

/*
 * Layout (strings are a u32 big-endian length + bytes; see OpenSSH PROTOCOL.key):
 *   "openssh-key-v1\0" | ciphername | kdfname | kdfoptions | u32 nkeys
 *   | publickey | private section
 * kdfoptions for bcrypt = string salt | u32 rounds. The private section,
 * encrypted as a whole, is u32 check | u32 check | "ssh-ed25519" | pk(32)
 * | sk(64 = seed | pk) | comment | padding 1, 2, 3... AEAD ciphers (aes-gcm,
 * chacha20-poly1305@openssh.com) append their 16-byte tag after the section.
 */

enum ssh_mode { SSH_PLAIN, SSH_GCM, SSH_CHACHAPOLY };

struct ssh_cipher {
	const char *name;
	size_t block, keylen, ivlen, authlen;
	const EVP_CIPHER *(*evp)(void);
	enum ssh_mode mode;
};

/* The ciphers ssh-keygen -Z can protect a key with (OpenSSH cipher.c). */
static const struct ssh_cipher ciphers[] = {
    {"aes128-ctr", 16, 16, 16, 0, EVP_aes_128_ctr, SSH_PLAIN},
    {"aes192-ctr", 16, 24, 16, 0, EVP_aes_192_ctr, SSH_PLAIN},
    {"aes256-ctr", 16, 32, 16, 0, EVP_aes_256_ctr, SSH_PLAIN},
    {"aes128-cbc", 16, 16, 16, 0, EVP_aes_128_cbc, SSH_PLAIN},
    {"aes192-cbc", 16, 24, 16, 0, EVP_aes_192_cbc, SSH_PLAIN},
    {"aes256-cbc", 16, 32, 16, 0, EVP_aes_256_cbc, SSH_PLAIN},
    {"3des-cbc", 8, 24, 8, 0, EVP_des_ede3_cbc, SSH_PLAIN},
    {"aes128-gcm@openssh.com", 16, 16, 12, 16, EVP_aes_128_gcm, SSH_GCM},
    {"aes256-gcm@openssh.com", 16, 32, 12, 16, EVP_aes_256_gcm, SSH_GCM},
    {"chacha20-poly1305@openssh.com", 8, 64, 0, 16, NULL, SSH_CHACHAPOLY},
};

static const struct ssh_cipher *find_cipher(const uint8_t *name, size_t n)
{
	for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++)
		if (c4gh_str_is(name, n, ciphers[i].name))
			return &ciphers[i];
	return NULL;
}

/*
 * chacha20-poly1305@openssh.com as OpenSSH applies it to a key file: the
 * first 32 bytes of the 64-byte key, sequence number 0 as the nonce, the
 * Poly1305 key from block 0, the payload from block 1, no length field.
 */
static int chachapoly_open(const uint8_t *key, uint8_t *buf, size_t n, const uint8_t *tag)
{
	static const uint8_t seq0[crypto_stream_chacha20_NONCEBYTES];
	uint8_t *polykey = sodium_malloc(crypto_onetimeauth_poly1305_KEYBYTES);
	if (!polykey)
		return ward_error(WARD_E_NOMEM, "out of memory");
	crypto_stream_chacha20(polykey, crypto_onetimeauth_poly1305_KEYBYTES, seq0, key);
	int bad = crypto_onetimeauth_poly1305_verify(tag, buf, n, polykey);
	sodium_free(polykey);
	if (bad)
		return ward_error(WARD_E_PASSPHRASE, "wrong passphrase for the OpenSSH key");
	crypto_stream_chacha20_xor_ic(buf, buf, n, seq0, 1, key);
	return 0;
}

/* Decrypts the private section in place with key|iv from bcrypt_pbkdf; tag for AEAD modes. */
static int ssh_decrypt(const struct ssh_cipher *c, const uint8_t *keyiv, uint8_t *buf, size_t n,
                       const uint8_t *tag)
{
	if (c->mode == SSH_CHACHAPOLY)
		return chachapoly_open(keyiv, buf, n, tag);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0, fin = 0, ok = ctx != NULL;
	ok = ok && EVP_DecryptInit_ex(ctx, c->evp(), NULL, NULL, NULL) == 1;
	if (c->mode == SSH_GCM)
		ok = ok &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)c->ivlen, NULL) == 1;
	ok = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, keyiv, keyiv + c->keylen) == 1;
	ok = ok && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
	ok = ok && EVP_DecryptUpdate(ctx, buf, &outl, buf, (int)n) == 1;
	if (c->mode == SSH_GCM)
		ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)c->authlen,
		                               (void *)tag) == 1;
	int fin_ok = ok && EVP_DecryptFinal_ex(ctx, buf + outl, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	if (ok && !fin_ok && c->mode == SSH_GCM)
		return ward_error(WARD_E_PASSPHRASE, "wrong passphrase for the OpenSSH key");
	if (!fin_ok || (size_t)outl + (size_t)fin != n)
		return ward_error(WARD_E_INTERNAL, "OpenSSL %s decryption failed", c->name);
	return 0;
}

/* Reads the key out of a decrypted private section. encrypted selects the check-int error. */
static int ssh_private_section(const uint8_t *p, size_t n, int encrypted,
                               struct ward_c4gh_seckey **out)
{
	struct c4gh_rd r = {p, n};
	uint32_t check1, check2;
	const uint8_t *type, *pk, *sk;
	size_t tn, pn, sn;
	char name[48];
	if (c4gh_rd_u32(&r, &check1) || c4gh_rd_u32(&r, &check2))
		return ward_error(WARD_E_FORMAT, "OpenSSH private section too short");
	if (check1 != check2)
		return encrypted
		           ? ward_error(WARD_E_PASSPHRASE, "wrong passphrase for the OpenSSH key")
		           : ward_error(WARD_E_FORMAT, "corrupt OpenSSH key (check mismatch)");
	if (c4gh_rd_str32(&r, &type, &tn))
		return ward_error(WARD_E_FORMAT, "corrupt OpenSSH private section");
	if (!c4gh_str_is(type, tn, "ssh-ed25519"))
		return ward_error(
		    WARD_E_UNSUPPORTED,
		    "OpenSSH key of type '%s': only ssh-ed25519 keys can be used with Crypt4GH",
		    c4gh_printable(type, tn, name));
	if (c4gh_rd_str32(&r, &pk, &pn) || c4gh_rd_str32(&r, &sk, &sn) || pn != 32 || sn != 64)
		return ward_error(WARD_E_FORMAT, "corrupt OpenSSH ed25519 key");

	/* sk = seed | pk: regenerate pk from the seed to catch corruption CTR mode cannot. */
	uint8_t *tmp = sodium_malloc(32 + 64 + 32);
	if (!tmp)
		return ward_error(WARD_E_NOMEM, "out of memory");
	uint8_t *edpk = tmp, *edsk = tmp + 32, *xsk = tmp + 96;
	int rc = 0;
	crypto_sign_seed_keypair(edpk, edsk, sk);
	if (sodium_memcmp(edpk, pk, 32) != 0 || sodium_memcmp(sk + 32, pk, 32) != 0)
		rc = ward_error(WARD_E_FORMAT, "corrupt OpenSSH ed25519 key (public key mismatch)");
	else if (crypto_sign_ed25519_sk_to_curve25519(xsk, edsk) != 0)
		rc = ward_error(WARD_E_FORMAT, "cannot convert the ed25519 key to X25519");
	else
		rc = ward_c4gh_seckey_from_raw(xsk, out);
	sodium_free(tmp);
	return rc;
}

/* Derives key|iv and decrypts priv (n bytes, in place). */
static int ssh_unlock(const struct ssh_cipher *c, const uint8_t *salt, size_t saltlen,
                      uint32_t rounds, uint8_t *priv, size_t n, const uint8_t *tag,
                      ward_passphrase_fn get_pass, void *ctx)
{
	char *pass;
	size_t plen;
	int rc = c4gh_ask_passphrase(get_pass, ctx, &pass, &plen);
	if (rc)
		return rc;
	uint8_t *keyiv = sodium_malloc(c->keylen + c->ivlen);
	if (!keyiv) {
		sodium_free(pass);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	rc = c4gh_kdf_derive(WARD_C4GH_KDF_BCRYPT, pass, plen, salt, saltlen, rounds, keyiv,
	                     c->keylen + c->ivlen);
	sodium_free(pass);
	if (rc == 0)
		rc = ssh_decrypt(c, keyiv, priv, n, tag);
	sodium_free(keyiv);
	return rc;
}

/* Parses kdfoptions = string salt | u32 rounds. */
static int bcrypt_options(const uint8_t *opts, size_t on, const uint8_t **salt, size_t *saltlen,
                          uint32_t *rounds)
{
	struct c4gh_rd r = {opts, on};
	if (c4gh_rd_str32(&r, salt, saltlen) || c4gh_rd_u32(&r, rounds) || r.n != 0)
		return ward_error(WARD_E_FORMAT, "corrupt OpenSSH bcrypt options");
	return 0;
}

int c4gh_keyfile_ssh_parse(const uint8_t *blob, size_t len, ward_passphrase_fn get_pass, void *ctx,
                           struct ward_c4gh_seckey **out)
{
	const size_t ml = strlen(SSH_KEY_MAGIC) + 1;
	struct c4gh_rd r = {blob + ml, len - ml};
	const uint8_t *cname, *kname, *opts, *pub, *priv, *salt = NULL;
	size_t cn, kn, on, pn, n, saltlen = 0;
	uint32_t nkeys, rounds = 0;
	if (c4gh_rd_str32(&r, &cname, &cn) || c4gh_rd_str32(&r, &kname, &kn) ||
	    c4gh_rd_str32(&r, &opts, &on) || c4gh_rd_u32(&r, &nkeys))
		return ward_error(WARD_E_FORMAT, "truncated OpenSSH key");
	if (nkeys != 1)
		return ward_error(WARD_E_UNSUPPORTED, "OpenSSH key file holds %u keys, not 1",
		                  (unsigned)nkeys);
	if (c4gh_rd_str32(&r, &pub, &pn) || c4gh_rd_str32(&r, &priv, &n))
		return ward_error(WARD_E_FORMAT, "truncated OpenSSH key");
	const uint8_t *tag = r.p; /* AEAD ciphers append their tag after the private section */

	const int encrypted = !c4gh_str_is(cname, cn, "none");
	const struct ssh_cipher *c = encrypted ? find_cipher(cname, cn) : NULL;
	char name[48];
	if (encrypted && !c)
		return ward_error(WARD_E_UNSUPPORTED,
		                  "OpenSSH key encrypted with unsupported cipher '%s'",
		                  c4gh_printable(cname, cn, name));
	if (c4gh_str_is(kname, kn, "bcrypt")) {
		if (!encrypted)
			return ward_error(WARD_E_FORMAT,
			                  "OpenSSH key with kdf bcrypt and cipher none");
		int rc = bcrypt_options(opts, on, &salt, &saltlen, &rounds);
		if (rc)
			return rc;
	} else if (!c4gh_str_is(kname, kn, "none")) {
		return ward_error(WARD_E_UNSUPPORTED, "OpenSSH key with kdf '%s'",
		                  c4gh_printable(kname, kn, name));
	} else if (encrypted) {
		return ward_error(WARD_E_FORMAT, "encrypted OpenSSH key without a kdf");
	}
	if (n < 8 || n % (c ? c->block : 8) != 0)
		return ward_error(WARD_E_FORMAT, "OpenSSH private section of %zu bytes", n);
	if (r.n != (c ? c->authlen : 0)) /* OpenSSH rejects trailing data too */
		return ward_error(WARD_E_FORMAT,
		                  "OpenSSH key with %zu bytes after the private section", r.n);

	/* Decrypt a copy in locked memory; the blob itself is left as it is. */
	uint8_t *plain = sodium_malloc(n);
	if (!plain)
		return ward_error(WARD_E_NOMEM, "out of memory");
	memcpy(plain, priv, n);
	int rc = 0;
	if (encrypted)
		rc = ssh_unlock(c, salt, saltlen, rounds, plain, n, tag, get_pass, ctx);
	if (rc == 0)
		rc = ssh_private_section(plain, n, encrypted, out);
	sodium_free(plain);
	return rc;
}
