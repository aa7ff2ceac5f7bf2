/* Sessions in the store: create/update with predecessor checks, read, delete, secrets, history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "store/store_internal.h"
#include "ward/secmem.h"

struct row {
	uint8_t digest[32], owner[32];
	char *doc; /* ward_secmem_alloc'ed canonical text */
	size_t len;
};

static void row_free(struct row *r)
{
	if (r->doc)
		ward_secmem_free(r->doc);
	r->doc = NULL;
}

static void session_aad(struct store_aad *a, const char *name, const uint8_t owner[32],
                        const uint8_t digest[32])
{
	store_aad_init(a, "session");
	store_aad_str(a, name);
	store_aad_add(a, owner, 32);
	store_aad_add(a, digest, 32);
}

static void secret_aad(struct store_aad *a, const char *session, const uint8_t digest[32],
                       const char *name, int kind)
{
	uint8_t k = (uint8_t)kind;
	store_aad_init(a, "secret");
	store_aad_str(a, session);
	store_aad_add(a, digest, 32);
	store_aad_str(a, name);
	store_aad_add(a, &k, 1);
}

/* Loads and decrypts a session row (caller holds mu). WARD_E_NOTFOUND if absent. */
/* Why no read connection was available: sealed, or the database would not open. */
static int reader_error(struct ward_store *st)
{
	if (!store_dek(st))
		return ward_error(WARD_E_SEALED, "the key service is sealed");
	return ward_error(WARD_E_IO, "store: cannot open a read connection");
}

static int load_row(struct ward_store *st, sqlite3 *db, const char *name, struct row *r)
{
	sqlite3_stmt *q;
	memset(r, 0, sizeof *r);
	if (sqlite3_prepare_v2(db, "SELECT digest, owner, doc FROM sessions WHERE name = ?", -1, &q,
	                       NULL) != SQLITE_OK)
		return store_dberr(db, "reading a session");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(q);
		return rc == SQLITE_DONE ? ward_error(WARD_E_NOTFOUND, "no session '%s'", name)
		                         : store_dberr(db, "reading a session");
	}
	if (sqlite3_column_bytes(q, 0) != 32 || sqlite3_column_bytes(q, 1) != 32) {
		sqlite3_finalize(q);
		return ward_error(WARD_E_BADMSG, "session '%s': stored row is malformed", name);
	}
	memcpy(r->digest, sqlite3_column_blob(q, 0), 32);
	memcpy(r->owner, sqlite3_column_blob(q, 1), 32);
	struct store_aad aad;
	session_aad(&aad, name, r->owner, r->digest);
	uint8_t *pt;
	rc = store_decrypt(store_dek(st), &aad, sqlite3_column_blob(q, 2),
	                   (size_t)sqlite3_column_bytes(q, 2), &pt, &r->len);
	sqlite3_finalize(q);
	if (rc)
		return ward_error(rc, "session '%s': stored data failed authentication", name);
	r->doc = (char *)pt;
	return 0;
}

static int load_parsed(struct ward_store *st, sqlite3 *db, const char *name, struct row *r,
                       struct ward_session **s)
{
	int rc = load_row(st, db, name, r);
	if (rc)
		return rc;
	if ((rc = ward_session_parse(r->doc, r->len, s)))
		row_free(r);
	return rc;
}

static int load_secrets(struct ward_store *st, sqlite3 *db, const char *name,
                        const uint8_t digest[32], struct ward_secret_set **out)
{
	sqlite3_stmt *q = NULL;
	int rc = ward_secret_set_new(out);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT name, kind, value FROM secrets WHERE session = ?", -1,
	                       &q, NULL) != SQLITE_OK)
		rc = store_dberr(db, "reading secrets");
	else
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	while (!rc && sqlite3_step(q) == SQLITE_ROW) {
		const char *sn = (const char *)sqlite3_column_text(q, 0);
		int kind = sqlite3_column_int(q, 1);
		struct store_aad aad;
		uint8_t *v;
		size_t len;
		secret_aad(&aad, name, digest, sn ? sn : "", kind);
		rc = store_decrypt(store_dek(st), &aad, sqlite3_column_blob(q, 2),
		                   (size_t)sqlite3_column_bytes(q, 2), &v, &len);
		if (!rc) {
			rc = ward_secret_set_put(*out, sn, (enum ward_secret_kind)kind, v, len);
			ward_secmem_free(v);
		}
	}
	sqlite3_finalize(q); /* accepts NULL */
	if (rc) {
		ward_secret_set_free(*out);
		*out = NULL;
	}
	return rc;
}

