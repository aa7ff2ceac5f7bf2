/* Byte sources for the VCF input layers: descriptor, memory, peeking, non-consuming magic checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vcf/vcf_internal.h"

/* Large reads keep the per-chunk overhead negligible next to the scan. */
#define FD_BUF (256u << 10)

struct fd_src {
	struct vsrc base;
	int fd;
	uint8_t *prefix;
	size_t plen;
	uint8_t *buf;
};

static int fd_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	struct fd_src *f = (struct fd_src *)s;
	if (f->plen) {
		*data = f->prefix;
		*len = f->plen;
		f->plen = 0;
		return 0;
	}
	for (;;) {
		ssize_t n = read(f->fd, f->buf, FD_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ward_error_errno("read");
		*data = f->buf;
		*len = (size_t)n;
		return 0;
	}
}

static void fd_free(struct vsrc *s)
{
	struct fd_src *f = (struct fd_src *)s;
	free(f->prefix);
	free(f->buf);
	free(f);
}

int vsrc_fd_new(int fd, const uint8_t *prefix, size_t plen, struct vsrc **out)
{
	struct fd_src *f = calloc(1, sizeof *f);
	if (!f)
		return ward_error(WARD_E_NOMEM, "out of memory");
	f->base.next = fd_next;
	f->base.free = fd_free;
	f->fd = fd;
	f->buf = malloc(FD_BUF);
	if (plen) {
		f->prefix = malloc(plen);
		if (f->prefix)
			memcpy(f->prefix, prefix, plen);
		f->plen = plen;
	}
	if (!f->buf || (plen && !f->prefix)) {
		fd_free(&f->base);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	*out = &f->base;
	return 0;
}

struct mem_src {
	struct vsrc base;
	const uint8_t *p;
	size_t left, chunk;
};

static int mem_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	struct mem_src *m = (struct mem_src *)s;
	size_t n = m->left;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	*data = m->p;
	*len = n;
	m->p += n;
	m->left -= n;
	return 0;
}

static void mem_free(struct vsrc *s)
{
	free(s);
}

int vsrc_mem_new(const uint8_t *buf, size_t len, size_t chunk, struct vsrc **out)
{
	struct mem_src *m = calloc(1, sizeof *m);
	if (!m)
		return ward_error(WARD_E_NOMEM, "out of memory");
	m->base.next = mem_next;
	m->base.free = mem_free;
	m->p = buf;
	m->left = len;
	m->chunk = chunk;
	*out = &m->base;
	return 0;
}

/* Serves a copied head, then the rest of the chunk it came from, then inner. */
struct peek_src {
	struct vsrc base;
	struct vsrc *inner;
	uint8_t *head;
	size_t hlen;
	const uint8_t *rest;
	size_t rlen;
};

static int peek_next(struct vsrc *s, const uint8_t **data, size_t *len)
{
	struct peek_src *p = (struct peek_src *)s;
	if (p->hlen) {
		*data = p->head;
		*len = p->hlen;
		p->hlen = 0;
		return 0;
	}
	if (p->rlen) {
		*data = p->rest;
		*len = p->rlen;
		p->rlen = 0;
		return 0;
	}
	return vsrc_next(p->inner, data, len);
}

static void peek_free(struct vsrc *s)
{
	struct peek_src *p = (struct peek_src *)s;
	vsrc_free(p->inner);
	free(p->head);
	free(p);
}

