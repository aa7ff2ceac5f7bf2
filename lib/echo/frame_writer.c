/* Writes numbered PNG frames (DIR/<i>.png) on worker threads while the caller decodes the next
 * frames. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_internal.h"
#include "echo/echo_internal.h"

struct slot {
	uint8_t *px;
	size_t cap;
	int w, h;
	long index;
};

struct ward_echo_writer {
	pthread_mutex_t mu;
	pthread_cond_t can_put, can_take;
	struct slot *slots;
	int nslots;
	int *ready; /* ring of slot numbers waiting to be written */
	int ready_head, ready_count;
	int *free_list; /* stack of unused slot numbers */
	int free_count;
	int closing;
	int err; /* first failure; its message in errmsg */
	char errmsg[512];
	pthread_t *threads;
	int nthreads;
	int swap_rb;
	char *dir;
};

static int write_png(const struct ward_echo_writer *w, const struct slot *s)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%ld.png", w->dir, s->index) >= (int)sizeof path)
		return ward_error(WARD_E_INVAL, "%s: path too long", w->dir);
	if (echo_dying)
		return ward_error(WARD_E_INTERNAL, "stopping on a signal");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return ward_error_errno("%s: cannot create", path);
	int rc = ward_echo_png_write_fd(fd, s->px, s->w, s->h, 3 * (size_t)s->w, w->swap_rb);
	if (close(fd) != 0 && rc == 0)
		rc = ward_error_errno("%s: close", path);
	if (rc < 0)
		rc = ward_error(rc, "%s: %s", path, ward_last_error());
	return rc;
}

/*
 * With w->mu held: takes the oldest queued frame, writes it without the lock
 * and returns its slot to the free list. Used by the workers, and by the
 * caller instead of idling while the queue is full or draining.
 */
static void write_one_locked(struct ward_echo_writer *w)
{
	int n = w->ready[w->ready_head];
	w->ready_head = (w->ready_head + 1) % w->nslots;
	w->ready_count--;
	int skip = w->err != 0;
	pthread_mutex_unlock(&w->mu);
	int rc = skip ? 0 : write_png(w, &w->slots[n]);
	pthread_mutex_lock(&w->mu);
	if (rc < 0 && !w->err) {
		w->err = rc;
		snprintf(w->errmsg, sizeof w->errmsg, "%s", ward_last_error());
	}
	w->free_list[w->free_count++] = n;
	pthread_cond_signal(&w->can_put);
}

static void *worker(void *arg)
{
	struct ward_echo_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->ready_count == 0 && !w->closing)
			pthread_cond_wait(&w->can_take, &w->mu);
		if (w->ready_count == 0)
			break;
		write_one_locked(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void writer_free(struct ward_echo_writer *w)
{
	for (int i = 0; i < w->nslots; i++)
		free(w->slots[i].px);
	free(w->slots);
	free(w->ready);
	free(w->free_list);
	free(w->threads);
	free(w->dir);
	pthread_cond_destroy(&w->can_put);
	pthread_cond_destroy(&w->can_take);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int ward_echo_writer_start(const char *dir, int swap_rb, int threads, struct ward_echo_writer **out)
{
	*out = NULL;
	if (threads <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
	}
	struct ward_echo_writer *w = calloc(1, sizeof *w);
	if (!w)
		return ward_error(WARD_E_NOMEM, "out of memory");
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->can_put, NULL);
	pthread_cond_init(&w->can_take, NULL);
	w->nslots = 2 * threads;
	w->swap_rb = swap_rb;
	w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
	w->ready = calloc((size_t)w->nslots, sizeof *w->ready);
	w->free_list = calloc((size_t)w->nslots, sizeof *w->free_list);
	w->threads = calloc((size_t)threads, sizeof *w->threads);
	w->dir = strdup(dir);
	if (!w->slots || !w->ready || !w->free_list || !w->threads || !w->dir) {
		writer_free(w);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < w->nslots; i++)
		w->free_list[w->free_count++] = i;
	for (; w->nthreads < threads; w->nthreads++)
		if (pthread_create(&w->threads[w->nthreads], NULL, worker, w) != 0)
			break;
	if (w->nthreads == 0) {
		writer_free(w);
		return ward_error(WARD_E_NOMEM, "cannot start a thread");
	}
	*out = w;
	return 0;
}

int ward_echo_writer_put(struct ward_echo_writer *w, long index, const struct ward_echo_frame *f)
{
	pthread_mutex_lock(&w->mu);
	while (w->free_count == 0 && !w->err) {
		if (w->ready_count > 0)
			write_one_locked(w);
		else
			pthread_cond_wait(&w->can_put, &w->mu);
	}
	if (w->err) {
		int rc = w->err;
		pthread_mutex_unlock(&w->mu);
		return ward_error(rc, "%s", w->errmsg);
	}
	int n = w->free_list[--w->free_count];
	pthread_mutex_unlock(&w->mu);

	struct slot *s = &w->slots[n];
	size_t row = 3 * (size_t)f->width, need = row * (size_t)f->height;
	if (need > s->cap) {
		uint8_t *px = realloc(s->px, need);
		if (!px) {
			pthread_mutex_lock(&w->mu);
			w->free_list[w->free_count++] = n;
			pthread_mutex_unlock(&w->mu);
			return ward_error(WARD_E_NOMEM, "out of memory");
		}
		s->px = px;
		s->cap = need;
	}
	for (int y = 0; y < f->height; y++)
		memcpy(s->px + row * (size_t)y, f->bgr + f->stride * (size_t)y, row);
	s->w = f->width;
	s->h = f->height;
	s->index = index;

	pthread_mutex_lock(&w->mu);
	w->ready[(w->ready_head + w->ready_count) % w->nslots] = n;
	w->ready_count++;
	pthread_cond_signal(&w->can_take);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int ward_echo_writer_finish(struct ward_echo_writer *w)
{
	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->ready_count > 0)
		write_one_locked(w);
	w->closing = 1;
	pthread_cond_broadcast(&w->can_take);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	int rc = w->err ? ward_error(w->err, "%s", w->errmsg) : 0;
	writer_free(w);
	return rc;
}
