/* Load generator for bench/cas.sh: concurrent clients of a running key service; rate and latency.
 */
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "cas_bench.h"
#include "ward/attest.h"

struct cfg {
	const char *mode, *base, *ca, *config_id, *las, *workload, *cert, *key;
	int threads;
	double seconds;
};

struct worker {
	const struct cfg *c;
	int id;
	double *lat;   /* seconds per operation */
	double *ph[3]; /* attest phases: nonce, LAS evidence, configuration */
	size_t n, cap;
	long errors;
	char err[256];
};

/* One HTTPS request on the worker's persistent handle; returns the HTTP status. */
static long http(CURL *h, const char *url, const char *body, struct bench_buf *out)
{
	bench_request(h, url, body, out);
	if (curl_easy_perform(h) != CURLE_OK)
		return 0;
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* nonce, evidence from the LAS (with the workload fd), config, open the sealed box. */
static int attest_once(struct worker *w, CURL *h, int wfd, struct bench_buf *b)
{
	char url[512];
	double t[4];
	t[0] = bench_now();
	snprintf(url, sizeof url, "%s/v1/workload/nonce", w->c->base);
	if (http(h, url, NULL, b) != 200)
		return -1;
	t[1] = bench_now();
	json_object *j = json_tokener_parse(b->d);
	uint8_t nonce[32], pk[32], sk[32], rd[32];
	const char *nh = bench_field(j, "nonce");
	int ok = nh && ward_attest_unhex(nh, nonce) == 0;
	json_object_put(j);
	if (!ok)
		return -1;
	crypto_box_keypair(pk, sk);
	ward_attest_report_data(pk, nonce, w->c->config_id, rd);
	uint8_t *ev = NULL;
	size_t evlen = 0;
	if (ward_attest_las_request(w->c->las, nonce, rd, wfd, &ev, &evlen) != 0)
		return -1;
	t[2] = bench_now();
	char evb[WARD_ATTEST_MAX_EVIDENCE / 3 * 4 + 8], pkh[65];
	char body[sizeof evb + 256]; /* the evidence, two hex keys and the JSON around them */
	sodium_bin2base64(evb, sizeof evb, ev, evlen, sodium_base64_VARIANT_ORIGINAL);
	free(ev);
	ward_attest_hex(pk, pkh);
	int n = snprintf(body, sizeof body,
	                 "{\"config_id\":\"%s\",\"evidence\":\"%s\",\"pubkey\":\"%s\"}",
	                 w->c->config_id, evb, pkh);
	if (n < 0 || (size_t)n >= sizeof body) {
		snprintf(w->err, sizeof w->err, "config: evidence of %zu bytes too long", evlen);
		return -1;
	}
	snprintf(url, sizeof url, "%s/v1/workload/config", w->c->base);
	long code = http(h, url, body, b);
	if (code != 200) {
		snprintf(w->err, sizeof w->err, "config: HTTP %ld %.200s", code, b->d);
		return -1;
	}
	ok = bench_open_sealed(b->d, pk, sk) == 0;
	t[3] = bench_now();
	if (ok && w->n < w->cap) /* the run loop grows the arrays before each operation */
		for (int k = 0; k < 3; k++)
			w->ph[k][w->n] = t[k + 1] - t[k];
	return ok ? 0 : -1;
}

/* LAS evidence only (no key service): what the local attestation service alone sustains. */
static int evidence_once(struct worker *w, int wfd)
{
	uint8_t nonce[32], rd[32], *ev = NULL;
	size_t evlen = 0;
	randombytes_buf(nonce, sizeof nonce);
	randombytes_buf(rd, sizeof rd);
	if (ward_attest_las_request(w->c->las, nonce, rd, wfd, &ev, &evlen) != 0)
		return -1;
	free(ev);
	return 0;
}

static int create_once(struct worker *w, CURL *h, long i, struct bench_buf *b)
{
	char url[512], body[1024];
	snprintf(url, sizeof url, "%s/v1/sessions", w->c->base);
	snprintf(
	    body, sizeof body,
	    "name: bench-%d-%ld-%d\nsecrets: [{name: K, kind: binary}, {name: X, kind: x25519}]\n"
	    "services: [{name: s, command: \"p $$WARD::K:hex$$\", attestation: {measurements: "
	    "[1111111111111111111111111111111111111111111111111111111111111111]}}]\n",
	    w->id, i, (int)getpid());
	long code = http(h, url, body, b);
	if (code != 201)
		snprintf(w->err, sizeof w->err, "create: HTTP %ld %.200s", code, b->d);
	return code == 201 ? 0 : -1;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	CURL *h = curl_easy_init();
	struct bench_buf *b = malloc(sizeof *b);
	bench_curl_init(h, w->c->ca, b);
	if (w->c->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, w->c->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, w->c->key);
	}
	int wfd = w->c->workload ? open(w->c->workload, O_RDONLY | O_CLOEXEC) : -1;
	char url[512];
	snprintf(url, sizeof url, "%s/v1/workload/ping", w->c->base); /* a 404: TLS + HTTP only */
	double start = bench_now(), end = start + w->c->seconds;
	/* Open loop (CAS_BENCH_RATE ops/s per client): latency counts from the scheduled time. */
	const char *re = getenv("CAS_BENCH_RATE");
	double rate = re ? atof(re) : 0;
	if (rate > 0)
		start += (double)w->id / (rate * w->c->threads); /* spread the clients */
	for (long i = 0; bench_now() < end; i++) {
		double t0 = bench_now();
		if (rate > 0) {
			double at = start + (double)i / rate;
			if (at >= end)
				break;
			if (at > t0) {
				struct timespec ts = {(time_t)(at - t0),
				                      (long)((at - t0 - (time_t)(at - t0)) * 1e9)};
				nanosleep(&ts, NULL);
			}
			t0 = at;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
			for (int k = 0; k < 3; k++)
				w->ph[k] = realloc(w->ph[k], w->cap * sizeof *w->ph[k]);
		}
		int rc = !strcmp(w->c->mode, "attest")     ? attest_once(w, h, wfd, b)
		         : !strcmp(w->c->mode, "evidence") ? evidence_once(w, wfd)
		         : !strcmp(w->c->mode, "create")   ? create_once(w, h, i, b)
		                                           : (http(h, url, NULL, b) != 0 ? 0 : -1);
		if (rc) {
			w->errors++;
			continue;
		}
		w->lat[w->n++] = bench_now() - t0;
	}
	if (wfd >= 0)
		close(wfd);
	free(b);
	curl_easy_cleanup(h);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 9) {
		fprintf(stderr, "usage: cas_bench nonce|attest|create BASE_URL CA CONFIG_ID LAS "
		                "WORKLOAD THREADS SECONDS [CERT KEY]\n");
		return 64;
	}
	struct cfg c = {argv[1], argv[2], argv[3], argv[4],       argv[5],
	                argv[6], NULL,    NULL,    atoi(argv[7]), atof(argv[8])};
	if (argc >= 11) {
		c.cert = argv[9];
		c.key = argv[10];
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	struct worker *w = calloc((size_t)c.threads, sizeof *w);
	pthread_t *t = calloc((size_t)c.threads, sizeof *t);
	double t0 = bench_now();
	for (int i = 0; i < c.threads; i++) {
		w[i].c = &c;
		w[i].id = i;
		pthread_create(&t[i], NULL, run, &w[i]);
	}
	size_t n = 0;
	long errors = 0;
	for (int i = 0; i < c.threads; i++) {
		pthread_join(t[i], NULL);
		n += w[i].n;
		errors += w[i].errors;
	}
	double secs = bench_now() - t0;
	double *all = malloc((n + 1) * sizeof *all);
	size_t k = 0;
	const char *err = "";
	for (int i = 0; i < c.threads; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
		k += w[i].n;
		if (w[i].err[0])
			err = w[i].err;
	}
	double p50 = bench_pct_ms(all, n, 0.5);
	printf("ops %zu errors %ld seconds %.2f rate %.1f p50_ms %.2f p99_ms %.2f", n, errors, secs,
	       n / secs, p50, bench_pct_ms(all, n, 0.99));
	/* Where the time goes (attest): p99 of each phase on its own. */
	static const char *names[3] = {"nonce", "las", "config"};
	for (int p = 0; n && !strcmp(c.mode, "attest") && p < 3; p++) {
		k = 0;
		for (int i = 0; i < c.threads; i++) {
			memcpy(all + k, w[i].ph[p], w[i].n * sizeof *all);
			k += w[i].n;
		}
		printf(" %s_p99_ms %.2f", names[p], bench_pct_ms(all, n, 0.99));
	}
	printf("\n");
	if (errors)
		fprintf(stderr, "cas_bench: %ld errors; last: %s\n", errors, err);
	return n ? 0 : 1;
}
