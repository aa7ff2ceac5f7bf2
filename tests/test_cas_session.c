/* Tests of the session language: parsing, validation, canonical form, digest, secrets, rendering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "test.h"
#include "ward/session.h"

static struct ward_session *parse(const char *text)
{
	struct ward_session *s = NULL;
	if (ward_session_parse(text, strlen(text), &s) != 0)
		return NULL;
	return s;
}

/* Parses text and expects WARD_E_FORMAT with msg in the error text. */
static void refused(const char *text, const char *msg, const char *what)
{
	struct ward_session *s = NULL;
	int rc = ward_session_parse(text, strlen(text), &s);
	CHECK(rc == WARD_E_FORMAT && s == NULL && strstr(ward_last_error(), msg),
	      "refused: %s (rc %d: %s)", what, rc, ward_last_error());
	ward_session_free(s);
}

static void digest_hex(const struct ward_session *s, char hex[65])
{
	uint8_t d[32] = {0};
	if (ward_session_digest(s, d) != 0)
		memset(d, 0, 32);
	sodium_bin2hex(hex, 65, d, 32);
}

#define M1 "1111111111111111111111111111111111111111111111111111111111111111"
#define M2 "2222222222222222222222222222222222222222222222222222222222222222"

static void test_canonical_vector(void)
{
	/* The canonical form is specified in docs/session.md; this pins it. */
	struct ward_session *s = parse("name: n\n"
	                               "services:\n"
	                               "  - name: s\n"
	                               "    command: prog  a \"b\"\n"
	                               "    environment: {Z: \"1\", A: \"x\\ty\"}\n"
	                               "    attestation: {measurements: [" M1 "]}\n");
	CHECK(s != NULL, "small session parses (%s)", ward_last_error());
	if (!s)
		return;
	char *c;
	size_t len;
	CHECK_RC(ward_session_canonical(s, &c, &len), 0, "canonical");
	const char *want =
	    "{\"access_policy\":{\"read\":[\"CREATOR\"],\"update\":[\"CREATOR\"]},\"name\":\"n\","
	    "\"secrets\":[],\"security\":{\"attestation\":{\"ignore_advisories\":[],\"mode\":"
	    "\"host\",\"tolerate\":[]}},\"services\":[{\"allow_extra_args\":false,"
	    "\"attestation\":{\"measurements\":[\"" M1 "\"],\"uids\":[]},"
	    "\"command\":[\"prog\",\"a\",\"\\\"b\\\"\"],\"environment\":{\"A\":\"x\\ty\","
	    "\"Z\":\"1\"},\"injection_files\":{},\"name\":\"s\",\"pwd\":\"/\"}],\"version\":"
	    "\"0.3\"}";
	if (!CHECK(strcmp(c, want) == 0 && len == strlen(want), "canonical form matches the spec"))
		printf("got:  %s\nwant: %s\n", c, want);
	/* It is JSON, and parsing it back gives the same session. */
	json_object *j = json_tokener_parse(c);
	CHECK(j != NULL, "canonical form is valid JSON");
	json_object_put(j);
	struct ward_session *back = parse(c);
	char h1[65], h2[65];
	digest_hex(s, h1);
	digest_hex(back, h2);
	CHECK(back && strcmp(h1, h2) == 0, "canonical form parses back to the same digest");
	ward_session_text_free(c);
	ward_session_free(back);
	ward_session_free(s);
}

