/* Anonymising one echo video: Doppler test, text mask on every frame, PNGs in a directory renamed
 * into place. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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
 * Directories being filled or waiting to be published (at most a few: one
 * per video in flight), removed by a signal handler if the process is
 * killed. Only async-signal-safe calls run there: the file names are
 * rebuilt from the frame count with plain digit arithmetic.
 */
#define MAX_PENDING 4
static struct {
	char dir[PATH_MAX];
	volatile sig_atomic_t files; /* names 0.png .. files-1.png may exist */
	volatile sig_atomic_t active;
} pending[MAX_PENDING];
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_actions[4];
static const int clean_signals[4] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void pending_cleanup(int slot)
{
	char path[PATH_MAX + 32];
	size_t n = strlen(pending[slot].dir);
	memcpy(path, pending[slot].dir, n);
	path[n++] = '/';
	for (long i = 0; i < (long)pending[slot].files; i++) {
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
	rmdir(pending[slot].dir);
}

static int pending_add(const char *dir)
{
	pthread_mutex_lock(&pending_mu);
	int slot = -1;
	for (int i = 0; i < MAX_PENDING && slot < 0; i++)
		if (!pending[i].active)
			slot = i;
	if (slot >= 0) {
		memcpy(pending[slot].dir, dir, strlen(dir) + 1);
		pending[slot].files = 0;
		pending[slot].active = 1;
	}
	pthread_mutex_unlock(&pending_mu);
	return slot >= 0 ? slot
	                 : ward_error(WARD_E_INVAL, "more than %d videos in flight", MAX_PENDING);
}

static void pending_remove(int slot)
{
	pthread_mutex_lock(&pending_mu);
	pending[slot].active = 0;
	pthread_mutex_unlock(&pending_mu);
}

volatile sig_atomic_t echo_dying;

/*
 * Removes every pending directory. Other threads may be creating a frame
 * file at this instant (they checked echo_dying just before it was set): a
 * directory that is not empty yet is cleaned again until it goes, for at
 * most about two seconds (nanosleep and rmdir are async-signal-safe).
 */
static void pending_cleanup_all(void)
{
	echo_dying = 1;
	for (int round = 0; round < 400; round++) {
		int left = 0;
		for (int i = 0; i < MAX_PENDING; i++)
			if (pending[i].active) {
				pending_cleanup(i);
				if (access(pending[i].dir, F_OK) == 0)
					left = 1;
			}
		if (!left)
			return;
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
}

static void on_signal(int sig)
{
	pending_cleanup_all();
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

static void install_handlers_once(void)
{
	for (int i = 0; i < 4; i++) {
		struct sigaction sa = {.sa_handler = on_signal};
		if (sigaction(clean_signals[i], NULL, &old_actions[i]) == 0 &&
		    old_actions[i].sa_handler == SIG_IGN)
			continue;
		sigaction(clean_signals[i], &sa, NULL);
	}
}

static void install_handlers(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, install_handlers_once);
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

struct ward_echo_pending {
	char tmp[PATH_MAX];
	char *out_dir;
	int replace;
	int slot;
};

/*
 * Flushes the files to disk, then moves the finished directory into place,
 * replacing an old one if asked. One flush for all frames before the
 * rename, so a crash cannot leave a complete-looking directory of empty
 * files (a flush per file costs more than decoding).
 */
static int publish(struct ward_echo_pending *p)
{
	int dfd = open(p->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || syncfs(dfd) != 0) {
		int rc = ward_error_errno("%s: cannot flush to disk", p->tmp);
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	close(dfd);
	if (rename(p->tmp, p->out_dir) == 0) {
		pending_remove(p->slot);
		return 0;
	}
	if (errno != EEXIST && errno != ENOTEMPTY && errno != EISDIR && errno != ENOTDIR)
		return ward_error_errno("%s: cannot rename %s into place", p->out_dir, p->tmp);
	if (!p->replace)
		return ward_error(WARD_E_EXISTS, "%s: already exists", p->out_dir);
	/* Swap atomically, so out_dir is never missing, then delete the old output. */
	if (renameat2(AT_FDCWD, p->tmp, AT_FDCWD, p->out_dir, RENAME_EXCHANGE) != 0)
		return ward_error_errno("%s: cannot replace", p->out_dir);
	pending_remove(p->slot); /* tmp now holds the old output */
	if (remove_output_dir(p->tmp) < 0)
		return ward_error(WARD_E_IO, "%s: replaced; the old output is left in %s",
		                  p->out_dir, p->tmp);
	return 0;
}

/* Decodes and writes every frame; frame 0 is already in *f. */
static int write_all(struct ward_echo_video *v, struct ward_echo_frame *f,
                     const struct ward_echo_pending *p, const struct ward_echo_anonymise_opts *o,
                     struct ward_echo_anonymise_result *res)
{
	struct ward_echo_writer *w;
	/* Default: true colours (swap the frame's B and R); compat: the original's bytes. */
	int rc = ward_echo_writer_start(p->tmp, !o->original_colours, o->threads, &w);
	if (rc < 0)
		return rc;
	long i = 0;
	do {
		ward_echo_frame_mask_text(f);
		/* Counted before the file exists, so the signal handler sees every name. */
		pending[p->slot].files = (sig_atomic_t)(i + 1);
		if ((rc = ward_echo_writer_put(w, i++, f)) < 0)
			break;
	} while ((rc = ward_echo_video_next(v, f)) == 1);
	int wrc = ward_echo_writer_finish(w);
	res->frames = i;
	return rc < 0 ? rc : wrc;
}

static void pending_free(struct ward_echo_pending *p)
{
	free(p->out_dir);
	free(p);
}

void ward_echo_anonymise_discard(struct ward_echo_pending *p)
{
	if (!p)
		return;
	int saved = errno;
	pending_cleanup(p->slot);
	pending_remove(p->slot);
	pending_free(p);
	errno = saved;
}

int ward_echo_anonymise_publish(struct ward_echo_pending *p)
{
	int rc = publish(p);
	if (rc < 0) {
		ward_echo_anonymise_discard(p);
		return rc;
	}
	pending_free(p);
	return 0;
}

/* Writes the frames of a Doppler video (frame 0 in *f) into a new temporary directory. */
static int begin_writing(struct ward_echo_video *v, struct ward_echo_frame *f, const char *out_dir,
                         const struct ward_echo_anonymise_opts *o,
                         struct ward_echo_anonymise_result *res, struct ward_echo_pending **out)
{
	struct ward_echo_pending *p = calloc(1, sizeof *p);
	if (!p || !(p->out_dir = strdup(out_dir))) {
		free(p);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	p->replace = o->replace;
	install_handlers();
	/* A signal between creating the directory and registering it would leave it behind. */
	sigset_t block, old;
	sigemptyset(&block);
	for (int i = 0; i < 4; i++)
		sigaddset(&block, clean_signals[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = make_temp_dir(out_dir, p->tmp, sizeof p->tmp);
	if (rc >= 0 && (rc = pending_add(p->tmp)) < 0)
		rmdir(p->tmp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		pending_free(p);
		return rc;
	}
	p->slot = rc;
	rc = write_all(v, f, p, o, res);
	if (rc < 0) {
		ward_echo_anonymise_discard(p);
		return rc;
	}
	*out = p;
	return 0;
}

int ward_echo_anonymise_begin(const char *video_path, const char *out_dir,
                              const struct ward_echo_anonymise_opts *opts,
                              struct ward_echo_anonymise_result *res,
                              struct ward_echo_pending **out)
{
	static const struct ward_echo_anonymise_opts defaults = {0};
	const struct ward_echo_anonymise_opts *o = opts ? opts : &defaults;
	memset(res, 0, sizeof *res);
	*out = NULL;
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
	} else if ((rc = ward_echo_video_is_doppler(&f, &res->blue, &res->red)) <= 0) {
		res->outcome = WARD_ECHO_NOT_DOPPLER;
		res->frames = 1;
	} else if ((rc = begin_writing(v, &f, out_dir, o, res, out)) == 0) {
		res->outcome = WARD_ECHO_WRITTEN;
	}
	ward_echo_video_close(v);
	return rc < 0 ? rc : 0;
}

int ward_echo_anonymise(const char *video_path, const char *out_dir,
                        const struct ward_echo_anonymise_opts *opts,
                        struct ward_echo_anonymise_result *res)
{
	struct ward_echo_pending *p;
	int rc = ward_echo_anonymise_begin(video_path, out_dir, opts, res, &p);
	if (rc == 0 && p && (rc = ward_echo_anonymise_publish(p)) < 0)
		res->outcome = 0;
	return rc;
}
