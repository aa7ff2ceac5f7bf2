/* Evidence: sign/verify round trip, every-byte tamper, wrong key, stale time, binding checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "test.h"
#include "ward/attest.h"

#define CONFIG_ID "genomics/process"

static struct ward_attest_key *las, *other;
static uint8_t las_pk[32], other_pk[32], eph_pk[32], nonce[32];
static uint8_t launcher[32], workload[32];
static const int64_t T0 = 1900000000; /* a fixed "now" keeps the tests independent of the clock */

static void claims_for(struct ward_attest_claims *c, const char *config_id)
{
	memset(c, 0, sizeof *c);
	c->flags = WARD_ATTEST_HAS_WORKLOAD;
	memcpy(c->launcher, launcher, 32);
	memcpy(c->workload, workload, 32);
	memcpy(c->nonce, nonce, 32);
	ward_attest_report_data(eph_pk, nonce, config_id, c->report_data);
	test_fill(c->las_nonce, sizeof c->las_nonce, 7);
	c->time = T0;
	c->pid = 4242;
	c->uid = 1000;
	c->gid = 100;
}

static void make(uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES], const struct ward_attest_key *k,
                 const struct ward_attest_claims *c)
{
	if (ward_attest_evidence_sign(c, k, ev) != 0)
		abort();
}

static struct ward_attest_expect expect(void)
{
	static uint8_t platforms[2][32], launchers[1][32], workloads[2][32];
	memcpy(platforms[0], other_pk, 32);
	memcpy(platforms[1], las_pk, 32);
	memcpy(launchers[0], launcher, 32);
	test_fill(workloads[0], 32, 99);
	memcpy(workloads[1], workload, 32);
	struct ward_attest_expect x = {.platforms = (const uint8_t(*)[32])platforms,
	                               .n_platforms = 2,
	                               .launchers = (const uint8_t(*)[32])launchers,
	                               .n_launchers = 1,
	                               .workloads = (const uint8_t(*)[32])workloads,
	                               .n_workloads = 2,
	                               .pubkey = eph_pk,
	                               .config_id = CONFIG_ID,
	                               .nonce = NULL,
	                               .now = T0};
	return x;
}

static void test_roundtrip(void)
{
	struct ward_attest_claims c, out;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	claims_for(&c, CONFIG_ID);
	make(ev, las, &c);
	CHECK(memcmp(ev, "WEV1", 4) == 0 && ev[4] == 1 && ev[5] == 1,
	      "evidence starts WEV1 v1 host");
	CHECK_RC(ward_attest_evidence_parse(ev, sizeof ev, &out), 0, "parse");
	CHECK(memcmp(out.platform, las_pk, 32) == 0 && memcmp(out.launcher, launcher, 32) == 0 &&
	          memcmp(out.workload, workload, 32) == 0 && memcmp(out.nonce, nonce, 32) == 0 &&
	          memcmp(out.report_data, c.report_data, 32) == 0 && out.time == T0 &&
	          out.pid == 4242 && out.uid == 1000 && out.gid == 100 &&
	          out.flags == WARD_ATTEST_HAS_WORKLOAD,
	      "parsed claims equal the signed ones");
	const uint8_t(*en)[32] = (const uint8_t(*)[32])las_pk;
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0, &out), 0, "verify");
	struct ward_attest_expect x = expect();
	CHECK_RC(ward_attest_host_check(ev, sizeof ev, &x, &out), 0, "full host check passes");
	x.nonce = nonce;
	CHECK_RC(ward_attest_host_check(ev, sizeof ev, &x, &out), 0, "host check with the nonce");
	uint32_t uids[2] = {0, 1000};
	x.uids = uids;
	x.n_uids = 2;
	CHECK_RC(ward_attest_host_check(ev, sizeof ev, &x, &out), 0, "uid in the allowed list");
}

/* Flipping any bit of any byte must never leave evidence that verifies. */
static void test_tamper(void)
{
	struct ward_attest_claims c, out;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES], t[WARD_ATTEST_EVIDENCE_BYTES];
	claims_for(&c, CONFIG_ID);
	make(ev, las, &c);
	struct ward_attest_expect x = expect();
	int accepted = 0, zeroed = 1;
	for (size_t i = 0; i < sizeof ev; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(t, ev, sizeof ev);
			t[i] ^= (uint8_t)(1u << bit);
			memset(&out, 0xa5, sizeof out);
			if (ward_attest_host_check(t, sizeof t, &x, &out) == 0)
				accepted++;
			else if (!sodium_is_zero((const uint8_t *)&out, sizeof out))
				zeroed = 0;
		}
	}
	CHECK(accepted == 0, "none of %zu single-bit changes verifies (%d did)", sizeof ev * 8,
	      accepted);
	CHECK(zeroed, "claims are zeroed on every failure");
	for (size_t n = 0; n < sizeof ev; n += 17)
		CHECK(ward_attest_host_check(ev, n, &x, &out) < 0,
		      "truncated to %zu bytes: refused", n);
	uint8_t longer[WARD_ATTEST_EVIDENCE_BYTES + 1];
	memcpy(longer, ev, sizeof ev);
	longer[sizeof ev] = 0;
	CHECK_RC(ward_attest_evidence_parse(longer, sizeof longer, &out), WARD_E_FORMAT,
	         "one trailing byte: malformed");
	CHECK_RC(ward_attest_evidence_parse(NULL, 0, &out), WARD_E_TRUNCATED, "empty: truncated");
}

