/* A tiny test harness: CHECK prints PASS/FAIL lines that tests/run.sh counts. */
#ifndef WARD_TEST_H
#define WARD_TEST_H

#include <stddef.h>
#include <stdint.h>

/* Records one named check. Assertions stay on whatever NDEBUG says. */
#define CHECK(cond, ...) test_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* Same, with the libward error code: passes when rc == want. */
#define CHECK_RC(rc, want, ...) test_check_rc((rc), (want), __FILE__, __LINE__, __VA_ARGS__)

int test_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int test_check_rc(int rc, int want, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit status for main: 0 if every check passed. */
int test_done(void);

/* Path of a file under the test data directory (WARD_TEST_DATA or tests/data). */
const char *test_data(const char *name);

/* Reads a whole file (malloc'ed, NUL-terminated); aborts the test on failure. */
uint8_t *test_read_file(const char *path, size_t *len);

/* Lower-case hex SHA-256 of buf into hex[65]. */
void test_sha256_hex(const void *buf, size_t len, char hex[65]);

/* A fresh private temporary directory for this test (removed by the runner). */
const char *test_tmpdir(void);

/* Fills buf with deterministic pseudo-random bytes from seed. */
void test_fill(void *buf, size_t len, uint32_t seed);

#endif
