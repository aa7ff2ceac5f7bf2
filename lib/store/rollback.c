/* Detecting a rolled-back database: changes logged after the database's checkpoint. */
#include <stdio.h>
#include <string.h>

#include "core/core_internal.h"
#include "store/store_internal.h"

/*
 * Why at most one change, and none after an unseal (docs/cas.md, "Rollback
 * of the database"): a change holds the store's mutex from its audit entry
 * (synced) until its transaction, which writes the checkpoint, commits.
 * If the commit fails the store takes no further change until restarted
 * (store_commit_logged), and a restart anchors its cas.unseal entry before
 * any change. So only the last change the log records can lack a commit —
 * when the service died between logging and committing it — and every
 * cas.unseal after the checkpoint comes after that change.
 */
struct tail_scan {
	uint64_t anchor;
	uint64_t change, unseal; /* first after the checkpoint, 0 if none */
	char change_event[40];
	char *why;
	size_t whylen;
};

/* Events whose entry is written inside the transaction that makes the change. */
static int is_change(const struct ward_audit_entry *e)
{
	static const char *const events[] = {"cas.init",       "session.create", "session.update",
	                                     "session.delete", "platform.add",   "platform.remove",
	                                     "launcher.add",   "launcher.remove"};
	for (size_t i = 0; i < sizeof events / sizeof *events; i++)
		if (!strcmp(e->event, events[i]))
			/* A refusal ("denied") is logged outside any transaction. */
			return !e->result || !strcmp(e->result, "ok");
	return 0;
}

static int visit(void *ctx, const struct ward_audit_entry *e)
{
	struct tail_scan *s = ctx;
	if (!strcmp(e->event, "cas.unseal")) {
		if (!s->unseal)
			s->unseal = e->seq;
		return 0;
	}
	if (!is_change(e))
		return 0;
	if (s->change) {
		snprintf(s->why, s->whylen,
		         "audit entries %llu (%s) and %llu (%s) record database changes after the "
		         "database's checkpoint (entry %llu): cas.db was rolled back or replaced",
		         (unsigned long long)s->change, s->change_event, (unsigned long long)e->seq,
		         e->event, (unsigned long long)s->anchor);
		return WARD_E_BADMSG;
	}
	if (s->unseal) {
		snprintf(s->why, s->whylen,
		         "audit entry %llu (%s) records a database change made after an unseal "
		         "(entry %llu), both after the database's checkpoint (entry %llu): cas.db "
		         "was rolled back or replaced",
		         (unsigned long long)e->seq, e->event, (unsigned long long)s->unseal,
		         (unsigned long long)s->anchor);
		return WARD_E_BADMSG;
	}
	s->change = e->seq;
	snprintf(s->change_event, sizeof s->change_event, "%s", e->event);
	return 0;
}

int store_tail_check(const char *path, const uint8_t pk[32], const struct ward_audit_anchor *anchor,
                     uint64_t *uncommitted)
{
	*uncommitted = 0;
	if (ward_audit_anchor_check(anchor, pk))
		return ward_error(
		    WARD_E_BADMSG,
		    "the database's audit checkpoint (entry %llu) is not signed by the "
		    "store's audit key",
		    (unsigned long long)anchor->pos.seq);
	char why[400] = "";
	struct tail_scan s = {.anchor = anchor->pos.seq, .why = why, .whylen = sizeof why};
	uint64_t last;
	int rc = ward_audit_scan_after(path, pk, &anchor->pos, visit, &s, &last);
	if (rc && why[0])
		return ward_error(rc, "%s", why);
	if (!rc)
		*uncommitted = s.change;
	return rc;
}

int ward_store_audit_check(const char *dir, uint64_t *uncommitted)
{
	uint8_t pk[32];
	struct ward_audit_anchor anchor;
	*uncommitted = 0;
	int rc = ward_store_audit_anchor(dir, pk, &anchor);
	if (rc)
		return rc;
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, WARD_STORE_AUDIT);
	return store_tail_check(path, pk, &anchor, uncommitted);
}
