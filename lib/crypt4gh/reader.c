/* Streaming, random-access Crypt4GH decryption with parallel segment workers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/pool.h"
#include "crypt4gh/reader_internal.h"

static void batch_decrypt(struct c4gh_job *job, struct c4gh_aead *a);

/* ---- segment geometry ---------------------------------------------------- */

/* Last segment an extent touches (UINT64_MAX: unbounded). */
static uint64_t extent_last_seg(const struct c4gh_extent *e)
{
	if (e->len == UINT64_MAX || e->start + e->len < e->start)
		return UINT64_MAX;
	return (e->start + e->len - 1) / C4GH_SEG;
}

/*
 * The next segment the stream needs at or after the schedule cursor, or
 * UINT64_MAX when no extent needs more. Adjacent extents may share a segment.
 */
static uint64_t sched_peek(struct ward_c4gh_reader *r)
{
	while (r->sched_ext < r->next) {
		const struct c4gh_extent *e = &r->ext[r->sched_ext];
		uint64_t first = e->start / C4GH_SEG;
		if (r->sched_seg < first)
			r->sched_seg = first;
		if (r->sched_seg <= extent_last_seg(e) && r->sched_seg < r->nseg_known)
			return r->sched_seg;
		r->sched_ext++;
	}
	return UINT64_MAX;
}

/* ---- batches ------------------------------------------------------------- */

/* A pipe: reads `want` bytes at segment seg into dst, skipping unneeded segments unread. */
static int64_t read_pipe_segments(struct ward_c4gh_reader *r, uint64_t seg, uint8_t *dst,
                                  size_t want)
{
	while (r->in_seg < seg) {
		uint64_t skip = (seg - r->in_seg) * (uint64_t)C4GH_CSEG;
		size_t chunk = skip < r->batch_cap ? (size_t)skip : r->batch_cap;
		ssize_t n = ward_read_full(r->fd, dst, chunk);
		if (n < 0)
			return ward_error_errno("cannot read the input");
		r->in_pos += (uint64_t)n;
		r->in_seg = (r->in_pos - r->header_len) / C4GH_CSEG;
		if ((size_t)n < chunk) {
			r->in_eof = 1;
			return 0;
		}
	}
	if (r->in_seg > seg)
		return ward_error(WARD_E_UNSUPPORTED, "cannot seek backwards in a pipe");
	ssize_t n = ward_read_full(r->fd, dst, want);
	if (n < 0)
		return ward_error_errno("cannot read the input");
	r->in_pos += (uint64_t)n;
	r->in_seg = (r->in_pos - r->header_len) / C4GH_CSEG;
	if ((size_t)n < want)
		r->in_eof = 1;
	return n;
}

/*
 * Fills b with the next run of consecutive needed segments. From a file only
 * the geometry is set: the worker reads the bytes itself, so reading runs in
 * parallel too. From a pipe the bytes are read here, in order. 0 = nothing left.
 */
static int batch_fill(struct ward_c4gh_reader *r, struct c4gh_batch *b)
{
	uint64_t s = sched_peek(r);
	if (s == UINT64_MAX || r->in_eof)
		return 0;
	uint32_t n = 0;
	uint32_t limit = r->ramp < C4GH_BATCH_SEGS ? r->ramp : C4GH_BATCH_SEGS;
	while (n < limit && sched_peek(r) == s + n) {
		r->sched_seg++;
		n++;
	}
	if (r->ramp < C4GH_BATCH_SEGS)
		r->ramp *= 2; /* sequential reading: read further ahead each time */
	size_t want = (size_t)n * C4GH_CSEG;
	b->seg0 = s;
	b->err = 0;
	b->good = 0;
	if (r->seekable) {
		uint64_t off = (uint64_t)r->base + r->header_len + s * (uint64_t)C4GH_CSEG;
		b->src_off = (off_t)off;
		b->bytes = r->data_end - off < want ? (size_t)(r->data_end - off) : want;
	} else {
		int64_t got = read_pipe_segments(r, s, b->buf, want);
		if (got < 0)
			return (int)got;
		b->src_off = -1;
		b->bytes = (size_t)got;
		if ((size_t)got < want)
			r->nseg_known =
			    s + (b->bytes + C4GH_CSEG - 1) / C4GH_CSEG; /* end of data */
	}
	b->nseg = (uint32_t)((b->bytes + C4GH_CSEG - 1) / C4GH_CSEG);
	return b->nseg ? 1 : 0;
}

/*
 * The batch's ciphertext: straight from the file's mapping with one thread
 * (reader_open.c, setup_pipeline), else read into b->buf by the worker, in
 * parallel with the others, and opened in place. A mapping per batch was no
 * faster than the copy with several threads (2 MiB page-cache folios made it
 * slower) and kept 2 MB more mapped.
 */
