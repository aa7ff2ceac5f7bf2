/*
 * Event-loop load generator for bench/cas.sh: N concurrent attestation clients driven by one
 * thread (curl multi for HTTPS, non-blocking Unix sockets for the LAS), open loop at a given
 * rate. Each client is the same sequence as `ward run`: nonce, LAS evidence for the workload
 * descriptor, configuration sealed to a fresh key, opened. Latency counts from the scheduled
 * start, so a late start is part of it.
 *   cas_bench_loop BASE CA CONFIG_ID LAS WORKLOAD CLIENTS SECONDS RATE_PER_SECOND
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "cas_bench.h"
#include "ward/attest.h"

enum state { IDLE, NONCE, LAS_HELLO, LAS, CONFIG };

struct client {
	enum state st;
	CURL *h;
	struct bench_buf b; /* the HTTP response */
	char body[4096], las[8192];
	size_t lasn;
	int sock; /* LAS connection, -1 when none */
	double due, t[4];
	long k; /* operations scheduled so far */
	uint8_t nonce[32], pk[32], sk[32], rd[32];
};

static const char *base, *config_id, *las_path;
static int wfd, self_pidfd; /* the workload and a pidfd of this process, sent with each request */
static double *lat, *ph[3];
static size_t nlat, errors;

static void start_http(CURLM *m, struct client *c, const char *path, const char *body)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base, path);
	bench_request(c->h, url, body, &c->b);
	curl_multi_add_handle(m, c->h);
}

static void fail(struct client *c)
{
	if (errors++ == 0)
		fprintf(stderr, "cas_bench_loop: first failure in state %d: %.200s%.200s\n",
		        (int)c->st, c->b.d, c->las);
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
	c->st = IDLE;
}

/* Connects to the LAS; its challenge is read by the loop (send_las_request answers it). */
static int start_las(struct client *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", las_path);
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	c->lasn = 0;
	return c->sock < 0 || connect(c->sock, (struct sockaddr *)&sa, sizeof sa) != 0 ? -1 : 0;
}

/* The request echoing the challenge line in c->las, with our pidfd and the workload. */
static int send_las_request(struct client *c)
{
	c->las[c->lasn] = 0;
	json_object *j = json_tokener_parse(c->las);
	const char *ch = bench_field(j, "challenge");
	char nh[65], rh[65], req[320];
	ward_attest_hex(c->nonce, nh);
	ward_attest_hex(c->rd, rh);
	int len = ch ? snprintf(req, sizeof req,
	                        "{\"challenge\":\"%.64s\",\"nonce\":\"%s\",\"report_data\":\"%s\","
	                        "\"workload\":true}\n",
	                        ch, nh, rh)
	             : -1;
	json_object_put(j);
	if (len < 0)
		return -1;
	struct iovec iov = {.iov_base = req, .iov_len = (size_t)len};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	memset(&cm, 0, sizeof cm);
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int fds[2] = {self_pidfd, wfd};
	memcpy(CMSG_DATA(h), fds, sizeof fds);
	c->lasn = 0;
	return sendmsg(c->sock, &mh, MSG_NOSIGNAL) == len ? 0 : -1;
}

static void after_nonce(CURLM *m, struct client *c)
{
	json_object *j = json_tokener_parse(c->b.d);
	const char *nh = bench_field(j, "nonce");
	int ok = nh && ward_attest_unhex(nh, c->nonce) == 0;
	json_object_put(j);
	c->t[1] = bench_now();
	if (!ok)
		return fail(c);
	crypto_box_keypair(c->pk, c->sk);
	ward_attest_report_data(c->pk, c->nonce, config_id, c->rd);
	(void)m;
	if (start_las(c) != 0)
		return fail(c);
	c->st = LAS_HELLO;
}

/* The LAS answered (one line): post the evidence for the configuration. */
static void after_las(CURLM *m, struct client *c)
{
	c->t[2] = bench_now();
	close(c->sock);
	c->sock = -1;
	c->las[c->lasn] = 0;
	json_object *j = json_tokener_parse(c->las);
	const char *ev = bench_field(j, "evidence");
	char pkh[65];
	ward_attest_hex(c->pk, pkh);
	int n = ev ? snprintf(c->body, sizeof c->body,
	                      "{\"config_id\":\"%s\",\"evidence\":\"%s\",\"pubkey\":\"%s\"}",
	                      config_id, ev, pkh)
	           : -1;
	json_object_put(j);
	if (n < 0 || (size_t)n >= sizeof c->body)
		return fail(c);
	start_http(m, c, "/v1/workload/config", c->body);
	c->st = CONFIG;
}

static void after_config(struct client *c)
{
	int rc = bench_open_sealed(c->b.d, c->pk, c->sk);
	sodium_memzero(c->sk, sizeof c->sk);
	if (rc)
		return fail(c);
	c->t[3] = bench_now();
	lat[nlat] = c->t[3] - c->t[0];
	for (int k = 0; k < 3; k++)
		ph[k][nlat] = c->t[k + 1] - c->t[k];
	nlat++;
	c->st = IDLE;
}