static void test_tutorials(void)
{
	size_t len;
	char *g = (char *)test_read_file(test_data("cas/genomics.yml"), &len);
	struct ward_session *s = NULL;
	CHECK_RC(ward_session_parse(g, len, &s), 0, "tutorial 1 (genomics) session parses");
	if (s) {
		uint8_t owner[32] = {1}, other[32] = {2};
		CHECK(!ward_session_allows(s, WARD_SESSION_READ, owner, owner),
		      "read: [NONE] denies even the creator");
		CHECK(!ward_session_allows(s, WARD_SESSION_UPDATE, owner, other),
		      "update: [NONE] denies others");
		CHECK(ward_session_secret_count(s) == 2, "two secrets");
		int e = ward_session_service_find(s, "encrypt");
		int p = ward_session_service_find(s, "process");
		CHECK(e >= 0 && p >= 0, "both services found");
		CHECK(strcmp(ward_session_service_program(s, (size_t)e), "ward") == 0,
		      "command string split: program is 'ward'");
		CHECK(ward_session_mode(s) == WARD_SESSION_MODE_HOST, "host mode");
	}
	ward_session_free(s);
	free(g);
	char *r = (char *)test_read_file(test_data("cas/radiomics.yml"), &len);
	CHECK_RC(ward_session_parse(r, len, &s), 0, "tutorial 2 (radiomics) session parses");
	if (s) {
		uint8_t pred[32];
		CHECK(ward_session_predecessor(s, pred) == 0, "predecessor: null means create");
		uint8_t owner[32] = {1}, other[32] = {2};
		CHECK(ward_session_allows(s, WARD_SESSION_READ, owner, owner) &&
		          !ward_session_allows(s, WARD_SESSION_READ, owner, other),
		      "default policy: only the creator reads");
	}
	ward_session_free(s);
	free(r);
}

static void test_same_meaning_same_digest(void)
{
	struct ward_session *a = parse("name: x\nservices:\n- name: s\n  command: a b c\n"
	                               "  attestation: {measurements: [" M2 ", " M1 "]}\n");
	struct ward_session *b =
	    parse("{\"services\": [{\"attestation\": {\"measurements\": [\"" M1 "\",\"" M2
	          "\",\"" M1 "\"]}, \"command\": [\"a\",\"b\",\"c\"],"
	          " \"name\": \"s\", \"pwd\": \"/\"}], \"name\": \"x\","
	          " \"version\": \"0.3\", \"access_policy\": {\"read\": "
	          "[\"CREATOR\", \"CREATOR\"]}}");
	char ha[65], hb[65];
	digest_hex(a, ha);
	digest_hex(b, hb);
	CHECK(a && b && strcmp(ha, hb) == 0,
	      "string vs list command, key order, defaults, duplicates: same digest");
	uint8_t pred[32];
	memset(pred, 0xab, 32);
	if (a) {
		ward_session_set_predecessor(a, pred);
		digest_hex(a, ha);
		CHECK(strcmp(ha, hb) != 0, "the predecessor is part of the digest");
		uint8_t got[32];
		CHECK(ward_session_predecessor(a, got) == 1 && memcmp(got, pred, 32) == 0,
		      "predecessor set");
	}
	ward_session_free(a);
	ward_session_free(b);
	struct ward_session *c =
	    parse("name: x\nservices:\n- name: s\n  command: a b d\n  attestation: "
	          "{measurements: [" M1 "]}\n");
	char hc[65];
	digest_hex(c, hc);
	CHECK(c && strcmp(hc, hb) != 0, "a different argument changes the digest");
	ward_session_free(c);
}

