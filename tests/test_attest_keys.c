/* LAS key files (0600, refusals), measurements of files, and opening the program to run. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "ward/attest.h"

static char path_buf[8][4096];
static int path_slot;

static const char *tmp(const char *name)
{
	char *p = path_buf[path_slot++ % 8];
	snprintf(p, sizeof path_buf[0], "%s/%s", test_tmpdir(), name);
	return p;
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n || fchmod(fd, mode) < 0)
		abort();
	close(fd);
}

static void test_key_files(void)
{
	struct ward_attest_key *k = NULL, *l = NULL;
	const char *p = tmp("las.key");
	CHECK_RC(ward_attest_key_generate(&k), 0, "generate");
	CHECK_RC(ward_attest_key_save(k, p), 0, "save");
	struct stat st;
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "key file has mode 0600");
	CHECK_RC(ward_attest_key_save(k, p), WARD_E_EXISTS, "an existing key is not overwritten");
	CHECK_RC(ward_attest_key_load(p, &l), 0, "load");
	uint8_t a[32], b[32];
	ward_attest_key_public(k, a);
	ward_attest_key_public(l, b);
	CHECK(memcmp(a, b, 32) == 0, "loaded key has the same public key");
	/* The loaded key signs evidence that the saved key's public half verifies. */
	struct ward_attest_claims c = {.flags = 0, .time = 1};
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	struct ward_attest_claims out;
	CHECK_RC(ward_attest_evidence_sign(&c, l, ev), 0, "sign with the loaded key");
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, (const uint8_t(*)[32])a, 1, 1, &out), 0,
	         "verifies under the saved public key");
	ward_attest_key_free(l);
	l = NULL;

	chmod(p, 0640);
	CHECK_RC(ward_attest_key_load(p, &l), WARD_E_DENIED, "group-readable key refused");
	chmod(p, 0604);
	CHECK_RC(ward_attest_key_load(p, &l), WARD_E_DENIED, "world-readable key refused");
	CHECK(l == NULL, "no key on failure");

	size_t n;
	chmod(p, 0600);
	char *text = (char *)test_read_file(p, &n);
	CHECK(n == 17 + 128 + 1 && strncmp(text, "ward-las-ed25519 ", 17) == 0,
	      "one line: tag and 128 hex digits");
	const char *q = tmp("bad.key");
	text[17 + 64] = text[17 + 64] == '0' ? '1' : '0'; /* public half no longer matches */
	write_file(q, text, n, 0600);
	CHECK_RC(ward_attest_key_load(q, &l), WARD_E_FORMAT, "inconsistent key refused");
	write_file(q, text, 40, 0600);
	CHECK_RC(ward_attest_key_load(q, &l), WARD_E_FORMAT, "truncated key refused");
	memcpy(text, "ward-las-x25519! ", 17);
	write_file(q, text, n, 0600);
	CHECK_RC(ward_attest_key_load(q, &l), WARD_E_FORMAT, "wrong tag refused");
	CHECK_RC(ward_attest_key_load(tmp("missing.key"), &l), WARD_E_IO, "missing key: I/O error");
	const char *link = tmp("link.key");
	unlink(link);
	if (symlink(p, link) == 0)
		CHECK(ward_attest_key_load(link, &l) < 0, "a symlinked key file is refused");
	free(text);
	ward_attest_key_free(k);
	ward_attest_key_free(NULL);
}

static void test_measure(void)
{
	size_t n = 300000;
	uint8_t *data = malloc(n);
	test_fill(data, n, 11);
	const char *p = tmp("blob");
	write_file(p, data, n, 0644);
	char want[65], got[65];
	test_sha256_hex(data, n, want);
	uint8_t m[32];
	int fd = open(p, O_RDONLY);
	lseek(fd, 1234, SEEK_SET);
	CHECK_RC(ward_attest_measure_fd(fd, m), 0, "measure fd");
	ward_attest_hex(m, got);
	CHECK(strcmp(got, want) == 0, "measurement = SHA-256 of the whole file (%s)", got);
	CHECK(lseek(fd, 0, SEEK_CUR) == 1234, "file offset untouched");
	close(fd);
	CHECK_RC(ward_attest_measure_path(p, m), 0, "measure path");
	ward_attest_hex(m, got);
	CHECK(strcmp(got, want) == 0, "same by path");
	write_file(p, "", 0, 0644);
	CHECK_RC(ward_attest_measure_path(p, m), 0, "empty file");
	ward_attest_hex(m, got);
	CHECK(strcmp(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	      "empty file has the SHA-256 of nothing");
	CHECK_RC(ward_attest_measure_path(test_tmpdir(), m), WARD_E_INVAL,
	         "a directory is refused");
	free(data);
}

static void test_program(void)
{
	char resolved[4096];
	int fd = -1;
	const char *dir = test_tmpdir();
	const char *elf = tmp("prog");
	static const char hdr[] = "\177ELF\2\1\1\0rest-of-it";
	write_file(elf, hdr, sizeof hdr, 0755);
	CHECK_RC(ward_attest_open_program(elf, NULL, resolved, sizeof resolved, &fd), 0,
	         "absolute path opens");
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "descriptor is close-on-exec");
	close(fd);
	char path_env[4200];
	snprintf(path_env, sizeof path_env, "/nonexistent:%s:/usr/bin", dir);
	CHECK_RC(ward_attest_open_program("prog", path_env, resolved, sizeof resolved, &fd), 0,
	         "found through PATH");
	CHECK(strcmp(resolved, elf) == 0, "resolved to %s", resolved);
	close(fd);
	CHECK_RC(ward_attest_open_program("prog", "/nonexistent", resolved, sizeof resolved, &fd),
	         WARD_E_NOTFOUND, "not in PATH");
	CHECK_RC(ward_attest_open_program("sh", NULL, resolved, sizeof resolved, &fd), 0,
	         "default PATH finds sh");
	close(fd);

	chmod(elf, 0757);
	CHECK_RC(ward_attest_open_program(elf, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "world-writable program refused");
	chmod(elf, 0775);
	CHECK_RC(ward_attest_open_program(elf, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "group-writable program refused");
	chmod(elf, 0644);
	CHECK_RC(ward_attest_open_program(elf, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "non-executable refused");
	const char *script = tmp("script");
	write_file(script, "#!/bin/sh\necho hi\n", 18, 0755);
	CHECK_RC(ward_attest_open_program(script, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "script refused");
	CHECK(strstr(ward_last_error(), "interpreter") != NULL, "says why: %s", ward_last_error());
	write_file(script, "MZ\0\0", 4, 0755);
	CHECK_RC(ward_attest_open_program(script, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "non-ELF refused");
	CHECK_RC(ward_attest_open_program(dir, NULL, NULL, 0, &fd), WARD_E_DENIED,
	         "directory refused");
	if (geteuid() == 0) {
		write_file(elf, hdr, sizeof hdr, 0755);
		if (chown(elf, 65534, 65534) == 0)
			CHECK_RC(ward_attest_open_program(elf, NULL, NULL, 0, &fd), WARD_E_DENIED,
			         "program owned by another user refused");
	} else {
		test_skip("ownership check needs root to chown");
	}
	CHECK(fd == -1, "no descriptor after a refusal");
}

int main(void)
{
	test_key_files();
	test_measure();
	test_program();
	return test_done();
}
