/* Tests of the Shamir k-of-n splitting used for the key service's unseal shares. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ward/shamir.h"

/* An independent GF(2^8) (AES polynomial) built from log/exp tables with generator 3. */
static uint8_t exp_t[512], log_t[256];

static void tables(void)
{
	uint8_t x = 1;
	for (int i = 0; i < 255; i++) {
		exp_t[i] = exp_t[i + 255] = x;
		log_t[x] = (uint8_t)i;
		/* x *= 3 */
		uint8_t x2 = (uint8_t)((x << 1) ^ ((x & 0x80) ? 0x1b : 0));
		x ^= x2;
	}
}

static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	return (a && b) ? exp_t[log_t[a] + log_t[b]] : 0;
}

/* Evaluates the polynomial given by shares at x=0 is what combine does; here we evaluate at x. */
static uint8_t ref_eval(const uint8_t *coef, unsigned k, uint8_t x)
{
	uint8_t acc = 0, xp = 1;
	for (unsigned j = 0; j < k; j++) {
		acc ^= ref_mul(coef[j], xp);
		xp = ref_mul(xp, x);
	}
	return acc;
}

/* Every k-subset of the n shares (chosen by bitmask) recovers the secret. */
static int all_subsets_recover(const uint8_t *secret, size_t len, unsigned k, unsigned n,
                               const uint8_t *shares)
{
	int bad = 0, tried = 0;
	for (unsigned mask = 0; mask < (1u << n); mask++) {
		if ((unsigned)__builtin_popcount(mask) != k)
			continue;
		uint8_t xs[16];
		const uint8_t *ys[16];
		unsigned m = 0;
		for (unsigned i = 0; i < n; i++)
			if (mask & (1u << i)) {
				xs[m] = (uint8_t)(i + 1);
				ys[m++] = shares + i * len;
			}
		uint8_t out[64];
		if (ward_shamir_combine(xs, ys, k, len, out) != 0 || memcmp(out, secret, len) != 0)
			bad++;
		tried++;
	}
	return tried > 0 && bad == 0;
}

static void test_roundtrip(void)
{
	uint8_t secret[32], shares[5 * 32];
	test_fill(secret, sizeof secret, 7);
	CHECK_RC(ward_shamir_split(secret, 32, 3, 5, shares), 0, "split 3-of-5");
	CHECK(all_subsets_recover(secret, 32, 3, 5, shares), "every 3 of 5 shares recover the key");
	CHECK(all_subsets_recover(secret, 32, 4, 5, shares), "every 4 of 5 shares recover the key");
	/* Two shares of a 3-of-5 split give a wrong value (the store's unwrap then fails). */
	uint8_t xs[2] = {1, 2}, out[32];
	const uint8_t *ys[2] = {shares, shares + 32};
	CHECK_RC(ward_shamir_combine(xs, ys, 2, 32, out), 0, "combine 2 shares runs");
	CHECK(memcmp(out, secret, 32) != 0, "2 of a 3-of-5 split do not give the key");
	/* No share equals the secret, and shares differ between splits (fresh randomness). */
	uint8_t again[5 * 32];
	CHECK_RC(ward_shamir_split(secret, 32, 3, 5, again), 0, "second split");
	CHECK(memcmp(again, shares, sizeof shares) != 0, "two splits use different polynomials");
	int leak = 0;
	for (int i = 0; i < 5; i++)
		leak |= memcmp(shares + i * 32, secret, 32) == 0;
	CHECK(!leak, "no share equals the secret");

	uint8_t s1[1] = {0xa5}, sh1[1];
	CHECK_RC(ward_shamir_split(s1, 1, 1, 1, sh1), 0, "1-of-1 split");
	CHECK(sh1[0] == 0xa5, "1-of-1 share is the secret itself");
	uint8_t big[64], bigsh[8 * 64];
	test_fill(big, 64, 9);
	CHECK_RC(ward_shamir_split(big, 64, 8, 8, bigsh), 0, "8-of-8 over 64 bytes");
	CHECK(all_subsets_recover(big, 64, 8, 8, bigsh), "8-of-8 recovers");
}

/* Shares lie on one polynomial of degree k-1 whose constant is the secret: checked with the
 * reference field. */
