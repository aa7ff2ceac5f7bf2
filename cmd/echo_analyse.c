/* ward echo analyse: radiomics of colour-Doppler echo videos (segmentation, textures, RHD label).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "core/core_internal.h" /* ward_write_full: cmd/ links libward statically */
#include "ward/echo_analysis.h"
#include "ward/io.h"

#define PROG "ward echo analyse"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: ward echo analyse -i IN [-o REPORT] [--compat [--rng-per-video]]\n"
	        "                         [--weights FILE | --no-view-filter] [--overlay DIR]\n"
	        "                         [--ibsi] [--frame-hashes] [--timing]\n"
	        "\n"
	        "  -i IN              a video, or a folder of videos (hidden files skipped)\n"
	        "  -o REPORT          write the JSON report there (default: standard output)\n"
	        "  --compat           reproduce the original: k-means random state carried\n"
	        "                     across frames and videos, the original classifier's label\n"
	        "  --rng-per-video    with --compat: a new random state per video (as the\n"
	        "                     published reference outputs were made)\n"
	        "  --weights FILE     Keras HDF5 weights of the view classifier\n"
	        "  --no-view-filter   skip the view gate (required without --weights)\n"
	        "  --overlay DIR      write DIR/<video>/<frame>.png segmentation overlays\n"
	        "  --ibsi             GLCM with IBSI conventions (symmetric, log2)\n"
	        "  --frame-hashes     add MD5s of the per-frame segmentation images\n"
	        "  --timing           add the time spent per stage\n");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The videos of IN: itself if a file, else its non-hidden regular files sorted by name. */
static int list_inputs(const char *in, char ***names, size_t *n, int *is_dir)
{
	struct stat st;
	*names = NULL;
	*n = 0;
	if (stat(in, &st) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", in, strerror(errno));
		return WARD_EXIT_IO;
	}
	*is_dir = S_ISDIR(st.st_mode);
	if (!*is_dir) {
		*names = malloc(sizeof **names);
		if (!*names || !((*names)[0] = strdup(in)))
			return WARD_EXIT_FAIL;
		*n = 1;
		return 0;
	}
	DIR *d = opendir(in);
	if (!d) {
		fprintf(stderr, PROG ": %s: %s\n", in, strerror(errno));
		return WARD_EXIT_IO;
	}
	size_t cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			char **nn = realloc(*names, cap * sizeof *nn);
			if (!nn)
				break;
			*names = nn;
		}
		(*names)[*n] = strdup(e->d_name);
		if ((*names)[*n])
			(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
	return 0;
}

struct args {
	const char *in, *out;
	struct ward_echo_analyse_opts o;
};