int vsrc_peek_new(struct vsrc *inner, size_t want, const uint8_t **head, size_t *hlen,
                  struct vsrc **out)
{
	struct peek_src *p = calloc(1, sizeof *p);
	uint8_t *h = malloc(want ? want : 1);
	if (!p || !h) {
		free(p);
		free(h);
		vsrc_free(inner);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	p->base.next = peek_next;
	p->base.free = peek_free;
	p->inner = inner;
	p->head = h;
	size_t have = 0;
	while (have < want) {
		const uint8_t *d;
		size_t n;
		int rc = vsrc_next(inner, &d, &n);
		if (rc < 0) {
			peek_free(&p->base);
			return rc;
		}
		if (n == 0)
			break;
		if (have == 0 && n >= want) {
			/* The common case: the first chunk holds the head, no copy. */
			p->rest = d;
			p->rlen = n;
			*head = d;
			*hlen = want;
			*out = &p->base;
			return 0;
		}
		size_t k = n < want - have ? n : want - have;
		memcpy(h + have, d, k);
		have += k;
		p->rest = d + k;
		p->rlen = n - k;
	}
	p->hlen = have;
	*head = h;
	*hlen = have;
	*out = &p->base;
	return 0;
}

/* Duplicates the first bytes of a pipe with tee(2), so nothing is consumed. */
static int tee_peek(int fd, uint8_t *buf, size_t want, size_t *got)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	int rc = -1;
	for (;;) {
		ssize_t n = tee(fd, p[1], want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n > 0 && ward_read_full(p[0], buf, (size_t)n) != n)
			break;
		*got = (size_t)n;
		if ((size_t)n >= want || n == 0) {
			rc = 0;
			break;
		}
		/* Fewer bytes than wanted: wait for more, or for the writer to close. */
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLHUP)) {
			n = tee(fd, p[1], want, 0);
			if (n > 0 && (size_t)n > *got && ward_read_full(p[0], buf, (size_t)n) != n)
				break;
			if (n > 0)
				*got = (size_t)n;
			rc = 0;
			break;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	int e = errno;
	close(p[0]);
	close(p[1]);
	errno = e;
	return rc;
}

int vcf_fd_peek(int fd, uint8_t *buf, size_t want, size_t *got, int *consumed)
{
	struct stat st;
	*got = 0;
	*consumed = 0;
	if (fstat(fd, &st) < 0)
		return ward_error_errno("fstat");
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		off_t off = lseek(fd, 0, SEEK_CUR);
		if (off >= 0) {
			size_t have = 0;
			while (have < want) {
				ssize_t n = pread(fd, buf + have, want - have, off + (off_t)have);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					return ward_error_errno("read");
				if (n == 0)
					break;
				have += (size_t)n;
			}
			*got = have;
			return 0;
		}
	}
	if (S_ISFIFO(st.st_mode) && tee_peek(fd, buf, want, got) == 0)
		return 0;
	ssize_t n = ward_read_full(fd, buf, want);
	if (n < 0)
		return ward_error_errno("read");
	*got = (size_t)n;
	*consumed = 1;
	return 0;
}

/* Feeds prefix + the rest of fd into a pipe, for readers that need a descriptor. */
struct vcf_relay {
	pthread_t thread;
	int in_fd, pipe_w;
	uint8_t *prefix;
	size_t plen;
};

static void *relay_main(void *arg)
{
	struct vcf_relay *r = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	/* A reader that stops early makes our writes fail with EPIPE, not kill us. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (ward_write_full(r->pipe_w, r->prefix, r->plen) < 0)
		goto done;
	for (;;) {
		ssize_t n = splice(r->in_fd, NULL, r->pipe_w, NULL, 1u << 20, SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		if (n > 0)
			continue;
		/* splice needs a pipe on one side and a capable file on the other; copy instead. */
		uint8_t buf[1u << 16];
		for (;;) {
			ssize_t m = read(r->in_fd, buf, sizeof buf);
			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0 || ward_write_full(r->pipe_w, buf, (size_t)m) < 0)
				goto done;
		}
	}
done:
	close(r->pipe_w);
	r->pipe_w = -1;
	return NULL;
}

int vcf_relay_start(int fd, const uint8_t *prefix, size_t plen, struct vcf_relay **out, int *newfd)
{
	struct vcf_relay *r = calloc(1, sizeof *r);
	int p[2];
	if (!r)
		return ward_error(WARD_E_NOMEM, "out of memory");
	r->prefix = malloc(plen ? plen : 1);
	if (!r->prefix) {
		free(r);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	memcpy(r->prefix, prefix, plen);
	r->plen = plen;
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(r->prefix);
		free(r);
		return ward_error_errno("pipe");
	}
	r->in_fd = fd;
	r->pipe_w = p[1];
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		close(p[0]);
		close(p[1]);
		free(r->prefix);
		free(r);
		return ward_error(WARD_E_NOMEM, "cannot start a thread");
	}
	*newfd = p[0];
	*out = r;
	return 0;
}

/* The caller closes the read end first, so a blocked writer wakes up with EPIPE. */
void vcf_relay_stop(struct vcf_relay *r)
{
	if (!r)
		return;
	pthread_join(r->thread, NULL);
	free(r->prefix);
	free(r);
}
