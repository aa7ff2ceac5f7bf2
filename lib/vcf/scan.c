/*
 * The streaming VCF query engine: splits the plaintext into lines in place
 * (zero-copy, memchr over whole chunks; only a line that straddles two
 * chunks is copied), checks the header, and prints IDs with a memchr-based
 * column scanner or hands each record to the bcftools format code.
 */
#include <stdlib.h>
#include <string.h>

#include "vcf/vcf_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_SPLIT64 1
#endif

#define OBUF      (256u << 10)
#define LINE_MAX_ (1ull << 30) /* refuse lines (and headers) over 1 GiB */

static const char fileformat[] = "##fileformat=VCF";
static const char chrom_line[] = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO";

enum state { ST_START, ST_HEADER, ST_DATA };

struct ward_vcf_query {
	enum ward_vcf_mode mode;
	struct vcf_fmt *fmt; /* FORMAT mode (and ALL_IDS, which is "%ID\n") */
	int fast;            /* the format prints only %ID: scan, do not parse */
	int simd;            /* the CPU has AVX2 (+BMI, POPCNT) for split64_avx2 */
	const char *pre, *post;
	size_t npre, npost;
	uint64_t records, lineno, skipped, first_skipped;
	/* per run */
	enum state st;
	int strip_cr; /* gzip input: htslib's bgzf_getline drops a final \r even without \n */
	char *obuf;
	size_t olen;
	char *carry, *hdr, *work;
	size_t clen, ccap, hlen, hcap, wcap;
	ward_vcf_sink_fn sink;
	void *ctx;
};

