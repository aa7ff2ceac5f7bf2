/* Finding and opening the workload executable exactly as `ward run` will execute it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/attest_internal.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* The checks that make "hashed" equal "executed"; see the header. */
static int check_open(int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ward_error_errno("%s", path);
	if (!S_ISREG(st.st_mode))
		return ward_error(WARD_E_DENIED, "%s: not a regular file", path);
	if (!(st.st_mode & 0111))
		return ward_error(WARD_E_DENIED, "%s: not executable", path);
	if (st.st_mode & 022)
		return ward_error(WARD_E_DENIED,
		                  "%s: writable by group or others (mode %04o): its content could "
		                  "change between measurement and execution",
		                  path, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return ward_error(
		    WARD_E_DENIED,
		    "%s: owned by uid %u, who could change it after measurement (owner "
		    "must be root or the caller)",
		    path, (unsigned)st.st_uid);
	unsigned char magic[4];
	ssize_t n = pread(fd, magic, sizeof magic, 0);
	if (n < 0)
		return ward_error_errno("%s", path);
	if (n >= 2 && magic[0] == '#' && magic[1] == '!')
		return ward_error(WARD_E_DENIED,
		                  "%s: is a script; its interpreter would run unmeasured (name the "
		                  "interpreter as the command and measure it)",
		                  path);
	if (n != 4 || memcmp(magic, "\177ELF", 4) != 0)
		return ward_error(WARD_E_DENIED, "%s: not an ELF executable", path);
	return 0;
}

static int open_checked(const char *path, int *fd)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ward_error(WARD_E_NOTFOUND, "%s: no such program", path);
		return ward_error_errno("%s", path);
	}
	int rc = check_open(f, path);
	if (rc < 0) {
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

static int copy_out(const char *path, char *resolved, size_t cap)
{
	if (!resolved)
		return 0;
	if (strlen(path) >= cap)
		return ward_error(WARD_E_INVAL, "%s: path too long", path);
	strcpy(resolved, path);
	return 0;
}

int ward_attest_open_program(const char *program, const char *path_env, char *resolved, size_t cap,
                             int *fd)
{
	*fd = -1;
	if (!program || !program[0])
		return ward_error(WARD_E_INVAL, "no program to run");
	if (strchr(program, '/')) {
		int rc = copy_out(program, resolved, cap);
		return rc < 0 ? rc : open_checked(program, fd);
	}
	if (!path_env || !path_env[0])
		path_env = DEFAULT_PATH;
	/* Like execvp: the first directory holding a regular executable file wins. */
	for (const char *p = path_env;;) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		char cand[4096];
		int n = dl ? snprintf(cand, sizeof cand, "%.*s/%s", (int)dl, p, program)
		           : snprintf(cand, sizeof cand, "./%s", program);
		struct stat st;
		if (n > 0 && (size_t)n < sizeof cand && stat(cand, &st) == 0 &&
		    S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			int rc = copy_out(cand, resolved, cap);
			return rc < 0 ? rc : open_checked(cand, fd);
		}
		if (!colon)
			break;
		p = colon + 1;
	}
	return ward_error(WARD_E_NOTFOUND, "%s: not found in PATH", program);
}
