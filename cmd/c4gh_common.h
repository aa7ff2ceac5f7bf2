/* Shared state and helpers of the crypt4gh subcommands (cmd/c4gh*.c). */
#ifndef WARD_CMD_C4GH_COMMON_H
#define WARD_CMD_C4GH_COMMON_H

#include <stdint.h>

#include "cmd/util.h"
#include "core/core_internal.h" /* I/O helpers: cmd/ links libward statically */
#include "ward/crypt4gh.h"
#include "ward/io.h"

#define C4GH_CLI_MAX_RCPT 256

struct c4gh_cli {
	const char *sk_path, *sender_path, *header_path, *in_path, *out_path, *range_arg;
	const char *rcpt_paths[C4GH_CLI_MAX_RCPT];
	size_t nrcpt;
	int has_range, compat_range, trim, header_only, quiet;
	uint64_t range_start, range_end; /* [start, end), end UINT64_MAX = to the end */
	unsigned threads;
};

int c4gh_cli_encrypt(const struct c4gh_cli *c);
int c4gh_cli_decrypt(const struct c4gh_cli *c);
int c4gh_cli_reencrypt(const struct c4gh_cli *c);
int c4gh_cli_rearrange(const struct c4gh_cli *c);

/*
 * Loads the secret key: --sk, else $C4GH_SECRET_KEY, else ~/.c4gh/key. With
 * optional set and none given, *out is NULL (an ephemeral key will be used).
 * Returns 0 or an exit code (after printing the error).
 */
int c4gh_cli_load_sk(const struct c4gh_cli *c, int optional, struct ward_c4gh_seckey **out);

/* Loads every --recipient_pk into a malloc'ed array. 0 or an exit code. */
int c4gh_cli_load_recipients(const struct c4gh_cli *c, uint8_t (**out)[32]);

/* Opens -i (or stdin) and -o (or stdout). 0 or an exit code. */
int c4gh_cli_open_io(const struct c4gh_cli *c, int *in_fd, struct ward_outfile **out,
                     unsigned mode);

/* Reports err, removes the partial -o output, closes the input; returns the exit code. */
int c4gh_cli_fail(const struct c4gh_cli *c, int in_fd, struct ward_outfile *out, int err);

/* Commits -o and closes the input; returns the exit code. */
int c4gh_cli_finish(const struct c4gh_cli *c, int in_fd, struct ward_outfile *out);

/* A progress line on a terminal: call with bytes done; final = 1 ends the line. */
struct c4gh_progress {
	int on;
	double start, last;
};
void c4gh_progress_init(struct c4gh_progress *p, int quiet);
void c4gh_progress_update(struct c4gh_progress *p, uint64_t bytes, int final);

#endif
