/* ward vcf: encrypt a VCF, extract IDs from an encrypted VCF, bcftools-style queries (see man
 * ward-vcf). */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "core/core_internal.h" /* ward_write_full: cmd/ links libward statically */
#include "ward/crypt4gh.h"
#include "ward/io.h"
#include "ward/vcf.h"

#define PROG     "ward vcf"
#define MAX_RCPT 64

static const char usage_text[] =
    "usage:\n"
    "  ward vcf encrypt [--sk PATH] [--recipient_pk PATH]... [-o FILE] [FILE [OUTPUT]]\n"
    "  ward vcf process [--sk PATH] [--sender_pk PATH] [--all-ids] [-o FILE] [FILE [OUTPUT]]\n"
    "  ward vcf query -f FORMAT [--sk PATH] [--sender_pk PATH] [-o FILE] [FILE [OUTPUT]]\n"
    "\n"
    "encrypt  Crypt4GH-encrypts FILE (or standard input) byte for byte.\n"
    "process  decrypts a Crypt4GH VCF and prints the first ID of each record (none\n"
    "         for `.`), as the original example; --all-ids prints the ID column as\n"
    "         written (= bcftools query -f '%ID\\n').\n"
    "query    prints FORMAT for each record, byte-identical to bcftools query -f:\n"
    "         %CHROM %POS %ID %REF %ALT %ALT{N} %QUAL %FILTER %INFO %INFO/TAG\n"
    "         %INFO/TAG{N} %TAG %LINE, \\n, \\t. The input may be plain VCF or\n"
    "         BGZF/gzip, each plain or inside Crypt4GH (detected by magic).\n"
    "\n"
    "keys (options win over the environment):\n"
    "  SENDER_KEY, RECIPIENT_KEY   64 hex digits each: raw X25519 secret keys, as the\n"
    "        original example. encrypt writes with SENDER_KEY for the public key of\n"
    "        RECIPIENT_KEY; process/query decrypt with RECIPIENT_KEY and, when\n"
    "        SENDER_KEY is set, accept only packets written by its public key.\n"
    "  --sk PATH            secret key file: the writer (encrypt) or reader (process,\n"
    "                       query); else $C4GH_SECRET_KEY (+ $C4GH_PASSPHRASE)\n"
    "  --recipient_pk PATH  a reader's public key file (encrypt; repeatable)\n"
    "  --sender_pk PATH     accept only packets written by this public key\n"
    "\n"
    "options:\n"
    "  -f, --format FORMAT  query: the bcftools format string\n"
    "  --all-ids            process: print the whole ID column (bcftools rule)\n"
    "  -o, --output FILE    write FILE (atomically) instead of standard output\n"
    "  -j, --threads N      Crypt4GH decryption threads, the reader included (default 2)\n"
    "  -h, --help\n"
    "\n"
    "exit status: 0 ok, 1 other error, 2 wrong passphrase, 3 no packet for this key\n"
    "(or not written by the expected sender), 4 not a Crypt4GH file, 5 malformed input\n"
    "(not a VCF, a data line with fewer than 8 columns, corrupt gzip or header),\n"
    "6 a segment failed authentication, 7 truncated input, 8 I/O error, 64 usage.\n";

enum { OPT_SK = 256, OPT_RCPT, OPT_SENDER, OPT_ALL };