static void test_refusals(void)
{
	const char *svc =
	    "services:\n- name: s\n  command: p\n  attestation: {measurements: [" M1 "]}\n";
	char buf[1024];
	refused("name: x\nvolumes: []\n", "unknown key 'volumes'", "volumes (not yet supported)");
	refused("name: x\nsecrets:\n- &a {name: A, kind: ascii}\n- *a\n", "aliases",
	        "YAML aliases");
	refused("name: x\nname: y\n", "duplicate key", "duplicate keys");
	refused("name: x\n---\nname: y\n", "exactly one", "two documents");
	refused("name: [x\n", "line", "YAML syntax error");
	refused("- a\n- b\n", "must be a mapping", "top level list");
	refused("version: \"0.3\"\n", "needs a name", "missing name");
	refused("name: a//b\n", "is not", "bad session name");
	refused("name: a/secrets/b\n", "is not", "reserved name component");
	refused("name: x\nversion: \"0.4\"\n", "version", "unknown version");
	refused("name: x\npredecessor: abc\n", "predecessor", "short predecessor");
	refused("name: x\naccess_policy: {read: [NONE, CREATOR]}\n", "NONE cannot",
	        "NONE with others");
	refused("name: x\naccess_policy: {read: [admin]}\n", "not CREATOR", "bad policy entry");
	refused("name: x\naccess_policy: {read: []}\n", "must be a list", "empty policy");
	refused("name: x\nsecrets:\n- {name: K, kind: rsa}\n", "kind", "unknown kind");
	refused("name: x\nsecrets:\n- {name: K, kind: x25519, size: 16}\n", "size", "key size");
	refused("name: x\nsecrets:\n- {name: K, kind: binary, size: 99999}\n", "size", "huge size");
	refused("name: x\nsecrets:\n- {name: K, kind: ascii, export_public: true}\n", "public half",
	        "export_public on ascii");
	refused("name: x\nsecrets:\n- {name: K, kind: binary}\n- {name: K, kind: ascii}\n", "twice",
	        "duplicate secret");
	refused("name: x\nsecrets:\n- {name: K, kind: binary, value: xyz}\n", "hex",
	        "non-hex binary value");
	snprintf(buf, sizeof buf, "name: x\n%s  environment: {A: \"$$WARD::NOPE:hex$$\"}\n", svc);
	refused(buf, "undeclared secret 'NOPE'", "undeclared reference");
	snprintf(buf, sizeof buf,
	         "name: x\nsecrets: [{name: K, kind: binary}]\n%s  environment: {A: "
	         "\"$$WARD::K$$\"}\n",
	         svc);
	refused(buf, "is binary", "raw binary secret in the environment");
	snprintf(buf, sizeof buf,
	         "name: x\nsecrets: [{name: K, kind: binary}]\n%s  environment: {A: "
	         "\"$$WARD::K:public:hex$$\"}\n",
	         svc);
	refused(buf, "no public half", "public half of a binary secret");
	snprintf(buf, sizeof buf, "name: x\n%s  environment: {A: \"$$WARD::K:hexx$$\"}\n", svc);
	refused(buf, "malformed reference", "malformed reference");
	snprintf(buf, sizeof buf, "name: x\n%s  environment: {A: \"$$SCONE::K:hex$$\"}\n", svc);
	refused(buf, "SCONE reference", "SCONE spelling");
	snprintf(buf, sizeof buf, "name: x\n%s  environment: {\"1A\": b}\n", svc);
	refused(buf, "variable name", "bad variable name");
	snprintf(buf, sizeof buf, "name: x\n%s  injection_files: {\"rel/p\": b}\n", svc);
	refused(buf, "absolute path", "relative injection path");
	snprintf(buf, sizeof buf, "name: x\n%s  pwd: /a/../b\n", svc);
	refused(buf, "absolute path", "pwd with ..");
	refused("name: x\nservices:\n- name: s\n  command: p\n", "no measurement",
	        "host-mode service without measurements");
	refused("name: x\nservices:\n- name: s\n  command: \"$$WARD::K$$ x\"\n  attestation: "
	        "{measurements: [" M1 "]}\n",
	        "program", "reference as the program");
	refused("name: x\nservices:\n- name: s\n  command: \"p\\x01\"\n  attestation: "
	        "{measurements: [" M1 "]}\n",
	        "control characters", "control character in argv");
	refused("name: x\nservices:\n- name: s\n  command: p\n  mrenclaves: [" M1 "]\n",
	        "unknown key 'mrenclaves'", "SCONE mrenclaves key");
	/* Deep nesting stops at the depth limit instead of recursing without bound. */
	char deep[400];
	memset(deep, '[', 300);
	deep[300] = '\0';
	refused(deep, "line", "deeply nested document");
	struct ward_session *s = NULL;
	CHECK_RC(ward_session_parse("name: x", WARD_SESSION_MAX_TEXT + 1, &s), WARD_E_RANGE,
	         "oversized document refused");
	refused("name: x\nservices:\n- name: s\n  command: p\n  attestation: {measurements: [" M1
	        "], uids: [-1]}\n",
	        "user id", "negative uid");
	s = parse("name: x\nservices:\n- name: s\n  command: p\n  allow_extra_args: true\n"
	          "  attestation: {measurements: [" M1 "], uids: [1000, 0, 1000]}\n");
	const uint32_t *uids = NULL;
	CHECK(s && ward_session_service_uids(s, 0, &uids) == 2 && uids[0] == 0 && uids[1] == 1000,
	      "uids sorted and distinct");
	ward_session_free(s);
	/* mode none needs no measurements (the service decides whether it accepts the mode). */
	s = parse("name: x\nsecurity: {attestation: {mode: none}}\nservices:\n- name: s\n"
	          "  command: p\n");
	CHECK(s && ward_session_mode(s) == WARD_SESSION_MODE_NONE, "mode none parses");
	ward_session_free(s);
}

