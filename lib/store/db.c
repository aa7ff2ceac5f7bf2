/* The store's SQLite database: creation with fresh keys, opening sealed, unsealing, checkpoints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "store/store_internal.h"
#include "ward/secmem.h"

static const char SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE sessions(name TEXT PRIMARY KEY, digest BLOB NOT NULL, owner BLOB NOT NULL,"
    " doc BLOB NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE secrets(session TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY(session, name));"
    "CREATE TABLE history(id INTEGER PRIMARY KEY, session TEXT NOT NULL, op TEXT NOT NULL,"
    " digest BLOB, predecessor BLOB, actor BLOB, time INTEGER NOT NULL);"
    "CREATE INDEX history_session ON history(session, id);"
    "CREATE TABLE trust(kind INTEGER NOT NULL, value BLOB NOT NULL, label TEXT NOT NULL,"
    " added INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(kind, value));"
    "CREATE TABLE anchor(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL, sig BLOB NOT NULL);";

const char *store_schema(void)
{
	return SCHEMA;
}

int store_dberr(sqlite3 *db, const char *what)
{
	int e = sqlite3_errcode(db) & 0xff;
	return ward_error(e == SQLITE_FULL || e == SQLITE_IOERR ? WARD_E_IO : WARD_E_INTERNAL,
	                  "store: %s: %s", what, sqlite3_errmsg(db));
}

int store_sqlerr(struct ward_store *st, const char *what)
{
	return store_dberr(st->db, what);
}

uint8_t *store_dek(struct ward_store *st)
{
	return __atomic_load_n(&st->dek, __ATOMIC_ACQUIRE);
}

int store_exec(struct ward_store *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_sqlerr(st, sql);
	return 0;
}

int store_meta_get(sqlite3 *db, const char *key, uint8_t **val, size_t *len)
{
	sqlite3_stmt *q;
	*val = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return ward_error(WARD_E_FORMAT, "store: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	int rc = WARD_E_NOTFOUND;
	if (sqlite3_step(q) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(q, 0);
		*val = malloc(*len + 1);
		if (!*val) {
			rc = WARD_E_NOMEM;
		} else {
			if (*len)
				memcpy(*val, sqlite3_column_blob(q, 0), *len);
			(*val)[*len] = 0;
			rc = 0;
		}
	}
	sqlite3_finalize(q);
	if (rc == WARD_E_NOTFOUND)
		return ward_error(rc, "store: no '%s' in the store's metadata", key);
	return rc ? ward_error(rc, "out of memory") : 0;
}

int store_meta_put(sqlite3 *db, const char *key, const void *val, size_t len)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &q,
	                       NULL) != SQLITE_OK)
		return ward_error(WARD_E_INTERNAL, "store: %s", sqlite3_errmsg(db));
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, len ? val : "", (int)len, SQLITE_STATIC);
	int ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	return ok ? 0 : ward_error(WARD_E_IO, "store: writing '%s': %s", key, sqlite3_errmsg(db));
}

int store_begin(struct ward_store *st)
{
	return store_exec(st, "BEGIN IMMEDIATE");
}

int store_commit(struct ward_store *st)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = store_sqlerr(st, "commit");
		store_rollback(st);
		return rc;
	}
	return 0;
}

void store_rollback(struct ward_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_anchor_put(struct ward_store *st, const struct ward_audit_pos *pos)
{
	struct ward_audit_anchor a;
	ward_audit_anchor_sign(st->audit, pos, &a);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT INTO anchor(id, seq, hash, sig) VALUES(1, ?1, ?2, ?3) "
	                       "ON CONFLICT(id) DO UPDATE SET seq = ?1, hash = ?2, sig = ?3 "
	                       "WHERE seq < ?1",
	                       -1, &q, NULL) != SQLITE_OK)
		return store_sqlerr(st, "anchor");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)pos->seq);
	sqlite3_bind_blob(q, 2, pos->hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, a.sig, 64, SQLITE_STATIC);
	int ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	return ok ? 0 : store_sqlerr(st, "writing the audit checkpoint");
}

/* Opens cas.db in dir with the pragmas every connection needs. */
static int open_db(const char *dir, int flags, sqlite3 **db)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, WARD_STORE_DB);
	if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		int rc = ward_error(WARD_E_IO, "%s: %s", path, sqlite3_errmsg(*db));
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 10000);
	if (flags & SQLITE_OPEN_READWRITE) {
		/* WAL for crash safety; FULL so an acknowledged change survives power loss too. */
		if (sqlite3_exec(*db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL,
		                 NULL, NULL) != SQLITE_OK) {
			int rc = ward_error(WARD_E_IO, "%s: %s", path, sqlite3_errmsg(*db));
			sqlite3_close(*db);
			*db = NULL;
			return rc;
		}
	}
	return 0;
}

