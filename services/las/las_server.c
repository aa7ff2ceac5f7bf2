/*
 * `ward las` server: accepts local connections, identifies the peer with
 * SO_PEERCRED (and SO_PEERPIDFD when the kernel has it), measures the peer's
 * /proc/PID/exe and the workload fd it passed, and signs host evidence.
 * Each connection is served by one thread at a time (capped), taken from a
 * pool of threads that outlive their connection; every request is one JSON
 * line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "core/core_internal.h"
#include "services/las/las.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; the Debian 12 headers predate it */
#endif

#define REQ_MAX  4096
#define MAX_FDS  4
#define STACK_SZ (256u * 1024u)
#define IDLE_MS  10000 /* a worker thread with no connection for this long exits */

/*
 * The pool: every evidence request is a new connection, and creating (and
 * reaping) a thread for each cost the LAS more than a wakeup does. A worker
 * serves one connection at a time, start to end, so a slow or silent client
 * holds only its own worker until its deadline, as a thread of its own did;
 * the acceptor starts another worker whenever none is idle, so there are
 * never fewer workers than connections to serve (at most max_conns).
 * Workers are joinable and joined (an idle one by the acceptor when its slot
 * is next needed, the rest at stop): a process that exits while a detached
 * thread is still unwinding leaves the leak checker half-freed thread state.
 */
enum worker_state { WORKER_FREE, WORKER_RUNNING, WORKER_EXITED };

struct worker {
	struct las *l;
	pthread_t tid;
	enum worker_state state; /* guarded by l->lock */
};

struct las {
	const struct las_options *o;
	struct ward_attest_key *key;
	struct las_cache *cache;
	atomic_ulong granted, refused, hits;
	pthread_mutex_t lock;   /* guards everything below */
	pthread_cond_t work;    /* a connection was queued, or stopping */
	pthread_cond_t gone;    /* the last worker exited */
	int *queue;             /* accepted, not yet taken: a ring of max_conns */
	struct worker *workers; /* max_conns slots */
	unsigned head, queued;
	unsigned active;  /* connections queued or being served (the cap) */
	unsigned threads; /* workers alive */
	unsigned idle;    /* workers waiting for a connection */
	int stopping;
};

struct request {
	struct ward_attest_las_req q;
	int fds[MAX_FDS];
	int nfds;
	pid_t peer;     /* SO_PEERCRED: the process that connected */
	int foreign;    /* some bytes came without credentials, or from another process */
	uint8_t ch[32]; /* the challenge sent */
};

static void log_line(const char *fmt, ...) WARD_PRINTF(1, 2);
static void log_line(const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One write per line keeps lines whole when threads log concurrently. */
	fprintf(stderr, "ward las: %s\n", buf);
}

/* Takes passed descriptors and checks who wrote this chunk (SO_PASSCRED adds it). */
static void collect_cmsgs(struct msghdr *mh, struct request *r)
{
	int creds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof u);
			creds = 1;
			if (u.pid != r->peer)
				r->foreign = 1;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (r->nfds < MAX_FDS)
				r->fds[r->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (!creds)
		r->foreign = 1;
}

/* Reads one request line within the deadline, collecting passed descriptors. */
static int read_request(const struct las *l, int s, char *buf, size_t *len, struct request *r)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t n = 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = l->o->read_timeout_ms -
		            ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return ward_error(WARD_E_FORMAT, "request timed out");
		union {
			struct cmsghdr h;
			char
			    b[CMSG_SPACE(MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
		} cm;
		struct iovec iov = {.iov_base = buf + n, .iov_len = REQ_MAX - n};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cm.b,
		                    .msg_controllen = sizeof cm.b};
		ssize_t k = recvmsg(s, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return ward_error_errno("cannot read the request");
		if (k > 0)
			collect_cmsgs(&mh, r);
		if (mh.msg_flags & MSG_CTRUNC)
			return ward_error(WARD_E_FORMAT, "too many descriptors passed");
		if (k == 0)
			break;
		n += (size_t)k;
		if (memchr(buf + n - (size_t)k, '\n', (size_t)k))
			break;
		if (n == REQ_MAX)
			return ward_error(WARD_E_FORMAT, "request longer than %d bytes", REQ_MAX);
	}
	if (n == 0)
		return ward_error(WARD_E_FORMAT, "empty request");
	*len = n;
	return 0;
}

