/* Private parts of the key-service store: the handle, SQLite helpers, encryption helpers. */
#ifndef WARD_STORE_INTERNAL_H
#define WARD_STORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "ward/shamir.h"
#include "ward/store.h"

#define STORE_FORMAT  "ward-cas-1"
#define STORE_NONCE   12
#define STORE_TAG     16
#define STORE_READERS 8 /* read-only connections: WAL lets readers run beside the writer */

struct store_reader {
	pthread_mutex_t mu;
	sqlite3 *db;
};

struct store_trust_cache {
	uint8_t (*v)[32];
	size_t n;
	int valid;
};

struct ward_store {
	sqlite3 *db;
	pthread_mutex_t mu; /* one connection: every statement and transaction under mu */
	char *dir;
	int dev;
	/* Unsealing. */
	uint8_t set_id[WARD_SHAMIR_SETID_BYTES];
	unsigned k, n;
	uint8_t *shares; /* sodium_malloc: 255 * 32 bytes of given share values */
	uint8_t xs[WARD_SHAMIR_MAX_SHARES];
	unsigned have;
	/* Unsealed state. dek is published (atomically) last, once the audit log is open. */
	uint8_t *dek; /* sodium_malloc, 32 bytes; NULL while sealed; use store_dek() */
	struct ward_audit *audit;
	uint64_t anchored; /* sequence number of the stored checkpoint (atomic) */
	int unsettled; /* a change was logged but did not commit: no more changes (rollback.c) */
	/* Checkpoints of events outside transactions: the checkpointer thread writes `want`. */
	pthread_mutex_t want_mu;
	pthread_cond_t want_cv;
	struct ward_audit_pos want;
	pthread_t ckpt;
	int ckpt_running, ckpt_stop, ckpt_failed;
	int audit_each; /* ward_store_audit waits for the disk (ward_store_audit_sync_each) */
	struct store_reader readers[STORE_READERS];
	unsigned next_reader;
	/* Enrolled platforms [0] and launchers [1], cached; trust_gen counts changes. */
	pthread_mutex_t trust_mu;
	uint64_t trust_gen;
	struct store_trust_cache trust_cache[2];
	/* Parsed sessions and their secrets for the workload path (cache.c). */
	pthread_mutex_t cache_mu;
	uint64_t cache_gen; /* counts changes to sessions */
	struct store_cached *cached;
	size_t ncached;
};

/* ---- db.c ---- */
const char *store_schema(void);
/* The data key, or NULL while sealed (no lock needed: it never changes once set). */
uint8_t *store_dek(struct ward_store *st);
/* A read-only connection for this call (blocks if all are busy); give it back with put. */
sqlite3 *store_reader_get(struct ward_store *st, int *slot);
void store_reader_put(struct ward_store *st, int slot);
/* An error from connection db. */
int store_dberr(sqlite3 *db, const char *what);
int store_exec(struct ward_store *st, const char *sql);
int store_sqlerr(struct ward_store *st, const char *what);
/* Reads a meta value (malloc'ed) or WARD_E_NOTFOUND. */
int store_meta_get(sqlite3 *db, const char *key, uint8_t **val, size_t *len);
int store_meta_put(sqlite3 *db, const char *key, const void *val, size_t len);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on the locked store. */
int store_begin(struct ward_store *st);
int store_commit(struct ward_store *st);
void store_rollback(struct ward_store *st);
/* Writes the checkpoint for pos inside the current transaction (advance only). */
int store_anchor_put(struct ward_store *st, const struct ward_audit_pos *pos);
/*
 * Ends a change whose audit entry pos is written: checkpoint, commit. If
 * either fails the store refuses further changes (store_settled) until
 * restarted, so the log never holds two changes the database lacks.
 */
int store_commit_logged(struct ward_store *st, const struct ward_audit_pos *pos);
/* 0, or WARD_E_IO after a change that was logged but not committed. */
int store_settled(struct ward_store *st);
/* rollback.c: the anchor's signature, the log against it, the changes after it. */
int store_tail_check(const char *path, const uint8_t pk[32], const struct ward_audit_anchor *anchor,
                     uint64_t *uncommitted);
/* Starts the thread that writes checkpoints for events outside transactions. */
int store_checkpointer_start(struct ward_store *st);
/* Writes the last wanted checkpoint and stops the thread (if it runs). */
void store_checkpointer_stop(struct ward_store *st);
/* trust.c: frees the cached lists. */
void store_trust_cache_free(struct ward_store *st);
/* cache.c: 1 and new references if name is cached; *gen is for a later put either way. */
int store_cache_get(struct ward_store *st, const char *name, struct ward_session **s,
                    struct ward_secret_set **v, uint8_t digest[32], uint64_t *gen);
/* Caches references to s and v unless sessions changed since the get that returned gen. */
void store_cache_put(struct ward_store *st, uint64_t gen, const char *name, struct ward_session *s,
                     struct ward_secret_set *v, const uint8_t digest[32]);
/* After any change to sessions: drops every entry. */
void store_cache_invalidate(struct ward_store *st);
void store_cache_free(struct ward_store *st);
/* Records that the checkpoint now covers seq (max semantics). */
void store_anchored(struct ward_store *st, uint64_t seq);
/* Appends an audit entry and, unless in_txn, advances the checkpoint (locks mu itself). */
int store_audit_locked(struct ward_store *st, const char *event, struct json_object *fields,
                       struct ward_audit_pos *pos);

/* ---- crypt.c ---- */

/* Associated data: length-prefixed fields, so no two field lists encode alike. */
struct store_aad {
	uint8_t buf[1024];
	size_t len;
	int overflow;
};
void store_aad_init(struct store_aad *a, const char *kind);
void store_aad_add(struct store_aad *a, const void *p, size_t n);
void store_aad_str(struct store_aad *a, const char *s);

/* AES-256-GCM: blob = nonce || ciphertext || tag (malloc'ed). */
int store_encrypt(const uint8_t key[32], const struct store_aad *aad, const uint8_t *pt, size_t len,
                  uint8_t **blob, size_t *blen);
/* Authenticates and decrypts; *pt is sodium_malloc'ed with a NUL after len. WARD_E_BADMSG. */
int store_decrypt(const uint8_t key[32], const struct store_aad *aad, const uint8_t *blob,
                  size_t blen, uint8_t **pt, size_t *len);

#endif
