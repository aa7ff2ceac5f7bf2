/* Tests of the audit log: chain and signatures, tamper and truncation detection, repair,
 * fail-closed. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "test.h"
#include "ward/audit.h"

static uint8_t pk[32], sk[64];
static char logpath[512];

static void copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *d = test_read_file(from, &n);
	FILE *f = fopen(to, "wb");
	fwrite(d, 1, n, f);
	fclose(f);
	free(d);
}

/* Rewrites path keeping only the lines for which keep(lineno) is true (1-based), optionally editing
 * one. */
static void filter_lines(const char *path, int (*keep)(int), int edit_line)
{
	size_t n;
	char *d = (char *)test_read_file(path, &n);
	FILE *f = fopen(path, "wb");
	int ln = 1;
	for (char *p = d; p < d + n; ln++) {
		char *e = memchr(p, '\n', (size_t)(d + n - p));
		size_t len = e ? (size_t)(e - p + 1) : (size_t)(d + n - p);
		if (ln == edit_line) {
			char *t = strstr(p, "\"event\":\"");
			if (t && t < p + len)
				t[9] ^= 0x20; /* flip case of the event's first letter */
		}
		if (keep(ln))
			fwrite(p, 1, len, f);
		p += len;
	}
	fclose(f);
	free(d);
}

static int drop3(int ln)
{
	return ln != 3;
}
static int keep_all(int ln)
{
	(void)ln;
	return 1;
}
static int first5(int ln)
{
	return ln <= 5;
}
static int swap_target;
static int keep_not_target(int ln)
{
	return ln != swap_target;
}

struct worker {
	struct ward_audit *a;
	int id, fails;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 40; i++) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "worker", json_object_new_int(w->id));
		json_object_object_add(f, "i", json_object_new_int(i));
		if (ward_audit_append(w->a, "test.event", f, NULL) != 0)
			w->fails++;
		json_object_put(f);
	}
	return NULL;
}

static int verify(const struct ward_audit_anchor *anchor, struct ward_audit_report *rep)
{
	return ward_audit_verify(logpath, pk, anchor, rep);
}

static void test_concurrent_and_verify(struct ward_audit_anchor *anchor)
{
	struct ward_audit *a = NULL;
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "open a new log");
	if (!a)
		return;
	pthread_t th[6];
	struct worker w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){a, i, 0};
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	int fails = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		fails += w[i].fails;
	}
	CHECK(fails == 0, "240 concurrent appends succeed");
	struct ward_audit_pos pos;
	ward_audit_last(a, &pos);
	CHECK(pos.seq == 241, "log.start + 240 entries: last seq %llu",
	      (unsigned long long)pos.seq);
	ward_audit_anchor_sign(a, &pos, anchor);
	uint8_t got[32];
	ward_audit_public_key(a, got);
	CHECK(memcmp(got, pk, 32) == 0, "public key of the log");
	ward_audit_close(a);
	struct ward_audit_report rep;
	CHECK_RC(verify(anchor, &rep), 0, "the log verifies with its checkpoint");
	CHECK(rep.entries == 241 && rep.last_seq == 241, "all entries verified");
	/* Reopening continues the chain. */
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "reopen");
	CHECK_RC(ward_audit_append(a, "after.reopen", NULL, &pos), 0, "append after reopen");
	CHECK(pos.seq == 242, "sequence continues");
	ward_audit_anchor_sign(a, &pos, anchor);
	ward_audit_close(a);
	CHECK_RC(verify(anchor, &rep), 0, "still verifies");
}

