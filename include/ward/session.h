/*
 * Key-service sessions: the YAML session language (docs/session.md), its
 * canonical serialisation and SHA-256 digest, access policies, secret
 * generation, and rendering a service's configuration with the
 * $$WARD::NAME[:hex|:base64|:public...]$$ references substituted.
 *
 * Thread safety: a parsed session is immutable except through
 * ward_session_set_predecessor; concurrent readers are fine. Secret sets are
 * not shared between threads while being modified.
 */
#ifndef WARD_SESSION_H
#define WARD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_SESSION_DIGEST_BYTES 32u
#define WARD_SESSION_MAX_TEXT     (1u << 20) /* largest session document, bytes */
#define WARD_SESSION_NAME_MAX     128u
#define WARD_SECRET_MAX_SIZE      4096u /* largest ascii/binary secret, bytes */

struct ward_session;
struct ward_secret_set;

enum ward_session_mode {
	WARD_SESSION_MODE_HOST = 0, /* evidence from an enrolled `ward las` */
	WARD_SESSION_MODE_SGX,      /* DCAP quotes: not available yet, always refused */
	WARD_SESSION_MODE_NONE,     /* no attestation: only on an explicitly insecure service */
};

enum ward_secret_kind {
	WARD_SECRET_ASCII = 0, /* printable text; generated from [A-Za-z0-9] */
	WARD_SECRET_BINARY,    /* random bytes */
	WARD_SECRET_X25519,    /* 32-byte X25519 private key (Crypt4GH keys) */
	WARD_SECRET_ED25519,   /* 32-byte Ed25519 seed */
};

enum ward_session_right {
	WARD_SESSION_READ = 0,
	WARD_SESSION_UPDATE, /* also governs delete */
};

/* What the API may say about a secret: never its value. */
struct ward_secret_info {
	const char *name; /* valid while the session lives */
	enum ward_secret_kind kind;
	size_t size;        /* bytes (characters for ascii) */
	int export_public;  /* x25519/ed25519 public half may be fetched */
	int explicit_value; /* the owner gave `value` (part of the session text) */
};

/*
 * Parses and validates a session document (YAML; JSON is accepted as the
 * YAML flow subset). Unknown keys, aliases, duplicate keys, undeclared secret
 * references, bad names and out-of-range sizes are refused.
 * Errors: WARD_E_FORMAT ("line 7: services[0].pwd: must be an absolute
 * path"), WARD_E_RANGE (document larger than WARD_SESSION_MAX_TEXT),
 * WARD_E_NOMEM. *out is set only on success; free it with ward_session_free.
 */
WARD_EXPORT WARD_NODISCARD int ward_session_parse(const char *text, size_t len,
                                                  struct ward_session **out) WARD_NONNULL(3);

/* Frees (wiping explicit secret values). Accepts NULL. With references
 * taken by ward_session_ref, only the last free releases the session. */
WARD_EXPORT void ward_session_free(struct ward_session *s);
/* Another reference to s (thread-safe), for sharing a session nobody changes any more. */
WARD_EXPORT struct ward_session *ward_session_ref(struct ward_session *s) WARD_NONNULL(1);

/* The session's name (valid while s lives). */
WARD_EXPORT const char *ward_session_name(const struct ward_session *s) WARD_NONNULL(1);

/* 1 and the digest in pred if the session names a predecessor, else 0. */
WARD_EXPORT int ward_session_predecessor(const struct ward_session *s,
                                         uint8_t pred[WARD_SESSION_DIGEST_BYTES])
    WARD_NONNULL(1, 2);

/* Sets (pred non-NULL) or clears the predecessor; the digest changes with it. */
WARD_EXPORT void ward_session_set_predecessor(struct ward_session *s, const uint8_t *pred)
    WARD_NONNULL(1);

WARD_EXPORT enum ward_session_mode ward_session_mode(const struct ward_session *s) WARD_NONNULL(1);

/*
 * The canonical serialisation (docs/session.md): compact JSON, keys sorted,
 * defaults made explicit. *out is in guarded memory (ward/secmem.h) (it holds explicit secret
 * values): free it with ward_session_text_free. It parses back to the same
 * session. Errors: WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_session_canonical(const struct ward_session *s, char **out,
                                                      size_t *len) WARD_NONNULL(1, 2, 3);

/* Wipes and frees text from ward_session_canonical/ward_session_render. Accepts NULL. */
WARD_EXPORT void ward_session_text_free(char *text);

/* SHA-256 of the canonical serialisation: the value `predecessor` names. */
WARD_EXPORT WARD_NODISCARD int ward_session_digest(const struct ward_session *s,
                                                   uint8_t digest[WARD_SESSION_DIGEST_BYTES])
    WARD_NONNULL(1, 2);

/*
 * 1 if the access policy grants right to the client whose certificate
 * public-key hash is client, given the session's creator owner; else 0.
 */
WARD_EXPORT int ward_session_allows(const struct ward_session *s, enum ward_session_right right,
                                    const uint8_t owner[32], const uint8_t client[32])
    WARD_NONNULL(1, 3, 4);

