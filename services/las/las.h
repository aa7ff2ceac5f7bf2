/* The local attestation service (`ward las`): server and measurement cache. */
#ifndef WARD_SERVICES_LAS_H
#define WARD_SERVICES_LAS_H

#include <stddef.h>
#include <stdint.h>

#include "ward/attest.h"

/* ---- Measurement cache (las_cache.c) ---------------------------------------- */

struct las_cache;

/* A cache of at most max entries (0 disables caching). NULL on allocation failure. */
struct las_cache *las_cache_new(size_t max);
void las_cache_free(struct las_cache *c);

/*
 * The SHA-256 of the regular file open on fd: from the cache when an entry
 * with the same (device, inode, size, mtime, ctime) exists, else computed.
 * *hit (may be NULL) says which. Thread-safe. 0 or a negative ward_err.
 */
int las_cache_measure(struct las_cache *c, int fd, uint8_t out[32], int *hit);

/* ---- Server (las_server.c) --------------------------------------------------- */

struct las_options {
	const char *socket_path;
	unsigned socket_mode; /* permissions of the socket file, e.g. 0666 */
	size_t cache_entries; /* 0 = no measurement cache */
	int verbose;          /* log every grant on stderr */
	unsigned max_conns;   /* concurrent connections served */
	int read_timeout_ms;  /* per connection */
};

/*
 * Serves until SIGINT or SIGTERM. Takes ownership of key. Creates the socket
 * (removing a stale one, refusing if another LAS answers on it) and removes
 * it on exit. Returns 0 or a negative ward_err (with ward_last_error()).
 */
int las_serve(const struct las_options *o, struct ward_attest_key *key);

#endif
