/*
 * The gzip layer of the VCF input: BGZF blocks are inflated one by one with
 * libdeflate (each is a whole gzip member of at most 64 KiB, so no stream
 * state is needed), optionally on a worker thread; any other gzip member is
 * streamed through zlib, which is what multi-member plain gzip needs
 * (libdeflate has no streaming API). Memory stays constant either way.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>

#include "vcf/vcf_internal.h"

#define BGZF_MAX   65536u /* a whole block, compressed or not */
#define BGZF_HDR   18u    /* gzip header with the 6-byte BC extra field */
#define ZOUT       BGZF_MAX
#define GZ_MIN_HDR 10u

/* Input cursor over the inner source, with a staging buffer for blocks that straddle chunks. */
struct cursor {
	struct vsrc *src;
	const uint8_t *p;
	size_t n;
	uint8_t *stage;
	size_t slen;
	uint64_t off; /* compressed offset of the cursor, for messages */
};

static int cur_pull(struct cursor *c)
{
	int rc = vsrc_next(c->src, &c->p, &c->n);
	if (rc < 0)
		c->n = 0;
	return rc;
}

/* Makes want bytes contiguous at the cursor (fewer only at the end of input). */
static int cur_peek(struct cursor *c, size_t want, const uint8_t **ptr, size_t *avail)
{
	if (c->slen == 0 && c->n >= want) {
		*ptr = c->p;
		*avail = want;
		return 0;
	}
	while (c->slen < want) {
		if (c->n == 0) {
			int rc = cur_pull(c);
			if (rc < 0)
				return rc;
			if (c->n == 0)
				break;
		}
		size_t k = want - c->slen < c->n ? want - c->slen : c->n;
		memcpy(c->stage + c->slen, c->p, k);
		c->slen += k;
		c->p += k;
		c->n -= k;
	}
	*ptr = c->stage;
	*avail = c->slen;
	return 0;
}

/* Some bytes at the cursor (any amount; 0 at the end). */
static int cur_any(struct cursor *c, const uint8_t **ptr, size_t *avail)
{
	if (c->slen) {
		*ptr = c->stage;
		*avail = c->slen;
		return 0;
	}
	if (c->n == 0) {
		int rc = cur_pull(c);
		if (rc < 0)
			return rc;
	}
	*ptr = c->p;
	*avail = c->n;
	return 0;
}

static void cur_skip(struct cursor *c, size_t k)
{
	c->off += k;
	if (c->slen) {
		memmove(c->stage, c->stage + k, c->slen - k);
		c->slen -= k;
	} else {
		c->p += k;
		c->n -= k;
	}
}

/* One BGZF block: the header says so (exactly as htslib's check_header). */
static int is_bgzf(const uint8_t *h, size_t n)
{
	return n >= BGZF_HDR && h[0] == 31 && h[1] == 139 && h[2] == 8 && (h[3] & 4) &&
	       h[10] == 6 && h[11] == 0 && h[12] == 'B' && h[13] == 'C' && h[14] == 2 && h[15] == 0;
}

/*
 * Inflates one whole BGZF block (blk, bsize bytes) into out (>= 64 KiB).
 * Returns the plaintext length or a negative ward_err.
 */
static long bgzf_inflate(struct libdeflate_decompressor *d, const uint8_t *blk, size_t bsize,
                         uint8_t *out, uint64_t off)
{
	if (bsize < BGZF_HDR + 8)
		return ward_error(WARD_E_FORMAT, "corrupt BGZF block at offset %llu",
		                  (unsigned long long)off);
	uint32_t crc = ward_load32_le(blk + bsize - 8);
	uint32_t isize = ward_load32_le(blk + bsize - 4);
	if (isize > BGZF_MAX)
		return ward_error(WARD_E_FORMAT, "BGZF block at offset %llu claims %u bytes",
		                  (unsigned long long)off, isize);
	size_t got = 0;
	enum libdeflate_result r = libdeflate_deflate_decompress(
	    d, blk + BGZF_HDR, bsize - BGZF_HDR - 8, out, isize, &got);
	if (r != LIBDEFLATE_SUCCESS || got != isize)
		return ward_error(WARD_E_FORMAT, "corrupt BGZF block at offset %llu",
		                  (unsigned long long)off);
	if ((uint32_t)libdeflate_crc32(0, out, isize) != crc)
		return ward_error(WARD_E_FORMAT, "BGZF block at offset %llu: CRC mismatch",
		                  (unsigned long long)off);
	return (long)isize;
}

/*
 * Points *blk at the whole BGZF block at the cursor (not consumed) and sets
 * *bsize. 1 = a block, 0 = not BGZF (or the end), <0 = error.
 */
