/* Unit tests of the VCF query engine and the gzip/BGZF layer on memory and file input. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <htslib/bgzf.h>
#include <htslib/hts_log.h>
#include <zlib.h>

#include "test.h"
#include "ward/vcf.h"

struct buf {
	char *p;
	size_t len, cap;
	int fail_after; /* > 0: the sink fails on that call */
	int calls;
};

static int sink(void *ctx, const void *data, size_t n)
{
	struct buf *b = ctx;
	if (b->fail_after && ++b->calls >= b->fail_after)
		return WARD_E_IO;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Runs a query over memory input; returns the rc, output in *out (caller frees out->p). */
static int run_mem(enum ward_vcf_mode mode, const char *fmt, const void *in, size_t len,
                   size_t chunk, unsigned threads, struct buf *out)
{
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *inp = NULL;
	struct ward_vcf_input_opts o = {.threads = threads};
	memset(out, 0, sizeof *out);
	int rc = ward_vcf_query_new(mode, fmt, &q);
	if (rc == 0)
		rc = ward_vcf_input_open_mem(in, len, chunk, &o, &inp);
	if (rc == 0)
		rc = ward_vcf_query_run(q, inp, sink, out);
	ward_vcf_input_free(inp);
	ward_vcf_query_free(q);
	return rc;
}

static const char *shared_vcfs[] = {
    "scone-example-input",
    "scone-example-input.crlf",
    "hts-specs-4.3-passed_body_id",
    "hts-specs-4.3-passed_body_alt",
    "hts-specs-4.3-complexfile_passed_000",
    "bcftools-query.filter.id",
    "bcftools-mpileup.hwe",
};

static int same_as_file(const struct buf *b, const char *path)
{
	size_t n;
	uint8_t *want = test_read_file(test_data(path), &n);
	int ok = b->len == n && memcmp(b->p ? b->p : "", want, n) == 0;
	free(want);
	return ok;
}

/* Both ID rules on every shared file, whatever the chunking of the input. */
static void test_expected_ids(void)
{
	static const size_t chunks[] = {0, 1, 2, 7, 100, 4096};
	for (int simd = 1; simd >= 0; simd--) {
		/* The AVX2 column split where the CPU has it, then the memchr-only scanner. */
		if (!simd)
			setenv("WARD_VCF_NO_SIMD", "1", 1);
		for (size_t i = 0; i < sizeof shared_vcfs / sizeof shared_vcfs[0]; i++) {
			char path[256], exp1[256], exp2[256];
			snprintf(path, sizeof path, "vcf/%s.vcf", shared_vcfs[i]);
			snprintf(exp1, sizeof exp1, "vcf/expected/%s.first-id.txt", shared_vcfs[i]);
			snprintf(exp2, sizeof exp2, "vcf/expected/%s.bcftools-id.txt",
			         shared_vcfs[i]);
			size_t len;
			uint8_t *vcf = test_read_file(test_data(path), &len);
			int ok1 = 1, ok2 = 1;
			for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
				struct buf b;
				int rc =
				    run_mem(WARD_VCF_FIRST_ID, NULL, vcf, len, chunks[c], 0, &b);
				ok1 &= rc == 0 && same_as_file(&b, exp1);
				free(b.p);
				rc = run_mem(WARD_VCF_ALL_IDS, NULL, vcf, len, chunks[c], 0, &b);
				ok2 &= rc == 0 && same_as_file(&b, exp2);
				free(b.p);
			}
			CHECK(ok1, "first-ID rule on %s, every chunking%s", shared_vcfs[i],
			      simd ? "" : ", memchr only");
			CHECK(ok2, "bcftools %%ID rule on %s, every chunking%s", shared_vcfs[i],
			      simd ? "" : ", memchr only");
			free(vcf);
		}
	}
	unsetenv("WARD_VCF_NO_SIMD");
}

