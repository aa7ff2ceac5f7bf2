/* X25519 secret keys in guarded, locked memory. */
#include <ctype.h>
#include <string.h>

#include <sodium.h>

#include "crypt4gh/c4gh_internal.h"

static int seckey_alloc(struct ward_c4gh_seckey **out)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	/* sodium_malloc guards and mlocks the page; it is never swapped out. */
	*out = sodium_malloc(sizeof **out);
	if (!*out)
		return ward_error(WARD_E_NOMEM, "cannot allocate locked memory for a key");
	return 0;
}

int ward_c4gh_seckey_generate(struct ward_c4gh_seckey **out)
{
	int rc = seckey_alloc(out);
	if (rc)
		return rc;
	crypto_box_keypair((*out)->pk, (*out)->sk);
	return 0;
}

int ward_c4gh_seckey_from_raw(const uint8_t sk[WARD_C4GH_KEYBYTES], struct ward_c4gh_seckey **out)
{
	int rc = seckey_alloc(out);
	if (rc)
		return rc;
	memcpy((*out)->sk, sk, 32);
	crypto_scalarmult_base((*out)->pk, (*out)->sk);
	return 0;
}

int ward_c4gh_seckey_from_hex(const char *hex, struct ward_c4gh_seckey **out)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	uint8_t *raw = sodium_malloc(32);
	if (!raw)
		return ward_error(WARD_E_NOMEM, "cannot allocate locked memory for a key");
	size_t n = 0;
	const char *end;
	while (*hex && isspace((unsigned char)*hex))
		hex++;
	int rc = sodium_hex2bin(raw, 32, hex, strlen(hex), NULL, &n, &end);
	while (rc == 0 && *end && isspace((unsigned char)*end))
		end++;
	if (rc != 0 || n != 32 || *end) {
		sodium_free(raw);
		return ward_error(WARD_E_FORMAT, "not a raw X25519 key: expected 64 hex digits");
	}
	rc = ward_c4gh_seckey_from_raw(raw, out);
	sodium_free(raw);
	return rc;
}

void ward_c4gh_seckey_public(const struct ward_c4gh_seckey *sk, uint8_t pk[WARD_C4GH_KEYBYTES])
{
	memcpy(pk, sk->pk, 32);
}

const uint8_t *ward_c4gh_seckey_bytes(const struct ward_c4gh_seckey *sk)
{
	return sk->sk;
}

void ward_c4gh_seckey_free(struct ward_c4gh_seckey *sk)
{
	if (sk)
		sodium_free(sk); /* wipes before unmapping */
}