static struct ward_store *store_new(const char *dir)
{
	struct ward_store *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->want_mu, NULL);
	pthread_cond_init(&st->want_cv, NULL);
	pthread_mutex_init(&st->trust_mu, NULL);
	pthread_mutex_init(&st->cache_mu, NULL);
	for (int i = 0; i < STORE_READERS; i++)
		pthread_mutex_init(&st->readers[i].mu, NULL);
	st->dir = strdup(dir);
	st->shares = sodium_malloc(WARD_SHAMIR_MAX_SHARES * 32);
	if (!st->dir || !st->shares) {
		ward_store_close(st);
		return NULL;
	}
	return st;
}

sqlite3 *store_reader_get(struct ward_store *st, int *slot)
{
	unsigned start = __atomic_fetch_add(&st->next_reader, 1, __ATOMIC_RELAXED);
	int s = -1;
	for (unsigned i = 0; i < STORE_READERS && s < 0; i++)
		if (pthread_mutex_trylock(&st->readers[(start + i) % STORE_READERS].mu) == 0)
			s = (int)((start + i) % STORE_READERS);
	if (s < 0) {
		s = (int)(start % STORE_READERS);
		pthread_mutex_lock(&st->readers[s].mu);
	}
	if (!st->readers[s].db && open_db(st->dir, SQLITE_OPEN_READONLY, &st->readers[s].db)) {
		pthread_mutex_unlock(&st->readers[s].mu);
		return NULL;
	}
	*slot = s;
	return st->readers[s].db;
}

void store_reader_put(struct ward_store *st, int slot)
{
	pthread_mutex_unlock(&st->readers[slot].mu);
}

void ward_store_close(struct ward_store *st)
{
	if (!st)
		return;
	store_checkpointer_stop(st);
	ward_audit_close(st->audit);
	if (st->dek)
		ward_secmem_free(st->dek);
	if (st->shares)
		sodium_free(st->shares);
	for (int i = 0; i < STORE_READERS; i++) {
		if (st->readers[i].db)
			sqlite3_close(st->readers[i].db);
		pthread_mutex_destroy(&st->readers[i].mu);
	}
	if (st->db)
		sqlite3_close(st->db);
	free(st->dir);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->want_mu);
	pthread_cond_destroy(&st->want_cv);
	store_trust_cache_free(st);
	pthread_mutex_destroy(&st->trust_mu);
	store_cache_free(st);
	pthread_mutex_destroy(&st->cache_mu);
	free(st);
}

void ward_store_text_free(char *text)
{
	ward_secmem_free(text);
}

static int read_u32_meta(sqlite3 *db, const char *key, unsigned *out)
{
	uint8_t *v;
	size_t n;
	int rc = store_meta_get(db, key, &v, &n);
	if (rc)
		return rc;
	if (n != 4) {
		free(v);
		return ward_error(WARD_E_FORMAT, "store: bad '%s'", key);
	}
	*out = ward_load32_be(v);
	free(v);
	return 0;
}