/* The htslib path gives the same bytes whatever the chunking, and %ID agrees with the fast path. */
static void test_format_chunking(void)
{
	size_t len;
	uint8_t *vcf =
	    test_read_file(test_data("vcf/hts-specs-4.3-complexfile_passed_000.vcf"), &len);
	const char *fmt = "%CHROM\\t%POS\\t%ID\\t%REF\\t%ALT\\t%QUAL\\t%FILTER\\t%INFO/AF\\n";
	struct buf whole, piece;
	int rc = run_mem(WARD_VCF_FORMAT, fmt, vcf, len, 0, 0, &whole);
	CHECK_RC(rc, 0, "format query on the complex file");
	CHECK(whole.len > 1000 && strncmp(whole.p, "1\t10583\t", 8) == 0,
	      "format output starts with the first record");
	int ok = 1;
	for (size_t c = 1; c < 20; c += 6) {
		rc = run_mem(WARD_VCF_FORMAT, fmt, vcf, len, c, 0, &piece);
		ok &= rc == 0 && piece.len == whole.len && memcmp(piece.p, whole.p, whole.len) == 0;
		free(piece.p);
	}
	CHECK(ok, "format output does not depend on the chunking");
	struct buf fast, slow;
	run_mem(WARD_VCF_FORMAT, "%ID\\n", vcf, len, 0, 0, &fast);
	run_mem(WARD_VCF_FORMAT, "%ID\\n%POS\\n", vcf, len, 0, 0, &slow);
	/* Keep every other line of the slow output: the IDs htslib parsed. */
	char *w = slow.p;
	int line = 0;
	for (char *r = slow.p; r < slow.p + slow.len; r++) {
		if (line % 2 == 0)
			*w++ = *r;
		if (*r == '\n')
			line++;
	}
	CHECK(fast.len == (size_t)(w - slow.p) && memcmp(fast.p, slow.p, fast.len) == 0,
	      "the memchr %%ID scanner agrees with htslib's parser");
	free(fast.p);
	free(slow.p);
	free(whole.p);
	free(vcf);
}

static void expect_error(const char *text, int want, const char *needle, const char *what)
{
	struct buf b;
	int rc = run_mem(WARD_VCF_ALL_IDS, NULL, text, strlen(text), 0, 0, &b);
	int ok = rc == want && (!needle || strstr(ward_last_error(), needle));
	CHECK(ok, "%s: rc %d, \"%s\"", what, rc, ward_last_error());
	free(b.p);
	rc = run_mem(WARD_VCF_FIRST_ID, NULL, text, strlen(text), 3, 0, &b);
	ok = rc == want && (!needle || strstr(ward_last_error(), needle));
	CHECK(ok, "%s (first-ID rule, small chunks)", what);
	free(b.p);
}

#define HDR "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

static void test_bad_input(void)
{
	expect_error("", WARD_E_FORMAT, "empty input", "empty input");
	expect_error("hello\n", WARD_E_FORMAT, "line 1: not a VCF", "no ##fileformat");
	expect_error("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", WARD_E_FORMAT, "line 1",
	             "#CHROM without ##fileformat");
	expect_error("##fileformat=VCFv4.2\n", WARD_E_FORMAT, "before the #CHROM",
	             "header without #CHROM");
	expect_error("##fileformat=VCFv4.2\n1\t2\t3\t4\t5\t6\t7\t8\n", WARD_E_FORMAT, "line 2",
	             "data before #CHROM");
	expect_error("##fileformat=VCFv4.2\n#CHROM POS ID\n", WARD_E_FORMAT, "line 2",
	             "#CHROM line with spaces");
	expect_error(HDR "1\t1\trs1\tA\tG\t.\t.\t.\n1\t2\trs2\tA\tG\t.\t.\n", WARD_E_FORMAT,
	             "line 4: 7 columns", "a data line with 7 columns");
	expect_error(HDR "1\t1\trs1\tA\tG\t.\t.\t.\n\n", WARD_E_FORMAT, "line 4: 1 column",
	             "an empty data line");
	expect_error(HDR "1\t1\trs1", WARD_E_FORMAT, "line 3: 3 columns",
	             "a short last line without newline");

	struct buf b;
	int rc = run_mem(WARD_VCF_ALL_IDS, NULL, HDR, strlen(HDR), 0, 0, &b);
	CHECK(rc == 0 && b.len == 0, "a header-only file gives no output");
	free(b.p);
	const char *crlf =
	    "##fileformat=VCFv4.2\r\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\r\n"
	    "1\t1\trs1;x\tA\tG\t.\t.\t.\r\n1\t2\t.\tA\tG\t.\t.\t.\r";
	rc = run_mem(WARD_VCF_FIRST_ID, NULL, crlf, strlen(crlf), 0, 0, &b);
	CHECK(rc == 0 && b.len == 4 && memcmp(b.p, "rs1\n", 4) == 0, "CRLF, final \\r: first IDs");
	free(b.p);
	/* Everything but the first ID rule prints the record of a '#' line after the header. */
	const char *hash = HDR "#x\t1\tid1\tA\tG\t.\t.\t.\n";
	rc = run_mem(WARD_VCF_FIRST_ID, NULL, hash, strlen(hash), 0, 0, &b);
	CHECK(rc == 0 && b.len == 0, "first-ID rule skips # lines after the header (awk's !/^#/)");
	free(b.p);
	rc = run_mem(WARD_VCF_ALL_IDS, NULL, hash, strlen(hash), 0, 0, &b);
	CHECK(rc == 0 && b.len == 4 && memcmp(b.p, "id1\n", 4) == 0,
	      "bcftools rule prints a # line after the header as a record");
	free(b.p);
	const char *empty_id = HDR "1\t1\t\tA\tG\t.\t.\t.\n";
	rc = run_mem(WARD_VCF_ALL_IDS, NULL, empty_id, strlen(empty_id), 0, 0, &b);
	CHECK(rc == 0 && b.len == 2 && memcmp(b.p, ".\n", 2) == 0, "empty ID prints . (htslib)");
	free(b.p);
}