static int bind_step(struct ward_store *st, sqlite3_stmt *q, const char *what)
{
	int ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	return ok ? 0 : store_sqlerr(st, what);
}

static int write_secrets(struct ward_store *st, const char *name, const uint8_t digest[32],
                         const struct ward_secret_set *vals)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM secrets WHERE session = ?", -1, &q, NULL) !=
	    SQLITE_OK)
		return store_sqlerr(st, "replacing secrets");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = bind_step(st, q, "replacing secrets");
	for (size_t i = 0; !rc && vals && i < ward_secret_set_count(vals); i++) {
		enum ward_secret_kind kind;
		const uint8_t *v;
		size_t len;
		const char *sn = ward_secret_set_entry(vals, i, &kind, &v, &len);
		struct store_aad aad;
		uint8_t *blob;
		size_t blen;
		secret_aad(&aad, name, digest, sn, (int)kind);
		if ((rc = store_encrypt(store_dek(st), &aad, v, len, &blob, &blen)))
			break;
		if (sqlite3_prepare_v2(st->db,
		                       "INSERT INTO secrets(session, name, kind, value) "
		                       "VALUES(?, ?, ?, ?)",
		                       -1, &q, NULL) != SQLITE_OK) {
			free(blob);
			return store_sqlerr(st, "writing secrets");
		}
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, sn, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 3, (int)kind);
		sqlite3_bind_blob(q, 4, blob, (int)blen, SQLITE_STATIC);
		rc = bind_step(st, q, "writing secrets");
		free(blob);
	}
	return rc;
}

static int write_row(struct ward_store *st, const char *name, const uint8_t owner[32],
                     const uint8_t digest[32], const char *doc, size_t len)
{
	struct store_aad aad;
	uint8_t *blob;
	size_t blen;
	session_aad(&aad, name, owner, digest);
	int rc = store_encrypt(store_dek(st), &aad, (const uint8_t *)doc, len, &blob, &blen);
	if (rc)
		return rc;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT INTO sessions(name, digest, owner, doc, created, updated) "
	                       "VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(name) DO UPDATE SET "
	                       "digest = ?2, owner = ?3, doc = ?4, updated = ?5",
	                       -1, &q, NULL) != SQLITE_OK) {
		free(blob);
		return store_sqlerr(st, "writing a session");
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, digest, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, owner, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, blob, (int)blen, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)time(NULL));
	rc = bind_step(st, q, "writing a session");
	free(blob);
	return rc;
}

static int history_add(struct ward_store *st, const char *name, const char *op,
                       const uint8_t *digest, const uint8_t *pred, const uint8_t actor[32])
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT INTO history(session, op, digest, predecessor, actor, time) "
	                       "VALUES(?, ?, ?, ?, ?, ?)",
	                       -1, &q, NULL) != SQLITE_OK)
		return store_sqlerr(st, "writing history");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, op, -1, SQLITE_STATIC);
	if (digest)
		sqlite3_bind_blob(q, 3, digest, 32, SQLITE_STATIC);
	if (pred)
		sqlite3_bind_blob(q, 4, pred, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 5, actor, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL));
	return bind_step(st, q, "writing history");
}

static void add_hex(json_object *o, const char *key, const uint8_t *v)
{
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, v, 32);
	json_object_object_add(o, key, json_object_new_string(hex));
}

/* Audits a refused change (caller holds mu, no transaction open); keeps the refusal's error. */
static int audit_refusal(struct ward_store *st, const char *event, const char *name,
                         const uint8_t client[32], int code)
{
	char why[512];
	snprintf(why, sizeof why, "%s", ward_last_error());
	json_object *f = json_object_new_object();
	json_object_object_add(f, "session", json_object_new_string(name));
	add_hex(f, "actor", client);
	json_object_object_add(f, "result", json_object_new_string("denied"));
	json_object_object_add(f, "reason", json_object_new_string(why));
	struct ward_audit_pos pos;
	int rc = store_audit_locked(st, event, f, &pos);
	json_object_put(f);
	if (rc)
		return rc; /* fail closed: the refusal could not even be recorded */
	return ward_error(code, "%s", why);
}