struct peer_ctx {
	struct las *las;
	int pidfd;
};

static int peer_hash(void *ctx, int fd, uint8_t out[32])
{
	struct peer_ctx *p = ctx;
	int hit = 0;
	int rc = las_cache_measure(p->las->cache, fd, out, &hit);
	if (hit)
		atomic_fetch_add(&p->las->hits, 1);
	return rc;
}

/*
 * The pidfd pins the process that connected: if it is still alive once
 * /proc/PID/exe is open and /proc/PID/maps read, the pid was not recycled.
 */
static int peer_alive(void *ctx)
{
	struct peer_ctx *p = ctx;
	if (p->pidfd >= 0 && pidfd_send_signal(p->pidfd, 0, NULL, 0) < 0)
		return ward_error(WARD_E_DENIED, "the peer process exited during attestation");
	return 0;
}

static int measure_launcher(struct las *l, pid_t pid, int pidfd, uint8_t out[32])
{
	struct peer_ctx p = {.las = l, .pidfd = pidfd};
	struct ward_attest_proc_ops ops = {.hash = peer_hash, .still_same = peer_alive, .ctx = &p};
	return ward_attest_measure_process((int)pid, &ops, out);
}

static int sign_reply(struct las *l, struct ward_attest_claims *c, char *reply, size_t cap)
{
	uint8_t ev[WARD_ATTEST_EVIDENCE_BYTES];
	int rc = ward_attest_evidence_sign(c, l->key, ev);
	if (rc < 0)
		return rc;
	char b64[sodium_base64_ENCODED_LEN(WARD_ATTEST_EVIDENCE_BYTES,
	                                   sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, ev, sizeof ev, sodium_base64_VARIANT_ORIGINAL);
	snprintf(reply, cap, "{\"evidence\":\"%s\"}\n", b64);
	return 0;
}

/* Before the challenge: who connected, which image it runs, and its measurement. */
static int measure_peer(struct las *l, int s, struct ucred *cr, int *pidfd,
                        struct ward_attest_image *img, uint8_t launcher[32])
{
	socklen_t sl = sizeof *cr;
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, cr, &sl) < 0 || cr->pid <= 0)
		return ward_error_errno("cannot identify the peer (SO_PEERCRED)");
	sl = sizeof *pidfd;
	if (getsockopt(s, SOL_SOCKET, SO_PEERPIDFD, pidfd, &sl) < 0) {
		*pidfd = -1;
		if (errno == ESRCH)
			return ward_error(WARD_E_DENIED, "the peer process has exited");
	}
	int one = 1;
	if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
		return ward_error_errno("SO_PASSCRED");
	/* Checked again after the request: an execve in between cannot restore this layout. */
	int rc = ward_attest_image_read(cr->pid, img);
	if (rc == 0)
		rc = measure_launcher(l, cr->pid, *pidfd, launcher);
	return rc;
}

/* The challenge line; the request must echo it, so it was written after the measurement. */
static int send_challenge(int s, struct request *r)
{
	char hex[65], line[96];
	randombytes_buf(r->ch, sizeof r->ch);
	ward_attest_hex(r->ch, hex);
	int n = snprintf(line, sizeof line, "{\"challenge\":\"%s\"}\n", hex);
	if (send(s, line, (size_t)n, MSG_NOSIGNAL) != n)
		return ward_error_errno("cannot send the challenge");
	return 0;
}

/*
 * The request must come from the measured process, still running the
 * measured image, through the LAS client: written by the peer's pid
 * (SCM_CREDENTIALS), echoing the challenge, with a pidfd of itself first.
 */