static void test_formats(void)
{
	static const char *bad[] = {"", "%", "%ID %", "a%%b", "[%GT]", "%ID]", "x\\"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ward_vcf_query *q = NULL;
		int rc = ward_vcf_query_new(WARD_VCF_FORMAT, bad[i], &q);
		CHECK(rc == WARD_E_INVAL && q == NULL, "format \"%s\" is refused", bad[i]);
	}
	const char *text = HDR "1\t5\trs1\tA\tG\t.\t.\t.\n";
	struct buf b;
	int rc = run_mem(WARD_VCF_FORMAT, "%INFO/NOPE\\n", text, strlen(text), 0, 0, &b);
	CHECK(rc == WARD_E_FORMAT && strstr(ward_last_error(), "INFO/NOPE"),
	      "an INFO tag missing from the header is an error, as in bcftools");
	free(b.p);
	rc = run_mem(WARD_VCF_FORMAT, "<%ID>\\t\\x%POS\\\\\\n", text, strlen(text), 0, 0, &b);
	CHECK(rc == 0 && b.p && strcmp(b.p, "<rs1>\tx5\\\n") == 0, "escapes: \\t \\x \\\\ \\n");
	free(b.p);
	rc = run_mem(WARD_VCF_FORMAT, "[%ID]", text, strlen(text), 0, 0, &b);
	CHECK(rc == WARD_E_INVAL, "per-sample brackets are refused");
	free(b.p);
}

static void test_skipped_records(void)
{
	const char *text =
	    "##fileformat=VCFv4.2\n##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"d\">\n"
	    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
	    "1\t1\tr1\tA\tG\t.\t.\t.\tDP\t3\n"
	    "1\t2\tr2\tA\tG\t.\t.\t.\tDP\t3x\n"
	    "1\t3\tr3\tA\tG\t.\t.\t.\tDP\t4\n";
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *in = NULL;
	struct buf b = {0};
	int rc = ward_vcf_query_new(WARD_VCF_FORMAT, "%POS\\n%LINE", &q);
	if (rc == 0)
		rc = ward_vcf_input_open_mem(text, strlen(text), 0, NULL, &in);
	if (rc == 0)
		rc = ward_vcf_query_run(q, in, sink, &b);
	uint64_t first = 0;
	CHECK(rc == 0 && ward_vcf_query_skipped(q, &first) == 1 && first == 5,
	      "a record htslib rejects is skipped and counted (line 5)");
	CHECK(b.p && strstr(b.p, "1\n1\t1\tr1") && strstr(b.p, "3\n1\t3\tr3") && !strstr(b.p, "r2"),
	      "the records around it are printed");
	CHECK(ward_vcf_query_records(q) == 3, "three records seen");
	free(b.p);
	ward_vcf_input_free(in);
	ward_vcf_query_free(q);
}

static void test_sink_error(void)
{
	size_t len;
	uint8_t *vcf = test_read_file(test_data("vcf/bcftools-mpileup.hwe.vcf"), &len);
	/* 191 records of "." are too little to fill the buffer: the flush at the end fails. */
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *in = NULL;
	struct buf b = {.fail_after = 1};
	int rc = ward_vcf_query_new(WARD_VCF_ALL_IDS, NULL, &q);
	if (rc == 0)
		rc = ward_vcf_input_open_mem(vcf, len, 0, NULL, &in);
	if (rc == 0)
		rc = ward_vcf_query_run(q, in, sink, &b);
	CHECK_RC(rc, WARD_E_IO, "a failing sink stops the query with its error");
	ward_vcf_input_free(in);
	ward_vcf_query_free(q);
	free(b.p);
	free(vcf);
}

