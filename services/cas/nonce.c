/*
 * Attestation nonces that cost the service no memory until they are used.
 *
 * A nonce is time ‖ counter ‖ MAC (8 + 8 + 16 bytes, keyed BLAKE2b under a
 * key made at start): issuing one stores nothing, so anonymous clients
 * cannot flood a table and evict other clients' nonces. Replays are caught
 * by remembering consumed nonces until they expire; only requests whose
 * evidence already verified under an enrolled LAS key get that far. The
 * counter makes every nonce distinct; the MAC makes them unforgeable, so a
 * predictable counter gives nothing away.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/secmem.h"

#define NONCE_TTL    CAS_NONCE_TTL   /* seconds: the contract's lifetime of a nonce */
#define BUCKETS      (NONCE_TTL + 2) /* one per second of issue time */
#define MAX_CONSUMED (1u << 20)      /* live consumed nonces, all buckets */
#define MAC_BYTES    16

struct bucket {
	uint64_t second; /* issue time this bucket holds */
	uint64_t *used;  /* counters consumed, in no order */
	size_t n, cap;
};

struct cas_nonces {
	uint8_t *key; /* guarded memory */
	atomic_uint_fast64_t counter;
	pthread_mutex_t mu;
	struct bucket b[BUCKETS];
	size_t total;
};

static uint64_t now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

struct cas_nonces *cas_nonces_new(void)
{
	struct cas_nonces *n = calloc(1, sizeof *n);
	if (!n || sodium_init() < 0 || !(n->key = ward_secmem_alloc(crypto_generichash_KEYBYTES))) {
		free(n);
		return NULL;
	}
	crypto_generichash_keygen(n->key);
	atomic_init(&n->counter, 0);
	pthread_mutex_init(&n->mu, NULL);
	return n;
}

void cas_nonces_free(struct cas_nonces *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		free(n->b[i].used);
	pthread_mutex_destroy(&n->mu);
	ward_secmem_free(n->key);
	free(n);
}

static void mac(const struct cas_nonces *n, const uint8_t body[16], uint8_t out[MAC_BYTES])
{
	crypto_generichash(out, MAC_BYTES, body, 16, n->key, crypto_generichash_KEYBYTES);
}

void cas_nonce_issue_at(struct cas_nonces *n, uint8_t nonce[32], uint64_t now)
{
	ward_store64_le(nonce, now);
	ward_store64_le(nonce + 8, atomic_fetch_add(&n->counter, 1));
	mac(n, nonce, nonce + 16);
}

/* Records counter c of second t as used: 0, -1 if it was used already, -2 if memory is full. */
static int record(struct cas_nonces *n, uint64_t t, uint64_t c)
{
	struct bucket *b = &n->b[t % BUCKETS];
	if (b->second != t) { /* the bucket held a second that has expired */
		n->total -= b->n;
		b->n = 0;
		b->second = t;
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->used[i] == c)
			return -1;
	if (n->total >= MAX_CONSUMED)
		return -2;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		uint64_t *u = realloc(b->used, cap * sizeof *u);
		if (!u)
			return -2;
		b->used = u;
		b->cap = cap;
	}
	b->used[b->n++] = c;
	n->total++;
	return 0;
}

int cas_nonce_consume_at(struct cas_nonces *n, const uint8_t nonce[32], uint64_t now)
{
	uint8_t want[MAC_BYTES];
	mac(n, nonce, want);
	uint64_t t = ward_load64_le(nonce);
	int rc = sodium_memcmp(want, nonce + 16, MAC_BYTES) == 0 && t <= now && now - t <= NONCE_TTL
	             ? 0
	             : -1;
	sodium_memzero(want, sizeof want);
	if (rc)
		return -1;
	pthread_mutex_lock(&n->mu);
	rc = record(n, t, ward_load64_le(nonce + 8));
	pthread_mutex_unlock(&n->mu);
	return rc;
}

void cas_nonce_issue(struct cas_nonces *n, uint8_t nonce[32])
{
	cas_nonce_issue_at(n, nonce, now_seconds());
}

int cas_nonce_consume(struct cas_nonces *n, const uint8_t nonce[32])
{
	return cas_nonce_consume_at(n, nonce, now_seconds());
}
