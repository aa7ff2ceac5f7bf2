/* rearrange: keep only a plaintext range, as an edit list over the segments it needs. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/c4gh_internal.h"

/* Copies n bytes (UINT64_MAX: to EOF); WARD_E_TRUNCATED if the input ends first. */
int c4gh_copy_bytes(int in, int out, uint64_t n, uint8_t *buf)
{
	while (n) {
		size_t want = n < C4GH_COPY_BUF ? (size_t)n : C4GH_COPY_BUF;
		ssize_t r = ward_read_full(in, buf, want);
		if (r < 0)
			return ward_error_errno("cannot read the input");
		if (r > 0 && ward_write_full(out, buf, (size_t)r) != 0)
			return ward_error_errno("cannot write the output");
		if ((size_t)r < want)
			return n == UINT64_MAX ? 0 : WARD_E_TRUNCATED;
		if (n != UINT64_MAX)
			n -= (uint64_t)r;
	}
	return 0;
}

/* The new header: every data key and the new edit list, for the key's own public key. */
static int write_rearranged_header(int out, const struct c4gh_header *h,
                                   const struct ward_c4gh_seckey *me, const uint64_t *edit,
                                   size_t nedit)
{
	size_t np = h->nkeys + 1;
	const uint8_t **payloads = calloc(np, sizeof *payloads);
	uint32_t *lens = calloc(np, sizeof *lens);
	uint8_t *keys = sodium_malloc(h->nkeys * 40);
	uint8_t *el = malloc(8 + 8 * nedit);
	int rc = payloads && lens && keys && el ? 0 : ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < h->nkeys; i++) {
		uint8_t *k = keys + 40 * i;
		ward_store32_le(k, C4GH_TYPE_DATA_ENC);
		ward_store32_le(k + 4, C4GH_DATA_CHACHA20);
		memcpy(k + 8, h->keys[i], 32);
		payloads[i] = k;
		lens[i] = 40;
	}
	if (rc == 0) {
		ward_store32_le(el, C4GH_TYPE_EDIT_LIST);
		ward_store32_le(el + 4, (uint32_t)nedit);
		for (size_t i = 0; i < nedit; i++)
			ward_store64_le(el + 8 + 8 * i, edit[i]);
		payloads[h->nkeys] = el;
		lens[h->nkeys] = (uint32_t)(8 + 8 * nedit);
		rc = c4gh_header_write(out, me, (const uint8_t(*)[32])me->pk, 1,
		                       (const uint8_t *const *)payloads, lens, np, NULL);
	}
	free(payloads);
	free(lens);
	if (keys)
		sodium_free(keys);
	free(el);
	return rc;
}

/* The kept parts of the unedited plaintext, and the segments they need. */
struct plan {
	struct c4gh_extent *ext;
	size_t n;
};

