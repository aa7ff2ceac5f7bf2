/* Reading an input file through one long-lived mapping: populate a batch, then drop its pages. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crypt4gh/c4gh_internal.h"

/* The page-aligned span [*start, *start + *len) holding n bytes at p. */
static void page_span(const uint8_t *p, size_t n, uint8_t **start, size_t *len)
{
	static uintptr_t mask;
	if (!mask)
		mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
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
 * again: the mappings are read-only views of the file.
 */
void c4gh_unmap_pages(const uint8_t *p, size_t n)
{
	uint8_t *start;
	size_t len;
	page_span(p, n, &start, &len);
	madvise(start, len, MADV_DONTNEED);
}
