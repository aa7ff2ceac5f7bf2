/* Helpers shared by the session validators (parse.c, parse_service.c). */
#ifndef WARD_SESSION_PARSE_UTIL_H
#define WARD_SESSION_PARSE_UTIL_H

#include "session/session_internal.h"

/* Records "line N: PATH: message" as WARD_E_FORMAT and returns it. */
int ws_perr(const struct ynode *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 if n is a plain null scalar (empty, ~, null). */
int ws_is_null(const struct ynode *n);

/* Copies a scalar's text after checking it is printable UTF-8 (tab, CR, LF allowed). */
int ws_get_str(const struct ynode *n, const char *path, char **out);

/* Looks key up in mapping m (NULL if absent). */
const struct ynode *ws_map_get(const struct ynode *m, const char *key);

/* Refuses keys of m that are not in the NULL-terminated list allowed. */
int ws_map_check_keys(const struct ynode *m, const char *path, const char *const *allowed,
                      const char *hint);

/* Parses 64 hex digits (any case) into 32 bytes. 0 or -1. */
int ws_hex32(const char *s, uint8_t out[32]);

/* Sorts strings bytewise and drops repeats; returns the new count. */
size_t ws_sort_unique(char **v, size_t n);

/* Validates the services of the document (parse_service.c). */
int ws_parse_services(struct ward_session *s, const struct ynode *list);
/* Checks every secret reference of every service against the declared secrets. */
int ws_check_references(const struct ward_session *s, const struct ynode *services);

#endif
