/*
 * libFuzzer harness for the VCF input layers and query engine: gzip/BGZF
 * inflation, line splitting, header checks, the memchr ID scanner and the
 * htslib-based format path. Checks that output does not depend on how the
 * input is chunked or threaded, and that the %ID scanner agrees with htslib.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/hts_log.h>

#include "ward/vcf.h"

struct out {
	char *p;
	size_t len;
};

static int sink(void *ctx, const void *buf, size_t n)
{
	struct out *o = ctx;
	char *p = realloc(o->p, o->len + n + 1);
	if (!p)
		return WARD_E_NOMEM;
	memcpy(p + o->len, buf, n);
	o->p = p;
	o->len += n;
	return 0;
}

static int run(enum ward_vcf_mode mode, const char *fmt, const uint8_t *d, size_t n, size_t chunk,
               unsigned threads, struct out *o, uint64_t *skipped)
{
	struct ward_vcf_query *q = NULL;
	struct ward_vcf_input *in = NULL;
	struct ward_vcf_input_opts io = {.threads = threads};
	memset(o, 0, sizeof *o);
	*skipped = 0;
	int rc = ward_vcf_query_new(mode, fmt, &q);
	if (rc == 0)
		rc = ward_vcf_input_open_mem(d, n, chunk, &io, &in);
	if (rc == 0) {
		rc = ward_vcf_query_run(q, in, sink, o);
		*skipped = ward_vcf_query_skipped(q, NULL);
	}
	ward_vcf_input_free(in);
	ward_vcf_query_free(q);
	return rc;
}

/* Same result (code and bytes) with whole input inline and small chunks threaded. */
static void check_stable(enum ward_vcf_mode mode, const char *fmt, const uint8_t *d, size_t n,
                         struct out *keep)
{
	struct out a, b;
	uint64_t sa, sb;
	int ra = run(mode, fmt, d, n, 0, 1, &a, &sa);
	int rb = run(mode, fmt, d, n, 7, 2, &b, &sb);
	if (ra != rb || a.len != b.len || (a.len && memcmp(a.p, b.p, a.len) != 0) || sa != sb)
		__builtin_trap();
	free(b.p);
	if (keep && ra == 0 && sa == 0)
		*keep = a;
	else
		free(a.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hts_set_log_level(HTS_LOG_OFF);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > (1u << 20))
		return 0;
	check_stable(WARD_VCF_FIRST_ID, NULL, d, n, NULL);
	struct out fast = {0}, slow = {0};
	check_stable(WARD_VCF_ALL_IDS, NULL, d, n, &fast);
	check_stable(WARD_VCF_FORMAT, "%CHROM %POS %ID %REF %ALT{0} %QUAL %FILTER %INFO %LINE", d,
	             n, NULL);
	check_stable(WARD_VCF_FORMAT, "%ID\\n%POS\\n", d, n, &slow);
	/* The scanner and htslib agree on %ID (htslib stops a line at a NUL byte: skip those). */
	if (fast.p && slow.p && !memchr(d, 0, n)) {
		size_t w = 0;
		int line = 0;
		for (size_t r = 0; r < slow.len; r++) {
			if (line % 2 == 0)
				slow.p[w++] = slow.p[r];
			if (slow.p[r] == '\n')
				line++;
		}
		if (w != fast.len || memcmp(fast.p, slow.p, w) != 0)
			__builtin_trap();
	}
	free(fast.p);
	free(slow.p);
	return 0;
}
