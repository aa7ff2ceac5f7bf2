/* Streaming Crypt4GH encryption: 64 KiB segments sealed by parallel workers, written in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/pool.h"

#define WBATCH_SEGS 16u

struct wbatch {
	struct c4gh_job job; /* first */
	struct ward_c4gh_writer *w;
	uint8_t *buf;     /* segments at a stride of C4GH_CSEG: nonce | text | MAC */
	uint32_t nseg;    /* segments to seal (the last may be short) */
	uint32_t lastlen; /* plaintext bytes of the last segment */
	off_t src_off;    /* plaintext offset in the input file, or -1: in buf */
	int src_fd;
	const uint8_t *src; /* the plaintext in the writer's input mapping, or NULL */
	int err;
};

struct ward_c4gh_writer {
	int fd;
	uint8_t *key; /* data key, sodium_malloc */
	struct c4gh_pool *pool;
	struct wbatch **ring;
	unsigned depth, head, inflight;
	uint32_t fill_seg;    /* in the batch being filled: full segments so far */
	size_t fill_off;      /* bytes in the segment being filled */
	struct c4gh_map imap; /* a regular input file, mapped once for the run */
	int err;
};

/* Reads the batch's plaintext into its slots when the mapping cannot be used. */
static int pread_input(struct wbatch *b)
{
	for (uint32_t j = 0; j < b->nseg; j++) {
		size_t len = j + 1 < b->nseg ? C4GH_SEG : b->lastlen, got = 0;
		uint8_t *dst = b->buf + (size_t)j * C4GH_CSEG + C4GH_NONCE;
		off_t off = b->src_off + (off_t)j * C4GH_SEG;
		while (got < len) {
			ssize_t n = pread(b->src_fd, dst + got, len - got, off + (off_t)got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return ward_error(WARD_E_IO,
				                  "the input file changed while being read");
			got += (size_t)n;
		}
	}
	return 0;
}

static void wbatch_seal(struct c4gh_job *job, struct c4gh_aead *a)
{
	struct wbatch *b = (struct wbatch *)job;
	size_t total = (size_t)(b->nseg - 1) * C4GH_SEG + b->lastlen;
	const uint8_t *src = b->src;
	/* One call faults the batch in; a file truncated under us fails here, not with SIGBUS. */
	if (src && c4gh_populate(src, total) != 0)
		src = NULL;
	if (b->src_off >= 0 && !src)
		b->err = pread_input(b);
	/*
	 * A fresh random 96-bit nonce per segment, so nonces never repeat under
	 * the key; drawn for the whole job at once (one getrandom call, not 16).
	 */
	uint8_t nonces[WBATCH_SEGS * C4GH_NONCE];
	randombytes_buf(nonces, (size_t)b->nseg * C4GH_NONCE);
	for (uint32_t j = 0; j < b->nseg && !b->err; j++) {
		uint8_t *seg = b->buf + (size_t)j * C4GH_CSEG;
		size_t len = j + 1 < b->nseg ? C4GH_SEG : b->lastlen;
		memcpy(seg, nonces + (size_t)j * C4GH_NONCE, C4GH_NONCE);
		b->err = src ? c4gh_aead_seal_to(a, b->w->key, src + (size_t)j * C4GH_SEG, len, seg)
		             : c4gh_aead_seal(a, b->w->key, seg, len);
	}
	/* Sealed: drop the pages, or by the end all the input would count in our RSS. */
	if (b->src)
		c4gh_map_drop(&b->w->imap, b->src, total, 0);
}

static struct wbatch *filling(struct ward_c4gh_writer *w)
{
	return w->ring[(w->head + w->inflight) % w->depth];
}

/* Waits for the oldest batch and writes it out. */
static int flush_head(struct ward_c4gh_writer *w)
{
	struct wbatch *b = w->ring[w->head];
	c4gh_pool_wait(w->pool, &b->job);
	w->head = (w->head + 1) % w->depth;
	w->inflight--;
	if (b->err)
		return b->err;
	size_t bytes = (size_t)(b->nseg - 1) * C4GH_CSEG + C4GH_NONCE + b->lastlen + C4GH_MAC;
	if (ward_write_full(w->fd, b->buf, bytes) != 0)
		return ward_error_errno("cannot write the output");
	return 0;
}

/* Hands the batch being filled to the workers; makes room for the next one. */
static int submit_filling(struct ward_c4gh_writer *w)
{
	struct wbatch *b = filling(w);
	b->nseg = w->fill_seg + (w->fill_off ? 1 : 0);
	if (b->nseg == 0)
		return 0;
	b->lastlen = w->fill_off ? (uint32_t)w->fill_off : C4GH_SEG;
	b->src_off = -1;
	b->src = NULL;
	b->err = 0;
	b->job.run = wbatch_seal;
	c4gh_pool_submit(w->pool, &b->job);
	w->inflight++;
	w->fill_seg = 0;
	w->fill_off = 0;
	if (w->inflight == w->depth)
		return flush_head(w);
	return 0;
}

static int fail(struct ward_c4gh_writer *w, int rc)
{
	w->err = rc;
	return rc;
}

int ward_c4gh_writer_write(struct ward_c4gh_writer *w, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	if (w->err)
		return w->err;
	while (n) {
		/* Submit a full batch only when more data comes: no empty last segment. */
		if (w->fill_seg == WBATCH_SEGS) {
			int rc = submit_filling(w);
			if (rc)
				return fail(w, rc);
		}
		struct wbatch *b = filling(w);
		size_t room = C4GH_SEG - w->fill_off;
		size_t take = n < room ? n : room;
		memcpy(b->buf + (size_t)w->fill_seg * C4GH_CSEG + C4GH_NONCE + w->fill_off, p,
		       take);
		p += take;
		n -= take;
		w->fill_off += take;
		if (w->fill_off == C4GH_SEG) {
			w->fill_seg++;
			w->fill_off = 0;
		}
	}
	return 0;
}

/* readv straight into the segment slots of the batch being filled. 0 at EOF. */
static ssize_t read_into_batch(struct ward_c4gh_writer *w, int in_fd)
{
	struct wbatch *b = filling(w);
	struct iovec iov[WBATCH_SEGS];
	int n = 0;
	for (uint32_t s = w->fill_seg; s < WBATCH_SEGS; s++) {
		size_t off = s == w->fill_seg ? w->fill_off : 0;
		iov[n].iov_base = b->buf + (size_t)s * C4GH_CSEG + C4GH_NONCE + off;
		iov[n].iov_len = C4GH_SEG - off;
		n++;
	}
	ssize_t r;
	do
		r = readv(in_fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return ward_error_errno("cannot read the input");
	size_t left = (size_t)r;
	while (left) {
		size_t room = C4GH_SEG - w->fill_off;
		size_t take = left < room ? left : room;
		w->fill_off += take;
		left -= take;
		if (w->fill_off == C4GH_SEG) {
			w->fill_seg++;
			w->fill_off = 0;
		}
	}
	return r;
}

/*
 * From a regular file, the whole segments present now are handed to the
 * workers as pointers into one mapping of the file, so reading runs in
 * parallel and costs no copy (a mapping per batch cost a quarter of the
 * time in mmap, munmap and page faults). Without the mapping, batches
 * pread. The tail (and anything appended meanwhile) goes through the readv
 * path below.
 */
static int submit_file_segments(struct ward_c4gh_writer *w, int in_fd)
{
	struct stat st;
	off_t off = lseek(in_fd, 0, SEEK_CUR);
	if (w->fill_seg || w->fill_off || off < 0 || fstat(in_fd, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size <= off)
		return 0;
	uint64_t nfull = (uint64_t)(st.st_size - off) / C4GH_SEG;
	if (nfull && (uint64_t)(st.st_size - off) % C4GH_SEG == 0)
		nfull--; /* the last whole segment goes through readv: it may be the final one */
	if (nfull && !w->imap.base)
		c4gh_map_file(&w->imap, in_fd, off, st.st_size);
	while (nfull) {
		struct wbatch *b = filling(w);
		b->nseg = nfull < WBATCH_SEGS ? (uint32_t)nfull : WBATCH_SEGS;
		b->lastlen = C4GH_SEG;
		b->src_off = off;
		b->src_fd = in_fd;
		b->src = c4gh_map_at(&w->imap, off, (size_t)b->nseg * C4GH_SEG);
		b->err = 0;
		b->job.run = wbatch_seal;
		c4gh_pool_submit(w->pool, &b->job);
		w->inflight++;
		off += (off_t)b->nseg * C4GH_SEG;
		nfull -= b->nseg;
		if (w->inflight == w->depth) {
			int rc = flush_head(w);
			if (rc)
				return rc;
		}
	}
	if (lseek(in_fd, off, SEEK_SET) < 0)
		return ward_error_errno("cannot seek in the input");
	return 0;
}

int ward_c4gh_writer_write_fd(struct ward_c4gh_writer *w, int in_fd)
{
	if (w->err)
		return w->err;
	int rc = submit_file_segments(w, in_fd);
	if (rc)
		return fail(w, rc);
	for (;;) {
		if (w->fill_seg == WBATCH_SEGS) {
			/* Only a full batch is submitted here, so a final empty segment is
			 * impossible. */
			int rc = submit_filling(w);
			if (rc)
				return fail(w, rc);
		}
		ssize_t r = read_into_batch(w, in_fd);
		if (r < 0)
			return fail(w, (int)r);
		if (r == 0)
			return 0;
	}
}

static int write_header(struct ward_c4gh_writer *w, const struct ward_c4gh_write_opts *o)
{
	uint8_t(*rcpt)[32] = malloc(o->nrecipients * 32);
	uint8_t *dek = sodium_malloc(40);
	uint8_t *edit = NULL;
	struct ward_c4gh_seckey *eph = NULL;
	const struct ward_c4gh_seckey *writer = o->writer;
	int rc = rcpt && dek ? 0 : ward_error(WARD_E_NOMEM, "out of memory");
	if (rc == 0 && !writer) {
		rc = ward_c4gh_seckey_generate(&eph);
		writer = eph;
	}
	uint32_t edit_len = (uint32_t)(8 + 8 * o->edit_len);
	if (rc == 0 && o->edit_list && !(edit = malloc(edit_len)))
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	if (rc == 0) {
		memcpy(rcpt, o->recipients, o->nrecipients * 32);
		size_t nr = c4gh_dedup_keys(rcpt, o->nrecipients);
		ward_store32_le(dek, C4GH_TYPE_DATA_ENC);
		ward_store32_le(dek + 4, C4GH_DATA_CHACHA20);
		memcpy(dek + 8, w->key, 32);
		const uint8_t *payloads[2] = {dek, edit};
		uint32_t lens[2] = {40, edit_len};
		if (edit) {
			ward_store32_le(edit, C4GH_TYPE_EDIT_LIST);
			ward_store32_le(edit + 4, (uint32_t)o->edit_len);
			for (size_t i = 0; i < o->edit_len; i++)
				ward_store64_le(edit + 8 + 8 * i, o->edit_list[i]);
		}
		int hfd = o->header_fd > 0 ? o->header_fd : w->fd;
		rc = c4gh_header_write(hfd, writer, (const uint8_t(*)[32])rcpt, nr, payloads, lens,
		                       edit ? 2 : 1, NULL);
	}
	free(rcpt);
	free(edit);
	if (dek)
		sodium_free(dek);
	ward_c4gh_seckey_free(eph);
	return rc;
}

static int writer_alloc(struct ward_c4gh_writer *w, unsigned threads)
{
	unsigned t = c4gh_thread_count(threads);
	/* Sealing t batches, one being written or filled, one spare: more only adds RSS. */
	w->depth = t + 2;
	w->key = sodium_malloc(32);
	w->pool = c4gh_pool_new(t);
	w->ring = calloc(w->depth, sizeof *w->ring);
	if (!w->key || !w->pool || !w->ring)
		return ward_error(WARD_E_NOMEM, "out of memory");
	randombytes_buf(w->key, 32);
	for (unsigned i = 0; i < w->depth; i++) {
		struct wbatch *b = calloc(1, sizeof *b);
		if (!b)
			return ward_error(WARD_E_NOMEM, "out of memory");
		w->ring[i] = b;
		b->w = w;
		if (!(b->buf = malloc((size_t)WBATCH_SEGS * C4GH_CSEG)))
			return ward_error(WARD_E_NOMEM, "out of memory for segment buffers");
	}
	return 0;
}

int ward_c4gh_writer_open(int fd, const struct ward_c4gh_write_opts *opts,
                          struct ward_c4gh_writer **out)
{
	*out = NULL;
	if (!opts || !opts->recipients || !opts->nrecipients)
		return ward_error(WARD_E_INVAL, "no recipient public key given");
	if (opts->edit_len > (C4GH_PACKET_MAX - C4GH_PACKET_OVERHEAD - 8) / 8)
		return ward_error(WARD_E_INVAL, "edit list too long");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	struct ward_c4gh_writer *w = calloc(1, sizeof *w);
	if (!w)
		return ward_error(WARD_E_NOMEM, "out of memory");
	w->fd = fd;
	int rc = writer_alloc(w, opts->threads);
	if (rc == 0)
		rc = write_header(w, opts);
	if (rc) {
		ward_c4gh_writer_abort(w);
		return rc;
	}
	*out = w;
	return 0;
}

int ward_c4gh_writer_close(struct ward_c4gh_writer *w)
{
	int rc = w->err;
	if (rc == 0)
		rc = submit_filling(w);
	while (rc == 0 && w->inflight)
		rc = flush_head(w);
	ward_c4gh_writer_abort(w);
	return rc;
}

void ward_c4gh_writer_abort(struct ward_c4gh_writer *w)
{
	if (!w)
		return;
	if (w->pool) {
		while (w->inflight) {
			c4gh_pool_wait(w->pool, &w->ring[w->head]->job);
			w->head = (w->head + 1) % w->depth;
			w->inflight--;
		}
		c4gh_pool_free(w->pool);
	}
	for (unsigned i = 0; w->ring && i < w->depth; i++) {
		if (!w->ring[i])
			continue;
		if (w->ring[i]->buf) {
			sodium_memzero(w->ring[i]->buf, (size_t)WBATCH_SEGS * C4GH_CSEG);
			free(w->ring[i]->buf);
		}
		free(w->ring[i]);
	}
	free(w->ring);
	c4gh_map_close(&w->imap);
	if (w->key)
		sodium_free(w->key);
	free(w);
}
