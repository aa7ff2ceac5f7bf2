/* Appending to the audit log: signed hash-chained lines, torn-tail repair, group commit. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "audit/audit_internal.h"
#include "core/core_internal.h"

struct ward_audit {
	int fd;
	uint8_t *sk; /* sodium_malloc, 64 bytes */
	uint8_t pk[32];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t seq;                  /* last written entry */
	uint8_t hash[32];              /* its line hash */
	off_t written;                 /* bytes written */
	off_t synced;                  /* bytes known durable */
	struct ward_audit_pos durable; /* last durable position */
	struct ward_audit_pos pending; /* last written position */
	int syncing;                   /* a thread is in fdatasync */
	int broken;                    /* the file state is uncertain: refuse every append */
};

/* Reads [off, off+n) of fd into buf. */
static int read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/*
 * Finds the last complete line of the file (size bytes): its offset and
 * length, and how many bytes follow it without a newline (a torn write).
 */
static int find_tail(int fd, off_t size, off_t *line_off, size_t *line_len, off_t *torn)
{
	*line_off = 0;
	*line_len = 0;
	*torn = 0;
	if (size == 0)
		return 0;
	off_t span = size < (off_t)(2 * AUDIT_MAX_LINE) ? size : (off_t)(2 * AUDIT_MAX_LINE);
	char *buf = malloc((size_t)span);
	if (!buf)
		return ward_error(WARD_E_NOMEM, "out of memory");
	off_t base = size - span;
	if (read_at(fd, buf, (size_t)span, base)) {
		free(buf);
		return ward_error_errno("audit log: read");
	}
	off_t end = span; /* one past the last newline */
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end == 0 && base > 0) {
		free(buf);
		return ward_error(WARD_E_FORMAT, "audit log: last line longer than %d bytes",
		                  AUDIT_MAX_LINE);
	}
	*torn = span - end;
	off_t start = end > 0 ? end - 1 : 0;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (end > 0 && start == 0 && base > 0) {
		free(buf);
		return ward_error(WARD_E_FORMAT, "audit log: line longer than %d bytes",
		                  AUDIT_MAX_LINE);
	}
	*line_off = base + start;
	*line_len = end > 0 ? (size_t)(end - 1 - start) : 0;
	free(buf);
	return 0;
}

/* Loads seq and hash of the last line, checking it was signed with our key. */
static int load_last(struct ward_audit *a, off_t off, size_t len)
{
	char *line = malloc(len + 1), *body = malloc(len + 1);
	uint8_t sig[64], prev[32];
	size_t blen;
	int rc = 0;
	if (!line || !body) {
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	} else if (read_at(a->fd, line, len, off)) {
		rc = ward_error_errno("audit log: read");
	} else if (audit_line_split(line, len, body, &blen, sig) ||
	           audit_body_fields(body, blen, &a->seq, prev)) {
		rc = ward_error(WARD_E_FORMAT, "audit log: the last entry is malformed");
	} else if (audit_body_verify(body, blen, sig, a->pk)) {
		rc = ward_error(WARD_E_BADMSG,
		                "audit log: the last entry is not signed by this service's key");
	} else {
		SHA256((const unsigned char *)line, len, a->hash);
	}
	free(line);
	free(body);
	return rc;
}

/*
 * Refuses to cut a torn tail that the checkpoint covers: the checkpoint is
 * written only after its entry is durable, so a cut line at or before it
 * was not a torn write but an edit (for example a removed final newline).
 */
static int check_cut(const struct ward_audit *a, const struct ward_audit_pos *ckpt, off_t torn,
                     const char *path)
{
	if (!ckpt || ckpt->seq == 0)
		return 0;
	if (a->seq > ckpt->seq ||
	    (a->seq == ckpt->seq && sodium_memcmp(a->hash, ckpt->hash, 32) == 0))
		return 0;
	return ward_error(WARD_E_BADMSG,
	                  "%s: the incomplete last line (%lld bytes without newline) follows "
	                  "entry %llu but the checkpoint records entry %llu: refusing to cut "
	                  "checkpointed bytes (the log was altered; run `ward cas audit verify`)",
	                  path, (long long)torn, (unsigned long long)a->seq,
	                  (unsigned long long)ckpt->seq);
}

