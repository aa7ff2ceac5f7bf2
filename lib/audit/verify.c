/* Verifying an audit log: signatures, sequence, hash chain, and the checkpoint against truncation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "core/core_internal.h"

static int problem(struct ward_audit_report *rep, int code, uint64_t line, const char *what)
{
	rep->bad_line = line;
	snprintf(rep->problem, sizeof rep->problem, "%s", what);
	if (line)
		return ward_error(code, "audit log line %llu: %s", (unsigned long long)line, what);
	return ward_error(code, "audit log: %s", what);
}

/* Is the entry at pos (if given) the one this line is? 0 if not pos's line or it matches. */
static int check_pos(const struct ward_audit_pos *pos, uint64_t seq, const uint8_t hash[32],
                     int *seen)
{
	if (!pos || seq != pos->seq)
		return 0;
	*seen = 1;
	return sodium_memcmp(hash, pos->hash, 32) != 0;
}

/* After the whole log: was every given position in it? */
static int check_seen(struct ward_audit_report *rep, const struct ward_audit_pos *pos, int seen,
                      uint64_t seq, const char *who)
{
	if (!pos || seen)
		return 0;
	char msg[180];
	snprintf(msg, sizeof msg,
	         "log ends at entry %llu but the %s records entry %llu (truncated or rolled back)",
	         (unsigned long long)seq, who, (unsigned long long)pos->seq);
	return problem(rep, WARD_E_TRUNCATED, 0, msg);
}

int ward_audit_verify(const char *path, const uint8_t pk[32],
                      const struct ward_audit_anchor *anchor, struct ward_audit_report *rep)
{
	return ward_audit_verify_witness(path, pk, anchor, NULL, rep);
}

int ward_audit_verify_witness(const char *path, const uint8_t pk[32],
                              const struct ward_audit_anchor *anchor,
                              const struct ward_audit_pos *witness, struct ward_audit_report *rep)
{
	memset(rep, 0, sizeof *rep);
	if (anchor && ward_audit_anchor_check(anchor, pk))
		return problem(rep, WARD_E_BADMSG, 0, "checkpoint signature does not verify");
	FILE *f = fopen(path, "re");
	if (!f)
		return ward_error_errno("%s", path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t seq = 0, lineno = 0;
	uint8_t hash[32] = {0};
	int rc = 0, anchor_seen = 0, witness_seen = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			rc = problem(rep, WARD_E_TRUNCATED, lineno, "last line is incomplete");
			break;
		}
		if ((size_t)n > AUDIT_MAX_LINE) {
			rc = problem(rep, WARD_E_FORMAT, lineno, "line too long");
			break;
		}
		const char *why = NULL;
		if ((rc = audit_line_check(line, (size_t)n - 1, pk, &seq, hash, &why))) {
			rc = problem(rep, rc, lineno, why);
			break;
		}
		rep->entries++;
		rep->last_seq = seq;
		memcpy(rep->last_hash, hash, 32);
		if (check_pos(anchor ? &anchor->pos : NULL, seq, hash, &anchor_seen)) {
			rc = problem(rep, WARD_E_BADMSG, lineno,
			             "entry differs from the checkpoint (log rewritten)");
			break;
		}
		if (check_pos(witness, seq, hash, &witness_seen)) {
			rc = problem(
			    rep, WARD_E_BADMSG, lineno,
			    "entry differs from the witness (log rolled back and rewritten)");
			break;
		}
	}
	if (!rc && ferror(f))
		rc = problem(rep, WARD_E_IO, lineno, strerror(errno));
	free(line);
	fclose(f);
	if (!rc)
		rc = check_seen(rep, anchor ? &anchor->pos : NULL, anchor_seen, seq, "checkpoint");
	if (!rc)
		rc = check_seen(rep, witness, witness_seen, seq, "witness");
	if (!rc && rep->entries == 0)
		rc = problem(rep, WARD_E_TRUNCATED, 0, "the log is empty");
	return rc;
}
