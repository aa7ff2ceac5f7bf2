/* Interop vectors made with the Python reference: every MANIFEST row and RANGES row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c4gh_testutil.h"
#include "test.h"
#include "ward/crypt4gh.h"

static int fixed_pass(void *ctx, char *buf, size_t size)
{
	if (!ctx)
		return WARD_E_PASSPHRASE;
	snprintf(buf, size, "%s", (const char *)ctx);
	return 0;
}

static int load_key(const char *dir, const char *name, const char *pass,
                    struct ward_c4gh_seckey **k)
{
	char path[4096];
	snprintf(path, sizeof path, "%.1000s/%.1000s", dir, name);
	if (strstr(name, ".hex")) {
		size_t n;
		char *hex = (char *)test_read_file(path, &n);
		int rc = ward_c4gh_seckey_from_hex(hex, k);
		free(hex);
		return rc;
	}
	return ward_c4gh_seckey_load(path, fixed_pass, strcmp(pass, "-") ? (void *)pass : NULL, k);
}

/* Splits a TSV line in place into at most max fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = 0;
	while (n < max) {
		f[n++] = line;
		char *tab = strchr(line, '\t');
		if (!tab)
			break;
		*tab = 0;
		line = tab + 1;
	}
	return n;
}

static void manifest(const char *dir)
{
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%.1000s/MANIFEST.tsv", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "open %s", path);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *c[5];
		if (line[0] == '#' || split(line, c, 5) < 5)
			continue;
		struct ward_c4gh_seckey *k = NULL;
		struct tbuf cipher, plain = {0};
		char fpath[4096], hex[65];
		snprintf(fpath, sizeof fpath, "%.1000s/%.1000s", dir, c[0]);
		cipher.p = test_read_file(fpath, &cipher.n);
		int rc = load_key(dir, c[1], c[2], &k);
		if (rc == 0)
			rc = tu_decrypt(&cipher, k, NULL, 0, 2, 0, UINT64_MAX, &plain);
		if (!strcmp(c[3], "ok")) {
			test_sha256_hex(plain.p, plain.n, hex);
			CHECK(rc == 0 && !strcmp(hex, c[4]), "%s with %s: plaintext sha256 (%s)",
			      c[0], c[1], rc ? ward_last_error() : hex);
		} else {
			CHECK(rc < 0 && plain.n == 0, "%s with %s (%s) is refused: %s", c[0], c[1],
			      c[2], rc ? ward_last_error() : "accepted!");
		}
		tu_free(&plain);
		free(cipher.p);
		ward_c4gh_seckey_free(k);
	}
	fclose(f);
}

static void ranges(const char *dir)
{
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%.1000s/RANGES.tsv", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL, "open %s", path);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *c[7];
		if (line[0] == '#' || split(line, c, 7) < 6)
			continue;
		struct ward_c4gh_seckey *k = NULL;
		struct tbuf cipher;
		char fpath[4096];
		snprintf(fpath, sizeof fpath, "%.1000s/%.1000s", dir, c[0]);
		cipher.p = test_read_file(fpath, &cipher.n);
		uint64_t s = strtoull(c[3], NULL, 10), e = strtoull(c[4], NULL, 10);
		CHECK_RC(load_key(dir, c[1], c[2], &k), 0, "load %s", c[1]);
		for (int use_pipe = 0; k && use_pipe < 2; use_pipe++) {
			struct tbuf plain;
			char hex[65];
			int rc = tu_decrypt(&cipher, k, NULL, use_pipe, 2, s, e, &plain);
			test_sha256_hex(plain.p, plain.n, hex);
			CHECK(rc == 0 && !strcmp(hex, c[5]), "%s [%s, %s) on a %s: %s", c[0], c[3],
			      c[4], use_pipe ? "pipe" : "file", rc ? ward_last_error() : hex);
			tu_free(&plain);
		}
		free(cipher.p);
		ward_c4gh_seckey_free(k);
	}
	fclose(f);
}

/* Sender checks: bob wrote the vectors; alice did not. */
static void sender(const char *dir)
{
	char path[4096];
	uint8_t bob[32], alice[32];
	struct ward_c4gh_seckey *k = NULL;
	struct tbuf cipher, plain;
	snprintf(path, sizeof path, "%.1000s/bob.pub", dir);
	CHECK_RC(ward_c4gh_pubkey_load(path, bob), 0, "load bob.pub");
	snprintf(path, sizeof path, "%.1000s/alice.pub", dir);
	CHECK_RC(ward_c4gh_pubkey_load(path, alice), 0, "load alice.pub");
	CHECK_RC(load_key(dir, "alice.sec", "alice", &k), 0, "load alice.sec");
	snprintf(path, sizeof path, "%.1000s/abcd.bob2alice.c4gh", dir);
	cipher.p = test_read_file(path, &cipher.n);
	CHECK_RC(tu_decrypt(&cipher, k, bob, 0, 1, 0, UINT64_MAX, &plain), 0,
	         "--sender_pk bob.pub accepts bob's file");
	CHECK(plain.n == 262144, "and yields the whole plaintext");
	tu_free(&plain);
	CHECK_RC(tu_decrypt(&cipher, k, alice, 0, 1, 0, UINT64_MAX, &plain), WARD_E_NOKEY,
	         "--sender_pk alice.pub rejects bob's file");
	CHECK(plain.n == 0, "and releases nothing");
	tu_free(&plain);
	free(cipher.p);
	ward_c4gh_seckey_free(k);
}

int main(void)
{
	char dir[1024], seed[1100];
	snprintf(dir, sizeof dir, "%s", test_data("crypt4gh"));
	snprintf(seed, sizeof seed, "%.1000s/seed", dir);
	manifest(dir);
	manifest(seed);
	ranges(dir);
	sender(dir);
	return test_done();
}
