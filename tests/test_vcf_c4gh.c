/* Unit tests of the VCF input on Crypt4GH: files, pipes (tee peek), sockets (relay), gzip inside.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <htslib/bgzf.h>
#include <htslib/hts_log.h>
#include <sodium.h>

#include "test.h"
#include "ward/vcf.h"

static struct ward_c4gh_seckey *aa, *bb, *cc;

struct buf {
	char *p;
	size_t len;
};

static int sink(void *ctx, const void *data, size_t n)
{
	struct buf *b = ctx;
	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Encrypts buf from aa for bb into a new file; returns its path. */
static const char *encrypt_file(const void *buf, size_t len, const char *name)
{
	static char path[4][512];
	static int i;
	char *p = path[i++ % 4];
	snprintf(p, 512, "%s/%s", test_tmpdir(), name);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	uint8_t pk[32];
	ward_c4gh_seckey_public(bb, pk);
	struct ward_c4gh_write_opts o = {.writer = aa,
	                                 .recipients = (const uint8_t(*)[32])pk,
	                                 .nrecipients = 1,
	                                 .header_fd = -1};
	struct ward_c4gh_writer *w = NULL;
	int rc = ward_c4gh_writer_open(fd, &o, &w);
	if (rc == 0)
		rc = ward_c4gh_writer_write(w, buf, len);
	if (rc == 0)
		rc = ward_c4gh_writer_close(w);
	close(fd);
	CHECK_RC(rc, 0, "encrypted %s (%zu bytes of plaintext)", name, len);
	return p;
}

/* Runs mode over fd with key k (and sender pk); output into *out. */
static int run_fd(int fd, const struct ward_c4gh_seckey *k, const uint8_t *sender,
                  enum ward_vcf_mode mode, const char *fmt, struct buf *out, unsigned *layers)
{
	const struct ward_c4gh_seckey *keys[1] = {k};
	struct ward_c4gh_read_opts ro = {.keys = keys, .nkeys = 1, .sender_pk = sender};
	struct ward_vcf_input_opts io = {.c4gh_opts = k ? &ro : NULL};
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *in = NULL;
	memset(out, 0, sizeof *out);
	int rc = ward_vcf_query_new(mode, fmt, &q);
	if (rc == 0)
		rc = ward_vcf_input_open(fd, &io, &in);
	if (rc == 0 && layers)
		*layers = ward_vcf_input_layers(in);
	if (rc == 0)
		rc = ward_vcf_query_run(q, in, sink, out);
	ward_vcf_input_free(in);
	ward_vcf_query_free(q);
	return rc;
}

struct feeder {
	int fd;
	const uint8_t *p;
	size_t len, step;
};

/* Writes the bytes into a pipe or socket in small steps, then closes it. */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	for (size_t off = 0; off < f->len;) {
		size_t k = f->len - off < f->step ? f->len - off : f->step;
		ssize_t n = write(f->fd, f->p + off, k);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(f->fd);
	return NULL;
}

/* Runs the first-ID rule on the bytes of path, delivered through a pipe or a socket. */
static int run_stream(const char *path, int use_socket, size_t step, struct buf *out,
                      unsigned *layers)
{
	size_t len;
	uint8_t *bytes = test_read_file(path, &len);
	int sv[2];
	int rc = use_socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, sv) : pipe(sv);
	if (rc < 0)
		return WARD_E_IO;
	/* pipe(): sv[0] reads, sv[1] writes; socketpair: either way. */
	struct feeder f = {.fd = sv[1], .p = bytes, .len = len, .step = step};
	pthread_t th;
	pthread_create(&th, NULL, feed, &f);
	rc = run_fd(sv[0], bb, NULL, WARD_VCF_FIRST_ID, NULL, out, layers);
	close(sv[0]);
	pthread_join(th, NULL);
	free(bytes);
	return rc;
}

static void test_sources(void)
{
	size_t len;
	uint8_t *vcf =
	    test_read_file(test_data("vcf/hts-specs-4.3-complexfile_passed_000.vcf"), &len);
	size_t elen;
	uint8_t *expect = test_read_file(
	    test_data("vcf/expected/hts-specs-4.3-complexfile_passed_000.first-id.txt"), &elen);
	const char *path = encrypt_file(vcf, len, "complex.c4gh");
	int fd = open(path, O_RDONLY);
	struct buf b;
	unsigned layers = 0;
	int rc = run_fd(fd, bb, NULL, WARD_VCF_FIRST_ID, NULL, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen) &&
	          layers == WARD_VCF_LAYER_C4GH,
	      "Crypt4GH file (2 segments): first IDs");
	free(b.p);
	close(fd);

	rc = run_stream(path, 0, 65536, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen), "Crypt4GH through a pipe");
	free(b.p);
	rc = run_stream(path, 0, 3, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen),
	      "Crypt4GH through a pipe, 3 bytes per write (peek waits for 8)");
	free(b.p);
	rc = run_stream(path, 1, 4096, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen) &&
	          layers == WARD_VCF_LAYER_C4GH,
	      "Crypt4GH through a socket (magic consumed, relayed)");
	free(b.p);

	/* Plaintext through a socket: the consumed magic is given back by the source. */
	char plain[512];
	snprintf(plain, sizeof plain, "%s",
	         test_data("vcf/hts-specs-4.3-complexfile_passed_000.vcf"));
	rc = run_stream(plain, 1, 5, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen) && layers == 0,
	      "plain VCF through a socket, 5 bytes per write");
	free(b.p);
	free(expect);
	free(vcf);
}