/* A line over 100 KB and a long header, in small and large chunks. */
static void test_long_line(void)
{
	size_t big = 300000;
	char *text = malloc(big + 4096);
	size_t n = (size_t)sprintf(
	    text, "##fileformat=VCFv4.2\n##INFO=<ID=S,Number=1,Type=String,"
	          "Description=\"s\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
	          "1\t1\tlong1\tA\tG\t.\t.\tS=");
	memset(text + n, 'x', big);
	n += big;
	n += (size_t)sprintf(text + n, "\n1\t2\tshort2\tA\tG\t.\t.\t.\n");
	static const size_t chunks[] = {0, 1000, 65536};
	int ok = 1;
	for (size_t c = 0; c < 3; c++) {
		struct buf b;
		int rc = run_mem(WARD_VCF_ALL_IDS, NULL, text, n, chunks[c], 0, &b);
		ok &= rc == 0 && b.p && strcmp(b.p, "long1\nshort2\n") == 0;
		free(b.p);
		rc = run_mem(WARD_VCF_FORMAT, "%INFO/S\\n", text, n, chunks[c], 0, &b);
		ok &= rc == 0 && b.len == big + 1 + 2 && b.p[0] == 'x' && b.p[big - 1] == 'x';
		free(b.p);
	}
	CHECK(ok, "a 300 KB line, whole and in 1000/65536-byte chunks");
	free(text);
}

/* ---- gzip and BGZF ------------------------------------------------------- */

/* gzip members made with zlib, one per piece. */
static uint8_t *gzip_members(const uint8_t *in, size_t len, size_t pieces, size_t *outlen)
{
	uint8_t *out = malloc(len + 1024 * pieces + 64);
	size_t o = 0, step = len / pieces + 1;
	for (size_t off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;
		z_stream z = {0};
		deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *)in + off;
		z.avail_in = (uInt)k;
		z.next_out = out + o;
		z.avail_out = (uInt)(len + 1024 * pieces + 64 - o);
		deflate(&z, Z_FINISH);
		o += z.total_out;
		deflateEnd(&z);
	}
	*outlen = o;
	return out;
}

/* A BGZF file made with htslib (as bgzip does). */
static uint8_t *bgzf_bytes(const uint8_t *in, size_t len, size_t *outlen)
{
	char path[512];
	snprintf(path, sizeof path, "%s/x.vcf.gz", test_tmpdir());
	BGZF *f = bgzf_open(path, "w");
	if (!f || bgzf_write(f, in, len) < 0 || bgzf_close(f) < 0)
		return NULL;
	return test_read_file(path, outlen);
}

