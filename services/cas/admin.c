/* The local admin socket (DATA/admin.sock): unseal shares, status, enrolment; same-user peers only.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"

#define ADMIN_MAX_LINE 4096

struct cas_admin {
	struct cas_state *cs;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[108];
};

static json_object *ok_status(struct cas_state *cs)
{
	unsigned have, need;
	ward_store_unseal_progress(cs->store, &have, &need);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "sealed", json_object_new_boolean(ward_store_sealed(cs->store)));
	json_object_object_add(o, "have", json_object_new_int((int)have));
	json_object_object_add(o, "need", json_object_new_int((int)need));
	json_object_object_add(o, "dev", json_object_new_boolean(ward_store_is_dev(cs->store)));
	return o;
}

static json_object *err_reply(int rc)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "code", json_object_new_int(rc));
	json_object_object_add(
	    o, "error",
	    json_object_new_string(ward_last_error()[0] ? ward_last_error() : ward_strerror(rc)));
	return o;
}

static json_object *trust_op(struct cas_state *cs, const char *op, json_object *req)
{
	json_object *jw, *jv, *jl;
	const char *what =
	    json_object_object_get_ex(req, "what", &jw) ? json_object_get_string(jw) : "";
	enum ward_store_trust t =
	    strcmp(what, "launcher") == 0 ? WARD_STORE_LAUNCHER : WARD_STORE_PLATFORM;
	if (strcmp(what, "platform") != 0 && strcmp(what, "launcher") != 0)
		return err_reply(ward_error(WARD_E_INVAL, "what must be platform or launcher"));
	if (strcmp(op, "trust_list") == 0) {
		uint8_t(*v)[32];
		char **labels;
		size_t n;
		int rc = ward_store_trust_list(cs->store, t, &v, &labels, &n);
		if (rc)
			return err_reply(rc);
		json_object *o = json_object_new_object(), *arr = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			char hex[65];
			sodium_bin2hex(hex, sizeof hex, v[i], 32);
			json_object *e = json_object_new_object();
			json_object_object_add(e, "value", json_object_new_string(hex));
			json_object_object_add(e, "label", json_object_new_string(labels[i]));
			json_object_array_add(arr, e);
			free(labels[i]);
		}
		free(labels);
		free(v);
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_object_object_add(o, "entries", arr);
		return o;
	}
	uint8_t value[32];
	size_t got = 0;
	const char *hex =
	    json_object_object_get_ex(req, "value", &jv) ? json_object_get_string(jv) : "";
	if (strlen(hex) != 64 || sodium_hex2bin(value, 32, hex, 64, NULL, &got, NULL) != 0 ||
	    got != 32)
		return err_reply(ward_error(WARD_E_INVAL, "value must be 64 hex digits"));
	int rc;
	if (strcmp(op, "trust_add") == 0) {
		const char *label =
		    json_object_object_get_ex(req, "label", &jl) ? json_object_get_string(jl) : "";
		rc = ward_store_trust_add(cs->store, t, value, label ? label : "");
	} else {
		rc = ward_store_trust_remove(cs->store, t, value);
	}
	return rc ? err_reply(rc) : ok_status(cs);
}

static json_object *handle(struct cas_state *cs, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(4);
	json_object *req = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	json_tokener_free(tok);
	json_object *jop, *js, *reply;
	const char *op =
	    req && json_object_object_get_ex(req, "op", &jop) ? json_object_get_string(jop) : NULL;
	if (!op) {
		reply = err_reply(ward_error(WARD_E_FORMAT, "expected {\"op\":...}"));
	} else if (strcmp(op, "status") == 0) {
		reply = ok_status(cs);
	} else if (strcmp(op, "unseal") == 0) {
		const char *share =
		    json_object_object_get_ex(req, "share", &js) ? json_object_get_string(js) : "";
		unsigned have, need;
		int rc = ward_store_unseal(cs->store, share ? share : "", &have, &need);
		/* The share is wiped from the parser's copy below. */
		if (share)
			sodium_memzero((void *)share, strlen(share));
		if (!rc && !ward_store_sealed(cs->store))
			fprintf(stderr, "ward cas: unsealed\n");
		reply = rc ? err_reply(rc) : ok_status(cs);
	} else if (strncmp(op, "trust_", 6) == 0) {
		reply = trust_op(cs, op, req);
	} else {
		reply = err_reply(ward_error(WARD_E_INVAL, "unknown op '%.40s'", op));
	}
	json_object_put(req);
	return reply;
}

/* Serves one client: one request line, one reply line, until it closes or times out. */
static void serve_client(struct cas_state *cs, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		const char *msg = "{\"ok\":false,\"error\":\"only the service's user or root may "
		                  "administer it\"}\n";
		if (write(fd, msg, strlen(msg)) < 0)
			return;
		return;
	}
	struct timeval tv = {.tv_sec = 30};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char *buf = sodium_malloc(ADMIN_MAX_LINE + 1); /* lines carry unseal shares */
	size_t len = 0;
	while (buf) {
		ssize_t r = read(fd, buf + len, ADMIN_MAX_LINE - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		char *nl;
		while ((nl = memchr(buf, '\n', len))) {
			size_t ll = (size_t)(nl - buf);
			json_object *reply = handle(cs, buf, ll);
			const char *out =
			    json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
			int ok = ward_write_full(fd, out, strlen(out)) == 0 &&
			         ward_write_full(fd, "\n", 1) == 0;
			json_object_put(reply);
			sodium_memzero(buf, ll + 1);
			memmove(buf, nl + 1, len - ll - 1);
			len -= ll + 1;
			if (!ok)
				goto done;
		}
		if (len == ADMIN_MAX_LINE)
			break;
	}
done:
	if (buf)
		sodium_free(buf);
}

static void *admin_thread(void *arg)
{
	struct cas_admin *a = arg;
	for (;;) {
		struct pollfd p[2] = {{a->fd, POLLIN, 0}, {a->stop_pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_client(a->cs, c);
		close(c);
	}
	return NULL;
}

int cas_admin_start(struct cas_state *cs, const char *path, struct cas_admin **out)
{
	*out = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return ward_error(WARD_E_INVAL, "%s: socket path too long", path);
	struct cas_admin *a = calloc(1, sizeof *a);
	if (!a)
		return ward_error(WARD_E_NOMEM, "out of memory");
	a->cs = cs;
	snprintf(a->path, sizeof a->path, "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(path); /* a stale socket of a killed service; the data lock guards a live one */
	mode_t old = umask(0177);
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = a->fd < 0 || bind(a->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	                 listen(a->fd, 16) != 0 || pipe2(a->stop_pipe, O_CLOEXEC) != 0
	             ? ward_error_errno("%s", path)
	             : 0;
	umask(old);
	if (!rc && pthread_create(&a->thread, NULL, admin_thread, a) != 0)
		rc = ward_error(WARD_E_INTERNAL, "cannot start the admin thread");
	if (rc) {
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void cas_admin_stop(struct cas_admin *a)
{
	if (!a)
		return;
	if (write(a->stop_pipe[1], "x", 1) == 1)
		pthread_join(a->thread, NULL);
	close(a->stop_pipe[0]);
	close(a->stop_pipe[1]);
	close(a->fd);
	unlink(a->path);
	free(a);
}
