/* Internal helpers shared by every libward module: errors, logging, I/O. */
#ifndef WARD_CORE_INTERNAL_H
#define WARD_CORE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ward/error.h"

/*
 * Records a failure for ward_last_error() and returns code, so callers can
 * write `return ward_error(WARD_E_FORMAT, "bad magic");`.
 */
int ward_error(int code, const char *fmt, ...) WARD_PRINTF(2, 3);

/* Same, appending ": strerror(errno)"; code is WARD_E_IO. errno is kept. */
int ward_error_errno(const char *fmt, ...) WARD_PRINTF(1, 2);

/* A caller broke an API contract: print and abort. Never returns. */
_Noreturn void ward_misuse(const char *what);

/* Library diagnostics go to stderr only when WARD_DEBUG is set. */
void ward_log_debug_(const char *func, const char *fmt, ...) WARD_PRINTF(2, 3);
#define ward_log_debug(...) ward_log_debug_(__func__, __VA_ARGS__)

/*
 * read(2) until n bytes or EOF, retrying EINTR and short reads. Returns the
 * number of bytes read (< n only at EOF) or -1 with errno set.
 */
ssize_t ward_read_full(int fd, void *buf, size_t n);

/* write(2) all n bytes, retrying EINTR and short writes. 0 or -1/errno. */
int ward_write_full(int fd, const void *buf, size_t n);

/* A condition variable whose timed waits use CLOCK_MONOTONIC (wall-clock jumps do not move
 * them). 0 or an errno value. */
static inline int ward_cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}

/* ms milliseconds from now on clock clk: a deadline for pthread_cond_timedwait. */
static inline struct timespec ward_deadline_ms(clockid_t clk, long ms)
{
	struct timespec t;
	clock_gettime(clk, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* Little- and big-endian loads and stores (file formats fix the order). */
static inline uint32_t ward_load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ward_load64_le(const uint8_t *p)
{
	return (uint64_t)ward_load32_le(p) | (uint64_t)ward_load32_le(p + 4) << 32;
}
static inline void ward_store32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
static inline void ward_store64_le(uint8_t *p, uint64_t v)
{
	ward_store32_le(p, (uint32_t)v);
	ward_store32_le(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t ward_load32_be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint16_t ward_load16_be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void ward_store32_be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void ward_store16_be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

#endif
