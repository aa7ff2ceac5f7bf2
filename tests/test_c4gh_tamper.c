/* Crypt4GH tamper suite: flipped bits, truncation, swapped segments, several data keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "c4gh_testutil.h"
#include "crypt4gh/c4gh_internal.h"
#include "test.h"

#define SEG  65536u
#define CSEG 65564u

static struct ward_c4gh_seckey *alice, *bob;
static uint8_t alice_pk[32], bob_pk[32];
static uint8_t *plain;
static const size_t N = 3 * SEG + 1000; /* three full segments and a short one */

/* Released bytes must be a prefix of the plaintext that ends on a segment boundary. */
static int safe_prefix(const struct tbuf *got, size_t limit)
{
	return got->n <= limit && got->n % SEG == 0 && memcmp(got->p, plain, got->n) == 0;
}

static void header_flips(const struct tbuf *c, uint64_t hlen)
{
	int errors = 0, intact = 0, wrong = 0;
	for (uint64_t i = 0; i < hlen; i++) {
		struct tbuf t = {malloc(c->n), c->n}, got;
		memcpy(t.p, c->p, c->n);
		t.p[i] ^= (uint8_t)(1u << (i % 8));
		int rc = tu_decrypt(&t, alice, NULL, (int)(i & 1), 1, 0, UINT64_MAX, &got);
		if (rc == 0 && got.n == N && !memcmp(got.p, plain, N))
			intact++; /* the flip hit bob's packet, which alice skips */
		else if (rc < 0 && got.n == 0)
			errors++;
		else
			wrong++;
		tu_free(&got);
		free(t.p);
	}
	CHECK(wrong == 0,
	      "%llu header bit flips: %d refused with nothing released, %d in bob's packet "
	      "(alice unaffected), %d wrong",
	      (unsigned long long)hlen, errors, intact, wrong);
	CHECK(intact <= 108 && errors >= (int)hlen - 108,
	      "flips outside bob's packet are all caught");
}

static void segment_flips(const struct tbuf *c, uint64_t hlen)
{
	const size_t offs[] = {0, 11, 12, 13, 1000, SEG + 11, CSEG - 17, CSEG - 1};
	for (size_t seg = 0; seg < 4; seg++) {
		size_t clen = seg < 3 ? CSEG : 1000 + 28;
		int ok = 1;
		for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
			size_t off = offs[k] < clen ? offs[k] : clen - 1 - k;
			struct tbuf t = {malloc(c->n), c->n}, got;
			memcpy(t.p, c->p, c->n);
			t.p[hlen + seg * CSEG + off] ^= 0x20;
			for (int use_pipe = 0; use_pipe < 2; use_pipe++) {
				int rc =
				    tu_decrypt(&t, alice, NULL, use_pipe, 2, 0, UINT64_MAX, &got);
				char want[64];
				snprintf(want, sizeof want, "segment %zu ", seg);
				/* The short last segment cannot tell corruption from a cut. */
				int want_rc = seg < 3 ? WARD_E_BADMSG : WARD_E_TRUNCATED;
				if (rc != want_rc || !strstr(ward_last_error(), want) ||
				    !safe_prefix(&got, seg * SEG)) {
					ok = 0;
					printf("  seg %zu off %zu: rc %d '%s', %zu bytes out\n",
					       seg, off, rc, ward_last_error(), got.n);
				}
				tu_free(&got);
			}
			free(t.p);
		}
		CHECK(ok,
		      "flips in segment %zu (nonce, text, MAC): 'segment %zu ...' error, only "
		      "earlier authenticated segments released",
		      seg, seg);
	}
}

static void truncations(const struct tbuf *c, uint64_t hlen)
{
	const size_t cuts[] = {5,
	                       15,
	                       20,
	                       hlen - 1,
	                       hlen + 10,
	                       hlen + 28,
	                       hlen + 5000,
	                       hlen + CSEG + 1,
	                       hlen + 3 * CSEG + 500};
	for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
		struct tbuf t = {c->p, cuts[k]}, got;
		int rc = tu_decrypt(&t, alice, NULL, (int)(k & 1), 2, 0, UINT64_MAX, &got);
		int want = cuts[k] < 8 ? WARD_E_NOTC4GH : WARD_E_TRUNCATED;
		CHECK(rc == want && (cuts[k] <= hlen ? got.n == 0 : safe_prefix(&got, N)),
		      "cut at byte %zu: %s (%s)", cuts[k], ward_strerror(want), ward_last_error());
		tu_free(&got);
	}
	/* Whole trailing segments dropped: Crypt4GH v1 cannot tell (documented limit). */
	struct tbuf t = {c->p, hlen + 2 * CSEG}, got;
	int rc = tu_decrypt(&t, alice, NULL, 0, 2, 0, UINT64_MAX, &got);
	CHECK(
	    rc == 0 && got.n == 2 * SEG && !memcmp(got.p, plain, got.n),
	    "dropping whole trailing segments goes undetected, as the format allows (documented)");
	tu_free(&got);
}

