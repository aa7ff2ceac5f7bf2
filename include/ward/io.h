/* Output files that appear only when complete (temporary file + rename). */
#ifndef WARD_IO_H
#define WARD_IO_H

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ward_outfile;

/*
 * Opens an output. path NULL or "-" means standard output, written directly;
 * so is an existing path that is not a regular file (/dev/null, a FIFO).
 * Otherwise a temporary file "PATH.XXXXXX" is created beside PATH with the
 * given mode (0600 for secrets) and becomes PATH only on commit. If the
 * process is killed by SIGINT, SIGTERM, SIGHUP, SIGPIPE or SIGBUS the temporary file
 * is removed. Returns 0 and sets *out, or a negative ward_err.
 */
WARD_EXPORT WARD_NODISCARD int ward_outfile_open(const char *path, unsigned mode,
                                                 struct ward_outfile **out);

/* The descriptor to write to. */
WARD_EXPORT int ward_outfile_fd(const struct ward_outfile *f);

/*
 * Flushes the file to disk and renames it into place; frees f in all cases.
 * With exclusive set, refuses (WARD_E_EXISTS) when PATH exists already.
 */
WARD_EXPORT WARD_NODISCARD int ward_outfile_commit(struct ward_outfile *f, int exclusive);

/* Removes the temporary file and frees f. Accepts NULL. */
WARD_EXPORT void ward_outfile_abort(struct ward_outfile *f);

#ifdef __cplusplus
}
#endif
#endif
