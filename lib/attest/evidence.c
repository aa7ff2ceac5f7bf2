/* Host evidence: the binary record, Ed25519 signing and the checks the CAS makes. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "attest/attest_internal.h"

static ward_attest_sgx_verify_fn sgx_fn;
static void *sgx_ctx;

void ward_attest_sgx_set_verifier(ward_attest_sgx_verify_fn fn, void *ctx)
{
	sgx_fn = fn;
	sgx_ctx = ctx;
}

void ward_attest_report_data(const uint8_t pubkey[32], const uint8_t nonce[32],
                             const char *config_id, uint8_t out[32])
{
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, pubkey, 32);
	crypto_hash_sha256_update(&st, nonce, 32);
	crypto_hash_sha256_update(&st, (const uint8_t *)config_id, strlen(config_id));
	crypto_hash_sha256_final(&st, out);
}

int attest_in_list(const uint8_t a[32], const uint8_t (*list)[32], size_t n)
{
	int found = 0;
	/* Every entry is compared so the time does not say which one matched. */
	for (size_t i = 0; i < n; i++)
		found |= sodium_memcmp(a, list[i], 32) == 0;
	return found;
}

static int all_zero(const uint8_t *p, size_t n)
{
	return sodium_is_zero(p, n);
}

/* sgx layout: header, u32 quote length, quote, u32 collateral length, collateral. */
static int parse_sgx(const uint8_t *ev, size_t len, const uint8_t **quote, size_t *qlen,
                     const uint8_t **coll, size_t *clen)
{
	size_t off = EV_HEADER_BYTES;
	if (len - off < 4)
		return ward_error(WARD_E_TRUNCATED, "sgx evidence: missing quote length");
	*qlen = ward_load32_le(ev + off);
	off += 4;
	if (*qlen > len - off)
		return ward_error(WARD_E_TRUNCATED, "sgx evidence: quote length past the end");
	*quote = ev + off;
	off += *qlen;
	if (len - off < 4)
		return ward_error(WARD_E_TRUNCATED, "sgx evidence: missing collateral length");
	*clen = ward_load32_le(ev + off);
	off += 4;
	if (*clen != len - off)
		return ward_error(WARD_E_FORMAT, "sgx evidence: collateral length does not match");
	*coll = ev + off;
	return 0;
}

static int parse_header(const uint8_t *ev, size_t len)
{
	if (!ev || len < EV_HEADER_BYTES)
		return ward_error(WARD_E_TRUNCATED, "evidence: %zu bytes, too short", len);
	if (len > WARD_ATTEST_MAX_EVIDENCE)
		return ward_error(WARD_E_FORMAT, "evidence: %zu bytes, too long", len);
	if (memcmp(ev + EV_OFF_MAGIC, EV_MAGIC, 4) != 0)
		return ward_error(WARD_E_FORMAT, "evidence: bad magic");
	if (ev[EV_OFF_VERSION] != EV_VERSION)
		return ward_error(WARD_E_FORMAT, "evidence: unknown version %u",
		                  ev[EV_OFF_VERSION]);
	if (ev[EV_OFF_RSV1] != 0)
		return ward_error(WARD_E_FORMAT, "evidence: reserved byte set");
	return 0;
}

static int parse_host(const uint8_t *ev, size_t len, struct ward_attest_claims *c)
{
	if (len < WARD_ATTEST_EVIDENCE_BYTES)
		return ward_error(WARD_E_TRUNCATED, "evidence: %zu bytes, host evidence has %u",
		                  len, WARD_ATTEST_EVIDENCE_BYTES);
	if (len > WARD_ATTEST_EVIDENCE_BYTES)
		return ward_error(WARD_E_FORMAT, "evidence: %zu bytes, host evidence has %u", len,
		                  WARD_ATTEST_EVIDENCE_BYTES);
	uint8_t flags = ev[EV_OFF_FLAGS];
	if (flags & ~WARD_ATTEST_HAS_WORKLOAD)
		return ward_error(WARD_E_FORMAT, "evidence: unknown flags 0x%02x", flags);
	if (!(flags & WARD_ATTEST_HAS_WORKLOAD) && !all_zero(ev + EV_OFF_WORKLOAD, 32))
		return ward_error(WARD_E_FORMAT, "evidence: workload measurement without its flag");
	if (!all_zero(ev + EV_OFF_RSV2, 4))
		return ward_error(WARD_E_FORMAT, "evidence: reserved bytes set");
	c->version = ev[EV_OFF_VERSION];
	c->mode = WARD_ATTEST_MODE_HOST;
	c->flags = flags;
	memcpy(c->platform, ev + EV_OFF_PLATFORM, 32);
	memcpy(c->launcher, ev + EV_OFF_LAUNCHER, 32);
	memcpy(c->workload, ev + EV_OFF_WORKLOAD, 32);
	memcpy(c->report_data, ev + EV_OFF_RDATA, 32);
	memcpy(c->nonce, ev + EV_OFF_NONCE, 32);
	memcpy(c->las_nonce, ev + EV_OFF_LASNONCE, WARD_ATTEST_LASNONCEBYTES);
	c->time = (int64_t)ward_load64_le(ev + EV_OFF_TIME);
	c->pid = ward_load32_le(ev + EV_OFF_PID);
	c->uid = ward_load32_le(ev + EV_OFF_UID);
	c->gid = ward_load32_le(ev + EV_OFF_GID);
	return 0;
}

