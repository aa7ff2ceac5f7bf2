/* The owner REST API: create, update, read, delete sessions; history; exported public keys; status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/secmem.h"

#define SESSIONS "/v1/sessions"

static void hex32(const uint8_t v[32], char out[65])
{
	sodium_bin2hex(out, 65, v, 32);
}

static int reply_obj(struct cas_request *r, unsigned status, json_object *o)
{
	int ret = cas_reply_json(r, status,
	                         json_object_to_json_string_ext(
	                             o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ret;
}

/*
 * "warnings": what the session allows that it probably should not. A secret
 * in command arguments is readable by every local user through ps.
 */
static void add_warnings(json_object *o, const struct ward_session *s)
{
	json_object *w = NULL;
	for (size_t i = 0; i < ward_session_service_count(s); i++) {
		if (!ward_session_service_secret_in_argv(s, i))
			continue;
		char msg[256];
		snprintf(
		    msg, sizeof msg,
		    "service '%s' passes a secret in its command arguments, which every local "
		    "user can read (ps, /proc/PID/cmdline): use environment or injection_files",
		    ward_session_service_name(s, i));
		if (!w)
			w = json_object_new_array();
		json_object_array_add(w, json_object_new_string(msg));
	}
	if (w)
		json_object_object_add(o, "warnings", w);
}

/* POST /v1/sessions and PUT /v1/sessions/NAME. */
static int apply(struct cas_state *cs, struct cas_request *r, const char *url_name)
{
	struct ward_session *s = NULL;
	int rc = ward_session_parse(r->body, r->body_len, &s);
	if (rc)
		return cas_reply_ward_error(r, rc);
	if (url_name && strcmp(url_name, ward_session_name(s)) != 0) {
		ward_session_free(s);
		return cas_reply_error(r, MHD_HTTP_BAD_REQUEST,
		                       "the session's name differs from the name in the URL");
	}
	enum ward_session_mode mode = ward_session_mode(s);
	if (mode == WARD_SESSION_MODE_SGX) {
		ward_session_free(s);
		return cas_reply_error(r, MHD_HTTP_BAD_REQUEST,
		                       "sgx attestation is not available yet: use mode host");
	}
	if (mode == WARD_SESSION_MODE_NONE && !cs->opts->insecure_none) {
		ward_session_free(s);
		return cas_reply_error(r, MHD_HTTP_FORBIDDEN,
		                       "attestation mode none is refused: this service was not "
		                       "started with --insecure-allow-mode-none");
	}
	uint8_t digest[32];
	int created = 0;
	rc = ward_store_session_apply(cs->store, r->client, s, digest, &created);
	if (rc) {
		ward_session_free(s);
		return cas_reply_ward_error(r, rc);
	}
	char hex[65];
	hex32(digest, hex);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(ward_session_name(s)));
	json_object_object_add(o, "digest", json_object_new_string(hex));
	json_object_object_add(o, "created", json_object_new_boolean(created));
	add_warnings(o, s);
	ward_session_free(s);
	return reply_obj(r, created ? MHD_HTTP_CREATED : MHD_HTTP_OK, o);
}

/* GET /v1/sessions/NAME: {"name","digest","owner","session":<canonical>} in guarded memory. */
static int read_session(struct cas_state *cs, struct cas_request *r, const char *name)
{
	char *text = NULL;
	size_t len;
	uint8_t digest[32], owner[32];
	int rc = ward_store_session_read(cs->store, r->client, name, &text, &len, digest, owner);
	if (rc)
		return cas_reply_ward_error(r, rc);
	char d[65], o[65];
	hex32(digest, d);
	hex32(owner, o);
	json_object *head = json_object_new_object();
	json_object_object_add(head, "name", json_object_new_string(name));
	json_object_object_add(head, "digest", json_object_new_string(d));
	json_object_object_add(head, "owner", json_object_new_string(o));
	size_t hl;
	const char *h = json_object_to_json_string_length(head, JSON_C_TO_STRING_PLAIN, &hl);
	/* head without its closing brace + ,"session": + canonical text + } */
	size_t total = hl - 1 + 11 + len + 1;
	char *out = ward_secmem_alloc(total + 1);
	if (!out) {
		json_object_put(head);
		ward_store_text_free(text);
		return cas_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	memcpy(out, h, hl - 1);
	memcpy(out + hl - 1, ",\"session\":", 11);
	memcpy(out + hl - 1 + 11, text, len);
	out[total - 1] = '}';
	out[total] = '\0';
	json_object_put(head);
	ward_store_text_free(text);
	return cas_reply_secure(r, MHD_HTTP_OK, out, total, "application/json");
}

static int history(struct cas_state *cs, struct cas_request *r, const char *name)
{
	char *json = NULL;
	int rc = ward_store_session_history(cs->store, r->client, name, &json);
	if (rc)
		return cas_reply_ward_error(r, rc);
	int ret = cas_reply_json(r, MHD_HTTP_OK, json);
	free(json);
	return ret;
}

static int delete_session(struct cas_state *cs, struct cas_request *r, const char *name)
{
	const char *p = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "predecessor");
	uint8_t pred[32];
	size_t got = 0;
	if (p && (strlen(p) != 64 || sodium_hex2bin(pred, 32, p, 64, NULL, &got, NULL) != 0 ||
	          got != 32))
		return cas_reply_error(r, MHD_HTTP_BAD_REQUEST,
		                       "predecessor must be 64 hex digits");
	int rc = ward_store_session_delete(cs->store, r->client, name, p ? pred : NULL);
	if (rc)
		return cas_reply_ward_error(r, rc);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "deleted", json_object_new_string(name));
	return reply_obj(r, MHD_HTTP_OK, o);
}

