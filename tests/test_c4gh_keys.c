/* Key files: Blowfish/bcrypt_pbkdf known answers, the interop keys, round trips, passphrases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypt4gh/keys_internal.h"
#include "test.h"
#include "ward/crypt4gh.h"

/* ---- helpers ---------------------------------------------------------------- */

static void to_hex(const uint8_t *b, size_t n, char *hex)
{
	for (size_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", b[i]);
}

struct pass_ctx {
	const char *pass;
	int calls;
};

static int fixed_pass(void *ctx, char *buf, size_t size)
{
	struct pass_ctx *p = ctx;
	p->calls++;
	if (strlen(p->pass) + 1 > size)
		return WARD_E_INVAL;
	strcpy(buf, p->pass);
	return 0;
}

static int refuse_pass(void *ctx, char *buf, size_t size)
{
	(void)ctx;
	(void)buf;
	(void)size;
	return WARD_E_DENIED;
}

/* Fills the whole buffer and no NUL: the library must still terminate it. */
static int overlong_pass(void *ctx, char *buf, size_t size)
{
	(void)ctx;
	memset(buf, 'x', size);
	return 0;
}

/* ---- Blowfish and bcrypt_pbkdf ----------------------------------------------- */

static void test_blowfish(void)
{
	/* Eric Young's Blowfish ECB vectors (key, plaintext, ciphertext). */
	static const struct {
		uint8_t key[8];
		uint32_t pl, pr, cl, cr;
	} v[] = {
	    {{0, 0, 0, 0, 0, 0, 0, 0}, 0, 0, 0x4ef99745, 0x6198dd78},
	    {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	     0xffffffff,
	     0xffffffff,
	     0x51866fd5,
	     0xb85ecb8a},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct c4gh_blf c;
		uint32_t l = v[i].pl, r = v[i].pr;
		c4gh_blf_init(&c);
		c4gh_blf_expand0(&c, v[i].key, 8);
		c4gh_blf_encipher(&c, &l, &r);
		CHECK(l == v[i].cl && r == v[i].cr, "blowfish vector %zu: %08x%08x", i, l, r);
	}
}

static void test_bcrypt_pbkdf(void)
{
	uint8_t out[64];
	char hex[129];
	/* Published vector (OpenBSD and Go x/crypto bcrypt_pbkdf tests). */
	CHECK(c4gh_bcrypt_pbkdf("password", 8, (const uint8_t *)"salt", 4, out, 32, 4) == 0,
	      "bcrypt_pbkdf runs");
	to_hex(out, 32, hex);
	CHECK(strcmp(hex, "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9") == 0,
	      "bcrypt_pbkdf(password, salt, 4 rounds, 32 bytes) = %s", hex);
	/* A longer key interleaves blocks: its bytes at stride positions differ from a 32-byte key.
	 */
	uint8_t longer[64];
	CHECK(c4gh_bcrypt_pbkdf("password", 8, (const uint8_t *)"salt", 4, longer, 64, 4) == 0,
	      "bcrypt_pbkdf 64 bytes");
	CHECK(memcmp(longer, out, 32) != 0, "64-byte output is interleaved, not a prefix");
	CHECK(c4gh_bcrypt_pbkdf("", 0, (const uint8_t *)"salt", 4, out, 32, 4) == -1,
	      "bcrypt_pbkdf rejects an empty passphrase");
	CHECK(c4gh_bcrypt_pbkdf("p", 1, (const uint8_t *)"salt", 4, out, 32, 0) == -1,
	      "bcrypt_pbkdf rejects 0 rounds");
	CHECK(c4gh_bcrypt_pbkdf("p", 1, (const uint8_t *)"salt", 4, out, 1025, 1) == -1,
	      "bcrypt_pbkdf rejects keylen > 1024");
}

/* ---- the interop key files ------------------------------------------------------- */

struct kat {
	const char *sec, *pub, *pass, *sk, *pk;
};

static const struct kat kats[] = {
    {"alice.sec", "alice.pub", "alice",
     "c987d62b8c4d766238a010d6b847367eee4c9c6a1bd3fd4551113e5b2991fa4f",
     "a321119d6021cd5e0c021f57224d310f80be9cda76b692d4896b50a154bfc41e"},
    {"bob.sec", "bob.pub", "bob",
     "6f86abc28a51f2d67622546f8b06b8e1ce7bb0cb6a7f83f0c1e93a8508808c35",
     "25719eeefa4d66958486cc6b204fe1f37c6cb7bb10fb620da5aa221a3b4b2038"},
    {"carol.scrypt.sec", "carol.pub", "secret1",
     "f72edc0aa36bd05df8335ca95ebd0d64825b71093a2a9988f39ab769bffb1183",
     "929c917c87fad1f6f5e3da292a7a9f14ee2ea918b12e5e2b4ab32a9e6317b140"},
    {"dave.nocrypt.sec", "dave.pub", NULL,
     "7c8b0e21e01d8e3ec38697f21829b3372c09c9ed3b9eb3f81499b5bef4450bd4",
     "6735e0ffa74820602cab57151fbf8378fb60b6e44191643ed8c62ab50fc3fd22"},
    {"erin.pbkdf2.sec", "erin.pub", "erin",
     "58de58a5c86a4b3e946f01fb3b929235fc02b0314b27c90179027e0fb14fc4a4",
     "faf469168fc2c203ba4b7c784bf2e26cc8768e2d6062044858f2828b6e8fcb67"},
    {"frank.ssh", "frank.ssh.pub", "frank",
     "40a6bc62d3a4348eaa14fdefd3a3c0038d1e947ef37a59ec141619efc2a3e85d",
     "6e0c8d299548ff080ed27a56fbe5d7b8fa649e00b6d9b18fb656da20ee80cc3e"},
    {"gina.ssh", "gina.ssh.pub", NULL,
     "00b61c6a7ca8445d89859652981ae951d4579e6592df17e21ad3110fdf41035a",
     "17cd9f967b0abfb62fd218fd36b2ebcfb291a78e29301905571049d7a667f63b"},
    {"alice.rawformat-htslib.sec", "alice.pub", NULL,
     "c987d62b8c4d766238a010d6b847367eee4c9c6a1bd3fd4551113e5b2991fa4f",
     "a321119d6021cd5e0c021f57224d310f80be9cda76b692d4896b50a154bfc41e"},
};

static void test_kat(const struct kat *k)
{
	char path[4200], hex[65];
	snprintf(path, sizeof path, "crypt4gh/%s", k->sec);
	struct pass_ctx pc = {k->pass ? k->pass : "unused", 0};
	struct ward_c4gh_seckey *sk = NULL;
	int rc = ward_c4gh_seckey_load(test_data(path), fixed_pass, &pc, &sk);
	CHECK_RC(rc, 0, "%s loads", k->sec);
	if (rc == 0) {
		to_hex(ward_c4gh_seckey_bytes(sk), 32, hex);
		CHECK(strcmp(hex, k->sk) == 0, "%s: sk = %s", k->sec, hex);
		uint8_t pk[32];
		ward_c4gh_seckey_public(sk, pk);
		to_hex(pk, 32, hex);
		CHECK(strcmp(hex, k->pk) == 0, "%s: pk = %s", k->sec, hex);
	}
	CHECK(pc.calls == (k->pass ? 1 : 0), "%s: passphrase asked %d times (%s)", k->sec, pc.calls,
	      k->pass ? "encrypted" : "not encrypted");
	ward_c4gh_seckey_free(sk);

	uint8_t pk[32];
	snprintf(path, sizeof path, "crypt4gh/%s", k->pub);
	rc = ward_c4gh_pubkey_load(test_data(path), pk);
	CHECK_RC(rc, 0, "%s loads", k->pub);
	to_hex(pk, 32, hex);
	CHECK(rc == 0 && strcmp(hex, k->pk) == 0, "%s decodes to pk %s", k->pub, hex);

	if (!k->pass)
		return;
	/* A wrong passphrase, an empty one, and no callback at all. */
	snprintf(path, sizeof path, "crypt4gh/%s", k->sec);
	struct pass_ctx wrong = {"not-the-passphrase", 0};
	sk = NULL;
	CHECK_RC(ward_c4gh_seckey_load(test_data(path), fixed_pass, &wrong, &sk), WARD_E_PASSPHRASE,
	         "%s: wrong passphrase", k->sec);
	CHECK(sk == NULL, "%s: no key on failure", k->sec);
	CHECK(strstr(ward_last_error(), "wrong passphrase") != NULL, "%s: message says why: %s",
	      k->sec, ward_last_error());
	CHECK_RC(ward_c4gh_seckey_load(test_data(path), NULL, NULL, &sk), WARD_E_PASSPHRASE,
	         "%s: encrypted key without a passphrase callback", k->sec);
	CHECK_RC(ward_c4gh_seckey_load(test_data(path), refuse_pass, NULL, &sk), WARD_E_DENIED,
	         "%s: the callback's error is returned", k->sec);
}

static void test_empty_passphrase(void)
{
	/* bcrypt refuses an empty passphrase (as OpenBSD and pyca/bcrypt do): a passphrase error.
	 */
	struct pass_ctx empty = {"", 0};
	struct ward_c4gh_seckey *sk = NULL;
	CHECK_RC(ward_c4gh_seckey_load(test_data("crypt4gh/alice.sec"), fixed_pass, &empty, &sk),
	         WARD_E_PASSPHRASE, "bcrypt key with an empty passphrase");
	CHECK_RC(ward_c4gh_seckey_load(test_data("crypt4gh/frank.ssh"), fixed_pass, &empty, &sk),
	         WARD_E_PASSPHRASE, "OpenSSH key with an empty passphrase");
	CHECK_RC(
	    ward_c4gh_seckey_load(test_data("crypt4gh/erin.pbkdf2.sec"), overlong_pass, NULL, &sk),
	    WARD_E_PASSPHRASE, "a callback that leaves no NUL is cut off safely");
	ward_c4gh_seckey_free(sk);
}

/* ---- writing --------------------------------------------------------------------- */

/* The c4gh-v1 blob of a formatted key, decoded from its armour (caller clears). */
static int decode_armour(const char *text, struct c4gh_pem *pem)
{
	return c4gh_pem_decode(text, strlen(text), pem);
}

static void test_roundtrip(enum ward_c4gh_kdf kdf, uint32_t rounds, const char *comment)
{
	const char *name = c4gh_kdf_name(kdf);
	struct ward_c4gh_seckey *sk = NULL, *back = NULL;
	char *text = NULL;
	if (ward_c4gh_seckey_generate(&sk) != 0) {
		CHECK(0, "generate");
		return;
	}
	const char *pass = kdf == WARD_C4GH_KDF_NONE ? NULL : "correct horse";
	int rc = ward_c4gh_seckey_format(sk, kdf, pass, rounds, comment, &text);
	CHECK_RC(rc, 0, "format kdf %s rounds %u", name, (unsigned)rounds);
	if (rc) {
		ward_c4gh_seckey_free(sk);
		return;
	}
	const char *label = kdf == WARD_C4GH_KDF_NONE
	                        ? "-----BEGIN CRYPT4GH PRIVATE KEY-----\n"
	                        : "-----BEGIN CRYPT4GH ENCRYPTED PRIVATE KEY-----\n";
	CHECK(strncmp(text, label, strlen(label)) == 0, "kdf %s: armour %.*s", name,
	      (int)strlen(label) - 1, label);

	struct c4gh_pem pem;
	if (decode_armour(text, &pem) == 0) {
		struct c4gh_rd r = {pem.data + 7, pem.len - 7};
		const uint8_t *s;
		size_t n;
		CHECK(c4gh_rd_str16(&r, &s, &n) == 0 && c4gh_str_is(s, n, name),
		      "kdf %s: name in the blob", name);
		if (kdf != WARD_C4GH_KDF_NONE) {
			uint32_t want = rounds ? rounds
			                       : (kdf == WARD_C4GH_KDF_BCRYPT   ? C4GH_BCRYPT_ROUNDS
			                          : kdf == WARD_C4GH_KDF_PBKDF2 ? C4GH_PBKDF2_ROUNDS
			                                                        : 0);
			CHECK(c4gh_rd_str16(&r, &s, &n) == 0 && n == 4 + C4GH_KEY_SALT &&
			          ward_load32_be(s) == want,
			      "kdf %s: rounds %u and a 16-byte salt", name, (unsigned)want);
		}
		size_t cl = comment ? strlen(comment) : 0;
		CHECK(pem.len > cl + 2 &&
		          (cl == 0 || (ward_load16_be(pem.data + pem.len - cl - 2) == cl &&
		                       memcmp(pem.data + pem.len - cl, comment, cl) == 0)),
		      "kdf %s: comment %s stored", name, comment ? comment : "(none)");
		c4gh_pem_clear(&pem);
	} else {
		CHECK(0, "kdf %s: output decodes", name);
	}

	struct pass_ctx pc = {pass ? pass : "unused", 0};
	rc = ward_c4gh_seckey_parse(text, strlen(text), fixed_pass, &pc, &back);
	CHECK_RC(rc, 0, "kdf %s: parse what we wrote", name);
	CHECK(rc == 0 &&
	          sodium_memcmp(ward_c4gh_seckey_bytes(back), ward_c4gh_seckey_bytes(sk), 32) == 0,
	      "kdf %s: same key back", name);
	CHECK(pc.calls == (pass ? 1 : 0), "kdf %s: passphrase asked %d times", name, pc.calls);
	ward_c4gh_seckey_free(back);
	if (pass) {
		struct pass_ctx wrong = {"correct horsE", 0};
		back = NULL;
		CHECK_RC(ward_c4gh_seckey_parse(text, strlen(text), fixed_pass, &wrong, &back),
		         WARD_E_PASSPHRASE, "kdf %s: wrong passphrase", name);
	}
	sodium_memzero(text, strlen(text));
	free(text);
	ward_c4gh_seckey_free(sk);
}

static void test_format_args(void)
{
	struct ward_c4gh_seckey *sk = NULL;
	char *text = NULL;
	if (ward_c4gh_seckey_generate(&sk) != 0)
		return;
	CHECK_RC(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_SCRYPT, NULL, 0, NULL, &text),
	         WARD_E_INVAL, "encrypted key without a passphrase");
	CHECK_RC(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_BCRYPT, "", 0, NULL, &text),
	         WARD_E_INVAL, "encrypted key with an empty passphrase");
	CHECK_RC(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_SCRYPT, "p", 5, NULL, &text),
	         WARD_E_INVAL, "scrypt with rounds");
	CHECK_RC(ward_c4gh_seckey_format(sk, (enum ward_c4gh_kdf)42, "p", 0, NULL, &text),
	         WARD_E_INVAL, "unknown kdf");
	char *big = malloc(70000);
	memset(big, 'c', 69999);
	big[69999] = 0;
	CHECK_RC(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_NONE, NULL, 0, big, &text), WARD_E_INVAL,
	         "comment over 65535 bytes");
	memset(big, 'p', 2000);
	big[2000] = 0;
	CHECK_RC(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_PBKDF2, big, 1, NULL, &text),
	         WARD_E_INVAL, "passphrase longer than a reader accepts");
	free(big);
	CHECK(text == NULL, "no output on failure");

	/* Two encryptions of the same key differ: fresh salt and nonce each time. */
	char *a = NULL, *b = NULL;
	CHECK(ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_PBKDF2, "p", 1, NULL, &a) == 0 &&
	          ward_c4gh_seckey_format(sk, WARD_C4GH_KDF_PBKDF2, "p", 1, NULL, &b) == 0 &&
	          strcmp(a, b) != 0,
	      "fresh salt and nonce per key file");
	free(a);
	free(b);
	ward_c4gh_seckey_free(sk);
}