static int peek_block(struct cursor *c, const uint8_t **blk, size_t *bsize)
{
	const uint8_t *h;
	size_t n;
	int rc = cur_peek(c, BGZF_HDR, &h, &n);
	if (rc < 0)
		return rc;
	if (!is_bgzf(h, n))
		return 0;
	*bsize = ((size_t)h[16] | (size_t)h[17] << 8) + 1;
	rc = cur_peek(c, *bsize, blk, &n);
	if (rc < 0)
		return rc;
	if (n < *bsize)
		return ward_error(WARD_E_TRUNCATED,
		                  "gzip data ends inside the BGZF block at offset %llu",
		                  (unsigned long long)c->off);
	return 1;
}

/* Reads the next BGZF block at the cursor into out. 0 = not BGZF, 1 = done (*len set). */
static int bgzf_step(struct cursor *c, struct libdeflate_decompressor *d, uint8_t *out, size_t *len)
{
	const uint8_t *h;
	size_t bsize;
	int rc = peek_block(c, &h, &bsize);
	if (rc <= 0)
		return rc;
	long k = bgzf_inflate(d, h, bsize, out, c->off);
	if (k < 0)
		return (int)k;
	cur_skip(c, bsize);
	*len = (size_t)k;
	return 1;
}

/* ---- Worker threads: BGZF blocks inflated in parallel, handed out in order ---- */

#define RING        6
#define MAX_WORKERS 8

enum { S_FREE, S_TAKEN, S_DONE, S_END, S_ERR };

struct slot {
	uint8_t *in, *out;
	size_t inlen, outlen;
	uint64_t off; /* compressed offset of the block, for messages */
	int state, err;
	char msg[200];
};

struct gz_src {
	struct vsrc base;
	struct cursor cur;
	struct libdeflate_decompressor *dd;
	uint8_t *out;
	z_stream z;
	int z_init, z_active, err, done;
	char errmsg[256];
	unsigned *layers;
	/* workers: they take turns reading blocks off the cursor, then inflate in parallel */
	unsigned nworkers;
	int stop, eos;
	pthread_t th[MAX_WORKERS];
	struct libdeflate_decompressor *wdd[MAX_WORKERS];
	pthread_mutex_t mu, read_mu;
	pthread_cond_t cv_free, cv_done;
	struct slot ring[RING];
	uint64_t head, tail; /* the consumer takes block `head`; the next block read is `tail` */
	int handed;          /* ring[(head - 1) % RING] is out with the consumer */
};

struct worker_arg {
	struct gz_src *g;
	unsigned idx;
};

/* Copies the next BGZF block at the cursor into s->in. 1 = a block, 0 = not BGZF or the end. */
static int read_block(struct cursor *c, struct slot *s)
{
	const uint8_t *h;
	size_t bsize;
	int rc = peek_block(c, &h, &bsize);
	if (rc <= 0)
		return rc;
	memcpy(s->in, h, bsize);
	s->inlen = bsize;
	s->off = c->off;
	cur_skip(c, bsize);
	return 1;
}

static void slot_fail(struct slot *s, int rc)
{
	s->state = S_ERR;
	s->err = rc;
	snprintf(s->msg, sizeof s->msg, "%s", ward_last_error());
}

static void gz_work(struct gz_src *g, unsigned idx)
{
	for (;;) {
		/* read_mu orders the readers; mu only guards the ring, so taking is never held up.
		 */
		pthread_mutex_lock(&g->read_mu);
		pthread_mutex_lock(&g->mu);
		while (!g->stop && !g->eos && g->ring[g->tail % RING].state != S_FREE)
			pthread_cond_wait(&g->cv_free, &g->mu);
		if (g->stop || g->eos) {
			pthread_mutex_unlock(&g->mu);
			pthread_mutex_unlock(&g->read_mu);
			return;
		}
		struct slot *s = &g->ring[g->tail++ % RING];
		s->state = S_TAKEN;
		pthread_mutex_unlock(&g->mu);
		int rc = read_block(&g->cur, s);
		if (rc <= 0) {
			pthread_mutex_lock(&g->mu);
			if (rc == 0)
				s->state = S_END;
			else
				slot_fail(s, rc);
			g->eos = 1;
			pthread_cond_broadcast(&g->cv_free);
			pthread_cond_signal(&g->cv_done);
			pthread_mutex_unlock(&g->mu);
			pthread_mutex_unlock(&g->read_mu);
			return;
		}
		pthread_mutex_unlock(&g->read_mu);
		long k = bgzf_inflate(g->wdd[idx], s->in, s->inlen, s->out, s->off);
		pthread_mutex_lock(&g->mu);
		if (k < 0) {
			slot_fail(s, (int)k);
			g->eos = 1;
			pthread_cond_broadcast(&g->cv_free);
		} else {
			s->outlen = (size_t)k;
			s->state = S_DONE;
		}
		pthread_cond_signal(&g->cv_done); /* only the consumer waits there */
		pthread_mutex_unlock(&g->mu);
	}
}

