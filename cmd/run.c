/*
 * ward run: the launcher of host mode. Asks the key service (CAS) which
 * program a service runs, opens and hashes it, gets evidence from the LAS
 * binding a fresh ephemeral key and both measurements, receives the
 * configuration sealed to that key, and fexecve()s exactly the descriptor
 * that was hashed (cmd/run_exec.c) with only the granted argv, environment,
 * working directory and in-memory injection files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/run.h"
#include "cmd/util.h"
#include "ward/attest.h"

#define RESP_MAX (4u << 20)

static const char usage_text[] =
    "usage: ward run [--cas ADDR] [--cas-ca FILE] [--las PATH] --config SESSION/SERVICE\n"
    "                [-v] [-- ARGS...]\n"
    "\n"
    "Runs the service SERVICE of session SESSION as an attested workload: the key\n"
    "service releases the service's command, environment, working directory and\n"
    "injection files (with its secrets) only to a process that the local attestation\n"
    "service (`ward las`) saw running a trusted ward binary, which opened a program\n"
    "whose SHA-256 the session accepts. That exact open file is then executed.\n"
    "\n"
    "  --cas ADDR      key service, host:port or https://host:port (WARD_CAS_ADDR)\n"
    "  --cas-ca FILE   CA certificate(s) to trust for the key service (WARD_CAS_CA;\n"
    "                  default: the system store)\n"
    "  --las PATH      LAS socket (WARD_LAS_ADDR; default /run/ward/las.sock)\n"
    "  --config ID     SESSION/SERVICE (WARD_CONFIG_ID)\n"
    "  -v, --verbose   say what happens on stderr (never secrets)\n"
    "  -- ARGS         appended to the granted command only if the session allows it\n"
    "\n"
    "The workload gets ONLY the session's environment (host variables are dropped),\n"
    "runs in its pwd, and finds each injection file at /proc/self/fd/N: arguments and\n"
    "environment values equal to an injection path (or ending in =PATH) are rewritten\n"
    "to that name. Nothing secret is written to disk.\n"
    "\n"
    "Threat model (host mode): resists other users and tenants of the host, stolen\n"
    "disks, humans using the key service's API, a modified binary and replayed\n"
    "evidence. It does NOT resist root on the host or a compromised kernel, and the\n"
    "user who runs the workload can read its environment (/proc/PID/environ).\n"
    "Exit status: the workload's, or 9 refused by the key service or by a check,\n"
    "8 I/O or network failure, 64 usage, 1 other. See ward-run(1).\n";

struct run_opts {
	const char *cas, *ca, *las, *config;
	int verbose;
	char **extra;
	int n_extra;
	CURL *curl; /* one handle: the three requests share a TLS connection */
};

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *ctx)
{
	struct buf *b = ctx;
	size_t n = sz * nm;
	if (b->n + n + 1 > RESP_MAX)
		return 0;
	char *p = realloc(b->p, b->n + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, d, n);
	b->n += n;
	p[b->n] = '\0';
	b->p = p;
	return n;
}

/* An error reply is {"error": "..."}; anything else is summarised by status. */
static int http_error(long status, const struct buf *b)
{
	json_object *o = b->p ? json_tokener_parse(b->p) : NULL;
	json_object *e = NULL;
	const char *msg = o && json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e)
	                                                                 : "no details";
	fprintf(stderr, "ward run: the key service refused (HTTP %ld): %.300s\n", status, msg);
	json_object_put(o);
	return status == 403 || status == 401 || status == 409 || status == 404 || status == 410
	           ? WARD_EXIT_DENIED
	           : WARD_EXIT_FAIL;
}

