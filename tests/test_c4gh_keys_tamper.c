/* Key files under attack: truncation, flipped bytes, bad base64, huge lengths, odd formats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"
#include "test.h"
#include "ward/crypt4gh.h"

static int fixed_pass(void *ctx, char *buf, size_t size)
{
	const char *p = ctx;
	if (strlen(p) + 1 > size)
		return WARD_E_INVAL;
	strcpy(buf, p);
	return 0;
}

static int is_key_error(int rc)
{
	return rc == WARD_E_FORMAT || rc == WARD_E_UNSUPPORTED || rc == WARD_E_PASSPHRASE;
}

/* Parses a blob re-armoured under label. Returns rc; *sk set on success. */
static int parse_blob(const char *label, const uint8_t *blob, size_t n, const char *pass,
                      struct ward_c4gh_seckey **sk)
{
	char *text = NULL;
	*sk = NULL;
	if (c4gh_pem_encode(label, blob, n, &text) != 0)
		return WARD_E_NOMEM;
	int rc = ward_c4gh_seckey_parse(text, strlen(text), fixed_pass, (void *)pass, sk);
	free(text);
	return rc;
}

static int load_pem(const char *name, struct c4gh_pem *pem, uint8_t orig_sk[32], const char *pass)
{
	char path[256];
	snprintf(path, sizeof path, "crypt4gh/%s", name);
	size_t len;
	char *text = (char *)test_read_file(test_data(path), &len);
	int rc = c4gh_pem_decode(text, len, pem);
	struct ward_c4gh_seckey *sk = NULL;
	if (rc == 0)
		rc = ward_c4gh_seckey_parse(text, len, fixed_pass, (void *)pass, &sk);
	if (rc == 0)
		memcpy(orig_sk, ward_c4gh_seckey_bytes(sk), 32);
	ward_c4gh_seckey_free(sk);
	free(text);
	CHECK_RC(rc, 0, "%s decodes", name);
	return rc;
}

/* Length of the c4gh-v1 blob up to the end of its key data (the comment is optional). */
static size_t c4gh_required(const uint8_t *blob, size_t n)
{
	struct c4gh_rd r = {blob + 7, n - 7};
	const uint8_t *s;
	size_t l;
	int fields = 2; /* cipher, data; plus the kdf options unless kdf none */
	if (c4gh_rd_str16(&r, &s, &l) != 0)
		return n;
	if (!c4gh_str_is(s, l, "none"))
		fields++;
	while (--fields >= 0 && c4gh_rd_str16(&r, &s, &l) == 0)
		;
	return (size_t)(r.p - blob);
}

/* Every truncation of the required part of the blob fails, cleanly. */
static void test_truncation(const char *name, const char *pass)
{
	struct c4gh_pem pem;
	uint8_t orig[32];
	if (load_pem(name, &pem, orig, pass) != 0)
		return;
	size_t req =
	    memcmp(pem.data, "c4gh-v1", 7) == 0 ? c4gh_required(pem.data, pem.len) : pem.len;
	int bad = 0;
	for (size_t t = 0; t < req; t++) {
		struct ward_c4gh_seckey *sk;
		int rc = parse_blob(pem.label, pem.data, t, pass, &sk);
		if (!is_key_error(rc) || sk) {
			bad++;
			printf("  %s truncated to %zu: rc %d\n", name, t, rc);
		}
		ward_c4gh_seckey_free(sk);
	}
	CHECK(bad == 0, "%s: all %zu truncations fail", name, req);
	c4gh_pem_clear(&pem);
}

/*
 * Flips one bit at every position: the result is an error or the very same
 * key, never a different key. strict: every flip must fail.
 */