/* Secrets, in canonical (name) order. */
WARD_EXPORT size_t ward_session_secret_count(const struct ward_session *s) WARD_NONNULL(1);
WARD_EXPORT void ward_session_secret_info(const struct ward_session *s, size_t i,
                                          struct ward_secret_info *out) WARD_NONNULL(1, 3);
/* Index of the secret called name, or WARD_E_NOTFOUND. */
WARD_EXPORT int ward_session_secret_find(const struct ward_session *s, const char *name)
    WARD_NONNULL(1, 2);

/* Services, in canonical (name) order. */
WARD_EXPORT size_t ward_session_service_count(const struct ward_session *s) WARD_NONNULL(1);
WARD_EXPORT const char *ward_session_service_name(const struct ward_session *s, size_t i)
    WARD_NONNULL(1);
/* Index of the service called name, or WARD_E_NOTFOUND. */
WARD_EXPORT int ward_session_service_find(const struct ward_session *s, const char *name)
    WARD_NONNULL(1, 2);
/* command[0] of service i: not secret (references are refused there). */
WARD_EXPORT const char *ward_session_service_program(const struct ward_session *s, size_t i)
    WARD_NONNULL(1);
/*
 * 1 if a command argument of service i (after the program) holds a secret
 * value (a reference other than :public): every local user can read a
 * process's arguments (/proc/PID/cmdline, ps), so the key service warns.
 */
WARD_EXPORT int ward_session_service_secret_in_argv(const struct ward_session *s, size_t i)
    WARD_NONNULL(1);
/* User ids service i must run as (empty: any), sorted. */
WARD_EXPORT size_t ward_session_service_uids(const struct ward_session *s, size_t i,
                                             const uint32_t **uids) WARD_NONNULL(1, 3);
/* Accepted workload measurements of service i (SHA-256, 32 bytes each). */
WARD_EXPORT size_t ward_session_service_measurements(const struct ward_session *s, size_t i,
                                                     const uint8_t (**m)[32]) WARD_NONNULL(1, 3);

/* ---- Secret values ------------------------------------------------------ */

/* An empty set of named secret values kept in guarded memory. */
WARD_EXPORT WARD_NODISCARD int ward_secret_set_new(struct ward_secret_set **out) WARD_NONNULL(1);
/* Wipes and frees (the last reference). Accepts NULL. */
WARD_EXPORT void ward_secret_set_free(struct ward_secret_set *set);
/* Another reference to set (thread-safe), for sharing a set nobody changes any more. */
WARD_EXPORT struct ward_secret_set *ward_secret_set_ref(struct ward_secret_set *set)
    WARD_NONNULL(1);
/* Adds or replaces name's value (copied into guarded memory). */
WARD_EXPORT WARD_NODISCARD int ward_secret_set_put(struct ward_secret_set *set, const char *name,
                                                   enum ward_secret_kind kind, const uint8_t *value,
                                                   size_t len) WARD_NONNULL(1, 2);
/* The value of name (valid until the set changes) or NULL. */
WARD_EXPORT const uint8_t *ward_secret_set_get(const struct ward_secret_set *set, const char *name,
                                               enum ward_secret_kind *kind, size_t *len)
    WARD_NONNULL(1, 2);
WARD_EXPORT size_t ward_secret_set_count(const struct ward_secret_set *set) WARD_NONNULL(1);
/* The i-th entry (any order): name, and optionally kind/value/len. */
WARD_EXPORT const char *ward_secret_set_entry(const struct ward_secret_set *set, size_t i,
                                              enum ward_secret_kind *kind, const uint8_t **value,
                                              size_t *len) WARD_NONNULL(1);

/*
 * The values for every secret of s: the explicit `value` if given; else the
 * value in prev (may be NULL) when it has the same name, kind and size (kept
 * across updates); else freshly generated inside this process.
 * Errors: WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_session_secrets_resolve(const struct ward_session *s,
                                                            const struct ward_secret_set *prev,
                                                            struct ward_secret_set **out)
    WARD_NONNULL(1, 3);

/* The public key of an x25519 or ed25519 secret value. Errors: WARD_E_INVAL. */
WARD_EXPORT WARD_NODISCARD int ward_secret_public(enum ward_secret_kind kind, const uint8_t *value,
                                                  size_t len, uint8_t pk[32]) WARD_NONNULL(2, 4);

/*
 * The configuration of service i for an attested workload, as JSON:
 *   {"allow_extra_args":false,"command":[..],"environment":{..},"pwd":"..",
 *    "injection_files":{"/p":"<base64>"},"measurements":["<hex>",..]}
 * with every secret reference substituted from values. *out is
 * in guarded memory (ward/secmem.h) (free with ward_session_text_free).
 * Errors: WARD_E_NOTFOUND (a referenced secret has no value), WARD_E_NOMEM.
 */
WARD_EXPORT WARD_NODISCARD int ward_session_render(const struct ward_session *s, size_t i,
                                                   const struct ward_secret_set *values, char **out,
                                                   size_t *len) WARD_NONNULL(1, 3, 4, 5);

/* "ascii", "binary", "x25519", "ed25519". */
WARD_EXPORT const char *ward_secret_kind_name(enum ward_secret_kind kind);
/* "host", "sgx", "none". */
WARD_EXPORT const char *ward_session_mode_name(enum ward_session_mode mode);

#ifdef __cplusplus
}
#endif
#endif
