/* Measurements: SHA-256 of an executable's content, read from an open descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/attest_internal.h"

#define MEASURE_CHUNK (256u * 1024u)

/*
 * OpenSSL's SHA-256 rather than libsodium's: it uses the CPU's SHA
 * extensions, which matters when the LAS hashes a workload binary per
 * request that is not cached yet.
 */
int ward_attest_measure_fd(int fd, uint8_t out[32])
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ward_error_errno("cannot stat the file to measure");
	if (!S_ISREG(st.st_mode))
		return ward_error(WARD_E_INVAL, "only regular files can be measured");
	uint8_t *buf = malloc(MEASURE_CHUNK);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = 0;
	if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = ward_error(WARD_E_NOMEM, "cannot set up SHA-256");
		goto cleanup;
	}
	/* pread from 0: the caller's file offset is irrelevant and left alone. */
	for (off_t off = 0;;) {
		ssize_t n = pread(fd, buf, MEASURE_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ward_error_errno("cannot read the file to measure");
			goto cleanup;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			rc = ward_error(WARD_E_INTERNAL, "SHA-256 failed");
			goto cleanup;
		}
		off += n;
	}
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
		rc = ward_error(WARD_E_INTERNAL, "SHA-256 failed");
cleanup:
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

int ward_attest_measure_path(const char *path, uint8_t out[32])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ward_error_errno("%s", path);
	int rc = ward_attest_measure_fd(fd, out);
	close(fd);
	return rc;
}