static void test_tampering(const struct ward_audit_anchor *anchor)
{
	char saved[600];
	snprintf(saved, sizeof saved, "%s.saved", logpath);
	copy_file(logpath, saved);
	struct ward_audit_report rep;

	filter_lines(logpath, keep_all, 10);
	CHECK(verify(anchor, &rep) == WARD_E_BADMSG && rep.bad_line == 10,
	      "an altered entry is detected at its line (%s)", rep.problem);
	copy_file(saved, logpath);

	filter_lines(logpath, drop3, 0);
	CHECK(verify(anchor, &rep) == WARD_E_BADMSG && rep.bad_line == 3,
	      "a removed entry is detected (%s)", rep.problem);
	copy_file(saved, logpath);

	filter_lines(logpath, first5, 0);
	CHECK(verify(anchor, &rep) == WARD_E_TRUNCATED, "truncation before the checkpoint (%s)",
	      rep.problem);
	CHECK(verify(NULL, &rep) == 0, "without a checkpoint a clean prefix verifies (documented)");
	copy_file(saved, logpath);

	/* Swap lines 4 and 5. */
	size_t n;
	char *d = (char *)test_read_file(logpath, &n);
	char *l4 = d, *l5, *l6;
	for (int i = 1; i < 4; i++)
		l4 = strchr(l4, '\n') + 1;
	l5 = strchr(l4, '\n') + 1;
	l6 = strchr(l5, '\n') + 1;
	FILE *f = fopen(logpath, "wb");
	fwrite(d, 1, (size_t)(l4 - d), f);
	fwrite(l5, 1, (size_t)(l6 - l5), f);
	fwrite(l4, 1, (size_t)(l5 - l4), f);
	fwrite(l6, 1, (size_t)(d + n - l6), f);
	fclose(f);
	free(d);
	CHECK(verify(anchor, &rep) == WARD_E_BADMSG, "reordered entries detected (%s)",
	      rep.problem);
	copy_file(saved, logpath);

	/* A log re-signed with another key does not verify with the pinned key. */
	uint8_t pk2[32], sk2[64];
	crypto_sign_keypair(pk2, sk2);
	struct ward_audit *a = NULL;
	CHECK_RC(ward_audit_open(logpath, sk2, &a), WARD_E_BADMSG,
	         "the service refuses to append to a log signed by another key");
	ward_audit_close(a);
	struct ward_audit_anchor forged = *anchor;
	forged.sig[0] ^= 1;
	CHECK_RC(verify(&forged, &rep), WARD_E_BADMSG, "a forged checkpoint is refused");
	swap_target = 0;
	filter_lines(logpath, keep_not_target, 0);
	CHECK_RC(verify(anchor, &rep), 0, "restored log verifies");
	unlink(saved);
}

static void test_torn_tail(void)
{
	FILE *f = fopen(logpath, "ab");
	fputs("{\"seq\":999,\"half a li", f);
	fclose(f);
	struct ward_audit_report rep;
	CHECK_RC(verify(NULL, &rep), WARD_E_TRUNCATED, "a torn last line fails verification");
	struct ward_audit *a = NULL;
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "open repairs a torn last line");
	ward_audit_close(a);
	CHECK_RC(verify(NULL, &rep), 0, "verifies after repair");
	size_t n;
	char *d = (char *)test_read_file(logpath, &n);
	CHECK(strstr(d, "\"event\":\"log.repair\",\"dropped_bytes\":21") != NULL,
	      "the repair is logged with the dropped byte count");
	free(d);
}

static void test_fail_closed(void)
{
	struct ward_audit *a = NULL;
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "open");
	if (!a)
		return;
	struct stat st;
	stat(logpath, &st);
	/* A file size limit makes the next write fail, as a full disk would. */
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size + 10;
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = ward_audit_append(a, "cannot.write", NULL, NULL);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(rc == WARD_E_IO, "append fails when the log cannot be written (%s)",
	      ward_last_error());
	struct stat st2;
	stat(logpath, &st2);
	CHECK(st2.st_size == st.st_size, "no partial line left behind");
	CHECK_RC(ward_audit_append(a, "after.failure", NULL, NULL), 0,
	         "a cleanly undone write leaves the log usable");
	ward_audit_close(a);
	struct ward_audit_report rep;
	CHECK_RC(verify(NULL, &rep), 0, "log verifies after the failure");
}

/* Appends that do not wait: written at once, durable (ward_audit_last) only after a sync. */
static void test_nowait(void)
{
	struct ward_audit *a = NULL;
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "open");
	if (!a)
		return;
	struct ward_audit_pos before, p1, p2, durable;
	ward_audit_last(a, &before);
	struct stat st0, st1;
	stat(logpath, &st0);
	CHECK_RC(ward_audit_append_nowait(a, "fast.one", NULL, &p1), 0, "append without waiting");
	CHECK_RC(ward_audit_append_nowait(a, "fast.two", NULL, &p2), 0, "and another");
	stat(logpath, &st1);
	ward_audit_last(a, &durable);
	CHECK(st1.st_size > st0.st_size && p2.seq == before.seq + 2,
	      "both entries are in the file at once (sequence %llu)", (unsigned long long)p2.seq);
	CHECK(durable.seq == before.seq, "but not yet reported durable");
	CHECK_RC(ward_audit_sync(a), 0, "sync");
	ward_audit_last(a, &durable);
	CHECK(durable.seq == p2.seq && memcmp(durable.hash, p2.hash, 32) == 0,
	      "after the sync the last durable entry is the last one written");
	ward_audit_close(a);
	struct ward_audit_report rep;
	CHECK_RC(verify(NULL, &rep), 0, "the log verifies");
}