static void *gz_worker(void *arg)
{
	struct worker_arg *w = arg;
	gz_work(w->g, w->idx);
	free(w);
	return NULL;
}

static void gz_stop_workers(struct gz_src *g)
{
	if (!g->nworkers)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_broadcast(&g->cv_free);
	pthread_mutex_unlock(&g->mu);
	for (unsigned i = 0; i < g->nworkers; i++)
		pthread_join(g->th[i], NULL);
	g->nworkers = 0;
}

/*
 * Takes the next inflated block. 1 = data, 0 = the workers reached a
 * non-BGZF member or the end (they have stopped: the cursor is ours again).
 */
static int gz_take(struct gz_src *g, const uint8_t **data, size_t *len)
{
	pthread_mutex_lock(&g->mu);
	if (g->handed) {
		/* Slots free up in order: this is the one the next reader waits for. */
		g->ring[(g->head - 1) % RING].state = S_FREE;
		g->handed = 0;
		pthread_cond_signal(&g->cv_free);
	}
	for (;;) {
		struct slot *s = &g->ring[g->head % RING];
		while (s->state == S_FREE || s->state == S_TAKEN)
			pthread_cond_wait(&g->cv_done, &g->mu);
		if (s->state == S_DONE && s->outlen == 0) { /* an empty block: EOF marker */
			s->state = S_FREE;
			g->head++;
			pthread_cond_signal(&g->cv_free);
			continue;
		}
		if (s->state == S_DONE) {
			g->head++;
			g->handed = 1;
			pthread_mutex_unlock(&g->mu);
			*data = s->out;
			*len = s->outlen;
			return 1;
		}
		int st = s->state, err = s->err;
		char msg[200];
		memcpy(msg, s->msg, sizeof msg);
		pthread_mutex_unlock(&g->mu);
		gz_stop_workers(g);
		if (st == S_ERR)
			return ward_error(err, "%s", msg);
		return 0;
	}
}

/* ---- zlib path for non-BGZF members --------------------------------------- */

static int z_step(struct gz_src *g, const uint8_t **data, size_t *len)
{
	for (;;) {
		const uint8_t *in;
		size_t n;
		int rc = cur_any(&g->cur, &in, &n);
		if (rc < 0)
			return rc;
		if (n == 0)
			return ward_error(WARD_E_TRUNCATED, "gzip data ends inside a member");
		g->z.next_in = (Bytef *)in;
		g->z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
		g->z.next_out = g->out;
		g->z.avail_out = ZOUT;
		int zr = inflate(&g->z, Z_NO_FLUSH);
		cur_skip(&g->cur, n - g->z.avail_in);
		size_t produced = ZOUT - g->z.avail_out;
		if (zr == Z_STREAM_END) {
			g->z_active = 0;
			inflateReset(&g->z);
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			int rc = ward_error(
			    WARD_E_FORMAT, "corrupt gzip data near offset %llu (%s)",
			    (unsigned long long)g->cur.off, g->z.msg ? g->z.msg : "inflate failed");
			if (!produced)
				return rc;
			/*
			 * Hand out what inflated before the damage first, as a stream
			 * must (and as it would with smaller input pieces); fail next.
			 */
			g->err = rc;
			snprintf(g->errmsg, sizeof g->errmsg, "%s", ward_last_error());
		}
		if (produced) {
			*data = g->out;
			*len = produced;
			return 1;
		}
		if (!g->z_active)
			return 0;
	}
}

/* Starts the next member: BGZF (1), another gzip member (2), the end (0). */
static int member_start(struct gz_src *g)
{
	const uint8_t *h;
	size_t n;
	int rc = cur_peek(&g->cur, BGZF_HDR, &h, &n);
	if (rc < 0)
		return rc;
	if (n == 0)
		return 0;
	if (is_bgzf(h, n))
		return 1;
	if (n < GZ_MIN_HDR || h[0] != 31 || h[1] != 139)
		return ward_error(WARD_E_FORMAT,
		                  "unexpected data after the gzip stream at offset %llu",
		                  (unsigned long long)g->cur.off);
	if (!g->z_init) {
		if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK)
			return ward_error(WARD_E_NOMEM, "cannot initialise zlib");
		g->z_init = 1;
	}
	*g->layers &= ~(unsigned)WARD_VCF_LAYER_BGZF;
	g->z_active = 1;
	return 2;
}