static void swaps(const struct tbuf *c, uint64_t hlen)
{
	struct tbuf t = {malloc(c->n), c->n}, got;
	/* Full and short segment swapped: the short one lands mid-file and fails. */
	memcpy(t.p, c->p, hlen + CSEG);
	memcpy(t.p + hlen + CSEG, c->p + hlen + 3 * CSEG, 1028);
	memcpy(t.p + hlen + CSEG + 1028, c->p + hlen + 2 * CSEG, CSEG);
	memcpy(t.p + hlen + 2 * CSEG + 1028, c->p + hlen + CSEG, CSEG);
	int rc = tu_decrypt(&t, alice, NULL, 0, 2, 0, UINT64_MAX, &got);
	CHECK(rc < 0 && safe_prefix(&got, SEG), "a short segment moved mid-file is refused (%s)",
	      ward_last_error());
	tu_free(&got);
	/* Two full segments swapped: v1 binds no segment to its index (documented). */
	memcpy(t.p, c->p, c->n);
	memcpy(t.p + hlen, c->p + hlen + CSEG, CSEG);
	memcpy(t.p + hlen + CSEG, c->p + hlen, CSEG);
	rc = tu_decrypt(&t, alice, NULL, 0, 2, 0, UINT64_MAX, &got);
	CHECK(
	    rc == 0 && got.n == N && !memcmp(got.p, plain + SEG, SEG) &&
	        !memcmp(got.p + SEG, plain, SEG),
	    "two full segments swapped decrypt in the swapped order: a format limit (documented)");
	tu_free(&got);
	free(t.p);
}

/* A corrupt segment outside a range is never read, so a range that avoids it succeeds. */
static void random_access(const struct tbuf *c, uint64_t hlen)
{
	struct tbuf t = {malloc(c->n), c->n}, got;
	memcpy(t.p, c->p, c->n);
	t.p[hlen + 2 * CSEG + 100] ^= 1;
	int rc = tu_decrypt(&t, alice, NULL, 0, 2, 10, 1000, &got);
	CHECK(rc == 0 && got.n == 990 && !memcmp(got.p, plain + 10, 990),
	      "range in segment 0 ignores corrupt segment 2");
	tu_free(&got);
	rc = tu_decrypt(&t, alice, NULL, 0, 2, 3 * SEG + 1, 3 * SEG + 900, &got);
	CHECK(rc == 0 && got.n == 899 && !memcmp(got.p, plain + 3 * SEG + 1, 899),
	      "range in segment 3 skips corrupt segment 2 without reading it (file)");
	tu_free(&got);
	rc = tu_decrypt(&t, alice, NULL, 1, 2, 3 * SEG + 1, 3 * SEG + 900, &got);
	CHECK(rc == 0 && got.n == 899, "and on a pipe: skipped segments are not decrypted");
	tu_free(&got);
	rc = tu_decrypt(&t, alice, NULL, 0, 2, 2 * SEG - 5, 2 * SEG + 5, &got);
	CHECK(rc == WARD_E_BADMSG && got.n == 5 && !memcmp(got.p, plain + 2 * SEG - 5, 5),
	      "a range touching segment 2 fails after the 5 authenticated bytes of segment 1");
	tu_free(&got);
	free(t.p);
}

/* A header with two data keys; segment 0 uses the first, segment 1 the second. */
static void two_data_keys(void)
{
	uint8_t k1[32], k2[32], dek[2][40];
	randombytes_buf(k1, 32);
	randombytes_buf(k2, 32);
	for (int i = 0; i < 2; i++) {
		ward_store32_le(dek[i], 0);
		ward_store32_le(dek[i] + 4, 0);
		memcpy(dek[i] + 8, i ? k2 : k1, 32);
	}
	const char *path = tu_write_tmp("twokeys.c4gh", "", 0);
	FILE *f = fopen(path, "wb");
	const uint8_t *payloads[2] = {dek[0], dek[1]};
	uint32_t lens[2] = {40, 40};
	int rc = c4gh_header_write(fileno(f), bob, (const uint8_t(*)[32])alice_pk, 1, payloads,
	                           lens, 2, NULL);
	struct c4gh_aead *a = c4gh_aead_new();
	uint8_t *seg = malloc(CSEG);
	for (int s = 0; s < 2 && rc == 0; s++) {
		randombytes_buf(seg, 12);
		size_t len = s ? 500 : SEG;
		memcpy(seg + 12, plain + s * SEG, len);
		rc = c4gh_aead_seal(a, s ? k2 : k1, seg, len);
		fwrite(seg, 1, len + 28, f);
	}
	fclose(f);
	c4gh_aead_free(a);
	free(seg);
	struct tbuf c, got;
	c.p = test_read_file(path, &c.n);
	rc = tu_decrypt(&c, alice, bob_pk, 0, 2, 0, UINT64_MAX, &got);
	CHECK(rc == 0 && got.n == SEG + 500 && !memcmp(got.p, plain, got.n),
	      "two data keys: each segment opens with its own key");
	tu_free(&got);
	free(c.p);
}

int main(void)
{
	if (ward_c4gh_seckey_generate(&alice) || ward_c4gh_seckey_generate(&bob))
		return 1;
	ward_c4gh_seckey_public(alice, alice_pk);
	ward_c4gh_seckey_public(bob, bob_pk);
	plain = malloc(N);
	test_fill(plain, N, 42);
	uint8_t pks[2][32];
	memcpy(pks[0], bob_pk, 32);
	memcpy(pks[1], alice_pk, 32);
	struct tbuf c;
	CHECK_RC(tu_encrypt(plain, N, bob, (const uint8_t(*)[32])pks, 2, NULL, 0, 2, 0, &c), 0,
	         "encrypt the tamper sample for bob and alice");
	uint64_t hlen = 16 + 2 * 108;
	header_flips(&c, hlen);
	segment_flips(&c, hlen);
	truncations(&c, hlen);
	swaps(&c, hlen);
	random_access(&c, hlen);
	two_data_keys();
	tu_free(&c);
	free(plain);
	ward_c4gh_seckey_free(alice);
	ward_c4gh_seckey_free(bob);
	return test_done();
}