int ward_attest_evidence_parse(const uint8_t *ev, size_t len, struct ward_attest_claims *out)
{
	memset(out, 0, sizeof *out);
	int rc = parse_header(ev, len);
	if (rc < 0)
		return rc;
	switch (ev[EV_OFF_MODE]) {
	case WARD_ATTEST_MODE_HOST:
		rc = parse_host(ev, len, out);
		break;
	case WARD_ATTEST_MODE_SGX: {
		const uint8_t *q, *col;
		size_t ql, cl;
		rc = parse_sgx(ev, len, &q, &ql, &col, &cl);
		if (rc == 0)
			rc = ward_error(WARD_E_UNSUPPORTED,
			                "sgx evidence: the quote is read only by a DCAP verifier");
		break;
	}
	default:
		rc = ward_error(WARD_E_FORMAT, "evidence: unknown mode %u", ev[EV_OFF_MODE]);
	}
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}

static int verify_sgx(const uint8_t *ev, size_t len, int64_t now, struct ward_attest_claims *out)
{
	const uint8_t *q, *col;
	size_t ql, cl;
	int rc = parse_sgx(ev, len, &q, &ql, &col, &cl);
	if (rc < 0)
		return rc;
	if (!sgx_fn)
		return ward_error(WARD_E_UNSUPPORTED,
		                  "sgx attestation is not available yet (no DCAP quote verifier "
		                  "in this build); use mode host");
	struct ward_attest_sgx_report r;
	memset(&r, 0, sizeof r);
	rc = sgx_fn(sgx_ctx, q, ql, col, cl, now, &r);
	if (rc < 0)
		return rc;
	out->version = ev[EV_OFF_VERSION];
	out->mode = WARD_ATTEST_MODE_SGX;
	out->flags = WARD_ATTEST_HAS_WORKLOAD;
	memcpy(out->workload, r.mrenclave, 32);
	memcpy(out->report_data, r.report_data, 32);
	memcpy(out->nonce, r.report_data + 32, 32);
	out->time = now;
	return 0;
}

/* |t - now| <= skew, computed without overflow for any two 64-bit times. */
static int check_time(int64_t t, int64_t now)
{
	int64_t d;
	if (__builtin_sub_overflow(t, now, &d) || d > WARD_ATTEST_MAX_SKEW ||
	    d < -WARD_ATTEST_MAX_SKEW) {
		if (t > now)
			return ward_error(WARD_E_DENIED,
			                  "evidence is from the future (time %lld, "
			                  "now %lld)",
			                  (long long)t, (long long)now);
		return ward_error(WARD_E_DENIED,
		                  "evidence is stale (time %lld, now %lld, limit %d s)",
		                  (long long)t, (long long)now, WARD_ATTEST_MAX_SKEW);
	}
	return 0;
}

static int verify(const uint8_t *ev, size_t len, const uint8_t (*enrolled)[32], size_t n,
                  int64_t now, struct ward_attest_claims *out)
{
	int rc = parse_header(ev, len);
	if (rc < 0)
		return rc;
	if (ev[EV_OFF_MODE] == WARD_ATTEST_MODE_SGX)
		return verify_sgx(ev, len, now, out);
	if (ev[EV_OFF_MODE] != WARD_ATTEST_MODE_HOST)
		return ward_error(WARD_E_FORMAT, "evidence: unknown mode %u", ev[EV_OFF_MODE]);
	rc = parse_host(ev, len, out);
	if (rc < 0)
		return rc;
	if (!attest_in_list(out->platform, enrolled, n))
		return ward_error(WARD_E_DENIED, "evidence is signed by a platform (LAS key) that "
		                                 "is not enrolled");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	if (crypto_sign_verify_detached(ev + EV_OFF_SIG, ev, EV_SIGNED_BYTES, out->platform) != 0)
		return ward_error(WARD_E_BADMSG, "evidence signature does not verify");
	return check_time(out->time, now);
}

int ward_attest_evidence_verify(const uint8_t *ev, size_t len, const uint8_t (*enrolled)[32],
                                size_t n, int64_t now, struct ward_attest_claims *out)
{
	memset(out, 0, sizeof *out);
	if (now == 0)
		now = (int64_t)time(NULL);
	int rc = verify(ev, len, enrolled, n, now, out);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}