/* Collects the events ward_audit_scan_after visits. */
struct seen {
	int n;
	uint64_t first;
	char last[32];
};

static int collect(void *ctx, const struct ward_audit_entry *e)
{
	struct seen *s = ctx;
	if (s->n++ == 0)
		s->first = e->seq;
	snprintf(s->last, sizeof s->last, "%s", e->event);
	return 0;
}

static int stop_at_second(void *ctx, const struct ward_audit_entry *e)
{
	(void)e;
	return ++((struct seen *)ctx)->n == 2 ? WARD_E_BADMSG : 0;
}

/* The checkpoint covers the last entry: removing its newline must not get it cut. */
static void test_checkpointed_tail(void)
{
	struct ward_audit *a = NULL;
	struct ward_audit_pos ck, p2;
	CHECK_RC(ward_audit_open(logpath, sk, &a), 0, "open");
	if (!a)
		return;
	CHECK_RC(ward_audit_append(a, "ck.one", NULL, &ck), 0, "append the checkpointed entry");
	CHECK_RC(ward_audit_append(a, "after.one", NULL, NULL), 0, "append after it");
	CHECK_RC(ward_audit_append(a, "after.two", NULL, &p2), 0, "and another");
	ward_audit_close(a);
	struct seen s = {0};
	uint64_t last = 0;
	CHECK_RC(ward_audit_scan_after(logpath, pk, &ck, collect, &s, &last), 0, "scan after it");
	CHECK(s.n == 2 && s.first == ck.seq + 1 && !strcmp(s.last, "after.two") && last == p2.seq,
	      "the scan visits exactly the two later entries (%d, last %s)", s.n, s.last);
	s.n = 0;
	CHECK_RC(ward_audit_scan_after(logpath, pk, &ck, stop_at_second, &s, &last), WARD_E_BADMSG,
	         "a visitor's refusal stops the scan and is returned");
	struct ward_audit_pos future = p2;
	future.seq += 5;
	CHECK_RC(ward_audit_scan_after(logpath, pk, &future, collect, &s, &last), WARD_E_TRUNCATED,
	         "a checkpoint past the end is truncation");
	struct ward_audit_pos other = ck;
	other.hash[0] ^= 1;
	CHECK_RC(ward_audit_scan_after(logpath, pk, &other, collect, &s, &last), WARD_E_BADMSG,
	         "a checkpoint whose entry differs is refused");

	/* Cut the final newline of the last entry, which the checkpoint p2 covers. */
	struct stat st0, st1;
	stat(logpath, &st0);
	CHECK(truncate(logpath, st0.st_size - 1) == 0, "remove the last newline");
	stat(logpath, &st0);
	CHECK_RC(ward_audit_scan_after(logpath, pk, &p2, collect, &s, &last), WARD_E_BADMSG,
	         "the scan reports the checkpointed entry incomplete: %s", ward_last_error());
	a = NULL;
	CHECK_RC(ward_audit_open_at(logpath, sk, &p2, &a), WARD_E_BADMSG,
	         "open refuses to cut the checkpointed entry: %s", ward_last_error());
	ward_audit_close(a);
	stat(logpath, &st1);
	CHECK(st1.st_size == st0.st_size, "and leaves the file as it was");
	CHECK_RC(ward_audit_open_at(logpath, sk, &ck, &a), 0,
	         "with an older checkpoint the same tail is a torn write and is cut");
	ward_audit_close(a);
	struct ward_audit_report rep;
	CHECK_RC(verify(NULL, &rep), 0, "the repaired log verifies");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	snprintf(logpath, sizeof logpath, "%s/audit.log", test_tmpdir());
	struct ward_audit_anchor anchor;
	test_concurrent_and_verify(&anchor);
	test_tampering(&anchor);
	test_torn_tail();
	test_fail_closed();
	test_nowait();
	test_checkpointed_tail();
	return test_done();
}
