/* The canonical serialisation of a session (sorted compact JSON), its digest, and the accessors. */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "session/session_internal.h"
#include "ward/secmem.h"

static void put_hex(struct ws_buf *b, const uint8_t *bin, size_t n)
{
	char hex[2 * 64 + 1];
	sodium_bin2hex(hex, sizeof hex, bin, n);
	ws_buf_put(b, "\"", 1);
	ws_buf_put(b, hex, 2 * n);
	ws_buf_put(b, "\"", 1);
}

static void put_key(struct ws_buf *b, const char *key, int *first)
{
	if (!*first)
		ws_buf_put(b, ",", 1);
	*first = 0;
	ws_buf_json_str(b, key, strlen(key));
	ws_buf_put(b, ":", 1);
}

static void put_str(struct ws_buf *b, const char *s)
{
	ws_buf_json_str(b, s, strlen(s));
}

static void put_str_list(struct ws_buf *b, char *const *v, size_t n)
{
	ws_buf_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ws_buf_put(b, ",", 1);
		put_str(b, v[i]);
	}
	ws_buf_put(b, "]", 1);
}

static void put_kv(struct ws_buf *b, const struct ws_kv *kv, size_t n)
{
	ws_buf_put(b, "{", 1);
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		put_key(b, kv[i].key, &first);
		put_str(b, kv[i].val);
	}
	ws_buf_put(b, "}", 1);
}

static void put_policy(struct ws_buf *b, const struct ws_policy *p)
{
	ws_buf_put(b, "[", 1);
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			ws_buf_put(b, ",", 1);
		switch (p->e[i].kind) {
		case WS_POL_CREATOR:
			ws_buf_puts(b, "\"CREATOR\"");
			break;
		case WS_POL_ANY:
			ws_buf_puts(b, "\"ANY\"");
			break;
		case WS_POL_NONE:
			ws_buf_puts(b, "\"NONE\"");
			break;
		case WS_POL_KEY:
			put_hex(b, p->e[i].key, 32);
			break;
		}
	}
	ws_buf_put(b, "]", 1);
}

static void put_secret(struct ws_buf *b, const struct ws_secret *s)
{
	int first = 1;
	char num[32];
	ws_buf_put(b, "{", 1);
	put_key(b, "export_public", &first);
	ws_buf_puts(b, s->export_public ? "true" : "false");
	put_key(b, "kind", &first);
	put_str(b, ward_secret_kind_name(s->kind));
	put_key(b, "name", &first);
	put_str(b, s->name);
	put_key(b, "size", &first);
	snprintf(num, sizeof num, "%zu", s->size);
	ws_buf_puts(b, num);
	if (s->value) {
		/* ascii values as text, the others as hex: the same spelling the parser accepts. */
		put_key(b, "value", &first);
		if (s->kind == WARD_SECRET_ASCII) {
			ws_buf_json_str(b, (const char *)s->value, s->value_len);
		} else {
			char *hex = ward_secmem_alloc(2 * s->value_len + 1);
			if (!hex) {
				b->oom = 1;
			} else {
				sodium_bin2hex(hex, 2 * s->value_len + 1, s->value, s->value_len);
				ws_buf_json_str(b, hex, 2 * s->value_len);
				ward_secmem_free(hex);
			}
		}
	}
	ws_buf_put(b, "}", 1);
}