static void test_flips(const char *name, const char *label, const uint8_t *blob, size_t n,
                       const uint8_t orig[32], const char *pass, int strict, size_t skip_from,
                       size_t skip_to)
{
	uint8_t *copy = malloc(n);
	int bad = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (i >= skip_from && i < skip_to)
			continue;
		for (int bit = 0; bit < 8; bit += 7) {
			memcpy(copy, blob, n);
			copy[i] ^= (uint8_t)(1u << bit);
			struct ward_c4gh_seckey *sk;
			int rc = parse_blob(label, copy, n, pass, &sk);
			if (rc == 0 &&
			    (strict || memcmp(ward_c4gh_seckey_bytes(sk), orig, 32) != 0))
				bad++, printf("  %s: flip at %zu bit %d accepted\n", name, i, bit);
			else if (rc != 0 && !is_key_error(rc))
				bad++,
				    printf("  %s: flip at %zu bit %d: rc %d\n", name, i, bit, rc);
			failed += rc != 0;
			ward_c4gh_seckey_free(sk);
		}
	}
	CHECK(bad == 0, "%s: flipped bits give an error or the same key (%d errors)", name, failed);
	free(copy);
}

static void test_flip_suite(void)
{
	/* A fast encrypted key: pbkdf2 with one round, no comment. */
	struct ward_c4gh_seckey *sk = NULL;
	char *text = NULL;
	struct c4gh_pem pem;
	if (ward_c4gh_seckey_generate(&sk) ||
	    ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_PBKDF2, "pw", 1, NULL, &text) ||
	    c4gh_pem_decode(text, strlen(text), &pem)) {
		CHECK(0, "make a pbkdf2 key");
		return;
	}
	/* Skip the rounds' three high bytes: flipping them asks for millions of rounds. */
	size_t rounds_at = 7 + 2 + strlen("pbkdf2_hmac_sha256") + 2;
	test_flips("pbkdf2 key", pem.label, pem.data, pem.len, ward_c4gh_seckey_bytes(sk), "pw", 1,
	           rounds_at, rounds_at + 3);
	c4gh_pem_clear(&pem);
	free(text);
	ward_c4gh_seckey_free(sk);

	uint8_t orig[32];
	if (load_pem("gina.ssh", &pem, orig, "") == 0) {
		test_flips("gina.ssh", pem.label, pem.data, pem.len, orig, "", 0, 0, 0);
		c4gh_pem_clear(&pem);
	}
	if (load_pem("alice.rawformat-htslib.sec", &pem, orig, "") == 0) {
		/* No integrity in a raw key: only the label and length are checked. */
		struct ward_c4gh_seckey *k;
		CHECK_RC(parse_blob("PRIVATE KEY", pem.data, pem.len, "", &k), WARD_E_FORMAT,
		         "raw 32 bytes under another label are not a key");
		c4gh_pem_clear(&pem);
	}
}

/* Flips in frank's encrypted private section: check ints give a passphrase error, the seed a format
 * error. */
static void test_ssh_encrypted_flips(void)
{
	struct c4gh_pem pem;
	uint8_t orig[32];
	if (load_pem("frank.ssh", &pem, orig, "frank") != 0)
		return;
	struct c4gh_rd r = {pem.data + 15, pem.len - 15};
	const uint8_t *s;
	size_t l;
	uint32_t nk;
	for (int i = 0; i < 3; i++)
		c4gh_rd_str32(&r, &s, &l);
	c4gh_rd_u32(&r, &nk);
	c4gh_rd_str32(&r, &s, &l); /* public key */
	c4gh_rd_str32(&r, &s, &l); /* private section */
	size_t priv = (size_t)(s - pem.data);
	/* check1 | check2 | str "ssh-ed25519" (4+11) | str pk (4+32) | str sk (4+64) */
	const size_t at[] = {priv + 1, priv + 8 + 15 + 36 + 4 + 5};
	const int want[] = {WARD_E_PASSPHRASE, WARD_E_FORMAT};
	for (int i = 0; i < 2; i++) {
		pem.data[at[i]] ^= 0x20;
		struct ward_c4gh_seckey *sk;
		CHECK_RC(parse_blob(pem.label, pem.data, pem.len, "frank", &sk), want[i],
		         "frank.ssh flipped at %zu", at[i]);
		ward_c4gh_seckey_free(sk);
		pem.data[at[i]] ^= 0x20;
	}
	c4gh_pem_clear(&pem);
}

