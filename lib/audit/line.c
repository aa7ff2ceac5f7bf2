/* The signed line format of the audit log, shared by the writer and the verifier. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "core/core_internal.h"

int audit_line_split(const char *line, size_t len, char *body, size_t *blen, uint8_t sig[64])
{
	static const char pre[] = ",\"sig\":\"";
	if (len < AUDIT_SIG_SUFFIX_LEN + 2 || line[0] != '{')
		return -1;
	const char *suf = line + len - AUDIT_SIG_SUFFIX_LEN;
	if (memcmp(suf, pre, 8) != 0 || memcmp(line + len - 2, "\"}", 2) != 0)
		return -1;
	size_t got = 0;
	if (sodium_hex2bin(sig, 64, suf + 8, 128, NULL, &got, NULL) != 0 || got != 64)
		return -1;
	/* Only lower-case hex: one spelling per signature. */
	for (size_t i = 0; i < 128; i++)
		if (suf[8 + i] >= 'A' && suf[8 + i] <= 'F')
			return -1;
	size_t n = (size_t)(suf - line);
	memcpy(body, line, n);
	body[n] = '}';
	*blen = n + 1;
	return 0;
}

int audit_body_verify(const char *body, size_t blen, const uint8_t sig[64], const uint8_t pk[32])
{
	size_t dl = sizeof AUDIT_SIG_DOMAIN - 1;
	uint8_t *msg = malloc(dl + blen);
	if (!msg)
		return -1;
	memcpy(msg, AUDIT_SIG_DOMAIN, dl);
	memcpy(msg + dl, body, blen);
	int rc = crypto_sign_verify_detached(sig, msg, dl + blen, pk);
	free(msg);
	return rc == 0 ? 0 : -1;
}

int audit_body_fields(const char *body, size_t blen, uint64_t *seq, uint8_t prev[32])
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return -1;
	json_object *o = json_tokener_parse_ex(tok, body, (int)blen);
	int complete = json_tokener_get_error(tok) == json_tokener_success &&
	               json_tokener_get_parse_end(tok) == blen;
	json_tokener_free(tok);
	int rc = -1;
	json_object *js, *jp;
	if (complete && o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "seq", &js) && json_object_is_type(js, json_type_int) &&
	    json_object_object_get_ex(o, "prev", &jp) &&
	    json_object_is_type(jp, json_type_string) && json_object_get_string_len(jp) == 64 &&
	    json_object_get_int64(js) > 0) {
		size_t got = 0;
		*seq = (uint64_t)json_object_get_int64(js);
		if (sodium_hex2bin(prev, 32, json_object_get_string(jp), 64, NULL, &got, NULL) ==
		        0 &&
		    got == 32)
			rc = 0;
	}
	json_object_put(o);
	return rc;
}

size_t audit_anchor_message(const struct ward_audit_pos *pos, uint8_t *msg)
{
	size_t dl = sizeof AUDIT_ANCHOR_DOMAIN - 1;
	memcpy(msg, AUDIT_ANCHOR_DOMAIN, dl);
	for (int i = 0; i < 8; i++)
		msg[dl + (size_t)i] = (uint8_t)(pos->seq >> (56 - 8 * i));
	memcpy(msg + dl + 8, pos->hash, 32);
	return dl + 8 + 32;
}

int ward_audit_anchor_check(const struct ward_audit_anchor *anchor, const uint8_t pk[32])
{
	uint8_t msg[64 + 40];
	size_t n = audit_anchor_message(&anchor->pos, msg);
	if (crypto_sign_verify_detached(anchor->sig, msg, n, pk) != 0)
		return ward_error(WARD_E_BADMSG, "audit checkpoint signature does not verify");
	return 0;
}

/* Verifies one line (without newline) against the chain state; updates it. */
int audit_line_check(const char *line, size_t len, const uint8_t pk[32], uint64_t *seq,
                     uint8_t hash[32], const char **why)
{
	char *body = malloc(len + 1);
	uint8_t sig[64], prev[32];
	size_t blen;
	uint64_t s;
	int rc = WARD_E_BADMSG;
	if (!body) {
		*why = "out of memory";
		return WARD_E_NOMEM;
	}
	if (audit_line_split(line, len, body, &blen, sig)) {
		*why = "not a signed audit entry";
		rc = WARD_E_FORMAT;
	} else if (audit_body_verify(body, blen, sig, pk)) {
		*why = "signature does not verify (entry altered or signed by another key)";
	} else if (audit_body_fields(body, blen, &s, prev)) {
		*why = "entry lacks seq or prev";
		rc = WARD_E_FORMAT;
	} else if (s != *seq + 1) {
		*why = s <= *seq ? "sequence number repeats or goes back (entries replayed or "
		                   "reordered)"
		                 : "sequence number skips (entries removed)";
	} else if (sodium_memcmp(prev, hash, 32) != 0) {
		*why = "hash chain broken (an earlier entry was altered or removed)";
	} else {
		*seq = s;
		SHA256((const unsigned char *)line, len, hash);
		rc = 0;
	}
	free(body);
	return rc;
}
