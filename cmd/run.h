/* ward run internals shared by cmd/run.c (protocol) and cmd/run_exec.c (exec). */
#ifndef WARD_CMD_RUN_H
#define WARD_CMD_RUN_H

#include <stddef.h>
#include <stdint.h>

struct run_launch {
	int fd;                     /* the opened, hashed workload executable */
	const char *program;        /* command[0] as the key service named it */
	const uint8_t *measurement; /* SHA-256 of fd's content (32 bytes) */
	char **extra;               /* ARGS after `--` */
	int n_extra;
	int verbose;
};

/*
 * Decodes base64 and opens crypto_box_seal(config, pk) with sk into
 * sodium_malloc'ed memory (NUL-terminated; free with sodium_free).
 * Returns 0 or an exit code, having printed the error.
 */
int run_open_sealed(const char *b64, const uint8_t pk[32], const uint8_t *sk, char **cfg,
                    size_t *len);

/*
 * Applies the configuration and fexecve()s L->fd. Returns only on failure:
 * an exit code, having printed the error and wiped what it built.
 */
int run_exec(const struct run_launch *L, const char *cfg, size_t len);

#endif
