/* Validates the services of a session and every $$WARD::...$$ reference they make. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "session/parse_util.h"

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct ws_kv *)a)->key, ((const struct ws_kv *)b)->key);
}

const char *ws_kv_sort(struct ws_kv *kv, size_t n)
{
	if (n == 0)
		return NULL;
	qsort(kv, n, sizeof *kv, cmp_kv);
	for (size_t i = 1; i < n; i++)
		if (strcmp(kv[i].key, kv[i - 1].key) == 0)
			return kv[i].key;
	return NULL;
}

/* "a b  c" -> {a, b, c}: a command string is split at spaces and tabs, with no quoting. */
static int split_command(struct ws_service *v, const struct ynode *n)
{
	char *copy;
	int rc = ws_get_str(n, "services[].command", &copy);
	if (rc)
		return rc;
	size_t cap = 8;
	if (!(v->argv = calloc(cap, sizeof *v->argv))) {
		free(copy);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (v->argc == WS_MAX_ITEMS) {
			free(copy);
			return ws_perr(n, "services[].command", "too many arguments");
		}
		if (v->argc == cap) {
			char **a = realloc(v->argv, 2 * cap * sizeof *a);
			if (!a) {
				free(copy);
				return ward_error(WARD_E_NOMEM, "out of memory");
			}
			v->argv = a;
			cap *= 2;
		}
		if (!(v->argv[v->argc] = strdup(t))) {
			free(copy);
			return ward_error(WARD_E_NOMEM, "out of memory");
		}
		v->argc++;
	}
	free(copy);
	return 0;
}

static int parse_command(struct ws_service *v, const struct ynode *n)
{
	int rc;
	if (!n)
		return ws_perr(NULL, "services[].command", "every service needs a command");
	if (n->type == Y_SCALAR) {
		if ((rc = split_command(v, n)))
			return rc;
	} else if (n->type == Y_SEQ && n->n <= WS_MAX_ITEMS) {
		if (n->n && !(v->argv = calloc(n->n, sizeof *v->argv)))
			return ward_error(WARD_E_NOMEM, "out of memory");
		for (size_t i = 0; i < n->n; i++) {
			if ((rc = ws_get_str(n->kids[i], "services[].command[]", &v->argv[i])))
				return rc;
			v->argc++;
		}
	} else {
		return ws_perr(n, "services[].command", "must be a string or a list of strings");
	}
	if (v->argc == 0 || v->argv[0][0] == '\0')
		return ws_perr(n, "services[].command", "the program (first word) is missing");
	if (strstr(v->argv[0], "$$WARD::"))
		return ws_perr(n, "services[].command",
		               "the program may not be a secret reference");
	return 0;
}

static int env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	size_t n = strlen(s);
	return n <= 256 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Absolute, no "." or ".." components, no references. */
