/* Output names for anonymised videos: keyed HMAC-SHA256 pseudonyms, and the original's MD5 of the
 * path. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "ward/echo.h"

struct ward_echo_pseudonym_key {
	uint8_t key[WARD_ECHO_PSEUDONYM_KEYBYTES];
};

static int key_alloc(struct ward_echo_pseudonym_key **out)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	*out = sodium_malloc(sizeof **out);
	return *out ? 0 : ward_error(WARD_E_NOMEM, "out of memory for the pseudonym key");
}

void ward_echo_pseudonym_key_free(struct ward_echo_pseudonym_key *k)
{
	if (k)
		sodium_free(k); /* wipes the memory */
}

int ward_echo_pseudonym_key_load(const char *path, struct ward_echo_pseudonym_key **out)
{
	*out = NULL;
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	/* 64 digits, an optional "\n" or "\r\n", and one byte to notice more. */
	char *text = sodium_malloc(2 * WARD_ECHO_PSEUDONYM_KEYBYTES + 3);
	if (!text)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = ward_error_errno("%s: cannot open the pseudonym key", path);
		goto out;
	}
	ssize_t n = ward_read_full(fd, text, 2 * WARD_ECHO_PSEUDONYM_KEYBYTES + 3);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		rc = ward_error_errno("%s: cannot read the pseudonym key", path);
		goto out;
	}
	size_t len = (size_t)n, hexlen = 2 * WARD_ECHO_PSEUDONYM_KEYBYTES;
	int tail_ok = len == hexlen || (len == hexlen + 1 && text[hexlen] == '\n') ||
	              (len == hexlen + 2 && text[hexlen] == '\r' && text[hexlen + 1] == '\n');
	size_t bin_len = 0;
	if ((rc = key_alloc(out)) < 0)
		goto out;
	if (!tail_ok ||
	    sodium_hex2bin((*out)->key, sizeof(*out)->key, text, hexlen, NULL, &bin_len, NULL) !=
	        0 ||
	    bin_len != sizeof(*out)->key) {
		ward_echo_pseudonym_key_free(*out);
		*out = NULL;
		rc = ward_error(WARD_E_FORMAT,
		                "%s: not a pseudonym key (64 hexadecimal digits and a newline)",
		                path);
	}
out:
	sodium_free(text);
	return rc;
}

int ward_echo_pseudonym_key_generate(const char *path, struct ward_echo_pseudonym_key **out)
{
	*out = NULL;
	struct ward_echo_pseudonym_key *k;
	int rc = key_alloc(&k);
	if (rc < 0)
		return rc;
	randombytes_buf(k->key, sizeof k->key);
	char *text = sodium_malloc(2 * WARD_ECHO_PSEUDONYM_KEYBYTES + 2);
	if (!text) {
		ward_echo_pseudonym_key_free(k);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	sodium_bin2hex(text, 2 * WARD_ECHO_PSEUDONYM_KEYBYTES + 1, k->key, sizeof k->key);
	text[2 * WARD_ECHO_PSEUDONYM_KEYBYTES] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = errno == EEXIST
		         ? ward_error(WARD_E_EXISTS, "%s: already exists", path)
		         : ward_error_errno("%s: cannot create the pseudonym key", path);
	} else if (ward_write_full(fd, text, 2 * WARD_ECHO_PSEUDONYM_KEYBYTES + 1) != 0 ||
	           fsync(fd) != 0) {
		rc = ward_error_errno("%s: cannot write the pseudonym key", path);
		close(fd);
		unlink(path);
	} else if (close(fd) != 0) {
		rc = ward_error_errno("%s: cannot write the pseudonym key", path);
		unlink(path);
	}
	sodium_free(text);
	if (rc < 0) {
		ward_echo_pseudonym_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int ward_echo_pseudonym(const struct ward_echo_pseudonym_key *k, const char *video_path,
                        char hex[static WARD_ECHO_PSEUDONYM_HEXLEN + 1])
{
	hex[0] = '\0';
	int fd = open(video_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ward_error_errno("%s: cannot open", video_path);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, k->key, sizeof k->key);
	static _Thread_local uint8_t buf[1 << 16];
	int rc = 0;
	for (;;) {
		ssize_t n = ward_read_full(fd, buf, sizeof buf);
		if (n < 0) {
			rc = ward_error_errno("%s: read", video_path);
			break;
		}
		crypto_auth_hmacsha256_update(&st, buf, (unsigned long long)n);
		if ((size_t)n < sizeof buf)
			break;
	}
	close(fd);
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof st); /* holds key-derived pads */
	if (rc == 0)
		sodium_bin2hex(hex, WARD_ECHO_PSEUDONYM_HEXLEN + 1, mac, sizeof mac);
	return rc;
}

void ward_echo_compat_name(const char *path_string, char hex[static 33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	static const char digits[] = "0123456789abcdef";
	if (!EVP_Digest(path_string, strlen(path_string), md, &len, EVP_md5(), NULL) || len != 16)
		ward_misuse("MD5 is not available in this OpenSSL");
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
}