static int open_log(struct ward_audit *a, const char *path, const struct ward_audit_pos *ckpt,
                    off_t *torn)
{
	a->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (a->fd < 0)
		return ward_error_errno("%s", path);
	struct stat st;
	if (fstat(a->fd, &st) != 0)
		return ward_error_errno("%s", path);
	if (!S_ISREG(st.st_mode))
		return ward_error(WARD_E_IO, "%s: the audit log must be a regular file", path);
	off_t line_off;
	size_t line_len;
	int rc = find_tail(a->fd, st.st_size, &line_off, &line_len, torn);
	if (rc)
		return rc;
	/* The last complete line, read before anything is cut. */
	if (line_len && (rc = load_last(a, line_off, line_len)))
		return rc;
	if (*torn) {
		if ((rc = check_cut(a, ckpt, *torn, path)))
			return rc;
		/* Never acknowledged: appends are synced before any reply. */
		if (ftruncate(a->fd, st.st_size - *torn) != 0 || fdatasync(a->fd) != 0)
			return ward_error_errno("%s: cutting a torn last line", path);
	}
	a->written = a->synced = st.st_size - *torn;
	a->durable.seq = a->pending.seq = a->seq;
	memcpy(a->durable.hash, a->hash, 32);
	memcpy(a->pending.hash, a->hash, 32);
	return 0;
}

int ward_audit_open(const char *path, const uint8_t sk[64], struct ward_audit **out)
{
	return ward_audit_open_at(path, sk, NULL, out);
}

int ward_audit_open_at(const char *path, const uint8_t sk[64],
                       const struct ward_audit_pos *checkpoint, struct ward_audit **out)
{
	*out = NULL;
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	struct ward_audit *a = calloc(1, sizeof *a);
	if (!a)
		return ward_error(WARD_E_NOMEM, "out of memory");
	a->fd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (!(a->sk = sodium_malloc(64))) {
		ward_audit_close(a);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	memcpy(a->sk, sk, 64);
	crypto_sign_ed25519_sk_to_pk(a->pk, a->sk);
	off_t torn = 0;
	int rc = open_log(a, path, checkpoint, &torn);
	if (!rc && a->seq == 0) {
		char hex[65];
		sodium_bin2hex(hex, sizeof hex, a->pk, 32);
		json_object *f = json_object_new_object();
		json_object_object_add(f, "public_key", json_object_new_string(hex));
		rc = ward_audit_append(a, "log.start", f, NULL);
		json_object_put(f);
	}
	if (!rc && torn) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "dropped_bytes", json_object_new_int64((int64_t)torn));
		rc = ward_audit_append(a, "log.repair", f, NULL);
		json_object_put(f);
	}
	if (rc) {
		ward_audit_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void ward_audit_close(struct ward_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->sk)
		sodium_free(a->sk);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

/* Builds the signed line for the next entry (caller holds the lock). malloc'ed. */
static char *build_line(struct ward_audit *a, const char *event, json_object *fields, size_t *len)
{
	char prev[65];
	sodium_bin2hex(prev, sizeof prev, a->hash, 32);
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "seq", json_object_new_int64((int64_t)(a->seq + 1)));
	json_object_object_add(o, "time", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "prev", json_object_new_string(prev));
	json_object_object_add(o, "event", json_object_new_string(event));
	if (fields) {
		json_object_object_foreach(fields, k, v)
		{
			if (strcmp(k, "seq") && strcmp(k, "time") && strcmp(k, "prev") &&
			    strcmp(k, "event") && strcmp(k, "sig"))
				json_object_object_add(o, k, json_object_get(v));
		}
	}
	size_t blen;
	const char *body = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
	char *line = NULL;
	if (body && blen >= 2 && blen + AUDIT_SIG_SUFFIX_LEN < AUDIT_MAX_LINE &&
	    (line = malloc(blen + AUDIT_SIG_SUFFIX_LEN + 1))) {
		size_t dl = sizeof AUDIT_SIG_DOMAIN - 1;
		uint8_t *msg = malloc(dl + blen), sig[64];
		if (!msg) {
			free(line);
			json_object_put(o);
			return NULL;
		}
		memcpy(msg, AUDIT_SIG_DOMAIN, dl);
		memcpy(msg + dl, body, blen);
		crypto_sign_detached(sig, NULL, msg, dl + blen, a->sk);
		free(msg);
		memcpy(line, body, blen - 1);
		char hex[129];
		sodium_bin2hex(hex, sizeof hex, sig, 64);
		*len = (size_t)snprintf(line + blen - 1, AUDIT_SIG_SUFFIX_LEN + 2,
		                        ",\"sig\":\"%s\"}", hex);
		*len += blen - 1;
		line[(*len)++] = '\n';
	}
	json_object_put(o);
	return line;
}

