/* ward session: the owner's client of the key service (libcurl, TLS 1.3, client certificate). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/io.h"
#include "ward/session.h"

/* Exit codes beyond cmd/util.h's, documented in man/ward-session.1. */
enum {
	EXIT_NOTFOUND = 10, /* HTTP 404 */
	EXIT_CONFLICT = 11, /* HTTP 409: missing or stale predecessor, name taken */
	EXIT_SEALED = 12,   /* HTTP 503 */
};

static const char USAGE[] =
    "usage: ward session create  [OPTIONS] SESSION.yml\n"
    "       ward session update  [OPTIONS] [--predecessor HEX] SESSION.yml\n"
    "       ward session get     [OPTIONS] NAME\n"
    "       ward session delete  [OPTIONS] [--predecessor HEX] NAME\n"
    "       ward session history [OPTIONS] NAME\n"
    "       ward session public  [OPTIONS] [--format crypt4gh|hex|json] [-o FILE] NAME SECRET\n"
    "       ward session digest  SESSION.yml      (local: the digest an update names)\n"
    "options: --cas URL (or $WARD_CAS_URL; default https://127.0.0.1:8081)\n"
    "         --cert PEM --key PEM (or $WARD_CAS_CERT, $WARD_CAS_KEY): your identity;\n"
    "           the owner of a session is the key of the certificate that created it\n"
    "         --cacert PEM (or $WARD_CAS_CA): the service's certificate or CA\n"
    "The same calls work with curl --cert/--key, e.g.\n"
    "  curl --cacert ca.pem --cert me.crt --key me.key --data-binary @s.yml "
    "https://HOST:8081/v1/sessions\n";

struct opts {
	const char *cas, *cert, *key, *cacert, *pred, *format, *out;
};

/* A response body in guarded memory: GET returns explicit secret values. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct sbuf *b = ctx;
	size_t add = size * n;
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + add + 1)
			cap *= 2;
		char *np = cap <= (64u << 20) ? sodium_malloc(cap) : NULL;
		if (!np) {
			b->oom = 1;
			return 0;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			sodium_free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

static const char *env_or(const char *v, const char *env, const char *def)
{
	const char *e = getenv(env);
	return v ? v : e && *e ? e : def;
}

static int exit_for_status(long status)
{
	switch (status) {
	case 401:
	case 403:
		return WARD_EXIT_DENIED;
	case 404:
		return EXIT_NOTFOUND;
	case 409:
		return EXIT_CONFLICT;
	case 503:
		return EXIT_SEALED;
	}
	return WARD_EXIT_FAIL;
}

/*
 * Performs one request; on 2xx *resp holds the body (caller frees with
 * sodium_free). Prints the error and returns an exit code otherwise.
 */