/* Creating "a/b/c" needs update rights on existing sessions "a" and "a/b". */
static int check_namespace(struct ward_store *st, const char *name, const uint8_t client[32])
{
	char prefix[WARD_SESSION_NAME_MAX + 1];
	for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = (size_t)(p - name);
		memcpy(prefix, name, n);
		prefix[n] = '\0';
		struct row r;
		struct ward_session *parent;
		int rc = load_parsed(st, st->db, prefix, &r, &parent);
		if (rc == WARD_E_NOTFOUND)
			continue;
		if (rc)
			return rc;
		int ok = ward_session_allows(parent, WARD_SESSION_UPDATE, r.owner, client);
		ward_session_free(parent);
		row_free(&r);
		if (!ok)
			return ward_error(WARD_E_DENIED,
			                  "creating '%s' needs update rights on session '%s'", name,
			                  prefix);
	}
	return 0;
}

/* The checks and writes of apply, inside the transaction. */
static int apply_locked(struct ward_store *st, const uint8_t client[32],
                        const struct ward_session *s, const uint8_t digest[32], int *created)
{
	const char *name = ward_session_name(s);
	uint8_t pred[32], owner[32];
	int has_pred = ward_session_predecessor(s, pred);
	struct row cur;
	struct ward_session *old = NULL;
	struct ward_secret_set *prev = NULL, *vals = NULL;
	int rc = load_parsed(st, st->db, name, &cur, &old);
	if (rc == WARD_E_NOTFOUND) {
		*created = 1;
		if (has_pred)
			return ward_error(WARD_E_CONFLICT,
			                  "session '%s' does not exist: a new session must not "
			                  "name a predecessor",
			                  name);
		if ((rc = check_namespace(st, name, client)))
			return rc;
		memcpy(owner, client, 32);
	} else if (rc) {
		return rc;
	} else {
		*created = 0;
		memcpy(owner, cur.owner, 32);
		if (!ward_session_allows(old, WARD_SESSION_UPDATE, cur.owner, client))
			rc = ward_error(WARD_E_DENIED, "not allowed to update session '%s'", name);
		else if (!has_pred)
			rc = ward_error(WARD_E_CONFLICT,
			                "session '%s' exists: an update must name its current "
			                "digest as predecessor",
			                name);
		else if (sodium_memcmp(pred, cur.digest, 32) != 0)
			rc = ward_error(WARD_E_CONFLICT,
			                "stale predecessor: session '%s' has changed since", name);
		if (!rc)
			rc = load_secrets(st, st->db, name, cur.digest, &prev);
		ward_session_free(old);
		row_free(&cur);
		if (rc)
			return rc;
	}
	char *doc = NULL;
	size_t len;
	if (!(rc = ward_session_secrets_resolve(s, prev, &vals)) &&
	    !(rc = ward_session_canonical(s, &doc, &len)) &&
	    !(rc = write_row(st, name, owner, digest, doc, len)) &&
	    !(rc = write_secrets(st, name, digest, vals)))
		rc = history_add(st, name, *created ? "create" : "update", digest,
		                 has_pred ? pred : NULL, client);
	ward_session_text_free(doc);
	ward_secret_set_free(prev);
	ward_secret_set_free(vals);
	return rc;
}

int ward_store_session_apply(struct ward_store *st, const uint8_t client[32],
                             const struct ward_session *s, uint8_t digest[32], int *created)
{
	*created = 0;
	int rc = ward_session_digest(s, digest);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->mu);
	if (!store_dek(st)) {
		pthread_mutex_unlock(&st->mu);
		return ward_error(WARD_E_SEALED, "the key service is sealed");
	}
	const char *name = ward_session_name(s);
	if ((rc = store_settled(st)) || (rc = store_begin(st)))
		goto out;
	rc = apply_locked(st, client, s, digest, created);
	if (rc) {
		store_rollback(st);
		if (rc == WARD_E_DENIED || rc == WARD_E_CONFLICT)
			rc = audit_refusal(st, *created ? "session.create" : "session.update", name,
			                   client, rc);
		goto out;
	}
	uint8_t pred[32];
	json_object *f = json_object_new_object();
	json_object_object_add(f, "session", json_object_new_string(name));
	add_hex(f, "digest", digest);
	if (ward_session_predecessor(s, pred))
		add_hex(f, "predecessor", pred);
	add_hex(f, "actor", client);
	json_object_object_add(f, "result", json_object_new_string("ok"));
	struct ward_audit_pos pos;
	/* Logged before the commit: if the log cannot be written, nothing changes. */
	rc = ward_audit_append(st->audit, *created ? "session.create" : "session.update", f, &pos);
	json_object_put(f);
	if (!rc)
		rc = store_commit_logged(st, &pos);
	store_rollback(st);
	store_cache_invalidate(st); /* before the caller hears of the change */
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int ward_store_session_read(struct ward_store *st, const uint8_t client[32], const char *name,
                            char **text, size_t *len, uint8_t digest[32], uint8_t owner[32])
{
	*text = NULL;
	int slot = -1;
	sqlite3 *db = store_dek(st) ? store_reader_get(st, &slot) : NULL;
	int rc;
	struct row r;
	struct ward_session *s = NULL;
	if (!db)
		rc = reader_error(st);
	else if (!(rc = load_parsed(st, db, name, &r, &s))) {
		if (!ward_session_allows(s, WARD_SESSION_READ, r.owner, client)) {
			rc = ward_error(WARD_E_DENIED, "not allowed to read session '%s'", name);
			row_free(&r);
		} else {
			*text = r.doc;
			*len = r.len;
			memcpy(digest, r.digest, 32);
			memcpy(owner, r.owner, 32);
		}
		ward_session_free(s);
	}
	if (db)
		store_reader_put(st, slot);
	return rc;
}

