/*
 * VCF on Crypt4GH: a layered input (file or memory, then optionally
 * Crypt4GH, then optionally BGZF/gzip, detected by magic) and a streaming
 * query engine (the first-ID rule of the original example, bcftools'
 * `%ID`, and a bcftools-compatible `query -f` subset) in constant memory.
 *
 * Thread safety: objects are used by one thread at a time; the input runs
 * its own worker threads internally (Crypt4GH decryption, BGZF inflation).
 */
#ifndef WARD_VCF_H
#define WARD_VCF_H

#include <stddef.h>
#include <stdint.h>

#include "ward/crypt4gh.h"
#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Input ------------------------------------------------------------- */

/* What to do when the input starts with the Crypt4GH magic. */
enum ward_vcf_c4gh_mode {
	WARD_VCF_C4GH_AUTO = 0, /* decrypt Crypt4GH input, read anything else as is */
	WARD_VCF_C4GH_REQUIRE,  /* the input must be Crypt4GH (WARD_E_NOTC4GH otherwise) */
};

struct ward_vcf_input_opts {
	enum ward_vcf_c4gh_mode c4gh;
	/* Keys etc. for Crypt4GH input; NULL: Crypt4GH input is an error (WARD_E_NOKEY). */
	const struct ward_c4gh_read_opts *c4gh_opts;
	/*
	 * Threads inflating BGZF: 1 = the reading thread inflates each block as
	 * it needs it; N >= 2 = N worker threads inflate blocks in parallel,
	 * ahead of the reader; 0 = automatic (one worker per CPU, up to 4, when
	 * there are at least 2 CPUs).
	 */
	unsigned threads;
};

/* Layers found by ward_vcf_input_open (bit set). */
enum ward_vcf_layer {
	WARD_VCF_LAYER_C4GH = 1,
	WARD_VCF_LAYER_GZIP = 2, /* gzip (any), inflated with zlib unless BGZF */
	WARD_VCF_LAYER_BGZF = 4, /* gzip members are BGZF blocks, inflated with libdeflate */
};

struct ward_vcf_input;

/*
 * Opens a layered input on fd (which stays the caller's and must stay open
 * until ward_vcf_input_free). The Crypt4GH check does not consume bytes of a
 * regular file or a pipe. Errors: those of ward_c4gh_reader_open,
 * WARD_E_NOTC4GH (REQUIRE mode), WARD_E_NOKEY (Crypt4GH without keys),
 * WARD_E_IO, WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_vcf_input_open(int fd, const struct ward_vcf_input_opts *opts,
                                                   struct ward_vcf_input **out);

/*
 * Same on a memory buffer (not copied; it must outlive the input). chunk > 0
 * hands the bytes out in pieces of at most chunk bytes (tests, fuzzing).
 */
WARD_EXPORT WARD_NODISCARD int ward_vcf_input_open_mem(const void *buf, size_t len, size_t chunk,
                                                       const struct ward_vcf_input_opts *opts,
                                                       struct ward_vcf_input **out);

/*
 * Next piece of plaintext (decrypted, inflated) text. *data stays valid until
 * the next call; *len == 0 means the end. Errors: WARD_E_FORMAT (corrupt
 * gzip/BGZF), WARD_E_TRUNCATED, WARD_E_BADMSG, WARD_E_IO. After an error the
 * input only returns errors.
 */
WARD_EXPORT WARD_NODISCARD int ward_vcf_input_next(struct ward_vcf_input *in, const uint8_t **data,
                                                   size_t *len);

/* The layers found (enum ward_vcf_layer bits). */
WARD_EXPORT unsigned ward_vcf_input_layers(const struct ward_vcf_input *in);

/* Stops the workers and frees. Accepts NULL. */
WARD_EXPORT void ward_vcf_input_free(struct ward_vcf_input *in);

/* ---- Query ------------------------------------------------------------- */

enum ward_vcf_mode {
	/*
	 * The original example's `process`: the first ID of each record, nothing
	 * for `.`; exactly awk -F'\t' '!/^#/ && $3!="." {split($3,a,";"); print a[1]}'.
	 */
	WARD_VCF_FIRST_ID = 0,
	/* The ID column as written: bcftools query -f '%ID\n'. */
	WARD_VCF_ALL_IDS,
	/* A bcftools query -f format (see ward_vcf_query_new). */
	WARD_VCF_FORMAT,
};

/* Receives output bytes; returns 0 or a negative ward_err to stop. */
typedef int (*ward_vcf_sink_fn)(void *ctx, const void *buf, size_t len);

struct ward_vcf_query;

/*
 * Prepares a query. format is used in WARD_VCF_FORMAT mode only: literal text
 * with the escapes \n, \t (and \c = c), and %CHROM %POS %ID %REF %ALT %ALT{N}
 * %QUAL %FILTER %INFO %INFO/TAG %INFO/TAG{N} %TAG (a header INFO tag) %LINE.
 * Output is byte-identical to `bcftools query -f FORMAT` (htslib 1.16) on the
 * same plaintext. Errors: WARD_E_INVAL (bad or unsupported format).
 */
WARD_EXPORT WARD_NODISCARD int ward_vcf_query_new(enum ward_vcf_mode mode, const char *format,
                                                  struct ward_vcf_query **out);

/*
 * Reads the whole input and writes the result through sink, in constant
 * memory (plus the longest line). Output is buffered; it is flushed before
 * returning, also on error. Errors: WARD_E_FORMAT ("line N: ..." for input
 * that is not VCF: no ##fileformat, a data line with fewer than 8 columns,
 * a header tag the format needs is missing), input errors, sink errors.
 */
WARD_EXPORT WARD_NODISCARD int ward_vcf_query_run(struct ward_vcf_query *q,
                                                  struct ward_vcf_input *in, ward_vcf_sink_fn sink,
                                                  void *ctx);

/* Number of data lines seen by the last run. */
WARD_EXPORT uint64_t ward_vcf_query_records(const struct ward_vcf_query *q);

/*
 * Records of the last run that htslib could not parse (WARD_VCF_FORMAT with
 * fields other than %ID): bcftools query prints htslib's message and skips
 * them, and so does the query. *first_line (may be NULL) gets the first one.
 */
WARD_EXPORT uint64_t ward_vcf_query_skipped(const struct ward_vcf_query *q, uint64_t *first_line);

/* Frees. Accepts NULL. */
WARD_EXPORT void ward_vcf_query_free(struct ward_vcf_query *q);

#ifdef __cplusplus
}
#endif
#endif
