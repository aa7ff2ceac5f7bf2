/* Tests for ward_attest_image_* and ward_attest_pidfd_pid: telling one exec of a process from the
 * next. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "ward/attest.h"

/* A shell that waits for a line on its stdin (the returned pipe), then runs `then`. */
static pid_t spawn_shell(const char *then, int no_aslr, int *to_child)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[1]);
		if (no_aslr)
			personality(ADDR_NO_RANDOMIZE);
		char script[256];
		snprintf(script, sizeof script, "read x; %s", then);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	*to_child = p[1];
	return pid;
}

/* Waits until the child's command line starts with s (it has executed its next program). */
static int wait_cmdline(pid_t pid, const char *s)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 1000; i++) { /* up to 10 s on a loaded machine */
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (fd >= 0)
			close(fd);
		for (ssize_t k = 0; k < n; k++)
			if (buf[k] == '\0')
				buf[k] = ' ';
		if (n > 0) {
			buf[n] = '\0';
			if (strncmp(buf, s, strlen(s)) == 0)
				return 0;
		}
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	}
	return -1;
}

static void stop(pid_t pid, int fd)
{
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The device and inode of the process's executable, to check the test's premise. */
static int exe_id(pid_t pid, struct stat *st)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	return stat(path, st);
}

/* sh executing sh: the same file, a new image. */
static void exec_of_same_file(void)
{
	struct stat ea, eb;
	int to;
	pid_t pid = spawn_shell("exec /bin/sh -c 'read y; echo second'", 0, &to);
	struct ward_attest_image a, b, a2;
	CHECK(wait_cmdline(pid, "sh -c read x") == 0, "the child shell runs");
	CHECK_RC(ward_attest_image_read(pid, &a), 0, "image of a running shell");
	CHECK(exe_id(pid, &ea) == 0, "its executable");
	CHECK_RC(ward_attest_image_read(pid, &a2), 0, "read again");
	CHECK(ward_attest_image_same(&a, &a2), "no exec in between: the same image");
	CHECK_RC(ward_attest_image_check(pid, &a), 0, "the cheap check agrees");
	CHECK(write(to, "\n", 1) == 1, "let it execute sh again");
	CHECK(wait_cmdline(pid, "/bin/sh -c read y") == 0, "the second shell runs");
	CHECK_RC(ward_attest_image_read(pid, &b), 0, "image after the execve");
	CHECK(exe_id(pid, &eb) == 0 && ea.st_dev == eb.st_dev && ea.st_ino == eb.st_ino,
	      "the same executable file");
	CHECK(!ward_attest_image_same(&a, &b), "an execve of the same file is a new image");
	CHECK_RC(ward_attest_image_check(pid, &a), WARD_E_DENIED,
	         "the cheap check sees the execve");
	stop(pid, to);
}

int main(void)
{
	struct ward_attest_image a, b;
	CHECK_RC(ward_attest_image_read((int)getpid(), &a), 0, "image of this process");
	CHECK_RC(ward_attest_image_read((int)getpid(), &b), 0, "again");
	CHECK(ward_attest_image_same(&a, &b) && a.start_stack != 0,
	      "stable while nothing executes");
	CHECK_RC(ward_attest_image_read(999999999, &a), WARD_E_DENIED, "no such process");
	exec_of_same_file();

	int to;
	pid_t pid = spawn_shell("true", 1, &to);
	CHECK(wait_cmdline(pid, "sh -c read x") == 0, "a shell without randomisation runs");
	CHECK_RC(ward_attest_image_read(pid, &a), WARD_E_DENIED,
	         "a process with ADDR_NO_RANDOMIZE is refused");
	CHECK(strstr(ward_last_error(), "randomisation") != NULL, "says why: %s",
	      ward_last_error());
	stop(pid, to);

	int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	CHECK(pfd >= 0 && ward_attest_pidfd_pid(pfd) == (int)getpid(), "a pidfd names its process");
	int nfd = open("/dev/null", O_RDONLY);
	CHECK(ward_attest_pidfd_pid(nfd) < 0, "another descriptor is not a pidfd");
	close(nfd);
	pid = fork();
	if (pid == 0)
		_exit(0);
	int cfd = (int)syscall(SYS_pidfd_open, pid, 0);
	waitpid(pid, NULL, 0);
	CHECK_RC(ward_attest_pidfd_pid(cfd), WARD_E_DENIED, "the pidfd of a reaped process");
	close(cfd);
	close(pfd);
	return test_done();
}