/* ---- hand-made blobs ----------------------------------------------------------------- */

struct buf {
	uint8_t b[1024];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}
static void put16(struct buf *b, const char *s, size_t n)
{
	uint8_t l[2];
	ward_store16_be(l, (uint16_t)n);
	put(b, l, 2);
	put(b, s, n);
}
static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t l[4];
	ward_store32_be(l, v);
	put(b, l, 4);
}
static void put32(struct buf *b, const void *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	put(b, s, n);
}

static void expect_blob(const char *what, const char *label, const struct buf *b, int want)
{
	struct ward_c4gh_seckey *sk;
	CHECK_RC(parse_blob(label, b->b, b->n, "pw", &sk), want, "%s", what);
	ward_c4gh_seckey_free(sk);
}

static void test_c4gh_blobs(void)
{
	const char *L = "CRYPT4GH PRIVATE KEY";
	uint8_t key[60] = {0};
	struct buf b = {.n = 0};
	put(&b, "c4gh-v1", 7);
	put16(&b, "argon2", 6);
	put16(&b, "\0\0\0\0salt", 8);
	put16(&b, "chacha20_poly1305", 17);
	put16(&b, (char *)key, 60);
	expect_blob("unknown kdf", L, &b, WARD_E_UNSUPPORTED);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "scrypt", 6);
	put16(&b, "\0\0\0\0salt", 8);
	put16(&b, "aes256-gcm", 10);
	put16(&b, (char *)key, 60);
	expect_blob("unknown cipher", L, &b, WARD_E_UNSUPPORTED);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "none", 4);
	put16(&b, "chacha20_poly1305", 17);
	put16(&b, (char *)key, 60);
	expect_blob("encrypted key with kdf none", L, &b, WARD_E_FORMAT);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "none", 4);
	put16(&b, "none", 4);
	put16(&b, (char *)key, 31);
	expect_blob("31-byte plain key", L, &b, WARD_E_FORMAT);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "bcrypt", 6);
	put16(&b, "\0\0", 2);
	expect_blob("kdf options of 2 bytes", L, &b, WARD_E_FORMAT);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "scrypt", 6);
	put16(&b, "\0\0\0\0salt", 8);
	put16(&b, "chacha20_poly1305", 17);
	put16(&b, (char *)key, 59);
	expect_blob("sealed key of 59 bytes", L, &b, WARD_E_FORMAT);

	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "bcrypt", 6);
	put16(&b, "\0\0\0\0salt", 8); /* 0 rounds */
	put16(&b, "chacha20_poly1305", 17);
	put16(&b, (char *)key, 60);
	expect_blob("bcrypt with 0 rounds", L, &b, WARD_E_FORMAT);

	/* Huge u16 lengths in every field position. */
	static const uint8_t huge[] = {'c', '4', 'g', 'h', '-', 'v', '1', 0xff, 0xff, 'n'};
	b.n = 0;
	put(&b, huge, sizeof huge);
	expect_blob("kdf name length 65535", L, &b, WARD_E_FORMAT);
	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "none", 4);
	put(&b, "\xff\xff", 2);
	expect_blob("cipher name length 65535", L, &b, WARD_E_FORMAT);
	b.n = 0;
	put(&b, "c4gh-v1", 7);
	put16(&b, "none", 4);
	put16(&b, "none", 4);
	put(&b, "\xff\xff", 2);
	put(&b, key, 32);
	expect_blob("key data length 65535", L, &b, WARD_E_FORMAT);
}

