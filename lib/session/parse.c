/* Validates a session document: top level, access policy, security, secrets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "session/parse_util.h"
#include "ward/secmem.h"

static const char *const TOLERATE[] = {
    "debug-mode",
    "hyperthreading",
    "insecure-configuration",
    "insecure-igpu",
    "outdated-tcb",
    "software-hardening-needed",
    "aepic-leak",
    NULL,
};

int ws_perr(const struct ynode *n, const char *path, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n)
		return ward_error(WARD_E_FORMAT, "line %u: %s: %s", n->line, path, msg);
	return ward_error(WARD_E_FORMAT, "%s: %s", path, msg);
}

int ws_is_null(const struct ynode *n)
{
	return n->type == Y_SCALAR && n->plain &&
	       (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	        strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

/*
 * Printable UTF-8 only: no NUL or other control characters except tab, CR
 * and LF, no DEL, C1 controls, surrogates or byte-order marks. This keeps
 * argv and environment strings sane and lets the canonical JSON parse back.
 */
static int text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		if (len == 0 || c > 0xf4 || i + len > n)
			return 0;
		unsigned cp = c & (0x3fu >> (len - 1));
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f) || cp == 0xfeff)
			return 0;
		i += len;
	}
	return 1;
}

int ws_get_str(const struct ynode *n, const char *path, char **out)
{
	if (n->type != Y_SCALAR)
		return ws_perr(n, path, "must be a string");
	if (strlen(n->str) != n->len || !text_ok((const unsigned char *)n->str, n->len))
		return ws_perr(n, path, "contains control characters or invalid UTF-8");
	if (strstr(n->str, "$$SCONE::"))
		return ws_perr(n, path, "SCONE reference: write $$WARD::NAME...$$ instead");
	*out = strdup(n->str);
	if (!*out)
		return ward_error(WARD_E_NOMEM, "out of memory");
	return 0;
}

const struct ynode *ws_map_get(const struct ynode *m, const char *key)
{
	if (!m || m->type != Y_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2)
		if (strcmp(m->kids[i]->str, key) == 0 && strlen(key) == m->kids[i]->len)
			return m->kids[i + 1];
	return NULL;
}

int ws_map_check_keys(const struct ynode *m, const char *path, const char *const *allowed,
                      const char *hint)
{
	if (m->type != Y_MAP)
		return ws_perr(m, path, "must be a mapping");
	for (size_t i = 0; i < m->n; i += 2) {
		const char *k = m->kids[i]->str;
		int ok = 0;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, k) == 0 && strlen(k) == m->kids[i]->len;
		if (!ok)
			return ws_perr(m->kids[i], path, "unknown key '%.64s'%s", k,
			               hint ? hint : "");
	}
	return 0;
}

int ws_hex32(const char *s, uint8_t out[32])
{
	size_t got = 0;
	if (strlen(s) != 64 || sodium_hex2bin(out, 32, s, 64, NULL, &got, NULL) != 0 || got != 32)
		return -1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t ws_sort_unique(char **v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_str);
	size_t m = 1;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i], v[m - 1]) == 0)
			free(v[i]);
		else
			v[m++] = v[i];
	}
	return m;
}

/* Session names: [A-Za-z0-9_-.~] components joined by '/', at most 128 bytes. */
static int session_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > WARD_SESSION_NAME_MAX || s[0] == '/' || s[n - 1] == '/' ||
	    strstr(s, "//"))
		return 0;
	for (const char *p = s; *p; p++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~/",
		            *p))
			return 0;
	/* Components that would confuse URLs and the API's routes. */
	char copy[WARD_SESSION_NAME_MAX + 1];
	memcpy(copy, s, n + 1);
	for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || strcmp(c, "secrets") == 0 ||
		    strcmp(c, "history") == 0)
			return 0;
	return 1;
}

static int cmp_pol(const void *a, const void *b)
{
	const struct ws_policy_entry *x = a, *y = b;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return memcmp(x->key, y->key, 32);
}