int ward_store_open(const char *dir, struct ward_store **out)
{
	*out = NULL;
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%s", dir, WARD_STORE_DB);
	if (stat(path, &sb) != 0)
		return ward_error(errno == ENOENT ? WARD_E_NOTFOUND : WARD_E_IO,
		                  "%s: no key-service store here (run `ward cas init`)", dir);
	struct ward_store *st = store_new(dir);
	if (!st)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = open_db(dir, SQLITE_OPEN_READWRITE, &st->db);
	uint8_t *v = NULL;
	size_t n = 0;
	if (!rc && (rc = store_meta_get(st->db, "format", &v, &n)) == 0 &&
	    (n != strlen(STORE_FORMAT) || memcmp(v, STORE_FORMAT, n) != 0))
		rc = ward_error(WARD_E_FORMAT, "%s: store format is not %s", dir, STORE_FORMAT);
	free(v);
	if (!rc && (rc = store_meta_get(st->db, "set_id", &v, &n)) == 0) {
		if (n == WARD_SHAMIR_SETID_BYTES)
			memcpy(st->set_id, v, n);
		else
			rc = ward_error(WARD_E_FORMAT, "store: bad set id");
		free(v);
	}
	unsigned dev = 0;
	if (!rc && !(rc = read_u32_meta(st->db, "threshold", &st->k)) &&
	    !(rc = read_u32_meta(st->db, "shares", &st->n)))
		rc = read_u32_meta(st->db, "dev", &dev);
	st->dev = dev != 0;
	if (rc) {
		ward_store_close(st);
		return rc == WARD_E_NOTFOUND
		           ? ward_error(WARD_E_FORMAT, "%s: not a ward store", dir)
		           : rc;
	}
	*out = st;
	return 0;
}

int ward_store_sealed(struct ward_store *st)
{
	return store_dek(st) == NULL;
}

int ward_store_is_dev(struct ward_store *st)
{
	return st->dev;
}

void ward_store_unseal_progress(struct ward_store *st, unsigned *have, unsigned *need)
{
	pthread_mutex_lock(&st->mu);
	*need = st->k;
	*have = store_dek(st) ? st->k : st->have;
	pthread_mutex_unlock(&st->mu);
}

static void forget_shares(struct ward_store *st)
{
	sodium_memzero(st->shares, WARD_SHAMIR_MAX_SHARES * 32);
	memset(st->xs, 0, sizeof st->xs);
	st->have = 0;
}

/* The checkpoint row (every store has one: init writes it with the store). */
static int read_anchor(sqlite3 *db, struct ward_audit_anchor *anchor)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(db, "SELECT seq, hash, sig FROM anchor WHERE id = 1", -1, &q,
	                       NULL) != SQLITE_OK)
		return store_dberr(db, "reading the audit checkpoint");
	int rc = WARD_E_BADMSG;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 1) == 32 &&
	    sqlite3_column_bytes(q, 2) == 64) {
		anchor->pos.seq = (uint64_t)sqlite3_column_int64(q, 0);
		memcpy(anchor->pos.hash, sqlite3_column_blob(q, 1), 32);
		memcpy(anchor->sig, sqlite3_column_blob(q, 2), 64);
		rc = 0;
	}
	sqlite3_finalize(q);
	return rc ? ward_error(rc, "the store has no valid audit checkpoint (cas.db altered); "
	                           "refusing to unseal")
	          : 0;
}

/*
 * The log must reach the checkpoint: a log that ends before it was
 * truncated or replaced, and appending to it would bury the evidence.
 */
static int check_tail(struct ward_audit *a, const struct ward_audit_pos *anchor)
{
	struct ward_audit_pos last;
	ward_audit_last(a, &last);
	if (last.seq < anchor->seq ||
	    (last.seq == anchor->seq && sodium_memcmp(last.hash, anchor->hash, 32) != 0))
		return ward_error(
		    WARD_E_BADMSG,
		    "audit log ends at entry %llu but the checkpoint records entry %llu: "
		    "truncated or replaced (run `ward cas audit verify`); refusing to "
		    "unseal",
		    (unsigned long long)last.seq, (unsigned long long)anchor->seq);
	return 0;
}

/*
 * Opens the audit log after checking it against the database's checkpoint,
 * changing nothing on disk unless both agree: the log must hold the
 * checkpointed entry unchanged and record no database change the database
 * lacks (rollback.c). *uncommitted: the one change logged but never
 * committed (the service died in between), or 0.
 */
