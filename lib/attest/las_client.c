/* The LAS client: the LAS's challenge, one JSON request line (with our pidfd and the workload fd),
 * the evidence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/*
 * Sends the whole request. The first sendmsg carries a pidfd of this process
 * and the workload fd: the LAS checks that the request comes from the process
 * it measured, written through this code (a plain write of the same bytes,
 * say by a program printing to a socket it inherited, carries no descriptor).
 */
static int send_request(int s, const char *req, size_t len, int wfd)
{
	int fds[2] = {(int)syscall(SYS_pidfd_open, getpid(), 0), wfd};
	if (fds[0] < 0)
		return ward_error_errno("pidfd_open");
	size_t nfds = wfd >= 0 ? 2 : 1, off = 0;
	int rc = 0;
	while (off < len) {
		struct iovec iov = {.iov_base = (char *)req + off, .iov_len = len - off};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(2 * sizeof(int))];
		} cm;
		if (off == 0) {
			memset(&cm, 0, sizeof cm);
			mh.msg_control = cm.b;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		ssize_t n = sendmsg(s, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ward_error_errno("cannot send to the LAS");
			break;
		}
		off += (size_t)n;
	}
	int e = errno;
	close(fds[0]);
	errno = e;
	return rc;
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

/* One reply line as a JSON object; an {"error":...} line becomes WARD_E_DENIED with its text. */
static int parse_line(const char *buf, size_t n, json_object **out)
{
	*out = NULL;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL;
	if (tok)
		json_tokener_free(tok);
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return ward_error(WARD_E_FORMAT, "malformed reply from the LAS");
	}
	if (json_object_object_get_ex(o, "error", &v)) {
		int rc =
		    ward_error(WARD_E_DENIED, "the LAS refused: %.200s", json_object_get_string(v));
		json_object_put(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int decode_challenge(const char *buf, size_t n, uint8_t challenge[32])
{
	json_object *o, *v;
	int rc = parse_line(buf, n, &o);
	if (rc < 0)
		return rc;
	if (!json_object_object_get_ex(o, "challenge", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    ward_attest_unhex(json_object_get_string(v), challenge) < 0)
		rc = ward_error(WARD_E_FORMAT, "the LAS sent no challenge (an older LAS?)");
	json_object_put(o);
	return rc;
}

static int decode_reply(const char *buf, size_t n, uint8_t **ev, size_t *len)
{
	json_object *o, *v;
	int rc = parse_line(buf, n, &o);
	if (rc < 0)
		return rc;
	if (!json_object_object_get_ex(o, "evidence", &v) ||
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

/* The evidence must answer this request: same nonce and report data, the workload measured. */
static int check_evidence(const uint8_t *ev, size_t len, const uint8_t nonce[32],
                          const uint8_t report_data[32], int workload_fd)
{
	struct ward_attest_claims c;
	int rc = ward_attest_evidence_parse(ev, len, &c);
	if (rc == 0 &&
	    (memcmp(c.nonce, nonce, 32) != 0 || memcmp(c.report_data, report_data, 32) != 0))
		rc = ward_error(WARD_E_FORMAT, "the LAS returned evidence for another request");
	if (rc == 0 && workload_fd >= 0 && !(c.flags & WARD_ATTEST_HAS_WORKLOAD))
		rc = ward_error(WARD_E_FORMAT, "the LAS did not measure the workload");
	return rc;
}

/* The exchange on a connected socket: challenge in, request out, evidence in. */
static int exchange(int s, char *buf, const uint8_t nonce[32], const uint8_t report_data[32],
                    int workload_fd, uint8_t **ev, size_t *len)
{
	size_t n = 0;
	uint8_t ch[32];
	int rc = read_reply(s, buf, LAS_REPLY_MAX, &n);
	if (rc == 0)
		rc = decode_challenge(buf, n, ch);
	if (rc < 0)
		return rc;
	char chex[65], nhex[65], rhex[65], req[320];
	ward_attest_hex(ch, chex);
	ward_attest_hex(nonce, nhex);
	ward_attest_hex(report_data, rhex);
	int rl = snprintf(req, sizeof req,
	                  "{\"challenge\":\"%s\",\"nonce\":\"%s\",\"report_data\":\"%s\","
	                  "\"workload\":%s}\n",
	                  chex, nhex, rhex, workload_fd >= 0 ? "true" : "false");
	rc = send_request(s, req, (size_t)rl, workload_fd);
	int sent_errno = errno;
	/* A LAS that refuses at once may answer and close before reading it all. */
	if (rc == 0 || sent_errno == EPIPE || sent_errno == ECONNRESET) {
		int rrc = read_reply(s, buf, LAS_REPLY_MAX, &n);
		rc = rrc < 0 && rc < 0 ? rc : rrc;
	}
	if (rc == 0)
		rc = decode_reply(buf, n, ev, len);
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
	int s = las_connect(socket_path);
	if (s < 0)
		return s;
	char *buf = malloc(LAS_REPLY_MAX);
	int rc = buf ? exchange(s, buf, nonce, report_data, workload_fd, ev, len)
	             : ward_error(WARD_E_NOMEM, "out of memory");
	close(s);
	free(buf);
	if (rc == 0)
		rc = check_evidence(*ev, *len, nonce, report_data, workload_fd);
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

static int request_fields(json_object *o, struct ward_attest_las_req *req)
{
	int have = 0, rc = 0;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "nonce") == 0 && !(have & 1)) {
			rc = hex_field(v, k, req->nonce);
			have |= 1;
		} else if (strcmp(k, "report_data") == 0 && !(have & 2)) {
			rc = hex_field(v, k, req->report_data);
			have |= 2;
		} else if (strcmp(k, "challenge") == 0 && !(have & 4)) {
			rc = hex_field(v, k, req->challenge);
			have |= 4;
		} else if (strcmp(k, "workload") == 0 && !(have & 8) &&
		           json_object_is_type(v, json_type_boolean)) {
			req->want_workload = json_object_get_boolean(v);
			have |= 8;
		} else {
			rc = ward_error(WARD_E_FORMAT, "unexpected field \"%.40s\"", k);
		}
		if (rc < 0)
			return rc;
	}
	if ((have & 7) != 7)
		return ward_error(WARD_E_FORMAT,
		                  "request needs \"challenge\", \"nonce\" and \"report_data\"");
	return 0;
}

int ward_attest_las_parse_request(const char *buf, size_t n, struct ward_attest_las_req *req)
{
	memset(req, 0, sizeof *req);
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
		rc = request_fields(o, req);
	json_object_put(o);
	if (rc < 0)
		memset(req, 0, sizeof *req);
	return rc;
}