/* Maps the stream range [start, end) through the current extents onto the unedited plaintext. */
static int plan_range(const struct c4gh_header *h, uint64_t start, uint64_t end, struct plan *p)
{
	struct c4gh_extent whole = {0, UINT64_MAX}, *cur = &whole;
	size_t ncur = 1;
	if (h->has_edit) {
		int rc = c4gh_editlist_extents(h->edit, h->nedit, &cur, &ncur);
		if (rc)
			return rc;
	}
	p->ext = malloc((ncur ? ncur : 1) * sizeof *p->ext);
	p->n = 0;
	if (!p->ext) {
		if (cur != &whole)
			free(cur);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	uint64_t at = 0; /* stream offset of extent i */
	for (size_t i = 0; i < ncur && at < end; i++) {
		uint64_t len = cur[i].len;
		uint64_t lo = start > at ? start - at : 0;
		uint64_t hi = len == UINT64_MAX || end - at < len ? end - at : len;
		if (lo < hi && lo < len)
			p->ext[p->n++] = (struct c4gh_extent){
			    cur[i].start + lo, hi == UINT64_MAX ? UINT64_MAX : hi - lo};
		at = len > UINT64_MAX - at ? UINT64_MAX : at + len;
	}
	if (cur != &whole)
		free(cur);
	return 0;
}

/* Runs of consecutive segments that the kept extents need, in order. */
struct run {
	uint64_t first, last; /* last = UINT64_MAX: to the end of the file */
};

static uint64_t last_seg_of(const struct c4gh_extent *e)
{
	return e->len == UINT64_MAX ? UINT64_MAX : (e->start + e->len - 1) / C4GH_SEG;
}

/*
 * Builds the segment runs and the new edit list: segment s moves to slot
 * rank(s), so byte u of the old plaintext lands at rank(u/64Ki)*64Ki + u%64Ki,
 * and each kept extent stays contiguous (all segments between are kept).
 */
static int plan_layout(const struct plan *p, struct run **runs_out, size_t *nruns,
                       uint64_t **edit_out, size_t *nedit)
{
	struct run *runs = malloc((p->n ? p->n : 1) * sizeof *runs);
	uint64_t *e = malloc((2 * p->n + 1) * sizeof *e);
	if (!runs || !e) {
		free(runs);
		free(e);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	size_t nr = 0, ne = 0;
	uint64_t before = 0, new_end = 0; /* segments in earlier runs; end of the last keep */
	for (size_t i = 0; i < p->n; i++) {
		uint64_t a = p->ext[i].start / C4GH_SEG, b = last_seg_of(&p->ext[i]);
		if (nr && a <= runs[nr - 1].last + 1) {
			if (b > runs[nr - 1].last)
				runs[nr - 1].last = b;
		} else {
			if (nr)
				before += runs[nr - 1].last - runs[nr - 1].first + 1;
			runs[nr++] = (struct run){a, b};
		}
		uint64_t at =
		    (before + a - runs[nr - 1].first) * C4GH_SEG + p->ext[i].start % C4GH_SEG;
		e[ne++] = at - new_end;
		if (p->ext[i].len == UINT64_MAX)
			break; /* ends with a skip: keep the rest */
		e[ne++] = p->ext[i].len;
		new_end = at + p->ext[i].len;
	}
	*runs_out = runs;
	*nruns = nr;
	*edit_out = e;
	*nedit = ne;
	return 0;
}

/* Copies the needed segments, unchanged; skipped segments are never decrypted. */
static int copy_runs(int in, int out, uint64_t data_start, int seekable, const struct run *runs,
                     size_t n)
{
	uint8_t *buf = malloc(C4GH_COPY_BUF);
	if (!buf)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = 0;
	uint64_t in_seg = 0; /* pipe position, in segments */
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t first = runs[i].first;
		if (seekable) {
			if (lseek(in, (off_t)(data_start + first * C4GH_CSEG), SEEK_SET) < 0)
				rc = ward_error_errno("cannot seek in the input");
		} else if (first > in_seg) {
			int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			rc = fd < 0 ? ward_error_errno("/dev/null")
			            : c4gh_copy_bytes(in, fd, (first - in_seg) * C4GH_CSEG, buf);
			if (fd >= 0)
				close(fd);
			if (rc == WARD_E_TRUNCATED) {
				rc = 0;
				break; /* the data ends before the range */
			}
		}
		uint64_t count = runs[i].last == UINT64_MAX
		                     ? UINT64_MAX
		                     : (runs[i].last - first + 1) * C4GH_CSEG;
		if (rc == 0) {
			rc = c4gh_copy_bytes(in, out, count, buf);
			if (rc == WARD_E_TRUNCATED)
				rc = 0; /* the last segment is short, or the range runs past the end
				         */
		}
		in_seg = runs[i].last == UINT64_MAX ? UINT64_MAX : runs[i].last + 1;
	}
	free(buf);
	return rc;
}

int ward_c4gh_rearrange(int in_fd, int out_fd, const struct ward_c4gh_read_opts *opts,
                        uint64_t start, uint64_t end)
{
	if (start >= end)
		return ward_error(WARD_E_INVAL, "empty range");
	off_t base = lseek(in_fd, 0, SEEK_CUR);
	struct stat st;
	int seekable = base >= 0 && fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode);
	struct c4gh_header h;
	struct plan p = {0};
	struct run *runs = NULL;
	uint64_t *edit = NULL;
	size_t nruns = 0, nedit = 0;
	int rc = c4gh_header_read(in_fd, opts, 0, &h);
	if (rc)
		return rc;
	rc = plan_range(&h, start, end, &p);
	if (rc == 0)
		rc = plan_layout(&p, &runs, &nruns, &edit, &nedit);
	if (rc == 0)
		rc = write_rearranged_header(out_fd, &h, opts->keys[0], edit, nedit);
	if (rc == 0)
		rc = copy_runs(in_fd, out_fd, (uint64_t)base + h.header_len, seekable, runs, nruns);
	free(p.ext);
	free(runs);
	free(edit);
	c4gh_header_clear(&h);
	return rc;
}
