/* `ward cas init`: a new store with a fresh KEK (split into shares), data key and audit key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "store/store_internal.h"
#include "ward/secmem.h"

struct keys {
	uint8_t kek[32], dek[32], audit_sk[64], audit_pk[32];
	uint8_t set_id[WARD_SHAMIR_SETID_BYTES];
	uint8_t shares[WARD_SHAMIR_MAX_SHARES * 32];
};

static int put_u32(sqlite3 *db, const char *key, unsigned v)
{
	uint8_t b[4];
	ward_store32_be(b, v);
	return store_meta_put(db, key, b, 4);
}

/* Writes the metadata: wrapped data key, encrypted audit key, share parameters. */
static int write_meta(struct ward_store *st, const struct keys *K, unsigned k, unsigned n, int dev)
{
	struct store_aad aad;
	uint8_t *blob = NULL;
	size_t blen;
	store_aad_init(&aad, "dek");
	store_aad_add(&aad, K->set_id, sizeof K->set_id);
	int rc = store_encrypt(K->kek, &aad, K->dek, 32, &blob, &blen);
	if (!rc)
		rc = store_meta_put(st->db, "dek", blob, blen);
	free(blob);
	blob = NULL;
	store_aad_init(&aad, "audit-sk");
	store_aad_add(&aad, K->audit_pk, 32);
	if (!rc && !(rc = store_encrypt(K->dek, &aad, K->audit_sk, 64, &blob, &blen)))
		rc = store_meta_put(st->db, "audit_sk", blob, blen);
	free(blob);
	if (!rc)
		rc = store_meta_put(st->db, "audit_pk", K->audit_pk, 32);
	if (!rc)
		rc = store_meta_put(st->db, "set_id", K->set_id, sizeof K->set_id);
	if (!rc && !(rc = put_u32(st->db, "threshold", k)) && !(rc = put_u32(st->db, "shares", n)))
		rc = put_u32(st->db, "dev", dev ? 1 : 0);
	if (!rc)
		rc = store_meta_put(st->db, "format", STORE_FORMAT, strlen(STORE_FORMAT));
	return rc;
}

/* The n shares as text lines in guarded memory. */
static int format_shares(const struct keys *K, unsigned k, unsigned n, char **out)
{
	size_t cap = (size_t)n * WARD_SHAMIR_TEXT_MAX + 1;
	char *text = ward_secmem_alloc(cap);
	if (!text)
		return ward_error(WARD_E_NOMEM, "out of memory");
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		int rc = ward_shamir_share_format(K->set_id, k, i + 1, K->shares + (size_t)i * 32,
		                                  32, text + len);
		if (rc) {
			ward_secmem_free(text);
			return rc;
		}
		len += strlen(text + len);
		text[len++] = '\n';
	}
	text[len] = '\0';
	*out = text;
	return 0;
}

static int refuse_existing(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return ward_error(WARD_E_NOTFOUND, "%s: not a directory", dir);
	const char *names[] = {WARD_STORE_DB, WARD_STORE_AUDIT};
	for (int i = 0; i < 2; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (lstat(path, &sb) == 0)
			return ward_error(WARD_E_EXISTS, "%s exists: refusing to replace a store",
			                  path);
	}
	return 0;
}

/* Creates the schema and metadata, opens the audit log and logs the creation. */
static int build(struct ward_store *st, const struct keys *K, unsigned k, unsigned n, int dev)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", st->dir, WARD_STORE_DB);
	int rc = sqlite3_open_v2(path, &st->db,
	                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         NULL) == SQLITE_OK
	             ? 0
	             : ward_error(WARD_E_IO, "%s: cannot create", path);
	if (rc)
		return rc;
	chmod(path, 0600);
	if ((rc = store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) ||
	    (rc = store_begin(st)))
		return rc;
	if ((rc = store_exec(st, store_schema())) || (rc = write_meta(st, K, k, n, dev)))
		return rc;
	snprintf(path, sizeof path, "%s/%s", st->dir, WARD_STORE_AUDIT);
	if ((rc = ward_audit_open(path, K->audit_sk, &st->audit)))
		return rc;
	json_object *f = json_object_new_object();
	json_object_object_add(f, "threshold", json_object_new_int((int)k));
	json_object_object_add(f, "shares", json_object_new_int((int)n));
	json_object_object_add(f, "dev", json_object_new_boolean(dev));
	struct ward_audit_pos pos;
	rc = ward_audit_append(st->audit, "cas.init", f, &pos);
	json_object_put(f);
	if (!rc)
		rc = store_anchor_put(st, &pos);
	return rc ? rc : store_commit(st);
}

int ward_store_create(const char *dir, unsigned k, unsigned n, int dev, char **shares,
                      uint8_t audit_pk[32])
{
	*shares = NULL;
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	if (k == 0 || k > n || n > WARD_SHAMIR_MAX_SHARES)
		return ward_error(WARD_E_INVAL,
		                  "need 1 <= threshold <= shares <= 255 (got %u of %u)", k, n);
	int rc = refuse_existing(dir);
	if (rc)
		return rc;
	struct keys *K = sodium_malloc(sizeof *K);
	struct ward_store st;
	memset(&st, 0, sizeof st);
	st.dir = (char *)dir;
	pthread_mutex_init(&st.mu, NULL);
	if (!K)
		return ward_error(WARD_E_NOMEM, "out of memory");
	randombytes_buf(K->kek, 32);
	randombytes_buf(K->dek, 32);
	randombytes_buf(K->set_id, sizeof K->set_id);
	crypto_sign_keypair(K->audit_pk, K->audit_sk);
	if (!(rc = ward_shamir_split(K->kek, 32, k, n, K->shares)))
		rc = build(&st, K, k, n, dev);
	if (!rc)
		rc = format_shares(K, k, n, shares);
	if (!rc)
		memcpy(audit_pk, K->audit_pk, 32);
	store_rollback(&st);
	ward_audit_close(st.audit);
	if (st.db)
		sqlite3_close(st.db);
	pthread_mutex_destroy(&st.mu);
	sodium_free(K);
	if (rc) {
		/* Leave nothing half made: a later init must not find a broken store. */
		char path[4096];
		const char *names[] = {WARD_STORE_DB, WARD_STORE_DB "-wal", WARD_STORE_DB "-shm",
		                       WARD_STORE_AUDIT};
		for (int i = 0; i < 4 && rc != WARD_E_EXISTS; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			unlink(path);
		}
	}
	return rc;
}