/*
 * 1 if a session lives under name ("name/..."). A parent deleted under its
 * children would let anyone re-create it and so gain the namespace.
 */
static int has_children(struct ward_store *st, const char *name)
{
	char prefix[WARD_SESSION_NAME_MAX + 2];
	snprintf(prefix, sizeof prefix, "%s/", name);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
	                       "SELECT 1 FROM sessions WHERE substr(name, 1, ?2) = ?1 LIMIT 1", -1,
	                       &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)strlen(prefix));
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int delete_locked(struct ward_store *st, const uint8_t client[32], const char *name,
                         const uint8_t *pred, uint8_t digest[32])
{
	struct row r;
	struct ward_session *s;
	int rc = load_parsed(st, st->db, name, &r, &s);
	if (rc)
		return rc;
	if (!ward_session_allows(s, WARD_SESSION_UPDATE, r.owner, client))
		rc = ward_error(WARD_E_DENIED, "not allowed to delete session '%s'", name);
	else if (pred && sodium_memcmp(pred, r.digest, 32) != 0)
		rc = ward_error(WARD_E_CONFLICT, "stale predecessor: session '%s' has changed",
		                name);
	if (!rc) {
		int kids = has_children(st, name);
		if (kids < 0)
			rc = ward_error(WARD_E_IO, "store: %s", sqlite3_errmsg(st->db));
		else if (kids)
			rc = ward_error(
			    WARD_E_CONFLICT,
			    "session '%s' has sessions under it ('%s/...'): delete them first",
			    name, name);
	}
	memcpy(digest, r.digest, 32);
	ward_session_free(s);
	row_free(&r);
	sqlite3_stmt *q;
	if (!rc && sqlite3_prepare_v2(st->db, "DELETE FROM sessions WHERE name = ?", -1, &q,
	                              NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = bind_step(st, q, "deleting a session");
	}
	if (!rc)
		rc = write_secrets(st, name, digest, NULL);
	if (!rc)
		rc = history_add(st, name, "delete", NULL, digest, client);
	return rc;
}

int ward_store_session_delete(struct ward_store *st, const uint8_t client[32], const char *name,
                              const uint8_t *pred)
{
	pthread_mutex_lock(&st->mu);
	int rc;
	uint8_t digest[32];
	if (!store_dek(st)) {
		rc = ward_error(WARD_E_SEALED, "the key service is sealed");
		goto out;
	}
	if ((rc = store_settled(st)) || (rc = store_begin(st)))
		goto out;
	if ((rc = delete_locked(st, client, name, pred, digest))) {
		store_rollback(st);
		if (rc == WARD_E_DENIED || rc == WARD_E_CONFLICT)
			rc = audit_refusal(st, "session.delete", name, client, rc);
		goto out;
	}
	json_object *f = json_object_new_object();
	json_object_object_add(f, "session", json_object_new_string(name));
	add_hex(f, "digest", digest);
	add_hex(f, "actor", client);
	json_object_object_add(f, "result", json_object_new_string("ok"));
	struct ward_audit_pos pos;
	rc = ward_audit_append(st->audit, "session.delete", f, &pos);
	json_object_put(f);
	if (!rc)
		rc = store_commit_logged(st, &pos);
	store_rollback(st);
	store_cache_invalidate(st); /* before the caller hears of the change */
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static void history_entry(json_object *arr, sqlite3_stmt *q)
{
	json_object *e = json_object_new_object();
	const char *op = (const char *)sqlite3_column_text(q, 0);
	json_object_object_add(e, "op", json_object_new_string(op ? op : ""));
	for (int c = 1; c <= 2; c++) {
		if (sqlite3_column_bytes(q, c) == 32)
			add_hex(e, c == 1 ? "digest" : "predecessor", sqlite3_column_blob(q, c));
		else
			json_object_object_add(e, c == 1 ? "digest" : "predecessor", NULL);
	}
	json_object_object_add(e, "time", json_object_new_int64(sqlite3_column_int64(q, 3)));
	json_object_array_add(arr, e);
}

int ward_store_session_history(struct ward_store *st, const uint8_t client[32], const char *name,
                               char **json)
{
	*json = NULL;
	int slot = -1;
	sqlite3 *db = store_dek(st) ? store_reader_get(st, &slot) : NULL;
	int rc;
	struct row r;
	struct ward_session *s = NULL;
	if (!db) {
		rc = reader_error(st);
		goto out;
	}
	if ((rc = load_parsed(st, db, name, &r, &s)))
		goto out;
	int ok = ward_session_allows(s, WARD_SESSION_READ, r.owner, client);
	ward_session_free(s);
	row_free(&r);
	if (!ok) {
		rc = ward_error(WARD_E_DENIED, "not allowed to read session '%s'", name);
		goto out;
	}
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(
	        db,
	        "SELECT op, digest, predecessor, time FROM history WHERE session = ? "
	        "ORDER BY id",
	        -1, &q, NULL) != SQLITE_OK) {
		rc = store_dberr(db, "reading history");
		goto out;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	json_object *arr = json_object_new_array();
	while (sqlite3_step(q) == SQLITE_ROW)
		history_entry(arr, q);
	sqlite3_finalize(q);
	*json = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	if (!*json)
		rc = ward_error(WARD_E_NOMEM, "out of memory");
out:
	if (db)
		store_reader_put(st, slot);
	return rc;
}

int ward_store_secret_public(struct ward_store *st, const char *name, const char *secret,
                             enum ward_secret_kind *kind, uint8_t pk[32])
{
	int slot = -1;
	sqlite3 *db = store_dek(st) ? store_reader_get(st, &slot) : NULL;
	int rc;
	struct row r;
	struct ward_session *s = NULL;
	struct ward_secret_set *vals = NULL;
	if (!db) {
		rc = reader_error(st);
		goto out;
	}
	if ((rc = load_parsed(st, db, name, &r, &s)))
		goto out;
	int i = ward_session_secret_find(s, secret);
	struct ward_secret_info info;
	if (i < 0) {
		rc = ward_error(WARD_E_NOTFOUND, "session '%s' has no secret '%s'", name, secret);
	} else {
		ward_session_secret_info(s, (size_t)i, &info);
		*kind = info.kind;
		if (!info.export_public)
			rc = ward_error(WARD_E_DENIED,
			                "secret '%s' of session '%s' is not exported "
			                "(export_public: true)",
			                secret, name);
	}
	if (!rc && !(rc = load_secrets(st, db, name, r.digest, &vals))) {
		size_t len;
		const uint8_t *v = ward_secret_set_get(vals, secret, NULL, &len);
		rc = v ? ward_secret_public(info.kind, v, len, pk)
		       : ward_error(WARD_E_NOTFOUND, "secret '%s' has no value", secret);
	}
	ward_secret_set_free(vals);
	ward_session_free(s);
	row_free(&r);
out:
	if (db)
		store_reader_put(st, slot);
	return rc;
}

int ward_store_session_load(struct ward_store *st, const char *name, struct ward_session **s,
                            struct ward_secret_set **values, uint8_t *digest)
{
	*s = NULL;
	*values = NULL;
	uint8_t d[32];
	uint64_t gen = UINT64_MAX; /* never a generation: no put unless the get ran */
	if (store_dek(st) && store_cache_get(st, name, s, values, d, &gen)) {
		if (digest)
			memcpy(digest, d, 32);
		return 0;
	}
	int slot = -1;
	sqlite3 *db = store_dek(st) ? store_reader_get(st, &slot) : NULL;
	int rc;
	struct row r;
	if (!db)
		rc = reader_error(st);
	else if (!(rc = load_parsed(st, db, name, &r, s))) {
		rc = load_secrets(st, db, name, r.digest, values);
		if (digest)
			memcpy(digest, r.digest, 32);
		if (!rc)
			store_cache_put(st, gen, name, *s, *values, r.digest);
		row_free(&r);
		if (rc) {
			ward_session_free(*s);
			*s = NULL;
		}
	}
	if (db)
		store_reader_put(st, slot);
	return rc;
}
