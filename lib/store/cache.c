/*
 * The workload path's cache of unsealed sessions. Every attestation needs the
 * parsed session and its decrypted secrets; reading, authenticating and
 * parsing them each time cost more than the attestation itself. Sessions
 * change only through this process (the data directory is locked by the
 * service), so entries are dropped on every create, update and delete.
 * Secret values stay in guarded memory (ward_secret_set) while cached.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "store/store_internal.h"

#define CACHE_MAX 256 /* sessions; when full, the cache starts over */

struct store_cached {
	char *name;
	uint8_t digest[32];
	struct ward_session *s;
	struct ward_secret_set *v;
};

static void drop_all(struct ward_store *st)
{
	for (size_t i = 0; i < st->ncached; i++) {
		free(st->cached[i].name);
		ward_session_free(st->cached[i].s);
		ward_secret_set_free(st->cached[i].v);
	}
	st->ncached = 0;
}

int store_cache_get(struct ward_store *st, const char *name, struct ward_session **s,
                    struct ward_secret_set **v, uint8_t digest[32], uint64_t *gen)
{
	int hit = 0;
	pthread_mutex_lock(&st->cache_mu);
	*gen = st->cache_gen;
	for (size_t i = 0; i < st->ncached && !hit; i++) {
		struct store_cached *e = &st->cached[i];
		if (strcmp(e->name, name) == 0) {
			*s = ward_session_ref(e->s);
			*v = ward_secret_set_ref(e->v);
			memcpy(digest, e->digest, 32);
			hit = 1;
		}
	}
	pthread_mutex_unlock(&st->cache_mu);
	return hit;
}

void store_cache_put(struct ward_store *st, uint64_t gen, const char *name, struct ward_session *s,
                     struct ward_secret_set *v, const uint8_t digest[32])
{
	pthread_mutex_lock(&st->cache_mu);
	/* A change since the caller's lookup: what it read may be stale. */
	if (gen != st->cache_gen)
		goto out;
	for (size_t i = 0; i < st->ncached; i++)
		if (strcmp(st->cached[i].name, name) == 0)
			goto out; /* another request was first */
	if (!st->cached && !(st->cached = calloc(CACHE_MAX, sizeof *st->cached)))
		goto out;
	if (st->ncached == CACHE_MAX)
		drop_all(st);
	char *n = strdup(name);
	if (!n)
		goto out;
	struct store_cached *e = &st->cached[st->ncached++];
	e->name = n;
	memcpy(e->digest, digest, 32);
	e->s = ward_session_ref(s);
	e->v = ward_secret_set_ref(v);
out:
	pthread_mutex_unlock(&st->cache_mu);
}

void store_cache_invalidate(struct ward_store *st)
{
	pthread_mutex_lock(&st->cache_mu);
	st->cache_gen++;
	drop_all(st);
	pthread_mutex_unlock(&st->cache_mu);
}

void store_cache_free(struct ward_store *st)
{
	drop_all(st);
	free(st->cached);
	st->cached = NULL;
}
