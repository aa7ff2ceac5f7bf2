/* The layered VCF input: file or memory, then Crypt4GH and gzip/BGZF as their magic says. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vcf/vcf_internal.h"

struct ward_vcf_input {
	struct vsrc *top;
	unsigned layers;
	int relay_fd;
	struct vcf_relay *relay;
	int err;
};

/* ---- Crypt4GH layer ------------------------------------------------------- */

struct c4_src {
	struct vsrc base;
	struct ward_c4gh_reader *r;
};

static int c4_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	return ward_c4gh_reader_next(((struct c4_src *)s)->r, data, len);
}

static void c4_free(struct vsrc *s)
{
	ward_c4gh_reader_free(((struct c4_src *)s)->r);
	free(s);
}

int vsrc_c4gh_new(int fd, const struct ward_c4gh_read_opts *opts, struct vsrc **out)
{
	struct c4_src *c = calloc(1, sizeof *c);
	if (!c)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = ward_c4gh_reader_open(fd, opts, &c->r);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->base.next = c4_next;
	c->base.free = c4_free;
	*out = &c->base;
	return 0;
}

/* ---- assembly ----------------------------------------------------------- */

/* Worker threads for the gzip layer (see ward_vcf_input_opts.threads). */
static unsigned gz_workers(unsigned threads)
{
	if (threads == 1)
		return 0;
	if (threads)
		return threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n >= 2 ? (unsigned)(n > 4 ? 4 : n) : 0;
}

/* Adds the gzip layer on top of src when the text starts with the gzip magic. */
static int add_gzip(struct ward_vcf_input *in, struct vsrc *src, unsigned threads)
{
	const uint8_t *head;
	size_t hlen;
	int rc = vsrc_peek_new(src, 2, &head, &hlen, &src);
	if (rc < 0)
		return rc;
	if (hlen == 2 && head[0] == 0x1f && head[1] == 0x8b)
		return vsrc_gz_new(src, gz_workers(threads), &in->layers, &in->top);
	in->top = src;
	return 0;
}

static int need_keys(const struct ward_vcf_input_opts *o)
{
	if (!o || !o->c4gh_opts)
		return ward_error(WARD_E_NOKEY,
		                  "the input is Crypt4GH-encrypted and no key was given");
	return 0;
}

static int open_fd(struct ward_vcf_input *in, int fd, const struct ward_vcf_input_opts *o)
{
	const struct ward_vcf_input_opts def = {0};
	if (!o)
		o = &def;
	uint8_t head[8];
	size_t got = 0;
	int consumed = 0;
	int rc = vcf_fd_peek(fd, head, sizeof head, &got, &consumed);
	if (rc < 0)
		return rc;
	int is_c4gh = got == 8 && memcmp(head, VCF_MAGIC_C4GH, 8) == 0;
	if (!is_c4gh && o->c4gh == WARD_VCF_C4GH_REQUIRE)
		return ward_error(WARD_E_NOTC4GH, "not a Crypt4GH file (no crypt4gh magic)");
	struct vsrc *src;
	if (is_c4gh) {
		if ((rc = need_keys(o)) < 0)
			return rc;
		if (consumed) {
			/* The reader needs a descriptor at the start of the file: give it a pipe.
			 */
			rc = vcf_relay_start(fd, head, got, &in->relay, &in->relay_fd);
			if (rc < 0)
				return rc;
			fd = in->relay_fd;
		}
		rc = vsrc_c4gh_new(fd, o->c4gh_opts, &src);
		if (rc < 0)
			return rc;
		in->layers |= WARD_VCF_LAYER_C4GH;
	} else {
		rc = vsrc_fd_new(fd, consumed ? head : NULL, consumed ? got : 0, &src);
		if (rc < 0)
			return rc;
	}
	return add_gzip(in, src, o->threads);
}

static struct ward_vcf_input *input_alloc(void)
{
	struct ward_vcf_input *in = calloc(1, sizeof *in);
	if (in)
		in->relay_fd = -1;
	return in;
}

int ward_vcf_input_open(int fd, const struct ward_vcf_input_opts *opts, struct ward_vcf_input **out)
{
	struct ward_vcf_input *in = input_alloc();
	if (!in)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = open_fd(in, fd, opts);
	if (rc < 0) {
		ward_vcf_input_free(in);
		return rc;
	}
	*out = in;
	return 0;
}

int ward_vcf_input_open_mem(const void *buf, size_t len, size_t chunk,
                            const struct ward_vcf_input_opts *opts, struct ward_vcf_input **out)
{
	const struct ward_vcf_input_opts def = {0};
	if (!opts)
		opts = &def;
	int is_c4gh = len >= 8 && memcmp(buf, VCF_MAGIC_C4GH, 8) == 0;
	if (is_c4gh) {
		/* The Crypt4GH reader needs a descriptor; memory input is for plaintext. */
		return ward_error(WARD_E_UNSUPPORTED, "Crypt4GH input must come from a descriptor");
	}
	if (opts->c4gh == WARD_VCF_C4GH_REQUIRE)
		return ward_error(WARD_E_NOTC4GH, "not a Crypt4GH file (no crypt4gh magic)");
	struct ward_vcf_input *in = input_alloc();
	struct vsrc *src = NULL;
	if (!in)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = vsrc_mem_new(buf, len, chunk, &src);
	if (rc == 0)
		rc = add_gzip(in, src, opts->threads);
	if (rc < 0) {
		ward_vcf_input_free(in);
		return rc;
	}
	*out = in;
	return 0;
}

int ward_vcf_input_next(struct ward_vcf_input *in, const uint8_t **data, size_t *len)
{
	if (in->err)
		return in->err;
	int rc = vsrc_next(in->top, data, len);
	if (rc < 0) {
		in->err = rc;
		*len = 0;
	}
	return rc;
}

unsigned ward_vcf_input_layers(const struct ward_vcf_input *in)
{
	return in->layers;
}

void ward_vcf_input_free(struct ward_vcf_input *in)
{
	if (!in)
		return;
	vsrc_free(in->top);
	if (in->relay_fd >= 0)
		close(in->relay_fd);
	vcf_relay_stop(in->relay);
	free(in);
}