static void test_wrong_key(void)
{
	struct ward_attest_claims c, out;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	claims_for(&c, CONFIG_ID);
	make(ev, las, &c);
	const uint8_t(*only_other)[32] = (const uint8_t(*)[32])other_pk;
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, only_other, 1, T0, &out), WARD_E_DENIED,
	         "signer not enrolled: denied");
	CHECK(strstr(ward_last_error(), "not enrolled") != NULL, "message says not enrolled: %s",
	      ward_last_error());
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, NULL, 0, T0, &out), WARD_E_DENIED,
	         "no platform enrolled: denied");
	/* An unenrolled LAS that claims an enrolled platform key fails the signature. */
	make(ev, other, &c);
	memcpy(ev + 8, las_pk, 32);
	const uint8_t(*en)[32] = (const uint8_t(*)[32])las_pk;
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0, &out), WARD_E_BADMSG,
	         "signed by another key under an enrolled name: bad signature");
}

static void test_time(void)
{
	struct ward_attest_claims c, out;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	claims_for(&c, CONFIG_ID);
	make(ev, las, &c);
	const uint8_t(*en)[32] = (const uint8_t(*)[32])las_pk;
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0 + 60, &out), 0,
	         "60 s old: accepted");
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0 + 61, &out), WARD_E_DENIED,
	         "61 s old: stale");
	CHECK(strstr(ward_last_error(), "stale") != NULL, "message says stale");
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0 - 61, &out), WARD_E_DENIED,
	         "61 s in the future: refused");
	c.time = INT64_MIN;
	make(ev, las, &c);
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, T0, &out), WARD_E_DENIED,
	         "time INT64_MIN: refused without overflow");
	c.time = (int64_t)time(NULL);
	make(ev, las, &c);
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, en, 1, 0, &out), 0,
	         "now = 0 uses the clock");
}

static void expect_denied(const struct ward_attest_claims *c, struct ward_attest_expect x,
                          const char *what, const char *msg)
{
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	struct ward_attest_claims out;
	make(ev, las, c);
	CHECK_RC(ward_attest_host_check(ev, sizeof ev, &x, &out), WARD_E_DENIED, "%s: denied",
	         what);
	CHECK(strstr(ward_last_error(), msg) != NULL, "%s: message '%s'", what, ward_last_error());
}

static void test_binding(void)
{
	struct ward_attest_claims c;
	struct ward_attest_expect x = expect();
	uint8_t k2[32];
	claims_for(&c, "genomics/encrypt");
	expect_denied(&c, x, "report data for another config id", "report data");
	claims_for(&c, CONFIG_ID);
	test_fill(k2, 32, 5);
	x.pubkey = k2;
	expect_denied(&c, x, "report data for another key", "report data");
	x = expect();
	c.report_data[0] ^= 1;
	expect_denied(&c, x, "report data changed before signing", "report data");
	claims_for(&c, CONFIG_ID);
	x.nonce = k2;
	expect_denied(&c, x, "evidence for another nonce", "nonce");
	x = expect();
	c.launcher[31] ^= 1;
	expect_denied(&c, x, "untrusted launcher", "launcher");
	claims_for(&c, CONFIG_ID);
	c.workload[0] ^= 0x80;
	expect_denied(&c, x, "workload differing in one bit", "workload");
	claims_for(&c, CONFIG_ID);
	c.flags = 0;
	memset(c.workload, 0, 32);
	expect_denied(&c, x, "no workload measurement", "no workload");
	claims_for(&c, CONFIG_ID);
	x.n_workloads = 0;
	expect_denied(&c, x, "service with no measurements", "workload");
	x = expect();
	x.n_launchers = 0;
	expect_denied(&c, x, "no trusted launcher", "launcher");
	x = expect();
	uint32_t uid = 0;
	x.uids = &uid;
	x.n_uids = 1;
	expect_denied(&c, x, "uid not allowed", "uid 1000");
	x = expect();
	x.config_id = NULL;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	struct ward_attest_claims out;
	make(ev, las, &c);
	CHECK_RC(ward_attest_host_check(ev, sizeof ev, &x, &out), WARD_E_INVAL,
	         "no config id: inval");
}

