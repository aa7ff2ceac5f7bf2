/* The workload interface: nonces, the program to measure, and configurations for attested
 * workloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <sodium.h>

#include "attest/attest_internal.h" /* attest_in_list */
#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/attest.h"
#include "ward/secmem.h"

static int reply_obj(struct cas_request *r, unsigned status, json_object *o)
{
	int ret =
	    cas_reply_json(r, status, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return ret;
}

static int get_nonce(struct cas_state *cs, struct cas_request *r)
{
	uint8_t nonce[32];
	char hex[65];
	cas_nonce_issue(cs->nonces, nonce);
	sodium_bin2hex(hex, sizeof hex, nonce, 32);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "nonce", json_object_new_string(hex));
	return reply_obj(r, MHD_HTTP_OK, o);
}

/* Splits "SESSION/SERVICE" at the last '/' (session names may contain '/'). */
static int split_config_id(const char *id, char *session, size_t cap, const char **service)
{
	const char *slash = id ? strrchr(id, '/') : NULL;
	if (!slash || slash == id || !slash[1] || (size_t)(slash - id) >= cap)
		return -1;
	memcpy(session, id, (size_t)(slash - id));
	session[slash - id] = '\0';
	*service = slash + 1;
	return 0;
}

/* Loads the session and finds the service of config_id; replies itself on failure (returns -1). */
static int load_service(struct cas_state *cs, struct cas_request *r, const char *config_id,
                        struct ward_session **s, struct ward_secret_set **vals, size_t *idx,
                        uint8_t digest[32], int *ret)
{
	char session[WARD_SESSION_NAME_MAX + 1];
	const char *service;
	if (split_config_id(config_id, session, sizeof session, &service)) {
		*ret =
		    cas_reply_error(r, MHD_HTTP_BAD_REQUEST, "config_id must be SESSION/SERVICE");
		return -1;
	}
	int rc = ward_store_session_load(cs->store, session, s, vals, digest);
	if (rc) {
		*ret = cas_reply_ward_error(r, rc);
		return -1;
	}
	int i = ward_session_service_find(*s, service);
	if (i < 0) {
		ward_session_free(*s);
		ward_secret_set_free(*vals);
		*ret = cas_reply_error(r, MHD_HTTP_NOT_FOUND, "no such service in the session");
		return -1;
	}
	*idx = (size_t)i;
	return 0;
}

static int get_program(struct cas_state *cs, struct cas_request *r)
{
	const char *id = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "config_id");
	struct ward_session *s;
	struct ward_secret_set *vals;
	size_t i;
	uint8_t digest[32];
	int ret;
	if (load_service(cs, r, id, &s, &vals, &i, digest, &ret))
		return ret;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "program",
	                       json_object_new_string(ward_session_service_program(s, i)));
	ward_session_free(s);
	ward_secret_set_free(vals);
	return reply_obj(r, MHD_HTTP_OK, o);
}

/* Records a grant or a refusal; returns 0 or the audit error (the caller then fails closed). */
static int audit(struct cas_state *cs, const char *config_id, const char *reason,
                 const struct ward_attest_claims *c, const uint8_t *digest)
{
	json_object *f = json_object_new_object();
	json_object_object_add(f, "config_id", json_object_new_string(config_id ? config_id : ""));
	json_object_object_add(f, "result", json_object_new_string(reason ? "denied" : "granted"));
	if (reason)
		json_object_object_add(f, "reason", json_object_new_string(reason));
	char hex[65];
	if (digest) {
		sodium_bin2hex(hex, sizeof hex, digest, 32);
		json_object_object_add(f, "digest", json_object_new_string(hex));
	}
	if (c && c->mode) {
		sodium_bin2hex(hex, sizeof hex, c->platform, 32);
		json_object_object_add(f, "platform", json_object_new_string(hex));
		sodium_bin2hex(hex, sizeof hex, c->launcher, 32);
		json_object_object_add(f, "launcher", json_object_new_string(hex));
		sodium_bin2hex(hex, sizeof hex, c->workload, 32);
		json_object_object_add(f, "workload", json_object_new_string(hex));
		json_object_object_add(f, "pid", json_object_new_int64(c->pid));
		json_object_object_add(f, "uid", json_object_new_int64(c->uid));
	}
	int rc =
	    ward_store_audit(cs->store, reason ? "attestation.denied" : "attestation.granted", f);
	json_object_put(f);
	return rc;
}

