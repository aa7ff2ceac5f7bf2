/* Renders a service's configuration for an attested workload, substituting secret references. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "session/session_internal.h"
#include "ward/secmem.h"

/* Appends the encoded value (or public half) of one reference. */
static int put_value(struct ws_buf *b, const struct ws_ref *r, const struct ward_secret_set *vals)
{
	char name[129];
	if (r->namelen >= sizeof name)
		return ward_error(WARD_E_FORMAT, "reference name too long");
	memcpy(name, r->name, r->namelen);
	name[r->namelen] = '\0';
	enum ward_secret_kind kind;
	size_t len;
	const uint8_t *v = ward_secret_set_get(vals, name, &kind, &len);
	if (!v)
		return ward_error(WARD_E_NOTFOUND, "secret '%s' has no value", name);
	uint8_t pk[32];
	if (r->pub) {
		int rc = ward_secret_public(kind, v, len, pk);
		if (rc)
			return rc;
		v = pk;
		len = 32;
	}
	if (r->enc == WS_ENC_RAW) {
		ws_buf_put(b, v, len);
		return 0;
	}
	size_t cap = r->enc == WS_ENC_HEX
	                 ? 2 * len + 1
	                 : sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *enc = ward_secmem_alloc(cap);
	if (!enc)
		return ward_error(WARD_E_NOMEM, "out of memory");
	if (r->enc == WS_ENC_HEX)
		sodium_bin2hex(enc, cap, v, len);
	else
		sodium_bin2base64(enc, cap, v, len, sodium_base64_VARIANT_ORIGINAL);
	ws_buf_puts(b, enc);
	ward_secmem_free(enc);
	return 0;
}

/* Substitutes every reference of str into the secure buffer out. */
static int substitute(const char *str, const struct ward_secret_set *vals, struct ws_buf *out)
{
	size_t pos = 0, done = 0;
	struct ws_ref r;
	int got;
	while ((got = ws_ref_next(str, &pos, &r)) > 0) {
		ws_buf_put(out, str + done, r.start - done);
		int rc = put_value(out, &r, vals);
		if (rc)
			return rc;
		done = r.end;
	}
	if (got < 0) /* validated sessions have none; be safe anyway */
		return ward_error(WARD_E_FORMAT, "malformed secret reference");
	ws_buf_puts(out, str + done);
	return out->oom ? ward_error(WARD_E_NOMEM, "out of memory") : 0;
}

/* Appends str, substituted, as a JSON string (or base64 of the bytes for files). */
static int put_subst(struct ws_buf *b, const char *str, const struct ward_secret_set *vals,
                     int as_base64)
{
	struct ws_buf tmp;
	ws_buf_init(&tmp, 1);
	int rc = substitute(str, vals, &tmp);
	if (!rc && as_base64) {
		size_t cap = sodium_base64_ENCODED_LEN(tmp.len, sodium_base64_VARIANT_ORIGINAL);
		char *enc = ward_secmem_alloc(cap);
		if (!enc) {
			rc = ward_error(WARD_E_NOMEM, "out of memory");
		} else {
			sodium_bin2base64(enc, cap, (const uint8_t *)(tmp.p ? tmp.p : ""), tmp.len,
			                  sodium_base64_VARIANT_ORIGINAL);
			ws_buf_json_str(b, enc, strlen(enc));
			ward_secmem_free(enc);
		}
	} else if (!rc) {
		ws_buf_json_str(b, tmp.p ? tmp.p : "", tmp.len);
	}
	ws_buf_free(&tmp);
	return rc;
}

static int put_map(struct ws_buf *b, const struct ws_kv *kv, size_t n,
                   const struct ward_secret_set *vals, int files)
{
	ws_buf_put(b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ws_buf_put(b, ",", 1);
		ws_buf_json_str(b, kv[i].key, strlen(kv[i].key));
		ws_buf_put(b, ":", 1);
		int rc = put_subst(b, kv[i].val, vals, files);
		if (rc)
			return rc;
	}
	ws_buf_put(b, "}", 1);
	return 0;
}

int ward_session_render(const struct ward_session *s, size_t i,
                        const struct ward_secret_set *values, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (i >= s->nservices)
		return ward_error(WARD_E_NOTFOUND, "no service %zu in session '%s'", i, s->name);
	const struct ws_service *v = &s->services[i];
	struct ws_buf b;
	ws_buf_init(&b, 1);
	int rc = 0;
	ws_buf_puts(&b, v->allow_extra_args ? "{\"allow_extra_args\":true,\"command\":["
	                                    : "{\"allow_extra_args\":false,\"command\":[");
	for (size_t a = 0; a < v->argc && !rc; a++) {
		if (a)
			ws_buf_put(&b, ",", 1);
		rc = put_subst(&b, v->argv[a], values, 0);
	}
	ws_buf_puts(&b, "],\"environment\":");
	if (!rc)
		rc = put_map(&b, v->env, v->nenv, values, 0);
	ws_buf_puts(&b, ",\"pwd\":");
	ws_buf_json_str(&b, v->pwd, strlen(v->pwd));
	ws_buf_puts(&b, ",\"injection_files\":");
	if (!rc)
		rc = put_map(&b, v->files, v->nfiles, values, 1);
	ws_buf_puts(&b, ",\"measurements\":[");
	for (size_t m = 0; m < v->nmeas; m++) {
		char hex[65];
		sodium_bin2hex(hex, sizeof hex, v->meas[m], 32);
		if (m)
			ws_buf_put(&b, ",", 1);
		ws_buf_json_str(&b, hex, 64);
	}
	ws_buf_puts(&b, "]}");
	if (rc) {
		ws_buf_free(&b);
		return rc;
	}
	return ws_buf_finish(&b, out, len);
}