/* Writes one line at the end; on failure cuts the file back or marks the log broken. */
static int write_line(struct ward_audit *a, const char *line, size_t len)
{
	if (ward_write_full(a->fd, line, len) == 0) {
		a->written += (off_t)len;
		return 0;
	}
	int e = errno;
	if (ftruncate(a->fd, a->written) != 0)
		a->broken = 1;
	errno = e;
	return ward_error_errno("audit log: write");
}

/* Waits until everything up to target is durable, syncing ourselves if no one else is. */
static int wait_durable(struct ward_audit *a, off_t target)
{
	while (a->synced < target && !a->broken) {
		if (a->syncing) {
			pthread_cond_wait(&a->cv, &a->mu);
			continue;
		}
		a->syncing = 1;
		off_t upto = a->written;
		struct ward_audit_pos pos = a->pending;
		pthread_mutex_unlock(&a->mu);
		int rc = fdatasync(a->fd);
		int e = errno;
		pthread_mutex_lock(&a->mu);
		a->syncing = 0;
		if (rc == 0) {
			a->synced = upto;
			a->durable = pos;
		} else {
			/* After a failed sync the kernel may have dropped the pages: trust nothing.
			 */
			a->broken = 1;
			errno = e;
		}
		pthread_cond_broadcast(&a->cv);
	}
	if (a->synced < target)
		return ward_error(WARD_E_IO, "audit log: sync failed; refusing further changes");
	return 0;
}

static int append(struct ward_audit *a, const char *event, json_object *fields,
                  struct ward_audit_pos *pos, int wait)
{
	pthread_mutex_lock(&a->mu);
	int rc;
	if (a->broken) {
		rc = ward_error(WARD_E_IO, "audit log unavailable after an earlier failure");
		goto out;
	}
	size_t len = 0;
	char *line = build_line(a, event, fields, &len);
	if (!line) {
		rc = ward_error(WARD_E_NOMEM, "audit log: cannot build the entry");
		goto out;
	}
	rc = write_line(a, line, len);
	if (!rc) {
		a->seq++;
		SHA256((const unsigned char *)line, len - 1, a->hash);
		a->pending.seq = a->seq;
		memcpy(a->pending.hash, a->hash, 32);
		if (pos)
			*pos = a->pending;
		if (wait)
			rc = wait_durable(a, a->written);
	}
	free(line);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int ward_audit_append(struct ward_audit *a, const char *event, json_object *fields,
                      struct ward_audit_pos *pos)
{
	return append(a, event, fields, pos, 1);
}

int ward_audit_append_nowait(struct ward_audit *a, const char *event, json_object *fields,
                             struct ward_audit_pos *pos)
{
	return append(a, event, fields, pos, 0);
}

int ward_audit_sync(struct ward_audit *a)
{
	pthread_mutex_lock(&a->mu);
	int rc = a->broken ? ward_error(WARD_E_IO, "audit log unavailable after an earlier failure")
	                   : wait_durable(a, a->written);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void ward_audit_last(struct ward_audit *a, struct ward_audit_pos *pos)
{
	pthread_mutex_lock(&a->mu);
	*pos = a->durable;
	pthread_mutex_unlock(&a->mu);
}

void ward_audit_anchor_sign(const struct ward_audit *a, const struct ward_audit_pos *pos,
                            struct ward_audit_anchor *out)
{
	uint8_t msg[64 + 40];
	size_t n = audit_anchor_message(pos, msg);
	out->pos = *pos;
	crypto_sign_detached(out->sig, NULL, msg, n, a->sk);
}

void ward_audit_public_key(const struct ward_audit *a, uint8_t pk[32])
{
	memcpy(pk, a->pk, 32);
}
