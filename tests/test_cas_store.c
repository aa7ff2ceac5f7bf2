/* Tests of the key-service store: sealing and unsealing, sessions, policies, encryption at rest,
 * audit. */
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
#include <sqlite3.h>

#include "test.h"
#include "ward/shamir.h"
#include "ward/store.h"

static uint8_t alice[32], bob[32];
static char dir[4096];
static char shares[5][WARD_SHAMIR_TEXT_MAX];
static uint8_t audit_pk[32];

#define M1       "1111111111111111111111111111111111111111111111111111111111111111"
#define EXPLICIT "c0ffee00c0ffee00c0ffee00c0ffee00"

static struct ward_session *parse(const char *text)
{
	struct ward_session *s = NULL;
	if (ward_session_parse(text, strlen(text), &s) != 0)
		printf("parse failed: %s\n", ward_last_error());
	return s;
}

static const char *doc(const char *name, const char *pred_hex, const char *policy)
{
	static char buf[2048];
	snprintf(buf, sizeof buf,
	         "name: %s\n%s%s%s\n%s"
	         "secrets:\n"
	         "- {name: GEN, kind: binary, size: 32}\n"
	         "- {name: XK, kind: x25519, export_public: true}\n"
	         "- {name: HIDDEN, kind: x25519}\n"
	         "- {name: EXP, kind: binary, value: " EXPLICIT "}\n"
	         "services:\n- name: s\n  command: p\n  environment: {K: \"$$WARD::GEN:hex$$\"}\n"
	         "  attestation: {measurements: [" M1 "]}\n",
	         name, pred_hex ? "predecessor: \"" : "", pred_hex ? pred_hex : "",
	         pred_hex ? "\"" : "", policy ? policy : "");
	return buf;
}

static struct ward_store *ST;

static int apply_st(const uint8_t client[32], const char *text, uint8_t digest[32], int *created)
{
	struct ward_session *s = parse(text);
	if (!s)
		return WARD_E_FORMAT;
	int rc = ward_store_session_apply(ST, client, s, digest, created);
	ward_session_free(s);
	return rc;
}

static void unseal_all(struct ward_store *st, int first)
{
	unsigned have = 0, need = 0;
	for (int i = first; i < first + 3; i++)
		if (ward_store_unseal(st, shares[i % 5], &have, &need) != 0)
			printf("unseal share %d: %s\n", i, ward_last_error());
	CHECK(have == 3 && need == 3 && !ward_store_sealed(st), "3 of 5 shares unseal the store");
}

static void test_create_and_unseal(void)
{
	char *text = NULL;
	CHECK_RC(ward_store_create(dir, 3, 5, 0, &text, audit_pk), 0, "create a 3-of-5 store");
	if (!text)
		return;
	char *line = text;
	for (int i = 0; i < 5; i++) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		snprintf(shares[i], sizeof shares[i], "%s", line);
		line = nl + 1;
	}
	CHECK(*line == '\0', "exactly five shares printed");
	ward_store_text_free(text);
	uint8_t pk2[32];
	CHECK_RC(ward_store_create(dir, 3, 5, 0, &text, pk2), WARD_E_EXISTS,
	         "a second init refuses to replace the store");

	struct ward_store *st = NULL;
	CHECK_RC(ward_store_open(dir, &st), 0, "open");
	if (!st)
		return;
	CHECK(ward_store_sealed(st), "opens sealed");
	uint8_t d[32];
	int created;
	ST = st;
	CHECK_RC(apply_st(alice, doc("a", NULL, NULL), d, &created), WARD_E_SEALED,
	         "sealed store refuses sessions");
	unsigned have, need;
	CHECK_RC(ward_store_unseal(st, "nonsense", &have, &need), WARD_E_FORMAT, "junk share");
	/* A share of another store. */
	uint8_t other_set[8] = {9, 9, 9, 9, 9, 9, 9, 9}, y[32] = {1};
	char foreign[WARD_SHAMIR_TEXT_MAX];
	CHECK_RC(ward_shamir_share_format(other_set, 3, 1, y, 32, foreign), 0, "foreign share");
	CHECK_RC(ward_store_unseal(st, foreign, &have, &need), WARD_E_CONFLICT,
	         "share of another store refused");
	CHECK_RC(ward_store_unseal(st, shares[0], &have, &need), 0, "share 1");
	CHECK(have == 1 && need == 3, "progress 1/3");
	CHECK_RC(ward_store_unseal(st, shares[0], &have, &need), WARD_E_EXISTS, "same share twice");
	/* A well-formed but wrong share (valid check digits) makes the unwrap fail and resets. */
	uint8_t set[8], yv[32];
	unsigned k, x;
	size_t len;
	CHECK_RC(ward_shamir_share_parse(shares[1], set, &k, &x, yv, 32, &len), 0, "parse share 2");
	yv[0] ^= 1;
	char wrong[WARD_SHAMIR_TEXT_MAX];
	CHECK_RC(ward_shamir_share_format(set, k, x, yv, 32, wrong), 0, "forge share 2");
	CHECK_RC(ward_store_unseal(st, wrong, &have, &need), 0, "forged share 2 accepted for now");
	CHECK_RC(ward_store_unseal(st, shares[2], &have, &need), WARD_E_BADMSG,
	         "wrong shares do not open the store");
	CHECK(have == 0 && ward_store_sealed(st), "progress reset, still sealed");
	unseal_all(st, 2);
	CHECK_RC(ward_store_unseal(st, shares[0], &have, &need), 0,
	         "a share after unsealing is a no-op");
	ward_store_close(st);
}

