/* Tests of the guarded-memory pools: sizes, reuse without leftovers, many blocks, threads. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ward/secmem.h"

/* The secret is wiped when a block goes back to its pool: a reused block never shows it. */
static void test_reuse_is_wiped(void)
{
	uint8_t *a = ward_secmem_alloc(100);
	CHECK(a != NULL, "a 100-byte block");
	if (!a)
		return;
	memset(a, 0xA5, 100);
	ward_secmem_free(a);
	int leaked = 0, reused = 0;
	uint8_t *b[8];
	for (int i = 0; i < 8; i++) {
		b[i] = ward_secmem_alloc(100);
		reused += b[i] == a;
		for (size_t j = 0; b[i] && j < 100; j++)
			leaked += b[i][j] == 0xA5;
	}
	CHECK(reused == 1, "the freed block is reused from its pool");
	CHECK(leaked == 0, "and holds none of the secret it held (%d bytes)", leaked);
	for (int i = 0; i < 8; i++)
		ward_secmem_free(b[i]);
}

/* Every size class and beyond: each block is writable over its whole length. */
static void test_sizes(void)
{
	const size_t sizes[] = {0, 1, 47, 48, 49, 4096, 65536, 1u << 20, (1u << 20) + 1, 3u << 20};
	int ok = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *p = ward_secmem_alloc(sizes[i]);
		if (p) {
			memset(p, 0x5A, sizes[i]);
			ok++;
		}
		ward_secmem_free(p);
	}
	CHECK(ok == 10, "blocks from 0 bytes to 3 MiB are usable (%d/10)", ok);
	ward_secmem_free(NULL); /* a no-op: a crash here fails the test */
}

/* More blocks of one class than its pool keeps: the extra ones are released, all work. */
static void test_many(void)
{
	enum { N = 600 };
	static uint8_t *p[N];
	int ok = 0;
	for (int i = 0; i < N; i++) {
		p[i] = ward_secmem_alloc(500);
		if (p[i]) {
			memset(p[i], i & 0xff, 500);
			ok++;
		}
	}
	int intact = 0;
	for (int i = 0; i < N; i++)
		intact += p[i] && p[i][0] == (i & 0xff) && p[i][499] == (i & 0xff);
	for (int i = 0; i < N; i++)
		ward_secmem_free(p[i]);
	CHECK(ok == N && intact == N, "%d live blocks of one class, each intact (%d, %d)", N, ok,
	      intact);
}

static void *hammer(void *arg)
{
	uintptr_t fails = 0, seed = (uintptr_t)arg;
	for (int i = 0; i < 20000; i++) {
		size_t n = 16 + (seed = seed * 1103515245u + 12345u) % 3000;
		uint8_t *p = ward_secmem_alloc(n);
		if (!p) {
			fails++;
			continue;
		}
		memset(p, (int)(seed & 0xff), n);
		fails += p[n - 1] != (uint8_t)(seed & 0xff);
		ward_secmem_free(p);
	}
	return (void *)fails;
}

static void test_threads(void)
{
	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(i + 1));
	uintptr_t fails = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		fails += (uintptr_t)r;
	}
	CHECK(fails == 0, "4 threads allocating and freeing 80 000 blocks: %lu failures",
	      (unsigned long)fails);
}

int main(void)
{
	test_reuse_is_wiped();
	test_sizes();
	test_many();
	test_threads();
	return test_done();
}
