/* Reading the entries after a checkpoint (read-only), for the store's rollback check. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "core/core_internal.h"

/*
 * Positions f at the start of line `lineno` (1-based). Entry n is line n in
 * any log this library wrote, so counting newlines finds the checkpointed
 * entry without parsing or verifying the lines before it.
 */
static int seek_line(FILE *f, uint64_t lineno, const char *path)
{
	enum { CHUNK = 1 << 16 };
	if (lineno <= 1)
		return 0;
	char *buf = malloc(CHUNK);
	if (!buf)
		return ward_error(WARD_E_NOMEM, "out of memory");
	uint64_t seen = 0;
	off_t base = 0, off = 0;
	size_t n;
	int found = 0;
	while (!found && (n = fread(buf, 1, CHUNK, f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const char *nl = memchr(buf + i, '\n', n - i);
			if (!nl)
				break;
			i = (size_t)(nl - buf);
			if (++seen + 1 == lineno) {
				off = base + (off_t)i + 1;
				found = 1;
				break;
			}
		}
		base += (off_t)n;
	}
	free(buf);
	if (ferror(f))
		return ward_error_errno("%s", path);
	if (!found)
		return 1; /* fewer lines */
	return fseeko(f, off, SEEK_SET) == 0 ? 0 : ward_error_errno("%s", path);
}

/* The event and result members of a verified line (NUL-terminated, no newline). */
static int entry_fields(char *line, struct ward_audit_entry *e, json_object **keep)
{
	json_object *o = json_tokener_parse(line), *v;
	*keep = o;
	if (!o || !json_object_is_type(o, json_type_object))
		return -1;
	e->event =
	    json_object_object_get_ex(o, "event", &v) && json_object_is_type(v, json_type_string)
	        ? json_object_get_string(v)
	        : "";
	e->result =
	    json_object_object_get_ex(o, "result", &v) && json_object_is_type(v, json_type_string)
	        ? json_object_get_string(v)
	        : NULL;
	return 0;
}

/* Checks the checkpointed line itself: complete and unchanged. */
static int check_anchor_line(const char *line, ssize_t n, const struct ward_audit_pos *from)
{
	if (line[n - 1] != '\n')
		return ward_error(
		    WARD_E_BADMSG,
		    "audit log: the checkpointed entry %llu is incomplete (its final newline was "
		    "removed or the log cut inside it): the log was altered",
		    (unsigned long long)from->seq);
	uint8_t h[32];
	SHA256((const unsigned char *)line, (size_t)n - 1, h);
	if (sodium_memcmp(h, from->hash, 32) != 0)
		return ward_error(WARD_E_BADMSG,
		                  "audit log: line %llu differs from the checkpointed entry %llu "
		                  "(log rewritten)",
		                  (unsigned long long)from->seq, (unsigned long long)from->seq);
	return 0;
}

/* Verifies and visits the complete lines after the checkpointed one. */
static int scan_rest(FILE *f, char **line, size_t *cap, const uint8_t pk[32],
                     const struct ward_audit_pos *from, ward_audit_visit_fn visit, void *ctx,
                     uint64_t *last_seq)
{
	uint64_t seq = from->seq;
	uint8_t hash[32];
	memcpy(hash, from->hash, 32);
	ssize_t n;
	int rc = 0;
	while ((n = getline(line, cap, f)) > 0) {
		if ((*line)[n - 1] != '\n')
			break; /* a torn tail: never acknowledged, cut when the log is opened */
		if ((size_t)n > AUDIT_MAX_LINE)
			return ward_error(WARD_E_FORMAT, "audit log line %llu: line too long",
			                  (unsigned long long)seq + 1);
		const char *why = NULL;
		if ((rc = audit_line_check(*line, (size_t)n - 1, pk, &seq, hash, &why)))
			return ward_error(rc, "audit log line %llu: %s",
			                  (unsigned long long)seq + 1, why);
		(*line)[n - 1] = '\0';
		struct ward_audit_entry e = {.seq = seq};
		json_object *o;
		if (entry_fields(*line, &e, &o) == 0)
			rc = visit(ctx, &e);
		else
			rc = ward_error(WARD_E_FORMAT, "audit log line %llu: not a JSON object",
			                (unsigned long long)seq);
		json_object_put(o);
		if (rc)
			return rc;
	}
	*last_seq = seq;
	return 0;
}

int ward_audit_scan_after(const char *path, const uint8_t pk[32], const struct ward_audit_pos *from,
                          ward_audit_visit_fn visit, void *ctx, uint64_t *last_seq)
{
	*last_seq = 0;
	if (from->seq == 0)
		return ward_error(WARD_E_INVAL, "audit log: no checkpoint to scan from");
	FILE *f = fopen(path, "re");
	if (!f)
		return ward_error_errno("%s", path);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = 0;
	int rc = seek_line(f, from->seq, path);
	if (!rc && (n = getline(&line, &cap, f)) <= 0) /* 1: fewer lines, as from seek_line */
		rc = ferror(f) ? ward_error_errno("%s", path) : 1;
	if (rc == 1)
		rc = ward_error(WARD_E_TRUNCATED,
		                "audit log ends before the checkpointed entry %llu: truncated or "
		                "replaced",
		                (unsigned long long)from->seq);
	if (!rc)
		rc = check_anchor_line(line, n, from);
	if (!rc)
		rc = scan_rest(f, &line, &cap, pk, from, visit, ctx, last_seq);
	if (!rc && ferror(f))
		rc = ward_error_errno("%s", path);
	free(line);
	fclose(f);
	return rc;
}