static void hex32(const uint8_t d[32], char hex[65])
{
	sodium_bin2hex(hex, 65, d, 32);
}

static void test_sessions(struct ward_store *st)
{
	ST = st;
	uint8_t d1[32], d2[32], d3[32];
	char h1[65], h2[65];
	int created = -1;
	CHECK_RC(apply_st(alice, doc("a", NULL, NULL), d1, &created), 0, "alice creates 'a'");
	CHECK(created == 1, "reported as created");
	CHECK_RC(apply_st(alice, doc("a", NULL, NULL), d2, &created), WARD_E_CONFLICT,
	         "create over an existing session without predecessor: 409");
	hex32(d1, h1);
	CHECK_RC(apply_st(bob, doc("a", h1, NULL), d2, &created), WARD_E_DENIED,
	         "bob may not update alice's session");
	memset(d3, 0x5a, 32);
	hex32(d3, h2);
	CHECK_RC(apply_st(alice, doc("a", h2, NULL), d2, &created), WARD_E_CONFLICT,
	         "stale predecessor: 409");
	CHECK_RC(apply_st(alice, doc("fresh", h1, NULL), d2, &created), WARD_E_CONFLICT,
	         "create naming a predecessor: 409");

	struct ward_session *s0;
	struct ward_secret_set *v0, *v1;
	CHECK_RC(ward_store_session_load(st, "a", &s0, &v0, NULL), 0, "load values");
	CHECK_RC(apply_st(alice, doc("a", h1, NULL), d2, &created), 0, "update with predecessor");
	CHECK(created == 0 && memcmp(d1, d2, 32) != 0, "updated, new digest");
	struct ward_session *s1;
	CHECK_RC(ward_store_session_load(st, "a", &s1, &v1, NULL), 0, "load values after update");
	size_t l0, l1;
	const uint8_t *g0 = ward_secret_set_get(v0, "GEN", NULL, &l0);
	const uint8_t *g1 = ward_secret_set_get(v1, "GEN", NULL, &l1);
	CHECK(g0 && g1 && l0 == 32 && l1 == 32 && memcmp(g0, g1, 32) == 0,
	      "generated secret kept across the update");
	char genhex[65];
	sodium_bin2hex(genhex, sizeof genhex, g0, 32);

	char *text;
	size_t len;
	uint8_t dig[32], owner[32];
	CHECK_RC(ward_store_session_read(st, alice, "a", &text, &len, dig, owner), 0,
	         "alice reads");
	if (text) {
		CHECK(memcmp(dig, d2, 32) == 0 && memcmp(owner, alice, 32) == 0,
		      "digest and owner");
		CHECK(!strstr(text, genhex) && strstr(text, EXPLICIT),
		      "read shows the explicit value, never the generated one");
		ward_store_text_free(text);
	}
	CHECK_RC(ward_store_session_read(st, bob, "a", &text, &len, dig, owner), WARD_E_DENIED,
	         "bob may not read");
	CHECK_RC(ward_store_session_read(st, alice, "nope", &text, &len, dig, owner),
	         WARD_E_NOTFOUND, "missing session");

	uint8_t pk[32], want[32];
	enum ward_secret_kind kind;
	CHECK_RC(ward_store_secret_public(st, "a", "XK", &kind, pk), 0, "exported public key");
	crypto_scalarmult_base(want, ward_secret_set_get(v1, "XK", NULL, &l1));
	CHECK(memcmp(pk, want, 32) == 0 && kind == WARD_SECRET_X25519, "public key is X25519(sk)");
	CHECK_RC(ward_store_secret_public(st, "a", "HIDDEN", &kind, pk), WARD_E_DENIED,
	         "not exported: refused");
	CHECK_RC(ward_store_secret_public(st, "a", "GEN", &kind, pk), WARD_E_DENIED,
	         "binary secret: refused");
	CHECK_RC(ward_store_secret_public(st, "a", "NONE", &kind, pk), WARD_E_NOTFOUND,
	         "unknown secret");

	CHECK_RC(apply_st(bob, doc("a/child", NULL, NULL), d3, &created), WARD_E_DENIED,
	         "bob may not create inside alice's namespace");
	CHECK_RC(apply_st(alice, doc("a/child", NULL, NULL), d3, &created), 0,
	         "alice may create inside her namespace");
	CHECK_RC(apply_st(bob, doc("b", NULL, "access_policy: {read: [ANY], update: [NONE]}\n"), d3,
	                  &created),
	         0, "bob creates an immutable session");
	hex32(d3, h2);
	CHECK_RC(apply_st(bob, doc("b", h2, NULL), d2, &created), WARD_E_DENIED,
	         "update: [NONE] refuses even the creator");
	CHECK_RC(ward_store_session_read(st, alice, "b", &text, &len, dig, owner), 0,
	         "read: [ANY] lets alice read");
	ward_store_text_free(text);

	char *hist;
	CHECK_RC(ward_store_session_history(st, alice, "a", &hist), 0, "history");
	CHECK(hist && strstr(hist, "\"op\":\"create\"") && strstr(hist, "\"op\":\"update\""),
	      "history lists create and update");
	free(hist);

	CHECK_RC(ward_store_session_delete(st, bob, "a/child", NULL), WARD_E_DENIED,
	         "bob may not delete");
	CHECK_RC(ward_store_session_delete(st, alice, "a/child", d1), WARD_E_CONFLICT,
	         "delete with a stale digest");
	CHECK_RC(ward_store_session_delete(st, alice, "a/child", NULL), 0, "alice deletes");
	CHECK_RC(ward_store_session_read(st, alice, "a/child", &text, &len, dig, owner),
	         WARD_E_NOTFOUND, "deleted");
	ward_session_free(s0);
	ward_session_free(s1);
	ward_secret_set_free(v0);
	ward_secret_set_free(v1);
}

