/* Ward error codes, shared by every module of libward. */
#ifndef WARD_ERROR_H
#define WARD_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WARD_EXPORT       __attribute__((visibility("default")))
#define WARD_NODISCARD    __attribute__((warn_unused_result))
#define WARD_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define WARD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WARD_EXPORT
#define WARD_NODISCARD
#define WARD_NONNULL(...)
#define WARD_PRINTF(f, a)
#endif

/*
 * Fallible libward functions return 0 (WARD_OK) or one of these negative
 * codes. The code says what class of failure happened; ward_last_error()
 * says precisely what ("segment 12 failed authentication").
 */
enum ward_err {
	WARD_OK = 0,
	WARD_E_INVAL = -1,        /* bad argument or usage */
	WARD_E_IO = -2,           /* system I/O failure; errno kept in the message */
	WARD_E_NOMEM = -3,        /* allocation failed */
	WARD_E_FORMAT = -4,       /* malformed input (corrupt header, bad key file...) */
	WARD_E_NOTC4GH = -5,      /* input is not a Crypt4GH file */
	WARD_E_NOKEY = -6,        /* no header packet could be opened with this key */
	WARD_E_PASSPHRASE = -7,   /* wrong passphrase for a key file */
	WARD_E_BADMSG = -8,       /* authentication failed (a MAC did not verify) */
	WARD_E_TRUNCATED = -9,    /* input ends in the middle of a structure */
	WARD_E_UNSUPPORTED = -10, /* valid but unsupported method or feature */
	WARD_E_SENDER = -11,      /* writer key is not the expected sender */
	WARD_E_EXISTS = -12,      /* refusing to overwrite */
	WARD_E_DENIED = -13,      /* not allowed (policy, attestation) */
	WARD_E_NOTFOUND = -14,    /* no such object */
	WARD_E_CONFLICT = -15,    /* stale or missing predecessor, concurrent change */
	WARD_E_SEALED = -16,      /* the service is sealed */
	WARD_E_RANGE = -17,       /* offset or range outside the data */
	WARD_E_INTERNAL = -18,    /* a bug: please report */
};

/* A short constant name for a code ("authentication failed"). Never NULL. */
WARD_EXPORT const char *ward_strerror(int code);

/*
 * The detailed message of the last failure on this thread. Valid until the
 * next libward call on the same thread. Never NULL; "" if none.
 */
WARD_EXPORT const char *ward_last_error(void);

/* The code of the last failure on this thread (WARD_OK if none). */
WARD_EXPORT int ward_last_error_code(void);

/* Clears the last error of this thread. */
WARD_EXPORT void ward_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