static int open_log_checked(struct ward_store *st, const uint8_t *sk, uint64_t *uncommitted)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", st->dir, WARD_STORE_AUDIT);
	struct ward_audit_anchor anchor;
	uint8_t pk[32];
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	int rc = read_anchor(st->db, &anchor);
	if (rc)
		return rc;
	struct stat sb;
	if (stat(path, &sb) != 0 || sb.st_size == 0)
		return ward_error(WARD_E_BADMSG,
		                  "%s is missing or empty but the store's checkpoint records "
		                  "entry %llu: refusing to start a new log",
		                  path, (unsigned long long)anchor.pos.seq);
	if ((rc = store_tail_check(path, pk, &anchor, uncommitted))) {
		char why[512];
		snprintf(why, sizeof why, "%s", ward_last_error());
		/* Cut or rolled back, the log cannot be trusted: one code for the caller. */
		return ward_error(rc == WARD_E_TRUNCATED ? WARD_E_BADMSG : rc,
		                  "%s; refusing to unseal", why);
	}
	if ((rc = ward_audit_open_at(path, sk, &anchor.pos, &st->audit)))
		return rc;
	if ((rc = check_tail(st->audit, &anchor.pos))) {
		ward_audit_close(st->audit);
		st->audit = NULL;
		return rc;
	}
	st->anchored = anchor.pos.seq;
	return 0;
}

/* With the KEK: unwraps the data key and opens the audit log (caller holds mu). */
static int open_with_kek(struct ward_store *st, const uint8_t *kek, uint8_t **dek_out,
                         uint64_t *uncommitted)
{
	uint8_t *blob = NULL, *dek = NULL, *sk = NULL, *pk = NULL;
	size_t blen, dlen, sklen, pklen;
	struct store_aad aad;
	int rc = store_meta_get(st->db, "dek", &blob, &blen);
	if (rc)
		return rc;
	store_aad_init(&aad, "dek");
	store_aad_add(&aad, st->set_id, sizeof st->set_id);
	rc = store_decrypt(kek, &aad, blob, blen, &dek, &dlen);
	free(blob);
	if (rc || dlen != 32) {
		if (dek)
			ward_secmem_free(dek);
		return ward_error(WARD_E_BADMSG, "the shares do not open this store "
		                                 "(wrong or mistyped shares); start again");
	}
	if (!(rc = store_meta_get(st->db, "audit_pk", &pk, &pklen)) &&
	    !(rc = store_meta_get(st->db, "audit_sk", &blob, &blen))) {
		/* The public key is the associated data: a replaced one fails here. */
		store_aad_init(&aad, "audit-sk");
		store_aad_add(&aad, pk, pklen);
		rc = store_decrypt(dek, &aad, blob, blen, &sk, &sklen);
		free(blob);
		if (!rc && sklen != 64)
			rc = ward_error(WARD_E_FORMAT, "store: bad audit key");
	}
	free(pk);
	if (!rc)
		rc = open_log_checked(st, sk, uncommitted);
	if (sk)
		ward_secmem_free(sk);
	if (rc) {
		ward_secmem_free(dek);
		return rc;
	}
	*dek_out = dek;
	return 0;
}

/*
 * Logs the unseal and checkpoints it (caller holds mu). uncommitted names a
 * change entry whose transaction never committed, so the log says so.
 */
static int log_unseal(struct ward_store *st, uint64_t uncommitted)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "threshold", json_object_new_int((int)st->k));
	if (uncommitted)
		json_object_object_add(f, "uncommitted",
		                       json_object_new_int64((int64_t)uncommitted));
	struct ward_audit_pos pos;
	int rc = ward_audit_append(st->audit, "cas.unseal", f, &pos);
	json_object_put(f);
	if (!rc && !(rc = store_anchor_put(st, &pos)))
		store_anchored(st, pos.seq);
	return rc;
}

