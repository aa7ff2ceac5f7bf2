/* Secret key files: PEM armour, file reading, passphrases, and the format dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"

#define BEGIN "-----BEGIN "
#define END   "-----END "
#define DASH5 "-----"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The next line of [*pos, len) with surrounding white space trimmed. 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **s, size_t *n)
{
	if (*pos >= len)
		return 0;
	size_t a = *pos, b = a;
	while (b < len && text[b] != '\n')
		b++;
	*pos = b < len ? b + 1 : b;
	while (a < b && is_space(text[a]))
		a++;
	while (b > a && is_space(text[b - 1]))
		b--;
	*s = text + a;
	*n = b - a;
	return 1;
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(s, prefix, p) == 0;
}

/* Parses "-----BEGIN label-----" into pem->label. */
static int begin_label(const char *s, size_t n, struct c4gh_pem *pem)
{
	size_t pre = strlen(BEGIN), post = strlen(DASH5);
	if (!starts_with(s, n, BEGIN) || n < pre + post || memcmp(s + n - post, DASH5, post) != 0)
		return -1;
	size_t l = n - pre - post;
	if (l >= sizeof pem->label)
		return -1;
	for (size_t i = 0; i < l; i++)
		if (s[pre + i] < 0x20 || s[pre + i] > 0x7e)
			return -1;
	memcpy(pem->label, s + pre, l);
	pem->label[l] = '\0';
	return 0;
}

static int b64_decode(struct c4gh_pem *pem, const char *b64, size_t n)
{
	/* Both padded and unpadded bodies occur in the wild. */
	const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
	                        sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	for (size_t v = 0; v < 2; v++) {
		size_t out = 0;
		const char *end = NULL;
		if (sodium_base642bin(pem->data, n, b64, n, NULL, &out, &end, variants[v]) == 0 &&
		    end == b64 + n) {
			pem->len = out;
			return 0;
		}
	}
	return ward_error(WARD_E_FORMAT, "the key's base64 body is invalid");
}

/* A printable rendering of a name taken from the input, for error messages. */
const char *c4gh_printable(const uint8_t *s, size_t n, char buf[48])
{
	size_t i;
	for (i = 0; i < n && i < 40; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return "(binary)";
		buf[i] = (char)s[i];
	}
	buf[i] = '\0';
	return buf;
}

