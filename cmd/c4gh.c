/* crypt4gh: encrypt, decrypt, reencrypt, rearrange — a drop-in for the Python reference CLI. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/c4gh_common.h"
#include "cmd/commands.h"

static const char usage_text[] =
    "usage:\n"
    "  crypt4gh encrypt [--sk PATH] --recipient_pk PATH [--recipient_pk PATH]... [--range S-E]\n"
    "                   [--header PATH]\n"
    "  crypt4gh decrypt [--sk PATH] [--sender_pk PATH] [--range S-E]\n"
    "  crypt4gh rearrange [--sk PATH] --range S-E\n"
    "  crypt4gh reencrypt [--sk PATH] --recipient_pk PATH [--recipient_pk PATH]... [--trim]\n"
    "                     [--header-only]\n"
    "\n"
    "Reads standard input and writes standard output unless -i FILE / -o FILE are given;\n"
    "an -o FILE appears only when the command succeeds.\n"
    "\n"
    "options:\n"
    "  --sk PATH            your secret key (default: $C4GH_SECRET_KEY, else ~/.c4gh/key;\n"
    "                       encrypt without one uses a fresh ephemeral key)\n"
    "  --recipient_pk PATH  a reader's public key (Crypt4GH or ssh-ed25519); repeatable\n"
    "  --sender_pk PATH     accept only header packets written by this public key\n"
    "  --range S-E          plaintext bytes [S, E): start included, end excluded;\n"
    "                       S- or S alone: from S to the end\n"
    "  --compat-range       read S-E as the Python reference does: bytes [S, E-1)\n"
    "  --header PATH        encrypt: write the header there, the segments to the output\n"
    "  -t, --trim           reencrypt: drop the header packets you cannot open\n"
    "  --header-only        reencrypt: the input is a header without data\n"
    "  -i, --input FILE     read FILE instead of standard input\n"
    "  -o, --output FILE    write FILE (atomically) instead of standard output\n"
    "  -j, --threads N      worker threads (default: number of CPUs)\n"
    "  -q, --quiet          no progress line on a terminal\n"
    "  -h, --help, -v, --version\n"
    "\n"
    "environment: C4GH_SECRET_KEY (secret key path), C4GH_PASSPHRASE (its passphrase).\n"
    "exit status: 0 ok, 1 other error, 2 wrong passphrase, 3 no packet for this key,\n"
    "4 not a Crypt4GH file, 5 corrupt or unsupported header, 6 a segment failed\n"
    "authentication, 7 truncated input, 8 I/O error, 64 usage.\n";

enum { OPT_SK = 256, OPT_RCPT, OPT_SENDER, OPT_RANGE, OPT_HEADER, OPT_HEADER_ONLY, OPT_COMPAT };

static const struct option long_opts[] = {
    {"sk", required_argument, NULL, OPT_SK},
    {"recipient_pk", required_argument, NULL, OPT_RCPT},
    {"recipient-pk", required_argument, NULL, OPT_RCPT},
    {"sender_pk", required_argument, NULL, OPT_SENDER},
    {"sender-pk", required_argument, NULL, OPT_SENDER},
    {"range", required_argument, NULL, OPT_RANGE},
    {"compat-range", no_argument, NULL, OPT_COMPAT},
    {"header", required_argument, NULL, OPT_HEADER},
    {"header-only", no_argument, NULL, OPT_HEADER_ONLY},
    {"trim", no_argument, NULL, 't'},
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'v'},
    {"log", required_argument, NULL, 'L'}, /* accepted for compatibility, ignored */
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "crypt4gh: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see `crypt4gh --help`)\n");
	return WARD_EXIT_USAGE;
}

/* Parses "S-E", "S-" or "S" into [start, end). */
static int parse_range(const char *s, struct c4gh_cli *c)
{
	char buf[64];
	unsigned long long a, b;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (ward_parse_u64(buf, &a) != 0)
		return -1;
	c->range_start = a;
	c->range_end = UINT64_MAX;
	c->has_range = 1;
	if (dash && dash[1]) {
		if (ward_parse_u64(dash + 1, &b) != 0 || b <= a)
			return -1;
		c->range_end = b;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct c4gh_cli *c)
{
	int opt;
	unsigned long long n;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "ti:o:j:qhv", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SK:
			c->sk_path = optarg;
			break;
		case OPT_SENDER:
			c->sender_path = optarg;
			break;
		case OPT_HEADER:
			c->header_path = optarg;
			break;
		case OPT_HEADER_ONLY:
			c->header_only = 1;
			break;
		case OPT_COMPAT:
			c->compat_range = 1;
			break;
		case 't':
			c->trim = 1;
			break;
		case 'i':
			c->in_path = optarg;
			break;
		case 'o':
			c->out_path = optarg;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case 'L':
			break;
		case OPT_RCPT:
			if (c->nrcpt == C4GH_CLI_MAX_RCPT)
				return usage_error("too many recipients (limit %s)", "256");
			c->rcpt_paths[c->nrcpt++] = optarg;
			break;
		case OPT_RANGE:
			c->range_arg = optarg;
			if (parse_range(optarg, c) != 0)
				return usage_error("invalid --range '%s': expected START-END with "
				                   "START < END, or START",
				                   optarg);
			break;
		case 'j':
			if (ward_parse_u64(optarg, &n) != 0 || n == 0 || n > 64)
				return usage_error("invalid --threads '%s' (1 to 64)", optarg);
			c->threads = (unsigned)n;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'v':
			printf("crypt4gh (ward) %s\n", WARD_VERSION_STRING);
			exit(0);
		default:
			return WARD_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (c->compat_range && c->has_range && c->range_end != UINT64_MAX) {
		/* The reference keeps E - S - 1 bytes. */
		c->range_end--;
		if (c->range_end <= c->range_start)
			return usage_error("--range '%s' is empty under --compat-range",
			                   c->range_arg);
	}
	return 0;
}

int cmd_c4gh_main(int argc, char **argv)
{
	struct c4gh_cli c = {0};
	if (argc < 2) {
		fputs(usage_text, stderr);
		return WARD_EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(sub, "-v") || !strcmp(sub, "--version")) {
		printf("crypt4gh (ward) %s\n", WARD_VERSION_STRING);
		return 0;
	}
	int rc = parse_args(argc - 1, argv + 1, &c);
	if (rc)
		return rc;
	if (!strcmp(sub, "encrypt"))
		return c4gh_cli_encrypt(&c);
	if (!strcmp(sub, "decrypt"))
		return c4gh_cli_decrypt(&c);
	if (!strcmp(sub, "reencrypt"))
		return c4gh_cli_reencrypt(&c);
	if (!strcmp(sub, "rearrange"))
		return c4gh_cli_rearrange(&c);
	return usage_error("unknown command '%s'", sub);
}