/* An unencrypted OpenSSH blob around a private section (check ints, type, keys). */
static void ssh_blob(struct buf *b, const char *cipher, const char *kdf, uint32_t nkeys,
                     const char *type, uint32_t check2)
{
	uint8_t seed[32] = {1}, pk[32], sk[64];
	crypto_sign_seed_keypair(pk, sk, seed);
	struct buf priv = {.n = 0};
	put_u32(&priv, 0x11223344);
	put_u32(&priv, check2);
	put32(&priv, type, strlen(type));
	put32(&priv, pk, 32);
	put32(&priv, sk, 64);
	put32(&priv, "c", 1);
	for (uint8_t pad = 1; priv.n % 16; pad++)
		put(&priv, &pad, 1);
	b->n = 0;
	put(b, "openssh-key-v1", 15);
	put32(b, cipher, strlen(cipher));
	put32(b, kdf, strlen(kdf));
	put32(b, "", 0);
	put_u32(b, nkeys);
	put32(b, "pub", 3);
	put32(b, priv.b, priv.n);
}

static void test_ssh_blobs(void)
{
	const char *L = "OPENSSH PRIVATE KEY";
	struct buf b;
	ssh_blob(&b, "none", "none", 1, "ssh-ed25519", 0x11223344);
	expect_blob("hand-made OpenSSH key", L, &b, 0);
	ssh_blob(&b, "none", "none", 1, "ssh-ed25519", 0x11223345);
	expect_blob("OpenSSH check ints differ, unencrypted", L, &b, WARD_E_FORMAT);
	ssh_blob(&b, "none", "none", 2, "ssh-ed25519", 0x11223344);
	expect_blob("OpenSSH file with 2 keys", L, &b, WARD_E_UNSUPPORTED);
	ssh_blob(&b, "none", "none", 1, "ssh-rsa", 0x11223344);
	expect_blob("OpenSSH RSA key", L, &b, WARD_E_UNSUPPORTED);
	ssh_blob(&b, "blowfish-cbc", "bcrypt", 1, "ssh-ed25519", 0x11223344);
	expect_blob("OpenSSH blowfish-cbc", L, &b, WARD_E_UNSUPPORTED);
	ssh_blob(&b, "none", "scrypt", 1, "ssh-ed25519", 0x11223344);
	expect_blob("OpenSSH kdf scrypt", L, &b, WARD_E_UNSUPPORTED);
	ssh_blob(&b, "aes256-ctr", "none", 1, "ssh-ed25519", 0x11223344);
	expect_blob("OpenSSH cipher without kdf", L, &b, WARD_E_FORMAT);
	ssh_blob(&b, "aes256-ctr", "bcrypt", 1, "ssh-ed25519", 0x11223344);
	expect_blob("OpenSSH bcrypt with empty options", L, &b, WARD_E_FORMAT);

	/* Each u32 length field set to 0xffffffff and 0x7fffffff. */
	ssh_blob(&b, "none", "none", 1, "ssh-ed25519", 0x11223344);
	size_t fields[6], nf = 0, pos = 15;
	for (int i = 0; i < 3; i++) {
		fields[nf++] = pos;
		pos += 4 + ward_load32_be(b.b + pos);
	}
	pos += 4; /* nkeys */
	fields[nf++] = pos;
	pos += 4 + ward_load32_be(b.b + pos);
	fields[nf++] = pos;
	fields[nf++] = pos + 4 + 8; /* key type inside the private section */
	for (size_t i = 0; i < nf; i++)
		for (int v = 0; v < 2; v++) {
			struct buf t = b;
			ward_store32_be(t.b + fields[i], v ? 0x7fffffffu : 0xffffffffu);
			expect_blob("OpenSSH huge length field", L, &t, WARD_E_FORMAT);
		}
}

/* ---- armour and public keys ---------------------------------------------------------- */

static void expect_text(const char *what, const char *text, int want)
{
	struct ward_c4gh_seckey *sk = NULL;
	CHECK_RC(ward_c4gh_seckey_parse(text, strlen(text), fixed_pass, "pw", &sk), want, "%s",
	         what);
	ward_c4gh_seckey_free(sk);
}