int ward_vcf_query_new(enum ward_vcf_mode mode, const char *format, struct ward_vcf_query **out)
{
	struct ward_vcf_query *q = calloc(1, sizeof *q);
	if (!q)
		return ward_error(WARD_E_NOMEM, "out of memory");
	q->mode = mode;
	int rc = 0;
	if (mode == WARD_VCF_ALL_IDS)
		rc = vcf_fmt_compile("%ID\\n", &q->fmt);
	else if (mode == WARD_VCF_FORMAT)
		rc = format ? vcf_fmt_compile(format, &q->fmt)
		            : ward_error(WARD_E_INVAL, "no format string");
	else if (mode != WARD_VCF_FIRST_ID)
		rc = ward_error(WARD_E_INVAL, "unknown query mode %d", (int)mode);
	if (rc == 0 && q->fmt)
		q->fast = vcf_fmt_is_id_only(q->fmt, &q->pre, &q->npre, &q->post, &q->npost);
#ifdef HAVE_SPLIT64
	__builtin_cpu_init();
	q->simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
	          __builtin_cpu_supports("popcnt") && !getenv("WARD_VCF_NO_SIMD");
#endif
	if (rc < 0) {
		ward_vcf_query_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

uint64_t ward_vcf_query_records(const struct ward_vcf_query *q)
{
	return q->records;
}

uint64_t ward_vcf_query_skipped(const struct ward_vcf_query *q, uint64_t *first_line)
{
	if (first_line)
		*first_line = q->first_skipped;
	return q->skipped;
}

void ward_vcf_query_free(struct ward_vcf_query *q)
{
	if (!q)
		return;
	vcf_fmt_free(q->fmt);
	free(q->obuf);
	free(q->carry);
	free(q->hdr);
	free(q->work);
	free(q);
}

/* ---- output --------------------------------------------------------------- */

static int flush(struct ward_vcf_query *q)
{
	if (!q->olen)
		return 0;
	size_t n = q->olen;
	q->olen = 0;
	return q->sink(q->ctx, q->obuf, n);
}

static int put(struct ward_vcf_query *q, const void *p, size_t n)
{
	if (OBUF - q->olen < n) {
		int rc = flush(q);
		if (rc < 0)
			return rc;
		if (n > OBUF)
			return q->sink(q->ctx, p, n);
	}
	memcpy(q->obuf + q->olen, p, n);
	q->olen += n;
	return 0;
}

/* ---- buffers -------------------------------------------------------------- */

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	if (need > LINE_MAX_)
		return ward_error(WARD_E_FORMAT, "a line or the header is longer than 1 GiB");
	size_t c = *cap ? *cap : 4096;
	while (c < need)
		c *= 2;
	char *b = realloc(*buf, c);
	if (!b)
		return ward_error(WARD_E_NOMEM, "out of memory");
	*buf = b;
	*cap = c;
	return 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	int rc = grow(buf, cap, *len + n + 1);
	if (rc < 0)
		return rc;
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

/* ---- columns -------------------------------------------------------------- */

/*
 * Finds the ID column of the data line [s, e) and checks that the line has
 * at least 8 columns. Returns 0, or the number of columns (1..7) if fewer.
 */
static inline int split_id(const char *s, const char *e, const char **id, const char **ide)
{
	const char *t = memchr(s, '\t', (size_t)(e - s));
	if (!t)
		return 1;
	t = memchr(t + 1, '\t', (size_t)(e - t - 1));
	if (!t)
		return 2;
	*id = t + 1;
	t = memchr(t + 1, '\t', (size_t)(e - t - 1));
	if (!t)
		return 3;
	*ide = t;
	for (int k = 4; k < 8; k++) {
		t = memchr(t + 1, '\t', (size_t)(e - t - 1));
		if (!t)
			return k;
	}
	return 0;
}

static int few_columns(uint64_t lineno, int cols)
{
	return ward_error(
	    WARD_E_FORMAT,
	    "line %llu: %d column%s, a VCF data line needs at least 8 (tab-separated)",
	    (unsigned long long)lineno, cols, cols == 1 ? "" : "s");
}

/* ---- lines ---------------------------------------------------------------- */

/* One data line on the fast path (first ID, or bcftools' %ID). */
/* htslib's vcf_parse turns BEL bytes of an ID into '.'; bcftools prints that. */
static int emit_bel_id(struct ward_vcf_query *q, const char *id, size_t k)
{
	int rc = put(q, q->pre, q->npre);
	for (size_t i = 0; rc == 0 && i < k; i++)
		rc = put(q, id[i] == '\a' ? "." : &id[i], 1);
	return rc < 0 ? rc : put(q, q->post, q->npost);
}

/*
 * Prints the ID [id, ide) of one record by the query's rule. bel: the ID may
 * hold a BEL byte (-1: not known, look).
 */
static inline int emit_id(struct ward_vcf_query *q, const char *id, const char *ide, int bel)
{
	q->records++;
	size_t k = (size_t)(ide - id);
	if (q->mode == WARD_VCF_FIRST_ID) {
		if (k == 1 && *id == '.')
			return 0;
		const char *semi = memchr(id, ';', k);
		if (semi)
			k = (size_t)(semi - id);
		if (OBUF - q->olen > k) {
			memcpy(q->obuf + q->olen, id, k);
			q->obuf[q->olen + k] = '\n';
			q->olen += k + 1;
			return 0;
		}
		int rc = put(q, id, k);
		return rc < 0 ? rc : put(q, "\n", 1);
	}
	if (k == 0) { /* htslib prints an empty ID as "." */
		id = ".";
		k = 1;
	}
	if (bel && (bel > 0 || memchr(id, '\a', k)))
		return emit_bel_id(q, id, k);
	if (OBUF - q->olen >= q->npre + k + q->npost) {
		char *o = q->obuf + q->olen;
		memcpy(o, q->pre, q->npre);
		memcpy(o + q->npre, id, k);
		memcpy(o + q->npre + k, q->post, q->npost);
		q->olen += q->npre + k + q->npost;
		return 0;
	}
	int rc = put(q, q->pre, q->npre);
	if (rc == 0)
		rc = put(q, id, k);
	return rc < 0 ? rc : put(q, q->post, q->npost);
}

/* One data line [s, e) on the fast path (first ID, or bcftools' %ID). */
static inline int fast_line(struct ward_vcf_query *q, const char *s, const char *e)
{
	const char *id, *ide;
	if (q->mode == WARD_VCF_FIRST_ID && s < e && *s == '#')
		return 0; /* awk's !/^#/ */
	int cols = split_id(s, e, &id, &ide);
	if (cols)
		return few_columns(q->lineno, cols);
	return emit_id(q, id, ide, -1);
}

#ifdef HAVE_SPLIT64
/*
 * The first 7 tabs of a line from the 64 bytes at s (all readable), as bit
 * masks: one load per 32 bytes instead of seven memchr calls. Returns 1 and
 * the ID bounds and the 7th tab if all seven come before any newline there,
 * else 0 (the caller falls back to memchr: long fields, short lines).
 */
__attribute__((target("avx2,bmi,popcnt"))) static int
split64_avx2(const char *s, const char **id, const char **ide, const char **t7, int *bel)
{
	const __m256i tab = _mm256_set1_epi8('\t'), nl = _mm256_set1_epi8('\n');
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)s);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32));
	uint64_t tm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, tab)) |
	              (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, tab)) << 32;
	uint64_t nm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl)) |
	              (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl)) << 32;
	if (nm)
		tm &= (nm & (0 - nm)) - 1; /* only the tabs before the first newline */
	if (__builtin_popcountll(tm) < 7)
		return 0;
	tm &= tm - 1; /* tab 1: after CHROM */
	unsigned t2 = (unsigned)__builtin_ctzll(tm);
	tm &= tm - 1;
	unsigned t3 = (unsigned)__builtin_ctzll(tm);
	tm &= tm - 1;
	tm &= tm - 1;
	tm &= tm - 1;
	tm &= tm - 1; /* tabs 4, 5, 6 */
	*id = s + t2 + 1;
	*ide = s + t3;
	*t7 = s + __builtin_ctzll(tm);
	/* BEL bytes inside the ID (htslib prints them as '.'): bits t2+1 .. t3-1. */
	const __m256i bell = _mm256_set1_epi8('\a');
	uint64_t bm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, bell)) |
	              (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, bell)) << 32;
	*bel = (bm & ~((2ull << t2) - 1) & ((1ull << t3) - 1)) != 0;
	return 1;
}
#endif

