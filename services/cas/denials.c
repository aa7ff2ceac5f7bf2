/* Refusals of evidence that no enrolled LAS key vouches for: counted, and audited as one summary
 * entry per interval instead of one entry each. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"

/*
 * Anyone who reaches the workload port can produce these refusals (no
 * credential is needed to send bad evidence), so logging each one let an
 * anonymous client grow the log at the speed of its requests until the
 * disk filled and the fail-closed log stopped every grant. Here a request
 * only adds one to a counter; one thread appends at most one summary per
 * interval (plus one at stop). The reasons are a fixed set and the entry
 * holds no request data, so its size is bounded too: the log grows by at
 * most one short line per interval, whatever the request rate.
 */

static const char *const REASONS[CAS_UNAUTH_N] = {
    [CAS_UNAUTH_MODE_SGX] = "sgx attestation is not available yet",
    [CAS_UNAUTH_MODE_NONE] = "attestation mode none is refused by this service",
    [CAS_UNAUTH_NO_EVIDENCE] = "no evidence",
    [CAS_UNAUTH_MALFORMED] = "malformed evidence",
    [CAS_UNAUTH_UNSUPPORTED] = "evidence of a mode this service cannot verify",
    [CAS_UNAUTH_NOT_ENROLLED] = "evidence signed by a key that is not an enrolled LAS",
    [CAS_UNAUTH_BAD_SIGNATURE] = "evidence signature does not verify",
    [CAS_UNAUTH_TIME] = "evidence time outside the accepted skew",
    [CAS_UNAUTH_UNCHECKED] = "the service could not check the evidence",
};

struct cas_denials {
	struct ward_store *store;
	long interval_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	pthread_t thread;
	int stop;
	uint64_t counts[CAS_UNAUTH_N]; /* pending, not yet in the log */
	uint64_t pending;              /* sum of counts */
	int64_t since, until;          /* wall-clock seconds of the first and last pending one */
	struct timespec next;          /* no summary before this (monotonic) */
};

const char *cas_denials_reason(enum cas_unauth why)
{
	return (unsigned)why < CAS_UNAUTH_N ? REASONS[why] : "unknown";
}

/* The summary of the pending counts (caller holds mu). */
static json_object *summary(const struct cas_denials *d)
{
	json_object *f = json_object_new_object(), *by = json_object_new_object();
	json_object_object_add(f, "result", json_object_new_string("denied"));
	json_object_object_add(f, "since", json_object_new_int64(d->since));
	json_object_object_add(f, "until", json_object_new_int64(d->until));
	json_object_object_add(f, "count", json_object_new_int64((int64_t)d->pending));
	for (size_t i = 0; i < CAS_UNAUTH_N; i++)
		if (d->counts[i])
			json_object_object_add(by, REASONS[i],
			                       json_object_new_int64((int64_t)d->counts[i]));
	json_object_object_add(f, "reasons", by);
	return f;
}

/*
 * Appends the pending counts as one entry (caller holds mu; it is released
 * during the append so requests never wait for the disk). If the append
 * fails the counts stay pending for the next attempt: a refusal is never
 * dropped from the record, only delayed.
 */
static int flush_locked(struct cas_denials *d)
{
	if (!d->pending)
		return 0;
	json_object *f = summary(d);
	uint64_t taken[CAS_UNAUTH_N], n = d->pending;
	int64_t since = d->since;
	memcpy(taken, d->counts, sizeof taken);
	memset(d->counts, 0, sizeof d->counts);
	d->pending = 0;
	pthread_mutex_unlock(&d->mu);
	int rc = ward_store_audit(d->store, CAS_UNAUTH_EVENT, f);
	json_object_put(f);
	pthread_mutex_lock(&d->mu);
	if (rc) {
		for (size_t i = 0; i < CAS_UNAUTH_N; i++)
			d->counts[i] += taken[i];
		d->pending += n;
		d->since = since; /* the older start: these refusals came first */
	}
	return rc;
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The only writer of summaries while the service runs: so at most one per interval. */
static void *flusher(void *arg)
{
	struct cas_denials *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!d->pending)
			pthread_cond_wait(&d->cv, &d->mu);
		else if (before(&now, &d->next))
			pthread_cond_timedwait(&d->cv, &d->mu, &d->next);
		else {
			/* The pacing starts before the append: a slow or failing disk
			 * cannot make summaries come faster. */
			d->next = ward_deadline_ms(CLOCK_MONOTONIC, d->interval_ms);
			(void)flush_locked(d);
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int cas_denials_start(struct ward_store *st, long interval_ms, struct cas_denials **out)
{
	*out = NULL;
	struct cas_denials *d = calloc(1, sizeof *d);
	if (!d)
		return ward_error(WARD_E_NOMEM, "out of memory");
	d->store = st;
	d->interval_ms = interval_ms > 0 ? interval_ms : 1;
	d->next = ward_deadline_ms(CLOCK_MONOTONIC, d->interval_ms);
	if (ward_cond_init_monotonic(&d->cv) != 0) {
		free(d);
		return ward_error(WARD_E_INTERNAL, "cannot set up the refusal counters");
	}
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		pthread_cond_destroy(&d->cv);
		free(d);
		return ward_error(WARD_E_INTERNAL, "cannot set up the refusal counters");
	}
	if (pthread_create(&d->thread, NULL, flusher, d) != 0) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv);
		free(d);
		return ward_error(WARD_E_INTERNAL, "cannot start the refusal summary thread");
	}
	*out = d;
	return 0;
}

void cas_denials_count(struct cas_denials *d, enum cas_unauth why)
{
	if ((unsigned)why >= CAS_UNAUTH_N)
		why = CAS_UNAUTH_UNCHECKED;
	int64_t now = (int64_t)time(NULL);
	pthread_mutex_lock(&d->mu);
	if (!d->pending)
		d->since = now;
	d->until = now;
	d->counts[why]++;
	if (d->pending++ == 0)
		pthread_cond_signal(&d->cv); /* the flusher sleeps until something is pending */
	pthread_mutex_unlock(&d->mu);
}

int cas_denials_stop(struct cas_denials *d, uint64_t *lost)
{
	if (lost)
		*lost = 0;
	if (!d)
		return 0;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	/* The last summary, whatever the pacing: the service stops, nothing else follows. */
	pthread_mutex_lock(&d->mu);
	int rc = flush_locked(d);
	if (lost)
		*lost = d->pending;
	pthread_mutex_unlock(&d->mu);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
	return rc;
}
