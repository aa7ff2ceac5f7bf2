/*
 * The launcher measurement of a running process: its executable plus the
 * ward modules it mapped (the `ward run` code lives in lib/ward/cas.so), and
 * a refusal if it runs code from a file an unprivileged user could change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sodium.h>

#include "attest/attest_internal.h"

#define MAPS_MAX     (1u << 20)
#define MAX_MAPPINGS 512
#define LAUNCHER_TAG "ward-launcher-v1"

struct mapping {
	dev_t dev;
	ino_t ino;
};

struct scan {
	const struct ward_attest_proc_ops *ops;
	int rootfd;
	struct stat exe;
	struct mapping seen[MAX_MAPPINGS];
	size_t n_seen;
	uint8_t (*mods)[32];
	size_t n_mods;
};

static int hash_fd(const struct scan *s, int fd, uint8_t out[32])
{
	if (s->ops && s->ops->hash)
		return s->ops->hash(s->ops->ctx, fd, out);
	return ward_attest_measure_fd(fd, out);
}

static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		if (!b)
			return ward_error(WARD_E_NOMEM, "out of memory");
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return ward_error_errno("cannot read the process's mappings");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			if (cap >= MAPS_MAX) {
				free(b);
				return ward_error(WARD_E_RANGE, "process has too many mappings");
			}
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				free(b);
			b = nb;
		}
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

static int is_module(const char *path)
{
	size_t n = strlen(path);
	const char *dir = strstr(path, "/lib/ward/");
	return dir && n > 3 && strcmp(path + n - 3, ".so") == 0 && !strchr(dir + 10, '/');
}

/* One executable file mapping: hash it if it is a ward module, else vet its owner. */
static int examine(struct scan *s, const char *path, dev_t dev, ino_t ino)
{
	if (dev == s->exe.st_dev && ino == s->exe.st_ino)
		return 0;
	for (size_t i = 0; i < s->n_seen; i++)
		if (s->seen[i].dev == dev && s->seen[i].ino == ino)
			return 0;
	if (s->n_seen == MAX_MAPPINGS)
		return ward_error(WARD_E_RANGE, "process maps too many files");
	s->seen[s->n_seen++] = (struct mapping){dev, ino};
	if (path[0] != '/' || strstr(path, " (deleted)"))
		return ward_error(WARD_E_DENIED,
		                  "runs code from a deleted or unnamed file (%.200s)", path);
	int fd = openat(s->rootfd, path + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return ward_error_errno("%.200s: cannot open a mapped file", path);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0)
		rc = ward_error_errno("%.200s", path);
	else if (st.st_dev != dev || st.st_ino != ino)
		rc = ward_error(WARD_E_DENIED, "%.200s was replaced after it was mapped", path);
	else if (is_module(path)) {
		uint8_t(*m)[32] = realloc(s->mods, (s->n_mods + 1) * sizeof *m);
		if (!m)
			rc = ward_error(WARD_E_NOMEM, "out of memory");
		else {
			s->mods = m;
			rc = hash_fd(s, fd, s->mods[s->n_mods]);
			s->n_mods += rc == 0;
		}
	} else if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022)) {
		rc = ward_error(WARD_E_DENIED,
		                "runs code from %.200s, which an unprivileged user can change "
		                "(owner uid %u, mode %04o)",
		                path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	close(fd);
	return rc;
}

/* Lines: "start-end perms offset major:minor inode   path". */
static int scan_maps(struct scan *s, char *maps)
{
	for (char *line = maps, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char perms[8];
		unsigned maj, min;
		unsigned long long ino;
		int off = 0;
		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min, &ino, &off) <
		    4)
			return ward_error(WARD_E_FORMAT, "unexpected line in /proc/PID/maps");
		if (strlen(perms) < 3 || perms[2] != 'x')
			continue;
		/* Code copied into anonymous memory would escape the file checks. */
		if (ino == 0 && strcmp(line + off, "[vdso]") != 0 &&
		    strcmp(line + off, "[vsyscall]") != 0)
			return ward_error(WARD_E_DENIED, "runs code from anonymous memory (%.100s)",
			                  line[off] ? line + off : "no name");
		if (ino == 0)
			continue;
		int rc = examine(s, line + off, makedev(maj, min), (ino_t)ino);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void combine(const uint8_t exe[32], uint8_t (*mods)[32], size_t n, uint8_t out[32])
{
	if (n == 0) {
		memcpy(out, exe, 32);
		return;
	}
	qsort(mods, n, 32, cmp32);
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)LAUNCHER_TAG, sizeof LAUNCHER_TAG);
	crypto_hash_sha256_update(&st, exe, 32);
	for (size_t i = 0; i < n; i++)
		crypto_hash_sha256_update(&st, mods[i], 32);
	crypto_hash_sha256_final(&st, out);
}

int ward_attest_measure_process(int pid, const struct ward_attest_proc_ops *ops, uint8_t out[32])
{
	char dir[32], *maps = NULL;
	size_t len = 0;
	if (pid > 0)
		snprintf(dir, sizeof dir, "/proc/%d", pid);
	else
		strcpy(dir, "/proc/self");
	struct scan *s = calloc(1, sizeof *s);
	if (!s)
		return ward_error(WARD_E_NOMEM, "out of memory");
	s->ops = ops;
	s->rootfd = -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int exe = dfd < 0 ? -1 : openat(dfd, "exe", O_RDONLY | O_CLOEXEC);
	int mfd = exe < 0 ? -1 : openat(dfd, "maps", O_RDONLY | O_CLOEXEC);
	s->rootfd = mfd < 0 ? -1 : openat(dfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (s->rootfd < 0)
		rc = ward_error_errno("%s: cannot inspect the process (the LAS must run as root or "
		                      "as the client's user)",
		                      dir);
	if (rc == 0)
		rc = read_all(mfd, &maps, &len);
	/* exe is open and the maps are read: is the pid still the process we mean? */
	if (rc == 0 && ops && ops->still_same)
		rc = ops->still_same(ops->ctx);
	uint8_t e[32];
	if (rc == 0 && fstat(exe, &s->exe) < 0)
		rc = ward_error_errno("%s/exe", dir);
	if (rc == 0)
		rc = hash_fd(s, exe, e);
	if (rc == 0)
		rc = scan_maps(s, maps);
	if (rc == 0)
		combine(e, s->mods, s->n_mods, out);
	free(maps);
	free(s->mods);
	int fds[] = {dfd, exe, mfd, s->rootfd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s);
	return rc;
}