/* One data line through htslib and the bcftools format code. */
static int fmt_line(struct ward_vcf_query *q, const char *s, size_t len)
{
	const char *id, *ide;
	int cols = split_id(s, s + len, &id, &ide);
	if (cols)
		return few_columns(q->lineno, cols);
	q->records++;
	/* htslib would stop the line there and then read fields that are not set. */
	if (memchr(s, '\0', len))
		return ward_error(WARD_E_FORMAT, "line %llu: a NUL byte in a VCF line",
		                  (unsigned long long)q->lineno);
	int rc = grow(&q->work, &q->wcap, len + 1);
	if (rc < 0)
		return rc;
	memcpy(q->work, s, len);
	q->work[len] = '\0';
	const char *res;
	size_t rlen;
	rc = vcf_fmt_line(q->fmt, q->work, len, q->lineno, &res, &rlen);
	if (rc == 1) {
		if (!q->skipped++)
			q->first_skipped = q->lineno;
		return 0;
	}
	return rc < 0 ? rc : put(q, res, rlen);
}

/* The #CHROM line ends the header. */
static int header_end(struct ward_vcf_query *q, const char *s, size_t len)
{
	if (len < sizeof chrom_line - 1 || memcmp(s, chrom_line, sizeof chrom_line - 1) != 0)
		return ward_error(
		    WARD_E_FORMAT,
		    "line %llu: the header line must start with #CHROM POS ID REF ALT "
		    "QUAL FILTER INFO, separated by tabs",
		    (unsigned long long)q->lineno);
	q->st = ST_DATA;
	if (!q->fmt)
		return 0;
	return vcf_fmt_set_header(q->fmt, q->hdr, q->hlen);
}

static int header_line(struct ward_vcf_query *q, const char *s, size_t len)
{
	if (q->st == ST_START) {
		if (len < sizeof fileformat - 1 ||
		    memcmp(s, fileformat, sizeof fileformat - 1) != 0)
			return ward_error(
			    WARD_E_FORMAT,
			    "line 1: not a VCF file (it must start with ##fileformat=VCF)");
		q->st = ST_HEADER;
	}
	if (len == 0)
		return 0; /* htslib skips empty header lines */
	if (s[0] != '#')
		return ward_error(WARD_E_FORMAT,
		                  "line %llu: data line before the #CHROM header line",
		                  (unsigned long long)q->lineno);
	if (q->fmt) {
		int rc = append(&q->hdr, &q->hlen, &q->hcap, s, len);
		if (rc == 0)
			rc = append(&q->hdr, &q->hlen, &q->hcap, "\n", 1);
		if (rc < 0)
			return rc;
	}
	if (len >= 2 && s[1] == '#')
		return 0;
	return header_end(q, s, len);
}

