/* The identity of one exec of a process, so the LAS can tell that a peer did not execve meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest_internal.h"

#define ADDR_NO_RANDOMIZE_BIT 0x0040000u /* <sys/personality.h>; the flag `setarch -R` sets */

/* Reads a small /proc file into buf (NUL-terminated); the length or a negative error. */
static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ward_error_errno("%s", path);
	ssize_t n;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return ward_error_errno("%s", path);
	}
	buf[n] = '\0';
	return (int)n;
}

/*
 * Fields 26 (startcode) and 28 (startstack) of /proc/PID/stat. They follow
 * the command name, which may hold spaces and parentheses: count from the
 * last ')'. The kernel shows them only to a reader allowed to inspect the
 * process (as for maps); 0 otherwise.
 */
static int stat_addresses(const char *dir, uint64_t *code, uint64_t *stack)
{
	char path[48], buf[1024];
	snprintf(path, sizeof path, "%s/stat", dir);
	int n = read_small(path, buf, sizeof buf);
	if (n < 0)
		return n;
	char *p = strrchr(buf, ')');
	if (!p)
		return ward_error(WARD_E_FORMAT, "%s: unexpected format", path);
	p++;
	for (int field = 3; field <= 28; field++) {
		char *end;
		while (*p == ' ')
			p++;
		if (field == 3) { /* the state letter */
			p++;
			continue;
		}
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p)
			return ward_error(WARD_E_FORMAT, "%s: field %d missing", path, field);
		if (field == 26)
			*code = v;
		else if (field == 28)
			*stack = v;
		p = end;
	}
	return 0;
}

int ward_attest_image_read(int pid, struct ward_attest_image *out)
{
	memset(out, 0, sizeof *out);
	char dir[32], path[48], buf[32];
	snprintf(dir, sizeof dir, "/proc/%d", pid);
	snprintf(path, sizeof path, "%s/personality", dir);
	int rc = read_small(path, buf, sizeof buf);
	if (rc < 0)
		return ward_error(WARD_E_DENIED,
		                  "%s: cannot read the process's personality (the LAS must run as "
		                  "root or as the client's user)",
		                  path);
	if (strtoul(buf, NULL, 16) & ADDR_NO_RANDOMIZE_BIT)
		return ward_error(WARD_E_DENIED, "the process runs without address-space "
		                                 "randomisation (setarch -R): refused");
	rc = stat_addresses(dir, &out->start_code, &out->start_stack);
	if (rc < 0)
		return rc;
	if (out->start_stack == 0)
		return ward_error(WARD_E_DENIED, "%s: the process's layout is hidden from the LAS",
		                  dir);
	return 0;
}

int ward_attest_image_check(int pid, const struct ward_attest_image *was)
{
	char dir[32];
	snprintf(dir, sizeof dir, "/proc/%d", pid);
	struct ward_attest_image now;
	int rc = stat_addresses(dir, &now.start_code, &now.start_stack);
	if (rc < 0)
		return ward_error(WARD_E_DENIED, "the process is gone or hidden: %s",
		                  ward_last_error());
	if (!ward_attest_image_same(was, &now))
		return ward_error(WARD_E_DENIED, "the process executed another program");
	return 0;
}

int ward_attest_image_same(const struct ward_attest_image *a, const struct ward_attest_image *b)
{
	return a->start_code == b->start_code && a->start_stack == b->start_stack;
}

int ward_attest_pidfd_pid(int fd)
{
	char path[48], buf[1024];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int n = read_small(path, buf, sizeof buf);
	if (n < 0)
		return n;
	const char *p = strstr(buf, "\nPid:");
	if (!p)
		return ward_error(WARD_E_FORMAT, "descriptor %d is not a pidfd", fd);
	long pid = strtol(p + 5, NULL, 10);
	if (pid <= 0) /* -1: the process has exited (and been reaped) */
		return ward_error(WARD_E_DENIED, "the process of pidfd %d has exited", fd);
	return (int)pid;
}