/* The workload path caches loaded sessions: every change must be seen at once. */
static void test_session_cache(struct ward_store *st)
{
	ST = st;
	static const char *v1 = "name: c\nsecrets: [{name: V, kind: binary, value: 0101}]\n";
	char v2[256], h[65];
	uint8_t d1[32], d2[32], got[32];
	int created;
	CHECK_RC(apply_st(alice, v1, d1, &created), 0, "create 'c'");
	struct ward_session *s[3] = {0};
	struct ward_secret_set *v[3] = {0};
	CHECK_RC(ward_store_session_load(st, "c", &s[0], &v[0], got), 0, "load 'c'");
	CHECK_RC(ward_store_session_load(st, "c", &s[1], &v[1], got), 0, "load 'c' again");
	CHECK(memcmp(got, d1, 32) == 0, "the second load has the digest of the session");
	hex32(d1, h);
	snprintf(v2, sizeof v2,
	         "name: c\npredecessor: \"%s\"\nsecrets: [{name: V, kind: binary, value: 0202}]\n",
	         h);
	CHECK_RC(apply_st(alice, v2, d2, &created), 0, "update 'c'");
	CHECK_RC(ward_store_session_load(st, "c", &s[2], &v[2], got), 0, "load after the update");
	size_t len = 0;
	const uint8_t *val = v[2] ? ward_secret_set_get(v[2], "V", NULL, &len) : NULL;
	CHECK(memcmp(got, d2, 32) == 0 && val && len == 2 && val[0] == 2,
	      "the load after an update sees the new digest and value, not a cached one");
	val = v[0] ? ward_secret_set_get(v[0], "V", NULL, &len) : NULL;
	CHECK(val && len == 2 && val[0] == 1, "a load taken before the update stays intact");
	hex32(d2, h);
	CHECK_RC(ward_store_session_delete(st, alice, "c", d2), 0, "delete 'c'");
	struct ward_session *gone = NULL;
	struct ward_secret_set *gv = NULL;
	CHECK_RC(ward_store_session_load(st, "c", &gone, &gv, got), WARD_E_NOTFOUND,
	         "a deleted session is not served from the cache");
	for (int i = 0; i < 3; i++) {
		ward_session_free(s[i]);
		ward_secret_set_free(v[i]);
	}
}

