/* Error codes and the per-thread "last error" message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"

static _Thread_local char last_msg[512];
static _Thread_local int last_code;

const char *ward_strerror(int code)
{
	switch (code) {
	case WARD_OK:
		return "success";
	case WARD_E_INVAL:
		return "invalid argument";
	case WARD_E_IO:
		return "I/O error";
	case WARD_E_NOMEM:
		return "out of memory";
	case WARD_E_FORMAT:
		return "malformed input";
	case WARD_E_NOTC4GH:
		return "not a Crypt4GH file";
	case WARD_E_NOKEY:
		return "no usable key";
	case WARD_E_PASSPHRASE:
		return "wrong passphrase";
	case WARD_E_BADMSG:
		return "authentication failed";
	case WARD_E_TRUNCATED:
		return "truncated input";
	case WARD_E_UNSUPPORTED:
		return "unsupported";
	case WARD_E_SENDER:
		return "unexpected sender";
	case WARD_E_EXISTS:
		return "already exists";
	case WARD_E_DENIED:
		return "denied";
	case WARD_E_NOTFOUND:
		return "not found";
	case WARD_E_CONFLICT:
		return "conflict";
	case WARD_E_SEALED:
		return "sealed";
	case WARD_E_RANGE:
		return "out of range";
	case WARD_E_INTERNAL:
		return "internal error";
	}
	return "unknown error";
}

const char *ward_last_error(void)
{
	return last_msg;
}

int ward_last_error_code(void)
{
	return last_code;
}

void ward_clear_error(void)
{
	last_msg[0] = '\0';
	last_code = WARD_OK;
}

static void set_message(int code, const char *fmt, va_list ap)
{
	last_code = code;
	if (vsnprintf(last_msg, sizeof last_msg, fmt, ap) < 0)
		snprintf(last_msg, sizeof last_msg, "%s", ward_strerror(code));
}

int ward_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message(code, fmt, ap);
	va_end(ap);
	return code;
}

int ward_error_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	set_message(WARD_E_IO, fmt, ap);
	va_end(ap);
	size_t len = strlen(last_msg);
	snprintf(last_msg + len, sizeof last_msg - len, ": %s", strerror(saved));
	errno = saved;
	return WARD_E_IO;
}

_Noreturn void ward_misuse(const char *what)
{
	fprintf(stderr, "libward: API misuse: %s\n", what);
	abort();
}

void ward_log_debug_(const char *func, const char *fmt, ...)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("WARD_DEBUG") != NULL;
	if (!enabled)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[ward] %s: ", func);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
