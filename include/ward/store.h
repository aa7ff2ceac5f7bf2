/*
 * The key service's state: an SQLite database (WAL) in a data directory,
 * with every secret (session documents, generated secret values, the audit
 * signing key) encrypted with AES-256-GCM under a data key, which is wrapped
 * by a key-encryption key (KEK) that exists only as k-of-n Shamir shares
 * outside the process. The store opens sealed; ward_store_unseal collects
 * shares. Every change is appended to the audit log (ward/audit.h) before it
 * commits, and the log's checkpoint is kept in the database.
 *
 * Clients are identified by the SHA-256 of their certificate's
 * SubjectPublicKeyInfo (32 bytes, "client" below).
 *
 * Thread safety: a store may be used from many threads at once.
 */
#ifndef WARD_STORE_H
#define WARD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ward/audit.h"
#include "ward/error.h"
#include "ward/session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_STORE_DB    "cas.db"
#define WARD_STORE_AUDIT "audit.log"

struct ward_store;
struct json_object;

/*
 * Creates a new store in the existing directory dir (cas.db, audit.log):
 * a random KEK split into n shares with threshold k, a random data key,
 * an Ed25519 audit key. *shares receives the n text shares, one per line
 * (in guarded memory (ward/secmem.h); free with ward_store_text_free) — the only copies of
 * the KEK. dev marks a store for `ward cas serve --dev`.
 * Errors: WARD_E_EXISTS (dir already holds a store), WARD_E_INVAL, WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_create(const char *dir, unsigned k, unsigned n, int dev,
                                                 char **shares, uint8_t audit_pk[32])
    WARD_NONNULL(1, 5, 6);

/* Wipes and frees text returned by the store. Accepts NULL. */
WARD_EXPORT void ward_store_text_free(char *text);

/*
 * Opens the store in dir, sealed. Errors: WARD_E_NOTFOUND (no store),
 * WARD_E_FORMAT (not a ward store or another version), WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_open(const char *dir, struct ward_store **out)
    WARD_NONNULL(1, 2);

/* Wipes keys and closes. Accepts NULL. */
WARD_EXPORT void ward_store_close(struct ward_store *st);

/* 1 while sealed. */
WARD_EXPORT int ward_store_sealed(struct ward_store *st) WARD_NONNULL(1);
/* 1 if created for dev mode. */
WARD_EXPORT int ward_store_is_dev(struct ward_store *st) WARD_NONNULL(1);

/*
 * Adds one unseal share (text). have and need report progress. When the
 * threshold is reached the KEK is recombined, the data key unwrapped, the
 * audit log opened and "cas.unseal" logged; then *have == *need and the
 * store is unsealed. Shares are kept in guarded memory only until then.
 * Errors: WARD_E_FORMAT (not a share / typo), WARD_E_CONFLICT (share of
 * another store or threshold), WARD_E_EXISTS (this share was given
 * already), WARD_E_BADMSG (the shares do not open the store: progress is
 * reset), WARD_E_IO (audit log). When already unsealed: 0 and have == need.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_unseal(struct ward_store *st, const char *share,
                                                 unsigned *have, unsigned *need)
    WARD_NONNULL(1, 2, 3, 4);

/* Unseal progress without giving a share. */
WARD_EXPORT void ward_store_unseal_progress(struct ward_store *st, unsigned *have, unsigned *need)
    WARD_NONNULL(1, 2, 3);

/* ---- Sessions (all fail with WARD_E_SEALED while sealed) ---------------- */

/*
 * Creates or updates a session on behalf of client. Without a stored
 * session of that name: create (s must not name a predecessor; creating
 * "a/b" needs update rights on an existing session "a"); client becomes the
 * owner. Otherwise update: the session's update policy must allow client
 * (WARD_E_DENIED) and s's predecessor must be the current digest
 * (WARD_E_CONFLICT). Generated secrets of the same name, kind and size are
 * kept. The change is audited before it commits (a failing audit log fails
 * the request with WARD_E_IO and nothing changes). digest receives the new
 * digest, *created 1 for a create.
 */
WARD_EXPORT WARD_NODISCARD int
ward_store_session_apply(struct ward_store *st, const uint8_t client[32],
                         const struct ward_session *s, uint8_t digest[32], int *created)
    WARD_NONNULL(1, 2, 3, 4, 5);

/*
 * Reads a session's canonical text (in guarded memory (ward/secmem.h); ward_store_text_free)
 * if its read policy allows client. Generated secret values are not in it.
 * Errors: WARD_E_NOTFOUND, WARD_E_DENIED, WARD_E_BADMSG (stored data altered).
 */
WARD_EXPORT WARD_NODISCARD int
ward_store_session_read(struct ward_store *st, const uint8_t client[32], const char *name,
                        char **text, size_t *len, uint8_t digest[32], uint8_t owner[32])
    WARD_NONNULL(1, 2, 3, 4, 5, 6, 7);

