/* Core helpers: error codes and messages, atomic output files. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core_internal.h"
#include "test.h"
#include "ward/io.h"

static int count_entries(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static void errors(void)
{
	CHECK(!strcmp(ward_strerror(WARD_E_BADMSG), "authentication failed"),
	      "strerror names codes");
	CHECK(ward_error(WARD_E_FORMAT, "bad %s %d", "thing", 7) == WARD_E_FORMAT &&
	          !strcmp(ward_last_error(), "bad thing 7") &&
	          ward_last_error_code() == WARD_E_FORMAT,
	      "ward_error records code and message");
	errno = ENOENT;
	CHECK(ward_error_errno("open %s", "x") == WARD_E_IO &&
	          !strcmp(ward_last_error(), "open x: No such file or directory") &&
	          errno == ENOENT,
	      "ward_error_errno appends strerror and keeps errno");
	ward_clear_error();
	CHECK(!ward_last_error()[0] && ward_last_error_code() == 0, "ward_clear_error");
}

static void outfiles(void)
{
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/out", test_tmpdir());
	mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/result", dir);
	struct ward_outfile *f;
	CHECK_RC(ward_outfile_open(path, 0600, &f), 0, "open an output");
	CHECK(write(ward_outfile_fd(f), "hello", 5) == 5, "write to it");
	CHECK(access(path, F_OK) != 0, "the target does not exist before commit");
	CHECK(count_entries(dir) == 1, "only the temporary file exists");
	CHECK_RC(ward_outfile_commit(f, 0), 0, "commit");
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 5 && (st.st_mode & 0777) == 0600,
	      "after commit the target has the data and mode 0600");
	CHECK(count_entries(dir) == 1, "no temporary file is left");

	CHECK_RC(ward_outfile_open(path, 0644, &f), 0, "open again");
	CHECK(write(ward_outfile_fd(f), "x", 1) == 1, "write");
	ward_outfile_abort(f);
	CHECK(stat(path, &st) == 0 && st.st_size == 5, "abort leaves the old target untouched");
	CHECK(count_entries(dir) == 1, "abort removes the temporary file");

	CHECK_RC(ward_outfile_open(path, 0600, &f), 0, "open for an exclusive commit");
	CHECK_RC(ward_outfile_commit(f, 1), WARD_E_EXISTS,
	         "exclusive commit refuses an existing file");
	CHECK(count_entries(dir) == 1, "and cleans up");

	CHECK_RC(ward_outfile_open("/nonexistent-dir/x", 0600, &f), WARD_E_IO,
	         "a missing directory is an I/O error");

	/* Devices and FIFOs are written in place, never replaced by a rename. */
	CHECK_RC(ward_outfile_open("/dev/null", 0600, &f), 0, "open /dev/null as an output");
	CHECK(write(ward_outfile_fd(f), "x", 1) == 1, "write to it");
	CHECK_RC(ward_outfile_commit(f, 0), 0, "commit /dev/null");
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
	      "/dev/null is still a character device after commit");
	CHECK_RC(ward_outfile_open(dir, 0600, &f), WARD_E_INVAL, "a directory is refused");

	/* A fatal signal removes the temporary file. */
	pid_t pid = fork();
	if (pid == 0) {
		struct ward_outfile *g;
		if (ward_outfile_open(path, 0600, &g) == 0)
			raise(SIGTERM);
		_exit(3);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "child killed by SIGTERM");
	CHECK(count_entries(dir) == 1, "the killed writer's temporary file was removed");
}

int main(void)
{
	errors();
	outfiles();
	return test_done();
}