static void test_pubkey_format(void)
{
	uint8_t pk[32], back[32];
	char *text = NULL;
	randombytes_buf(pk, sizeof pk);
	CHECK_RC(ward_c4gh_pubkey_format(pk, &text), 0, "pubkey format");
	CHECK(text && strncmp(text, "-----BEGIN CRYPT4GH PUBLIC KEY-----\n", 36) == 0 &&
	          strstr(text, "\n-----END CRYPT4GH PUBLIC KEY-----\n") != NULL,
	      "pubkey armour");
	CHECK(text && ward_c4gh_pubkey_parse(text, strlen(text), back) == 0 &&
	          memcmp(pk, back, 32) == 0,
	      "pubkey round trip");
	/* The reference's files match ours byte for byte. */
	size_t len;
	uint8_t *ref = test_read_file(test_data("crypt4gh/alice.pub"), &len);
	char *mine = NULL;
	if (ward_c4gh_pubkey_parse((char *)ref, len, pk) == 0 &&
	    ward_c4gh_pubkey_format(pk, &mine) == 0)
		CHECK(strlen(mine) == len && memcmp(mine, ref, len) == 0,
		      "formatting alice.pub gives the reference's bytes");
	else
		CHECK(0, "alice.pub round trip");
	free(mine);
	free(ref);
	free(text);
}