static const struct option long_opts[] = {
    {"sk", required_argument, NULL, OPT_SK},
    {"recipient_pk", required_argument, NULL, OPT_RCPT},
    {"recipient-pk", required_argument, NULL, OPT_RCPT},
    {"sender_pk", required_argument, NULL, OPT_SENDER},
    {"sender-pk", required_argument, NULL, OPT_SENDER},
    {"all-ids", no_argument, NULL, OPT_ALL},
    {"format", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct vcf_cli {
	const char *sub, *sk_path, *sender_path, *out_path, *in_path, *format;
	const char *rcpt_paths[MAX_RCPT];
	size_t nrcpt;
	int all_ids;
	unsigned threads;
};

static int usage_error(const char *what)
{
	fprintf(stderr, "%s: %s (see `ward vcf --help`)\n", PROG, what);
	return WARD_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct vcf_cli *c)
{
	int opt;
	unsigned long long n;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:o:j:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SK:
			c->sk_path = optarg;
			break;
		case OPT_SENDER:
			c->sender_path = optarg;
			break;
		case OPT_ALL:
			c->all_ids = 1;
			break;
		case 'f':
			c->format = optarg;
			break;
		case 'o':
			c->out_path = optarg;
			break;
		case OPT_RCPT:
			if (c->nrcpt == MAX_RCPT)
				return usage_error("too many --recipient_pk (limit 64)");
			c->rcpt_paths[c->nrcpt++] = optarg;
			break;
		case 'j':
			if (ward_parse_u64(optarg, &n) != 0 || n > 256)
				return usage_error("--threads wants a number from 0 to 256");
			c->threads = (unsigned)n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		default:
			return usage_error("bad option");
		}
	}
	if (optind < argc)
		c->in_path = argv[optind++];
	/* The original example takes the output file as a second argument. */
	if (optind < argc && !c->out_path && strcmp(argv[optind], "-") != 0)
		c->out_path = argv[optind++];
	else if (optind < argc && strcmp(argv[optind], "-") == 0)
		optind++;
	if (optind < argc)
		return usage_error("too many arguments");
	return 0;
}

/* Reports the last libward error as "ward vcf SUB: WHAT: message"; returns the exit code. */
static int report(const struct vcf_cli *c, const char *what, int err)
{
	char prog[64];
	snprintf(prog, sizeof prog, "%s %s", PROG, c->sub);
	return ward_report(prog, what, err);
}

static const char *in_name(const struct vcf_cli *c)
{
	return c->in_path ? c->in_path : "(stdin)";
}

/* A raw hex secret key from an environment variable, the original example's key format. */
static int env_hex_key(const struct vcf_cli *c, const char *var, struct ward_c4gh_seckey **out)
{
	const char *hex = getenv(var);
	*out = NULL;
	if (!hex || !*hex)
		return 0; /* empty = unset */
	int rc = ward_c4gh_seckey_from_hex(hex, out);
	if (rc < 0) {
		fprintf(stderr,
		        "%s %s: %s: not a key: want 64 hex digits (a raw X25519 secret key)\n",
		        PROG, c->sub, var);
		return WARD_EXIT_USAGE;
	}
	return 0;
}

static int load_file_key(const struct vcf_cli *c, const char *path, struct ward_c4gh_seckey **out)
{
	int rc = ward_c4gh_seckey_load(path, ward_cmd_passphrase, (void *)path, out);
	return rc < 0 ? report(c, path, rc) : 0;
}

/* Our secret key: --sk, else the hex variable, else $C4GH_SECRET_KEY; NULL if none. */
static int load_own_key(const struct vcf_cli *c, const char *var, struct ward_c4gh_seckey **out)
{
	*out = NULL;
	if (c->sk_path)
		return load_file_key(c, c->sk_path, out);
	int rc = env_hex_key(c, var, out);
	if (rc || *out)
		return rc;
	const char *path = getenv("C4GH_SECRET_KEY");
	return path && *path ? load_file_key(c, path, out) : 0;
}

/* The expected writer: --sender_pk, else the public key of SENDER_KEY. */
static int load_sender(const struct vcf_cli *c, uint8_t pk[32], int *have)
{
	*have = 0;
	if (c->sender_path) {
		int rc = ward_c4gh_pubkey_load(c->sender_path, pk);
		if (rc < 0)
			return report(c, c->sender_path, rc);
		*have = 1;
		return 0;
	}
	struct ward_c4gh_seckey *sk;
	int rc = env_hex_key(c, "SENDER_KEY", &sk);
	if (rc)
		return rc;
	if (sk) {
		ward_c4gh_seckey_public(sk, pk);
		ward_c4gh_seckey_free(sk);
		*have = 1;
	}
	return 0;
}