/* A refusal of evidence that verified under an enrolled LAS key: its own entry, fail-closed. */
static int deny(struct cas_state *cs, struct cas_request *r, const char *config_id, unsigned status,
                const char *why, const struct ward_attest_claims *c)
{
	char msg[400];
	snprintf(msg, sizeof msg, "%s", why);
	int rc = audit(cs, config_id, msg, c, NULL);
	if (rc)
		return cas_reply_ward_error(r, rc);
	return cas_reply_error(r, status, msg);
}

/*
 * A refusal that no enrolled LAS key vouches for: anyone can cause it, so it
 * is only counted (denials.c logs a summary per interval). Nothing is
 * released, so nothing needs to wait for the log.
 */
static int deny_unauth(struct cas_state *cs, struct cas_request *r, enum cas_unauth cls,
                       const char *why)
{
	cas_denials_count(cs->denials, cls);
	return cas_reply_error(r, MHD_HTTP_FORBIDDEN, why);
}

struct config_req {
	const char *config_id;
	uint8_t pubkey[32];
	uint8_t *evidence;
	size_t ev_len;
};

/* Parses {"config_id":"S/svc","evidence":"<base64>","pubkey":"<64 hex>"}. */
static int parse_config_req(const struct cas_request *r, json_object **root, struct config_req *q,
                            const char **why)
{
	memset(q, 0, sizeof *q);
	struct json_tokener *tok = json_tokener_new_ex(16);
	*root = tok ? json_tokener_parse_ex(tok, r->body, (int)r->body_len) : NULL;
	int complete = tok && json_tokener_get_error(tok) == json_tokener_success &&
	               json_tokener_get_parse_end(tok) == r->body_len;
	json_tokener_free(tok);
	json_object *id, *pk, *ev;
	*why = "the request must be JSON {\"config_id\",\"evidence\",\"pubkey\"}";
	if (!complete || !*root || !json_object_is_type(*root, json_type_object) ||
	    !json_object_object_get_ex(*root, "config_id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    !json_object_object_get_ex(*root, "pubkey", &pk) ||
	    !json_object_is_type(pk, json_type_string))
		return -1;
	q->config_id = json_object_get_string(id);
	size_t got = 0;
	if (json_object_get_string_len(pk) != 64 ||
	    sodium_hex2bin(q->pubkey, 32, json_object_get_string(pk), 64, NULL, &got, NULL) != 0 ||
	    got != 32) {
		*why = "pubkey must be 64 hex digits";
		return -1;
	}
	if (json_object_object_get_ex(*root, "evidence", &ev) &&
	    json_object_is_type(ev, json_type_string)) {
		size_t bl = (size_t)json_object_get_string_len(ev);
		if (bl > 4 * (WARD_ATTEST_MAX_EVIDENCE / 3 + 1) ||
		    !(q->evidence = malloc(bl / 4 * 3 + 3)) ||
		    sodium_base642bin(q->evidence, bl / 4 * 3 + 3, json_object_get_string(ev), bl,
		                      NULL, &q->ev_len, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) != 0) {
			*why = "evidence must be standard base64";
			return -1;
		}
	}
	return 0;
}

/*
 * After a failed check: why the evidence did not verify under an enrolled
 * LAS key, or CAS_UNAUTH_N if it did (then *c holds its verified claims and
 * the refusal came from a real platform: measurement, uid, binding...).
 * Only the failure path pays for this second verification.
 */
static enum cas_unauth classify(const struct config_req *q, const uint8_t (*plats)[32], size_t np,
                                struct ward_attest_claims *c)
{
	struct ward_attest_claims parsed;
	if (!q->evidence)
		return CAS_UNAUTH_NO_EVIDENCE;
	int rc = ward_attest_evidence_parse(q->evidence, q->ev_len, &parsed);
	if (rc)
		return rc == WARD_E_UNSUPPORTED ? CAS_UNAUTH_UNSUPPORTED : CAS_UNAUTH_MALFORMED;
	rc = ward_attest_evidence_verify(q->evidence, q->ev_len, plats, np, 0, c);
	if (!rc)
		return CAS_UNAUTH_N;
	if (parsed.mode != WARD_ATTEST_MODE_HOST)
		return CAS_UNAUTH_UNSUPPORTED;
	if (!attest_in_list(parsed.platform, plats, np))
		return CAS_UNAUTH_NOT_ENROLLED;
	if (rc == WARD_E_BADMSG)
		return CAS_UNAUTH_BAD_SIGNATURE;
	return rc == WARD_E_DENIED ? CAS_UNAUTH_TIME : CAS_UNAUTH_UNCHECKED;
}

/* Copies the refusal's reason (ward_last_error) before later calls overwrite it. */
static void keep_why(char *why, size_t cap)
{
	snprintf(why, cap, "%s", ward_last_error());
}

/*
 * Runs the host-mode checks; 0, or the refusal's reason in why and its class
 * in *cls (CAS_UNAUTH_N when the evidence verified under an enrolled LAS key;
 * then *claims holds what it vouched for).
 */
static int check_host(struct cas_state *cs, const struct config_req *q,
                      const struct ward_session *s, size_t idx, struct ward_attest_claims *claims,
                      char *why, size_t cap, enum cas_unauth *cls)
{
	uint8_t(*plats)[32] = NULL, (*launchers)[32] = NULL;
	size_t np = 0, nl = 0;
	*cls = CAS_UNAUTH_UNCHECKED;
	int rc = ward_store_trust_list(cs->store, WARD_STORE_PLATFORM, &plats, NULL, &np);
	if (!rc)
		rc = ward_store_trust_list(cs->store, WARD_STORE_LAUNCHER, &launchers, NULL, &nl);
	if (!rc) {
		const uint8_t(*meas)[32];
		const uint32_t *uids;
		struct ward_attest_expect x = {0};
		x.platforms = (const uint8_t(*)[32])plats;
		x.n_platforms = np;
		x.launchers = (const uint8_t(*)[32])launchers;
		x.n_launchers = nl;
		x.n_workloads = ward_session_service_measurements(s, idx, &meas);
		x.workloads = meas;
		x.n_uids = ward_session_service_uids(s, idx, &uids);
		x.uids = uids;
		x.pubkey = q->pubkey;
		x.config_id = q->config_id;
		if (!q->evidence)
			rc = ward_error(WARD_E_DENIED, "evidence is required (host mode)");
		else
			rc = ward_attest_host_check(q->evidence, q->ev_len, &x, claims);
		if (rc) {
			keep_why(why, cap);
			*cls = classify(q, (const uint8_t(*)[32])plats, np, claims);
		}
	} else {
		keep_why(why, cap);
	}
	free(plats);
	free(launchers);
	if (rc)
		return rc;
	/* From here on the evidence verified: every refusal is logged on its own. */
	*cls = CAS_UNAUTH_N;
	int used = cas_nonce_consume(cs->nonces, claims->nonce);
	if (used == -1)
		rc = ward_error(WARD_E_DENIED, "nonce was not issued by this service, was used "
		                               "already, or expired (replayed evidence?)");
	else if (used)
		rc = ward_error(WARD_E_RANGE, "too many attestations in the last minute; retry");
	if (rc)
		keep_why(why, cap);
	return rc;
}

/* Renders the configuration and seals it to the request's key; base64 in guarded memory. */
static int seal_config(const struct ward_session *s, size_t idx, const struct ward_secret_set *v,
                       const uint8_t pubkey[32], char **out, size_t *out_len)
{
	char *cfg = NULL;
	size_t len;
	int rc = ward_session_render(s, idx, v, &cfg, &len);
	if (rc)
		return rc;
	size_t slen = len + crypto_box_SEALBYTES;
	uint8_t *sealed = malloc(slen);
	size_t b64 = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
	*out = NULL;
	if (sealed && crypto_box_seal(sealed, (const uint8_t *)cfg, len, pubkey) != 0)
		rc = ward_error(WARD_E_INVAL, "pubkey is not a usable X25519 public key");
	else if (!sealed || !(*out = ward_secmem_alloc(b64 + 16)))
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	ward_session_text_free(cfg);
	if (!rc) {
		memcpy(*out, "{\"sealed\":\"", 11);
		sodium_bin2base64(*out + 11, b64, sealed, slen, sodium_base64_VARIANT_ORIGINAL);
		size_t n = strlen(*out);
		memcpy(*out + n, "\"}", 3);
		*out_len = n + 2;
	}
	free(sealed);
	return rc;
}

static int post_config(struct cas_state *cs, struct cas_request *r)
{
	json_object *root = NULL;
	struct config_req q;
	const char *why;
	struct ward_session *s = NULL;
	struct ward_secret_set *vals = NULL;
	struct ward_attest_claims claims;
	memset(&claims, 0, sizeof claims);
	uint8_t digest[32];
	size_t idx;
	int ret;
	if (parse_config_req(r, &root, &q, &why)) {
		ret = cas_reply_error(r, MHD_HTTP_BAD_REQUEST, why);
		goto out;
	}
	if (load_service(cs, r, q.config_id, &s, &vals, &idx, digest, &ret))
		goto out;
	enum ward_session_mode mode = ward_session_mode(s);
	enum cas_unauth cls;
	char reason[400];
	if (mode == WARD_SESSION_MODE_SGX) {
		ret = deny_unauth(cs, r, CAS_UNAUTH_MODE_SGX,
		                  cas_denials_reason(CAS_UNAUTH_MODE_SGX));
		goto out;
	}
	if (mode == WARD_SESSION_MODE_NONE && !cs->opts->insecure_none) {
		ret = deny_unauth(cs, r, CAS_UNAUTH_MODE_NONE,
		                  cas_denials_reason(CAS_UNAUTH_MODE_NONE));
		goto out;
	}
	if (mode == WARD_SESSION_MODE_HOST &&
	    check_host(cs, &q, s, idx, &claims, reason, sizeof reason, &cls)) {
		ret = cls == CAS_UNAUTH_N
		          ? deny(cs, r, q.config_id, MHD_HTTP_FORBIDDEN, reason, &claims)
		          : deny_unauth(cs, r, cls, reason);
		goto out;
	}
	char *body = NULL;
	size_t blen;
	int rc = seal_config(s, idx, vals, q.pubkey, &body, &blen);
	/* Fail closed: no configuration leaves unless the grant is on record. */
	if (!rc)
		rc = audit(cs, q.config_id, NULL, &claims, digest);
	if (rc) {
		ward_session_text_free(body);
		ret = cas_reply_ward_error(r, rc);
		goto out;
	}
	ret = cas_reply_secure(r, MHD_HTTP_OK, body, blen, "application/json");
out:
	free(q.evidence);
	json_object_put(root);
	ward_session_free(s);
	ward_secret_set_free(vals);
	return ret;
}

int cas_workload_handle(struct cas_state *cs, struct cas_request *r)
{
	const char *url = r->url;
	int get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
	if (strcmp(url, "/v1/workload/nonce") && strcmp(url, "/v1/workload/program") &&
	    strcmp(url, "/v1/workload/config"))
		return cas_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint");
	if (ward_store_sealed(cs->store))
		return cas_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		                       "the key service is sealed");
	if (strcmp(url, "/v1/workload/nonce") == 0)
		return get ? get_nonce(cs, r)
		           : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
	if (strcmp(url, "/v1/workload/program") == 0)
		return get ? get_program(cs, r)
		           : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
	return post ? post_config(cs, r)
	            : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
}