static void test_report_data_kat(void)
{
	uint8_t buf[64 + sizeof CONFIG_ID - 1], rd[32];
	char want[65], got[65];
	memcpy(buf, eph_pk, 32);
	memcpy(buf + 32, nonce, 32);
	memcpy(buf + 64, CONFIG_ID, sizeof CONFIG_ID - 1);
	test_sha256_hex(buf, sizeof buf, want);
	ward_attest_report_data(eph_pk, nonce, CONFIG_ID, rd);
	ward_attest_hex(rd, got);
	CHECK(strcmp(want, got) == 0, "report data = SHA-256(pubkey || nonce || config id)");
	uint8_t back[32];
	CHECK_RC(ward_attest_unhex(got, back), 0, "hex round trip");
	CHECK(memcmp(back, rd, 32) == 0, "hex round trip is exact");
	CHECK_RC(ward_attest_unhex("abc", back), WARD_E_FORMAT, "short hex refused");
	got[10] = 'g';
	CHECK_RC(ward_attest_unhex(got, back), WARD_E_FORMAT, "non-hex digit refused");
}

static int fake_sgx(void *ctx, const uint8_t *q, size_t ql, const uint8_t *col, size_t cl,
                    int64_t now, struct ward_attest_sgx_report *out)
{
	(void)col;
	(void)cl;
	(void)now;
	*(int *)ctx += 1;
	if (ql < 4 || memcmp(q, "good", 4) != 0)
		return WARD_E_BADMSG;
	memset(out->mrenclave, 0x11, 32);
	memset(out->report_data, 0x22, 64);
	return 0;
}

static void test_sgx(void)
{
	/* header, quote length 4, "good", collateral length 0 */
	uint8_t ev[8 + 4 + 4 + 4] = {'W', 'E', 'V', '1', 1,   2,   0,   0,
	                             4,   0,   0,   0,   'g', 'o', 'o', 'd'};
	struct ward_attest_claims out;
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, NULL, 0, T0, &out), WARD_E_UNSUPPORTED,
	         "sgx evidence without a verifier: unsupported");
	CHECK(strstr(ward_last_error(), "sgx attestation is not available yet") != NULL,
	      "clear message: %s", ward_last_error());
	CHECK_RC(ward_attest_evidence_parse(ev, sizeof ev, &out), WARD_E_UNSUPPORTED,
	         "sgx evidence cannot be parsed without a verifier");
	enum ward_attest_mode m;
	CHECK_RC(ward_attest_mode_check("sgx", 1, &m), WARD_E_UNSUPPORTED, "mode sgx refused");
	CHECK_RC(ward_attest_mode_check("host", 0, &m), 0, "mode host accepted");
	CHECK(m == WARD_ATTEST_MODE_HOST, "mode host enum");
	CHECK_RC(ward_attest_mode_check("none", 0, &m), WARD_E_DENIED,
	         "mode none refused by default");
	CHECK_RC(ward_attest_mode_check("none", 1, &m), 0, "mode none with the insecure flag");
	CHECK_RC(ward_attest_mode_check("hardware", 1, &m), WARD_E_FORMAT, "unknown mode");
	int calls = 0;
	ward_attest_sgx_set_verifier(fake_sgx, &calls);
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, NULL, 0, T0, &out), 0,
	         "a registered verifier is used");
	CHECK(calls == 1 && out.mode == WARD_ATTEST_MODE_SGX && out.workload[0] == 0x11 &&
	          out.nonce[0] == 0x22,
	      "its report becomes the claims");
	ev[12] = 'b';
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, NULL, 0, T0, &out), WARD_E_BADMSG,
	         "the verifier's refusal is kept");
	ev[12] = 'g';
	ev[8] = 200; /* quote length past the end */
	CHECK_RC(ward_attest_evidence_verify(ev, sizeof ev, NULL, 0, T0, &out), WARD_E_TRUNCATED,
	         "quote length past the end");
	CHECK(calls == 2, "the verifier never sees a malformed layout");
	ward_attest_sgx_set_verifier(NULL, NULL);
}

int main(void)
{
	if (sodium_init() < 0 || ward_attest_key_generate(&las) != 0 ||
	    ward_attest_key_generate(&other) != 0)
		return 1;
	ward_attest_key_public(las, las_pk);
	ward_attest_key_public(other, other_pk);
	test_fill(eph_pk, 32, 1);
	test_fill(nonce, 32, 2);
	test_fill(launcher, 32, 3);
	test_fill(workload, 32, 4);
	test_roundtrip();
	test_tamper();
	test_wrong_key();
	test_time();
	test_binding();
	test_report_data_kat();
	test_sgx();
	ward_attest_key_free(las);
	ward_attest_key_free(other);
	return test_done();
}
