/*
 * The launcher measurement of a running process: its executable plus the
 * ward modules it mapped (the `ward run` code lives in lib/ward/cas.so), and
 * a refusal if it runs code from a file an unprivileged user could change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <sodium.h>

#include "attest/attest_internal.h"

#define MAPS_MAX     (1u << 20)
#define MAX_MAPPINGS 512
#define LAUNCHER_TAG "ward-launcher-v1"

/*
 * PROCMAP_QUERY (Linux >= 6.11), from include/uapi/linux/fs.h; Debian 12's
 * headers predate it. One ioctl on an open /proc/PID/maps returns the next
 * VMA matching the flags, so the LAS visits only the executable mappings
 * instead of having the kernel format, and us parse, every line of the text.
 */
struct ward_procmap_query {
	uint64_t size; /* sizeof this struct: the kernel accepts older and newer sizes */
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size; /* in: buffer size; out: name length + NUL, 0 if no name */
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
_Static_assert(sizeof(struct ward_procmap_query) == 104, "uapi struct procmap_query layout");
#define WARD_PROCMAP_QUERY                  _IOWR('f', 17, struct ward_procmap_query)
#define WARD_PROCMAP_QUERY_VMA_EXECUTABLE   0x04u
#define WARD_PROCMAP_QUERY_COVERING_OR_NEXT 0x10u

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
	char name[PATH_MAX]; /* the kernel's limit for a PROCMAP_QUERY name */
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

/* A ward module: its hash joins the measurement (the fd is needed to read it). */
static int hash_module(struct scan *s, const char *path, dev_t dev, ino_t ino)
{
	/* O_NONBLOCK: a FIFO put at the path must not stall the LAS (it fails the inode check). */
	int fd = openat(s->rootfd, path + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return ward_error_errno("%.200s: cannot open a mapped file", path);
	struct stat st;
	int rc = 0;
	uint8_t(*m)[32] = NULL;
	if (fstat(fd, &st) < 0)
		rc = ward_error_errno("%.200s", path);
	else if (st.st_dev != dev || st.st_ino != ino)
		rc = ward_error(WARD_E_DENIED, "%.200s was replaced after it was mapped", path);
	else if (!(m = realloc(s->mods, (s->n_mods + 1) * sizeof *m)))
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	else {
		s->mods = m;
		rc = hash_fd(s, fd, s->mods[s->n_mods]);
		s->n_mods += rc == 0;
	}
	close(fd);
	return rc;
}

/*
 * Any other file must be one only root or the LAS's user can change. A stat
 * is enough (no open and close for each of the dozens of libraries a client
 * maps); the inode check says the path still names the mapped file.
 */
static int vet_file(struct scan *s, const char *path, dev_t dev, ino_t ino)
{
	struct stat st;
	if (fstatat(s->rootfd, path + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return ward_error_errno("%.200s: cannot stat a mapped file", path);
	if (S_ISLNK(st.st_mode)) { /* the answer open(O_NOFOLLOW) gave */
		errno = ELOOP;
		return ward_error_errno("%.200s: cannot open a mapped file", path);
	}
	if (st.st_dev != dev || st.st_ino != ino)
		return ward_error(WARD_E_DENIED, "%.200s was replaced after it was mapped", path);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022))
		return ward_error(WARD_E_DENIED,
		                  "runs code from %.200s, which an unprivileged user can change "
		                  "(owner uid %u, mode %04o)",
		                  path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
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
	return is_module(path) ? hash_module(s, path, dev, ino) : vet_file(s, path, dev, ino);
}

/* One executable mapping, from either source: code must come from a vetted file. */
static int check_mapping(struct scan *s, const char *name, dev_t dev, unsigned long long ino)
{
	if (ino != 0)
		return examine(s, name, dev, (ino_t)ino);
	/* Code copied into anonymous memory would escape the file checks. */
	if (strcmp(name, "[vdso]") == 0 || strcmp(name, "[vsyscall]") == 0)
		return 0;
	return ward_error(WARD_E_DENIED, "runs code from anonymous memory (%.100s)",
	                  name[0] ? name : "no name");
}

/*
 * The executable mappings through PROCMAP_QUERY. 1 if the kernel lacks the
 * ioctl (ENOTTY before 6.11; EINVAL if it rejects the request), so the
 * caller parses the text instead; 0 or a negative ward_err otherwise. Each
 * query takes a reference on the mm the fd was opened on: once the process
 * has exited it fails with ESRCH, so a dying peer cannot hide mappings.
 */
static int scan_query(struct scan *s, int mfd)
{
	uint64_t addr = 0;
	for (int first = 1;;) {
		struct ward_procmap_query q = {
		    .size = sizeof q,
		    .query_flags =
		        WARD_PROCMAP_QUERY_VMA_EXECUTABLE | WARD_PROCMAP_QUERY_COVERING_OR_NEXT,
		    .query_addr = addr,
		    .vma_name_size = sizeof s->name,
		    .vma_name_addr = (uint64_t)(uintptr_t)s->name,
		};
		if (ioctl(mfd, WARD_PROCMAP_QUERY, &q) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOENT) /* no executable mapping at or above addr */
				return 0;
			if (first && (errno == ENOTTY || errno == EINVAL))
				return 1;
			if (errno == ESRCH)
				return ward_error(WARD_E_DENIED,
				                  "the process exited during attestation");
			return ward_error_errno("cannot query the process's mappings");
		}
		first = 0;
		if (q.vma_name_size == 0)
			s->name[0] = '\0';
		int rc = check_mapping(s, s->name, makedev(q.dev_major, q.dev_minor), q.inode);
		if (rc < 0)
			return rc;
		if (q.vma_end <= addr)
			return ward_error(WARD_E_INTERNAL, "PROCMAP_QUERY did not advance");
		addr = q.vma_end;
	}
}

/* A number in base 16 or 10 followed by sep (or the end of the line if sep is ' '). */
static char *field(char *p, int base, char sep, unsigned long long *v)
{
	/* strtoull alone would also take spaces, signs and "0x". */
	if (!(*p >= '0' && *p <= '9') &&
	    !(base == 16 && ((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))))
		return NULL;
	char *end;
	errno = 0;
	*v = strtoull(p, &end, base);
	if (errno)
		return NULL;
	if (*end == sep)
		return end + 1;
	return sep == ' ' && *end == '\0' ? end : NULL;
}

/* One line: "start-end perms offset major:minor inode   path". */
static int parse_line(char *line, char **perms, unsigned *maj, unsigned *min,
                      unsigned long long *ino, char **name)
{
	unsigned long long v, mj, mn;
	char *p = field(line, 16, '-', &v);
	p = p ? field(p, 16, ' ', &v) : NULL;
	if (!p)
		return -1;
	*perms = p;
	while (*p && *p != ' ')
		p++;
	if (*p != ' ' || p - *perms < 3)
		return -1;
	p = field(p + 1, 16, ' ', &v);
	p = p ? field(p, 16, ':', &mj) : NULL;
	p = p ? field(p, 16, ' ', &mn) : NULL;
	p = p ? field(p, 10, ' ', ino) : NULL;
	if (!p || mj > UINT_MAX || mn > UINT_MAX)
		return -1;
	while (*p == ' ')
		p++;
	*maj = (unsigned)mj;
	*min = (unsigned)mn;
	*name = p;
	return 0;
}

/* The text form, for kernels without PROCMAP_QUERY. */
static int scan_maps(struct scan *s, char *maps)
{
	for (char *line = maps, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *perms, *name;
		unsigned maj, min;
		unsigned long long ino;
		if (parse_line(line, &perms, &maj, &min, &ino, &name) < 0)
			return ward_error(WARD_E_FORMAT, "unexpected line in /proc/PID/maps");
		if (perms[2] != 'x')
			continue;
		int rc = check_mapping(s, name, makedev(maj, min), ino);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Reads the whole text, then one more byte from the start: the kernel
 * returns nothing once the process's mm is gone, and never brings it back,
 * so a non-empty final read proves the text was not cut short by an exit.
 */
static int read_maps(struct scan *s, int mfd)
{
	char *maps = NULL, c;
	size_t len = 0;
	int rc = read_all(mfd, &maps, &len);
	if (rc == 0 && lseek(mfd, 0, SEEK_SET) < 0)
		rc = ward_error_errno("cannot rewind the process's mappings");
	ssize_t r = rc == 0 ? read(mfd, &c, 1) : 0;
	if (rc == 0 && r < 0)
		rc = ward_error_errno("cannot read the process's mappings");
	else if (rc == 0 && r == 0)
		rc = ward_error(WARD_E_DENIED, "the process exited during attestation");
	if (rc == 0)
		rc = scan_maps(s, maps);
	free(maps);
	return rc;
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

int attest_measure_process_maps(int pid, const struct ward_attest_proc_ops *ops,
                                enum attest_maps how, uint8_t out[32])
{
	char dir[32];
	if (pid > 0)
		snprintf(dir, sizeof dir, "/proc/%d", pid);
	else
		strcpy(dir, "/proc/self");
	struct scan *s = malloc(sizeof *s);
	if (!s)
		return ward_error(WARD_E_NOMEM, "out of memory");
	s->ops = ops;
	s->n_seen = 0;
	s->mods = NULL;
	s->n_mods = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int exe = dfd < 0 ? -1 : openat(dfd, "exe", O_RDONLY | O_CLOEXEC);
	int mfd = exe < 0 ? -1 : openat(dfd, "maps", O_RDONLY | O_CLOEXEC);
	s->rootfd = mfd < 0 ? -1 : openat(dfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (s->rootfd < 0)
		rc = ward_error_errno("%s: cannot inspect the process (the LAS must run as root or "
		                      "as the client's user)",
		                      dir);
	/*
	 * exe and maps are open (both pinned to the process /proc/PID named
	 * then): is the pid still the process we mean? The mappings are read
	 * from the maps fd afterwards; it keeps referring to that process.
	 */
	if (rc == 0 && ops && ops->still_same)
		rc = ops->still_same(ops->ctx);
	uint8_t e[32];
	if (rc == 0 && fstat(exe, &s->exe) < 0)
		rc = ward_error_errno("%s/exe", dir);
	if (rc == 0)
		rc = hash_fd(s, exe, e);
	if (rc == 0 && how != ATTEST_MAPS_TEXT) {
		rc = scan_query(s, mfd);
		if (rc == 1 && how == ATTEST_MAPS_QUERY)
			rc = ward_error(WARD_E_UNSUPPORTED, "no PROCMAP_QUERY (Linux < 6.11)");
	}
	if (rc == 1 || (rc == 0 && how == ATTEST_MAPS_TEXT))
		rc = read_maps(s, mfd);
	if (rc == 0)
		combine(e, s->mods, s->n_mods, out);
	free(s->mods);
	int fds[] = {dfd, exe, mfd, s->rootfd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s);
	return rc;
}

int ward_attest_measure_process(int pid, const struct ward_attest_proc_ops *ops, uint8_t out[32])
{
	return attest_measure_process_maps(pid, ops, ATTEST_MAPS_AUTO, out);
}