static void test_trust(struct ward_store *st)
{
	uint8_t p1[32], p2[32];
	memset(p1, 0x11, 32);
	memset(p2, 0x22, 32);
	CHECK_RC(ward_store_trust_add(st, WARD_STORE_PLATFORM, p1, "node-1"), 0, "enrol platform");
	CHECK_RC(ward_store_trust_add(st, WARD_STORE_LAUNCHER, p2, "ward 0.1"), 0, "add launcher");
	uint8_t(*v)[32];
	char **labels;
	size_t n;
	CHECK_RC(ward_store_trust_list(st, WARD_STORE_PLATFORM, &v, &labels, &n), 0, "list");
	CHECK(n == 1 && memcmp(v[0], p1, 32) == 0 && strcmp(labels[0], "node-1") == 0,
	      "one platform, node-1");
	for (size_t i = 0; i < n; i++)
		free(labels[i]);
	free(labels);
	free(v);
	CHECK_RC(ward_store_trust_remove(st, WARD_STORE_PLATFORM, p2), WARD_E_NOTFOUND,
	         "removing an unknown platform");
}

/* Searches a file for bytes. */
static int file_has(const char *path, const void *needle, size_t n)
{
	size_t len;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	fclose(f);
	uint8_t *d = test_read_file(path, &len);
	int found = 0;
	for (size_t i = 0; !found && len >= n && i <= len - n; i++)
		found = memcmp(d + i, needle, n) == 0;
	free(d);
	return found;
}

static void test_at_rest(struct ward_store *st)
{
	struct ward_session *s;
	struct ward_secret_set *v;
	CHECK_RC(ward_store_session_load(st, "a", &s, &v, NULL), 0, "load");
	size_t len;
	const uint8_t *gen = ward_secret_set_get(v, "GEN", NULL, &len);
	uint8_t expl[16];
	sodium_hex2bin(expl, sizeof expl, EXPLICIT, 32, NULL, NULL, NULL);
	char genhex[65];
	sodium_bin2hex(genhex, sizeof genhex, gen, 32);
	const char *files[] = {"cas.db", "cas.db-wal", "audit.log"};
	int leaks = 0;
	for (int i = 0; i < 3; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		leaks += file_has(path, gen, 32) + file_has(path, genhex, 64) +
		         file_has(path, expl, 16) + file_has(path, EXPLICIT, 32) +
		         file_has(path, "environment", 11);
	}
	CHECK(leaks == 0, "no secret value or session text in the database, WAL or audit log");
	ward_session_free(s);
	ward_secret_set_free(v);

	/* Change alice's session's owner on disk: reading it then fails authentication. */
	char path[4200];
	snprintf(path, sizeof path, "%s/cas.db", dir);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_stmt *q;
	sqlite3_prepare_v2(db, "UPDATE sessions SET owner = ? WHERE name = 'a'", -1, &q, NULL);
	sqlite3_bind_blob(q, 1, bob, 32, SQLITE_STATIC);
	sqlite3_step(q);
	sqlite3_finalize(q);
	sqlite3_close(db);
	char *text;
	uint8_t dig[32], owner[32];
	CHECK_RC(ward_store_session_read(st, bob, "a", &text, &len, dig, owner), WARD_E_BADMSG,
	         "an owner changed on disk is detected");
}

static void test_fail_closed(struct ward_store *st)
{
	ST = st;
	char path[4200];
	snprintf(path, sizeof path, "%s/audit.log", dir);
	struct stat sb;
	stat(path, &sb);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 50;
	uint8_t d[32];
	int created;
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = apply_st(alice, doc("unlogged", NULL, NULL), d, &created);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(rc == WARD_E_IO, "a change that cannot be audited fails (%d: %s)", rc,
	      ward_last_error());
	char *text;
	size_t len;
	uint8_t owner[32];
	CHECK_RC(ward_store_session_read(st, alice, "unlogged", &text, &len, d, owner),
	         WARD_E_NOTFOUND, "and is not committed");
}

/* Readers, audited events and writers at once: the reader pool and checkpoint coalescing. */
struct hammer {
	struct ward_store *st;
	int id, fails;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 60; i++) {
		struct ward_session *s = NULL;
		struct ward_secret_set *v = NULL;
		uint8_t(*vals)[32] = NULL;
		size_t n;
		if (ward_store_session_load(h->st, "a", &s, &v, NULL) != 0 ||
		    ward_store_trust_list(h->st, WARD_STORE_LAUNCHER, &vals, NULL, &n) != 0 ||
		    n != 1)
			h->fails++;
		ward_session_free(s);
		ward_secret_set_free(v);
		free(vals);
		json_object *f = json_object_new_object();
		json_object_object_add(f, "i", json_object_new_int(i));
		if (ward_store_audit(h->st, "test.event", f) != 0)
			h->fails++;
		json_object_put(f);
		if (i % 20 == 0) {
			char text[128];
			uint8_t d[32];
			int created;
			snprintf(text, sizeof text,
			         "name: h%d-%d\nsecrets: [{name: K, kind: binary}]\n", h->id, i);
			struct ward_session *ns = NULL;
			if (ward_session_parse(text, strlen(text), &ns) != 0 ||
			    ward_store_session_apply(h->st, alice, ns, d, &created) != 0)
				h->fails++;
			ward_session_free(ns);
		}
	}
	return NULL;
}

