/* The launcher measurement of a process: plain exe hash, ward modules folded in, user code refused.
 * Every case runs twice, with the mappings from PROCMAP_QUERY and from the /proc/PID/maps text.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "attest/attest_internal.h"
#include "test.h"
#include "ward/attest.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA           0x53564d41 /* Linux 5.17; the Debian 12 headers predate it */
#define PR_SET_VMA_ANON_NAME 0
#endif

static int have_query; /* the kernel has PROCMAP_QUERY (Linux >= 6.11) */

/*
 * Measures pid with both sources of mappings: the same code, the same digest
 * and the same message from each. Returns the code (from the text source).
 */
static int both(int pid, const struct ward_attest_proc_ops *ops, uint8_t out[32], const char *what)
{
	uint8_t q[32] = {0}, t[32] = {0};
	char qmsg[512] = "";
	int qrc = 0;
	if (have_query) {
		qrc = attest_measure_process_maps(pid, ops, ATTEST_MAPS_QUERY, q);
		snprintf(qmsg, sizeof qmsg, "%s", qrc < 0 ? ward_last_error() : "");
	}
	int trc = attest_measure_process_maps(pid, ops, ATTEST_MAPS_TEXT, t);
	if (have_query)
		CHECK(qrc == trc && (trc < 0 || memcmp(q, t, 32) == 0) &&
		          (trc == 0 || strcmp(qmsg, ward_last_error()) == 0),
		      "%s: PROCMAP_QUERY and maps text agree (%d/%d, \"%s\" / \"%s\")", what, qrc,
		      trc, qmsg, trc < 0 ? ward_last_error() : "");
	memcpy(out, t, 32);
	return trc;
}

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

static pid_t victim;

/* The identity hook of a peer that dies once its /proc files are open. */
static int kill_victim(void *ctx)
{
	(void)ctx;
	siginfo_t si;
	kill(victim, SIGKILL);
	/* WNOWAIT: a zombie, so the pid cannot be reused, but its memory is gone. */
	return waitid(P_PID, (id_t)victim, &si, WEXITED | WNOWAIT) == 0 ? 0 : WARD_E_INTERNAL;
}

/* Maps file fd executable, runs one refused measurement through both sources, unmaps. */
static void refused_mapping(int fd, const char *why, const char *what)
{
	uint8_t m[32];
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	               MAP_PRIVATE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
	if (p == MAP_FAILED) {
		test_skip("%s: cannot map it executable", what);
		return;
	}
	if (fd < 0)
		prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, 4096,
		      (unsigned long)"jit");
	CHECK_RC(both(0, NULL, m, what), WARD_E_DENIED, "%s is refused", what);
	CHECK(strstr(ward_last_error(), why) != NULL, "%s: says why: %s", what, ward_last_error());
	CHECK_RC(ward_attest_measure_process(0, NULL, m), WARD_E_DENIED, "%s: refused by default",
	         what);
	munmap(p, 4096);
}

static void refusals(const char *lib)
{
	refused_mapping(-1, "anonymous memory", "anonymous executable memory");
	char path[4300], path2[4300];
	snprintf(path, sizeof path, "%s/deleted.so", test_tmpdir());
	snprintf(path2, sizeof path2, "%s/replacement.so", test_tmpdir());
	if (copy(lib, path) == 0 && copy(lib, path2) == 0 && chmod(path, 0777) == 0) {
		int fd = open(path, O_RDONLY);
		refused_mapping(fd, "unprivileged user", "a world-writable file (mode 0777)");
		/* The mapped inode loses its name: the kernel reports it "(deleted)". */
		rename(path2, path);
		refused_mapping(fd, "deleted", "a file renamed over since it was mapped");
		close(fd);
	}
	int mfd = memfd_create("code", MFD_CLOEXEC);
	if (mfd >= 0 && ftruncate(mfd, 4096) == 0)
		refused_mapping(mfd, "deleted", "a memfd");
	if (mfd >= 0)
		close(mfd);
}

