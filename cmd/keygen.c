/* crypt4gh-keygen: make a Crypt4GH key pair (drop-in for the Python reference's keygen). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "core/core_internal.h" /* ward_write_full: cmd/ links libward statically */
#include "ward/crypt4gh.h"
#include "ward/io.h"

#define PROG     "crypt4gh-keygen"
#define PASS_MAX 1024

struct keygen {
	char *sk_path, *pk_path;
	const char *comment;
	int force, nocrypt, relock, kdf_set;
	enum ward_c4gh_kdf kdf;
	unsigned long long rounds;
	int overwrite_sk, overwrite_pk;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " [-hv] [-f] [--pk PATH] [--sk PATH] [-C COMMENT] [--nocrypt]\n"
	        "                       [--relock] [--kdf NAME] [--rounds N]\n"
	        "\n"
	        "Creates a Crypt4GH key pair: an X25519 secret key in the c4gh-v1 format\n"
	        "(mode 0600) and its public key (mode 0644).\n"
	        "\n"
	        "  --sk PATH      secret key [default: $C4GH_SECRET_KEY or ~/.c4gh/key]\n"
	        "  --pk PATH      public key [default: $C4GH_PUBLIC_KEY or ~/.c4gh/key.pub]\n"
	        "  -C COMMENT     comment stored in the secret key\n"
	        "  --nocrypt      do not encrypt the secret key\n"
	        "  -f             overwrite existing files without asking\n"
	        "  --relock       re-encrypt the existing secret key with a new passphrase\n"
	        "  --kdf NAME     scrypt (default), bcrypt or pbkdf2_hmac_sha256\n"
	        "  --rounds N     rounds for bcrypt (default 100) or pbkdf2 (default 100000)\n"
	        "  -h, --help     this help;  -v, --version  the version\n"
	        "\n"
	        "The passphrase is read twice from the terminal, or once from C4GH_PASSPHRASE.\n"
	        "An empty passphrase leaves the key unencrypted. Existing files are kept unless\n"
	        "-f is given or you confirm on a terminal.\n"
	        "Exit status: 0 done, 1 failure, 8 I/O error, 9 refused to overwrite, 64 usage.\n");
}

/* "~/x" -> "$HOME/x" (malloc'ed), as Python's os.path.expanduser does for the reference. */
static char *expand_home(const char *p)
{
	const char *home = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0') && home && *home) {
		size_t n = strlen(home) + strlen(p);
		char *out = malloc(n);
		if (out)
			snprintf(out, n, "%s%s", home, p + 1);
		return out;
	}
	return strdup(p);
}

static int parse_kdf(const char *s, enum ward_c4gh_kdf *kdf)
{
	if (strcmp(s, "scrypt") == 0)
		*kdf = WARD_C4GH_KDF_SCRYPT;
	else if (strcmp(s, "bcrypt") == 0)
		*kdf = WARD_C4GH_KDF_BCRYPT;
	else if (strcmp(s, "pbkdf2_hmac_sha256") == 0 || strcmp(s, "pbkdf2") == 0)
		*kdf = WARD_C4GH_KDF_PBKDF2;
	else
		return -1;
	return 0;
}