/*
 * Deletes a session and its secrets if the update policy allows client;
 * pred, if given, must be the current digest. Audited.
 * Errors: WARD_E_NOTFOUND, WARD_E_DENIED, WARD_E_CONFLICT, WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_session_delete(struct ward_store *st,
                                                         const uint8_t client[32], const char *name,
                                                         const uint8_t *pred) WARD_NONNULL(1, 2, 3);

/*
 * The digests a session has had, oldest first, as a JSON array text
 * (malloc'ed) of {"digest","predecessor","op","time"}; needs read rights.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_session_history(struct ward_store *st,
                                                          const uint8_t client[32],
                                                          const char *name, char **json)
    WARD_NONNULL(1, 2, 3, 4);

/*
 * The public half of secret `secret` of session `name`, which must be an
 * x25519/ed25519 secret with export_public: true (else WARD_E_DENIED). Any
 * authenticated client may fetch it. Errors: WARD_E_NOTFOUND, WARD_E_DENIED.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_secret_public(struct ward_store *st, const char *name,
                                                        const char *secret,
                                                        enum ward_secret_kind *kind, uint8_t pk[32])
    WARD_NONNULL(1, 2, 3, 4, 5);

/*
 * Loads a session and its secret values for a workload that the caller has
 * attested (no access policy applies), and its stored digest if digest is
 * not NULL. Free with ward_session_free and ward_secret_set_free.
 * Errors: WARD_E_NOTFOUND, WARD_E_BADMSG.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_session_load(struct ward_store *st, const char *name,
                                                       struct ward_session **s,
                                                       struct ward_secret_set **values,
                                                       uint8_t *digest) WARD_NONNULL(1, 2, 3, 4);

/* ---- Enrolled platforms (LAS keys) and trusted launcher measurements ---- */

enum ward_store_trust {
	WARD_STORE_PLATFORM = 0, /* Ed25519 public key of a `ward las` */
	WARD_STORE_LAUNCHER,     /* SHA-256 measurement of a trusted `ward run` binary */
};

/* Adds (or relabels) an entry. Audited. Rows are authenticated with the data key. */
WARD_EXPORT WARD_NODISCARD int ward_store_trust_add(struct ward_store *st,
                                                    enum ward_store_trust what,
                                                    const uint8_t value[32], const char *label)
    WARD_NONNULL(1, 3, 4);
/* Removes an entry. Audited. Errors: WARD_E_NOTFOUND. */
WARD_EXPORT WARD_NODISCARD int ward_store_trust_remove(struct ward_store *st,
                                                       enum ward_store_trust what,
                                                       const uint8_t value[32]) WARD_NONNULL(1, 3);
/*
 * The entries (malloc'ed array of 32-byte values, *n of them; free()).
 * A row altered on disk fails the call with WARD_E_BADMSG.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_trust_list(struct ward_store *st,
                                                     enum ward_store_trust what,
                                                     uint8_t (**values)[32], char ***labels,
                                                     size_t *n) WARD_NONNULL(1, 3, 5);

/* ---- Audit ---------------------------------------------------------------- */

/*
 * Appends an event (attestation granted/denied, ...) and advances the
 * checkpoint. Fails (WARD_E_IO) if the log cannot be written: callers then
 * refuse the request. WARD_E_SEALED while sealed. Returns once the entry is
 * written; the background checkpointer makes it durable within 50 ms (a
 * power failure can lose that window), unless ward_store_audit_sync_each
 * asked for a sync before every return. Session changes always wait.
 */
WARD_EXPORT void ward_store_audit_sync_each(struct ward_store *st, int each) WARD_NONNULL(1);

WARD_EXPORT WARD_NODISCARD int ward_store_audit(struct ward_store *st, const char *event,
                                                struct json_object *fields) WARD_NONNULL(1, 2);

/*
 * Reads, without unsealing, the audit public key and the latest checkpoint
 * of the store in dir (for `ward cas audit verify`).
 */
WARD_EXPORT WARD_NODISCARD int ward_store_audit_anchor(const char *dir, uint8_t pk[32],
                                                       struct ward_audit_anchor *anchor)
    WARD_NONNULL(1, 2, 3);

/*
 * Checks, without unsealing or changing anything, the store in dir for a
 * rolled-back or replaced database (the check unsealing makes): the
 * checkpoint is signed by the store's audit key, the log holds the
 * checkpointed entry complete and unchanged, and the entries after it record
 * at most one database change (session.create|update|delete with result ok,
 * platform.*, launcher.*, cas.init), which no cas.unseal precedes: the one a
 * service that died between logging and committing it leaves behind.
 * *uncommitted receives that entry's sequence number, or 0.
 * Errors: WARD_E_BADMSG (the detail names the entries and the checkpoint),
 * WARD_E_TRUNCATED, WARD_E_NOTFOUND, WARD_E_FORMAT, WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_store_audit_check(const char *dir, uint64_t *uncommitted)
    WARD_NONNULL(1, 2);

#ifdef __cplusplus
}
#endif
#endif
