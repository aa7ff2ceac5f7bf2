/* Tests of the key service's attestation nonces: stateless issue, forgery, replay, expiry. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "test.h"
/* nonce.c lives in the cas module (not libward): it is compiled into this test directly. */
#include "../services/cas/nonce.c"

static void test_fresh_and_replay(void)
{
	struct cas_nonces *n = cas_nonces_new();
	CHECK(n != NULL, "nonce state created");
	uint8_t a[32], b[32];
	cas_nonce_issue_at(n, a, 1000);
	cas_nonce_issue_at(n, b, 1000);
	CHECK(memcmp(a, b, 32) != 0, "two nonces of the same second differ");
	CHECK(cas_nonce_consume_at(n, b, 1001) == 0, "an issued nonce is accepted");
	CHECK(cas_nonce_consume_at(n, b, 1001) == -1, "the same nonce a second time is refused");
	CHECK(cas_nonce_consume_at(n, a, 1059) == 0, "the other one, out of order, is accepted");
	CHECK(cas_nonce_consume_at(n, a, 1059) == -1, "and not twice");
	cas_nonces_free(n);
}

static void test_forgery(void)
{
	struct cas_nonces *n = cas_nonces_new(), *other = cas_nonces_new();
	uint8_t a[32], f[32];
	cas_nonce_issue_at(n, a, 500);
	int refused = 0;
	for (size_t i = 0; i < 32; i++) {
		memcpy(f, a, 32);
		f[i] ^= 0x01;
		refused += cas_nonce_consume_at(n, f, 500) == -1;
	}
	CHECK(refused == 32, "a flipped bit anywhere in the nonce is refused (%d/32)", refused);
	uint8_t z[32] = {0};
	CHECK(cas_nonce_consume_at(n, z, 500) == -1, "an all-zero nonce is refused");
	cas_nonce_issue_at(other, f, 500);
	CHECK(cas_nonce_consume_at(n, f, 500) == -1,
	      "a nonce of another service instance is refused");
	CHECK(cas_nonce_consume_at(n, a, 500) == 0,
	      "the genuine nonce still works after the forgeries");
	cas_nonces_free(n);
	cas_nonces_free(other);
}

static void test_expiry(void)
{
	struct cas_nonces *n = cas_nonces_new();
	uint8_t a[32], b[32], c[32];
	cas_nonce_issue_at(n, a, 2000);
	cas_nonce_issue_at(n, b, 2000);
	cas_nonce_issue_at(n, c, 2010);
	CHECK(cas_nonce_consume_at(n, a, 2000 + CAS_NONCE_TTL) == 0, "accepted at its last second");
	CHECK(cas_nonce_consume_at(n, b, 2001 + CAS_NONCE_TTL) == -1, "refused one second later");
	CHECK(cas_nonce_consume_at(n, c, 2009) == -1, "a nonce from the future is refused");
	/* The bucket of second 2000 is reused by a later second: the old entries go, replays stay
	 * refused by expiry. */
	uint8_t d[32];
	uint64_t later = 2000 + BUCKETS;
	cas_nonce_issue_at(n, d, later);
	CHECK(cas_nonce_consume_at(n, d, later) == 0, "a nonce in a reused bucket is accepted");
	CHECK(cas_nonce_consume_at(n, a, later) == -1,
	      "the expired nonce of that bucket is refused");
	CHECK(cas_nonce_consume_at(n, d, later) == -1, "the reused bucket remembers its nonce");
	cas_nonces_free(n);
}

static void test_many(void)
{
	struct cas_nonces *n = cas_nonces_new();
	enum { N = 5000 };
	static uint8_t v[N][32];
	int ok = 0, again = 0;
	for (int i = 0; i < N; i++)
		cas_nonce_issue_at(n, v[i], 3000 + (uint64_t)i / 1000);
	for (int i = N - 1; i >= 0; i--)
		ok += cas_nonce_consume_at(n, v[i], 3005) == 0;
	for (int i = 0; i < N; i++)
		again += cas_nonce_consume_at(n, v[i], 3006) == -1;
	CHECK(ok == N, "%d nonces over 5 seconds all accepted once (%d)", N, ok);
	CHECK(again == N, "and every replay refused (%d)", again);
	cas_nonces_free(n);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fresh_and_replay();
	test_forgery();
	test_expiry();
	test_many();
	return test_done();
}