static void test_secrets_and_render(void)
{
	const char *text =
	    "name: r\nsecrets:\n"
	    "- {name: A, kind: ascii, size: 20}\n"
	    "- {name: B, kind: binary, size: 32}\n"
	    "- {name: X, kind: x25519, export_public: true}\n"
	    "- {name: E, kind: ed25519}\n"
	    "- {name: V, kind: binary, value: 00ff10}\n"
	    "services:\n- name: s\n"
	    "  command: [prog, \"--key=$$WARD::B:hex$$\", \"$$WARD::A$$\"]\n"
	    "  environment: {PUB: \"$$WARD::X:public:hex$$\", B64: \"$$WARD::V:base64$$\"}\n"
	    "  injection_files: {/etc/k: \"raw=$$WARD::V$$;\"}\n"
	    "  pwd: /work\n"
	    "  attestation: {measurements: [" M1 "]}\n";
	struct ward_session *s = parse(text);
	CHECK(s != NULL, "secret session parses (%s)", ward_last_error());
	if (!s)
		return;
	struct ward_secret_set *v1 = NULL, *v2 = NULL;
	CHECK_RC(ward_session_secrets_resolve(s, NULL, &v1), 0, "resolve (generate)");
	enum ward_secret_kind k;
	size_t len;
	const uint8_t *a = ward_secret_set_get(v1, "A", &k, &len);
	int alnum = a && len == 20;
	for (size_t i = 0; alnum && i < len; i++)
		alnum = (a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'z') ||
		        (a[i] >= 'A' && a[i] <= 'Z');
	CHECK(alnum && k == WARD_SECRET_ASCII, "ascii secret: 20 alphanumerics");
	const uint8_t *vv = ward_secret_set_get(v1, "V", NULL, &len);
	CHECK(vv && len == 3 && vv[0] == 0 && vv[1] == 0xff && vv[2] == 0x10,
	      "explicit value used");
	CHECK_RC(ward_session_secrets_resolve(s, v1, &v2), 0, "resolve with previous values");
	size_t l1, l2;
	const uint8_t *b1 = ward_secret_set_get(v1, "B", NULL, &l1);
	const uint8_t *b2 = ward_secret_set_get(v2, "B", NULL, &l2);
	CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0, "generated secret kept on update");
	struct ward_secret_set *fresh = NULL;
	CHECK_RC(ward_session_secrets_resolve(s, NULL, &fresh), 0, "resolve again from scratch");
	const uint8_t *b3 = ward_secret_set_get(fresh, "B", NULL, &l2);
	CHECK(b3 && memcmp(b1, b3, 32) != 0, "fresh generation differs");
	ward_secret_set_free(fresh);

	char *cfg;
	size_t clen;
	CHECK_RC(ward_session_render(s, 0, v2, &cfg, &clen), 0, "render service");
	json_object *j = json_tokener_parse(cfg);
	CHECK(j != NULL, "rendered config is JSON");
	json_object *cmd, *env, *files, *pwd, *meas, *x;
	char hex[65], pubhex[65];
	sodium_bin2hex(hex, sizeof hex, b1, 32);
	char want_arg[80];
	snprintf(want_arg, sizeof want_arg, "--key=%s", hex);
	CHECK(j && json_object_object_get_ex(j, "command", &cmd) &&
	          json_object_array_length(cmd) == 3 &&
	          strcmp(json_object_get_string(json_object_array_get_idx(cmd, 1)), want_arg) ==
	              0 &&
	          strncmp(json_object_get_string(json_object_array_get_idx(cmd, 2)),
	                  (const char *)a, 20) == 0,
	      "argv has hex and raw ascii substitutions");
	const uint8_t *xk = ward_secret_set_get(v2, "X", NULL, &len);
	uint8_t pk[32];
	crypto_scalarmult_base(pk, xk);
	sodium_bin2hex(pubhex, sizeof pubhex, pk, 32);
	CHECK(j && json_object_object_get_ex(j, "environment", &env) &&
	          json_object_object_get_ex(env, "PUB", &x) &&
	          strcmp(json_object_get_string(x), pubhex) == 0,
	      ":public:hex is the X25519 public key");
	CHECK(json_object_object_get_ex(env, "B64", &x) &&
	          strcmp(json_object_get_string(x), "AP8Q") == 0,
	      ":base64 of 00ff10 is AP8Q");
	CHECK(json_object_object_get_ex(j, "injection_files", &files) &&
	          json_object_object_get_ex(files, "/etc/k", &x) &&
	          strcmp(json_object_get_string(x), "cmF3PQD/EDs=") == 0,
	      "injection file content is base64 of the raw substitution");
	CHECK(json_object_object_get_ex(j, "pwd", &pwd) &&
	          strcmp(json_object_get_string(pwd), "/work") == 0 &&
	          json_object_object_get_ex(j, "measurements", &meas) &&
	          strcmp(json_object_get_string(json_object_array_get_idx(meas, 0)), M1) == 0,
	      "pwd and measurements rendered");
	json_object_put(j);
	ward_session_text_free(cfg);

	/* The canonical form never contains generated values. */
	char *c;
	CHECK_RC(ward_session_canonical(s, &c, &clen), 0, "canonical");
	CHECK(!strstr(c, hex) && strstr(c, "\"value\":\"00ff10\""),
	      "canonical form has the explicit value and not the generated one");
	ward_session_text_free(c);

	/* An update changing B's kind regenerates it; a missing value is an error at render. */
	struct ward_session *s2 = parse("name: r\nsecrets:\n- {name: B, kind: ascii, size: 32}\n");
	struct ward_secret_set *v3 = NULL;
	CHECK(s2 && ward_session_secrets_resolve(s2, v2, &v3) == 0 &&
	          memcmp(ward_secret_set_get(v3, "B", &k, &len), b1, 32) != 0 &&
	          k == WARD_SECRET_ASCII,
	      "changing a secret's kind generates a new value");
	struct ward_secret_set *empty = NULL;
	CHECK_RC(ward_secret_set_new(&empty), 0, "empty set");
	CHECK_RC(ward_session_render(s, 0, empty, &cfg, &clen), WARD_E_NOTFOUND,
	         "render without values fails");
	uint8_t epk[32];
	const uint8_t *ek = ward_secret_set_get(v2, "E", NULL, &len);
	uint8_t esk[64], epk2[32];
	crypto_sign_seed_keypair(epk2, esk, ek);
	CHECK(ward_secret_public(WARD_SECRET_ED25519, ek, 32, epk) == 0 &&
	          memcmp(epk, epk2, 32) == 0,
	      "ed25519 public half from the seed");
	CHECK_RC(ward_secret_public(WARD_SECRET_BINARY, ek, 32, epk), WARD_E_INVAL,
	         "binary secrets have no public half");
	ward_secret_set_free(empty);
	ward_secret_set_free(v3);
	ward_session_free(s2);
	ward_secret_set_free(v1);
	ward_secret_set_free(v2);
	ward_session_free(s);
}

