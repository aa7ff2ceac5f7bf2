/* Internal interfaces of `ward cas serve`: options, HTTP glue, owner/workload/admin handlers. */
#ifndef WARD_CAS_H
#define WARD_CAS_H

#include <stddef.h>
#include <stdint.h>

#include "ward/store.h"

struct MHD_Connection;

struct cas_opts {
	const char *data_dir;
	const char *owner_addr;         /* HOST:PORT, default 127.0.0.1:8081 */
	const char *workload_addr;      /* HOST:PORT, default 127.0.0.1:18765 */
	const char *port_file;          /* receives "owner PORT\nworkload PORT\n" */
	const char *tls_cert, *tls_key; /* default DATA/tls/server.{crt,key} */
	int dev;                        /* --dev: auto-initialise, auto-unseal, loud banner */
	int insecure_none;              /* --insecure-allow-mode-none */
	int audit_sync_each;            /* --audit-sync-each: every grant waits for the disk */
};

/* Runs the service until SIGINT/SIGTERM. Returns a process exit code. */
int cas_serve(const struct cas_opts *o);

/* ---- tls.c ---- */

/*
 * Writes a self-signed ECDSA P-256 certificate and its key (PEM, key 0600)
 * with the given common name; server certificates get SAN localhost,
 * 127.0.0.1, ::1 and the extra DNS names/IPs in sans (NULL-terminated, may be
 * NULL). Returns 0 or a negative ward_err.
 */
int cas_tls_make_cert(const char *cert_path, const char *key_path, const char *cn, int server,
                      const char *const *sans);

/*
 * An owner's identity from their DER certificate: SHA-256 of its
 * SubjectPublicKeyInfo in out. 1, 0 if it cannot be read, -1 if it is
 * outside its validity period (expired or not yet valid).
 */
int cas_tls_client_key(const uint8_t *der, size_t len, uint8_t out[32]);

/* Same for a PEM certificate file. 0 or a negative ward_err. */
int cas_tls_spki_hash_file(const char *path, uint8_t out[32]);

/* Reads a whole (small) file into a NUL-terminated malloc'ed buffer. */
int cas_read_file(const char *path, char **out, size_t *len);

/* ---- http.c: one listener ---- */
struct cas_server;
struct cas_request;

struct cas_state;

/* Starts an HTTPS listener on HOST:PORT; owner = the owner API (client certificates required). */
int cas_http_start(struct cas_state *cs, const char *addr, int owner, const char *cert_pem,
                   const char *key_pem, struct cas_server **out);
/* The port it listens on (useful with port 0). */
int cas_http_port(const struct cas_server *srv);
/* Stops it (waits for the connection threads). Accepts NULL. */
void cas_http_stop(struct cas_server *srv);

/* The per-request state handed to the route handlers. */
struct cas_request {
	struct cas_server *srv;
	struct MHD_Connection *conn;
	const char *method, *url;
	char *body; /* NUL-terminated, in sodium_malloc'ed memory */
	size_t body_len, body_cap;
	int body_too_big;
	int have_client;
	uint8_t client[32]; /* SHA-256 of the client certificate's SPKI (owner API) */
};

/* Response helpers: they queue a response and return the MHD result. */
int cas_reply_json(struct cas_request *r, unsigned status, const char *json);
/* Replies with text in sodium_malloc'ed memory that is wiped after sending. */
int cas_reply_secure(struct cas_request *r, unsigned status, char *text, size_t len,
                     const char *content_type);
int cas_reply_error(struct cas_request *r, unsigned status, const char *msg);
/* Maps a ward_err to an HTTP status and replies with ward_last_error(). */
int cas_reply_ward_error(struct cas_request *r, int err);
unsigned cas_http_status(int err);

struct cas_state {
	struct ward_store *store;
	const struct cas_opts *opts;
	struct cas_nonces *nonces;
	struct cas_denials *denials;
};

/* Route handlers. */
int cas_owner_handle(struct cas_state *cs, struct cas_request *r);
int cas_workload_handle(struct cas_state *cs, struct cas_request *r);

/* ---- nonce.c: stateless issue, replay-checked consume ---- */
struct cas_nonces *cas_nonces_new(void);
void cas_nonces_free(struct cas_nonces *n);
void cas_nonce_issue(struct cas_nonces *n, uint8_t nonce[32]);
/* 0 if n issued it, it is unexpired and unused (now it is used); -1 if not; -2 when full. */
int cas_nonce_consume(struct cas_nonces *n, const uint8_t nonce[32]);
/* The same at a given CLOCK_MONOTONIC second (tests). */
#define CAS_NONCE_TTL 60
void cas_nonce_issue_at(struct cas_nonces *n, uint8_t nonce[32], uint64_t now);
int cas_nonce_consume_at(struct cas_nonces *n, const uint8_t nonce[32], uint64_t now);

/* ---- denials.c: refusals no enrolled LAS key vouches for, summarised ---- */

/*
 * Why a configuration request was refused before any enrolled LAS key vouched
 * for its evidence: anyone who reaches the workload port can cause these, so
 * they are counted, not logged one by one (refusals of evidence that did
 * verify keep their own attestation.denied entry).
 */
enum cas_unauth {
	CAS_UNAUTH_MODE_SGX,
	CAS_UNAUTH_MODE_NONE,
	CAS_UNAUTH_NO_EVIDENCE,
	CAS_UNAUTH_MALFORMED,
	CAS_UNAUTH_UNSUPPORTED,
	CAS_UNAUTH_NOT_ENROLLED,
	CAS_UNAUTH_BAD_SIGNATURE,
	CAS_UNAUTH_TIME,
	CAS_UNAUTH_UNCHECKED, /* the service failed before checking (store error) */
	CAS_UNAUTH_N
};
#define CAS_UNAUTH_EVENT       "attestation.denied.unauthenticated"
#define CAS_UNAUTH_INTERVAL_MS 10000L /* at most one summary entry per 10 s */

struct cas_denials;
/* Starts the summary thread: at most one entry per interval_ms while refusals are pending. */
int cas_denials_start(struct ward_store *st, long interval_ms, struct cas_denials **out);
/* Counts one refusal (any thread; never blocks on the disk). */
void cas_denials_count(struct cas_denials *d, enum cas_unauth why);
/* The fixed text of a reason, as it appears in the summary. */
const char *cas_denials_reason(enum cas_unauth why);
/*
 * Stops the thread and appends the last summary (call after the listeners
 * stopped). Returns 0 or the append's error; *lost (may be NULL) receives
 * the refusals that could not be logged. Accepts NULL.
 */
int cas_denials_stop(struct cas_denials *d, uint64_t *lost);

/* ---- admin.c: the local admin socket ---- */
struct cas_admin;
int cas_admin_start(struct cas_state *cs, const char *path, struct cas_admin **out);
void cas_admin_stop(struct cas_admin *a);

#endif
