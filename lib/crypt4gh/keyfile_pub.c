/* Public key files: Crypt4GH armour and OpenSSH "ssh-ed25519" lines (converted to X25519). */
#include <string.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"

#define SSH_LINE_MAX 4096u

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Decodes base64 with or without padding; -1 on error. */
static int b64(const char *s, size_t n, uint8_t *out, size_t max, size_t *outlen)
{
	const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
	                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	for (size_t v = 0; v < 2; v++) {
		const char *end = NULL;
		if (sodium_base642bin(out, max, s, n, NULL, outlen, &end, variants[v]) == 0 &&
		    end == s + n)
			return 0;
	}
	return -1;
}

/* "ssh-ed25519 AAAA... [comment]": the blob is string type | string pk(32). */
static int ssh_pub_line(const char *s, size_t n, uint8_t pk[32])
{
	size_t a = 0, b;
	while (a < n && !is_blank(s[a]))
		a++;
	if (!c4gh_str_is((const uint8_t *)s, a, "ssh-ed25519"))
		return ward_error(WARD_E_UNSUPPORTED,
		                  "only ssh-ed25519 public keys can be used with Crypt4GH");
	while (a < n && (s[a] == ' ' || s[a] == '\t'))
		a++;
	for (b = a; b < n && !is_blank(s[b]);)
		b++;
	uint8_t blob[SSH_LINE_MAX];
	size_t bl = 0;
	if (b == a || b - a > SSH_LINE_MAX || b64(s + a, b - a, blob, sizeof blob, &bl) != 0)
		return ward_error(WARD_E_FORMAT, "bad base64 in the ssh-ed25519 public key");
	struct c4gh_rd r = {blob, bl};
	const uint8_t *type, *edpk;
	size_t tn, pn;
	if (c4gh_rd_str32(&r, &type, &tn) || c4gh_rd_str32(&r, &edpk, &pn) ||
	    !c4gh_str_is(type, tn, "ssh-ed25519") || pn != 32 || r.n != 0)
		return ward_error(WARD_E_FORMAT, "corrupt ssh-ed25519 public key");
	if (crypto_sign_ed25519_pk_to_curve25519(pk, edpk) != 0)
		return ward_error(WARD_E_FORMAT, "the ed25519 public key is not a valid point");
	return 0;
}

int ward_c4gh_pubkey_parse(const char *text, size_t len, uint8_t pk[WARD_C4GH_KEYBYTES])
{
	if (!text || !pk)
		ward_misuse("ward_c4gh_pubkey_parse: NULL argument");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	if (len > C4GH_KEYFILE_MAX)
		return ward_error(WARD_E_FORMAT, "too large for a key file (%zu bytes)", len);
	size_t a = 0;
	while (a < len && is_blank(text[a]))
		a++;
	if (len - a >= 4 && memcmp(text + a, "ssh-", 4) == 0) {
		size_t e = a;
		while (e < len && text[e] != '\n')
			e++;
		return ssh_pub_line(text + a, e - a, pk);
	}
	struct c4gh_pem pem;
	int rc = c4gh_pem_decode(text, len, &pem);
	if (rc)
		return rc;
	/* A 32-byte secret under a PRIVATE KEY label must never pass for a public key. */
	if (!strstr(pem.label, "PUBLIC KEY"))
		rc = ward_error(WARD_E_FORMAT, "not a public key (%s)", pem.label);
	else if (pem.len != 32)
		rc = ward_error(WARD_E_FORMAT, "public key of %zu bytes, not 32", pem.len);
	else
		memcpy(pk, pem.data, 32);
	c4gh_pem_clear(&pem);
	return rc;
}

int ward_c4gh_pubkey_load(const char *path, uint8_t pk[WARD_C4GH_KEYBYTES])
{
	if (!path || !pk)
		ward_misuse("ward_c4gh_pubkey_load: NULL argument");
	char *text;
	size_t len;
	int rc = c4gh_read_keyfile(path, C4GH_KEYFILE_MAX, &text, &len);
	if (rc)
		return rc;
	rc = ward_c4gh_pubkey_parse(text, len, pk);
	sodium_free(text);
	return rc;
}

int ward_c4gh_pubkey_format(const uint8_t pk[WARD_C4GH_KEYBYTES], char **out)
{
	if (!pk || !out)
		ward_misuse("ward_c4gh_pubkey_format: NULL argument");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	return c4gh_pem_encode("CRYPT4GH PUBLIC KEY", pk, 32, out);
}
