/* libFuzzer harness for the evidence parser and verifier (host and sgx layouts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "attest/attest_internal.h"

/* A fixed LAS key, so inputs re-signed below reach the checks after the signature. */
static const uint8_t seed[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void check_claims(int rc, const struct ward_attest_claims *c)
{
	/* Claims are all zero after a failure and sane after a success. */
	if (rc < 0 && !sodium_is_zero((const uint8_t *)c, sizeof *c))
		abort();
	if (rc == 0 && c->mode != WARD_ATTEST_MODE_HOST && c->mode != WARD_ATTEST_MODE_SGX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[32], sk[64];
	static int ready;
	if (!ready) {
		if (sodium_init() < 0)
			abort();
		crypto_sign_seed_keypair(pk, sk, seed);
		ready = 1;
	}
	struct ward_attest_claims c;
	check_claims(ward_attest_evidence_parse(data, size, &c), &c);
	const uint8_t(*enrolled)[32] = (const uint8_t(*)[32])pk;
	int64_t now = 1900000000;
	check_claims(ward_attest_evidence_verify(data, size, enrolled, 1, now, &c), &c);

	/* The same bytes signed by the enrolled key: exercises time and binding checks. */
	if (size != WARD_ATTEST_EVIDENCE_BYTES)
		return 0;
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	memcpy(ev, data, size);
	memcpy(ev + EV_OFF_PLATFORM, pk, 32);
	crypto_sign_detached(ev + EV_OFF_SIG, NULL, ev, EV_SIGNED_BYTES, sk);
	uint8_t key[32] = {0}, list[1][32];
	memcpy(list[0], ev + EV_OFF_LAUNCHER, 32);
	struct ward_attest_expect x = {.platforms = enrolled,
	                               .n_platforms = 1,
	                               .launchers = (const uint8_t(*)[32])list,
	                               .n_launchers = 1,
	                               .workloads = (const uint8_t(*)[32])list,
	                               .n_workloads = 1,
	                               .pubkey = key,
	                               .config_id = "s/svc",
	                               .now = now};
	int rc = ward_attest_host_check(ev, sizeof ev, &x, &c);
	check_claims(rc, &c);
	/* Success needs report data = SHA-256(0^32 || nonce || "s/svc"): must really hold. */
	if (rc == 0) {
		uint8_t rd[32];
		ward_attest_report_data(key, c.nonce, "s/svc", rd);
		if (memcmp(rd, c.report_data, 32) != 0)
			abort();
	}
	return 0;
}
