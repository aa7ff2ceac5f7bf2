/* The launcher measurement of a process: plain exe hash, ward modules folded in, user code refused.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "test.h"
#include "ward/attest.h"

static int copy(const char *from, const char *to)
{
	size_t n;
	FILE *f = fopen(from, "rb");
	if (!f)
		return -1;
	fclose(f);
	uint8_t *d = test_read_file(from, &n);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	int ok = fd >= 0 && write(fd, d, n) == (ssize_t)n;
	if (fd >= 0)
		close(fd);
	free(d);
	return ok ? 0 : -1;
}

static int count_calls;

static int counting_hash(void *ctx, int fd, uint8_t out[32])
{
	(void)ctx;
	count_calls++;
	return ward_attest_measure_fd(fd, out);
}

static int refuse(void *ctx)
{
	(void)ctx;
	return WARD_E_DENIED;
}

int main(void)
{
	uint8_t m[32], e[32];
	CHECK_RC(ward_attest_measure_path("/proc/self/exe", e), 0, "hash of our executable");
	CHECK_RC(ward_attest_measure_process(0, NULL, m), 0, "measure this process");
	CHECK(memcmp(m, e, 32) == 0, "no ward module mapped: launcher measurement = SHA-256(exe)");
	CHECK_RC(ward_attest_measure_process((int)getpid(), NULL, m), 0, "same by pid");
	CHECK(memcmp(m, e, 32) == 0, "by pid: same value");
	struct ward_attest_proc_ops ops = {.hash = counting_hash, .still_same = NULL};
	CHECK_RC(ward_attest_measure_process(0, &ops, m), 0, "with a hash hook");
	CHECK(count_calls == 1 && memcmp(m, e, 32) == 0, "the hook hashes the exe (%d call)",
	      count_calls);
	ops.still_same = refuse;
	CHECK_RC(ward_attest_measure_process(0, &ops, m), WARD_E_DENIED,
	         "the identity hook can veto the measurement");
	CHECK_RC(ward_attest_measure_process(999999999, NULL, m), WARD_E_IO, "no such process");

	/* A module under .../lib/ward/ is folded into the measurement. */
	char dir[4200], mod[4300], other[4300];
	snprintf(dir, sizeof dir, "%s/lib", test_tmpdir());
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/lib/ward", test_tmpdir());
	mkdir(dir, 0755);
	snprintf(mod, sizeof mod, "%s/mod.so", dir);
	snprintf(other, sizeof other, "%s/other.so", test_tmpdir());
	if (copy("/lib/x86_64-linux-gnu/libutil.so.1", mod) < 0 ||
	    copy("/lib/x86_64-linux-gnu/libanl.so.1", other) < 0) {
		test_skip("no small system library to load as a module");
		return test_done();
	}
	void *h = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL, "load a module copy (%s)", h ? "ok" : dlerror());
	uint8_t hm[32], want[32];
	CHECK_RC(ward_attest_measure_path(mod, hm), 0, "hash of the module");
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"ward-launcher-v1", 17); /* with its NUL */
	crypto_hash_sha256_update(&st, e, 32);
	crypto_hash_sha256_update(&st, hm, 32);
	crypto_hash_sha256_final(&st, want);
	CHECK_RC(ward_attest_measure_process(0, NULL, m), 0, "measure with the module mapped");
	CHECK(memcmp(m, want, 32) == 0,
	      "measurement = SHA-256(\"ward-launcher-v1\\0\" || exe || module)");

	/* Code from a file an unprivileged user owns is refused (only root can chown). */
	if (geteuid() == 0 && chown(other, 65534, 65534) == 0) {
		void *h2 = dlopen(other, RTLD_NOW | RTLD_LOCAL);
		CHECK(h2 != NULL, "load a library owned by another user");
		CHECK_RC(ward_attest_measure_process(0, NULL, m), WARD_E_DENIED,
		         "a mapped user-owned library is refused");
		CHECK(strstr(ward_last_error(), "unprivileged user") != NULL, "says why: %s",
		      ward_last_error());
		if (h2)
			dlclose(h2);
	} else {
		chmod(other, 0777);
		void *h2 = dlopen(other, RTLD_NOW | RTLD_LOCAL);
		CHECK_RC(ward_attest_measure_process(0, NULL, m), WARD_E_DENIED,
		         "a mapped world-writable library is refused");
		if (h2)
			dlclose(h2);
	}
	if (h)
		dlclose(h);
	return test_done();
}