static const uint8_t *batch_source(struct c4gh_batch *b)
{
	if (b->src_off < 0)
		return b->buf;
	const uint8_t *src = c4gh_map_at(&b->r->map, b->src_off, b->bytes);
	if (src && c4gh_populate(src, b->bytes) == 0)
		return src;
	size_t got = 0;
	while (got < b->bytes) {
		ssize_t n = pread(b->r->fd, b->buf + got, b->bytes - got, b->src_off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	b->bytes = got; /* a file that shrank: the short chunk fails below */
	return b->buf;
}

/* Tries the data keys on one chunk. In place (src == dst-12) several keys need a copy. */
static int open_chunk(struct c4gh_batch *b, struct c4gh_aead *a, const uint8_t *src, size_t clen,
                      uint8_t *dst)
{
	const struct ward_c4gh_reader *r = b->r;
	int in_place = src + C4GH_NONCE == dst;
	if (r->hdr.nkeys == 1)
		return c4gh_aead_open_to(a, r->hdr.keys[0], src, clen, dst);
	for (size_t k = 0; k < r->hdr.nkeys; k++) {
		size_t key = (b->last_key + k) % r->hdr.nkeys;
		const uint8_t *from = src;
		if (in_place) {
			memcpy(b->scratch, src, clen);
			from = b->scratch;
		}
		if (c4gh_aead_open_to(a, r->hdr.keys[key], from, clen, dst) == 0) {
			b->last_key = key;
			return 0;
		}
		if (in_place)
			memcpy(dst - C4GH_NONCE, b->scratch, clen); /* restore the ciphertext */
	}
	return WARD_E_BADMSG;
}

static void batch_decrypt(struct c4gh_job *job, struct c4gh_aead *a)
{
	struct c4gh_batch *b = (struct c4gh_batch *)job;
	const uint8_t *src = batch_source(b);
	uint32_t nseg = (uint32_t)((b->bytes + C4GH_CSEG - 1) / C4GH_CSEG);
	for (uint32_t j = 0; j < b->nseg; j++) {
		uint8_t *dst = b->buf + (size_t)j * C4GH_CSEG + C4GH_NONCE;
		size_t clen = j + 1 < nseg ? C4GH_CSEG
		              : j < nseg   ? b->bytes - (size_t)j * C4GH_CSEG
		                           : 0;
		int rc = clen > C4GH_NONCE + C4GH_MAC
		             ? open_chunk(b, a, src + (size_t)j * C4GH_CSEG, clen, dst)
		             : WARD_E_TRUNCATED;
		if (rc != 0) {
			/* Never let a byte of unauthenticated plaintext out. */
			sodium_memzero(dst - C4GH_NONCE, C4GH_CSEG);
			b->err = rc == WARD_E_BADMSG && clen < C4GH_CSEG ? WARD_E_TRUNCATED : rc;
			b->bad_len = clen;
			break;
		}
		b->seglen[j] = (uint32_t)(clen - C4GH_NONCE - C4GH_MAC);
		b->good = j + 1;
	}
	/*
	 * Never b->buf: that would discard plaintext. Faults map whole folios,
	 * which batches of 65 564-byte segments straddle: widened by a folio
	 * each way, no part of one stays mapped and grows RSS.
	 */
	if (c4gh_map_holds(&b->r->map, src))
		c4gh_map_drop(&b->r->map, src, b->bytes, C4GH_FOLIO_MAX);
}

/* Keeps the pipeline full: as many batches in flight as there are slots. */
static int pipeline_fill(struct ward_c4gh_reader *r)
{
	while (r->inflight < r->max_inflight && !r->sched_done) {
		struct c4gh_batch *b = r->batches[(r->head + r->inflight) % r->depth];
		int rc = batch_fill(r, b);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			r->sched_done = 1;
			break;
		}
		b->job.run = batch_decrypt;
		c4gh_pool_submit(r->pool, &b->job);
		r->inflight++;
	}
	return 0;
}

static void pipeline_drain(struct ward_c4gh_reader *r)
{
	for (unsigned i = 0; i < r->inflight; i++)
		c4gh_pool_wait(r->pool, &r->batches[(r->head + i) % r->depth]->job);
}

/* ---- mapping the edited stream onto segments ----------------------------- */

/* Finds the extent holding stream offset pos; sets r->cur_ext. 0 = past the end. */
static int locate(struct ward_c4gh_reader *r, uint64_t pos)
{
	size_t lo = 0, hi = r->next;
	while (lo < hi) { /* first extent whose end is beyond pos */
		size_t mid = (lo + hi) / 2;
		uint64_t end =
		    r->ext[mid].len == UINT64_MAX ? UINT64_MAX : r->cum[mid] + r->ext[mid].len;
		if (end > pos)
			hi = mid;
		else
			lo = mid + 1;
	}
	r->cur_ext = lo;
	return lo < r->next;
}

static const char *seg_error(int err, uint64_t seg, size_t len)
{
	static _Thread_local char msg[160];
	if (err == WARD_E_TRUNCATED)
		snprintf(msg, sizeof msg,
		         "segment %llu is truncated (%zu bytes; the file was cut short or its last "
		         "segment is corrupt)",
		         (unsigned long long)seg, len);
	else
		snprintf(
		    msg, sizeof msg,
		    "segment %llu failed authentication (the file is corrupt or was tampered with)",
		    (unsigned long long)seg);
	return msg;
}

/*
 * Points *data at the plaintext at r->pos (without consuming it).
 * *len == 0 means end of data.
 */
static int reader_peek(struct ward_c4gh_reader *r, const uint8_t **data, size_t *len)
{
	*len = 0;
	if (r->err)
		return ward_error(r->err, "%s", r->err_msg);
	if (!locate(r, r->pos))
		return 0;
	const struct c4gh_extent *e = &r->ext[r->cur_ext];
	uint64_t u = e->start + (r->pos - r->cum[r->cur_ext]);
	uint64_t seg = u / C4GH_SEG;
	int rc = pipeline_fill(r);
	while (rc == 0 && r->inflight) {
		struct c4gh_batch *b = r->batches[r->head];
		if (b->seg0 + b->nseg > seg)
			break;
		c4gh_pool_wait(r->pool, &b->job); /* consumed: recycle the slot */
		r->head = (r->head + 1) % r->depth;
		r->inflight--;
		if (r->max_inflight < r->depth)
			r->max_inflight++; /* sequential reading: read further ahead */
		rc = pipeline_fill(r);
	}
	if (rc < 0) {
		r->err = rc;
		snprintf(r->err_msg, sizeof r->err_msg, "%s", ward_last_error());
		return rc;
	}
	if (!r->inflight || r->batches[r->head]->seg0 > seg)
		return 0; /* the data ends before seg */
	struct c4gh_batch *b = r->batches[r->head];
	c4gh_pool_wait(r->pool, &b->job);
	uint32_t j = (uint32_t)(seg - b->seg0);
	if (j >= b->good) {
		if (j < b->nseg && b->err) {
			r->err = b->err;
			snprintf(r->err_msg, sizeof r->err_msg, "%s",
			         seg_error(b->err, seg, b->bad_len));
			return ward_error(r->err, "%s", r->err_msg);
		}
		return 0;
	}
	uint64_t in_seg = u % C4GH_SEG;
	if (in_seg >= b->seglen[j])
		return 0; /* the plaintext ends inside this segment */
	uint64_t avail = b->seglen[j] - in_seg;
	if (e->len != UINT64_MAX) {
		uint64_t left = e->len - (r->pos - r->cum[r->cur_ext]);
		avail = avail < left ? avail : left;
	}
	*data = b->buf + (size_t)j * C4GH_CSEG + C4GH_NONCE + in_seg;
	*len = (size_t)avail;
	return 0;
}

int ward_c4gh_reader_next(struct ward_c4gh_reader *r, const uint8_t **data, size_t *len)
{
	int rc = reader_peek(r, data, len);
	if (rc == 0)
		r->pos += *len;
	return rc;
}

ssize_t ward_c4gh_reader_read(struct ward_c4gh_reader *r, void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		const uint8_t *p;
		size_t len;
		int rc = reader_peek(r, &p, &len);
		if (rc < 0)
			return done ? (ssize_t)done : rc;
		if (len == 0)
			break;
		if (len > n - done)
			len = n - done;
		memcpy((uint8_t *)buf + done, p, len);
		r->pos += len;
		done += len;
	}
	return (ssize_t)done;
}