static int take_request(struct las *l, int s, struct request *r,
                        const struct ward_attest_image *img, int pidfd)
{
	char *buf = malloc(REQ_MAX + 1);
	size_t n = 0;
	int rc = buf ? read_request(l, s, buf, &n, r) : ward_error(WARD_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = ward_attest_las_parse_request(buf, n, &r->q);
	free(buf);
	if (rc < 0)
		return rc;
	if (r->foreign)
		return ward_error(WARD_E_DENIED, "the request was written by another process "
		                                 "than the one that connected");
	if (sodium_memcmp(r->q.challenge, r->ch, sizeof r->ch) != 0)
		return ward_error(WARD_E_DENIED,
		                  "the request does not echo this connection's challenge");
	if (r->nfds != 1 + (r->q.want_workload != 0))
		return ward_error(WARD_E_FORMAT, "%s",
		                  r->q.want_workload
		                      ? "\"workload\": true needs a pidfd and one descriptor"
		                      : "the request needs exactly a pidfd");
	rc = ward_attest_pidfd_pid(r->fds[0]);
	if (rc >= 0 && rc != r->peer)
		rc = ward_error(WARD_E_DENIED, "the pidfd passed is not the connecting process's");
	if (rc < 0)
		return rc;
	rc = ward_attest_image_check(r->peer, img);
	if (rc == 0)
		rc = peer_alive(&(struct peer_ctx){.las = l, .pidfd = pidfd});
	return rc;
}

static int handle(struct las *l, int s, struct ucred *cr, struct request *r, char *reply,
                  size_t cap)
{
	struct ward_attest_claims c;
	memset(&c, 0, sizeof c);
	struct ward_attest_image img;
	int pidfd = -1;
	int rc = measure_peer(l, s, cr, &pidfd, &img, c.launcher);
	r->peer = cr->pid;
	if (rc == 0)
		rc = send_challenge(s, r);
	if (rc == 0)
		rc = take_request(l, s, r, &img, pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (rc == 0 && r->q.want_workload) {
		int hit = 0;
		rc = las_cache_measure(l->cache, r->fds[1], c.workload, &hit);
		c.flags = WARD_ATTEST_HAS_WORKLOAD;
		if (hit)
			atomic_fetch_add(&l->hits, 1);
	}
	if (rc < 0)
		return rc;
	memcpy(c.report_data, r->q.report_data, 32);
	memcpy(c.nonce, r->q.nonce, 32);
	randombytes_buf(c.las_nonce, sizeof c.las_nonce);
	c.time = (int64_t)time(NULL);
	c.pid = (uint32_t)cr->pid;
	c.uid = cr->uid;
	c.gid = cr->gid;
	return sign_reply(l, &c, reply, cap);
}

static void error_reply(char *reply, size_t cap, const char *msg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	snprintf(reply, cap, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void serve(struct las *l, int fd)
{
	struct request r = {.nfds = 0};
	struct ucred cr = {0};
	char reply[1024];
	ward_clear_error();
	int rc = handle(l, fd, &cr, &r, reply, sizeof reply);
	for (int i = 0; i < r.nfds; i++)
		close(r.fds[i]);
	if (rc < 0) {
		const char *msg = ward_last_error()[0] ? ward_last_error() : ward_strerror(rc);
		error_reply(reply, sizeof reply, msg);
		atomic_fetch_add(&l->refused, 1);
		log_line("refused pid %d uid %u: %s", (int)cr.pid, (unsigned)cr.uid, msg);
	} else {
		atomic_fetch_add(&l->granted, 1);
		if (l->o->verbose)
			log_line("evidence for pid %d uid %u", (int)cr.pid, (unsigned)cr.uid);
	}
	send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* Takes queued connections until idle for IDLE_MS, or until stopping and none is left. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct las *l = w->l;
	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct timespec until = ward_deadline_ms(CLOCK_MONOTONIC, IDLE_MS);
		int rc = 0;
		while (l->queued == 0 && !l->stopping && rc != ETIMEDOUT) {
			l->idle++;
			rc = pthread_cond_timedwait(&l->work, &l->lock, &until);
			l->idle--;
		}
		if (l->queued == 0)
			break;
		int fd = l->queue[l->head];
		l->head = (l->head + 1) % l->o->max_conns;
		l->queued--;
		pthread_mutex_unlock(&l->lock);
		serve(l, fd);
		pthread_mutex_lock(&l->lock);
		l->active--;
	}
	w->state = WORKER_EXITED;
	if (--l->threads == 0)
		pthread_cond_broadcast(&l->gone);
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/*
 * Joins every worker that has exited; with the lock held. Safe: a worker
 * marks itself exited under the lock and never takes it again, so the join
 * waits only for its return.
 */
static void reap_exited(struct las *l)
{
	for (unsigned i = 0; i < l->o->max_conns; i++) {
		struct worker *w = &l->workers[i];
		if (w->state == WORKER_EXITED) {
			pthread_join(w->tid, NULL);
			w->state = WORKER_FREE;
		}
	}
}

/* A free slot for a new worker, with the lock held; threads < max_conns guarantees one. */
static struct worker *free_slot(struct las *l)
{
	reap_exited(l);
	for (unsigned i = 0; i < l->o->max_conns; i++)
		if (l->workers[i].state == WORKER_FREE)
			return &l->workers[i];
	return NULL;
}

/* Starts a worker in slot w, with the lock held. */
static int start_worker(struct las *l, struct worker *w)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SZ);
	w->l = l;
	int rc = pthread_create(&w->tid, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return -1;
	w->state = WORKER_RUNNING;
	l->threads++;
	return 0;
}

static void dispatch(struct las *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	if (l->active >= l->o->max_conns) {
		pthread_mutex_unlock(&l->lock);
		/* In place of the challenge: a client sends nothing before reading its first line.
		 */
		static const char busy[] = "{\"error\":\"LAS busy: too many connections\"}\n";
		send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	/* queued <= active < max_conns: the ring has room. */
	l->queue[(l->head + l->queued) % l->o->max_conns] = fd;
	l->queued++;
	l->active++;
	/* Each idle worker takes one queued connection; start a worker if they are too few. */
	struct worker *w = NULL;
	if (l->idle < l->queued && l->threads < l->o->max_conns)
		w = free_slot(l);
	if (!w) {
		pthread_cond_signal(&l->work);
		pthread_mutex_unlock(&l->lock);
		return;
	}
	/* Created under the lock, so the slot's tid is set before anyone may join it. */
	if (start_worker(l, w) == 0) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	log_line("cannot start a worker thread");
	pthread_cond_signal(&l->work);
	/* With no worker at all nothing would ever take the queue: refuse what waits. */
	while (l->threads == 0 && l->queued > 0) {
		close(l->queue[l->head]);
		l->head = (l->head + 1) % l->o->max_conns;
		l->queued--;
		l->active--;
	}
	pthread_mutex_unlock(&l->lock);
}

/* Creates the parent directory if missing; refuses to replace a live socket. */
static int make_socket(const char *path, unsigned mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return ward_error(WARD_E_INVAL, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	char dir[sizeof sa.sun_path];
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return ward_error_errno("%s", dir);
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return ward_error(WARD_E_EXISTS, "%s: exists and is not a socket", path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (probe >= 0)
			close(probe);
		if (live)
			return ward_error(WARD_E_EXISTS, "%s: another LAS is listening", path);
		unlink(path);
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return ward_error_errno("socket");
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 ||
	    listen(s, 1024) < 0) {
		int rc = ward_error_errno("%s", path);
		close(s);
		return rc;
	}
	return s;
}

/*
 * SIGINT/SIGTERM write to a pipe the accept loop polls. A handler rather than
 * a blocked mask + signalfd: libraries loaded with the module may have
 * started threads before us, and a signal delivered to one of those would
 * still kill the process.
 */
static int stop_fd = -1;

static void on_stop(int sig)
{
	(void)sig;
	int e = errno;
	if (write(stop_fd, "x", 1) < 0) {
		/* the pipe is full: a stop is pending anyway */
	}
	errno = e;
}

static int stop_pipe(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	stop_fd = p[1];
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return p[0];
}

static void accept_loop(struct las *l, int s, int sigfd)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = s, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_line("poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		int fd = accept4(s, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EMFILE and friends: back off instead of spinning. */
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				usleep(10000);
			continue;
		}
		dispatch(l, fd);
	}
}

/* The pool's lock, condition variables (work on CLOCK_MONOTONIC, for the idle timeout) and queue.
 */
static int pool_init(struct las *l)
{
	if (l->o->max_conns == 0)
		return ward_error(WARD_E_INVAL, "max_conns must be at least 1");
	l->queue = calloc(l->o->max_conns, sizeof *l->queue);
	l->workers = calloc(l->o->max_conns, sizeof *l->workers);
	if (!l->queue || !l->workers) {
		free(l->queue);
		free(l->workers);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	pthread_mutex_init(&l->lock, NULL);
	ward_cond_init_monotonic(&l->work);
	pthread_cond_init(&l->gone, NULL);
	return 0;
}

/*
 * Wakes every worker to finish what is queued and exit, waits for them up
 * to 5 s (a connection being served ends within its read deadline) and joins
 * them. 1 if they are all gone, 0 if some still run: they keep key and cache
 * alive.
 */
static int pool_stop(struct las *l)
{
	struct timespec until = ward_deadline_ms(CLOCK_REALTIME, 5000);
	pthread_mutex_lock(&l->lock);
	l->stopping = 1;
	pthread_cond_broadcast(&l->work);
	int rc = 0;
	while (l->threads > 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&l->gone, &l->lock, &until);
	int all = l->threads == 0;
	reap_exited(l);
	pthread_mutex_unlock(&l->lock);
	return all;
}

/*
 * Telling one exec from the next relies on address-space randomisation
 * (ward_attest_image_read): with it switched off system-wide, refuse to serve.
 */
static int check_aslr(void)
{
	FILE *f = fopen("/proc/sys/kernel/randomize_va_space", "re");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	if (v == 0)
		return ward_error(
		    WARD_E_UNSUPPORTED,
		    "address-space randomisation is off (kernel.randomize_va_space=0): "
		    "the LAS could not tell a process that executed another program");
	return 0;
}

int las_serve(const struct las_options *o, struct ward_attest_key *key)
{
	/* On the heap: worker threads still running at exit must not see a dead frame. */
	struct las *l = calloc(1, sizeof *l);
	if (!l) {
		ward_attest_key_free(key);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	l->o = o;
	l->key = key;
	int rc = pool_init(l);
	if (rc < 0) {
		free(l);
		ward_attest_key_free(key);
		return rc;
	}
	rc = check_aslr();
	int sigfd = rc == 0 ? stop_pipe() : -1;
	if (rc == 0 && sigfd < 0)
		rc = ward_error_errno("pipe");
	l->cache = rc == 0 ? las_cache_new(o->cache_entries) : NULL;
	if (rc == 0 && !l->cache)
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	int s = rc == 0 ? make_socket(o->socket_path, o->socket_mode) : -1;
	if (rc == 0 && s < 0)
		rc = s;
	int all_gone = 1;
	if (rc == 0) {
		uint8_t pk[32];
		char hex[65];
		ward_attest_key_public(key, pk);
		ward_attest_hex(pk, hex);
		log_line("listening on %s, platform key %s", o->socket_path, hex);
		accept_loop(l, s, sigfd);
		close(s);
		unlink(o->socket_path);
		all_gone = pool_stop(l);
		log_line("stopped: %lu evidence signed, %lu refused, %lu cache hits",
		         atomic_load(&l->granted), atomic_load(&l->refused), atomic_load(&l->hits));
	}
	if (sigfd >= 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(sigfd);
		close(stop_fd);
	}
	/* Workers still running after the grace period keep key, cache and pool alive. */
	if (all_gone) {
		las_cache_free(l->cache);
		ward_attest_key_free(key);
		pthread_cond_destroy(&l->work);
		pthread_cond_destroy(&l->gone);
		pthread_mutex_destroy(&l->lock);
		free(l->queue);
		free(l->workers);
		free(l);
	}
	return rc;
}
