/* Enrolled platform (LAS) keys and trusted launcher measurements, authenticated with the data key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "store/store_internal.h"
#include "ward/secmem.h"

static const char *trust_name(enum ward_store_trust what)
{
	return what == WARD_STORE_PLATFORM ? "platform" : "launcher";
}

/* The row's MAC is an AES-GCM tag over nothing, with the row as associated data. */
static void trust_aad(struct store_aad *a, enum ward_store_trust what, const uint8_t value[32],
                      const char *label)
{
	store_aad_init(a, trust_name(what));
	store_aad_add(a, value, 32);
	store_aad_str(a, label);
}

/* Logs the change and commits it with its checkpoint (the transaction is open). */
static int trust_audit(struct ward_store *st, enum ward_store_trust what, const char *op,
                       const uint8_t value[32], const char *label)
{
	char event[64], hex[65];
	snprintf(event, sizeof event, "%s.%s", trust_name(what), op);
	sodium_bin2hex(hex, sizeof hex, value, 32);
	json_object *f = json_object_new_object();
	json_object_object_add(f, what == WARD_STORE_PLATFORM ? "platform" : "measurement",
	                       json_object_new_string(hex));
	if (label)
		json_object_object_add(f, "label", json_object_new_string(label));
	struct ward_audit_pos pos;
	int rc = ward_audit_append(st->audit, event, f, &pos);
	json_object_put(f);
	return rc ? rc : store_commit_logged(st, &pos);
}

static void trust_invalidate(struct ward_store *st);

