/* Helpers for the Crypt4GH tests: encrypt/decrypt buffers through temporary files and pipes. */
#ifndef WARD_TESTS_C4GH_TESTUTIL_H
#define WARD_TESTS_C4GH_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ward/crypt4gh.h"

struct tbuf {
	uint8_t *p;
	size_t n;
};

/* Writes buf to a new file in the test tmpdir; returns its path (static slots). */
const char *tu_write_tmp(const char *name, const void *buf, size_t n);

/*
 * Encrypts plain for the recipients with writer (NULL = ephemeral) and an
 * optional edit list; chunk = 0 uses write_fd, else writer_write in chunks.
 */
int tu_encrypt(const void *plain, size_t n, const struct ward_c4gh_seckey *writer,
               const uint8_t (*rcpt)[32], size_t nrcpt, const uint64_t *edit, size_t nedit,
               unsigned threads, size_t chunk, struct tbuf *out);

/*
 * Decrypts c with key: from a regular file (pipe = 0) or through a pipe fed by
 * a thread (pipe = 1), the stream range [start, end) (end UINT64_MAX: all).
 * Returns 0 or the ward_err; out gets what was released before any error.
 */
int tu_decrypt(const struct tbuf *c, const struct ward_c4gh_seckey *key, const uint8_t *sender,
               int pipe, unsigned threads, uint64_t start, uint64_t end, struct tbuf *out);

/* Applies an edit list to plain (the slicing oracle of spec §4.2). */
void tu_apply_editlist(const uint8_t *plain, size_t n, const uint64_t *edit, size_t nedit,
                       struct tbuf *out);

void tu_free(struct tbuf *b);

#endif
