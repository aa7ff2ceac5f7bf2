/* Pools of sodium_malloc'ed blocks for short-lived secrets: wiped on release, reused, never
 * unmapped in the hot path. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ward/secmem.h"

#define HDR       16u /* block header: class and requested size, keeps 16-byte alignment */
#define MIN_SHIFT 6u  /* smallest class: 64 bytes */
#define CLASSES   15u /* 64 B .. 1 MiB */
/*
 * Free blocks kept per class. A block costs at least one locked page, so
 * small classes keep up to 256 (a server with a few hundred requests in
 * flight reuses them instead of paying mmap, mprotect and mlock, whose TLB
 * shootdowns stall every thread) and large ones fewer: at most ~1 MiB each.
 */
#define POOL_DEPTH 256u
#define BIG        0xffu

struct pool {
	pthread_mutex_t mu;
	void *free[POOL_DEPTH];
	unsigned n;
};

static struct pool pools[CLASSES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_ok;

static void init(void)
{
	for (unsigned i = 0; i < CLASSES; i++)
		pthread_mutex_init(&pools[i].mu, NULL);
	init_ok = sodium_init() >= 0;
}

static unsigned depth_of(unsigned cls)
{
	size_t block = (size_t)1 << (MIN_SHIFT + cls), keep = (size_t)1 << 20;
	size_t pages = (block + 4095) / 4096;
	size_t d = keep / (pages * 4096);
	return d > POOL_DEPTH ? POOL_DEPTH : d < 4 ? 4 : (unsigned)d;
}

struct hdr {
	uint8_t cls;
	size_t n;
};

void *ward_secmem_alloc(size_t n)
{
	pthread_once(&once, init);
	if (!init_ok || n > SIZE_MAX - HDR)
		return NULL;
	size_t need = n + HDR;
	unsigned c = 0;
	while (c < CLASSES && ((size_t)1 << (MIN_SHIFT + c)) < need)
		c++;
	uint8_t *b = NULL;
	if (c < CLASSES) {
		pthread_mutex_lock(&pools[c].mu);
		if (pools[c].n)
			b = pools[c].free[--pools[c].n];
		pthread_mutex_unlock(&pools[c].mu);
		if (!b && !(b = sodium_malloc((size_t)1 << (MIN_SHIFT + c))))
			return NULL;
	} else if (!(b = sodium_malloc(need))) {
		return NULL;
	}
	struct hdr h = {c < CLASSES ? (uint8_t)c : BIG, n};
	memcpy(b, &h, sizeof h);
	return b + HDR;
}

void ward_secmem_free(void *p)
{
	if (!p)
		return;
	uint8_t *b = (uint8_t *)p - HDR;
	struct hdr h;
	memcpy(&h, b, sizeof h);
	sodium_memzero(p, h.n);
	if (h.cls != BIG && h.cls < CLASSES) {
		struct pool *pl = &pools[h.cls];
		pthread_mutex_lock(&pl->mu);
		if (pl->n < depth_of(h.cls)) {
			pl->free[pl->n++] = b;
			b = NULL;
		}
		pthread_mutex_unlock(&pl->mu);
	}
	if (b)
		sodium_free(b);
}
