/* LAS signing keys: generation, the 0600 key file, loading with permission checks. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "attest/attest_internal.h"
#include "ward/io.h"

#define KEY_TAG      "ward-las-ed25519 "
#define KEY_TAG_LEN  (sizeof KEY_TAG - 1)
#define KEY_LINE_LEN (KEY_TAG_LEN + 128)

static struct ward_attest_key *key_alloc(void)
{
	if (sodium_init() < 0) {
		ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
		return NULL;
	}
	struct ward_attest_key *k = sodium_malloc(sizeof *k);
	if (!k)
		ward_error(WARD_E_NOMEM, "cannot allocate locked memory for a key");
	return k;
}

int ward_attest_key_generate(struct ward_attest_key **out)
{
	*out = NULL;
	struct ward_attest_key *k = key_alloc();
	if (!k)
		return ward_last_error_code();
	crypto_sign_keypair(k->pk, k->sk);
	*out = k;
	return 0;
}

void ward_attest_key_public(const struct ward_attest_key *k, uint8_t pk[32])
{
	memcpy(pk, k->pk, 32);
}

void ward_attest_key_free(struct ward_attest_key *k)
{
	if (k)
		sodium_free(k); /* sodium_free wipes the memory first */
}

int ward_attest_key_save(const struct ward_attest_key *k, const char *path)
{
	struct ward_outfile *f = NULL;
	int rc = ward_outfile_open(path, 0600, &f);
	if (rc < 0)
		return rc;
	char *line = sodium_malloc(KEY_LINE_LEN + 2);
	if (!line) {
		ward_outfile_abort(f);
		return ward_error(WARD_E_NOMEM, "cannot allocate locked memory");
	}
	memcpy(line, KEY_TAG, KEY_TAG_LEN);
	/* libsodium's secret key is seed || public key. */
	sodium_bin2hex(line + KEY_TAG_LEN, 129, k->sk, 64);
	line[KEY_LINE_LEN] = '\n';
	if (ward_write_full(ward_outfile_fd(f), line, KEY_LINE_LEN + 1) < 0) {
		rc = ward_error_errno("%s: cannot write the key", path);
		ward_outfile_abort(f);
	} else {
		rc = ward_outfile_commit(f, 1);
	}
	sodium_free(line);
	return rc;
}

static int key_parse(const char *buf, size_t n, const char *path, struct ward_attest_key *k)
{
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	size_t bin = 0;
	if (n != KEY_LINE_LEN || memcmp(buf, KEY_TAG, KEY_TAG_LEN) != 0 ||
	    sodium_hex2bin(k->sk, 64, buf + KEY_TAG_LEN, 128, NULL, &bin, NULL) != 0 || bin != 64)
		return ward_error(WARD_E_FORMAT, "%s: not a ward LAS key file", path);
	/* The stored public half must be the one the seed gives. */
	uint8_t pk[32], sk[64];
	crypto_sign_seed_keypair(pk, sk, k->sk);
	int same = sodium_memcmp(pk, k->sk + 32, 32) == 0;
	sodium_memzero(sk, sizeof sk);
	if (!same)
		return ward_error(WARD_E_FORMAT, "%s: key file is inconsistent", path);
	memcpy(k->pk, pk, 32);
	return 0;
}

int ward_attest_key_load(const char *path, struct ward_attest_key **out)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ward_error_errno("%s", path);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = ward_error_errno("%s", path);
	} else if (!S_ISREG(st.st_mode)) {
		rc = ward_error(WARD_E_DENIED, "%s: not a regular file", path);
	} else if (st.st_mode & 077) {
		rc = ward_error(WARD_E_DENIED,
		                "%s: key file is accessible by group or others (mode %04o; "
		                "chmod 600)",
		                path, (unsigned)(st.st_mode & 07777));
	}
	struct ward_attest_key *k = rc == 0 ? key_alloc() : NULL;
	char *buf = k ? sodium_malloc(KEY_LINE_LEN + 8) : NULL;
	if (rc == 0 && !buf)
		rc = ward_error(WARD_E_NOMEM, "cannot allocate locked memory");
	if (rc == 0) {
		ssize_t n = ward_read_full(fd, buf, KEY_LINE_LEN + 8);
		if (n < 0)
			rc = ward_error_errno("%s", path);
		else
			rc = key_parse(buf, (size_t)n, path, k);
	}
	close(fd);
	if (buf)
		sodium_free(buf);
	if (rc < 0) {
		ward_attest_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}
