/* The key service's HTTPS listeners (libmicrohttpd + GnuTLS): TLS 1.3, client certificates, bodies,
 * replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/secmem.h"

/* TLS 1.3 only: every client this service talks to is new enough. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"

struct cas_server {
	struct MHD_Daemon *d;
	struct cas_state *cs;
	int owner; /* the owner API: client certificate required */
	size_t body_limit;
	int port;
};

/* Per-connection state: the client's key hash, computed once. */
struct conn_ctx {
	int known;
	int have;
	uint8_t hash[32];
};

unsigned cas_http_status(int err)
{
	switch (err) {
	case WARD_E_FORMAT:
	case WARD_E_INVAL:
	case WARD_E_UNSUPPORTED:
	case WARD_E_TRUNCATED:
		return MHD_HTTP_BAD_REQUEST;
	case WARD_E_RANGE:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	case WARD_E_DENIED:
	case WARD_E_BADMSG:
		return MHD_HTTP_FORBIDDEN;
	case WARD_E_NOTFOUND:
		return MHD_HTTP_NOT_FOUND;
	case WARD_E_CONFLICT:
	case WARD_E_EXISTS:
		return MHD_HTTP_CONFLICT;
	case WARD_E_SEALED:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static int queue(struct cas_request *r, unsigned status, struct MHD_Response *resp,
                 const char *type)
{
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	int ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int cas_reply_json(struct cas_request *r, unsigned status, const char *json)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_MUST_COPY);
	return queue(r, status, resp, "application/json");
}

static void secure_free(void *p)
{
	ward_secmem_free(p);
}

int cas_reply_secure(struct cas_request *r, unsigned status, char *text, size_t len,
                     const char *content_type)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, text, secure_free);
	if (!resp) {
		ward_secmem_free(text);
		return MHD_NO;
	}
	return queue(r, status, resp, content_type);
}

int cas_reply_error(struct cas_request *r, unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	int ret =
	    cas_reply_json(r, status, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return ret;
}

int cas_reply_ward_error(struct cas_request *r, int err)
{
	const char *msg = ward_last_error();
	unsigned status = cas_http_status(err);
	if (status == MHD_HTTP_INTERNAL_SERVER_ERROR)
		fprintf(stderr, "ward cas: %s %s: %s\n", r->method, r->url, msg[0] ? msg : "error");
	return cas_reply_error(r, status, msg[0] ? msg : ward_strerror(err));
}

/* The client certificate's SubjectPublicKeyInfo hash; 0 if the client sent none. */
/* 1 with the owner's key hash, 0 without a certificate, -1 for one outside its validity period. */
static int client_hash(struct MHD_Connection *c, uint8_t out[32])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return 0;
	unsigned n = 0;
	const gnutls_datum_t *certs =
	    gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
	if (!certs || n == 0 ||
	    gnutls_certificate_type_get((gnutls_session_t)ci->tls_session) != GNUTLS_CRT_X509)
		return 0;
	return cas_tls_client_key(certs[0].data, certs[0].size, out);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
	struct cas_server *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	*socket_ctx = calloc(1, sizeof(struct conn_ctx));
	if (!srv->owner)
		return;
	/*
	 * MHD only asks for client certificates when given a CA list. Owners are
	 * identified by their key, not by a CA, so require a certificate on
	 * every owner connection here, before the handshake starts; GnuTLS
	 * then checks the client's proof of possession of the key.
	 */
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session)
		gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session,
		                                      GNUTLS_CERT_REQUIRE);
}

