/* Opening and closing a Crypt4GH reader: header, edit list, geometry, worker pipeline. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/reader_internal.h"

static int setup_extents(struct ward_c4gh_reader *r)
{
	int rc;
	if (r->hdr.has_edit) {
		rc = c4gh_editlist_extents(r->hdr.edit, r->hdr.nedit, &r->ext, &r->next);
		if (rc)
			return rc;
	} else {
		r->ext = malloc(sizeof *r->ext);
		if (!r->ext)
			return ward_error(WARD_E_NOMEM, "out of memory");
		r->ext[0] = (struct c4gh_extent){0, UINT64_MAX};
		r->next = 1;
	}
	r->cum = malloc((r->next + 1) * sizeof *r->cum);
	if (!r->cum)
		return ward_error(WARD_E_NOMEM, "out of memory");
	uint64_t at = 0;
	for (size_t i = 0; i < r->next; i++) {
		r->cum[i] = at;
		at = r->ext[i].len > UINT64_MAX - at ? UINT64_MAX : at + r->ext[i].len;
	}
	return 0;
}

/* With a regular file, the segment count and the plaintext size follow from its size. */
static void setup_geometry(struct ward_c4gh_reader *r)
{
	struct stat st;
	r->nseg_known = UINT64_MAX;
	r->size = -1;
	r->seekable = r->base >= 0 && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
	if (!r->seekable)
		return;
	uint64_t start = (uint64_t)r->base + r->header_len;
	r->data_end = (uint64_t)st.st_size;
	uint64_t data = (uint64_t)st.st_size > start ? (uint64_t)st.st_size - start : 0;
	uint64_t nseg = (data + C4GH_CSEG - 1) / C4GH_CSEG;
	r->nseg_known = nseg;
	uint64_t plain = data > nseg * (uint64_t)(C4GH_NONCE + C4GH_MAC)
	                     ? data - nseg * (uint64_t)(C4GH_NONCE + C4GH_MAC)
	                     : 0;
	uint64_t total = 0;
	for (size_t i = 0; i < r->next; i++) {
		uint64_t s = r->ext[i].start;
		uint64_t e = r->ext[i].len == UINT64_MAX || s + r->ext[i].len < s
		                 ? UINT64_MAX
		                 : s + r->ext[i].len;
		if (s < plain)
			total += (e < plain ? e : plain) - s;
	}
	r->size = (int64_t)total;
}

static int setup_pipeline(struct ward_c4gh_reader *r, unsigned threads)
{
	unsigned t = c4gh_thread_count(threads);
	/*
	 * With one thread the segments of a regular file are read through one
	 * mapping (mapping.c); each batch drops its pages and the folios around
	 * them when done. With more, the folios kept mapped around the batches
	 * in flight would break the RSS bound: workers pread (reader.c).
	 */
	if (t == 1 && r->seekable)
		c4gh_map_file(&r->map, r->fd, r->base + (off_t)r->header_len, (off_t)r->data_end);
	r->pool = c4gh_pool_new(t);
	if (!r->pool)
		return ward_error(WARD_E_NOMEM, "cannot start worker threads");
	r->depth = 2 * t + 2;
	r->batch_cap = (size_t)C4GH_BATCH_SEGS * C4GH_CSEG;
	r->batches = calloc(r->depth, sizeof *r->batches);
	if (!r->batches)
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (unsigned i = 0; i < r->depth; i++) {
		struct c4gh_batch *b = calloc(1, sizeof *b);
		if (!b)
			return ward_error(WARD_E_NOMEM, "out of memory");
		r->batches[i] = b;
		b->r = r;
		b->buf = malloc(r->batch_cap);
		if (!b->buf)
			return ward_error(WARD_E_NOMEM, "out of memory for segment buffers");
		if (r->hdr.nkeys > 1 && !(b->scratch = malloc(C4GH_CSEG)))
			return ward_error(WARD_E_NOMEM, "out of memory for segment buffers");
	}
	r->ramp = 1;
	r->max_inflight = 1;
	return 0;
}

int ward_c4gh_reader_open(int fd, const struct ward_c4gh_read_opts *opts,
                          struct ward_c4gh_reader **out)
{
	*out = NULL;
	if (!opts || !opts->keys || !opts->nkeys)
		return ward_error(WARD_E_INVAL, "no secret key given");
	struct ward_c4gh_reader *r = calloc(1, sizeof *r);
	if (!r)
		return ward_error(WARD_E_NOMEM, "out of memory");
	r->fd = fd;
	r->base = lseek(fd, 0, SEEK_CUR); /* -1 on a pipe */
	int rc = c4gh_header_read(fd, opts, 0, &r->hdr);
	if (rc == 0) {
		r->header_len = r->hdr.header_len;
		r->in_pos = r->header_len;
		rc = setup_extents(r);
	}
	if (rc == 0) {
		setup_geometry(r);
		rc = setup_pipeline(r, opts->threads);
	}
	if (rc) {
		ward_c4gh_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int64_t ward_c4gh_reader_size(const struct ward_c4gh_reader *r)
{
	return r->size;
}

uint32_t ward_c4gh_reader_packet_count(const struct ward_c4gh_reader *r)
{
	return r->hdr.npackets;
}

uint64_t ward_c4gh_reader_header_len(const struct ward_c4gh_reader *r)
{
	return r->header_len;
}

void ward_c4gh_reader_free(struct ward_c4gh_reader *r)
{
	if (!r)
		return;
	if (r->pool) {
		for (unsigned i = 0; i < r->inflight; i++)
			c4gh_pool_wait(r->pool, &r->batches[(r->head + i) % r->depth]->job);
		c4gh_pool_free(r->pool);
	}
	for (unsigned i = 0; r->batches && i < r->depth; i++) {
		struct c4gh_batch *b = r->batches[i];
		if (!b)
			continue;
		if (b->buf) {
			sodium_memzero(b->buf, r->batch_cap);
			free(b->buf);
		}
		if (b->scratch) {
			sodium_memzero(b->scratch, C4GH_CSEG);
			free(b->scratch);
		}
		free(b);
	}
	free(r->batches);
	c4gh_map_close(&r->map);
	free(r->ext);
	free(r->cum);
	c4gh_header_clear(&r->hdr);
	free(r);
}