/* A peer that exits during the measurement leaves no mappings to vet: refused, not "clean". */
static void exiting_peer(void)
{
	uint8_t m[32];
	struct ward_attest_proc_ops ops = {.still_same = kill_victim};
	for (int i = 0; i < 2; i++) {
		victim = fork();
		if (victim == 0) {
			pause();
			_exit(0);
		}
		int rc = attest_measure_process_maps((int)victim, &ops,
		                                     i ? ATTEST_MAPS_TEXT : ATTEST_MAPS_QUERY, m);
		if (i || have_query) {
			CHECK_RC(rc, WARD_E_DENIED, "%s: a peer that exits during the measurement",
			         i ? "maps text" : "PROCMAP_QUERY");
			CHECK(strstr(ward_last_error(), "exited") != NULL, "says why: %s",
			      ward_last_error());
		}
		kill(victim, SIGKILL);
		waitpid(victim, NULL, 0);
	}
}

int main(void)
{
	uint8_t m[32], e[32];
	int qrc = attest_measure_process_maps(0, NULL, ATTEST_MAPS_QUERY, m);
	have_query = qrc == 0;
	if (!have_query)
		test_skip("no PROCMAP_QUERY (%s): only the maps text is tested", ward_last_error());
	CHECK_RC(ward_attest_measure_path("/proc/self/exe", e), 0, "hash of our executable");
	CHECK_RC(ward_attest_measure_process(0, NULL, m), 0, "measure this process");
	CHECK(memcmp(m, e, 32) == 0, "no ward module mapped: launcher measurement = SHA-256(exe)");
	CHECK_RC(both(0, NULL, m, "self"), 0, "measure this process from each source");
	CHECK(memcmp(m, e, 32) == 0, "each source: SHA-256(exe)");
	CHECK_RC(ward_attest_measure_process((int)getpid(), NULL, m), 0, "same by pid");
	CHECK(memcmp(m, e, 32) == 0, "by pid: same value");
	struct ward_attest_proc_ops ops = {.hash = counting_hash, .still_same = NULL};
	CHECK_RC(ward_attest_measure_process(0, &ops, m), 0, "with a hash hook");
	CHECK(count_calls == 1 && memcmp(m, e, 32) == 0, "the hook hashes the exe (%d call)",
	      count_calls);
	ops.still_same = refuse;
	CHECK_RC(ward_attest_measure_process(0, &ops, m), WARD_E_DENIED,
	         "the identity hook can veto the measurement");
	CHECK_RC(both(0, &ops, m, "veto"), WARD_E_DENIED, "the veto holds for each source");
	CHECK_RC(ward_attest_measure_process(999999999, NULL, m), WARD_E_IO, "no such process");
	exiting_peer();
	refusals("/lib/x86_64-linux-gnu/libanl.so.1");

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
	CHECK_RC(both(0, NULL, m, "module"), 0, "with the module mapped, from each source");
	CHECK(memcmp(m, want, 32) == 0, "each source folds the module in");

	/* Code from a file an unprivileged user owns is refused (only root can chown). */
	if (geteuid() == 0 && chown(other, 65534, 65534) == 0) {
		void *h2 = dlopen(other, RTLD_NOW | RTLD_LOCAL);
		CHECK(h2 != NULL, "load a library owned by another user");
		CHECK_RC(ward_attest_measure_process(0, NULL, m), WARD_E_DENIED,
		         "a mapped user-owned library is refused");
		CHECK(strstr(ward_last_error(), "unprivileged user") != NULL, "says why: %s",
		      ward_last_error());
		CHECK_RC(both(0, NULL, m, "user-owned"), WARD_E_DENIED, "refused from each source");
		if (h2)
			dlclose(h2);
	} else {
		chmod(other, 0777);
		void *h2 = dlopen(other, RTLD_NOW | RTLD_LOCAL);
		CHECK_RC(ward_attest_measure_process(0, NULL, m), WARD_E_DENIED,
		         "a mapped world-writable library is refused");
		CHECK_RC(both(0, NULL, m, "world-writable"), WARD_E_DENIED,
		         "refused from each source");
		if (h2)
			dlclose(h2);
	}
	if (h)
		dlclose(h);
	return test_done();
}
