/*
 * The key service's append-only audit log: one JSON object per line, each
 * signed with Ed25519 over its body, which names the SHA-256 of the previous
 * line (a hash chain). Checkpoints ("anchors": sequence number and line hash,
 * signed) are kept by the caller elsewhere (the store's database) so that
 * truncating the file or rolling it back is detected. Entries never hold
 * secret values: callers pass names, digests and key hashes only.
 *
 * Line format (docs/cas.md):
 *   {"seq":N,"time":UNIX,"prev":"<64 hex>","event":"...",<fields>,"sig":"<128 hex>"}
 * The signed body is the line up to (excluding) ',"sig":' followed by '}'.
 *
 * Thread safety: ward_audit_append may be called from many threads at once;
 * appends are ordered and made durable together (group commit).
 */
#ifndef WARD_AUDIT_H
#define WARD_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ward_audit;
struct json_object;

/* A position in the log: an entry's sequence number and line hash. */
struct ward_audit_pos {
	uint64_t seq;
	uint8_t hash[32];
};

/* A signed checkpoint: the log has at least the entry pos. */
struct ward_audit_anchor {
	struct ward_audit_pos pos;
	uint8_t sig[64];
};

/*
 * Opens (creating with mode 0600) the log at path for appending with the
 * Ed25519 secret key sk (libsodium's 64-byte form, copied into guarded
 * memory). A torn last line (no newline: the process died mid-write, so it
 * was never acknowledged) is cut off and the cut is logged. A new log starts
 * with a "log.start" entry naming the public key.
 * Errors: WARD_E_IO, WARD_E_FORMAT (the last entry is not valid),
 * WARD_E_BADMSG (the last entry was signed by another key).
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_open(const char *path, const uint8_t sk[64],
                                               struct ward_audit **out) WARD_NONNULL(1, 2, 3);

/*
 * The same, given the position the store's checkpoint records (may be NULL):
 * the torn-tail repair then never cuts bytes the checkpoint covers. If the
 * last complete entry comes before the checkpointed one (or, at the same
 * sequence number, differs from it), the log was altered: the call fails
 * with WARD_E_BADMSG and changes nothing on disk. Whether the log reaches
 * the checkpoint at all is the caller's check (ward_audit_last).
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_open_at(const char *path, const uint8_t sk[64],
                                                  const struct ward_audit_pos *checkpoint,
                                                  struct ward_audit **out) WARD_NONNULL(1, 2, 4);

/* Closes and wipes the key. Accepts NULL. */
WARD_EXPORT void ward_audit_close(struct ward_audit *a);

/*
 * Appends one entry: event (e.g. "session.create") plus the members of
 * fields (a json-c object, may be NULL; its values must not be secrets) and
 * returns once the line is on disk (fdatasync). *pos receives the entry's
 * position (may be NULL). If the line cannot be written or synced, the error
 * is returned and, when the file's state is uncertain, every later append
 * fails too (fail-closed) until the log is reopened.
 * Errors: WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_append(struct ward_audit *a, const char *event,
                                                 struct json_object *fields,
                                                 struct ward_audit_pos *pos) WARD_NONNULL(1, 2);

/*
 * The same, but returns once the entry is written (write(2): it survives the
 * process being killed) without waiting for it to reach the disk; a later
 * ward_audit_sync makes it durable. For high-rate events whose loss in a
 * power failure is acceptable for a short window.
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_append_nowait(struct ward_audit *a, const char *event,
                                                        struct json_object *fields,
                                                        struct ward_audit_pos *pos)
    WARD_NONNULL(1, 2);

/* Makes every entry written so far durable (fdatasync, shared with concurrent callers). */
WARD_EXPORT WARD_NODISCARD int ward_audit_sync(struct ward_audit *a) WARD_NONNULL(1);

/* The latest durable position. */
WARD_EXPORT void ward_audit_last(struct ward_audit *a, struct ward_audit_pos *pos)
    WARD_NONNULL(1, 2);

