/* ward echo anonymise: mask the burned-in text of Doppler echo videos and write their frames as
 * PNG. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "ward/echo.h"

#define PROG "ward echo anonymise"

/* The previous video's output, flushed and renamed on a thread while the next one decodes. */
struct publish_job {
	pthread_t thread;
	int running;
	struct ward_echo_pending *pending;
	int rc;
	char msg[512];
	char *path, *name;
	long frames;
};

struct anon_ctx {
	const char *out;
	int compat, verbose, quiet;
	struct ward_echo_pseudonym_key *key;
	struct ward_echo_anonymise_opts opts;
	/* Names written in this run, to recognise the same content twice. */
	char **done_names, **done_inputs;
	size_t ndone;
	struct publish_job job;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: ward echo anonymise -i IN -o OUT (--pseudonym-key FILE | --new-pseudonym-key "
	    "FILE | --compat) [--force] [-v|-q]\n"
	    "  IN is a folder of videos (or one video). For every Doppler video, writes\n"
	    "  OUT/<name>/<i>.png, every frame with the burned-in text masked.\n"
	    "  <name> is the HMAC-SHA256 of the video's bytes under the pseudonym key;\n"
	    "  --compat: the original's output (MD5 of the path IN/FILE, red and blue swapped).\n"
	    "  --force replaces existing output folders; --threads N PNG encoders (default:\n"
	    "  one per CPU, at most 4). See ward-echo(1).\n");
}

/* Video file name extensions: such a file that does not open is corrupt, not "another kind of
 * file". */
static int video_extension(const char *name)
{
	static const char *const exts[] = {".mp4", ".m4v",  ".mov", ".avi", ".mkv", ".webm",
	                                   ".mpg", ".mpeg", ".wmv", ".3gp", ".mts", ".ts"};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		size_t e = strlen(exts[i]);
		if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* mkdir -p, as the original's os.makedirs. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* os.path.join(IN, name): the string the original hashed. */
static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	const char *sep = n == 0 || dir[n - 1] == '/' ? "" : "/";
	char *s = malloc(n + strlen(sep) + strlen(name) + 1);
	if (s)
		sprintf(s, "%s%s%s", dir, sep, name);
	return s;
}

static int remember(struct anon_ctx *c, const char *name, const char *input)
{
	char **a = realloc(c->done_names, (c->ndone + 1) * sizeof *a);
	if (!a)
		return -1;
	c->done_names = a;
	char **b = realloc(c->done_inputs, (c->ndone + 1) * sizeof *b);
	if (!b)
		return -1;
	c->done_inputs = b;
	a[c->ndone] = strdup(name);
	b[c->ndone] = strdup(input);
	if (!a[c->ndone] || !b[c->ndone]) {
		free(a[c->ndone]);
		free(b[c->ndone]);
		return -1;
	}
	c->ndone++;
	return 0;
}

static const char *done_before(const struct anon_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->ndone; i++)
		if (strcmp(c->done_names[i], name) == 0)
			return c->done_inputs[i];
	return NULL;
}

/* Reports a video that was not written; returns its exit status (0 for skips). */
static int report(const struct anon_ctx *c, const char *path, int rc,
                  const struct ward_echo_anonymise_result *r)
{
	if (rc == WARD_E_FORMAT && !r->opened && !video_extension(path)) {
		if (!c->quiet)
			fprintf(stderr, PROG ": %s: not a video; skipped\n", path);
		return 0;
	}
	if (rc < 0)
		return ward_report(PROG, NULL, rc);
	if (c->quiet)
		return 0;
	if (r->outcome == WARD_ECHO_NOT_DOPPLER)
		fprintf(stderr,
		        PROG
		        ": %s: not colour Doppler (frame 0: %u blue, %u red pixels); skipped\n",
		        path, r->blue, r->red);
	else
		fprintf(stderr, PROG ": %s: no frames; skipped\n", path);
	return 0;
}

static void *publish_thread(void *arg)
{
	struct publish_job *j = arg;
	j->rc = ward_echo_anonymise_publish(j->pending);
	if (j->rc < 0)
		snprintf(j->msg, sizeof j->msg, "%s", ward_last_error());
	return NULL;
}