static int gz_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	struct gz_src *g = (struct gz_src *)s;
	if (g->err) {
		*len = 0;
		return ward_error(g->err, "%s", g->errmsg);
	}
	int rc = 0;
	*len = 0;
	while (!g->done) {
		if (g->nworkers) {
			rc = gz_take(g, data, len);
		} else if (g->z_active) {
			rc = z_step(g, data, len);
		} else {
			rc = member_start(g);
			if (rc == 0)
				g->done = 1;
			if (rc == 1) {
				do {
					rc = bgzf_step(&g->cur, g->dd, g->out, len);
				} while (rc == 1 && *len == 0);
				*data = g->out;
			} else if (rc == 2) {
				rc = 0;
				continue;
			}
		}
		if (rc < 0)
			break;
		if (rc == 1)
			return 0;
	}
	if (rc < 0) {
		g->err = rc;
		snprintf(g->errmsg, sizeof g->errmsg, "%s", ward_last_error());
		*len = 0;
	}
	return rc < 0 ? rc : 0;
}

static void gz_free(struct vsrc *s)
{
	struct gz_src *g = (struct gz_src *)s;
	gz_stop_workers(g);
	for (int i = 0; i < RING; i++) {
		free(g->ring[i].in);
		free(g->ring[i].out);
	}
	for (int i = 0; i < MAX_WORKERS; i++)
		if (g->wdd[i])
			libdeflate_free_decompressor(g->wdd[i]);
	pthread_mutex_destroy(&g->mu);
	pthread_mutex_destroy(&g->read_mu);
	pthread_cond_destroy(&g->cv_free);
	pthread_cond_destroy(&g->cv_done);
	if (g->z_init)
		inflateEnd(&g->z);
	if (g->dd)
		libdeflate_free_decompressor(g->dd);
	vsrc_free(g->cur.src);
	free(g->cur.stage);
	free(g->out);
	free(g);
}

/* Starts n workers on a stream that begins with BGZF; they stop at the first other member. */
static int gz_start_workers(struct gz_src *g, unsigned n)
{
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	for (int i = 0; i < RING; i++) {
		g->ring[i].in = malloc(BGZF_MAX);
		g->ring[i].out = malloc(BGZF_MAX);
		if (!g->ring[i].in || !g->ring[i].out)
			return ward_error(WARD_E_NOMEM, "out of memory");
	}
	for (unsigned i = 0; i < n; i++) {
		struct worker_arg *w = malloc(sizeof *w);
		g->wdd[i] = libdeflate_alloc_decompressor();
		if (!w || !g->wdd[i]) {
			free(w);
			return ward_error(WARD_E_NOMEM, "out of memory");
		}
		w->g = g;
		w->idx = i;
		if (pthread_create(&g->th[g->nworkers], NULL, gz_worker, w) != 0) {
			free(w);
			break; /* fewer workers (none: inflate inline) */
		}
		g->nworkers++;
	}
	return 0;
}

int vsrc_gz_new(struct vsrc *inner, unsigned workers, unsigned *layers, struct vsrc **out)
{
	struct gz_src *g = calloc(1, sizeof *g);
	if (!g) {
		vsrc_free(inner);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	g->base.next = gz_next;
	g->base.free = gz_free;
	g->cur.src = inner;
	g->layers = layers;
	pthread_mutex_init(&g->mu, NULL);
	pthread_mutex_init(&g->read_mu, NULL);
	pthread_cond_init(&g->cv_free, NULL);
	pthread_cond_init(&g->cv_done, NULL);
	g->cur.stage = malloc(BGZF_MAX + BGZF_HDR);
	g->out = malloc(ZOUT > BGZF_MAX ? ZOUT : BGZF_MAX);
	g->dd = libdeflate_alloc_decompressor();
	if (!g->cur.stage || !g->out || !g->dd) {
		gz_free(&g->base);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	*layers |= WARD_VCF_LAYER_GZIP;
	int rc = member_start(g);
	if (rc == 1) {
		*layers |= WARD_VCF_LAYER_BGZF;
		if (workers > 0)
			rc = gz_start_workers(g, workers);
		else
			rc = 0;
	} else if (rc == 2) {
		rc = 0;
	} else if (rc == 0) {
		g->done = 1;
	}
	if (rc < 0) {
		gz_free(&g->base);
		return rc;
	}
	*out = &g->base;
	return 0;
}
