/* Helpers for the Crypt4GH tests: encrypt/decrypt buffers through temporary files and pipes. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c4gh_testutil.h"
#include "test.h"

const char *tu_write_tmp(const char *name, const void *buf, size_t n)
{
	static char paths[8][4096];
	static int slot;
	char *path = paths[slot++ % 8];
	snprintf(path, sizeof paths[0], "%s/%s", test_tmpdir(), name);
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(buf, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

static int slurp_fd(int fd, struct tbuf *out)
{
	size_t cap = 1 << 16;
	out->p = malloc(cap);
	out->n = 0;
	for (;;) {
		if (out->n == cap)
			out->p = realloc(out->p, cap *= 2);
		ssize_t r = read(fd, out->p + out->n, cap - out->n);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		out->n += (size_t)r;
	}
}

int tu_encrypt(const void *plain, size_t n, const struct ward_c4gh_seckey *writer,
               const uint8_t (*rcpt)[32], size_t nrcpt, const uint64_t *edit, size_t nedit,
               unsigned threads, size_t chunk, struct tbuf *out)
{
	const char *in_path = tu_write_tmp("enc.in", plain, n);
	char out_path[4200];
	snprintf(out_path, sizeof out_path, "%s.c4gh", in_path);
	int in = open(in_path, O_RDONLY);
	int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct ward_c4gh_write_opts o = {.writer = writer,
	                                 .recipients = rcpt,
	                                 .nrecipients = nrcpt,
	                                 .edit_list = edit,
	                                 .edit_len = nedit,
	                                 .threads = threads};
	struct ward_c4gh_writer *w;
	int rc = ward_c4gh_writer_open(fd, &o, &w);
	if (rc == 0 && chunk == 0)
		rc = ward_c4gh_writer_write_fd(w, in);
	for (size_t at = 0; rc == 0 && chunk && at < n; at += chunk)
		rc = ward_c4gh_writer_write(w, (const uint8_t *)plain + at,
		                            n - at < chunk ? n - at : chunk);
	if (rc == 0)
		rc = ward_c4gh_writer_close(w);
	else
		ward_c4gh_writer_abort(w);
	lseek(fd, 0, SEEK_SET);
	out->p = NULL;
	out->n = 0;
	if (rc == 0)
		slurp_fd(fd, out);
	close(in);
	close(fd);
	return rc;
}

struct feeder {
	int fd;
	const struct tbuf *c;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	size_t at = 0;
	while (at < f->c->n) {
		ssize_t w = write(f->fd, f->c->p + at, f->c->n - at);
		if (w <= 0)
			break; /* the reader stopped early: fine */
		at += (size_t)w;
	}
	close(f->fd);
	return NULL;
}

int tu_decrypt(const struct tbuf *c, const struct ward_c4gh_seckey *key, const uint8_t *sender,
               int use_pipe, unsigned threads, uint64_t start, uint64_t end, struct tbuf *out)
{
	int fd, pfd[2] = {-1, -1};
	pthread_t th;
	struct feeder f;
	signal(SIGPIPE, SIG_IGN);
	if (use_pipe) {
		if (pipe(pfd) != 0)
			abort();
		f = (struct feeder){pfd[1], c};
		pthread_create(&th, NULL, feed, &f);
		fd = pfd[0];
	} else {
		fd = open(tu_write_tmp("dec.in", c->p, c->n), O_RDONLY);
	}
	const struct ward_c4gh_seckey *keys[1] = {key};
	struct ward_c4gh_read_opts o = {
	    .keys = keys, .nkeys = 1, .sender_pk = sender, .threads = threads};
	struct ward_c4gh_reader *r = NULL;
	out->p = malloc(1);
	out->n = 0;
	int rc = ward_c4gh_reader_open(fd, &o, &r);
	if (rc == 0 && start)
		rc = ward_c4gh_reader_seek(r, start);
	while (rc == 0 && ward_c4gh_reader_tell(r) < end) {
		const uint8_t *p;
		size_t len;
		rc = ward_c4gh_reader_next(r, &p, &len);
		if (rc || !len)
			break;
		if (len > end - (ward_c4gh_reader_tell(r) - len))
			len = (size_t)(end - (ward_c4gh_reader_tell(r) - len));
		out->p = realloc(out->p, out->n + len);
		memcpy(out->p + out->n, p, len);
		out->n += len;
	}
	ward_c4gh_reader_free(r);
	close(fd);
	if (use_pipe)
		pthread_join(th, NULL);
	return rc;
}

void tu_apply_editlist(const uint8_t *plain, size_t n, const uint64_t *edit, size_t nedit,
                       struct tbuf *out)
{
	out->p = malloc(n + 1);
	out->n = 0;
	size_t pos = 0;
	for (size_t i = 0; i < nedit; i++) {
		uint64_t len = edit[i];
		if (i % 2 == 0) { /* skip */
			pos = len > n - pos ? n : pos + (size_t)len;
			if (i + 1 == nedit) { /* ends with a skip: keep the rest */
				memcpy(out->p + out->n, plain + pos, n - pos);
				out->n += n - pos;
			}
		} else {
			size_t k = len > n - pos ? n - pos : (size_t)len;
			memcpy(out->p + out->n, plain + pos, k);
			out->n += k;
			pos += k;
		}
	}
	if (nedit == 0) {
		memcpy(out->p, plain, n);
		out->n = n;
	}
}

void tu_free(struct tbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}