/* Any line, without its \n; has_nl says whether it had one. */
static int one_line(struct ward_vcf_query *q, const char *s, size_t len, int has_nl)
{
	q->lineno++;
	/* htslib drops \r before \n (kgetline), and any final \r in gzip input (bgzf_getline). */
	if (len && s[len - 1] == '\r' && (has_nl || q->strip_cr))
		len--;
	if (q->st != ST_DATA)
		return header_line(q, s, len);
	if (q->fast || q->mode == WARD_VCF_FIRST_ID)
		return fast_line(q, s, s + len);
	return fmt_line(q, s, len);
}

/* The fast path over all complete lines of a chunk; *pp ends at the incomplete tail. */
static int fast_run(struct ward_vcf_query *q, const char **pp, const char *end)
{
	const char *p = *pp;
	int rc = 0;
	for (;;) {
#ifdef HAVE_SPLIT64
		const char *id, *ide, *t7;
		int bel;
		if (q->simd && end - p >= 64 && (*p != '#' || q->mode != WARD_VCF_FIRST_ID) &&
		    split64_avx2(p, &id, &ide, &t7, &bel)) {
			/* Seven tabs found: the newline is somewhere after the 7th. */
			const char *nl = memchr(t7 + 1, '\n', (size_t)(end - t7 - 1));
			if (!nl)
				break;
			q->lineno++;
			if ((rc = emit_id(q, id, ide, bel)) < 0)
				break;
			p = nl + 1;
			continue;
		}
#endif
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		q->lineno++;
		rc = fast_line(q, p, nl);
		if (rc < 0)
			break;
		p = nl + 1;
	}
	*pp = p;
	return rc;
}

static int scan_chunk(struct ward_vcf_query *q, const char *p, size_t n)
{
	const char *end = p + n;
	int rc;
	if (q->clen) {
		const char *nl = memchr(p, '\n', n);
		if (!nl)
			return append(&q->carry, &q->clen, &q->ccap, p, n);
		if ((rc = append(&q->carry, &q->clen, &q->ccap, p, (size_t)(nl - p))) < 0)
			return rc;
		size_t total = q->clen;
		q->clen = 0;
		if ((rc = one_line(q, q->carry, total, 1)) < 0)
			return rc;
		p = nl + 1;
	}
	while (p < end) {
		if (q->st == ST_DATA && (q->fast || q->mode == WARD_VCF_FIRST_ID)) {
			if ((rc = fast_run(q, &p, end)) < 0)
				return rc;
			break;
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		if ((rc = one_line(q, p, (size_t)(nl - p), 1)) < 0)
			return rc;
		p = nl + 1;
	}
	return p < end ? append(&q->carry, &q->clen, &q->ccap, p, (size_t)(end - p)) : 0;
}

static int finish(struct ward_vcf_query *q)
{
	int rc = 0;
	if (q->clen) {
		size_t n = q->clen;
		q->clen = 0;
		rc = one_line(q, q->carry, n, 0);
		if (rc < 0)
			return rc;
	}
	if (q->st == ST_START)
		return ward_error(WARD_E_FORMAT, "empty input: not a VCF file");
	if (q->st == ST_HEADER)
		return ward_error(WARD_E_FORMAT,
		                  "line %llu: the input ends before the #CHROM header line",
		                  (unsigned long long)q->lineno);
	return 0;
}

int ward_vcf_query_run(struct ward_vcf_query *q, struct ward_vcf_input *in, ward_vcf_sink_fn sink,
                       void *ctx)
{
	if (!q->obuf && !(q->obuf = malloc(OBUF)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	q->sink = sink;
	q->ctx = ctx;
	q->st = ST_START;
	q->records = q->lineno = q->skipped = q->first_skipped = 0;
	q->olen = q->clen = q->hlen = 0;
	q->strip_cr = (ward_vcf_input_layers(in) & WARD_VCF_LAYER_GZIP) != 0;
	int rc;
	for (;;) {
		const uint8_t *d;
		size_t n;
		rc = ward_vcf_input_next(in, &d, &n);
		if (rc < 0 || n == 0)
			break;
		rc = scan_chunk(q, (const char *)d, n);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = finish(q);
	int frc = flush(q);
	return rc < 0 ? rc : frc;
}