/* ---- ssh-keygen fixtures: every cipher OpenSSH can protect a key file with ---------------- */

static void test_ssh_ciphers(void)
{
	static const char *ciphers[] = {"aes128-ctr",
	                                "aes192-ctr",
	                                "aes256-ctr",
	                                "aes128-cbc",
	                                "aes192-cbc",
	                                "aes256-cbc",
	                                "3des-cbc",
	                                "aes128-gcm@openssh.com",
	                                "aes256-gcm@openssh.com",
	                                "chacha20-poly1305@openssh.com"};
	for (size_t i = 0; i < sizeof ciphers / sizeof ciphers[0]; i++) {
		char path[256];
		uint8_t want[32], got[32];
		snprintf(path, sizeof path, "c4gh_keys/ssh-%s.pub", ciphers[i]);
		int rc = ward_c4gh_pubkey_load(test_data(path), want);
		CHECK_RC(rc, 0, "ssh-%s.pub loads", ciphers[i]);
		snprintf(path, sizeof path, "c4gh_keys/ssh-%s", ciphers[i]);
		struct pass_ctx pc = {"pw", 0};
		struct ward_c4gh_seckey *sk = NULL;
		rc = ward_c4gh_seckey_load(test_data(path), fixed_pass, &pc, &sk);
		CHECK_RC(rc, 0, "ssh-%s loads", ciphers[i]);
		if (rc == 0) {
			ward_c4gh_seckey_public(sk, got);
			CHECK(memcmp(got, want, 32) == 0,
			      "ssh-%s: secret and .pub give the same X25519 key", ciphers[i]);
		}
		ward_c4gh_seckey_free(sk);
		struct pass_ctx wrong = {"pW", 0};
		sk = NULL;
		CHECK_RC(ward_c4gh_seckey_load(test_data(path), fixed_pass, &wrong, &sk),
		         WARD_E_PASSPHRASE, "ssh-%s: wrong passphrase", ciphers[i]);
	}
	/* The AEAD modes authenticate: a flipped tag byte is a passphrase error, not garbage. */
	const char *aead[] = {"aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"};
	for (size_t i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof path, "c4gh_keys/ssh-%s", aead[i]);
		size_t len;
		char *text = (char *)test_read_file(test_data(path), &len);
		struct c4gh_pem pem;
		if (c4gh_pem_decode(text, len, &pem) == 0) {
			pem.data[pem.len - 1] ^= 1;
			char *re = NULL;
			struct ward_c4gh_seckey *sk = NULL;
			struct pass_ctx pc = {"pw", 0};
			if (c4gh_pem_encode(pem.label, pem.data, pem.len, &re) == 0)
				CHECK_RC(
				    ward_c4gh_seckey_parse(re, strlen(re), fixed_pass, &pc, &sk),
				    WARD_E_PASSPHRASE, "ssh-%s: altered tag", aead[i]);
			free(re);
			c4gh_pem_clear(&pem);
		}
		free(text);
	}
	struct ward_c4gh_seckey *sk = NULL;
	uint8_t pk[32];
	CHECK_RC(ward_c4gh_seckey_load(test_data("c4gh_keys/ssh-rsa-plain"), NULL, NULL, &sk),
	         WARD_E_UNSUPPORTED, "OpenSSH RSA secret key refused");
	CHECK_RC(ward_c4gh_pubkey_load(test_data("c4gh_keys/ssh-rsa-plain.pub"), pk),
	         WARD_E_UNSUPPORTED, "ssh-rsa public key refused");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_blowfish();
	test_bcrypt_pbkdf();
	for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++)
		test_kat(&kats[i]);
	test_empty_passphrase();
	test_ssh_ciphers();
	test_roundtrip(WARD_C4GH_KDF_NONE, 0, NULL);
	test_roundtrip(WARD_C4GH_KDF_NONE, 0, "plain key comment");
	test_roundtrip(WARD_C4GH_KDF_SCRYPT, 0, "scrypt@example");
	test_roundtrip(WARD_C4GH_KDF_BCRYPT, 0, NULL);
	test_roundtrip(WARD_C4GH_KDF_BCRYPT, 3, "three rounds");
	test_roundtrip(WARD_C4GH_KDF_PBKDF2, 0, NULL);
	test_roundtrip(WARD_C4GH_KDF_PBKDF2, 1000, "pbkdf2 comment");
	test_format_args();
	test_pubkey_format();
	return test_done();
}
