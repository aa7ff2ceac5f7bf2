/* The test harness behind tests/test.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "test.h"

static int passed, failed;

static void vreport(const char *tag, const char *file, int line, const char *fmt, va_list ap)
{
	printf("%s: ", tag);
	vprintf(fmt, ap);
	if (file)
		printf(" (%s:%d)", file, line);
	putchar('\n');
	fflush(stdout);
}

int test_check(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (ok) {
		passed++;
		vreport("PASS", NULL, 0, fmt, ap);
	} else {
		failed++;
		vreport("FAIL", file, line, fmt, ap);
	}
	va_end(ap);
	return ok;
}

int test_check_rc(int rc, int want, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (rc == want)
		return test_check(1, file, line, "%s", msg);
	extern const char *ward_last_error(void);
	return test_check(0, file, line, "%s: got %d want %d (%s)", msg, rc, want,
	                  ward_last_error());
}

void test_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("SKIPPED", NULL, 0, fmt, ap);
	va_end(ap);
}

int test_done(void)
{
	fprintf(stderr, "%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

const char *test_data(const char *name)
{
	static char buf[8][4096];
	static int slot;
	const char *dir = getenv("WARD_TEST_DATA");
	char *out = buf[slot++ % 8];
	snprintf(out, sizeof buf[0], "%s/%s", dir ? dir : "tests/data", name);
	return out;
}

uint8_t *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "FAIL: cannot open %s\n", path);
		exit(1);
	}
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	fclose(f);
	if (!buf)
		abort();
	buf[n] = 0;
	*len = n;
	return buf;
}

void test_sha256_hex(const void *buf, size_t len, char hex[65])
{
	unsigned char md[32];
	SHA256(buf, len, md);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

const char *test_tmpdir(void)
{
	static char dir[4096];
	if (!dir[0]) {
		const char *base = getenv("WARD_TEST_TMP");
		snprintf(dir, sizeof dir, "%s/unit.XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return dir;
}

void test_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}
