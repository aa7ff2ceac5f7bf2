/* crypt4gh decrypt: Crypt4GH in, authenticated plaintext out, optionally a byte range. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/c4gh_common.h"

/* Streams the plaintext [pos, end) of r to fd. */
static int stream_out(struct ward_c4gh_reader *r, int fd, uint64_t end, int quiet)
{
	struct c4gh_progress prog;
	c4gh_progress_init(&prog, quiet);
	uint64_t done = 0, left = end - ward_c4gh_reader_tell(r);
	int rc = 0;
	while (left) {
		const uint8_t *p;
		size_t len;
		rc = ward_c4gh_reader_next(r, &p, &len);
		if (rc || len == 0)
			break;
		if (len > left)
			len = (size_t)left;
		if (ward_write_full(fd, p, len) != 0) {
			rc = ward_error_errno("cannot write the output");
			break;
		}
		left -= len;
		done += len;
		c4gh_progress_update(&prog, done, 0);
	}
	c4gh_progress_update(&prog, done, 1);
	return rc;
}

int c4gh_cli_decrypt(const struct c4gh_cli *c)
{
	struct ward_c4gh_seckey *sk = NULL;
	struct ward_c4gh_reader *r = NULL;
	struct ward_outfile *out = NULL;
	uint8_t sender[32];
	int in = -1, code, rc;
	if (c->sender_path && (rc = ward_c4gh_pubkey_load(c->sender_path, sender)) != 0)
		return ward_report("crypt4gh", c->sender_path, rc);
	if ((code = c4gh_cli_load_sk(c, 0, &sk)))
		return code;
	if ((code = c4gh_cli_open_io(c, &in, &out, 0600))) {
		ward_c4gh_seckey_free(sk);
		return code;
	}
	const struct ward_c4gh_seckey *keys[1] = {sk};
	struct ward_c4gh_read_opts o = {
	    .keys = keys,
	    .nkeys = 1,
	    .sender_pk = c->sender_path ? sender : NULL,
	    .threads = c->threads,
	};
	rc = ward_c4gh_reader_open(in, &o, &r);
	if (rc == 0 && c->has_range)
		rc = ward_c4gh_reader_seek(r, c->range_start);
	if (rc == 0)
		rc = stream_out(r, ward_outfile_fd(out), c->has_range ? c->range_end : UINT64_MAX,
		                c->quiet);
	ward_c4gh_reader_free(r);
	ward_c4gh_seckey_free(sk);
	if (rc)
		return c4gh_cli_fail(c, in, out, rc);
	return c4gh_cli_finish(c, in, out);
}
