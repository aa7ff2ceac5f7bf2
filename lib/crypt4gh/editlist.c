/* Edit lists (spec §4.2): alternating skip/keep lengths turned into kept extents. */
#include <stdlib.h>

#include "crypt4gh/c4gh_internal.h"

/*
 * [s0, k0, s1, k1, ...] keeps [s0, s0+k0), then [s0+k0+s1, ...+k1), ...
 * A list that ends with a skip keeps everything after it (len UINT64_MAX).
 * Zero-length keeps are dropped; positions that would overflow are errors.
 */
int c4gh_editlist_extents(const uint64_t *edit, size_t n, struct c4gh_extent **out, size_t *nout)
{
	struct c4gh_extent *ext = malloc((n / 2 + 1) * sizeof *ext);
	if (!ext)
		return ward_error(WARD_E_NOMEM, "out of memory for the edit list");
	uint64_t pos = 0;
	size_t m = 0;
	for (size_t i = 0; i < n; i += 2) {
		if (edit[i] > UINT64_MAX - pos)
			goto overflow;
		pos += edit[i];
		if (i + 1 == n) {
			ext[m++] = (struct c4gh_extent){pos, UINT64_MAX};
			break;
		}
		uint64_t keep = edit[i + 1];
		if (keep > UINT64_MAX - pos)
			goto overflow;
		if (keep)
			ext[m++] = (struct c4gh_extent){pos, keep};
		pos += keep;
	}
	*out = ext;
	*nout = m;
	return 0;
overflow:
	free(ext);
	return ward_error(WARD_E_FORMAT, "corrupt header: edit list lengths overflow 64 bits");
}