static void test_armour(void)
{
	/* dave's key (kdf none), re-wrapped in every way the armour reader accepts. */
	const char *b64 =
	    "YzRnaC12MQAEbm9uZQAEbm9uZQAgfIsOIeAdjj7DhpfyGCmzNywJye07nrP4FJm1vvRFC9Q=";
	char text[1024];
	snprintf(text, sizeof text,
	         "-----BEGIN CRYPT4GH PRIVATE KEY-----\n%s\n-----END CRYPT4GH PRIVATE KEY-----\n",
	         b64);
	expect_text("dave's key", text, 0);
	snprintf(text, sizeof text,
	         "\n\n  -----BEGIN X-----  \r\n%.*s\r\n%s\r\n\n-----END Y-----\r\n", 40, b64,
	         b64 + 40);
	expect_text("CRLF, wrapped, blank lines, any label", text, 0);
	snprintf(text, sizeof text, "-----BEGIN K-----\n%.*s\n-----END K-----",
	         (int)strlen(b64) - 1, b64);
	expect_text("base64 without padding", text, 0);

	snprintf(text, sizeof text, "-----BEGIN K-----\n%.10s*%s\n-----END K-----\n", b64,
	         b64 + 10);
	expect_text("a '*' in the base64", text, WARD_E_FORMAT);
	snprintf(text, sizeof text, "-----BEGIN K-----\n%.12s==%s\n-----END K-----\n", b64,
	         b64 + 12);
	expect_text("padding in the middle", text, WARD_E_FORMAT);
	snprintf(text, sizeof text, "-----BEGIN K-----\n%s\n", b64);
	expect_text("no END line", text, WARD_E_FORMAT);
	snprintf(text, sizeof text, "%s\n", b64);
	expect_text("no armour", text, WARD_E_FORMAT);
	expect_text("empty text", "", WARD_E_FORMAT);
	expect_text("only white space", " \n\t\r\n", WARD_E_FORMAT);
	expect_text("empty armour", "-----BEGIN K-----\n-----END K-----\n", WARD_E_FORMAT);
	expect_text("BEGIN without dashes", "-----BEGIN K\nYQ==\n-----END K-----\n", WARD_E_FORMAT);
	struct ward_c4gh_seckey *sk = NULL;
	CHECK_RC(ward_c4gh_seckey_parse("-----BEGIN K-----\n\0YQ==\n-----END K-----\n", 36, NULL,
	                                NULL, &sk),
	         WARD_E_FORMAT, "NUL byte in the body");
	char *big = calloc(1, C4GH_KEYFILE_MAX + 2);
	memset(big, 'A', C4GH_KEYFILE_MAX + 1);
	CHECK_RC(ward_c4gh_seckey_parse(big, C4GH_KEYFILE_MAX + 1, NULL, NULL, &sk), WARD_E_FORMAT,
	         "over 64 KiB");
	uint8_t pk[32];
	CHECK_RC(ward_c4gh_pubkey_parse(big, C4GH_KEYFILE_MAX + 1, pk), WARD_E_FORMAT,
	         "public key over 64 KiB");
	free(big);
	CHECK(sk == NULL, "no key from bad armour");
}

static void expect_pub(const char *what, const char *text, int want)
{
	uint8_t pk[32];
	CHECK_RC(ward_c4gh_pubkey_parse(text, strlen(text), pk), want, "public key: %s", what);
}