/* GET /v1/sessions/NAME/secrets/SECRET/public[?format=crypt4gh]. */
static int public_key(struct cas_state *cs, struct cas_request *r, const char *name,
                      const char *secret)
{
	enum ward_secret_kind kind;
	uint8_t pk[32];
	int rc = ward_store_secret_public(cs->store, name, secret, &kind, pk);
	/* One answer for "no such secret" and "not exported": any client may ask, and the
	 * difference would tell it the names and kinds of secrets it may not read. */
	if (rc == WARD_E_NOTFOUND || rc == WARD_E_DENIED) {
		char msg[400];
		snprintf(msg, sizeof msg, "no exported public key '%.128s' in session '%.128s'",
		         secret, name);
		return cas_reply_error(r, MHD_HTTP_NOT_FOUND, msg);
	}
	if (rc)
		return cas_reply_ward_error(r, rc);
	char hex[65], b64[64];
	hex32(pk, hex);
	sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
	const char *fmt = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "format");
	if (fmt && strcmp(fmt, "crypt4gh") == 0) {
		if (kind != WARD_SECRET_X25519)
			return cas_reply_error(r, MHD_HTTP_BAD_REQUEST,
			                       "Crypt4GH public keys are x25519 secrets");
		char armor[160];
		snprintf(
		    armor, sizeof armor,
		    "-----BEGIN CRYPT4GH PUBLIC KEY-----\n%s\n-----END CRYPT4GH PUBLIC KEY-----\n",
		    b64);
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(strlen(armor), armor, MHD_RESPMEM_MUST_COPY);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
		int ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (fmt && strcmp(fmt, "json") != 0)
		return cas_reply_error(r, MHD_HTTP_BAD_REQUEST, "format must be json or crypt4gh");
	json_object *o = json_object_new_object();
	json_object_object_add(o, "session", json_object_new_string(name));
	json_object_object_add(o, "secret", json_object_new_string(secret));
	json_object_object_add(o, "kind", json_object_new_string(ward_secret_kind_name(kind)));
	json_object_object_add(o, "public_key", json_object_new_string(hex));
	json_object_object_add(o, "public_key_base64", json_object_new_string(b64));
	return reply_obj(r, MHD_HTTP_OK, o);
}

static int status(struct cas_state *cs, struct cas_request *r)
{
	unsigned have, need;
	ward_store_unseal_progress(cs->store, &have, &need);
	char hex[65];
	hex32(r->client, hex);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "sealed", json_object_new_boolean(ward_store_sealed(cs->store)));
	json_object_object_add(o, "unseal_progress", json_object_new_int((int)have));
	json_object_object_add(o, "unseal_threshold", json_object_new_int((int)need));
	json_object_object_add(o, "dev", json_object_new_boolean(ward_store_is_dev(cs->store)));
	json_object_object_add(o, "client", json_object_new_string(hex));
	return reply_obj(r, MHD_HTTP_OK, o);
}

static int method_is(const struct cas_request *r, const char *m)
{
	return strcmp(r->method, m) == 0;
}

/* Routes /v1/sessions/REST (names never contain the components "secrets" or "history"). */
static int route_session(struct cas_state *cs, struct cas_request *r, char *rest)
{
	size_t n = strlen(rest);
	char *sec = strstr(rest, "/secrets/");
	if (n > 8 && strcmp(rest + n - 8, "/history") == 0) {
		rest[n - 8] = '\0';
		return method_is(r, "GET")
		           ? history(cs, r, rest)
		           : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
	}
	if (sec) {
		*sec = '\0';
		char *secret = sec + 9;
		size_t sl = strlen(secret);
		if (sl <= 7 || strcmp(secret + sl - 7, "/public") != 0)
			return cas_reply_error(r, MHD_HTTP_NOT_FOUND,
			                       "only .../secrets/NAME/public exists");
		secret[sl - 7] = '\0';
		return method_is(r, "GET")
		           ? public_key(cs, r, rest, secret)
		           : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
	}
	if (method_is(r, "GET"))
		return read_session(cs, r, rest);
	if (method_is(r, "PUT"))
		return apply(cs, r, rest);
	if (method_is(r, "DELETE"))
		return delete_session(cs, r, rest);
	return cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET, PUT or DELETE");
}

int cas_owner_handle(struct cas_state *cs, struct cas_request *r)
{
	if (strcmp(r->url, "/v1/status") == 0)
		return status(cs, r);
	if (ward_store_sealed(cs->store))
		return cas_reply_error(
		    r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the key service is sealed: unseal it with `ward cas unseal`");
	if (strcmp(r->url, SESSIONS) == 0 || strcmp(r->url, SESSIONS "/") == 0)
		return method_is(r, "POST") ? apply(cs, r, NULL)
		                            : cas_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
		                                              "use POST to create or update");
	if (strncmp(r->url, SESSIONS "/", sizeof SESSIONS) == 0 && r->url[sizeof SESSIONS]) {
		char rest[512];
		if (strlen(r->url + sizeof SESSIONS) >= sizeof rest)
			return cas_reply_error(r, MHD_HTTP_NOT_FOUND, "no such session");
		snprintf(rest, sizeof rest, "%s", r->url + sizeof SESSIONS);
		return route_session(cs, r, rest);
	}
	return cas_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint");
}
