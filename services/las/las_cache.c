/*
 * The LAS measurement cache: a direct-mapped table of file digests keyed by
 * (device, inode, size, mtime, ctime), so the LAS does not rehash the ward
 * binary for every request. Why this is safe is explained in
 * docs/attestation.md ("Measurement cache"); in short: any write to the
 * inode changes ctime, which no unprivileged user can set, and an entry is
 * stored only when its timestamps are older than the hash (the "racy git"
 * rule), so coarse timestamp granularity cannot hide a later change.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core_internal.h"
#include "services/las/las.h"

/* Files changed less than this long before hashing began are not cached. */
#define SETTLE_NS          (2LL * 1000000000LL)
#define LAS_MAX_EXECUTABLE (1LL << 30)

struct entry {
	int used;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint8_t digest[32];
};

struct las_cache {
	pthread_mutex_t lock;
	size_t n;
	struct entry *e;
};

struct las_cache *las_cache_new(size_t max)
{
	struct las_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->n = max;
	if (max && !(c->e = calloc(max, sizeof *c->e))) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void las_cache_free(struct las_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->e);
	free(c);
}

static int same_ts(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       same_ts(a->st_mtim, b->st_mtim) && same_ts(a->st_ctim, b->st_ctim);
}

static long long ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static size_t slot(const struct las_cache *c, const struct stat *st)
{
	uint64_t h = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)st->st_dev;
	return (size_t)(h % c->n);
}

static int lookup(struct las_cache *c, const struct stat *st, uint8_t out[32])
{
	int hit = 0;
	pthread_mutex_lock(&c->lock);
	struct entry *e = &c->e[slot(c, st)];
	if (e->used && e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	    same_ts(e->mtime, st->st_mtim) && same_ts(e->ctime, st->st_ctim)) {
		memcpy(out, e->digest, 32);
		hit = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void store(struct las_cache *c, const struct stat *st, const uint8_t d[32])
{
	pthread_mutex_lock(&c->lock);
	struct entry *e = &c->e[slot(c, st)];
	e->used = 1;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	memcpy(e->digest, d, 32);
	pthread_mutex_unlock(&c->lock);
}

int las_cache_measure(struct las_cache *c, int fd, uint8_t out[32], int *hit)
{
	struct stat before, after;
	if (hit)
		*hit = 0;
	if (fstat(fd, &before) < 0)
		return ward_error_errno("cannot stat the executable");
	if (!S_ISREG(before.st_mode))
		return ward_error(WARD_E_INVAL, "not a regular file");
	/* Bounds the work one request can cause; no executable is this large. */
	if (before.st_size > LAS_MAX_EXECUTABLE)
		return ward_error(WARD_E_RANGE, "executable larger than %lld bytes",
		                  (long long)LAS_MAX_EXECUTABLE);
	if (c && c->n && lookup(c, &before, out)) {
		if (hit)
			*hit = 1;
		return 0;
	}
	struct timespec start;
	clock_gettime(CLOCK_REALTIME, &start);
	int rc = ward_attest_measure_fd(fd, out);
	if (rc < 0)
		return rc;
	if (fstat(fd, &after) < 0)
		return ward_error_errno("cannot stat the executable");
	/* A file written while it was hashed has no single measurement. */
	if (!same_file(&before, &after))
		return ward_error(WARD_E_DENIED, "the executable changed while it was measured");
	long long settled = ns(start) - SETTLE_NS;
	if (c && c->n && ns(before.st_ctim) < settled && ns(before.st_mtim) < settled)
		store(c, &before, out);
	return 0;
}
