/* libFuzzer harness for the key-file parsers: secret keys (c4gh-v1, OpenSSH, raw) and public keys.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ward/crypt4gh.h"

/*
 * Seeds: fuzz/corpus/keyfile (the interop keys of tests/data/crypt4gh).
 * The fuzz build defines WARD_FUZZING, which caps the KDF cost taken from
 * the input (scrypt N = 2^4, bcrypt 2 rounds, pbkdf2 16 rounds; see
 * lib/crypt4gh/kdf.c): otherwise a mutated rounds field makes one input run
 * for minutes. Keys derived there are wrong, so encrypted seeds stop at the
 * AEAD or check-int test; the unencrypted seeds reach the key parsers.
 */

static int fixed_passphrase(void *ctx, char *buf, size_t size)
{
	(void)ctx;
	static const char pass[] = "alice";
	if (size < sizeof pass)
		return WARD_E_INVAL;
	memcpy(buf, pass, sizeof pass);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ward_c4gh_seckey *sk = NULL;
	if (ward_c4gh_seckey_parse((const char *)data, size, fixed_passphrase, NULL, &sk) == 0)
		ward_c4gh_seckey_free(sk);
	uint8_t pk[WARD_C4GH_KEYBYTES];
	(void)!ward_c4gh_pubkey_parse((const char *)data, size, pk);
	return 0;
}
