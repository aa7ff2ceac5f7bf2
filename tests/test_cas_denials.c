/* Tests of the key service's summaries of unauthenticated refusals: counts from many threads,
 * one entry at stop, the background flush, counts kept when the log refuses the entry. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
/* denials.c lives in the cas module (not libward): it is compiled into this test directly. */
#include "../services/cas/denials.c"

#define THREADS    4
#define PER_THREAD 2500

static char dir[4096], logpath[4200];

/* A 1-of-1 store in a fresh directory; unsealed unless sealed is set. */
static struct ward_store *open_store(const char *name, int sealed)
{
	snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
	snprintf(logpath, sizeof logpath, "%s/audit.log", dir);
	char *share = NULL;
	uint8_t pk[32];
	struct ward_store *st = NULL;
	unsigned have, need;
	if (mkdir(dir, 0700) != 0 || ward_store_create(dir, 1, 1, 1, &share, pk) != 0 ||
	    ward_store_open(dir, &st) != 0 ||
	    (!sealed && ward_store_unseal(st, share, &have, &need) != 0)) {
		ward_store_close(st);
		st = NULL;
	}
	ward_store_text_free(share);
	return st;
}

/* Lines of the audit log that contain needle (all lines if NULL); the last one in last. */
static int log_lines(const char *needle, char *last, size_t cap)
{
	FILE *f = fopen(logpath, "r");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		if (!needle || strstr(line, needle)) {
			n++;
			if (last)
				snprintf(last, cap, "%s", line);
		}
	if (f)
		fclose(f);
	return n;
}

static void *counter(void *arg)
{
	struct cas_denials *d = arg;
	for (int i = 0; i < PER_THREAD; i++)
		cas_denials_count(d, (enum cas_unauth)(i % 3 == 0 ? CAS_UNAUTH_MALFORMED
		                                                  : CAS_UNAUTH_BAD_SIGNATURE));
	return NULL;
}

static void test_many_threads_one_entry(void)
{
	struct ward_store *st = open_store("threads", 0);
	CHECK(st != NULL, "unsealed store");
	if (!st)
		return;
	struct cas_denials *d;
	/* An hour: no background flush can happen during the test, only the one at stop. */
	CHECK_RC(cas_denials_start(st, 3600 * 1000L, &d), 0, "start");
	int before = log_lines(NULL, NULL, 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, counter, d);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(log_lines(NULL, NULL, 0) == before, "10000 refusals add no line while counting");
	uint64_t lost = 1;
	CHECK_RC(cas_denials_stop(d, &lost), 0, "stop flushes");
	CHECK(lost == 0, "nothing lost");
	char last[4096] = "";
	CHECK(log_lines(NULL, NULL, 0) == before + 1, "exactly one entry at stop");
	CHECK(log_lines("\"event\":\"" CAS_UNAUTH_EVENT "\"", last, sizeof last) == 1,
	      "it is the summary event");
	CHECK(strstr(last, "\"count\":10000,") != NULL, "count 10000: %s", last);
	/* i % 3 == 0 for 834 of each thread's 2500 iterations. */
	CHECK(strstr(last, "\"malformed evidence\":3336") != NULL, "per reason: %s", last);
	CHECK(strstr(last, "\"evidence signature does not verify\":6664") != NULL, "per reason: %s",
	      last);
	CHECK(strstr(last, "no evidence") == NULL, "reasons with no refusal are left out");
	ward_store_close(st);
}

static void test_background_flush(void)
{
	struct ward_store *st = open_store("background", 0);
	CHECK(st != NULL, "unsealed store");
	if (!st)
		return;
	struct cas_denials *d;
	CHECK_RC(cas_denials_start(st, 20, &d), 0, "start with a 20 ms interval");
	/* One refusal: with two, the flusher could run between them (two summaries of 1). */
	cas_denials_count(d, CAS_UNAUTH_NO_EVIDENCE);
	/* Waits for the event, not for a time: the limit only stops a broken flusher hanging. */
	char last[4096] = "";
	for (int i = 0;
	     i < 1000 && !log_lines("\"event\":\"" CAS_UNAUTH_EVENT "\"", last, sizeof last); i++)
		usleep(10000);
	CHECK(strstr(last, "\"count\":1,") && strstr(last, "\"no evidence\":1"),
	      "the thread writes the summary without a stop: %s", last);
	int n = log_lines(NULL, NULL, 0);
	CHECK_RC(cas_denials_stop(d, NULL), 0, "stop");
	CHECK(log_lines(NULL, NULL, 0) == n, "nothing pending: stop adds no entry");
	ward_store_close(st);
}

static void test_sealed_keeps_counts(void)
{
	struct ward_store *st = open_store("sealed", 1);
	CHECK(st != NULL, "sealed store");
	if (!st)
		return;
	struct cas_denials *d;
	CHECK_RC(cas_denials_start(st, 3600 * 1000L, &d), 0, "start");
	for (int i = 0; i < 3; i++)
		cas_denials_count(d, CAS_UNAUTH_TIME);
	cas_denials_count(d, (enum cas_unauth)99);
	uint64_t lost = 0;
	CHECK_RC(cas_denials_stop(d, &lost), WARD_E_SEALED, "a log that refuses the entry: error");
	CHECK(lost == 4, "and the 4 refusals are reported lost (%llu)", (unsigned long long)lost);
	ward_store_close(st);
	CHECK(strcmp(cas_denials_reason((enum cas_unauth)99), "unknown") == 0,
	      "an out-of-range reason has a name");
	CHECK_RC(cas_denials_stop(NULL, NULL), 0, "stop accepts NULL");
}

int main(void)
{
	test_many_threads_one_entry();
	test_background_flush();
	test_sealed_keeps_counts();
	return test_done();
}