/* One HTTPS request; body NULL means GET. Returns 0 or an exit code. */
static int http(const struct run_opts *o, const char *url, const char *body, json_object **out)
{
	*out = NULL;
	CURL *c = o->curl;
	/* reset keeps the open connection and TLS session, drops the last request's options */
	curl_easy_reset(c);
	struct buf b = {NULL, 0};
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	if (o->ca) {
		/* Only this CA: no system CA directory (also spares parsing ~150 certificates). */
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	int ret = 0;
	if (rc != CURLE_OK) {
		fprintf(stderr, "ward run: %s: %s\n", url, err[0] ? err : curl_easy_strerror(rc));
		ret = WARD_EXIT_IO;
	} else if (status != 200) {
		ret = http_error(status, &b);
	} else if (!(*out = b.p ? json_tokener_parse(b.p) : NULL) ||
	           !json_object_is_type(*out, json_type_object)) {
		fprintf(stderr, "ward run: %s: malformed reply\n", url);
		json_object_put(*out);
		*out = NULL;
		ret = WARD_EXIT_FAIL;
	}
	free(b.p);
	return ret;
}

/* A string field of a reply, or NULL with a message. */
static const char *field(json_object *o, const char *name, const char *what)
{
	json_object *v = NULL;
	if (json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	fprintf(stderr, "ward run: %s: reply has no \"%s\"\n", what, name);
	return NULL;
}

static char *base_url(const char *addr)
{
	char *u = NULL;
	if (strncmp(addr, "https://", 8) == 0) {
		u = strdup(addr);
	} else if (strstr(addr, "://")) {
		fprintf(stderr, "ward run: %s: only https:// is accepted\n", addr);
		return NULL;
	} else if (asprintf(&u, "https://%s", addr) < 0) {
		u = NULL;
	}
	size_t n = u ? strlen(u) : 0;
	while (n > 8 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

/* GET /v1/workload/program: command[0] of the service (not secret). */
static int get_program(const struct run_opts *o, const char *base, char **program)
{
	char *id = curl_easy_escape(o->curl, o->config, 0);
	char *url = NULL;
	int ret = WARD_EXIT_FAIL;
	if (id && asprintf(&url, "%s/v1/workload/program?config_id=%s", base, id) > 0) {
		json_object *r = NULL;
		ret = http(o, url, NULL, &r);
		const char *p = ret == 0 ? field(r, "program", "program") : NULL;
		if (ret == 0 && !p)
			ret = WARD_EXIT_FAIL;
		if (p)
			*program = strdup(p);
		json_object_put(r);
	}
	free(url);
	curl_free(id);
	return ret;
}

static int get_nonce(const struct run_opts *o, const char *base, uint8_t nonce[32])
{
	char *url = NULL;
	if (asprintf(&url, "%s/v1/workload/nonce", base) < 0)
		return WARD_EXIT_FAIL;
	json_object *r = NULL;
	int ret = http(o, url, NULL, &r);
	free(url);
	const char *n = ret == 0 ? field(r, "nonce", "nonce") : NULL;
	if (ret == 0 && (!n || ward_attest_unhex(n, nonce) < 0)) {
		fprintf(stderr, "ward run: the key service sent a malformed nonce\n");
		ret = WARD_EXIT_FAIL;
	}
	json_object_put(r);
	return ret;
}

/* POST /v1/workload/config; the sealed reply is opened into guarded memory. */
static int get_config(const struct run_opts *o, const char *base, const uint8_t *ev, size_t evlen,
                      const uint8_t pk[32], const uint8_t *sk, char **cfg, size_t *cfglen)
{
	char *b64 = malloc(sodium_base64_ENCODED_LEN(evlen, sodium_base64_VARIANT_ORIGINAL));
	char pkhex[65], *url = NULL;
	if (!b64 || asprintf(&url, "%s/v1/workload/config", base) < 0) {
		free(b64);
		return WARD_EXIT_FAIL;
	}
	sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(evlen, sodium_base64_VARIANT_ORIGINAL), ev,
	                  evlen, sodium_base64_VARIANT_ORIGINAL);
	ward_attest_hex(pk, pkhex);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "config_id", json_object_new_string(o->config));
	json_object_object_add(req, "evidence", json_object_new_string(b64));
	json_object_object_add(req, "pubkey", json_object_new_string(pkhex));
	json_object *r = NULL;
	int ret = http(o, url, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), &r);
	json_object_put(req);
	free(url);
	free(b64);
	const char *sealed = ret == 0 ? field(r, "sealed", "config") : NULL;
	if (ret == 0)
		ret = sealed ? run_open_sealed(sealed, pk, sk, cfg, cfglen) : WARD_EXIT_FAIL;
	json_object_put(r);
	return ret;
}

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {{"cas", required_argument, NULL, 'c'},
	                                     {"cas-ca", required_argument, NULL, 'a'},
	                                     {"las", required_argument, NULL, 'l'},
	                                     {"config", required_argument, NULL, 'i'},
	                                     {"verbose", no_argument, NULL, 'v'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	o->cas = getenv("WARD_CAS_ADDR");
	o->ca = getenv("WARD_CAS_CA");
	o->las = NULL;
	o->config = getenv("WARD_CONFIG_ID");
	/* "+": options end at the first operand, so the workload's ARGS are left alone. */
	while ((c = getopt_long(argc, argv, "+c:a:l:i:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->cas = optarg;
			break;
		case 'a':
			o->ca = optarg;
			break;
		case 'l':
			o->las = optarg;
			break;
		case 'i':
			o->config = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		default:
			fputs(usage_text, stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (!o->las)
		o->las = ward_attest_las_default_path();
	o->extra = argv + optind;
	o->n_extra = argc - optind;
	const char *slash = o->config ? strchr(o->config, '/') : NULL;
	if (!slash || slash == o->config || !slash[1]) {
		fprintf(stderr,
		        "ward run: --config SESSION/SERVICE (or WARD_CONFIG_ID) is required\n");
		return WARD_EXIT_USAGE;
	}
	if (!o->cas || !o->cas[0]) {
		fprintf(stderr, "ward run: --cas ADDR (or WARD_CAS_ADDR) is required\n");
		return WARD_EXIT_USAGE;
	}
	return 0;
}

/* Steps a-d of the protocol (docs/attestation.md): evidence in, sealed config out. */
static int attest(const struct run_opts *o, const char *base, int wfd, char **cfg, size_t *cfglen)
{
	uint8_t nonce[32], pk[32], rd[32];
	int ret = get_nonce(o, base, nonce);
	if (ret)
		return ret;
	uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	if (!sk) {
		fprintf(stderr, "ward run: cannot allocate locked memory\n");
		return WARD_EXIT_FAIL;
	}
	crypto_box_keypair(pk, sk);
	ward_attest_report_data(pk, nonce, o->config, rd);
	uint8_t *ev = NULL;
	size_t evlen = 0;
	int rc = ward_attest_las_request(o->las, nonce, rd, wfd, &ev, &evlen);
	if (rc < 0) {
		ret = ward_report("ward run", o->las, rc);
	} else {
		/* From here on this process holds secrets: no core dumps, no same-uid ptrace. */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (o->verbose)
			fprintf(stderr, "ward run: evidence from %s (%zu bytes)\n", o->las, evlen);
		ret = get_config(o, base, ev, evlen, pk, sk, cfg, cfglen);
	}
	free(ev);
	sodium_free(sk); /* wipes the ephemeral secret key */
	return ret;
}

/* With 0, 1 or 2 closed, a socket or an injection memfd would become the workload's stdio. */
static void stdio_guard(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(WARD_EXIT_IO);
}

int cmd_run_main(int argc, char **argv)
{
	stdio_guard();
	struct run_opts o = {0};
	int ret = parse_args(argc, argv, &o);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(o.curl = curl_easy_init())) {
		fprintf(stderr, "ward run: cannot initialise libsodium or libcurl\n");
		return WARD_EXIT_FAIL;
	}
	char *base = base_url(o.cas), *program = NULL, *cfg = NULL;
	size_t cfglen = 0;
	int wfd = -1;
	uint8_t m[32];
	ret = base ? get_program(&o, base, &program) : WARD_EXIT_USAGE;
	if (ret == 0) {
		char path[4096];
		int rc = ward_attest_open_program(program, getenv("PATH"), path, sizeof path, &wfd);
		if (rc == 0)
			rc = ward_attest_measure_fd(wfd, m);
		if (rc < 0)
			ret = ward_report("ward run", NULL, rc);
		else if (o.verbose)
			fprintf(stderr, "ward run: %s is %s\n", o.config, path);
	}
	if (ret == 0)
		ret = attest(&o, base, wfd, &cfg, &cfglen);
	if (ret == 0) {
		struct run_launch L = {.fd = wfd,
		                       .program = program,
		                       .measurement = m,
		                       .extra = o.extra,
		                       .n_extra = o.n_extra,
		                       .verbose = o.verbose};
		ret = run_exec(&L, cfg, cfglen); /* returns only on failure */
	}
	if (cfg)
		sodium_free(cfg);
	if (wfd >= 0)
		close(wfd);
	free(program);
	free(base);
	curl_easy_cleanup(o.curl);
	curl_global_cleanup();
	return ret;
}