static void test_against_reference(void)
{
	tables();
	/* Cross-check the field: interpolate a known polynomial evaluated with ref tables. */
	uint8_t coef[3] = {0x53, 0xca, 0x01};
	uint8_t xs[3] = {7, 200, 31}, y[3][1];
	for (int i = 0; i < 3; i++)
		y[i][0] = ref_eval(coef, 3, xs[i]);
	const uint8_t *ys[3] = {y[0], y[1], y[2]};
	uint8_t out[1];
	CHECK_RC(ward_shamir_combine(xs, ys, 3, 1, out), 0, "combine reference points");
	CHECK(out[0] == 0x53, "interpolation at 0 matches table-based GF(256): got %02x", out[0]);

	int ok = 1;
	for (int s = 0; s < 256 && ok; s++) {
		uint8_t c[4] = {(uint8_t)s, (uint8_t)(s * 7 + 1), (uint8_t)(s ^ 0x5a), 0xff};
		uint8_t px[4] = {1, 2, 3, 255}, py[4][1];
		for (int i = 0; i < 4; i++)
			py[i][0] = ref_eval(c, 4, px[i]);
		const uint8_t *pys[4] = {py[0], py[1], py[2], py[3]};
		ok = ward_shamir_combine(px, pys, 4, 1, out) == 0 && out[0] == (uint8_t)s;
	}
	CHECK(ok, "all 256 constants recovered from reference polynomials of degree 3");

	/* Split shares are consistent with one degree-2 polynomial: any 3 predict the others. */
	uint8_t secret[1] = {0x42}, shares[6];
	CHECK_RC(ward_shamir_split(secret, 1, 3, 6, shares), 0, "split 3-of-6");
	uint8_t ax[3] = {4, 5, 6};
	const uint8_t *ay[3] = {shares + 3, shares + 4, shares + 5};
	CHECK_RC(ward_shamir_combine(ax, ay, 3, 1, out), 0, "combine last 3");
	CHECK(out[0] == 0x42, "last three shares recover 0x42");
}

static void test_errors(void)
{
	uint8_t s[32] = {1}, sh[300 * 32];
	CHECK_RC(ward_shamir_split(s, 32, 0, 5, sh), WARD_E_INVAL, "k = 0 refused");
	CHECK_RC(ward_shamir_split(s, 32, 6, 5, sh), WARD_E_INVAL, "k > n refused");
	CHECK_RC(ward_shamir_split(s, 32, 3, 256, sh), WARD_E_INVAL, "n = 256 refused");
	CHECK_RC(ward_shamir_split(s, 0, 1, 1, sh), WARD_E_INVAL, "empty secret refused");
	CHECK_RC(ward_shamir_split(s, 65, 1, 1, sh), WARD_E_INVAL, "65-byte secret refused");
	uint8_t xs[2] = {3, 3}, out[32];
	const uint8_t *ys[2] = {sh, sh + 32};
	CHECK_RC(ward_shamir_combine(xs, ys, 2, 32, out), WARD_E_INVAL, "repeated share refused");
	xs[0] = 0;
	CHECK_RC(ward_shamir_combine(xs, ys, 2, 32, out), WARD_E_INVAL, "x = 0 refused");
}

static void test_text(void)
{
	uint8_t set[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[32], y2[32], set2[8];
	test_fill(y, 32, 3);
	char txt[WARD_SHAMIR_TEXT_MAX];
	CHECK_RC(ward_shamir_share_format(set, 3, 2, y, 32, txt), 0, "format share");
	CHECK(strncmp(txt, "ward-share-1:0102030405060708:3:2:", 34) == 0, "share text prefix: %s",
	      txt);
	unsigned k = 0, x = 0;
	size_t len = 0;
	char padded[WARD_SHAMIR_TEXT_MAX + 8];
	snprintf(padded, sizeof padded, "  %s\n", txt);
	CHECK_RC(ward_shamir_share_parse(padded, set2, &k, &x, y2, sizeof y2, &len), 0,
	         "parse share with white space");
	CHECK(k == 3 && x == 2 && len == 32 && memcmp(y, y2, 32) == 0 && memcmp(set, set2, 8) == 0,
	      "parsed share equals the formatted one");

	/* Each single-character typo in the share bytes is caught by the check digits. */
	int caught = 0, total = 0;
	size_t ystart = strlen("ward-share-1:0102030405060708:3:2:");
	for (size_t i = ystart; i < ystart + 64; i++) {
		char t[WARD_SHAMIR_TEXT_MAX];
		memcpy(t, txt, sizeof t);
		t[i] = t[i] == '0' ? '1' : '0';
		total++;
		caught +=
		    ward_shamir_share_parse(t, set2, &k, &x, y2, sizeof y2, &len) == WARD_E_FORMAT;
	}
	CHECK(caught == total, "%d of %d one-digit typos caught", caught, total);
	CHECK_RC(ward_shamir_share_parse("ward-share-1:zz", set2, &k, &x, y2, 32, &len),
	         WARD_E_FORMAT, "short share refused");
	CHECK_RC(ward_shamir_share_parse("hello", set2, &k, &x, y2, 32, &len), WARD_E_FORMAT,
	         "non-share refused");
	CHECK_RC(ward_shamir_share_parse(txt, set2, &k, &x, y2, 16, &len), WARD_E_RANGE,
	         "share larger than the buffer refused");
	char extra[WARD_SHAMIR_TEXT_MAX + 8];
	snprintf(extra, sizeof extra, "%s:00", txt);
	CHECK_RC(ward_shamir_share_parse(extra, set2, &k, &x, y2, 32, &len), WARD_E_FORMAT,
	         "extra field refused");
}

int main(void)
{
	test_roundtrip();
	test_against_reference();
	test_errors();
	test_text();
	return test_done();
}