int ward_store_trust_add(struct ward_store *st, enum ward_store_trust what, const uint8_t value[32],
                         const char *label)
{
	if (strlen(label) > 200)
		return ward_error(WARD_E_INVAL, "label longer than 200 bytes");
	pthread_mutex_lock(&st->mu);
	int rc;
	if (!store_dek(st)) {
		rc = ward_error(WARD_E_SEALED, "the key service is sealed");
		goto out;
	}
	struct store_aad aad;
	uint8_t *mac = NULL;
	size_t mlen;
	trust_aad(&aad, what, value, label);
	if ((rc = store_settled(st)) ||
	    (rc = store_encrypt(store_dek(st), &aad, NULL, 0, &mac, &mlen)) ||
	    (rc = store_begin(st))) {
		free(mac);
		goto out;
	}
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db,
	                       "INSERT OR REPLACE INTO trust(kind, value, label, added, mac) "
	                       "VALUES(?, ?, ?, ?, ?)",
	                       -1, &q, NULL) != SQLITE_OK) {
		rc = store_sqlerr(st, "enrolling");
	} else {
		sqlite3_bind_int(q, 1, (int)what);
		sqlite3_bind_blob(q, 2, value, 32, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, label, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)time(NULL));
		sqlite3_bind_blob(q, 5, mac, (int)mlen, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = store_sqlerr(st, "enrolling");
		sqlite3_finalize(q);
	}
	free(mac);
	if (!rc)
		rc = trust_audit(st, what, "add", value, label);
	trust_invalidate(st);
	store_rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int ward_store_trust_remove(struct ward_store *st, enum ward_store_trust what,
                            const uint8_t value[32])
{
	pthread_mutex_lock(&st->mu);
	int rc;
	if (!store_dek(st)) {
		rc = ward_error(WARD_E_SEALED, "the key service is sealed");
		goto out;
	}
	if ((rc = store_settled(st)) || (rc = store_begin(st)))
		goto out;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM trust WHERE kind = ? AND value = ?", -1, &q,
	                       NULL) != SQLITE_OK) {
		rc = store_sqlerr(st, "removing");
	} else {
		sqlite3_bind_int(q, 1, (int)what);
		sqlite3_bind_blob(q, 2, value, 32, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = store_sqlerr(st, "removing");
		else if (sqlite3_changes(st->db) == 0)
			rc = ward_error(WARD_E_NOTFOUND, "no such %s enrolled", trust_name(what));
		sqlite3_finalize(q);
	}
	if (!rc)
		rc = trust_audit(st, what, "remove", value, NULL);
	trust_invalidate(st);
	store_rollback(st);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Checks one row's MAC and appends it to the output arrays. */
static int trust_row(struct ward_store *st, enum ward_store_trust what, sqlite3_stmt *q,
                     uint8_t (*vals)[32], char **labels, size_t i)
{
	const char *label = (const char *)sqlite3_column_text(q, 1);
	if (sqlite3_column_bytes(q, 0) != 32 || !label)
		return ward_error(WARD_E_BADMSG, "store: malformed %s row", trust_name(what));
	memcpy(vals[i], sqlite3_column_blob(q, 0), 32);
	struct store_aad aad;
	uint8_t *pt;
	size_t len;
	trust_aad(&aad, what, vals[i], label);
	int rc = store_decrypt(store_dek(st), &aad, sqlite3_column_blob(q, 2),
	                       (size_t)sqlite3_column_bytes(q, 2), &pt, &len);
	if (rc)
		return ward_error(WARD_E_BADMSG,
		                  "store: an enrolled %s entry failed authentication (altered on "
		                  "disk?)",
		                  trust_name(what));
	ward_secmem_free(pt);
	if (labels && !(labels[i] = strdup(label)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	return 0;
}

static int trust_load(struct ward_store *st, enum ward_store_trust what, uint8_t (**values)[32],
                      char ***labels, size_t *n)
{
	*values = NULL;
	*n = 0;
	if (labels)
		*labels = NULL;
	int slot = -1;
	sqlite3 *db = store_dek(st) ? store_reader_get(st, &slot) : NULL;
	int rc = 0;
	size_t cap = 0;
	uint8_t(*vals)[32] = NULL;
	char **labs = NULL;
	sqlite3_stmt *q = NULL;
	if (!db)
		rc = store_dek(st) ? ward_error(WARD_E_IO, "store: cannot open a read connection")
		                   : ward_error(WARD_E_SEALED, "the key service is sealed");
	else if (sqlite3_prepare_v2(
	             db, "SELECT value, label, mac FROM trust WHERE kind = ? ORDER BY value", -1,
	             &q, NULL) != SQLITE_OK)
		rc = store_dberr(db, "listing");
	else
		sqlite3_bind_int(q, 1, (int)what);
	while (!rc && sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			void *nv = realloc(vals, cap * 32), *nl = NULL;
			if (nv)
				vals = nv;
			if (labels && (nl = realloc(labs, cap * sizeof *labs)))
				labs = nl;
			if (!nv || (labels && !nl)) {
				rc = ward_error(WARD_E_NOMEM, "out of memory");
				break;
			}
		}
		if (labels)
			labs[*n] = NULL;
		rc = trust_row(st, what, q, vals, labels ? labs : NULL, *n);
		(*n)++;
	}
	sqlite3_finalize(q);
	if (db)
		store_reader_put(st, slot);
	if (rc) {
		for (size_t i = 0; labs && i < *n; i++)
			free(labs[i]);
		free(labs);
		free(vals);
		*n = 0;
		return rc;
	}
	*values = vals;
	if (labels)
		*labels = labs;
	return 0;
}

/* Drops the cached lists (after a change). */
static void trust_invalidate(struct ward_store *st)
{
	pthread_mutex_lock(&st->trust_mu);
	st->trust_gen++;
	for (int i = 0; i < 2; i++) {
		free(st->trust_cache[i].v);
		st->trust_cache[i].v = NULL;
		st->trust_cache[i].valid = 0;
	}
	pthread_mutex_unlock(&st->trust_mu);
}

void store_trust_cache_free(struct ward_store *st)
{
	for (int i = 0; i < 2; i++)
		free(st->trust_cache[i].v);
}

/*
 * Every attestation needs both lists, which change only through this
 * process: they are read (and their rows authenticated) once and then
 * served from memory until the next add or remove.
 */
int ward_store_trust_list(struct ward_store *st, enum ward_store_trust what, uint8_t (**values)[32],
                          char ***labels, size_t *n)
{
	if (labels)
		return trust_load(st, what, values, labels, n);
	struct store_trust_cache *c = &st->trust_cache[what == WARD_STORE_LAUNCHER];
	pthread_mutex_lock(&st->trust_mu);
	uint64_t gen = st->trust_gen;
	if (c->valid) {
		*n = c->n;
		*values = malloc(c->n ? c->n * 32 : 1);
		if (*values && c->n)
			memcpy(*values, c->v, c->n * 32);
		pthread_mutex_unlock(&st->trust_mu);
		return *values ? 0 : ward_error(WARD_E_NOMEM, "out of memory");
	}
	pthread_mutex_unlock(&st->trust_mu);
	int rc = trust_load(st, what, values, NULL, n);
	if (rc)
		return rc;
	pthread_mutex_lock(&st->trust_mu);
	if (st->trust_gen == gen && !c->valid && (c->v = malloc(*n ? *n * 32 : 1))) {
		if (*n)
			memcpy(c->v, *values, *n * 32);
		c->n = *n;
		c->valid = 1;
	}
	pthread_mutex_unlock(&st->trust_mu);
	return 0;
}