static int open_io(const struct vcf_cli *c, int *in_fd, struct ward_outfile **out)
{
	*in_fd = STDIN_FILENO;
	*out = NULL;
	if (c->in_path && strcmp(c->in_path, "-") != 0) {
		*in_fd = open(c->in_path, O_RDONLY | O_CLOEXEC);
		if (*in_fd < 0)
			return report(c, c->in_path, ward_error_errno("cannot open"));
	}
	int rc = ward_outfile_open(c->out_path, 0644, out);
	if (rc < 0) {
		if (*in_fd != STDIN_FILENO)
			close(*in_fd);
		return report(c, c->out_path, rc);
	}
	return 0;
}

/* Ends the command: commits -o on success, removes it on failure. */
static int finish(const struct vcf_cli *c, int in_fd, struct ward_outfile *out, int err,
                  const char *what)
{
	int code = 0;
	if (err < 0) {
		code = report(c, what, err);
		ward_outfile_abort(out);
	} else {
		int rc = ward_outfile_commit(out, 0);
		if (rc < 0)
			code = report(c, c->out_path, rc);
	}
	if (in_fd != STDIN_FILENO)
		close(in_fd);
	return code;
}

static int cmd_encrypt(const struct vcf_cli *c)
{
	struct ward_c4gh_seckey *writer = NULL, *rsk = NULL;
	uint8_t(*rcpt)[32] = calloc(c->nrcpt + 1, 32);
	size_t n = 0;
	int code = rcpt ? load_own_key(c, "SENDER_KEY", &writer) : WARD_EXIT_FAIL;
	for (size_t i = 0; code == 0 && i < c->nrcpt; i++) {
		int rc = ward_c4gh_pubkey_load(c->rcpt_paths[i], rcpt[n]);
		if (rc < 0)
			code = report(c, c->rcpt_paths[i], rc);
		n++;
	}
	if (code == 0 && n == 0 && (code = env_hex_key(c, "RECIPIENT_KEY", &rsk)) == 0) {
		if (rsk)
			ward_c4gh_seckey_public(rsk, rcpt[n++]);
		else
			code = usage_error(
			    "encrypt: no recipient: set RECIPIENT_KEY or pass --recipient_pk");
	}
	int in_fd = -1;
	struct ward_outfile *out = NULL;
	if (code == 0)
		code = open_io(c, &in_fd, &out);
	if (code == 0) {
		struct ward_c4gh_write_opts wo = {.writer = writer,
		                                  .recipients = (const uint8_t(*)[32])rcpt,
		                                  .nrecipients = n,
		                                  .threads = c->threads,
		                                  .header_fd = -1};
		struct ward_c4gh_writer *w = NULL;
		int rc = ward_c4gh_writer_open(ward_outfile_fd(out), &wo, &w);
		const char *what = c->out_path;
		if (rc == 0) {
			rc = ward_c4gh_writer_write_fd(w, in_fd);
			what = in_name(c);
			if (rc < 0)
				ward_c4gh_writer_abort(w);
			else
				rc = ward_c4gh_writer_close(w);
		}
		code = finish(c, in_fd, out, rc, what);
	}
	ward_c4gh_seckey_free(writer);
	ward_c4gh_seckey_free(rsk);
	free(rcpt);
	return code;
}

static int sink_fd(void *ctx, const void *buf, size_t len)
{
	int fd = *(const int *)ctx;
	return ward_write_full(fd, buf, len) < 0 ? ward_error_errno("cannot write the output") : 0;
}

