/* Private helpers of the audit log: the signed line format. */
#ifndef WARD_AUDIT_INTERNAL_H
#define WARD_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ward/audit.h"

#define AUDIT_MAX_LINE       65536
#define AUDIT_SIG_DOMAIN     "ward-audit-v1\n"
#define AUDIT_ANCHOR_DOMAIN  "ward-audit-anchor-v1\n"
#define AUDIT_SIG_SUFFIX_LEN (8 + 128 + 2) /* ,"sig":" + hex + "} */

/*
 * Splits a line (without its newline) into the signed body (written into
 * body, which must hold len bytes; *blen set) and the signature.
 * Returns 0 or -1 if the line does not end in ,"sig":"<128 hex>"}.
 */
int audit_line_split(const char *line, size_t len, char *body, size_t *blen, uint8_t sig[64]);

/* Ed25519 check of body under the audit domain. 0 or -1. */
int audit_body_verify(const char *body, size_t blen, const uint8_t sig[64], const uint8_t pk[32]);

/*
 * Reads seq and prev from a verified body. Returns 0 or -1 (not an object,
 * missing or malformed members).
 */
int audit_body_fields(const char *body, size_t blen, uint64_t *seq, uint8_t prev[32]);

/*
 * Verifies one line (without its newline) against the chain state (*seq, hash:
 * the previous entry's sequence number and line hash) and advances it.
 * Returns 0, or WARD_E_BADMSG / WARD_E_FORMAT / WARD_E_NOMEM with *why set.
 */
int audit_line_check(const char *line, size_t len, const uint8_t pk[32], uint64_t *seq,
                     uint8_t hash[32], const char **why);

/* The message an anchor signs: domain || seq (big-endian) || hash. */
size_t audit_anchor_message(const struct ward_audit_pos *pos, uint8_t *msg);

#endif