/* Checks option combinations and resolves the paths. Returns -1 to go on, or an exit code. */
static int check_args(struct keygen *k, int rounds_set, const char *sk, const char *pk)
{
	if (k->nocrypt && (k->kdf_set || rounds_set)) {
		fprintf(stderr, PROG ": --kdf and --rounds make no sense with --nocrypt\n");
		return WARD_EXIT_USAGE;
	}
	if (rounds_set && k->kdf == WARD_C4GH_KDF_SCRYPT) {
		fprintf(stderr, PROG ": scrypt has a fixed cost; --rounds needs --kdf bcrypt or "
		                     "pbkdf2_hmac_sha256\n");
		return WARD_EXIT_USAGE;
	}
	k->sk_path = expand_home(sk && *sk ? sk : "~/.c4gh/key");
	k->pk_path = expand_home(pk && *pk ? pk : "~/.c4gh/key.pub");
	if (!k->sk_path || !k->pk_path)
		return ward_report(PROG, NULL, WARD_E_NOMEM);
	if (!k->relock && strcmp(k->sk_path, k->pk_path) == 0) {
		fprintf(stderr, PROG ": --sk and --pk name the same file\n");
		return WARD_EXIT_USAGE;
	}
	return -1;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct keygen *k)
{
	enum { O_SK = 256, O_PK, O_NOCRYPT, O_RELOCK, O_KDF, O_ROUNDS, O_LOG };
	static const struct option opts[] = {
	    {"sk", required_argument, NULL, O_SK},
	    {"pk", required_argument, NULL, O_PK},
	    {"nocrypt", no_argument, NULL, O_NOCRYPT},
	    {"relock", no_argument, NULL, O_RELOCK},
	    {"kdf", required_argument, NULL, O_KDF},
	    {"rounds", required_argument, NULL, O_ROUNDS},
	    {"log", required_argument, NULL, O_LOG},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	const char *sk = getenv("C4GH_SECRET_KEY"), *pk = getenv("C4GH_PUBLIC_KEY");
	int c, rounds_set = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hvfC:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return WARD_EXIT_OK;
		case 'v':
			printf(PROG " (ward %s)\n", WARD_VERSION_STRING);
			return WARD_EXIT_OK;
		case 'f':
			k->force = 1;
			break;
		case 'C':
			k->comment = *optarg ? optarg : NULL;
			break;
		case O_SK:
			sk = optarg;
			break;
		case O_PK:
			pk = optarg;
			break;
		case O_NOCRYPT:
			k->nocrypt = 1;
			break;
		case O_RELOCK:
			k->relock = 1;
			break;
		case O_LOG:
			break; /* the reference's logging config: accepted, unused */
		case O_KDF:
			if (parse_kdf(optarg, &k->kdf) != 0) {
				fprintf(stderr,
				        PROG
				        ": unknown kdf '%s' (scrypt, bcrypt, pbkdf2_hmac_sha256)\n",
				        optarg);
				return WARD_EXIT_USAGE;
			}
			k->kdf_set = 1;
			break;
		case O_ROUNDS:
			if (ward_parse_u64(optarg, &k->rounds) != 0 || k->rounds == 0 ||
			    k->rounds > 0x7fffffff) {
				fprintf(stderr,
				        PROG ": --rounds: '%s' is not a number from 1 to 2^31-1\n",
				        optarg);
				return WARD_EXIT_USAGE;
			}
			rounds_set = 1;
			break;
		case ':':
			fprintf(stderr, PROG ": %s needs a value\n", argv[optind - 1]);
			return WARD_EXIT_USAGE;
		default:
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return WARD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return WARD_EXIT_USAGE;
	}
	return check_args(k, rounds_set, sk, pk);
}

/*
 * Existing file: without -f, ask on a terminal (as the reference does) and
 * refuse elsewhere. Returns -1 to go on (setting *overwrite), or an exit code.
 */
static int check_existing(const char *path, int force, int *overwrite)
{
	struct stat st;
	*overwrite = 0;
	if (lstat(path, &st) != 0)
		return -1;
	if (force) {
		*overwrite = 1;
		return -1;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, PROG ": %s: already exists (use -f to overwrite)\n", path);
		return WARD_EXIT_DENIED;
	}
	printf("%s already exists. Do you want to overwrite it? (y/n) ", path);
	fflush(stdout);
	char answer[16] = "";
	if (!fgets(answer, sizeof answer, stdin) || strcmp(answer, "y\n") != 0) {
		printf("Ok. Fair enough. Exiting.\n");
		return WARD_EXIT_DENIED;
	}
	*overwrite = 1;
	return -1;
}

