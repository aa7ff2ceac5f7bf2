/* The LAS client: one JSON request line (plus the workload fd) over the Unix socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "attest/attest_internal.h"

#define LAS_REPLY_MAX 8192
#define LAS_TIMEOUT_S 10

const char *ward_attest_las_default_path(void)
{
	static _Thread_local char buf[512];
	const char *env = getenv("WARD_LAS_ADDR");
	if (env && env[0])
		return env;
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() != 0 && xdg && xdg[0] == '/') {
		int n = snprintf(buf, sizeof buf, "%s/ward/las.sock", xdg);
		if (n > 0 && (size_t)n < sizeof buf)
			return buf;
	}
	return "/run/ward/las.sock";
}

static int las_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return ward_error(WARD_E_INVAL, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ward_error_errno("socket");
	struct timeval tv = {.tv_sec = LAS_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int rc =
		    ward_error_errno("%s: cannot reach the LAS (is `ward las` running?)", path);
		close(fd);
		return rc;
	}
	return fd;
}

/* Sends the whole request; the workload fd rides on the first sendmsg. */
static int send_request(int s, const char *req, size_t len, int wfd)
{
	size_t off = 0;
	while (off < len) {
		struct iovec iov = {.iov_base = (char *)req + off, .iov_len = len - off};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} cm;
		if (off == 0 && wfd >= 0) {
			memset(&cm, 0, sizeof cm);
			mh.msg_control = cm.b;
			mh.msg_controllen = sizeof cm.b;
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &wfd, sizeof(int));
		}
		ssize_t n = sendmsg(s, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ward_error_errno("cannot send to the LAS");
		off += (size_t)n;
	}
	return 0;
}

/* Reads one reply line (the LAS closes the connection after it). */
static int read_reply(int s, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = recv(s, buf + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ward_error_errno("no reply from the LAS");
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(buf + n - (size_t)r, '\n', (size_t)r))
			break;
	}
	buf[n] = '\0';
	*len = n;
	if (n == 0)
		return ward_error(WARD_E_IO, "the LAS closed the connection without a reply");
	return 0;
}

