/* Shared by the key-service load generators bench/cas_bench.c and bench/cas_bench_loop.c. */
#ifndef WARD_BENCH_CAS_BENCH_H
#define WARD_BENCH_CAS_BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

/* One HTTP response body. */
struct bench_buf {
	char d[65536];
	size_t n;
};

static size_t bench_on_data(char *p, size_t s, size_t n, void *ctx)
{
	struct bench_buf *b = ctx;
	size_t k = s * n;
	if (b->n + k >= sizeof b->d)
		return 0;
	memcpy(b->d + b->n, p, k);
	b->n += k;
	b->d[b->n] = 0;
	return k;
}

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *bench_field(json_object *o, const char *k)
{
	json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* A persistent TLS 1.3 handle trusting only ca, writing responses into b. */
static void bench_curl_init(CURL *h, const char *ca, struct bench_buf *b)
{
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL); /* else libcurl-gnutls parses /etc/ssl/certs */
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, bench_on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
}

/* Sets up the next request on h (GET, or POST of body) and empties b for its response. */
static void bench_request(CURL *h, const char *url, const char *body, struct bench_buf *b)
{
	b->n = 0;
	b->d[0] = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
}

/* Opens the configuration in a {"sealed": base64} reply with the client's key pair: 0 or -1. */
static int bench_open_sealed(const char *reply, const uint8_t pk[32], const uint8_t sk[32])
{
	json_object *j = json_tokener_parse(reply);
	const char *sealed = bench_field(j, "sealed");
	uint8_t box[16384], plain[16384];
	size_t blen = 0;
	int ok = sealed &&
	         sodium_base642bin(box, sizeof box, sealed, strlen(sealed), NULL, &blen, NULL,
	                           sodium_base64_VARIANT_ORIGINAL) == 0 &&
	         blen > crypto_box_SEALBYTES && crypto_box_seal_open(plain, box, blen, pk, sk) == 0;
	json_object_put(j);
	sodium_memzero(plain, sizeof plain);
	return ok ? 0 : -1;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The p-quantile of v[0..n) in milliseconds (sorts v). */
static double bench_pct_ms(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, bench_cmp);
	return n ? v[(size_t)((double)n * p)] * 1e3 : 0;
}

#endif