int ward_store_unseal(struct ward_store *st, const char *share, unsigned *have, unsigned *need)
{
	uint8_t set[WARD_SHAMIR_SETID_BYTES], y[WARD_SHAMIR_MAX_SECRET];
	unsigned k, x;
	size_t len;
	pthread_mutex_lock(&st->mu);
	*need = st->k;
	int rc = 0;
	if (store_dek(st)) {
		*have = st->k;
		goto out;
	}
	if ((rc = ward_shamir_share_parse(share, set, &k, &x, y, sizeof y, &len)))
		goto out;
	if (memcmp(set, st->set_id, sizeof set) != 0 || k != st->k || len != 32) {
		rc = ward_error(WARD_E_CONFLICT, "this share belongs to another key-service store");
		goto out;
	}
	for (unsigned i = 0; i < st->have; i++)
		if (st->xs[i] == x) {
			rc = ward_error(WARD_E_EXISTS, "share %u was given already", x);
			goto out;
		}
	memcpy(st->shares + st->have * 32, y, 32);
	st->xs[st->have++] = (uint8_t)x;
	if (st->have == st->k) {
		const uint8_t *ys[WARD_SHAMIR_MAX_SHARES];
		for (unsigned i = 0; i < st->k; i++)
			ys[i] = st->shares + i * 32;
		uint8_t *kek = sodium_malloc(32), *dek = NULL;
		uint64_t uncommitted = 0;
		rc = kek ? ward_shamir_combine(st->xs, ys, st->k, 32, kek) : WARD_E_NOMEM;
		forget_shares(st);
		if (!rc)
			rc = open_with_kek(st, kek, &dek, &uncommitted);
		if (kek)
			sodium_free(kek);
		if (!rc && (rc = log_unseal(st, uncommitted))) {
			/* No audit, no service: stay sealed. */
			ward_audit_close(st->audit);
			st->audit = NULL;
		}
		if (!rc && (rc = store_checkpointer_start(st))) {
			ward_audit_close(st->audit);
			st->audit = NULL;
		}
		if (rc && dek)
			ward_secmem_free(dek);
		else if (!rc)
			__atomic_store_n(&st->dek, dek, __ATOMIC_RELEASE);
	}
out:
	*have = store_dek(st) ? st->k : st->have;
	sodium_memzero(y, sizeof y);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int store_commit_logged(struct ward_store *st, const struct ward_audit_pos *pos)
{
	int rc = store_anchor_put(st, pos);
	if (!rc)
		rc = store_commit(st);
	if (rc)
		st->unsettled = 1; /* the log holds a change the database lacks: see rollback.c */
	else
		store_anchored(st, pos->seq);
	return rc;
}

int store_settled(struct ward_store *st)
{
	if (st->unsettled)
		return ward_error(WARD_E_IO,
		                  "store: an earlier change was logged but not committed; "
		                  "restart the service before changing anything");
	return 0;
}

int store_audit_locked(struct ward_store *st, const char *event, struct json_object *fields,
                       struct ward_audit_pos *pos)
{
	int rc = ward_audit_append(st->audit, event, fields, pos);
	if (!rc && !(rc = store_anchor_put(st, pos)))
		store_anchored(st, pos->seq);
	return rc;
}

void store_anchored(struct ward_store *st, uint64_t seq)
{
	if (seq > __atomic_load_n(&st->anchored, __ATOMIC_ACQUIRE))
		__atomic_store_n(&st->anchored, seq, __ATOMIC_RELEASE);
}

/* Writes checkpoint w (caller: the checkpointer thread). */
static int anchor_write(struct ward_store *st, const struct ward_audit_pos *w)
{
	pthread_mutex_lock(&st->mu);
	/*
	 * The entry is already durable in the log; the checkpoint may lag it
	 * after a power failure (never lead it), so it needs no fsync of its
	 * own. A killed process loses nothing: the WAL write is done.
	 */
	sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	int rc = store_anchor_put(st, w);
	sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (!rc)
		store_anchored(st, w->seq);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

#define CKPT_HZ 20

/*
 * The checkpointer: writes the newest wanted position whenever it advances,
 * so requests never wait for checkpoints (under load one write covers many
 * entries). On stop it writes the last one before leaving.
 */
static void *checkpointer(void *arg)
{
	struct ward_store *st = arg;
	pthread_mutex_lock(&st->want_mu);
	for (;;) {
		while (!st->ckpt_stop &&
		       st->want.seq <= __atomic_load_n(&st->anchored, __ATOMIC_ACQUIRE))
			pthread_cond_wait(&st->want_cv, &st->want_mu);
		if (st->want.seq <= __atomic_load_n(&st->anchored, __ATOMIC_ACQUIRE))
			break; /* stopping, nothing left */
		struct ward_audit_pos w = st->want;
		pthread_mutex_unlock(&st->want_mu);
		/* Events appended without waiting become durable here: never anchor ahead of the
		 * disk. */
		int rc = ward_audit_sync(st->audit);
		if (!rc)
			rc = anchor_write(st, &w);
		pthread_mutex_lock(&st->want_mu);
		if (rc) {
			/* Sticky: events fail from now on rather than go uncheckpointed. */
			st->ckpt_failed = 1;
			break;
		}
		/*
		 * At most CKPT_HZ rounds a second: under load each one covers many
		 * entries anyway, and fewer database writes (and WAL checkpoints)
		 * keep the disk free for the fdatasyncs that session changes (and,
		 * with --audit-sync-each, grants) wait for.
		 */
		struct timespec until = ward_deadline_ms(CLOCK_REALTIME, 1000 / CKPT_HZ);
		while (!st->ckpt_stop &&
		       pthread_cond_timedwait(&st->want_cv, &st->want_mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&st->want_mu);
	return NULL;
}

int store_checkpointer_start(struct ward_store *st)
{
	if (pthread_create(&st->ckpt, NULL, checkpointer, st) != 0)
		return ward_error(WARD_E_INTERNAL, "cannot start the checkpoint thread");
	st->ckpt_running = 1;
	return 0;
}

void store_checkpointer_stop(struct ward_store *st)
{
	if (!st->ckpt_running)
		return;
	pthread_mutex_lock(&st->want_mu);
	st->ckpt_stop = 1;
	pthread_cond_signal(&st->want_cv);
	pthread_mutex_unlock(&st->want_mu);
	pthread_join(st->ckpt, NULL);
	st->ckpt_running = 0;
}

void ward_store_audit_sync_each(struct ward_store *st, int each)
{
	st->audit_each = each;
}

int ward_store_audit(struct ward_store *st, const char *event, struct json_object *fields)
{
	/*
	 * No lock: audit is set before dek is published (release) and never
	 * changes after, so the acquire load of dek makes it visible. Taking mu
	 * here made every attestation wait behind a checkpoint write holding it.
	 */
	struct ward_audit *a = store_dek(st) ? st->audit : NULL;
	if (!a)
		return ward_error(WARD_E_SEALED, "the key service is sealed");
	/*
	 * The append itself runs unlocked so concurrent events share one
	 * fdatasync. By default the reply does not wait for it: the entry is
	 * written (a killed service loses nothing) and the checkpointer makes it
	 * durable within 1/CKPT_HZ s; a power failure can lose that window of
	 * events, never a session change (those always wait, see sessions.c).
	 */
	struct ward_audit_pos pos;
	int rc = st->audit_each ? ward_audit_append(a, event, fields, &pos)
	                        : ward_audit_append_nowait(a, event, fields, &pos);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->want_mu);
	int failed = st->ckpt_failed;
	if (pos.seq > st->want.seq) {
		st->want = pos;
		pthread_cond_signal(&st->want_cv);
	}
	pthread_mutex_unlock(&st->want_mu);
	if (failed)
		return ward_error(WARD_E_IO, "store: audit checkpoints cannot be written");
	return 0;
}

int ward_store_audit_anchor(const char *dir, uint8_t pk[32], struct ward_audit_anchor *anchor)
{
	sqlite3 *db;
	int rc = open_db(dir, SQLITE_OPEN_READONLY, &db);
	if (rc)
		return rc;
	uint8_t *v = NULL;
	size_t n;
	if (!(rc = store_meta_get(db, "audit_pk", &v, &n)) && n != 32)
		rc = ward_error(WARD_E_FORMAT, "store: bad audit key");
	if (!rc)
		memcpy(pk, v, 32);
	free(v);
	sqlite3_stmt *q;
	memset(anchor, 0, sizeof *anchor);
	if (!rc && sqlite3_prepare_v2(db, "SELECT seq, hash, sig FROM anchor WHERE id = 1", -1, &q,
	                              NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 1) == 32 &&
		    sqlite3_column_bytes(q, 2) == 64) {
			anchor->pos.seq = (uint64_t)sqlite3_column_int64(q, 0);
			memcpy(anchor->pos.hash, sqlite3_column_blob(q, 1), 32);
			memcpy(anchor->sig, sqlite3_column_blob(q, 2), 64);
		} else {
			rc = ward_error(WARD_E_NOTFOUND, "store: no audit checkpoint");
		}
		sqlite3_finalize(q);
	} else if (!rc) {
		rc = ward_error(WARD_E_FORMAT, "store: %s", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return rc;
}
