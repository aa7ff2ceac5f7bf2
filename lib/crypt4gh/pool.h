/* Worker pool for segment encryption and decryption (see pool.c). */
#ifndef WARD_C4GH_POOL_H
#define WARD_C4GH_POOL_H

#include <pthread.h>

#include "crypt4gh/c4gh_internal.h"

struct c4gh_job {
	void (*run)(struct c4gh_job *j, struct c4gh_aead *a);
	struct c4gh_job *next;
	int done;
};

struct c4gh_pool;

/* threads = total threads working, the caller included (1 = no extra thread). */
struct c4gh_pool *c4gh_pool_new(unsigned threads);
void c4gh_pool_submit(struct c4gh_pool *p, struct c4gh_job *j);
/* Waits for j, running queued jobs in the meantime. */
void c4gh_pool_wait(struct c4gh_pool *p, struct c4gh_job *j);
struct c4gh_aead *c4gh_pool_caller_aead(struct c4gh_pool *p);
void c4gh_pool_free(struct c4gh_pool *p);

#endif