/* Waits for the output in flight, if any, and reports it; returns its exit status. */
static int finish_publish(struct anon_ctx *c)
{
	struct publish_job *j = &c->job;
	if (!j->running)
		return 0;
	pthread_join(j->thread, NULL);
	j->running = 0;
	int status = 0;
	if (j->rc < 0) {
		fprintf(stderr, PROG ": %s\n", j->msg);
		status = ward_exit_code(j->rc);
	} else if (c->verbose) {
		printf("%s: %ld frames -> %s/%s\n", j->path, j->frames, c->out, j->name);
	} else if (!c->quiet) {
		printf("%s: %ld frames\n", j->path, j->frames);
	}
	fflush(stdout);
	free(j->path);
	free(j->name);
	j->path = j->name = NULL;
	return status;
}

/* Publishes a written video on a thread (or here, if no thread can start). */
static int start_publish(struct anon_ctx *c, struct ward_echo_pending *p, const char *path,
                         const char *name, long frames)
{
	struct publish_job *j = &c->job;
	j->pending = p;
	j->rc = 0;
	j->frames = frames;
	j->path = strdup(path);
	j->name = strdup(name);
	if (j->path && j->name && pthread_create(&j->thread, NULL, publish_thread, j) == 0) {
		j->running = 1;
		return 0;
	}
	publish_thread(j);
	j->running = 1; /* so that finish_publish reports it */
	j->thread = pthread_self();
	return finish_publish(c);
}

static int one_video(struct anon_ctx *c, const char *path)
{
	char name[WARD_ECHO_PSEUDONYM_HEXLEN + 1];
	int rc = 0;
	if (c->compat)
		ward_echo_compat_name(path, name);
	else if ((rc = ward_echo_pseudonym(c->key, path, name)) < 0)
		return ward_report(PROG, NULL, rc);
	const char *earlier = done_before(c, name);
	if (earlier) {
		if (!c->quiet)
			fprintf(stderr, PROG ": %s: same content as %s; skipped\n", path, earlier);
		return 0;
	}
	char *dir = join(c->out, name);
	if (!dir)
		return ward_report(PROG, path, WARD_E_NOMEM);
	struct stat st;
	if (!c->compat && !c->opts.replace && lstat(dir, &st) == 0) {
		/* Named by content under the same key: this video is done already. */
		if (!c->quiet)
			fprintf(stderr, PROG ": %s: already anonymised in %s; skipped\n", path,
			        dir);
		free(dir);
		return 0;
	}
	struct ward_echo_anonymise_result r;
	struct ward_echo_pending *p = NULL;
	rc = ward_echo_anonymise_begin(path, dir, &c->opts, &r, &p);
	free(dir);
	/* The previous video is reported first, to keep the order of the folder. */
	int before = finish_publish(c);
	if (p && remember(c, name, path) != 0) {
		ward_echo_anonymise_discard(p);
		fprintf(stderr, PROG ": %s: out of memory\n", path);
		return before ? before : WARD_EXIT_FAIL;
	}
	int now = p ? start_publish(c, p, path, name, r.frames) : report(c, path, rc, &r);
	return before ? before : now;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folder's entries, hidden ones left out (with a message), sorted by name. */
static int list_folder(const struct anon_ctx *c, const char *in, char ***names, size_t *n)
{
	DIR *d = opendir(in);
	if (!d) {
		fprintf(stderr, PROG ": %s: %s\n", in, strerror(errno));
		return WARD_EXIT_IO;
	}
	*names = NULL;
	*n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_name[0] == '.') {
			if (!c->quiet)
				fprintf(stderr, PROG ": %s/%s: hidden; skipped\n", in, e->d_name);
			continue;
		}
		char **a = realloc(*names, (*n + 1) * sizeof *a);
		if (!a || !(a[*n] = strdup(e->d_name))) {
			free(a ? a : *names);
			closedir(d);
			fprintf(stderr, PROG ": out of memory\n");
			return WARD_EXIT_FAIL;
		}
		*names = a;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, by_name);
	return 0;
}