/* Signs a checkpoint for pos. */
WARD_EXPORT void ward_audit_anchor_sign(const struct ward_audit *a,
                                        const struct ward_audit_pos *pos,
                                        struct ward_audit_anchor *out) WARD_NONNULL(1, 2, 3);

/* The public key of the log's signing key. */
WARD_EXPORT void ward_audit_public_key(const struct ward_audit *a, uint8_t pk[32])
    WARD_NONNULL(1, 2);

/* What ward_audit_verify found. */
struct ward_audit_report {
	uint64_t entries;      /* lines that verified */
	uint64_t last_seq;     /* sequence number of the last good entry */
	uint8_t last_hash[32]; /* its line hash: a witness to keep elsewhere */
	uint64_t bad_line;     /* 1-based line of the first problem, 0 if none */
	char problem[200];     /* what is wrong, "" if nothing */
};

/*
 * Verifies the whole log at path with public key pk: every signature, the
 * sequence numbers (1, 2, ...), the hash chain, and, if anchor is given, its
 * signature and that the log still holds the anchored entry unchanged
 * (truncation and rollback before the checkpoint are detected).
 * Returns 0 when everything verifies, WARD_E_BADMSG (tampering: bad
 * signature, broken chain, anchor mismatch), WARD_E_TRUNCATED (entries
 * missing before the checkpoint, or a torn last line), WARD_E_FORMAT or
 * WARD_E_IO; rep says where.
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_verify(const char *path, const uint8_t pk[32],
                                                 const struct ward_audit_anchor *anchor,
                                                 struct ward_audit_report *rep)
    WARD_NONNULL(1, 2, 4);

/* Checks an anchor's signature (0 or WARD_E_BADMSG). */
/*
 * The same, and, if witness is given, that the log still holds that entry
 * unchanged. A witness is a position (ward_audit_report's last_seq and
 * last_hash) the operator kept outside the data directory: it catches a
 * rollback of the log and the database together, which the checkpoint
 * (stored in the database) cannot.
 */
WARD_EXPORT WARD_NODISCARD int ward_audit_verify_witness(const char *path, const uint8_t pk[32],
                                                         const struct ward_audit_anchor *anchor,
                                                         const struct ward_audit_pos *witness,
                                                         struct ward_audit_report *rep)
    WARD_NONNULL(1, 2, 5);

WARD_EXPORT WARD_NODISCARD int ward_audit_anchor_check(const struct ward_audit_anchor *anchor,
                                                       const uint8_t pk[32]) WARD_NONNULL(1, 2);

/* One entry after a checkpoint, as ward_audit_scan_after shows it to its visitor. */
struct ward_audit_entry {
	uint64_t seq;
	const char *event;  /* "" if the entry has none */
	const char *result; /* NULL if the entry has no "result" member */
};

/* Called for each entry in order; a non-zero return stops the scan and is returned. */
typedef int (*ward_audit_visit_fn)(void *ctx, const struct ward_audit_entry *e);

/*
 * Reads the log at path from the checkpointed entry from on, changing
 * nothing: the line numbered from->seq must be that entry, complete and
 * unchanged; every later complete line must be signed with pk, numbered in
 * sequence and chained. visit sees each later entry (its strings live until
 * it returns). A last line without newline (a torn write) is not visited.
 * *last_seq receives the last complete entry's number.
 * Errors: WARD_E_TRUNCATED (the log ends before from), WARD_E_BADMSG (the
 * checkpointed entry differs or lost its final newline; a later entry is
 * forged, reordered or unchained), WARD_E_FORMAT, WARD_E_IO, or visit's code.
 * Cost: one pass over the bytes before from (newline counting), signature
 * checks only after it.
 */
WARD_EXPORT WARD_NODISCARD int
ward_audit_scan_after(const char *path, const uint8_t pk[32], const struct ward_audit_pos *from,
                      ward_audit_visit_fn visit, void *ctx, uint64_t *last_seq)
    WARD_NONNULL(1, 2, 3, 4, 6);

#ifdef __cplusplus
}
#endif
#endif
