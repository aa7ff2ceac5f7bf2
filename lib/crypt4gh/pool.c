/* A small worker pool: jobs run in FIFO order; a waiting caller runs queued jobs itself. */
#include <stdlib.h>
#include <unistd.h>

#include "crypt4gh/pool.h"

struct c4gh_pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct c4gh_job *head, *tail;
	int stop;
	unsigned nworkers;
	pthread_t *threads;
	struct c4gh_aead **aeads; /* one per worker, plus [nworkers] for callers */
};

unsigned c4gh_thread_count(unsigned n)
{
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	return n > 64 ? 64 : n;
}

static struct c4gh_job *pop_locked(struct c4gh_pool *p)
{
	struct c4gh_job *j = p->head;
	if (j) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
	}
	return j;
}

static void run_job(struct c4gh_pool *p, struct c4gh_job *j, struct c4gh_aead *a)
{
	pthread_mutex_unlock(&p->mu);
	j->run(j, a);
	pthread_mutex_lock(&p->mu);
	j->done = 1;
	pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg)
{
	struct c4gh_pool *p = ((void **)arg)[0];
	struct c4gh_aead *a = ((void **)arg)[1];
	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		run_job(p, pop_locked(p), a);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct c4gh_pool *c4gh_pool_new(unsigned threads)
{
	struct c4gh_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	/* The caller works too, so `threads` threads means threads-1 workers. */
	unsigned n = threads > 1 ? threads - 1 : 0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threads = calloc(n ? n : 1, sizeof *p->threads);
	p->aeads = calloc(n + 1, sizeof *p->aeads);
	if (!p->threads || !p->aeads)
		goto fail;
	for (unsigned i = 0; i <= n; i++)
		if (!(p->aeads[i] = c4gh_aead_new()))
			goto fail;
	for (unsigned i = 0; i < n; i++) {
		void **arg = malloc(2 * sizeof *arg);
		if (!arg)
			goto fail;
		arg[0] = p;
		arg[1] = p->aeads[i];
		if (pthread_create(&p->threads[i], NULL, worker, arg) != 0) {
			free(arg);
			goto fail;
		}
		p->nworkers++;
	}
	return p;
fail:
	c4gh_pool_free(p);
	return NULL;
}

void c4gh_pool_submit(struct c4gh_pool *p, struct c4gh_job *j)
{
	j->done = 0;
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

void c4gh_pool_wait(struct c4gh_pool *p, struct c4gh_job *j)
{
	pthread_mutex_lock(&p->mu);
	while (!j->done) {
		struct c4gh_job *q = pop_locked(p);
		if (q)
			run_job(p, q, p->aeads[p->nworkers]);
		else
			pthread_cond_wait(&p->done, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

struct c4gh_aead *c4gh_pool_caller_aead(struct c4gh_pool *p)
{
	return p->aeads[p->nworkers];
}

void c4gh_pool_free(struct c4gh_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->threads[i], NULL);
	if (p->aeads)
		for (unsigned i = 0; i <= p->nworkers; i++)
			c4gh_aead_free(p->aeads[i]);
	free(p->aeads);
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