static void test_pubkeys(void)
{
	size_t len;
	char *t = (char *)test_read_file(test_data("crypt4gh/alice.sec"), &len);
	expect_pub("a secret key file", t, WARD_E_FORMAT);
	free(t);
	t = (char *)test_read_file(test_data("crypt4gh/alice.rawformat-htslib.sec"), &len);
	expect_pub("a raw 32-byte secret key never passes as public", t, WARD_E_FORMAT);
	free(t);
	t = (char *)test_read_file(test_data("crypt4gh/gina.ssh"), &len);
	expect_pub("an OpenSSH private key", t, WARD_E_FORMAT);
	free(t);
	expect_pub("empty", "", WARD_E_FORMAT);
	expect_pub("31 bytes",
	           "-----BEGIN CRYPT4GH PUBLIC KEY-----\n"
	           "oyERnWAhzV4MAh9XIk0xD4C+nNp2tpLUiWtQoVS/xA==\n"
	           "-----END CRYPT4GH PUBLIC KEY-----\n",
	           WARD_E_FORMAT);
	expect_pub("bad base64",
	           "-----BEGIN CRYPT4GH PUBLIC KEY-----\n"
	           "oyERnWAhzV4MAh9XIk0xD4C+nNp2tpLUiWtQoVS/x!4e\n"
	           "-----END CRYPT4GH PUBLIC KEY-----\n",
	           WARD_E_FORMAT);
	expect_pub("ssh-rsa", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x", WARD_E_UNSUPPORTED);
	expect_pub(
	    "ssh-ed25519 with bad base64",
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1i0uZ77hZbmfnXD*oshadf+GMA9YAKQ+iwLawHvHsC",
	    WARD_E_FORMAT);
	expect_pub("ssh-ed25519 without key", "ssh-ed25519", WARD_E_FORMAT);
	expect_pub("ssh-ed25519 truncated blob", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1i0uZ77hZb",
	           WARD_E_FORMAT);
	/* A small-order ed25519 point (all zero) must not be converted. */
	struct buf b = {.n = 0};
	uint8_t zero[32] = {0};
	put32(&b, "ssh-ed25519", 11);
	put32(&b, zero, 32);
	char line[200] = "ssh-ed25519 ";
	sodium_bin2base64(line + 12, sizeof line - 12, b.b, b.n, sodium_base64_VARIANT_ORIGINAL);
	expect_pub("small-order ed25519 point", line, WARD_E_FORMAT);
	uint8_t pk[32];
	CHECK_RC(ward_c4gh_pubkey_load(test_data("crypt4gh/no-such-key.pub"), pk), WARD_E_IO,
	         "missing public key file");
	CHECK(strstr(ward_last_error(), "No such file") != NULL, "message says why: %s",
	      ward_last_error());
	struct ward_c4gh_seckey *sk = NULL;
	CHECK_RC(ward_c4gh_seckey_load(test_data("crypt4gh"), NULL, NULL, &sk), WARD_E_IO,
	         "a directory as key file");
}

static void test_kdf_direct(void)
{
	uint8_t out[32];
	CHECK_RC(c4gh_kdf_derive(WARD_C4GH_KDF_BCRYPT, "p", 1, (const uint8_t *)"s", 1, 0, out, 32),
	         WARD_E_FORMAT, "bcrypt, 0 rounds");
	CHECK_RC(c4gh_kdf_derive(WARD_C4GH_KDF_BCRYPT, "p", 1, NULL, 0, 1, out, 32), WARD_E_FORMAT,
	         "bcrypt, empty salt");
	CHECK_RC(c4gh_kdf_derive(WARD_C4GH_KDF_PBKDF2, "p", 1, (const uint8_t *)"s", 1, 0, out, 32),
	         WARD_E_FORMAT, "pbkdf2, 0 rounds");
	CHECK_RC(c4gh_kdf_derive(WARD_C4GH_KDF_NONE, "p", 1, (const uint8_t *)"s", 1, 1, out, 32),
	         WARD_E_UNSUPPORTED, "kdf none derives nothing");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const char *files[][2] = {{"alice.sec", "alice"},
	                          {"carol.scrypt.sec", "secret1"},
	                          {"dave.nocrypt.sec", ""},
	                          {"erin.pbkdf2.sec", "erin"},
	                          {"frank.ssh", "frank"},
	                          {"gina.ssh", ""},
	                          {"alice.rawformat-htslib.sec", ""}};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		test_truncation(files[i][0], files[i][1]);
	test_flip_suite();
	test_ssh_encrypted_flips();
	test_c4gh_blobs();
	test_ssh_blobs();
	test_armour();
	test_pubkeys();
	test_kdf_direct();
	return test_done();
}