static int decode_reply(const char *buf, size_t n, uint8_t **ev, size_t *len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL;
	if (tok)
		json_tokener_free(tok);
	json_object *v = NULL;
	int rc = 0;
	if (!o || !json_object_is_type(o, json_type_object)) {
		rc = ward_error(WARD_E_FORMAT, "malformed reply from the LAS");
	} else if (json_object_object_get_ex(o, "error", &v)) {
		rc =
		    ward_error(WARD_E_DENIED, "the LAS refused: %.200s", json_object_get_string(v));
	} else if (!json_object_object_get_ex(o, "evidence", &v) ||
	           !json_object_is_type(v, json_type_string)) {
		rc = ward_error(WARD_E_FORMAT, "reply from the LAS has no evidence");
	} else {
		const char *b64 = json_object_get_string(v);
		size_t blen = strlen(b64), out = 0;
		uint8_t *p = malloc(WARD_ATTEST_MAX_EVIDENCE);
		if (!p)
			rc = ward_error(WARD_E_NOMEM, "out of memory");
		else if (sodium_base642bin(p, WARD_ATTEST_MAX_EVIDENCE, b64, blen, NULL, &out, NULL,
		                           sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(p);
			rc = ward_error(WARD_E_FORMAT, "reply from the LAS: bad base64");
		} else {
			*ev = p;
			*len = out;
		}
	}
	json_object_put(o);
	return rc;
}

int ward_attest_las_request(const char *socket_path, const uint8_t nonce[32],
                            const uint8_t report_data[32], int workload_fd, uint8_t **ev,
                            size_t *len)
{
	*ev = NULL;
	*len = 0;
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	char nhex[65], rhex[65], req[256];
	ward_attest_hex(nonce, nhex);
	ward_attest_hex(report_data, rhex);
	int rl =
	    snprintf(req, sizeof req, "{\"nonce\":\"%s\",\"report_data\":\"%s\",\"workload\":%s}\n",
	             nhex, rhex, workload_fd >= 0 ? "true" : "false");
	int s = las_connect(socket_path);
	if (s < 0)
		return s;
	char *buf = malloc(LAS_REPLY_MAX);
	size_t n = 0;
	int rc = buf ? 0 : ward_error(WARD_E_NOMEM, "out of memory");
	int sent = rc == 0 ? send_request(s, req, (size_t)rl, workload_fd) : rc;
	int sent_errno = errno;
	/*
	 * A LAS that refuses at once ("busy", a request too long) may answer and
	 * close before it has read the request: its answer says more than EPIPE.
	 */
	if (rc == 0 && (sent == 0 || sent_errno == EPIPE || sent_errno == ECONNRESET)) {
		rc = read_reply(s, buf, LAS_REPLY_MAX, &n);
		if (rc < 0 && sent < 0)
			rc = ward_error(WARD_E_IO, "cannot send to the LAS: %s",
			                strerror(sent_errno));
	} else if (rc == 0) {
		rc = sent;
	}
	close(s);
	if (rc == 0)
		rc = decode_reply(buf, n, ev, len);
	free(buf);
	if (rc < 0)
		return rc;
	struct ward_attest_claims c;
	rc = ward_attest_evidence_parse(*ev, *len, &c);
	if (rc == 0 &&
	    (memcmp(c.nonce, nonce, 32) != 0 || memcmp(c.report_data, report_data, 32) != 0))
		rc = ward_error(WARD_E_FORMAT, "the LAS returned evidence for another request");
	if (rc == 0 && workload_fd >= 0 && !(c.flags & WARD_ATTEST_HAS_WORKLOAD))
		rc = ward_error(WARD_E_FORMAT, "the LAS did not measure the workload");
	if (rc < 0) {
		free(*ev);
		*ev = NULL;
		*len = 0;
	}
	return rc;
}

static int hex_field(json_object *v, const char *name, uint8_t out[32])
{
	if (!json_object_is_type(v, json_type_string) ||
	    ward_attest_unhex(json_object_get_string(v), out) < 0)
		return ward_error(WARD_E_FORMAT, "\"%s\" must be 64 hex digits", name);
	return 0;
}

static int request_fields(json_object *o, uint8_t nonce[32], uint8_t rd[32], int *want)
{
	int have = 0, rc = 0;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "nonce") == 0 && !(have & 1)) {
			rc = hex_field(v, k, nonce);
			have |= 1;
		} else if (strcmp(k, "report_data") == 0 && !(have & 2)) {
			rc = hex_field(v, k, rd);
			have |= 2;
		} else if (strcmp(k, "workload") == 0 && !(have & 4) &&
		           json_object_is_type(v, json_type_boolean)) {
			*want = json_object_get_boolean(v);
			have |= 4;
		} else {
			rc = ward_error(WARD_E_FORMAT, "unexpected field \"%.40s\"", k);
		}
		if (rc < 0)
			return rc;
	}
	if ((have & 3) != 3)
		return ward_error(WARD_E_FORMAT, "request needs \"nonce\" and \"report_data\"");
	return 0;
}

int ward_attest_las_parse_request(const char *buf, size_t n, uint8_t nonce[32],
                                  uint8_t report_data[32], int *want_workload)
{
	*want_workload = 0;
	memset(nonce, 0, 32);
	memset(report_data, 0, 32);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n == 0 || n > 4096 || memchr(buf, '\0', n))
		return ward_error(WARD_E_FORMAT, "request is not one JSON object");
	/* Depth 2 is enough for one flat object; deeper input is refused early. */
	json_tokener *tok = json_tokener_new_ex(2);
	if (!tok)
		return ward_error(WARD_E_NOMEM, "out of memory");
	json_object *o = json_tokener_parse_ex(tok, buf, (int)n);
	int rc = 0;
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != n || !json_object_is_type(o, json_type_object))
		rc = ward_error(WARD_E_FORMAT, "request is not one JSON object");
	json_tokener_free(tok);
	if (rc == 0)
		rc = request_fields(o, nonce, report_data, want_workload);
	json_object_put(o);
	if (rc < 0) {
		memset(nonce, 0, 32);
		memset(report_data, 0, 32);
		*want_workload = 0;
	}
	return rc;
}
