/* Private declarations shared by the files of lib/vcf. */
#ifndef WARD_VCF_INTERNAL_H
#define WARD_VCF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_internal.h"
#include "ward/vcf.h"

/*
 * A byte source: hands out zero-copy chunks, valid until the next call.
 * Layers (Crypt4GH, gzip) wrap another source and own it.
 */
struct vsrc {
	/* 0 and *len > 0, or 0 and *len == 0 at the end, or a negative ward_err. */
	int (*next)(struct vsrc *s, const uint8_t **data, size_t *len);
	void (*free)(struct vsrc *s);
};

static inline int vsrc_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	return s->next(s, data, len);
}

static inline void vsrc_free(struct vsrc *s)
{
	if (s)
		s->free(s);
}

/*
 * A source over fd, reading prefix (consumed from fd before, may be NULL)
 * first. The fd stays the caller's.
 */
int vsrc_fd_new(int fd, const uint8_t *prefix, size_t plen, struct vsrc **out);

/* A source over memory, in pieces of at most chunk bytes (0 = one piece). */
int vsrc_mem_new(const uint8_t *buf, size_t len, size_t chunk, struct vsrc **out);

/*
 * Wraps inner so that its first bytes can be looked at: *head gets up to
 * want bytes (fewer only at the end of the data) and the wrapper still
 * returns every byte. Takes ownership of inner (also on failure).
 */
int vsrc_peek_new(struct vsrc *inner, size_t want, const uint8_t **head, size_t *hlen,
                  struct vsrc **out);

/*
 * A gzip/BGZF inflating layer over inner (owned, also on failure). With
 * workers > 0, that many threads inflate BGZF blocks in parallel, ahead.
 */
int vsrc_gz_new(struct vsrc *inner, unsigned workers, unsigned *layers, struct vsrc **out);

/* A Crypt4GH decrypting layer over fd (not owned). */
int vsrc_c4gh_new(int fd, const struct ward_c4gh_read_opts *opts, struct vsrc **out);

/*
 * Reads the first bytes of fd without consuming them where possible:
 * pread on seekable files, tee(2) on pipes. Otherwise the bytes are
 * consumed: *consumed is set and the caller must re-supply them.
 */
int vcf_fd_peek(int fd, uint8_t *buf, size_t want, size_t *got, int *consumed);

/* Gives a consumed prefix back in front of fd, as a new descriptor (a pipe fed by a thread). */
struct vcf_relay;
int vcf_relay_start(int fd, const uint8_t *prefix, size_t plen, struct vcf_relay **out, int *newfd);
void vcf_relay_stop(struct vcf_relay *r);

#define VCF_MAGIC_C4GH "crypt4gh"

/* ---- The query engine (scan.c, format.c) ------------------------------- */

/* A compiled bcftools format (format.c). */
struct vcf_fmt;

/* Checks the syntax of a format string (before the header is known). */
int vcf_fmt_compile(const char *format, struct vcf_fmt **out);

/* True if the format prints only %ID and literal text (the memchr fast path). */
int vcf_fmt_is_id_only(const struct vcf_fmt *f, const char **pre, size_t *npre, const char **post,
                       size_t *npost);

/* Binds the format to the header text (lines ending in \n, #CHROM last). */
int vcf_fmt_set_header(struct vcf_fmt *f, const char *text, size_t len);

/*
 * Formats one data line (without its line end; NUL-terminated and modified
 * in place, like htslib's vcf_parse). *res gets the output, valid until the
 * next call on f. Returns 0, 1 if htslib rejects the record (bcftools skips
 * it), or a negative ward_err.
 */
int vcf_fmt_line(struct vcf_fmt *f, char *line, size_t len, uint64_t lineno, const char **res,
                 size_t *rlen);

void vcf_fmt_free(struct vcf_fmt *f);

#endif