static void put_service(struct ws_buf *b, const struct ws_service *v)
{
	int first = 1;
	char num[16];
	ws_buf_put(b, "{", 1);
	put_key(b, "allow_extra_args", &first);
	ws_buf_puts(b, v->allow_extra_args ? "true" : "false");
	put_key(b, "attestation", &first);
	ws_buf_puts(b, "{\"measurements\":[");
	for (size_t i = 0; i < v->nmeas; i++) {
		if (i)
			ws_buf_put(b, ",", 1);
		put_hex(b, v->meas[i], 32);
	}
	ws_buf_puts(b, "],\"uids\":[");
	for (size_t i = 0; i < v->nuids; i++) {
		snprintf(num, sizeof num, "%s%u", i ? "," : "", v->uids[i]);
		ws_buf_puts(b, num);
	}
	ws_buf_puts(b, "]}");
	put_key(b, "command", &first);
	put_str_list(b, v->argv, v->argc);
	put_key(b, "environment", &first);
	put_kv(b, v->env, v->nenv);
	put_key(b, "injection_files", &first);
	put_kv(b, v->files, v->nfiles);
	put_key(b, "name", &first);
	put_str(b, v->name);
	put_key(b, "pwd", &first);
	put_str(b, v->pwd);
	ws_buf_put(b, "}", 1);
}

/* Keys appear in byte order at every level; every field is explicit except an absent predecessor.
 */
int ward_session_canonical(const struct ward_session *s, char **out, size_t *len)
{
	struct ws_buf b;
	ws_buf_init(&b, 1);
	int first = 1;
	ws_buf_put(&b, "{", 1);
	put_key(&b, "access_policy", &first);
	ws_buf_puts(&b, "{\"read\":");
	put_policy(&b, &s->read);
	ws_buf_puts(&b, ",\"update\":");
	put_policy(&b, &s->update);
	ws_buf_puts(&b, "}");
	put_key(&b, "name", &first);
	put_str(&b, s->name);
	if (s->has_pred) {
		put_key(&b, "predecessor", &first);
		put_hex(&b, s->pred, 32);
	}
	put_key(&b, "secrets", &first);
	ws_buf_put(&b, "[", 1);
	for (size_t i = 0; i < s->nsecrets; i++) {
		if (i)
			ws_buf_put(&b, ",", 1);
		put_secret(&b, &s->secrets[i]);
	}
	ws_buf_put(&b, "]", 1);
	put_key(&b, "security", &first);
	ws_buf_puts(&b, "{\"attestation\":{\"ignore_advisories\":");
	put_str_list(&b, s->advisories, s->nadvisories);
	ws_buf_puts(&b, ",\"mode\":");
	put_str(&b, ward_session_mode_name(s->mode));
	ws_buf_puts(&b, ",\"tolerate\":");
	put_str_list(&b, s->tolerate, s->ntolerate);
	ws_buf_puts(&b, "}}");
	put_key(&b, "services", &first);
	ws_buf_put(&b, "[", 1);
	for (size_t i = 0; i < s->nservices; i++) {
		if (i)
			ws_buf_put(&b, ",", 1);
		put_service(&b, &s->services[i]);
	}
	ws_buf_put(&b, "]", 1);
	put_key(&b, "version", &first);
	put_str(&b, s->version);
	ws_buf_put(&b, "}", 1);
	return ws_buf_finish(&b, out, len);
}

int ward_session_digest(const struct ward_session *s, uint8_t digest[WARD_SESSION_DIGEST_BYTES])
{
	char *text;
	size_t len;
	int rc = ward_session_canonical(s, &text, &len);
	if (rc)
		return rc;
	SHA256((const unsigned char *)text, len, digest);
	ward_session_text_free(text);
	return 0;
}

const char *ward_secret_kind_name(enum ward_secret_kind kind)
{
	switch (kind) {
	case WARD_SECRET_ASCII:
		return "ascii";
	case WARD_SECRET_BINARY:
		return "binary";
	case WARD_SECRET_X25519:
		return "x25519";
	case WARD_SECRET_ED25519:
		return "ed25519";
	}
	return "?";
}

const char *ward_session_mode_name(enum ward_session_mode mode)
{
	switch (mode) {
	case WARD_SESSION_MODE_HOST:
		return "host";
	case WARD_SESSION_MODE_SGX:
		return "sgx";
	case WARD_SESSION_MODE_NONE:
		return "none";
	}
	return "?";
}