static int run_folder(struct anon_ctx *c, const char *in)
{
	char **names;
	size_t n;
	int status = list_folder(c, in, &names, &n);
	if (status)
		return status;
	for (size_t i = 0; i < n; i++) {
		char *path = join(in, names[i]);
		struct stat st;
		int rc;
		if (!path) {
			rc = ward_report(PROG, names[i], WARD_E_NOMEM);
		} else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			rc = finish_publish(c);
			if (!c->quiet)
				fprintf(stderr, PROG ": %s: not a regular file; skipped\n", path);
		} else {
			rc = one_video(c, path);
		}
		if (rc && !status)
			status = rc;
		free(path);
		free(names[i]);
	}
	free(names);
	int last = finish_publish(c);
	return status ? status : last;
}

static int load_key(struct anon_ctx *c, const char *key_path, const char *new_key_path)
{
	int rc;
	if (new_key_path) {
		rc = ward_echo_pseudonym_key_generate(new_key_path, &c->key);
		if (rc < 0)
			return ward_report(PROG, NULL, rc);
		fprintf(stderr,
		        PROG ": new pseudonym key in %s: keep it secret, and keep it: the same key "
		             "gives the same names\n",
		        new_key_path);
		return 0;
	}
	struct stat st;
	if (stat(key_path, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, PROG ": warning: %s: the pseudonym key is readable by others\n",
		        key_path);
	rc = ward_echo_pseudonym_key_load(key_path, &c->key);
	return rc < 0 ? ward_report(PROG, NULL, rc) : 0;
}

struct anon_args {
	const char *in, *key_path, *new_key_path;
};

/* Parses the command line into c and a; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct anon_ctx *c, struct anon_args *a)
{
	static const struct option longopts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"output", required_argument, NULL, 'o'},
	    {"compat", no_argument, NULL, 'C'},
	    {"pseudonym-key", required_argument, NULL, 'k'},
	    {"new-pseudonym-key", required_argument, NULL, 'K'},
	    {"force", no_argument, NULL, 'f'},
	    {"threads", required_argument, NULL, 'T'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long threads;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:o:fvqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			a->in = optarg;
			break;
		case 'o':
			c->out = optarg;
			break;
		case 'C':
			c->compat = 1;
			break;
		case 'k':
			a->key_path = optarg;
			break;
		case 'K':
			a->new_key_path = optarg;
			break;
		case 'f':
			c->opts.replace = 1;
			break;
		case 'v':
			c->verbose = 1;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case 'T':
			if (ward_parse_u64(optarg, &threads) != 0 || threads < 1 || threads > 64) {
				fprintf(stderr, PROG ": --threads: a number from 1 to 64\n");
				return WARD_EXIT_USAGE;
			}
			c->opts.threads = (int)threads;
			break;
		case 'h':
			usage(stdout);
			return WARD_EXIT_OK;
		default:
			usage(stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (!a->in || !c->out || optind != argc || (a->key_path && a->new_key_path) ||
	    (c->compat && (a->key_path || a->new_key_path))) {
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	if (!c->compat && !a->key_path && !a->new_key_path) {
		fprintf(stderr,
		        PROG ": %s: a pseudonym key is required: --pseudonym-key FILE "
		             "(create one with --new-pseudonym-key FILE), or --compat for "
		             "the original's reversible names\n",
		        a->in);
		return WARD_EXIT_USAGE;
	}
	c->opts.original_colours = c->compat;
	return -1;
}

static void ctx_free(struct anon_ctx *c)
{
	for (size_t i = 0; i < c->ndone; i++) {
		free(c->done_names[i]);
		free(c->done_inputs[i]);
	}
	free(c->done_names);
	free(c->done_inputs);
	ward_echo_pseudonym_key_free(c->key);
}

int cmd_echo_anonymise_main(int argc, char **argv)
{
	struct anon_ctx c = {0};
	struct anon_args a = {0};
	int status = parse_args(argc, argv, &c, &a);
	if (status >= 0)
		return status;
	status = c.compat ? 0 : load_key(&c, a.key_path, a.new_key_path);
	if (status)
		return status;
	struct stat st;
	if (stat(a.in, &st) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", a.in, strerror(errno));
		status = WARD_EXIT_IO;
	} else if (make_dirs(c.out) != 0) {
		fprintf(stderr, PROG ": %s: cannot create: %s\n", c.out, strerror(errno));
		status = WARD_EXIT_IO;
	} else {
		status = S_ISDIR(st.st_mode) ? run_folder(&c, a.in) : one_video(&c, a.in);
		int last = finish_publish(&c);
		status = status ? status : last;
	}
	ctx_free(&c);
	return status;
}