static void test_policy(void)
{
	char text[512];
	uint8_t owner[32], friend[32], other[32];
	memset(owner, 1, 32);
	memset(friend, 0xcd, 32);
	memset(other, 3, 32);
	char fh[65];
	sodium_bin2hex(fh, sizeof fh, friend, 32);
	for (int i = 0; fh[i]; i++) /* hashes are case-insensitive */
		if (i % 2)
			fh[i] = (char)(fh[i] >= 'a' ? fh[i] - 32 : fh[i]);
	snprintf(text, sizeof text,
	         "name: p\naccess_policy: {read: [CREATOR, \"%s\"], update: [ANY]}\n", fh);
	struct ward_session *s = parse(text);
	CHECK(s != NULL, "policy session parses (%s)", ward_last_error());
	if (!s)
		return;
	CHECK(ward_session_allows(s, WARD_SESSION_READ, owner, owner), "creator reads");
	CHECK(ward_session_allows(s, WARD_SESSION_READ, owner, friend), "listed key reads");
	CHECK(!ward_session_allows(s, WARD_SESSION_READ, owner, other), "other key cannot read");
	CHECK(ward_session_allows(s, WARD_SESSION_UPDATE, owner, other), "ANY updates");
	ward_session_free(s);
}

int main(void)
{
	test_canonical_vector();
	test_tutorials();
	test_same_meaning_same_digest();
	test_refusals();
	test_secrets_and_render();
	test_policy();
	return test_done();
}