/* process and query: decrypt if needed, then run the query over the text. */
static int cmd_read(const struct vcf_cli *c, enum ward_vcf_mode mode)
{
	struct ward_c4gh_seckey *sk = NULL;
	uint8_t sender[32];
	int have_sender = 0;
	int code = load_own_key(c, "RECIPIENT_KEY", &sk);
	if (code == 0)
		code = load_sender(c, sender, &have_sender);
	if (code == 0 && !sk && mode != WARD_VCF_FORMAT)
		code =
		    usage_error("process: no key: set RECIPIENT_KEY (64 hex digits) or pass --sk");
	struct ward_vcf_query *q = NULL;
	if (code == 0) {
		int rc = ward_vcf_query_new(mode, c->format, &q);
		if (rc < 0) {
			report(c, "-f", rc);
			code = WARD_EXIT_USAGE;
		}
	}
	int in_fd = -1;
	struct ward_outfile *out = NULL;
	if (code == 0)
		code = open_io(c, &in_fd, &out);
	if (code == 0) {
		const struct ward_c4gh_seckey *keys[1] = {sk};
		struct ward_c4gh_read_opts ro = {.keys = keys,
		                                 .nkeys = 1,
		                                 .sender_pk = have_sender ? sender : NULL,
		                                 .threads = c->threads};
		struct ward_vcf_input_opts io = {
		    .c4gh = mode == WARD_VCF_FORMAT ? WARD_VCF_C4GH_AUTO : WARD_VCF_C4GH_REQUIRE,
		    .c4gh_opts = sk ? &ro : NULL};
		struct ward_vcf_input *in = NULL;
		int rc = ward_vcf_input_open(in_fd, &io, &in);
		if (rc == 0) {
			int fd = ward_outfile_fd(out);
			rc = ward_vcf_query_run(q, in, sink_fd, &fd);
		}
		uint64_t first, nskip = ward_vcf_query_skipped(q, &first);
		if (nskip)
			fprintf(stderr,
			        "%s %s: %s: warning: skipped %llu record%s htslib could not parse "
			        "(first at line %llu), as bcftools query does\n",
			        PROG, c->sub, in_name(c), (unsigned long long)nskip,
			        nskip == 1 ? "" : "s", (unsigned long long)first);
		ward_vcf_input_free(in);
		code = finish(c, in_fd, out, rc, in_name(c));
	}
	ward_vcf_query_free(q);
	ward_c4gh_seckey_free(sk);
	return code;
}

int cmd_vcf_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? WARD_EXIT_USAGE : 0;
	}
	/* Key parsing uses sodium_malloc, which needs the library initialised. */
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialise\n", PROG);
		return WARD_EXIT_FAIL;
	}
	struct vcf_cli c = {.sub = argv[1], .threads = UINT_MAX};
	int rc = parse_args(argc - 1, argv + 1, &c);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (c.threads == UINT_MAX) {
		/*
		 * 2 = the reading thread and one worker decrypt (the library counts the
		 * caller): on 2 CPUs that keeps up with the scan, and the reader's
		 * buffers stay small (peak RSS ~15 MB; each thread more adds ~3 MB).
		 */
		c.threads = 2;
	}
	if (strcmp(c.sub, "encrypt") == 0) {
		if (c.format || c.all_ids || c.sender_path)
			return usage_error("encrypt takes no -f, --all-ids or --sender_pk");
		return cmd_encrypt(&c);
	}
	if (strcmp(c.sub, "process") == 0) {
		if (c.format || c.nrcpt)
			return usage_error("process takes no -f or --recipient_pk (see `query`)");
		return cmd_read(&c, c.all_ids ? WARD_VCF_ALL_IDS : WARD_VCF_FIRST_ID);
	}
	if (strcmp(c.sub, "query") == 0) {
		if (!c.format)
			return usage_error("query needs -f FORMAT");
		if (c.all_ids || c.nrcpt)
			return usage_error("query takes no --all-ids or --recipient_pk");
		return cmd_read(&c, WARD_VCF_FORMAT);
	}
	fprintf(stderr, "%s: unknown subcommand '%s' (encrypt, process, query)\n", PROG, c.sub);
	return WARD_EXIT_USAGE;
}
