/* Reading an input file through one long-lived mapping: populate a batch, then drop its pages. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypt4gh/c4gh_internal.h"

static uintptr_t page_mask(void)
{
	static uintptr_t mask;
	if (!mask)
		mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	return mask;
}

/*
 * Maps len bytes from the page-aligned file offset start. Page-cache folios
 * of 2 MiB (what readahead builds for a file read from disk) can be mapped
 * with one page-table entry each instead of 512, which takes most of the
 * cost of reading through a mapping away. That needs the address congruent
 * to the file offset modulo 2 MiB and MADV_HUGEPAGE: the address is chosen
 * inside a larger reservation. Smaller folios map as usual.
 */
static uint8_t *map_aligned(int fd, off_t start, size_t len)
{
	const uintptr_t A = C4GH_FOLIO_MAX;
	uint8_t *m = MAP_FAILED;
	if (len <= SIZE_MAX - 2 * A) {
		uint8_t *r = mmap(NULL, len + 2 * A, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r != MAP_FAILED) {
			uintptr_t want =
			    (((uintptr_t)r + A - 1) & ~(A - 1)) + ((uintptr_t)start & (A - 1));
			m = mmap((void *)want, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, start);
			uint8_t *tail = (uint8_t *)want + len, *rend = r + len + 2 * A;
			if (m == MAP_FAILED) {
				munmap(r, len + 2 * A);
			} else {
				if ((uint8_t *)want > r)
					munmap(r, (size_t)((uint8_t *)want - r));
				if (rend > tail)
					munmap(tail, (size_t)(rend - tail));
			}
		}
	}
	if (m == MAP_FAILED)
		m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, start);
	if (m == MAP_FAILED)
		return NULL;
	madvise(m, len, MADV_SEQUENTIAL);
#ifdef MADV_HUGEPAGE
	madvise(m, len, MADV_HUGEPAGE);
#endif
	return m;
}

const uint8_t *c4gh_map_file(struct c4gh_map *m, int fd, off_t off, off_t end)
{
	off_t start = off & ~(off_t)page_mask();
	size_t len = (size_t)(end - start);
	if (end <= off || (off_t)len != end - start || !(m->base = map_aligned(fd, start, len)))
		return NULL;
	m->len = len;
	m->start = start;
	return m->base + (off - start);
}

const uint8_t *c4gh_map_at(const struct c4gh_map *m, off_t off, size_t n)
{
	if (!m->base || off < m->start || (size_t)(off - m->start) > m->len ||
	    n > m->len - (size_t)(off - m->start))
		return NULL;
	return m->base + (off - m->start);
}

int c4gh_map_holds(const struct c4gh_map *m, const uint8_t *p)
{
	return m->base && p >= m->base && p < m->base + m->len;
}

void c4gh_map_close(struct c4gh_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	m->base = NULL;
}

/* The page-aligned span [*start, *start + *len) holding n bytes at p. */
static void page_span(const uint8_t *p, size_t n, uint8_t **start, size_t *len)
{
	uintptr_t mask = page_mask();
	uintptr_t a = (uintptr_t)p & ~mask, e = ((uintptr_t)p + n + mask) & ~mask;
	*start = (uint8_t *)a;
	*len = e - a;
}

int c4gh_populate(const uint8_t *p, size_t n)
{
#ifdef MADV_POPULATE_READ
	uint8_t *start;
	size_t len;
	page_span(p, n, &start, &len);
	/* EINVAL: a kernel before 5.14; ordinary faults will do. */
	if (madvise(start, len, MADV_POPULATE_READ) != 0 && errno != EINVAL)
		return -1;
#else
	(void)p;
	(void)n;
#endif
	return 0;
}

/*
 * A page shared with a neighbouring batch still in use is simply faulted in
 * again: the mapping is a read-only view of the file.
 */
void c4gh_map_drop(const struct c4gh_map *m, const uint8_t *p, size_t n, size_t around)
{
	const uint8_t *end = m->base + m->len;
	const uint8_t *from = (size_t)(p - m->base) > around ? p - around : m->base;
	size_t want = (size_t)(p - from) + n + around;
	uint8_t *start;
	size_t len;
	page_span(from, want < (size_t)(end - from) ? want : (size_t)(end - from), &start, &len);
	madvise(start, len, MADV_DONTNEED);
}
