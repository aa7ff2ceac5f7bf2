/* Passphrase KDFs of c4gh-v1 key files: scrypt, bcrypt_pbkdf, pbkdf2_hmac_sha256. */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "crypt4gh/keys_internal.h"

/*
 * WARD_FUZZING builds cap the KDF cost so that libFuzzer explores the
 * parsers instead of spending seconds per input in a KDF whose rounds come
 * from the input. The keys they derive are therefore wrong; nothing but the
 * fuzzer uses those builds.
 */
#ifdef WARD_FUZZING
#define SCRYPT_LOG2N 4u
#define CAP_BCRYPT   2u
#define CAP_PBKDF2   16u
#else
#define SCRYPT_LOG2N C4GH_SCRYPT_LOG2N
#define CAP_BCRYPT   UINT32_MAX
#define CAP_PBKDF2   (uint32_t) INT_MAX
#endif

static const struct {
	enum ward_c4gh_kdf kdf;
	const char *name;
} kdf_names[] = {
    {WARD_C4GH_KDF_NONE, "none"},
    {WARD_C4GH_KDF_SCRYPT, "scrypt"},
    {WARD_C4GH_KDF_BCRYPT, "bcrypt"},
    {WARD_C4GH_KDF_PBKDF2, "pbkdf2_hmac_sha256"},
};

int c4gh_kdf_from_name(const uint8_t *name, size_t len, enum ward_c4gh_kdf *kdf)
{
	for (size_t i = 0; i < sizeof kdf_names / sizeof kdf_names[0]; i++)
		if (c4gh_str_is(name, len, kdf_names[i].name)) {
			*kdf = kdf_names[i].kdf;
			return 0;
		}
	return -1;
}

const char *c4gh_kdf_name(enum ward_c4gh_kdf kdf)
{
	for (size_t i = 0; i < sizeof kdf_names / sizeof kdf_names[0]; i++)
		if (kdf_names[i].kdf == kdf)
			return kdf_names[i].name;
	return NULL;
}

int c4gh_kdf_derive(enum ward_c4gh_kdf kdf, const char *pass, size_t passlen, const uint8_t *salt,
                    size_t saltlen, uint32_t rounds, uint8_t *out, size_t outlen)
{
	switch (kdf) {
	case WARD_C4GH_KDF_SCRYPT:
		/* Python's hashlib.scrypt(n=2^14, r=8, p=1): the rounds field is unused. */
		if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pass, passlen, salt,
		                                          saltlen, (uint64_t)1 << SCRYPT_LOG2N, 8,
		                                          1, out, outlen) != 0)
			return ward_error(WARD_E_NOMEM, "scrypt failed (out of memory?)");
		return 0;
	case WARD_C4GH_KDF_BCRYPT:
		if (rounds == 0)
			return ward_error(WARD_E_FORMAT, "bcrypt with 0 rounds");
		if (passlen == 0)
			return ward_error(WARD_E_PASSPHRASE, "bcrypt needs a non-empty passphrase");
		if (saltlen == 0)
			return ward_error(WARD_E_FORMAT, "bcrypt with an empty salt");
		if (rounds > CAP_BCRYPT)
			rounds = CAP_BCRYPT;
		if (c4gh_bcrypt_pbkdf(pass, passlen, salt, saltlen, out, outlen, rounds) != 0)
			return ward_error(WARD_E_NOMEM, "bcrypt_pbkdf failed");
		return 0;
	case WARD_C4GH_KDF_PBKDF2:
		if (rounds == 0 || rounds > (uint32_t)INT_MAX)
			return ward_error(WARD_E_FORMAT, "pbkdf2 with %u rounds", (unsigned)rounds);
		if (rounds > CAP_PBKDF2)
			rounds = CAP_PBKDF2;
		if (passlen > INT_MAX || saltlen > INT_MAX || outlen > INT_MAX ||
		    PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen, (int)rounds,
		                      EVP_sha256(), (int)outlen, out) != 1)
			return ward_error(WARD_E_INTERNAL, "PKCS5_PBKDF2_HMAC failed");
		return 0;
	case WARD_C4GH_KDF_NONE:
		break;
	}
	return ward_error(WARD_E_UNSUPPORTED, "no key derivation for this kdf");
}