const char *ward_session_name(const struct ward_session *s)
{
	return s->name;
}

int ward_session_predecessor(const struct ward_session *s, uint8_t pred[WARD_SESSION_DIGEST_BYTES])
{
	if (s->has_pred)
		memcpy(pred, s->pred, 32);
	return s->has_pred;
}

void ward_session_set_predecessor(struct ward_session *s, const uint8_t *pred)
{
	s->has_pred = pred != NULL;
	if (pred)
		memcpy(s->pred, pred, 32);
	else
		memset(s->pred, 0, 32);
}

enum ward_session_mode ward_session_mode(const struct ward_session *s)
{
	return s->mode;
}

int ward_session_allows(const struct ward_session *s, enum ward_session_right right,
                        const uint8_t owner[32], const uint8_t client[32])
{
	const struct ws_policy *p = right == WARD_SESSION_READ ? &s->read : &s->update;
	int ok = 0;
	for (size_t i = 0; i < p->n; i++) {
		switch (p->e[i].kind) {
		case WS_POL_NONE:
			return 0;
		case WS_POL_ANY:
			ok = 1;
			break;
		case WS_POL_CREATOR:
			ok |= sodium_memcmp(owner, client, 32) == 0;
			break;
		case WS_POL_KEY:
			ok |= sodium_memcmp(p->e[i].key, client, 32) == 0;
			break;
		}
	}
	return ok;
}

size_t ward_session_secret_count(const struct ward_session *s)
{
	return s->nsecrets;
}

void ward_session_secret_info(const struct ward_session *s, size_t i, struct ward_secret_info *out)
{
	memset(out, 0, sizeof *out);
	if (i >= s->nsecrets)
		ward_misuse("ward_session_secret_info: index out of range");
	const struct ws_secret *x = &s->secrets[i];
	out->name = x->name;
	out->kind = x->kind;
	out->size = x->size;
	out->export_public = x->export_public;
	out->explicit_value = x->value != NULL;
}

int ward_session_secret_find(const struct ward_session *s, const char *name)
{
	for (size_t i = 0; i < s->nsecrets; i++)
		if (strcmp(s->secrets[i].name, name) == 0)
			return (int)i;
	return WARD_E_NOTFOUND;
}

size_t ward_session_service_count(const struct ward_session *s)
{
	return s->nservices;
}

const char *ward_session_service_name(const struct ward_session *s, size_t i)
{
	return i < s->nservices ? s->services[i].name : NULL;
}

int ward_session_service_find(const struct ward_session *s, const char *name)
{
	for (size_t i = 0; i < s->nservices; i++)
		if (strcmp(s->services[i].name, name) == 0)
			return (int)i;
	return WARD_E_NOTFOUND;
}

const char *ward_session_service_program(const struct ward_session *s, size_t i)
{
	return i < s->nservices ? s->services[i].argv[0] : NULL;
}

int ward_session_service_secret_in_argv(const struct ward_session *s, size_t i)
{
	if (i >= s->nservices)
		return 0;
	const struct ws_service *v = &s->services[i];
	for (size_t a = 1; a < v->argc; a++) {
		size_t pos = 0;
		struct ws_ref r;
		while (ws_ref_next(v->argv[a], &pos, &r) > 0)
			if (!r.pub)
				return 1;
	}
	return 0;
}

size_t ward_session_service_uids(const struct ward_session *s, size_t i, const uint32_t **uids)
{
	if (i >= s->nservices) {
		*uids = NULL;
		return 0;
	}
	*uids = s->services[i].uids;
	return s->services[i].nuids;
}

size_t ward_session_service_measurements(const struct ward_session *s, size_t i,
                                         const uint8_t (**m)[32])
{
	if (i >= s->nservices) {
		*m = NULL;
		return 0;
	}
	*m = (const uint8_t(*)[32])s->services[i].meas;
	return s->services[i].nmeas;
}
