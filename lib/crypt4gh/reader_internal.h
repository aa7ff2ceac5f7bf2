/* The state of a Crypt4GH reader (see reader.c and reader_open.c). */
#ifndef WARD_C4GH_READER_INTERNAL_H
#define WARD_C4GH_READER_INTERNAL_H

#include "crypt4gh/c4gh_internal.h"
#include "crypt4gh/pool.h"
#include <sys/types.h>

/* 16 segments = 1 MiB of plaintext per job: big enough to amortise, small for RSS. */
#define C4GH_BATCH_SEGS 16u

struct c4gh_batch {
	struct c4gh_job job; /* first: the pool hands it back to batch_decrypt */
	struct ward_c4gh_reader *r;
	uint64_t seg0;    /* first segment index */
	uint32_t nseg;    /* segments held (the last may be short) */
	uint32_t good;    /* segments authenticated, from the first */
	size_t bytes;     /* ciphertext bytes */
	off_t src_off;    /* file offset of the ciphertext, or -1: already in buf */
	uint8_t *buf;     /* nseg chunks at a stride of C4GH_CSEG, decrypted in place */
	uint8_t *scratch; /* one chunk, to try several data keys */
	size_t last_key;
	int err; /* first failure in this batch */
	size_t bad_len;
	uint32_t seglen[C4GH_BATCH_SEGS];
};

struct ward_c4gh_reader {
	int fd;
	int seekable;
	off_t base; /* file offset of the header (-1 on a pipe) */
	struct c4gh_header hdr;
	uint64_t header_len;
	/* The plaintext stream as extents of the unedited plaintext. */
	struct c4gh_extent *ext;
	uint64_t *cum; /* stream offset where each extent starts */
	size_t next;
	size_t cur_ext;
	uint64_t pos; /* stream offset */
	/* Scheduling: the next segment to read. */
	size_t sched_ext;
	uint64_t sched_seg;
	int sched_done;
	uint64_t nseg_known; /* segments in the file (UINT64_MAX until known) */
	uint64_t data_end;   /* file size when opened (regular files) */
	struct c4gh_map map; /* with one thread: the segments, mapped once (reader_open.c) */
	uint32_t ramp;       /* segments in the next batch: grows while reading on */
	/* Pipe input position. */
	uint64_t in_pos, in_seg;
	int in_eof;
	/* Pipeline: a ring of batches, `inflight` of them from `head` on. */
	struct c4gh_pool *pool;
	struct c4gh_batch **batches;
	unsigned depth, head, inflight, max_inflight;
	size_t batch_cap;
	int err;
	char err_msg[256];
	int64_t size; /* plaintext size of the stream, -1 if unknown */
};

#endif
