/* Helpers shared by the subcommands: exit codes, error reporting, passphrases. */
#ifndef WARD_CMD_UTIL_H
#define WARD_CMD_UTIL_H

#include <stddef.h>

#define WARD_VERSION_STRING "0.1.0"

/* Exit codes, documented in docs/crypt4gh.md and the man pages. */
enum ward_exit {
	WARD_EXIT_OK = 0,
	WARD_EXIT_FAIL = 1,       /* anything else (malformed input, ...) */
	WARD_EXIT_PASSPHRASE = 2, /* wrong passphrase (the reference also uses 2) */
	WARD_EXIT_NOKEY = 3,      /* no header packet opens with this key */
	WARD_EXIT_NOTC4GH = 4,    /* input is not a Crypt4GH file */
	WARD_EXIT_CORRUPT = 5,    /* corrupt or unsupported header */
	WARD_EXIT_BADMSG = 6,     /* a data segment failed authentication */
	WARD_EXIT_TRUNCATED = 7,  /* input ends inside a segment or header */
	WARD_EXIT_IO = 8,         /* system I/O error */
	WARD_EXIT_DENIED = 9,     /* refused: policy, attestation, existing file */
	WARD_EXIT_USAGE = 64,     /* bad command line (sysexits EX_USAGE) */
};

/* Maps a libward error code to the exit code above. */
int ward_exit_code(int err);

/*
 * Prints "PROG: [WHAT: ]<last libward error>" on stderr and returns the exit
 * code for err. what may be NULL.
 */
int ward_report(const char *prog, const char *what, int err);

/*
 * ward_passphrase_fn for key files: C4GH_PASSPHRASE if set, else a no-echo
 * prompt on /dev/tty. ctx is the key file's path (for the prompt).
 */
int ward_cmd_passphrase(void *ctx, char *buf, size_t size);

/* Reads a passphrase twice from the terminal (or C4GH_PASSPHRASE once). */
int ward_cmd_new_passphrase(char *buf, size_t size);

/* Parses a decimal unsigned 64-bit number; returns 0 or -1. */
int ward_parse_u64(const char *s, unsigned long long *out);

/* 1 if stderr is a terminal and progress was not silenced. */
int ward_progress_enabled(int quiet);

#endif