static void test_keys(void)
{
	size_t len;
	uint8_t *vcf = test_read_file(test_data("vcf/scone-example-input.vcf"), &len);
	const char *path = encrypt_file(vcf, len, "scone.c4gh");
	int fd = open(path, O_RDONLY);
	struct buf b;
	uint8_t pk_aa[32], pk_bb[32];
	ward_c4gh_seckey_public(aa, pk_aa);
	ward_c4gh_seckey_public(bb, pk_bb);
	int rc = run_fd(fd, bb, pk_aa, WARD_VCF_FIRST_ID, NULL, &b, NULL);
	CHECK(rc == 0 && b.p && strcmp(b.p, "rs6054257\nrs6040355\n") == 0,
	      "the expected sender is accepted");
	free(b.p);
	lseek(fd, 0, SEEK_SET);
	rc = run_fd(fd, bb, pk_bb, WARD_VCF_FIRST_ID, NULL, &b, NULL);
	CHECK(rc < 0 && b.len == 0, "another sender is refused (%s)", ward_last_error());
	free(b.p);
	lseek(fd, 0, SEEK_SET);
	rc = run_fd(fd, cc, NULL, WARD_VCF_FIRST_ID, NULL, &b, NULL);
	CHECK_RC(rc, WARD_E_NOKEY, "a key the file was not encrypted for");
	free(b.p);
	lseek(fd, 0, SEEK_SET);
	rc = run_fd(fd, NULL, NULL, WARD_VCF_FORMAT, "%ID\\n", &b, NULL);
	CHECK_RC(rc, WARD_E_NOKEY, "Crypt4GH input without a key");
	free(b.p);
	close(fd);

	/* A damaged segment is an authentication error, and no record of it is printed. */
	size_t clen;
	uint8_t *c = test_read_file(path, &clen);
	c[clen - 20] ^= 1;
	char bad[512];
	snprintf(bad, sizeof bad, "%s/bad.c4gh", test_tmpdir());
	fd = open(bad, O_CREAT | O_RDWR | O_TRUNC, 0600);
	CHECK(write(fd, c, clen) == (ssize_t)clen, "wrote a damaged copy");
	lseek(fd, 0, SEEK_SET);
	rc = run_fd(fd, bb, NULL, WARD_VCF_FIRST_ID, NULL, &b, NULL);
	/* The reader cannot tell a damaged last segment from a cut one. */
	CHECK((rc == WARD_E_BADMSG || rc == WARD_E_TRUNCATED) && b.len == 0,
	      "a damaged segment fails, no output (%s)", ward_last_error());
	free(b.p);
	close(fd);
	free(c);
	free(vcf);
}

static void test_gz_inside(void)
{
	size_t len;
	uint8_t *vcf = test_read_file(test_data("vcf/bcftools-mpileup.hwe.vcf"), &len);
	char gzpath[512];
	snprintf(gzpath, sizeof gzpath, "%s/m.vcf.gz", test_tmpdir());
	BGZF *f = bgzf_open(gzpath, "w");
	CHECK(f && bgzf_write(f, vcf, len) == (ssize_t)len && bgzf_close(f) == 0, "wrote BGZF");
	size_t glen;
	uint8_t *gz = test_read_file(gzpath, &glen);
	const char *path = encrypt_file(gz, glen, "m.vcf.gz.c4gh");
	size_t elen;
	uint8_t *expect =
	    test_read_file(test_data("vcf/expected/bcftools-mpileup.hwe.bcftools-id.txt"), &elen);
	int fd = open(path, O_RDONLY);
	struct buf b;
	unsigned layers = 0;
	int rc = run_fd(fd, bb, NULL, WARD_VCF_ALL_IDS, NULL, &b, &layers);
	CHECK(rc == 0 && b.len == elen && !memcmp(b.p, expect, elen), "BGZF inside Crypt4GH");
	CHECK(layers == (WARD_VCF_LAYER_C4GH | WARD_VCF_LAYER_GZIP | WARD_VCF_LAYER_BGZF),
	      "layers: Crypt4GH, gzip, BGZF");
	free(b.p);
	close(fd);
	free(expect);
	free(gz);
	free(vcf);
}

int main(void)
{
	hts_set_log_level(HTS_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;
	int rc = ward_c4gh_seckey_from_hex(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &aa);
	if (rc == 0)
		rc = ward_c4gh_seckey_from_hex(
		    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &bb);
	if (rc == 0)
		rc = ward_c4gh_seckey_from_hex(
		    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", &cc);
	CHECK_RC(rc, 0, "the example's hex keys parse");
	test_sources();
	test_keys();
	test_gz_inside();
	ward_c4gh_seckey_free(aa);
	ward_c4gh_seckey_free(bb);
	ward_c4gh_seckey_free(cc);
	return test_done();
}