static void test_gzip(void)
{
	size_t len;
	uint8_t *vcf = test_read_file(test_data("vcf/bcftools-mpileup.hwe.vcf"), &len);
	size_t glen, blen;
	uint8_t *gz = gzip_members(vcf, len, 3, &glen);
	uint8_t *bg = bgzf_bytes(vcf, len, &blen);
	CHECK(bg != NULL, "htslib wrote a BGZF copy");
	struct buf plain, b;
	run_mem(WARD_VCF_FORMAT, "%POS %INFO\\n", vcf, len, 0, 0, &plain);
	static const size_t chunks[] = {0, 1, 17, 70000};
	int okg = 1, okb = 1;
	for (size_t c = 0; c < 4; c++) {
		for (unsigned th = 1; th <= 3; th++) {
			int rc =
			    run_mem(WARD_VCF_FORMAT, "%POS %INFO\\n", gz, glen, chunks[c], th, &b);
			okg &= rc == 0 && b.len == plain.len && !memcmp(b.p, plain.p, b.len);
			free(b.p);
			rc = run_mem(WARD_VCF_FORMAT, "%POS %INFO\\n", bg, blen, chunks[c], th, &b);
			okb &= rc == 0 && b.len == plain.len && !memcmp(b.p, plain.p, b.len);
			free(b.p);
		}
	}
	CHECK(okg, "3-member plain gzip (zlib path), every chunking, inline and threaded");
	CHECK(okb, "BGZF (libdeflate path), every chunking, inline and threaded");

	struct ward_vcf_input *in = NULL;
	int rc = ward_vcf_input_open_mem(bg, blen, 0, NULL, &in);
	CHECK(rc == 0 && ward_vcf_input_layers(in) == (WARD_VCF_LAYER_GZIP | WARD_VCF_LAYER_BGZF),
	      "BGZF input is reported as gzip + BGZF");
	ward_vcf_input_free(in);
	rc = ward_vcf_input_open_mem(gz, glen, 0, NULL, &in);
	CHECK(rc == 0 && ward_vcf_input_layers(in) == WARD_VCF_LAYER_GZIP,
	      "plain gzip input is reported as gzip only");
	ward_vcf_input_free(in);

	/* BGZF (first half, no EOF block) then plain gzip (second half): the layer switches to
	 * zlib. */
	size_t half = len / 2, h1, h2;
	uint8_t *p1 = bgzf_bytes(vcf, half, &h1);
	uint8_t *p2 = gzip_members(vcf + half, len - half, 1, &h2);
	size_t eof_block = 28;
	uint8_t *mix = malloc(h1 + h2);
	memcpy(mix, p1, h1 - eof_block);
	memcpy(mix + h1 - eof_block, p2, h2);
	for (unsigned th = 1; th <= 3; th++) {
		rc = run_mem(WARD_VCF_FORMAT, "%POS %INFO\\n", mix, h1 - eof_block + h2, 5000, th,
		             &b);
		CHECK(rc == 0 && b.len == plain.len && !memcmp(b.p, plain.p, b.len),
		      "BGZF blocks then a plain gzip member (threads %u)", th);
		free(b.p);
	}
	free(p1);
	free(p2);

	/* Damage: a flipped byte inside the deflate data, a cut, trailing garbage. */
	uint8_t *bad = malloc((blen > glen ? blen : glen) + 8);
	memcpy(bad, bg, blen);
	bad[40] ^= 0x55;
	for (unsigned th = 1; th <= 3; th++) {
		rc = run_mem(WARD_VCF_ALL_IDS, NULL, bad, blen, 0, th, &b);
		CHECK(rc == WARD_E_FORMAT, "corrupt BGZF block: WARD_E_FORMAT (%s)",
		      ward_last_error());
		free(b.p);
		rc = run_mem(WARD_VCF_ALL_IDS, NULL, bg, blen / 2, 0, th, &b);
		CHECK(rc == WARD_E_TRUNCATED, "cut BGZF: WARD_E_TRUNCATED (%s)", ward_last_error());
		free(b.p);
	}
	memcpy(bad, bg, blen);
	memcpy(bad + blen, "garbage!", 8);
	rc = run_mem(WARD_VCF_ALL_IDS, NULL, bad, blen + 8, 0, 1, &b);
	CHECK(rc == WARD_E_FORMAT, "trailing garbage after gzip: WARD_E_FORMAT");
	free(b.p);
	rc = run_mem(WARD_VCF_ALL_IDS, NULL, gz, glen - 5, 0, 1, &b);
	CHECK(rc == WARD_E_TRUNCATED, "cut plain gzip: WARD_E_TRUNCATED");
	free(b.p);
	memcpy(bad, gz, glen);
	bad[glen / 2] ^= 0xff;
	rc = run_mem(WARD_VCF_ALL_IDS, NULL, bad, glen, 0, 1, &b);
	CHECK(rc < 0, "corrupt plain gzip fails (%s)", ward_last_error());
	free(b.p);

	free(bad);
	free(mix);
	free(plain.p);
	free(gz);
	free(bg);
	free(vcf);
}

/* Reading from a descriptor: a regular file is read in place, without consuming it. */
static void test_fd_input(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/in.vcf", test_tmpdir());
	size_t len;
	uint8_t *vcf = test_read_file(test_data("vcf/scone-example-input.vcf"), &len);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, vcf, len) == (ssize_t)len, "wrote a VCF file");
	close(fd);
	fd = open(path, O_RDONLY);
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *in = NULL;
	struct buf b = {0};
	int rc = ward_vcf_query_new(WARD_VCF_FIRST_ID, NULL, &q);
	if (rc == 0)
		rc = ward_vcf_input_open(fd, NULL, &in);
	if (rc == 0)
		rc = ward_vcf_query_run(q, in, sink, &b);
	CHECK(rc == 0 && b.p && strcmp(b.p, "rs6054257\nrs6040355\n") == 0,
	      "plain VCF from a file descriptor");
	ward_vcf_input_free(in);
	free(b.p);
	struct ward_vcf_input_opts req = {.c4gh = WARD_VCF_C4GH_REQUIRE};
	lseek(fd, 0, SEEK_SET);
	rc = ward_vcf_input_open(fd, &req, &in);
	CHECK_RC(rc, WARD_E_NOTC4GH, "REQUIRE mode refuses plaintext");
	ward_vcf_query_free(q);
	close(fd);
	free(vcf);
}

int main(void)
{
	/* htslib warns about undeclared contigs on stderr, as bcftools does; quiet here. */
	hts_set_log_level(HTS_LOG_ERROR);
	test_expected_ids();
	test_format_chunking();
	test_bad_input();
	test_formats();
	test_skipped_records();
	test_sink_error();
	test_long_line();
	test_gzip();
	test_fd_input();
	return test_done();
}
