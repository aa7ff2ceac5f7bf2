/* Atomic output files: written to a temporary name, renamed on success. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_internal.h"
#include "ward/io.h"

struct ward_outfile {
	int fd;
	int special; /* an existing non-regular file, written in place */
	char *path;  /* NULL for stdout */
	char *tmp;
};

/* The pending temporary file, removed from a signal handler if we die. */
#define MAX_PENDING 8
static char *volatile pending[MAX_PENDING];

static void on_fatal_signal(int sig)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i])
			unlink(pending[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void pending_add(char *tmp)
{
	static int handlers_installed;
	if (!handlers_installed) {
		int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGBUS};
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
			struct sigaction sa = {.sa_handler = on_fatal_signal};
			struct sigaction old;
			if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
				continue;
			sigaction(sigs[i], &sa, NULL);
		}
		handlers_installed = 1;
	}
	for (int i = 0; i < MAX_PENDING; i++)
		if (!pending[i]) {
			pending[i] = tmp;
			return;
		}
}

static void pending_remove(const char *tmp)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (pending[i] == tmp)
			pending[i] = NULL;
}

static void outfile_free(struct ward_outfile *f)
{
	if (f->tmp)
		pending_remove(f->tmp);
	free(f->path);
	free(f->tmp);
	free(f);
}

int ward_outfile_open(const char *path, unsigned mode, struct ward_outfile **out)
{
	struct ward_outfile *f = calloc(1, sizeof *f);
	if (!f)
		return ward_error(WARD_E_NOMEM, "out of memory");
	if (!path || strcmp(path, "-") == 0) {
		f->fd = STDOUT_FILENO;
		*out = f;
		return 0;
	}
	/*
	 * A device, FIFO or socket (/dev/null, a named pipe) is written in
	 * place: renaming a temporary file over it would replace the node.
	 */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			free(f);
			return ward_error(WARD_E_INVAL, "%s: is a directory", path);
		}
		f->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (f->fd < 0) {
			int rc = ward_error_errno("%s", path);
			free(f);
			return rc;
		}
		f->special = 1;
		*out = f;
		return 0;
	}
	size_t n = strlen(path);
	f->path = strdup(path);
	f->tmp = malloc(n + 8);
	if (!f->path || !f->tmp) {
		outfile_free(f);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	memcpy(f->tmp, path, n);
	memcpy(f->tmp + n, ".XXXXXX", 8);
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0) {
		int rc = ward_error_errno("%s: cannot create temporary file", path);
		outfile_free(f);
		return rc;
	}
	pending_add(f->tmp);
	if (fchmod(f->fd, (mode_t)mode) != 0) {
		int rc = ward_error_errno("%s: chmod", f->tmp);
		ward_outfile_abort(f);
		return rc;
	}
	*out = f;
	return 0;
}

int ward_outfile_fd(const struct ward_outfile *f)
{
	return f->fd;
}

int ward_outfile_commit(struct ward_outfile *f, int exclusive)
{
	int rc = 0;
	if (f->special) {
		if (close(f->fd) != 0)
			rc = ward_error_errno("close");
		outfile_free(f);
		return rc;
	}
	if (!f->path) {
		outfile_free(f);
		return 0;
	}
	if (fsync(f->fd) != 0 && errno != EINVAL) {
		rc = ward_error_errno("%s: fsync", f->path);
		goto fail;
	}
	if (close(f->fd) != 0) {
		f->fd = -1;
		rc = ward_error_errno("%s: close", f->path);
		goto fail;
	}
	f->fd = -1;
	if (exclusive) {
		/* link(2) fails if the target exists: no window for a race. */
		if (link(f->tmp, f->path) != 0) {
			rc = errno == EEXIST
			         ? ward_error(WARD_E_EXISTS, "%s: already exists", f->path)
			         : ward_error_errno("%s", f->path);
			goto fail;
		}
		unlink(f->tmp);
	} else if (rename(f->tmp, f->path) != 0) {
		rc = ward_error_errno("%s: rename", f->path);
		goto fail;
	}
	outfile_free(f);
	return 0;
fail:
	ward_outfile_abort(f);
	return rc;
}

void ward_outfile_abort(struct ward_outfile *f)
{
	if (!f)
		return;
	int saved = errno;
	if (f->special)
		close(f->fd);
	else if (f->path) {
		if (f->fd >= 0)
			close(f->fd);
		unlink(f->tmp);
	}
	outfile_free(f);
	errno = saved;
}