int ward_c4gh_reader_seek(struct ward_c4gh_reader *r, uint64_t off)
{
	if (r->err)
		return ward_error(r->err, "%s", r->err_msg);
	if (off == r->pos)
		return 0;
	pipeline_drain(r);
	/*
	 * Keep the in-flight batches if the target's segment is among them (a
	 * short hop, either way): they hold, in order, every segment the stream
	 * needs from that segment on, so reading simply resumes there.
	 */
	if (locate(r, off)) {
		const struct c4gh_extent *e = &r->ext[r->cur_ext];
		uint64_t seg = (e->start + (off - r->cum[r->cur_ext])) / C4GH_SEG;
		for (unsigned i = 0; i < r->inflight; i++) {
			const struct c4gh_batch *b = r->batches[(r->head + i) % r->depth];
			if (seg >= b->seg0 && seg < b->seg0 + b->nseg) {
				r->pos = off;
				return 0;
			}
		}
	}
	if (!r->seekable && off < r->pos)
		return ward_error(WARD_E_UNSUPPORTED, "cannot seek backwards on a pipe");
	r->inflight = 0;
	r->head = 0;
	r->pos = off;
	r->sched_done = 0;
	r->ramp = 1;
	r->max_inflight = 1;
	if (locate(r, off)) {
		r->sched_ext = r->cur_ext;
		const struct c4gh_extent *e = &r->ext[r->cur_ext];
		r->sched_seg = (e->start + (off - r->cum[r->cur_ext])) / C4GH_SEG;
	} else {
		r->sched_ext = r->next;
	}
	return 0;
}

uint64_t ward_c4gh_reader_tell(const struct ward_c4gh_reader *r)
{
	return r->pos;
}
