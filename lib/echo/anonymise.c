/* Anonymising one echo video: Doppler test, text mask on every frame, PNGs in a directory renamed
 * into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core_internal.h"
#include "echo/echo_internal.h"

/*
 * The directory being filled, removed by a signal handler if the process is
 * killed. Only async-signal-safe calls run there: the file names are
 * rebuilt from the frame count with plain digit arithmetic.
 */
static char pending_dir[PATH_MAX];
static volatile sig_atomic_t pending_active;
static volatile sig_atomic_t pending_files;
static struct sigaction old_actions[4];
static const int clean_signals[4] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void pending_cleanup(void)
{
	char path[PATH_MAX + 32];
	size_t n = strlen(pending_dir);
	memcpy(path, pending_dir, n);
	path[n++] = '/';
	for (long i = 0; i < (long)pending_files; i++) {
		char digits[24];
		int d = 0;
		long x = i;
		do {
			digits[d++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		size_t k = n;
		while (d)
			path[k++] = digits[--d];
		memcpy(path + k, ".png", 5);
		unlink(path);
	}
	rmdir(pending_dir);
}

static void on_signal(int sig)
{
	if (pending_active)
		pending_cleanup();
	for (int i = 0; i < 4; i++)
		if (clean_signals[i] == sig && old_actions[i].sa_handler != SIG_DFL &&
		    old_actions[i].sa_handler != SIG_IGN &&
		    !(old_actions[i].sa_flags & SA_SIGINFO)) {
			/* Chain to the handler it replaced (ward_outfile's clean-up). */
			sigaction(sig, &old_actions[i], NULL);
			old_actions[i].sa_handler(sig);
			return;
		}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_handlers(void)
{
	static int installed;
	if (installed)
		return;
	for (int i = 0; i < 4; i++) {
		struct sigaction sa = {.sa_handler = on_signal};
		if (sigaction(clean_signals[i], NULL, &old_actions[i]) == 0 &&
		    old_actions[i].sa_handler == SIG_IGN)
			continue;
		sigaction(clean_signals[i], &sa, NULL);
	}
	installed = 1;
}

/* Removes the regular files of a directory we wrote, then the directory. */
static int remove_output_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return ward_error_errno("%s: cannot open", dir);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (rmdir(dir) != 0)
		return ward_error_errno("%s: cannot remove", dir);
	return 0;
}

/* Creates a fresh hidden directory beside out_dir, with the mode mkdir(2) gives. */
static int make_temp_dir(const char *out_dir, char *tmp, size_t size)
{
	const char *slash = strrchr(out_dir, '/');
	size_t dirlen = slash ? (size_t)(slash - out_dir) + 1 : 0;
	const char *base = out_dir + dirlen;
	for (int attempt = 0; attempt < 100; attempt++) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		unsigned long salt = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^
		                     (unsigned long)attempt * 2654435761u;
		int n = snprintf(tmp, size, "%.*s.%s.tmp-%06lx", (int)dirlen, out_dir, base,
		                 salt & 0xffffff);
		if (n < 0 || (size_t)n >= size)
			return ward_error(WARD_E_INVAL, "%s: path too long", out_dir);
		if (mkdir(tmp, 0777) == 0)
			return 0;
		if (errno != EEXIST)
			return ward_error_errno("%s: cannot create", tmp);
	}
	return ward_error(WARD_E_IO, "%s: cannot create a temporary directory", out_dir);
}

/* Moves the finished directory into place, replacing an old one if asked. */
static int publish(const char *tmp, const char *out_dir, int replace)
{
	if (rename(tmp, out_dir) == 0) {
		pending_active = 0;
		return 0;
	}
	if (errno != EEXIST && errno != ENOTEMPTY && errno != EISDIR && errno != ENOTDIR)
		return ward_error_errno("%s: cannot rename %s into place", out_dir, tmp);
	if (!replace)
		return ward_error(WARD_E_EXISTS, "%s: already exists", out_dir);
	/* Swap atomically, so out_dir is never missing, then delete the old output. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir, RENAME_EXCHANGE) != 0)
		return ward_error_errno("%s: cannot replace", out_dir);
	pending_active = 0; /* tmp now holds the old output */
	if (remove_output_dir(tmp) < 0)
		return ward_error(WARD_E_IO, "%s: replaced; the old output is left in %s", out_dir,
		                  tmp);
	return 0;
}

/* Decodes and writes every frame; frame 0 is already in *f. */
static int write_all(struct ward_echo_video *v, struct ward_echo_frame *f, const char *tmp,
                     const struct ward_echo_anonymise_opts *o,
                     struct ward_echo_anonymise_result *res)
{
	struct ward_echo_writer *w;
	/* Default: true colours (swap the frame's B and R); compat: the original's bytes. */
	int rc = ward_echo_writer_start(tmp, !o->original_colours, o->threads, &w);
	if (rc < 0)
		return rc;
	long i = 0;
	do {
		ward_echo_frame_mask_text(f);
		/* Counted before the file exists, so the signal handler sees every name. */
		pending_files = (sig_atomic_t)(i + 1);
		if ((rc = ward_echo_writer_put(w, i++, f)) < 0)
			break;
	} while ((rc = ward_echo_video_next(v, f)) == 1);
	int wrc = ward_echo_writer_finish(w);
	res->frames = i;
	if (rc < 0)
		return rc;
	if (wrc < 0)
		return wrc;
	/*
	 * One flush for all frames before the rename, so a crash cannot leave a
	 * complete-looking directory of empty files (per-file fsync costs more
	 * than decoding).
	 */
	int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || syncfs(dfd) != 0) {
		rc = ward_error_errno("%s: cannot flush to disk", tmp);
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	close(dfd);
	return 0;
}

int ward_echo_anonymise(const char *video_path, const char *out_dir,
                        const struct ward_echo_anonymise_opts *opts,
                        struct ward_echo_anonymise_result *res)
{
	static const struct ward_echo_anonymise_opts defaults = {0};
	const struct ward_echo_anonymise_opts *o = opts ? opts : &defaults;
	memset(res, 0, sizeof *res);
	struct stat st;
	if (!o->replace && lstat(out_dir, &st) == 0)
		return ward_error(WARD_E_EXISTS, "%s: already exists", out_dir);
	struct ward_echo_video *v;
	int rc = ward_echo_video_open(video_path, &v);
	if (rc < 0)
		return rc;
	res->opened = 1;
	struct ward_echo_frame f;
	rc = ward_echo_video_next(v, &f);
	if (rc <= 0) {
		res->outcome = WARD_ECHO_NO_FRAMES;
		goto done;
	}
	rc = ward_echo_video_is_doppler(&f, &res->blue, &res->red);
	if (rc <= 0) {
		res->outcome = WARD_ECHO_NOT_DOPPLER;
		res->frames = 1;
		goto done;
	}
	char tmp[PATH_MAX];
	if ((rc = make_temp_dir(out_dir, tmp, sizeof tmp)) < 0)
		goto done;
	install_handlers();
	memcpy(pending_dir, tmp, strlen(tmp) + 1);
	pending_files = 0;
	pending_active = 1;
	rc = write_all(v, &f, tmp, o, res);
	if (rc == 0)
		rc = publish(tmp, out_dir, o->replace);
	if (rc < 0 && pending_active)
		pending_cleanup();
	pending_active = 0;
	if (rc == 0)
		res->outcome = WARD_ECHO_WRITTEN;
done:
	ward_echo_video_close(v);
	return rc < 0 ? rc : 0;
}