int c4gh_pem_decode(const char *text, size_t len, struct c4gh_pem *pem)
{
	memset(pem, 0, sizeof *pem);
	size_t pos = 0, n;
	const char *s;
	do {
		if (!next_line(text, len, &pos, &s, &n))
			return ward_error(WARD_E_FORMAT, "empty key file");
	} while (n == 0);
	if (begin_label(s, n, pem) != 0)
		return ward_error(WARD_E_FORMAT,
		                  "not an armoured key (no -----BEGIN ...----- line)");

	/* The base64 text is never longer than the file; it may hold a raw secret. */
	char *b64 = sodium_malloc(len + 1);
	pem->data = sodium_malloc(len + 1);
	if (!b64 || !pem->data) {
		sodium_free(b64);
		c4gh_pem_clear(pem);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	size_t blen = 0;
	int rc = 1; /* until an END line is seen */
	while (next_line(text, len, &pos, &s, &n)) {
		if (starts_with(s, n, END)) {
			rc = blen ? b64_decode(pem, b64, blen)
			          : ward_error(WARD_E_FORMAT, "the key's armour is empty");
			break;
		}
		for (size_t i = 0; i < n; i++) /* PEM bodies may hold stray spaces */
			if (!is_space(s[i]))
				b64[blen++] = s[i];
	}
	sodium_free(b64);
	if (rc == 1)
		rc = ward_error(WARD_E_FORMAT, "no -----END ...----- line");
	if (rc)
		c4gh_pem_clear(pem);
	return rc;
}

void c4gh_pem_clear(struct c4gh_pem *pem)
{
	sodium_free(pem->data); /* wipes */
	pem->data = NULL;
	pem->len = 0;
}

int c4gh_pem_encode(const char *label, const uint8_t *data, size_t len, char **out)
{
	size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	size_t total = 2 * (strlen(BEGIN) + strlen(label) + strlen(DASH5) + 1) + b64 + 1;
	char *buf = malloc(total);
	if (!buf)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int k = snprintf(buf, total, BEGIN "%s" DASH5 "\n", label);
	sodium_bin2base64(buf + k, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
	k += (int)strlen(buf + k);
	snprintf(buf + k, total - (size_t)k, "\n" END "%s" DASH5 "\n", label);
	*out = buf;
	return 0;
}

int c4gh_read_keyfile(const char *path, size_t max, char **buf, size_t *len)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ward_error_errno("cannot open");
	/* A plain key file holds the secret itself: keep it in locked memory. */
	char *b = sodium_malloc(max + 1);
	if (!b) {
		close(fd);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	ssize_t n = ward_read_full(fd, b, max + 1);
	int saved = errno;
	close(fd);
	if (n < 0) {
		sodium_free(b);
		errno = saved;
		return ward_error_errno("cannot read");
	}
	if ((size_t)n > max) {
		sodium_free(b);
		return ward_error(WARD_E_FORMAT, "too large for a key file (over %zu bytes)", max);
	}
	b[n] = '\0';
	*buf = b;
	*len = (size_t)n;
	return 0;
}

int c4gh_ask_passphrase(ward_passphrase_fn get_pass, void *ctx, char **pass, size_t *len)
{
	if (!get_pass)
		return ward_error(WARD_E_PASSPHRASE,
		                  "the key is encrypted and no passphrase was given");
	char *p = sodium_malloc(C4GH_PASSPHRASE_MAX + 1);
	if (!p)
		return ward_error(WARD_E_NOMEM, "out of memory");
	memset(p, 0, C4GH_PASSPHRASE_MAX + 1);
	int rc = get_pass(ctx, p, C4GH_PASSPHRASE_MAX + 1);
	if (rc != 0) {
		sodium_free(p);
		if (rc > 0)
			rc = WARD_E_PASSPHRASE;
		return ward_error(rc, "the key is encrypted and no passphrase could be read");
	}
	p[C4GH_PASSPHRASE_MAX] = '\0'; /* in case the callback forgot the NUL */
	*pass = p;
	*len = strlen(p);
	return 0;
}

int ward_c4gh_seckey_parse(const char *text, size_t len, ward_passphrase_fn get_pass, void *ctx,
                           struct ward_c4gh_seckey **out)
{
	if (!text || !out)
		ward_misuse("ward_c4gh_seckey_parse: NULL argument");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	if (len > C4GH_KEYFILE_MAX)
		return ward_error(WARD_E_FORMAT, "too large for a key file (%zu bytes)", len);
	struct c4gh_pem pem;
	int rc = c4gh_pem_decode(text, len, &pem);
	if (rc)
		return rc;
	const size_t cm = strlen(C4GH_KEY_MAGIC), sm = strlen(SSH_KEY_MAGIC) + 1;
	struct ward_c4gh_seckey *k = NULL;
	if (pem.len >= cm && memcmp(pem.data, C4GH_KEY_MAGIC, cm) == 0)
		rc = c4gh_keyfile_c4gh_parse(pem.data, pem.len, get_pass, ctx, &k);
	else if (pem.len >= sm && memcmp(pem.data, SSH_KEY_MAGIC, sm) == 0)
		rc = c4gh_keyfile_ssh_parse(pem.data, pem.len, get_pass, ctx, &k);
	else if (pem.len == 32 && strcmp(pem.label, "CRYPT4GH PRIVATE KEY") == 0)
		rc = ward_c4gh_seckey_from_raw(pem.data, &k); /* htslib-crypt4gh raw format */
	else if (strstr(pem.label, "PUBLIC KEY"))
		rc = ward_error(WARD_E_FORMAT, "this is a public key, not a private key");
	else
		rc = ward_error(WARD_E_FORMAT, "unknown private key format (%s)", pem.label);
	c4gh_pem_clear(&pem);
	if (rc == 0)
		*out = k;
	return rc;
}

int ward_c4gh_seckey_load(const char *path, ward_passphrase_fn get_pass, void *ctx,
                          struct ward_c4gh_seckey **out)
{
	if (!path || !out)
		ward_misuse("ward_c4gh_seckey_load: NULL argument");
	char *text;
	size_t len;
	int rc = c4gh_read_keyfile(path, C4GH_KEYFILE_MAX, &text, &len);
	if (rc)
		return rc;
	rc = ward_c4gh_seckey_parse(text, len, get_pass, ctx, out);
	sodium_free(text);
	return rc;
}
