/* crypt4gh encrypt: plaintext in, Crypt4GH out, for one or more recipients. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd/c4gh_common.h"

#define CHUNK (4u << 20)

/* Moves the input to byte `start`: lseek on a file, read-and-drop on a pipe. */
static int skip_input(int fd, uint64_t start, uint8_t *buf)
{
	struct stat st;
	if (start == 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, (off_t)start, SEEK_CUR) >= 0)
		return 0;
	while (start) {
		size_t want = start < CHUNK ? (size_t)start : CHUNK;
		ssize_t r = ward_read_full(fd, buf, want);
		if (r < 0)
			return ward_error_errno("cannot read the input");
		if (r == 0)
			return 0; /* the range starts past the end: empty output */
		start -= (uint64_t)r;
	}
	return 0;
}

/* Encrypts up to `limit` bytes (UINT64_MAX: all) of fd through w. */
static int pump(struct ward_c4gh_writer *w, int fd, uint64_t limit, int quiet)
{
	struct c4gh_progress prog;
	c4gh_progress_init(&prog, quiet);
	if (limit == UINT64_MAX && !prog.on)
		return ward_c4gh_writer_write_fd(w, fd); /* the zero-copy path */
	uint8_t *buf = malloc(CHUNK);
	if (!buf)
		return WARD_E_NOMEM;
	uint64_t done = 0;
	int rc = 0;
	while (rc == 0 && done < limit) {
		size_t want = limit - done < CHUNK ? (size_t)(limit - done) : CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = ward_error_errno("cannot read the input");
		if (r <= 0)
			break;
		rc = ward_c4gh_writer_write(w, buf, (size_t)r);
		done += (uint64_t)r;
		c4gh_progress_update(&prog, done, 0);
	}
	c4gh_progress_update(&prog, done, 1);
	sodium_memzero(buf, CHUNK);
	free(buf);
	return rc;
}

int c4gh_cli_encrypt(const struct c4gh_cli *c)
{
	struct ward_c4gh_seckey *sk = NULL;
	uint8_t(*rcpt)[32] = NULL;
	struct ward_outfile *out = NULL, *hdr = NULL;
	struct ward_c4gh_writer *w = NULL;
	int in = -1, code;
	if ((code = c4gh_cli_load_recipients(c, &rcpt)) || (code = c4gh_cli_load_sk(c, 1, &sk)))
		goto done;
	if ((code = c4gh_cli_open_io(c, &in, &out, 0644)))
		goto done;
	if (c->header_path) {
		int rc = ward_outfile_open(c->header_path, 0644, &hdr);
		if (rc) {
			code = c4gh_cli_fail(c, in, out, rc);
			goto done;
		}
	}
	struct ward_c4gh_write_opts o = {
	    .writer = sk,
	    .recipients = (const uint8_t(*)[32])rcpt,
	    .nrecipients = c->nrcpt,
	    .threads = c->threads,
	    .header_fd = hdr ? ward_outfile_fd(hdr) : 0,
	};
	int rc = ward_c4gh_writer_open(ward_outfile_fd(out), &o, &w);
	if (rc == 0 && c->has_range) {
		uint8_t *tmp = malloc(CHUNK);
		rc = tmp ? skip_input(in, c->range_start, tmp) : WARD_E_NOMEM;
		free(tmp);
	}
	if (rc == 0) {
		uint64_t limit = c->has_range && c->range_end != UINT64_MAX
		                     ? c->range_end - c->range_start
		                     : UINT64_MAX;
		rc = pump(w, in, limit, c->quiet);
	}
	if (rc == 0) {
		rc = ward_c4gh_writer_close(w);
		w = NULL;
	}
	if (rc) {
		ward_c4gh_writer_abort(w);
		ward_outfile_abort(hdr);
		code = c4gh_cli_fail(c, in, out, rc);
		goto done;
	}
	if (hdr && (rc = ward_outfile_commit(hdr, 0)) != 0) {
		code = c4gh_cli_fail(c, in, out, rc);
		goto done;
	}
	code = c4gh_cli_finish(c, in, out);
done:
	free(rcpt);
	ward_c4gh_seckey_free(sk);
	return code;
}
