/* libFuzzer harness for the Crypt4GH header parser and the segment reader behind it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt4gh/c4gh_internal.h"

/* Alice's test key from tests/data/crypt4gh: the seeds are encrypted for her. */
static const uint8_t alice_sk[32] = {
	0xc9, 0x87, 0xd6, 0x2b, 0x8c, 0x4d, 0x76, 0x62, 0x38, 0xa0, 0x10, 0xd6, 0xb8, 0x47, 0x36, 0x7e,
	0xee, 0x4c, 0x9c, 0x6a, 0x1b, 0xd3, 0xfd, 0x45, 0x51, 0x11, 0x3e, 0x5b, 0x29, 0x91, 0xfa, 0x4f};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ward_c4gh_seckey *key;
	if (!key && ward_c4gh_seckey_from_raw(alice_sk, &key) != 0)
		abort();
	const struct ward_c4gh_seckey *keys[1] = {key};
	struct ward_c4gh_read_opts o = {.keys = keys, .nkeys = 1, .threads = 1};

	/* The header alone, from a buffer. */
	struct c4gh_header h;
	size_t used = 0;
	if (c4gh_header_parse(data, size, &o, 1, &h, &used) == 0) {
		if (used > size || h.nkeys == 0)
			abort();
		c4gh_header_clear(&h);
	}

	/* The whole stream through a pipe: header, edit list, segments. */
	int p[2];
	if (size > 60000 || pipe(p) != 0)
		return 0;
	if (size && write(p[1], data, size) != (ssize_t)size)
		abort();
	close(p[1]);
	struct ward_c4gh_reader *r;
	if (ward_c4gh_reader_open(p[0], &o, &r) == 0) {
		const uint8_t *d;
		size_t len;
		while (ward_c4gh_reader_next(r, &d, &len) == 0 && len)
			;
		ward_c4gh_reader_free(r);
	}
	close(p[0]);
	return 0;
}