static int parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int more = i + 1 < argc;
		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return -1;
		} else if (strcmp(s, "-i") == 0 && more) {
			a->in = argv[++i];
		} else if (strcmp(s, "-o") == 0 && more) {
			a->out = argv[++i];
		} else if (strcmp(s, "--weights") == 0 && more) {
			a->o.weights = argv[++i];
		} else if (strcmp(s, "--overlay") == 0 && more) {
			a->o.overlay_dir = argv[++i];
		} else if (strcmp(s, "--compat") == 0) {
			a->o.compat = 1;
		} else if (strcmp(s, "--rng-per-video") == 0) {
			a->o.rng_per_video = 1;
		} else if (strcmp(s, "--no-view-filter") == 0) {
			a->o.no_view_filter = 1;
		} else if (strcmp(s, "--ibsi") == 0) {
			a->o.ibsi = 1;
		} else if (strcmp(s, "--frame-hashes") == 0) {
			a->o.frame_hashes = 1;
		} else if (strcmp(s, "--timing") == 0) {
			a->o.timing = 1;
		} else {
			fprintf(stderr, PROG ": unknown or incomplete option '%s'\n", s);
			usage(stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (!a->in) {
		fprintf(stderr, PROG ": -i IN is required\n");
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	if (a->o.weights && a->o.no_view_filter) {
		fprintf(stderr, PROG ": --weights and --no-view-filter exclude each other\n");
		return WARD_EXIT_USAGE;
	}
	if (a->o.rng_per_video && !a->o.compat) {
		fprintf(stderr, PROG ": --rng-per-video needs --compat\n");
		return WARD_EXIT_USAGE;
	}
	return 0;
}

/* Appends s to the growing buffer *b. */
static int append(char **b, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);
	if (*len + n + 1 > *cap) {
		size_t c = (*cap + n + 1) * 2;
		char *nb = realloc(*b, c);
		if (!nb)
			return -1;
		*b = nb;
		*cap = c;
	}
	memcpy(*b + *len, s, n + 1);
	*len += n;
	return 0;
}

static int write_report(const char *out, const char *text)
{
	struct ward_outfile *f;
	int rc = ward_outfile_open(out, 0644, &f);
	if (rc)
		return ward_report(PROG, out, rc);
	if (ward_write_full(ward_outfile_fd(f), text, strlen(text)) != 0) {
		ward_outfile_abort(f);
		fprintf(stderr, PROG ": %s: %s\n", out, strerror(errno));
		return WARD_EXIT_IO;
	}
	rc = ward_outfile_commit(f, 0);
	return rc ? ward_report(PROG, out, rc) : 0;
}

/* Analyses every input; the failures are reported and counted, the rest goes on. */
static int run(const struct args *a, struct ward_echo_analyser *an, char **names, size_t n,
               int is_dir, char **doc, size_t *len, size_t *cap)
{
	int status = 0, first = 1;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		if (is_dir)
			snprintf(path, sizeof path, "%s/%s", a->in, names[i]);
		else
			snprintf(path, sizeof path, "%s", names[i]);
		const char *base = strrchr(names[i], '/');
		base = base ? base + 1 : names[i];
		char *json = NULL;
		int rc = ward_echo_analyse_video(an, path, base, &json);
		if (rc) {
			status = ward_report(PROG, path, rc);
			continue;
		}
		if ((!first && append(doc, len, cap, ",\n")) || append(doc, len, cap, json)) {
			free(json);
			fprintf(stderr, PROG ": out of memory\n");
			return WARD_EXIT_FAIL;
		}
		free(json);
		first = 0;
	}
	return status;
}

int cmd_echo_analyse_main(int argc, char **argv)
{
	struct args a;
	int rc = parse(argc, argv, &a);
	if (rc)
		return rc < 0 ? WARD_EXIT_OK : rc;
	struct ward_echo_analyser *an = NULL;
	rc = ward_echo_analyser_new(&a.o, &an);
	if (rc) {
		ward_report(PROG, a.o.weights, rc);
		return rc == WARD_E_INVAL ? WARD_EXIT_USAGE : ward_exit_code(rc);
	}
	if (a.o.overlay_dir && mkdir(a.o.overlay_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, PROG ": %s: %s\n", a.o.overlay_dir, strerror(errno));
		ward_echo_analyser_free(an);
		return WARD_EXIT_IO;
	}
	char **names;
	size_t n;
	int is_dir;
	int status = list_inputs(a.in, &names, &n, &is_dir);
	char *doc = NULL;
	size_t len = 0, cap = 0;
	if (status == 0 && append(&doc, &len, &cap, "{\"videos\": [\n") != 0)
		status = WARD_EXIT_FAIL;
	if (status == 0) {
		status = run(&a, an, names, n, is_dir, &doc, &len, &cap);
		if (append(&doc, &len, &cap, "\n]}\n") != 0)
			status = WARD_EXIT_FAIL;
		else if (a.out) {
			int w = write_report(a.out, doc);
			status = status ? status : w;
		} else if (fputs(doc, stdout) == EOF || fflush(stdout) != 0) {
			status = WARD_EXIT_IO;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(doc);
	ward_echo_analyser_free(an);
	return status;
}
