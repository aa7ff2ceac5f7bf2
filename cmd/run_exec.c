/*
 * ward run, last step: open the sealed configuration, check it against what
 * was measured, put injection files into sealed memfds, and fexecve() the
 * very descriptor that was hashed with only the granted argv and environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "cmd/run.h"
#include "cmd/util.h"
#include "ward/attest.h"

#define MAX_ITEMS 4096 /* argv, environment and injection entries, each */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Everything built for the workload; strings live in one guarded arena. */
struct launch {
	char *arena;
	size_t cap, used;
	char **argv, **envp;
	size_t argc, envc;
	const char **inj_path; /* injection path i is now /proc/self/fd/inj_fd[i] */
	int *inj_fd;
	size_t n_inj;
};

static int fail(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "ward run: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return code;
}

int run_open_sealed(const char *b64, const uint8_t pk[32], const uint8_t *sk, char **cfg,
                    size_t *len)
{
	size_t blen = strlen(b64), n = 0;
	uint8_t *ct = malloc(blen / 4 * 3 + 3);
	if (!ct ||
	    sodium_base642bin(ct, blen / 4 * 3 + 3, b64, blen, NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n < crypto_box_SEALBYTES) {
		free(ct);
		return fail(WARD_EXIT_FAIL, "%s", "the key service sent a malformed sealed config");
	}
	char *p = sodium_malloc(n - crypto_box_SEALBYTES + 1);
	if (!p) {
		free(ct);
		return fail(WARD_EXIT_FAIL, "%s", "cannot allocate locked memory");
	}
	if (crypto_box_seal_open((uint8_t *)p, ct, n, pk, sk) != 0) {
		free(ct);
		sodium_free(p);
		return fail(WARD_EXIT_DENIED, "%s", "the sealed config does not open with our key");
	}
	free(ct);
	p[n - crypto_box_SEALBYTES] = '\0';
	*cfg = p;
	*len = n - crypto_box_SEALBYTES;
	return 0;
}

static char *arena_put(struct launch *l, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
	if (l->used + la + lb + lc + 1 > l->cap)
		return NULL;
	char *p = l->arena + l->used;
	memcpy(p, a, la);
	if (b)
		memcpy(p + la, b, lb);
	if (c)
		memcpy(p + la + lb, c, lc);
	p[la + lb + lc] = '\0';
	l->used += la + lb + lc + 1;
	return p;
}

/* s itself, or s with an injection path (whole, or after its first '=') renamed. */
static char *rewritten(struct launch *l, const char *s)
{
	char fdpath[32];
	for (size_t i = 0; i < l->n_inj; i++) {
		const char *p = l->inj_path[i];
		const char *eq = strchr(s, '=');
		snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", l->inj_fd[i]);
		if (strcmp(s, p) == 0)
			return arena_put(l, fdpath, NULL, NULL);
		if (eq && strcmp(eq + 1, p) == 0) {
			char *pre = arena_put(l, s, NULL, NULL);
			if (!pre)
				return NULL;
			pre[eq + 1 - s] = '\0';
			return arena_put(l, pre, fdpath, NULL);
		}
	}
	return arena_put(l, s, NULL, NULL);
}

/* One sealed memfd per injection file, inherited by the workload (no CLOEXEC). */
static int inject(struct launch *l, json_object *files)
{
	size_t n = files ? json_object_object_length(files) : 0;
	if (n > MAX_ITEMS)
		return fail(WARD_EXIT_FAIL, "%s", "too many injection files");
	l->inj_path = calloc(n + 1, sizeof *l->inj_path);
	l->inj_fd = calloc(n + 1, sizeof *l->inj_fd);
	if (!l->inj_path || !l->inj_fd)
		return fail(WARD_EXIT_FAIL, "%s", "out of memory");
	if (!files)
		return 0;
	json_object_object_foreach(files, path, v)
	{
		if (path[0] != '/' || !json_object_is_type(v, json_type_string))
			return fail(WARD_EXIT_FAIL, "injection file '%.200s': bad entry", path);
		const char *b64 = json_object_get_string(v);
		size_t blen = strlen(b64), dl = 0;
		uint8_t *d = sodium_malloc(blen / 4 * 3 + 3);
		int fd = -1, ok = d && sodium_base642bin(d, blen / 4 * 3 + 3, b64, blen, NULL, &dl,
		                                         NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
		/* The memfd's name shows in /proc/PID/fd: say what, not which. */
		if (ok)
			ok = (fd = memfd_create("ward-injected", MFD_ALLOW_SEALING)) >= 0 &&
			     (dl == 0 || write(fd, d, dl) == (ssize_t)dl) &&
			     fcntl(fd, F_ADD_SEALS,
			           F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0 &&
			     lseek(fd, 0, SEEK_SET) == 0;
		if (d)
			sodium_free(d);
		if (!ok) {
			if (fd >= 0)
				close(fd);
			return fail(WARD_EXIT_IO,
			            "injection file '%.200s': cannot build it in memory", path);
		}
		l->inj_path[l->n_inj] = path;
		l->inj_fd[l->n_inj++] = fd;
	}
	return 0;
}

static int build_argv(struct launch *l, json_object *cmd, const struct run_launch *L, int allow)
{
	size_t n = json_object_array_length(cmd);
	if (L->n_extra > 0 && !allow)
		return fail(WARD_EXIT_DENIED, "%s",
		            "extra arguments after -- are not allowed by this session's service");
	if (n == 0 || n > MAX_ITEMS)
		return fail(WARD_EXIT_FAIL, "%s", "the granted command is empty or too long");
	l->argv = calloc(n + (size_t)L->n_extra + 1, sizeof *l->argv);
	if (!l->argv)
		return fail(WARD_EXIT_FAIL, "%s", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(cmd, i);
		if (!json_object_is_type(a, json_type_string) ||
		    !(l->argv[l->argc++] = rewritten(l, json_object_get_string(a))))
			return fail(WARD_EXIT_FAIL, "%s", "the granted command is malformed");
	}
	if (strcmp(l->argv[0], L->program) != 0)
		return fail(WARD_EXIT_DENIED, "the granted command does not start with %.200s",
		            L->program);
	for (int i = 0; i < L->n_extra; i++)
		if (!(l->argv[l->argc++] = arena_put(l, L->extra[i], NULL, NULL)))
			return fail(WARD_EXIT_FAIL, "%s", "arguments too long");
	return 0;
}

static int build_envp(struct launch *l, json_object *env)
{
	size_t n = env ? json_object_object_length(env) : 0;
	if (n > MAX_ITEMS)
		return fail(WARD_EXIT_FAIL, "%s", "the granted environment is too large");
	l->envp = calloc(n + 1, sizeof *l->envp);
	if (!l->envp)
		return fail(WARD_EXIT_FAIL, "%s", "out of memory");
	if (!env)
		return 0;
	json_object_object_foreach(env, k, v)
	{
		if (!k[0] || strchr(k, '=') || !json_object_is_type(v, json_type_string))
			return fail(WARD_EXIT_FAIL, "environment variable '%.100s' is malformed",
			            k);
		char *val = rewritten(l, json_object_get_string(v));
		if (!val || !(l->envp[l->envc++] = arena_put(l, k, "=", val)))
			return fail(WARD_EXIT_FAIL, "%s", "the granted environment is too large");
	}
	return 0;
}

/* Defence in depth: the file we opened must be one the session accepts. */
static int check_measurement(json_object *list, const uint8_t m[32])
{
	size_t n =
	    list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t x[32];
		json_object *e = json_object_array_get_idx(list, i);
		if (json_object_is_type(e, json_type_string) &&
		    ward_attest_unhex(json_object_get_string(e), x) == 0)
			found |= sodium_memcmp(x, m, 32) == 0;
	}
	char hex[65];
	ward_attest_hex(m, hex);
	return found ? 0
	             : fail(WARD_EXIT_DENIED, "measurement %s is not accepted by the service", hex);
}

/* Marks every descriptor above stdio close-on-exec (a loop where close_range lacks the flag). */
static void cloexec_inherited(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

static json_object *get(json_object *o, const char *k, json_type t)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, t) ? v : NULL;
}

static int prepare(struct launch *l, json_object *c, const struct run_launch *L)
{
	json_object *cmd = get(c, "command", json_type_array);
	json_object *pwd = get(c, "pwd", json_type_string);
	json_object *allow = get(c, "allow_extra_args", json_type_boolean);
	if (!cmd || !pwd || json_object_get_string(pwd)[0] != '/')
		return fail(WARD_EXIT_FAIL, "%s",
		            "the granted config lacks command or absolute pwd");
	int ret = check_measurement(get(c, "measurements", json_type_array), L->measurement);
	if (ret == 0)
		ret = inject(l, get(c, "injection_files", json_type_object));
	if (ret == 0)
		ret = build_argv(l, cmd, L, allow && json_object_get_boolean(allow));
	if (ret == 0)
		ret = build_envp(l, get(c, "environment", json_type_object));
	if (ret == 0 && chdir(json_object_get_string(pwd)) < 0)
		ret = fail(WARD_EXIT_IO, "cannot enter the service's pwd: %s", strerror(errno));
	return ret;
}

int run_exec(const struct run_launch *L, const char *cfg, size_t len)
{
	struct launch l = {0};
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *c = tok ? json_tokener_parse_ex(tok, cfg, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	int ret = 0;
	if (!c || !json_object_is_type(c, json_type_object))
		ret = fail(WARD_EXIT_FAIL, "%s", "the granted config is not a JSON object");
	/*
	 * Room for every string: a rewritten "K=--x=PATH" is stored as its
	 * prefix, its rewritten value and "K=value", so at most 4 times its
	 * JSON length plus a /proc/self/fd/N name per item.
	 */
	l.cap = 4 * len + 64 * 2 * (size_t)MAX_ITEMS;
	for (int i = 0; ret == 0 && i < L->n_extra; i++)
		l.cap += strlen(L->extra[i]) + 1;
	if (ret == 0 && !(l.arena = sodium_malloc(l.cap)))
		ret = fail(WARD_EXIT_FAIL, "%s", "cannot allocate locked memory");
	/* Only stdio and the injection files reach the workload. */
	if (ret == 0)
		cloexec_inherited();
	if (ret == 0)
		ret = prepare(&l, c, L);
	if (ret == 0) {
		if (L->verbose)
			fprintf(stderr, "ward run: exec %s (%zu args, %zu variables, %zu files)\n",
			        L->program, l.argc, l.envc, l.n_inj);
		fexecve(L->fd, l.argv, l.envp);
		ret = fail(errno == ENOENT || errno == EACCES ? WARD_EXIT_DENIED : WARD_EXIT_IO,
		           "cannot execute the workload: %s", strerror(errno));
	}
	for (size_t i = 0; i < l.n_inj; i++)
		close(l.inj_fd[i]);
	if (l.arena)
		sodium_free(l.arena); /* wipes every granted string */
	free(l.argv);
	free(l.envp);
	free(l.inj_path);
	free(l.inj_fd);
	json_object_put(c);
	return ret;
}