static void test_concurrency(struct ward_store *st)
{
	pthread_t t[6];
	struct hammer h[6];
	for (int i = 0; i < 6; i++) {
		h[i] = (struct hammer){st, i, 0};
		pthread_create(&t[i], NULL, hammer, &h[i]);
	}
	int fails = 0;
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		fails += h[i].fails;
	}
	CHECK(fails == 0, "6 threads reading, auditing and creating at once: %d failures", fails);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	memset(alice, 0xa1, 32);
	memset(bob, 0xb0, 32);
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	test_create_and_unseal();
	struct ward_store *st = NULL;
	CHECK_RC(ward_store_open(dir, &st), 0, "reopen");
	if (!st)
		return test_done();
	unseal_all(st, 0);
	test_sessions(st);
	test_session_cache(st);
	test_trust(st);
	test_concurrency(st);
	ward_store_close(st);

	/* Everything survives a restart. */
	CHECK_RC(ward_store_open(dir, &st), 0, "reopen after restart");
	unseal_all(st, 1);
	char *text;
	size_t len;
	uint8_t dig[32], owner[32];
	CHECK_RC(ward_store_session_read(st, alice, "a", &text, &len, dig, owner), 0,
	         "session persisted");
	ward_store_text_free(text);
	test_fail_closed(st);
	test_at_rest(st);
	ward_store_close(st);

	uint8_t pk[32];
	struct ward_audit_anchor anchor;
	CHECK_RC(ward_store_audit_anchor(dir, pk, &anchor), 0, "read the checkpoint");
	CHECK(memcmp(pk, audit_pk, 32) == 0, "audit key as printed at init");
	char logpath[4200];
	snprintf(logpath, sizeof logpath, "%s/audit.log", dir);
	struct ward_audit_report rep;
	CHECK_RC(ward_audit_verify(logpath, pk, &anchor, &rep), 0, "audit log verifies: %s",
	         rep.problem);
	size_t n;
	char *log = (char *)test_read_file(logpath, &n);

	/* A log cut before the checkpoint, or emptied, keeps the store sealed. */
	char *cut = memchr(log, '\n', n);
	for (int i = 0; cut && i < 2; i++)
		cut = memchr(cut + 1, '\n', (size_t)(log + n - cut - 1));
	FILE *f = fopen(logpath, "wb");
	fwrite(log, 1, cut ? (size_t)(cut + 1 - log) : 0, f);
	fclose(f);
	unsigned have, need;
	CHECK_RC(ward_store_open(dir, &st), 0, "open with a truncated log");
	int rc = WARD_E_INTERNAL;
	for (int i = 0; i < 3; i++)
		rc = ward_store_unseal(st, shares[i], &have, &need);
	CHECK(rc == WARD_E_BADMSG && ward_store_sealed(st),
	      "a log cut before the checkpoint refuses to unseal (%s)", ward_last_error());
	ward_store_close(st);
	f = fopen(logpath, "wb");
	fclose(f);
	CHECK_RC(ward_store_open(dir, &st), 0, "open with an empty log");
	for (int i = 0; i < 3; i++)
		rc = ward_store_unseal(st, shares[i], &have, &need);
	CHECK(rc == WARD_E_BADMSG && ward_store_sealed(st), "an emptied log refuses to unseal");
	ward_store_close(st);
	f = fopen(logpath, "wb");
	fwrite(log, 1, n, f);
	fclose(f);
	CHECK_RC(ward_store_open(dir, &st), 0, "open with the restored log");
	unseal_all(st, 2);
	ward_store_close(st);
	CHECK(strstr(log, "\"event\":\"cas.init\"") && strstr(log, "\"event\":\"cas.unseal\"") &&
	          strstr(log, "\"event\":\"session.update\"") &&
	          strstr(log, "\"result\":\"denied\"") && strstr(log, "\"event\":\"platform.add\""),
	      "init, unseal, changes, refusals and enrolment are logged");
	free(log);
	return test_done();
}
