/* Private structures of the session module: the YAML tree, the parsed session, text buffers. */
#ifndef WARD_SESSION_INTERNAL_H
#define WARD_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ward/session.h"

/* Limits that keep a hostile document from exhausting the service. */
#define WS_MAX_DEPTH    16
#define WS_MAX_NODES    65536
#define WS_MAX_SERVICES 64
#define WS_MAX_SECRETS  256
#define WS_MAX_ITEMS    1024 /* argv entries, environment variables, files, measurements */
#define WS_MAX_POLICY   64

/* ---- YAML tree (yaml.c) ---- */
enum ynode_type { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_type type;
	unsigned line; /* 1-based, for error messages */
	int plain;     /* scalar written without quotes (null/~ are then "no value") */
	char *str;     /* scalar text, NUL-terminated (may contain NUL: see len) */
	size_t len;
	struct ynode **kids; /* Y_SEQ: items; Y_MAP: key0, value0, key1, value1, ... */
	size_t n;            /* number of kids */
};

/* Parses one YAML document into a tree. Errors: WARD_E_FORMAT, WARD_E_NOMEM. */
int ws_yaml_load(const char *text, size_t len, struct ynode **out);
void ws_yaml_free(struct ynode *n);

/* ---- Parsed session ---- */
enum ws_policy_kind { WS_POL_CREATOR, WS_POL_ANY, WS_POL_NONE, WS_POL_KEY };

struct ws_policy_entry {
	enum ws_policy_kind kind;
	uint8_t key[32]; /* WS_POL_KEY: SHA-256 of the client certificate's SubjectPublicKeyInfo */
};

struct ws_policy {
	struct ws_policy_entry *e;
	size_t n;
};

struct ws_kv {
	char *key;
	char *val;
};

struct ws_secret {
	char *name;
	enum ward_secret_kind kind;
	size_t size;
	int export_public;
	uint8_t *value; /* explicit value (sodium_malloc), raw bytes; NULL if generated */
	size_t value_len;
};

struct ws_service {
	char *name;
	char **argv;
	size_t argc;
	struct ws_kv *env; /* sorted by key */
	size_t nenv;
	char *pwd;
	struct ws_kv *files; /* injection files, sorted by path */
	size_t nfiles;
	uint8_t (*meas)[32]; /* sorted, distinct */
	size_t nmeas;
	uint32_t *uids; /* sorted, distinct; empty = any uid */
	size_t nuids;
	int allow_extra_args; /* `ward run -- ARGS` may append arguments */
};

struct ward_session {
	atomic_uint refs; /* ward_session_ref shares an immutable session */
	char *name;
	char *version;
	int has_pred;
	uint8_t pred[32];
	struct ws_policy read, update;
	enum ward_session_mode mode;
	char **tolerate; /* sorted, distinct */
	size_t ntolerate;
	char **advisories; /* sorted, distinct ("*" = all) */
	size_t nadvisories;
	struct ws_secret *secrets; /* sorted by name */
	size_t nsecrets;
	struct ws_service *services; /* sorted by name */
	size_t nservices;
};

/* Sorts a kv array by key and refuses duplicates (returns the duplicate key or NULL). */
const char *ws_kv_sort(struct ws_kv *kv, size_t n);

/* ---- References (refs.c) ---- */
enum ws_ref_enc { WS_ENC_RAW, WS_ENC_HEX, WS_ENC_BASE64 };

struct ws_ref {
	const char *name; /* points into the scanned string; namelen bytes */
	size_t namelen;
	int pub; /* :public */
	enum ws_ref_enc enc;
	size_t start, end; /* byte range of "$$WARD::...$$" in the string */
};

/*
 * Finds the next reference in s at or after *pos. Returns 1 and fills ref,
 * 0 when there is none, or -1 (with *pos at the offender) for a malformed one.
 */
int ws_ref_next(const char *s, size_t *pos, struct ws_ref *ref);

/* ---- Growable text buffer; secure ones live in sodium_malloc memory ---- */
struct ws_buf {
	char *p;
	size_t len, cap;
	int secure;
	int oom;
};

void ws_buf_init(struct ws_buf *b, int secure);
void ws_buf_put(struct ws_buf *b, const void *data, size_t n);
void ws_buf_puts(struct ws_buf *b, const char *s);
/* Appends s as a JSON string with the canonical escaping (docs/session.md). */
void ws_buf_json_str(struct ws_buf *b, const char *s, size_t n);
/* NUL-terminates and hands the text over (*out), or WARD_E_NOMEM; b is reset. */
int ws_buf_finish(struct ws_buf *b, char **out, size_t *len);
void ws_buf_free(struct ws_buf *b);

#endif