static int request(const struct opts *o, const char *method, const char *path, const char *body,
                   size_t body_len, struct sbuf *resp)
{
	memset(resp, 0, sizeof *resp);
	CURL *c = curl_easy_init();
	if (!c)
		return fputs("ward session: cannot initialise libcurl\n", stderr), WARD_EXIT_FAIL;
	char url[2048];
	snprintf(url, sizeof url, "%s%s", o->cas, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	if (o->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
	if (o->cacert) {
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
		/* Only that file: Debian's libcurl would also parse all of /etc/ssl/certs (~25 ms).
		 */
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/yaml");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK || resp->oom) {
		fprintf(stderr, "ward session: %s: %s%s\n", url,
		        resp->oom ? "response too large" : curl_easy_strerror(cc),
		        cc == CURLE_PEER_FAILED_VERIFICATION
		            ? " (give the service's certificate with --cacert)"
		            : "");
		if (resp->p)
			sodium_free(resp->p);
		resp->p = NULL;
		return WARD_EXIT_IO;
	}
	if (status >= 200 && status < 300)
		return 0;
	json_object *j = resp->p ? json_tokener_parse(resp->p) : NULL, *e;
	fprintf(stderr, "ward session: %s: %ld: %s\n", path, status,
	        j && json_object_object_get_ex(j, "error", &e) ? json_object_get_string(e)
	                                                       : "request failed");
	json_object_put(j);
	if (resp->p)
		sodium_free(resp->p);
	resp->p = NULL;
	return exit_for_status(status);
}

/* Loads and checks a session file locally (the service checks it again). */
static int load_session(const char *path, char **text, size_t *len, struct ward_session **s)
{
	int rc = cas_read_file(path, text, len);
	if (rc)
		return ward_report("ward session", path, rc);
	if ((rc = ward_session_parse(*text, *len, s))) {
		sodium_memzero(*text, *len);
		free(*text);
		return ward_report("ward session", path, rc);
	}
	return 0;
}

static void print_field(const struct sbuf *r, const char *field)
{
	json_object *j = json_tokener_parse(r->p), *v;
	if (j && json_object_object_get_ex(j, field, &v))
		printf("%s\n", json_object_get_string(v));
	json_object_put(j);
}

/* The service's "warnings", one line each on stderr. */
static void print_warnings(const struct sbuf *r, const char *path)
{
	json_object *j = json_tokener_parse(r->p), *w;
	if (j && json_object_object_get_ex(j, "warnings", &w) &&
	    json_object_is_type(w, json_type_array))
		for (size_t i = 0; i < json_object_array_length(w); i++)
			fprintf(stderr, "ward session: %s: warning: %s\n", path,
			        json_object_get_string(json_object_array_get_idx(w, i)));
	json_object_put(j);
}

static int apply(const struct opts *o, const char *path, int update)
{
	char *text;
	size_t len;
	struct ward_session *s;
	int rc = load_session(path, &text, &len, &s);
	if (rc)
		return rc;
	char *canon = NULL;
	const char *body = text;
	if (o->pred) {
		/* Name the predecessor by sending the canonical form with it set. */
		uint8_t pred[32];
		size_t got = 0;
		if (strlen(o->pred) != 64 ||
		    sodium_hex2bin(pred, 32, o->pred, 64, NULL, &got, NULL) != 0 || got != 32) {
			rc = WARD_EXIT_USAGE;
			fputs("ward session: --predecessor must be 64 hex digits\n", stderr);
		} else {
			ward_session_set_predecessor(s, pred);
			if ((rc = ward_session_canonical(s, &canon, &len)))
				rc = ward_report("ward session", path, rc);
			body = canon;
		}
	}
	struct sbuf r = {0};
	char url[512];
	snprintf(url, sizeof url, "/v1/sessions%s%s", update ? "/" : "",
	         update ? ward_session_name(s) : "");
	if (!rc)
		rc = request(o, update ? "PUT" : "POST", url, body, len, &r);
	if (!rc) {
		print_field(&r, "digest");
		print_warnings(&r, path);
		sodium_free(r.p);
	}
	ward_session_text_free(canon);
	ward_session_free(s);
	sodium_memzero(text, strlen(text));
	free(text);
	return rc;
}

static int simple_get(const struct opts *o, const char *method, const char *path, int pretty)
{
	struct sbuf r;
	int rc = request(o, method, path, NULL, 0, &r);
	if (rc)
		return rc;
	json_object *j = pretty ? json_tokener_parse(r.p) : NULL;
	if (j)
		printf("%s\n", json_object_to_json_string_ext(
		                   j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		fwrite(r.p, 1, r.len, stdout);
	json_object_put(j);
	sodium_free(r.p);
	return fflush(stdout) == 0 ? 0 : WARD_EXIT_IO;
}

static int public_key(const struct opts *o, const char *name, const char *secret)
{
	const char *fmt = o->format ? o->format : "crypt4gh";
	if (strcmp(fmt, "crypt4gh") && strcmp(fmt, "hex") && strcmp(fmt, "json"))
		return fputs("ward session public: --format is crypt4gh, hex or json\n", stderr),
		       WARD_EXIT_USAGE;
	char path[1024];
	snprintf(path, sizeof path, "/v1/sessions/%s/secrets/%s/public%s", name, secret,
	         strcmp(fmt, "crypt4gh") == 0 ? "?format=crypt4gh" : "");
	struct sbuf r;
	int rc = request(o, "GET", path, NULL, 0, &r);
	if (rc)
		return rc;
	json_object *j = NULL, *v;
	const char *out = r.p;
	char line[80];
	if (strcmp(fmt, "hex") == 0) {
		j = json_tokener_parse(r.p);
		snprintf(line, sizeof line, "%s\n",
		         j && json_object_object_get_ex(j, "public_key", &v)
		             ? json_object_get_string(v)
		             : "");
		out = line;
	}
	struct ward_outfile *f;
	if (!(rc = ward_outfile_open(o->out, 0644, &f))) {
		if (ward_write_full(ward_outfile_fd(f), out, strlen(out)) != 0) {
			ward_outfile_abort(f);
			rc = WARD_E_IO;
		} else {
			rc = ward_outfile_commit(f, 0);
		}
	}
	json_object_put(j);
	sodium_free(r.p);
	return rc ? ward_report("ward session public", o->out ? o->out : "-", rc) : 0;
}

static int digest(const char *path)
{
	char *text;
	size_t len;
	struct ward_session *s;
	int rc = load_session(path, &text, &len, &s);
	if (rc)
		return rc;
	uint8_t d[32];
	char hex[65];
	if (!(rc = ward_session_digest(s, d))) {
		sodium_bin2hex(hex, sizeof hex, d, 32);
		printf("%s\n", hex);
	}
	ward_session_free(s);
	sodium_memzero(text, len);
	free(text);
	return rc ? ward_report("ward session digest", path, rc) : 0;
}

int cmd_session_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"cas", required_argument, NULL, 'c'},
	                                         {"cert", required_argument, NULL, 'C'},
	                                         {"key", required_argument, NULL, 'K'},
	                                         {"cacert", required_argument, NULL, 'A'},
	                                         {"predecessor", required_argument, NULL, 'p'},
	                                         {"format", required_argument, NULL, 'f'},
	                                         {"output", required_argument, NULL, 'o'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {0, 0, 0, 0}};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? WARD_EXIT_USAGE : 0;
	}
	const char *sub = argv[1];
	struct opts o = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.cas = optarg;
			break;
		case 'C':
			o.cert = optarg;
			break;
		case 'K':
			o.key = optarg;
			break;
		case 'A':
			o.cacert = optarg;
			break;
		case 'p':
			o.pred = optarg;
			break;
		case 'f':
			o.format = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			fputs(USAGE, stderr);
			return WARD_EXIT_USAGE;
		}
	}
	int nargs = argc - 1 - optind;
	char **args = argv + 1 + optind;
	o.cas = env_or(o.cas, "WARD_CAS_URL", "https://127.0.0.1:8081");
	o.cert = env_or(o.cert, "WARD_CAS_CERT", NULL);
	o.key = env_or(o.key, "WARD_CAS_KEY", NULL);
	o.cacert = env_or(o.cacert, "WARD_CAS_CA", NULL);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fputs("ward session: cannot initialise\n", stderr), WARD_EXIT_FAIL;
	char path[1024];
	int rc = WARD_EXIT_USAGE;
	if (!strcmp(sub, "digest") && nargs == 1)
		rc = digest(args[0]);
	else if ((!strcmp(sub, "create") || !strcmp(sub, "update")) && nargs == 1)
		rc = apply(&o, args[0], !strcmp(sub, "update"));
	else if (!strcmp(sub, "get") && nargs == 1) {
		snprintf(path, sizeof path, "/v1/sessions/%s", args[0]);
		rc = simple_get(&o, "GET", path, 1);
	} else if (!strcmp(sub, "history") && nargs == 1) {
		snprintf(path, sizeof path, "/v1/sessions/%s/history", args[0]);
		rc = simple_get(&o, "GET", path, 1);
	} else if (!strcmp(sub, "delete") && nargs == 1) {
		snprintf(path, sizeof path, "/v1/sessions/%s%s%s", args[0],
		         o.pred ? "?predecessor=" : "", o.pred ? o.pred : "");
		struct sbuf r;
		if (!(rc = request(&o, "DELETE", path, NULL, 0, &r)))
			sodium_free(r.p);
	} else if (!strcmp(sub, "public") && nargs == 2)
		rc = public_key(&o, args[0], args[1]);
	else
		fputs(USAGE, stderr);
	curl_global_cleanup();
	return rc;
}