/* The default ~/.c4gh does not exist on a fresh account: create it, private. */
static void make_default_dir(const char *path)
{
	const char *home = getenv("HOME");
	const char *slash = strrchr(path, '/');
	if (!home || !slash)
		return;
	size_t n = (size_t)(slash - path);
	char dir[4096];
	if (n >= sizeof dir)
		return;
	memcpy(dir, path, n);
	dir[n] = '\0';
	char def[4096];
	snprintf(def, sizeof def, "%s/.c4gh", home);
	if (strcmp(dir, def) == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
		fprintf(stderr, PROG ": warning: cannot create %s: %s\n", dir, strerror(errno));
}

/* Writes text to path atomically with mode; exclusive unless overwrite. */
static int write_file(const char *path, const char *text, unsigned mode, int overwrite)
{
	struct ward_outfile *f;
	int rc = ward_outfile_open(path, mode, &f);
	if (rc)
		return ward_report(PROG, path, rc);
	if (ward_write_full(ward_outfile_fd(f), text, strlen(text)) != 0) {
		int saved = errno;
		ward_outfile_abort(f);
		fprintf(stderr, PROG ": %s: write: %s\n", path, strerror(saved));
		return WARD_EXIT_IO;
	}
	rc = ward_outfile_commit(f, !overwrite);
	return rc ? ward_report(PROG, NULL, rc) : 0;
}

/* Asks for the new passphrase; *enc says whether the key gets encrypted. */
static int new_passphrase(struct keygen *k, char *pass, int *enc)
{
	*enc = 0;
	if (k->nocrypt)
		return 0;
	int rc = ward_cmd_new_passphrase(pass, PASS_MAX);
	if (rc == WARD_E_PASSPHRASE) /* ward_cmd_new_passphrase said so on the terminal */
		return WARD_EXIT_FAIL;
	if (rc == WARD_E_INVAL && getenv("C4GH_PASSPHRASE")) {
		fprintf(stderr, PROG ": C4GH_PASSPHRASE is longer than %d bytes\n", PASS_MAX - 1);
		return WARD_EXIT_FAIL;
	}
	if (rc) {
		fprintf(stderr,
		        PROG ": no passphrase: set C4GH_PASSPHRASE, run on a terminal, or use "
		             "--nocrypt\n");
		return WARD_EXIT_FAIL;
	}
	*enc = pass[0] != '\0';
	return 0;
}

static int format_secret(struct keygen *k, const struct ward_c4gh_seckey *sk, const char *pass,
                         int enc, char **text)
{
	if (!enc)
		fprintf(stderr, "WARNING: The private key is not encrypted\n");
	int rc = ward_c4gh_seckey_format(sk, enc ? k->kdf : WARD_C4GH_KDF_NONE, enc ? pass : NULL,
	                                 (uint32_t)k->rounds, k->comment, text);
	return rc ? ward_report(PROG, NULL, rc) : 0;
}

static void free_text(char *t)
{
	if (t) {
		sodium_memzero(t, strlen(t));
		free(t);
	}
}

/* --relock: the same key under a new passphrase (or kdf); the public key is untouched. */
static int relock(struct keygen *k, char *pass)
{
	struct ward_c4gh_seckey *sk = NULL;
	char *text = NULL;
	int enc, rc = ward_c4gh_seckey_load(k->sk_path, ward_cmd_passphrase, k->sk_path, &sk);
	if (rc)
		return ward_report(PROG, k->sk_path, rc);
	rc = new_passphrase(k, pass, &enc);
	if (rc == 0)
		rc = format_secret(k, sk, pass, enc, &text);
	if (rc == 0)
		rc = write_file(k->sk_path, text, 0600, 1);
	if (rc == 0)
		printf("Your private key has been re-locked in %s\n", k->sk_path);
	free_text(text);
	ward_c4gh_seckey_free(sk);
	return rc;
}

static int generate(struct keygen *k, char *pass)
{
	struct ward_c4gh_seckey *sk = NULL;
	char *sk_text = NULL, *pk_text = NULL;
	int enc, rc;
	if ((rc = check_existing(k->pk_path, k->force, &k->overwrite_pk)) >= 0 ||
	    (rc = check_existing(k->sk_path, k->force, &k->overwrite_sk)) >= 0)
		return rc;
	if (k->comment)
		printf("Generating public/private Crypt4GH key pair (for %s).\n", k->comment);
	else
		printf("Generating public/private Crypt4GH key pair.\n");
	fflush(stdout);
	if ((rc = new_passphrase(k, pass, &enc)) != 0)
		return rc;
	if ((rc = ward_c4gh_seckey_generate(&sk)) != 0)
		return ward_report(PROG, NULL, rc);
	uint8_t pk[WARD_C4GH_KEYBYTES];
	ward_c4gh_seckey_public(sk, pk);
	rc = format_secret(k, sk, pass, enc, &sk_text);
	if (rc == 0 && (rc = ward_c4gh_pubkey_format(pk, &pk_text)) != 0)
		rc = ward_report(PROG, NULL, rc);
	make_default_dir(k->sk_path);
	make_default_dir(k->pk_path);
	/* Secret first: a public key without its secret would be useless. */
	if (rc == 0)
		rc = write_file(k->sk_path, sk_text, 0600, k->overwrite_sk);
	if (rc == 0 && (rc = write_file(k->pk_path, pk_text, 0644, k->overwrite_pk)) != 0 &&
	    !k->overwrite_sk)
		unlink(k->sk_path); /* do not leave half a key pair we just created */
	if (rc == 0) {
		printf("Your private key has been saved in %s\n", k->sk_path);
		printf("Your public key has been saved in %s\n", k->pk_path);
	}
	free_text(sk_text);
	free(pk_text);
	ward_c4gh_seckey_free(sk);
	return rc;
}

int cmd_keygen_main(int argc, char **argv)
{
	struct keygen k = {.kdf = WARD_C4GH_KDF_SCRYPT};
	int rc = parse_args(argc, argv, &k);
	if (rc < 0 && sodium_init() < 0)
		rc = ward_report(PROG, NULL, WARD_E_INTERNAL);
	if (rc < 0) {
		char *pass = sodium_malloc(PASS_MAX);
		if (!pass)
			rc = ward_report(PROG, NULL, WARD_E_NOMEM);
		else {
			pass[0] = '\0';
			rc = k.relock ? relock(&k, pass) : generate(&k, pass);
			sodium_free(pass);
		}
	}
	free(k.sk_path);
	free(k.pk_path);
	return rc;
}