static int path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 4096 || strstr(p, "$$WARD::") || strstr(p, "/./") ||
	    strstr(p, "/../"))
		return 0;
	size_t n = strlen(p);
	return !(n >= 2 && strcmp(p + n - 2, "/.") == 0) &&
	       !(n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

/* A string -> string mapping (environment, injection_files). */
static int parse_map(const struct ynode *n, const char *path, int files, struct ws_kv **out,
                     size_t *count)
{
	if (!n || ws_is_null(n))
		return 0;
	if (n->type != Y_MAP || n->n / 2 > WS_MAX_ITEMS)
		return ws_perr(n, path, "must be a mapping of at most %d entries", WS_MAX_ITEMS);
	if (n->n && !(*out = calloc(n->n / 2, sizeof **out)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i += 2) {
		struct ws_kv *kv = &(*out)[*count];
		int rc = ws_get_str(n->kids[i], path, &kv->key);
		(*count)++;
		if (rc || (rc = ws_get_str(n->kids[i + 1], path, &kv->val)))
			return rc;
		if (files ? !path_ok(kv->key) : !env_name_ok(kv->key))
			return ws_perr(n->kids[i], path,
			               files ? "'%.64s' is not an absolute path without . or .."
			                     : "'%.64s' is not a variable name",
			               kv->key);
	}
	const char *dup = ws_kv_sort(*out, *count);
	if (dup)
		return ws_perr(n, path, "'%.64s' given twice", dup);
	return 0;
}

static int cmp_meas(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* attestation.uids: the workload must run as one of these users (checked from the evidence). */
static int parse_uids(struct ws_service *v, const struct ynode *u)
{
	if (!u || ws_is_null(u))
		return 0;
	if (u->type != Y_SEQ || u->n > WS_MAX_ITEMS)
		return ws_perr(u, "services[].attestation.uids", "must be a list of user ids");
	if (u->n && !(v->uids = calloc(u->n, sizeof *v->uids)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < u->n; i++) {
		const struct ynode *k = u->kids[i];
		if (k->type != Y_SCALAR || k->len == 0 || k->len > 10 ||
		    strspn(k->str, "0123456789") != k->len ||
		    strtoull(k->str, NULL, 10) > UINT32_MAX)
			return ws_perr(k, "services[].attestation.uids", "'%.20s' is not a user id",
			               k->str);
		v->uids[v->nuids++] = (uint32_t)strtoull(k->str, NULL, 10);
	}
	if (v->nuids > 1)
		qsort(v->uids, v->nuids, sizeof *v->uids, cmp_u32);
	size_t m = v->nuids ? 1 : 0;
	for (size_t i = 1; i < v->nuids; i++)
		if (v->uids[i] != v->uids[m - 1])
			v->uids[m++] = v->uids[i];
	v->nuids = m;
	return 0;
}

static int parse_attestation(struct ws_service *v, const struct ynode *n)
{
	static const char *const keys[] = {"measurements", "uids", NULL};
	if (!n || ws_is_null(n))
		return 0;
	if (ws_map_check_keys(n, "services[].attestation", keys,
	                      " (write accepted measurements as measurements: [...])"))
		return WARD_E_FORMAT;
	int rc = parse_uids(v, ws_map_get(n, "uids"));
	if (rc)
		return rc;
	const struct ynode *m = ws_map_get(n, "measurements");
	if (!m || ws_is_null(m))
		return 0;
	if (m->type != Y_SEQ || m->n > WS_MAX_ITEMS)
		return ws_perr(m, "services[].attestation.measurements", "must be a list");
	if (m->n && !(v->meas = calloc(m->n, 32)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < m->n; i++) {
		const struct ynode *h = m->kids[i];
		if (h->type != Y_SCALAR || ws_hex32(h->str, v->meas[i]))
			return ws_perr(h, "services[].attestation.measurements",
			               "a measurement is 64 hex digits (see `ward measure`)");
	}
	v->nmeas = m->n;
	if (v->nmeas > 1)
		qsort(v->meas, v->nmeas, 32, cmp_meas);
	size_t k = v->nmeas ? 1 : 0;
	for (size_t i = 1; i < v->nmeas; i++)
		if (memcmp(v->meas[i], v->meas[k - 1], 32) != 0)
			memmove(v->meas[k++], v->meas[i], 32);
	v->nmeas = k;
	return 0;
}

static int service_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 128 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~") == n;
}

static int parse_service(const struct ward_session *s, struct ws_service *v, const struct ynode *n)
{
	static const char *const keys[] = {
	    "name",        "command",          "environment", "pwd", "injection_files",
	    "attestation", "allow_extra_args", NULL};
	if (ws_map_check_keys(n, "services[]", keys,
	                      " (image_name, fspf_*, tags and platforms are not supported yet)"))
		return WARD_E_FORMAT;
	const struct ynode *nm = ws_map_get(n, "name");
	if (!nm)
		return ws_perr(n, "services[]", "every service needs a name");
	int rc = ws_get_str(nm, "services[].name", &v->name);
	if (rc)
		return rc;
	if (!service_name_ok(v->name))
		return ws_perr(nm, "services[].name", "'%.64s' is not 1..128 of [A-Za-z0-9_-.~]",
		               v->name);
	if ((rc = parse_command(v, ws_map_get(n, "command"))) ||
	    (rc = parse_map(ws_map_get(n, "environment"), "services[].environment", 0, &v->env,
	                    &v->nenv)) ||
	    (rc = parse_map(ws_map_get(n, "injection_files"), "services[].injection_files", 1,
	                    &v->files, &v->nfiles)) ||
	    (rc = parse_attestation(v, ws_map_get(n, "attestation"))))
		return rc;
	const struct ynode *ea = ws_map_get(n, "allow_extra_args");
	if (ea) {
		if (ea->type != Y_SCALAR ||
		    (strcmp(ea->str, "true") != 0 && strcmp(ea->str, "false") != 0))
			return ws_perr(ea, "services[].allow_extra_args", "must be true or false");
		v->allow_extra_args = strcmp(ea->str, "true") == 0;
	}
	const struct ynode *pwd = ws_map_get(n, "pwd");
	if (pwd) {
		if ((rc = ws_get_str(pwd, "services[].pwd", &v->pwd)))
			return rc;
		if (!path_ok(v->pwd))
			return ws_perr(pwd, "services[].pwd", "must be an absolute path");
	} else if (!(v->pwd = strdup("/"))) {
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	if (v->nmeas == 0 && s->mode != WARD_SESSION_MODE_NONE)
		return ws_perr(n, "services[].attestation.measurements",
		               "service '%s' accepts no measurement: it could never be attested",
		               v->name);
	return 0;
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct ws_service *)a)->name, ((const struct ws_service *)b)->name);
}

int ws_parse_services(struct ward_session *s, const struct ynode *n)
{
	if (!n || ws_is_null(n))
		return 0;
	if (n->type != Y_SEQ || n->n > WS_MAX_SERVICES)
		return ws_perr(n, "services", "must be a list of at most %d services",
		               WS_MAX_SERVICES);
	if (n->n && !(s->services = calloc(n->n, sizeof *s->services)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		s->nservices++;
		int rc = parse_service(s, &s->services[i], n->kids[i]);
		if (rc)
			return rc;
	}
	if (s->nservices > 1)
		qsort(s->services, s->nservices, sizeof *s->services, cmp_service);
	for (size_t i = 1; i < s->nservices; i++)
		if (strcmp(s->services[i].name, s->services[i - 1].name) == 0)
			return ws_perr(n, "services", "service '%s' declared twice",
			               s->services[i].name);
	return 0;
}

/*
 * Checks the references in str. raw_ok: the string may receive raw bytes
 * (injection files); argv and environment strings only take ascii secrets
 * raw, everything else encoded, so no NUL byte can reach them.
 */
static int check_string(const struct ward_session *s, const char *str, int raw_ok,
                        const char *where, const char *svc)
{
	size_t pos = 0;
	struct ws_ref r;
	int got;
	while ((got = ws_ref_next(str, &pos, &r)) != 0) {
		if (got < 0)
			return ws_perr(NULL, where,
			               "service '%s': malformed reference near '%.40s' (write "
			               "$$WARD::NAME$$, :hex, :base64 or :public:hex)",
			               svc, str + pos);
		char name[129];
		if (r.namelen >= sizeof name)
			return ws_perr(NULL, where, "service '%s': reference name too long", svc);
		memcpy(name, r.name, r.namelen);
		name[r.namelen] = '\0';
		int i = ward_session_secret_find(s, name);
		if (i < 0)
			return ws_perr(NULL, where, "service '%s': undeclared secret '%s'", svc,
			               name);
		enum ward_secret_kind k = s->secrets[i].kind;
		if (r.pub && k != WARD_SECRET_X25519 && k != WARD_SECRET_ED25519)
			return ws_perr(NULL, where, "service '%s': secret '%s' has no public half",
			               svc, name);
		if (!raw_ok && r.enc == WS_ENC_RAW && (r.pub || k != WARD_SECRET_ASCII))
			return ws_perr(NULL, where,
			               "service '%s': secret '%s' is binary: write "
			               "$$WARD::%s:hex$$ or :base64 in commands and environments",
			               svc, name, name);
	}
	return 0;
}

int ws_check_references(const struct ward_session *s, const struct ynode *services)
{
	(void)services;
	for (size_t i = 0; i < s->nservices; i++) {
		const struct ws_service *v = &s->services[i];
		int rc = 0;
		for (size_t a = 1; a < v->argc && !rc; a++)
			rc = check_string(s, v->argv[a], 0, "services[].command", v->name);
		for (size_t e = 0; e < v->nenv && !rc; e++)
			rc = check_string(s, v->env[e].val, 0, "services[].environment", v->name);
		for (size_t f = 0; f < v->nfiles && !rc; f++)
			rc = check_string(s, v->files[f].val, 1, "services[].injection_files",
			                  v->name);
		if (rc)
			return rc;
	}
	return 0;
}