static int parse_policy(const struct ynode *n, const char *path, struct ws_policy *p)
{
	if (!n) { /* default: only the creator */
		if (!(p->e = calloc(1, sizeof *p->e)))
			return ward_error(WARD_E_NOMEM, "out of memory");
		p->e[0].kind = WS_POL_CREATOR;
		p->n = 1;
		return 0;
	}
	if (n->type != Y_SEQ || n->n == 0 || n->n > WS_MAX_POLICY)
		return ws_perr(n, path,
		               "must be a list of CREATOR, ANY, NONE or key hashes (1..%d)",
		               WS_MAX_POLICY);
	if (!(p->e = calloc(n->n, sizeof *p->e)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	int none = 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->kids[i];
		struct ws_policy_entry *e = &p->e[p->n];
		if (k->type != Y_SCALAR)
			return ws_perr(k, path, "entries must be strings");
		if (strcmp(k->str, "CREATOR") == 0)
			e->kind = WS_POL_CREATOR;
		else if (strcmp(k->str, "ANY") == 0)
			e->kind = WS_POL_ANY;
		else if (strcmp(k->str, "NONE") == 0)
			e->kind = WS_POL_NONE, none = 1;
		else if (ws_hex32(k->str, e->key) == 0)
			e->kind = WS_POL_KEY;
		else
			return ws_perr(k, path,
			               "'%.70s' is not CREATOR, ANY, NONE or a 64-hex-digit "
			               "certificate public-key hash",
			               k->str);
		p->n++;
	}
	if (none && p->n > 1)
		return ws_perr(n, path, "NONE cannot be combined with other entries");
	qsort(p->e, p->n, sizeof *p->e, cmp_pol);
	size_t m = 1;
	for (size_t i = 1; i < p->n; i++)
		if (cmp_pol(&p->e[i], &p->e[m - 1]) != 0)
			p->e[m++] = p->e[i];
	p->n = m;
	return 0;
}

static int parse_access(struct ward_session *s, const struct ynode *n)
{
	static const char *const keys[] = {"read", "update", NULL};
	if (n && ws_map_check_keys(n, "access_policy", keys,
	                           " (create_sessions and signer rules are not supported)"))
		return WARD_E_FORMAT;
	int rc = parse_policy(ws_map_get(n, "read"), "access_policy.read", &s->read);
	return rc ? rc : parse_policy(ws_map_get(n, "update"), "access_policy.update", &s->update);
}

/* A list of strings (or one string) into a sorted, distinct vector. */
static int parse_str_list(const struct ynode *n, const char *path, char ***out, size_t *count)
{
	if (n->type == Y_SCALAR) {
		if (!(*out = calloc(1, sizeof **out)))
			return ward_error(WARD_E_NOMEM, "out of memory");
		*count = 1;
		return ws_get_str(n, path, &(*out)[0]);
	}
	if (n->type != Y_SEQ || n->n > WS_MAX_ITEMS)
		return ws_perr(n, path, "must be a list of strings");
	if (n->n && !(*out = calloc(n->n, sizeof **out)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		int rc = ws_get_str(n->kids[i], path, &(*out)[i]);
		if (rc)
			return rc;
		(*count)++;
	}
	*count = ws_sort_unique(*out, *count);
	return 0;
}

static int parse_security(struct ward_session *s, const struct ynode *n)
{
	static const char *const top[] = {"attestation", NULL};
	static const char *const att[] = {"mode", "tolerate", "ignore_advisories", NULL};
	s->mode = WARD_SESSION_MODE_HOST;
	if (!n)
		return 0;
	if (ws_map_check_keys(n, "security", top, NULL))
		return WARD_E_FORMAT;
	const struct ynode *a = ws_map_get(n, "attestation");
	if (!a)
		return 0;
	if (ws_map_check_keys(a, "security.attestation", att, NULL))
		return WARD_E_FORMAT;
	const struct ynode *m = ws_map_get(a, "mode");
	if (m) {
		const char *v = m->type == Y_SCALAR ? m->str : "";
		if (strcmp(v, "host") == 0)
			s->mode = WARD_SESSION_MODE_HOST;
		else if (strcmp(v, "sgx") == 0 || strcmp(v, "hardware") == 0)
			s->mode = WARD_SESSION_MODE_SGX;
		else if (strcmp(v, "none") == 0)
			s->mode = WARD_SESSION_MODE_NONE;
		else
			return ws_perr(m, "security.attestation.mode", "must be host, sgx or none");
	}
	const struct ynode *t = ws_map_get(a, "tolerate");
	int rc;
	if (t &&
	    (rc = parse_str_list(t, "security.attestation.tolerate", &s->tolerate, &s->ntolerate)))
		return rc;
	for (size_t i = 0; i < s->ntolerate; i++) {
		int known = 0;
		for (const char *const *k = TOLERATE; *k; k++)
			known |= strcmp(*k, s->tolerate[i]) == 0;
		if (!known)
			return ws_perr(t, "security.attestation.tolerate", "unknown value '%.64s'",
			               s->tolerate[i]);
	}
	const struct ynode *adv = ws_map_get(a, "ignore_advisories");
	if (adv && (rc = parse_str_list(adv, "security.attestation.ignore_advisories",
	                                &s->advisories, &s->nadvisories)))
		return rc;
	return 0;
}

static int secret_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == n;
}

/* Explicit secret values: ascii as printable ASCII text, the other kinds as hex. */
static int secret_value(struct ws_secret *x, const struct ynode *v, const char *path)
{
	if (v->type != Y_SCALAR || strlen(v->str) != v->len)
		return ws_perr(v, path, "must be a string");
	size_t cap = x->kind == WARD_SECRET_ASCII ? v->len : v->len / 2;
	if (cap == 0 || cap > WARD_SECRET_MAX_SIZE)
		return ws_perr(v, path, "must hold 1..%u bytes", WARD_SECRET_MAX_SIZE);
	if (!(x->value = ward_secmem_alloc(cap + 1)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	if (x->kind == WARD_SECRET_ASCII) {
		for (size_t i = 0; i < v->len; i++)
			if (v->str[i] < 0x20 || v->str[i] > 0x7e)
				return ws_perr(v, path, "ascii values must be printable ASCII");
		memcpy(x->value, v->str, v->len);
		x->value_len = v->len;
	} else if (v->len % 2 ||
	           sodium_hex2bin(x->value, cap, v->str, v->len, NULL, &x->value_len, NULL) != 0 ||
	           x->value_len != cap) {
		return ws_perr(v, path, "%s values are written in hex",
		               ward_secret_kind_name(x->kind));
	}
	x->value[x->value_len] = 0;
	return 0;
}

static int parse_kind(const struct ynode *k, enum ward_secret_kind *kind)
{
	static const char *const names[] = {"ascii", "binary", "x25519", "ed25519"};
	for (int i = 0; i < 4; i++)
		if (k && k->type == Y_SCALAR && strcmp(k->str, names[i]) == 0) {
			*kind = (enum ward_secret_kind)i;
			return 0;
		}
	return ws_perr(k, "secrets[].kind", "must be ascii, binary, x25519 or ed25519");
}

static int parse_secret(struct ws_secret *x, const struct ynode *n)
{
	static const char *const keys[] = {"name", "kind", "size", "value", "export_public", NULL};
	if (ws_map_check_keys(n, "secrets[]", keys,
	                      " (import, migrate and certificate kinds are not supported)"))
		return WARD_E_FORMAT;
	const struct ynode *nm = ws_map_get(n, "name"), *k = ws_map_get(n, "kind");
	if (!nm || !k)
		return ws_perr(n, "secrets[]", "every secret needs a name and a kind");
	int rc = ws_get_str(nm, "secrets[].name", &x->name);
	if (rc)
		return rc;
	if (!secret_name_ok(x->name))
		return ws_perr(nm, "secrets[].name", "'%.64s' is not 1..128 of [A-Za-z0-9_-.]",
		               x->name);
	if ((rc = parse_kind(k, &x->kind)))
		return rc;
	const struct ynode *v = ws_map_get(n, "value"), *sz = ws_map_get(n, "size");
	const struct ynode *ep = ws_map_get(n, "export_public");
	if (v && (rc = secret_value(x, v, "secrets[].value")))
		return rc;
	int asym = x->kind == WARD_SECRET_X25519 || x->kind == WARD_SECRET_ED25519;
	x->size = x->value ? x->value_len : 32;
	if (sz) {
		unsigned long long want;
		char *end;
		if (sz->type != Y_SCALAR || sz->len == 0 || sz->len > 5 ||
		    strspn(sz->str, "0123456789") != sz->len)
			return ws_perr(sz, "secrets[].size", "must be a number of bytes");
		want = strtoull(sz->str, &end, 10);
		if (want == 0 || want > WARD_SECRET_MAX_SIZE || (asym && want != 32) ||
		    (x->value && want != x->value_len))
			return ws_perr(sz, "secrets[].size",
			               "must be 1..%u, 32 for keys, and match the value",
			               WARD_SECRET_MAX_SIZE);
		x->size = (size_t)want;
	}
	if (asym && x->size != 32)
		return ws_perr(n, "secrets[].value", "%s keys are 32 bytes (64 hex digits)",
		               ward_secret_kind_name(x->kind));
	if (ep) {
		if (ep->type != Y_SCALAR ||
		    (strcmp(ep->str, "true") != 0 && strcmp(ep->str, "false") != 0))
			return ws_perr(ep, "secrets[].export_public", "must be true or false");
		x->export_public = strcmp(ep->str, "true") == 0;
		if (x->export_public && !asym)
			return ws_perr(ep, "secrets[].export_public",
			               "only x25519 and ed25519 secrets have a public half");
	}
	return 0;
}

static int cmp_secret(const void *a, const void *b)
{
	return strcmp(((const struct ws_secret *)a)->name, ((const struct ws_secret *)b)->name);
}

static int parse_secrets(struct ward_session *s, const struct ynode *n)
{
	if (!n || ws_is_null(n))
		return 0;
	if (n->type != Y_SEQ || n->n > WS_MAX_SECRETS)
		return ws_perr(n, "secrets", "must be a list of at most %d secrets",
		               WS_MAX_SECRETS);
	if (n->n && !(s->secrets = calloc(n->n, sizeof *s->secrets)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		s->nsecrets++;
		int rc = parse_secret(&s->secrets[i], n->kids[i]);
		if (rc)
			return rc;
	}
	if (s->nsecrets > 1)
		qsort(s->secrets, s->nsecrets, sizeof *s->secrets, cmp_secret);
	for (size_t i = 1; i < s->nsecrets; i++)
		if (strcmp(s->secrets[i].name, s->secrets[i - 1].name) == 0)
			return ws_perr(n, "secrets", "secret '%s' declared twice",
			               s->secrets[i].name);
	return 0;
}

static int parse_top(struct ward_session *s, const struct ynode *root)
{
	static const char *const keys[] = {"name",     "version", "predecessor", "access_policy",
	                                   "security", "secrets", "services",    NULL};
	if (root->type != Y_MAP)
		return ws_perr(root, "session", "must be a mapping");
	if (ws_map_check_keys(root, "session", keys,
	                      " (volumes, images and fspf protection are not supported yet)"))
		return WARD_E_FORMAT;
	const struct ynode *n = ws_map_get(root, "name");
	if (!n)
		return ws_perr(root, "name", "a session needs a name");
	int rc = ws_get_str(n, "name", &s->name);
	if (rc)
		return rc;
	if (!session_name_ok(s->name))
		return ws_perr(
		    n, "name",
		    "'%.64s' is not 1..128 characters of [A-Za-z0-9_-.~] separated by '/'",
		    s->name);
	const struct ynode *v = ws_map_get(root, "version");
	if (v && (v->type != Y_SCALAR || strcmp(v->str, "0.3") != 0))
		return ws_perr(v, "version", "only session language version \"0.3\" is known");
	if (!(s->version = strdup("0.3")))
		return ward_error(WARD_E_NOMEM, "out of memory");
	const struct ynode *p = ws_map_get(root, "predecessor");
	if (p && !ws_is_null(p)) {
		if (p->type != Y_SCALAR || ws_hex32(p->str, s->pred))
			return ws_perr(p, "predecessor", "must be the 64-hex-digit digest or null");
		s->has_pred = 1;
	}
	if ((rc = parse_access(s, ws_map_get(root, "access_policy"))) ||
	    (rc = parse_security(s, ws_map_get(root, "security"))) ||
	    (rc = parse_secrets(s, ws_map_get(root, "secrets"))))
		return rc;
	const struct ynode *sv = ws_map_get(root, "services");
	if ((rc = ws_parse_services(s, sv)))
		return rc;
	return ws_check_references(s, sv);
}

int ward_session_parse(const char *text, size_t len, struct ward_session **out)
{
	*out = NULL;
	if (!text || len > WARD_SESSION_MAX_TEXT)
		return ward_error(WARD_E_RANGE, "session documents are limited to %u bytes",
		                  WARD_SESSION_MAX_TEXT);
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	struct ynode *root;
	int rc = ws_yaml_load(text, len, &root);
	if (rc)
		return rc;
	struct ward_session *s = calloc(1, sizeof *s);
	if (!s) {
		ws_yaml_free(root);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	atomic_init(&s->refs, 1);
	rc = parse_top(s, root);
	ws_yaml_free(root);
	if (rc) {
		ward_session_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kv(struct ws_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		if (kv[i].val) {
			sodium_memzero(kv[i].val, strlen(kv[i].val));
			free(kv[i].val);
		}
	}
	free(kv);
}

struct ward_session *ward_session_ref(struct ward_session *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void ward_session_free(struct ward_session *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) > 1)
		return;
	free(s->name);
	free(s->version);
	free(s->read.e);
	free(s->update.e);
	free_strv(s->tolerate, s->ntolerate);
	free_strv(s->advisories, s->nadvisories);
	for (size_t i = 0; i < s->nsecrets; i++) {
		free(s->secrets[i].name);
		if (s->secrets[i].value)
			ward_secmem_free(s->secrets[i].value);
	}
	free(s->secrets);
	for (size_t i = 0; i < s->nservices; i++) {
		struct ws_service *v = &s->services[i];
		free(v->name);
		free_strv(v->argv, v->argc);
		free_kv(v->env, v->nenv);
		free(v->pwd);
		free_kv(v->files, v->nfiles);
		free(v->meas);
		free(v->uids);
	}
	free(s->services);
	free(s);
}