static void read_las(CURLM *m, struct client *c)
{
	ssize_t r = recv(c->sock, c->las + c->lasn, sizeof c->las - 1 - c->lasn, 0);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0 && c->lasn == 0)
		return fail(c);
	if (r > 0)
		c->lasn += (size_t)r;
	if (c->st == LAS_HELLO && r > 0 && memchr(c->las, '\n', c->lasn)) {
		if (send_las_request(c) != 0)
			return fail(c);
		c->st = LAS;
	} else if (r == 0 || memchr(c->las, '\n', c->lasn))
		after_las(m, c);
	else if (c->lasn + 1 >= sizeof c->las)
		fail(c);
}

/*
 * Sleeps until a socket is ready, curl's timer or the next scheduled start,
 * with sub-millisecond precision: at 1 000/s the next start is always less
 * than a millisecond away, and a millisecond timeout would either spin or
 * start clients late.
 */
static void wait_events(CURLM *m, struct client *cl, int nc, double next, int running)
{
	fd_set r, w, e;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	int maxfd = -1;
	curl_multi_fdset(m, &r, &w, &e, &maxfd);
	for (int i = 0; i < nc; i++)
		if ((cl[i].st == LAS || cl[i].st == LAS_HELLO) && cl[i].sock >= 0 &&
		    cl[i].sock < FD_SETSIZE) {
			FD_SET(cl[i].sock, &r);
			maxfd = cl[i].sock > maxfd ? cl[i].sock : maxfd;
		}
	long ct = -1;
	curl_multi_timeout(m, &ct);
	double wait = next - bench_now();
	if (ct >= 0 && ct / 1e3 < wait)
		wait = ct / 1e3;
	if (running && maxfd < 0 && wait > 1e-3)
		wait = 1e-3; /* curl is busy without a socket to watch */
	if (wait < 0)
		wait = 0;
	if (wait > 0.1)
		wait = 0.1;
	struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
	if (pselect(maxfd + 1, &r, &w, &e, &ts, NULL) <= 0)
		return;
	for (int i = 0; i < nc; i++)
		if ((cl[i].st == LAS || cl[i].st == LAS_HELLO) && cl[i].sock >= 0 &&
		    cl[i].sock < FD_SETSIZE && FD_ISSET(cl[i].sock, &r))
			read_las(m, &cl[i]);
}

static void harvest(CURLM *m, struct client *cl)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct client *c = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		long code = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		CURLcode res = msg->data.result;
		curl_multi_remove_handle(m, msg->easy_handle);
		if (res != CURLE_OK || code != 200)
			fail(c);
		else if (c->st == NONCE)
			after_nonce(m, c);
		else if (c->st == CONFIG)
			after_config(c);
	}
	(void)cl;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: cas_bench_loop BASE CA CONFIG_ID LAS WORKLOAD CLIENTS "
		                "SECONDS RATE\n");
		return 64;
	}
	base = argv[1];
	config_id = argv[3];
	las_path = argv[4];
	int nc = atoi(argv[6]);
	double secs = atof(argv[7]), rate = atof(argv[8]);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || nc < 1 || rate <= 0)
		return 1;
	wfd = open(argv[5], O_RDONLY | O_CLOEXEC);
	self_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	size_t cap = (size_t)(secs * rate) + (size_t)nc + 16;
	lat = malloc(cap * sizeof *lat);
	for (int k = 0; k < 3; k++)
		ph[k] = malloc(cap * sizeof *ph[k]);
	struct client *cl = calloc((size_t)nc, sizeof *cl);
	CURLM *m = curl_multi_init();
	double start = bench_now() + 0.05, end = start + secs, per = (double)nc / rate;
	for (int i = 0; i < nc; i++) {
		struct client *c = &cl[i];
		c->h = curl_easy_init();
		c->sock = -1;
		c->due = start + (double)i / rate; /* the clients take turns */
		bench_curl_init(c->h, argv[2], &c->b);
		curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	}
	int busy = 1;
	while (busy) {
		double t = bench_now(), next = end;
		busy = 0;
		for (int i = 0; i < nc; i++) {
			struct client *c = &cl[i];
			if (c->st == IDLE && c->due < end && c->due <= t) {
				/* A client still busy when its next start is due starts late:
				 * counted. */
				c->t[0] = c->due;
				c->k++;
				c->due = start + (double)i / rate + (double)c->k * per;
				c->st = NONCE;
				start_http(m, c, "/v1/workload/nonce", NULL);
			}
			if (c->st == IDLE && c->due < end && c->due < next)
				next = c->due;
			if (c->st != IDLE || c->due < end)
				busy = 1;
		}
		int running;
		curl_multi_perform(m, &running);
		harvest(m, cl);
		wait_events(m, cl, nc, next, running);
		curl_multi_perform(m, &running);
		harvest(m, cl);
	}
	double took = bench_now() - start;
	printf("ops %zu errors %zu seconds %.2f rate %.1f p50_ms %.2f p99_ms %.2f", nlat, errors,
	       took, (double)nlat / took, bench_pct_ms(lat, nlat, 0.5),
	       bench_pct_ms(lat, nlat, 0.99));
	static const char *names[3] = {"nonce", "las", "config"};
	for (int k = 0; k < 3; k++)
		printf(" %s_p99_ms %.2f", names[k], bench_pct_ms(ph[k], nlat, 0.99));
	printf("\n");
	for (int i = 0; i < nc; i++)
		curl_easy_cleanup(cl[i].h);
	curl_multi_cleanup(m);
	return nlat ? 0 : 1;
}
