/* Key loading, I/O set-up, error exits and progress for the crypt4gh subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/c4gh_common.h"

int c4gh_cli_load_sk(const struct c4gh_cli *c, int optional, struct ward_c4gh_seckey **out)
{
	char def[4096];
	const char *path = c->sk_path;
	*out = NULL;
	if (!path)
		path = getenv("C4GH_SECRET_KEY");
	if (!path && optional)
		return 0;
	if (!path) {
		const char *home = getenv("HOME");
		snprintf(def, sizeof def, "%s/.c4gh/key", home ? home : "");
		path = def;
	}
	int rc = ward_c4gh_seckey_load(path, ward_cmd_passphrase, (void *)path, out);
	if (rc)
		return ward_report("crypt4gh", path, rc);
	return 0;
}

int c4gh_cli_load_recipients(const struct c4gh_cli *c, uint8_t (**out)[32])
{
	*out = NULL;
	if (c->nrcpt == 0) {
		fprintf(stderr, "crypt4gh: at least one --recipient_pk is required\n");
		return WARD_EXIT_USAGE;
	}
	uint8_t(*pks)[32] = malloc(c->nrcpt * 32);
	if (!pks)
		return ward_report("crypt4gh", NULL, WARD_E_NOMEM);
	for (size_t i = 0; i < c->nrcpt; i++) {
		int rc = ward_c4gh_pubkey_load(c->rcpt_paths[i], pks[i]);
		if (rc) {
			free(pks);
			return ward_report("crypt4gh", c->rcpt_paths[i], rc);
		}
	}
	*out = pks;
	return 0;
}

int c4gh_cli_open_io(const struct c4gh_cli *c, int *in_fd, struct ward_outfile **out, unsigned mode)
{
	*in_fd = STDIN_FILENO;
	*out = NULL;
	if (c->in_path && strcmp(c->in_path, "-") != 0) {
		*in_fd = open(c->in_path, O_RDONLY | O_CLOEXEC);
		if (*in_fd < 0) {
			fprintf(stderr, "crypt4gh: %s: %s\n", c->in_path, strerror(errno));
			return WARD_EXIT_IO;
		}
	}
	int rc = ward_outfile_open(c->out_path, mode, out);
	if (rc) {
		if (*in_fd != STDIN_FILENO)
			close(*in_fd);
		return ward_report("crypt4gh", c->out_path, rc);
	}
	return 0;
}

int c4gh_cli_fail(const struct c4gh_cli *c, int in_fd, struct ward_outfile *out, int err)
{
	int code = ward_report("crypt4gh", c->in_path, err);
	ward_outfile_abort(out);
	if (in_fd > STDERR_FILENO)
		close(in_fd);
	return code;
}

int c4gh_cli_finish(const struct c4gh_cli *c, int in_fd, struct ward_outfile *out)
{
	if (in_fd > STDERR_FILENO)
		close(in_fd);
	int rc = ward_outfile_commit(out, 0);
	if (rc)
		return ward_report("crypt4gh", c->out_path, rc);
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void c4gh_progress_init(struct c4gh_progress *p, int quiet)
{
	p->on = ward_progress_enabled(quiet);
	p->start = p->last = now();
}

void c4gh_progress_update(struct c4gh_progress *p, uint64_t bytes, int final)
{
	if (!p->on)
		return;
	double t = now();
	if (!final && t - p->last < 0.5)
		return;
	if (final && t - p->start < 0.5)
		return; /* short work: no line at all */
	p->last = t;
	double mib = (double)bytes / 1048576.0, el = t - p->start;
	fprintf(stderr, "\rcrypt4gh: %.1f MiB in %.1f s (%.0f MiB/s)%s", mib, el,
	        el > 0 ? mib / el : 0.0, final ? "\n" : "");
}