/* Appends upload data into guarded memory (bodies may hold explicit secret values). */
static void body_append(struct cas_request *r, const char *data, size_t n, size_t limit)
{
	if (r->body_too_big || n == 0)
		return;
	if (r->body_len + n > limit) {
		r->body_too_big = 1;
		return;
	}
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		/* Copied, not realloc'ed, so no unwiped copy of the old buffer is left. */
		char *nb = ward_secmem_alloc(cap);
		if (!nb) {
			r->body_too_big = 1;
			return;
		}
		if (r->body) {
			memcpy(nb, r->body, r->body_len);
			ward_secmem_free(r->body);
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_ctx)
{
	(void)version;
	struct cas_server *srv = cls;
	struct cas_request *r = *req_ctx;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		r->srv = srv;
		*req_ctx = r;
		return MHD_YES;
	}
	if (*upload_size) {
		body_append(r, upload, *upload_size, srv->body_limit);
		*upload_size = 0;
		return MHD_YES;
	}
	r->conn = c;
	r->method = method;
	r->url = url;
	if (r->body_too_big)
		return (enum MHD_Result)cas_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		                                        "request body too large");
	if (!r->body && !(r->body = ward_secmem_alloc(1)))
		return MHD_NO;
	r->body[r->body_len] = '\0';
	if (!srv->owner)
		return (enum MHD_Result)cas_workload_handle(srv->cs, r);
	const union MHD_ConnectionInfo *si =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_ctx *cc = si ? si->socket_context : NULL;
	if (cc && cc->known) {
		r->have_client = cc->have;
		memcpy(r->client, cc->hash, 32);
	} else {
		r->have_client = client_hash(c, r->client);
		if (cc) {
			cc->known = 1;
			cc->have = r->have_client;
			memcpy(cc->hash, r->client, 32);
		}
	}
	if (r->have_client < 0)
		return (enum MHD_Result)cas_reply_error(
		    r, MHD_HTTP_UNAUTHORIZED,
		    "the client certificate has expired or is not yet valid");
	if (!r->have_client)
		return (enum MHD_Result)cas_reply_error(r, MHD_HTTP_UNAUTHORIZED,
		                                        "a TLS client certificate is required");
	return (enum MHD_Result)cas_owner_handle(srv->cs, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_ctx,
                         enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	struct cas_request *r = *req_ctx;
	if (!r)
		return;
	if (r->body)
		ward_secmem_free(r->body);
	free(r);
	*req_ctx = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	/* Failed handshakes (no client certificate, plain HTTP) are routine: only with WARD_DEBUG.
	 */
	if (getenv("WARD_DEBUG")) {
		fputs("ward cas: mhd: ", stderr);
		vfprintf(stderr, fmt, ap);
	}
}

/* Binds HOST:PORT (port 0: any free port) and listens. Returns the socket or a negative ward_err.
 */
static int listen_on(const char *addr, int *port)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		return ward_error(WARD_E_INVAL, "%s: expected HOST:PORT", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	if (getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &ai) != 0 || !ai)
		return ward_error(WARD_E_INVAL, "%s: cannot resolve", addr);
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 512) != 0) {
		int rc = ward_error_errno("%s", addr);
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int cas_http_start(struct cas_state *cs, const char *addr, int owner, const char *cert,
                   const char *key, struct cas_server **out)
{
	*out = NULL;
	struct cas_server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return ward_error(WARD_E_NOMEM, "out of memory");
	srv->cs = cs;
	srv->owner = owner;
	srv->body_limit = owner ? WARD_SESSION_MAX_TEXT : 256 * 1024;
	int fd = listen_on(addr, &srv->port);
	if (fd < 0) {
		free(srv);
		return fd;
	}
	/*
	 * A thread per connection: handlers block on the audit log's group
	 * commit, and every waiting request then shares one fdatasync.
	 */
	srv->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_TLS |
	        MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT,
	    cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)30, MHD_OPTION_END);
	if (!srv->d) {
		close(fd);
		free(srv);
		return ward_error(WARD_E_IO,
		                  "%s: cannot start the HTTPS listener (certificate "
		                  "and key must be PEM)",
		                  addr);
	}
	*out = srv;
	return 0;
}

int cas_http_port(const struct cas_server *srv)
{
	return srv->port;
}

void cas_http_stop(struct cas_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->d);
	free(srv);
}