/* The checks after the signature: binding, measurements, uid. */
static int check_claims(const struct ward_attest_claims *c, const struct ward_attest_expect *x)
{
	uint8_t want[32];
	ward_attest_report_data(x->pubkey, c->nonce, x->config_id, want);
	if (sodium_memcmp(want, c->report_data, 32) != 0)
		return ward_error(WARD_E_DENIED, "evidence report data does not bind this key, "
		                                 "nonce and config id");
	if (x->nonce && sodium_memcmp(x->nonce, c->nonce, 32) != 0)
		return ward_error(WARD_E_DENIED, "evidence is for another nonce");
	if (c->mode != WARD_ATTEST_MODE_HOST)
		return ward_error(WARD_E_DENIED, "not host-mode evidence");
	char hex[65];
	if (!attest_in_list(c->launcher, x->launchers, x->n_launchers)) {
		ward_attest_hex(c->launcher, hex);
		return ward_error(WARD_E_DENIED, "launcher measurement %s is not trusted", hex);
	}
	if (!(c->flags & WARD_ATTEST_HAS_WORKLOAD))
		return ward_error(WARD_E_DENIED, "evidence has no workload measurement");
	if (!attest_in_list(c->workload, x->workloads, x->n_workloads)) {
		ward_attest_hex(c->workload, hex);
		return ward_error(WARD_E_DENIED,
		                  "workload measurement %s is not accepted by the service", hex);
	}
	if (x->n_uids > 0) {
		int ok = 0;
		for (size_t i = 0; i < x->n_uids; i++)
			ok |= x->uids[i] == c->uid;
		if (!ok)
			return ward_error(WARD_E_DENIED, "uid %u may not run this service", c->uid);
	}
	return 0;
}

int ward_attest_host_check(const uint8_t *ev, size_t len, const struct ward_attest_expect *x,
                           struct ward_attest_claims *out)
{
	memset(out, 0, sizeof *out);
	if (!x || !x->pubkey || !x->config_id)
		return ward_error(WARD_E_INVAL, "attestation check: missing key or config id");
	int rc = ward_attest_evidence_verify(ev, len, x->platforms, x->n_platforms, x->now, out);
	if (rc == 0)
		rc = check_claims(out, x);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}

int ward_attest_evidence_sign(const struct ward_attest_claims *c, const struct ward_attest_key *k,
                              uint8_t out[WARD_ATTEST_EVIDENCE_BYTES])
{
	if (c->flags & ~WARD_ATTEST_HAS_WORKLOAD)
		return ward_error(WARD_E_INVAL, "evidence: unknown flags");
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	memset(out, 0, WARD_ATTEST_EVIDENCE_BYTES);
	memcpy(out + EV_OFF_MAGIC, EV_MAGIC, 4);
	out[EV_OFF_VERSION] = EV_VERSION;
	out[EV_OFF_MODE] = WARD_ATTEST_MODE_HOST;
	out[EV_OFF_FLAGS] = c->flags;
	memcpy(out + EV_OFF_PLATFORM, k->pk, 32);
	memcpy(out + EV_OFF_LAUNCHER, c->launcher, 32);
	if (c->flags & WARD_ATTEST_HAS_WORKLOAD)
		memcpy(out + EV_OFF_WORKLOAD, c->workload, 32);
	memcpy(out + EV_OFF_RDATA, c->report_data, 32);
	memcpy(out + EV_OFF_NONCE, c->nonce, 32);
	memcpy(out + EV_OFF_LASNONCE, c->las_nonce, WARD_ATTEST_LASNONCEBYTES);
	ward_store64_le(out + EV_OFF_TIME, (uint64_t)c->time);
	ward_store32_le(out + EV_OFF_PID, c->pid);
	ward_store32_le(out + EV_OFF_UID, c->uid);
	ward_store32_le(out + EV_OFF_GID, c->gid);
	crypto_sign_detached(out + EV_OFF_SIG, NULL, out, EV_SIGNED_BYTES, k->sk);
	return 0;
}

int ward_attest_mode_check(const char *name, int insecure_allowed, enum ward_attest_mode *mode)
{
	if (!name)
		return ward_error(WARD_E_FORMAT, "attestation mode missing");
	if (strcmp(name, "host") == 0) {
		if (mode)
			*mode = WARD_ATTEST_MODE_HOST;
		return 0;
	}
	if (strcmp(name, "sgx") == 0 && sgx_fn) {
		if (mode)
			*mode = WARD_ATTEST_MODE_SGX;
		return 0;
	}
	if (strcmp(name, "sgx") == 0)
		return ward_error(WARD_E_UNSUPPORTED,
		                  "sgx attestation is not available yet (no DCAP quote verifier "
		                  "in this build); use mode host");
	if (strcmp(name, "none") == 0) {
		if (!insecure_allowed)
			return ward_error(WARD_E_DENIED, "attestation mode none is refused: the "
			                                 "service was not started with the "
			                                 "insecure flag");
		if (mode)
			*mode = WARD_ATTEST_MODE_NONE;
		return 0;
	}
	return ward_error(WARD_E_FORMAT, "unknown attestation mode '%.32s' (host, sgx or none)",
	                  name);
}

void ward_attest_hex(const uint8_t in[32], char out[65])
{
	sodium_bin2hex(out, 65, in, 32);
}

int ward_attest_unhex(const char *hex, uint8_t out[32])
{
	size_t n = 0;
	const char *end = NULL;
	if (!hex || strlen(hex) != 64 || sodium_hex2bin(out, 32, hex, 64, NULL, &n, &end) != 0 ||
	    n != 32 || *end != '\0')
		return ward_error(WARD_E_FORMAT, "expected 64 hex digits");
	return 0;
}
