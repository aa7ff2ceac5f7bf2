/* Helpers shared by the subcommands: exit codes, error reporting, passphrases. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd/util.h"
#include "ward/error.h"

int ward_exit_code(int err)
{
	switch (err) {
	case WARD_OK:
		return WARD_EXIT_OK;
	case WARD_E_PASSPHRASE:
		return WARD_EXIT_PASSPHRASE;
	case WARD_E_NOKEY:
	case WARD_E_SENDER:
		return WARD_EXIT_NOKEY;
	case WARD_E_NOTC4GH:
		return WARD_EXIT_NOTC4GH;
	case WARD_E_FORMAT:
	case WARD_E_UNSUPPORTED:
		return WARD_EXIT_CORRUPT;
	case WARD_E_BADMSG:
		return WARD_EXIT_BADMSG;
	case WARD_E_TRUNCATED:
		return WARD_EXIT_TRUNCATED;
	case WARD_E_IO:
		return WARD_EXIT_IO;
	case WARD_E_DENIED:
	case WARD_E_EXISTS:
		return WARD_EXIT_DENIED;
	case WARD_E_INVAL:
		return WARD_EXIT_USAGE;
	}
	return WARD_EXIT_FAIL;
}

int ward_report(const char *prog, const char *what, int err)
{
	const char *msg = ward_last_error();
	if (!msg[0])
		msg = ward_strerror(err);
	if (what)
		fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
	else
		fprintf(stderr, "%s: %s\n", prog, msg);
	return ward_exit_code(err);
}

/* Reads one line from fd into buf without echo when fd is a terminal. */
static int read_noecho(int fd, const char *prompt, char *buf, size_t size)
{
	struct termios old, raw;
	int is_tty = tcgetattr(fd, &old) == 0;
	if (prompt && write(fd, prompt, strlen(prompt)) < 0)
		return WARD_E_IO;
	if (is_tty) {
		raw = old;
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		raw.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &raw);
	}
	size_t n = 0;
	int rc = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 < size)
			buf[n++] = c;
		else
			rc = WARD_E_INVAL;
	}
	buf[n] = '\0';
	if (is_tty) {
		tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0)
			rc = rc ? rc : WARD_E_IO;
	}
	return rc;
}

/* Copies C4GH_PASSPHRASE into buf: 1 if it is set, 0 if not, or WARD_E_INVAL if too long. */
static int env_passphrase(char *buf, size_t size)
{
	const char *env = getenv("C4GH_PASSPHRASE");
	if (!env)
		return 0;
	size_t n = strlen(env);
	if (n + 1 > size)
		return WARD_E_INVAL;
	memcpy(buf, env, n + 1);
	return 1;
}

int ward_cmd_passphrase(void *ctx, char *buf, size_t size)
{
	int from_env = env_passphrase(buf, size);
	if (from_env)
		return from_env < 0 ? from_env : 0;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return WARD_E_PASSPHRASE; /* no way to ask: treat as no passphrase */
	char prompt[512];
	snprintf(prompt, sizeof prompt, "Passphrase for %s: ", ctx ? (const char *)ctx : "key");
	int rc = read_noecho(fd, prompt, buf, size);
	close(fd);
	return rc;
}

int ward_cmd_new_passphrase(char *buf, size_t size)
{
	int from_env = env_passphrase(buf, size);
	if (from_env)
		return from_env < 0 ? from_env : 0;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return WARD_E_INVAL;
	char *again = sodium_malloc(size);
	int rc = again ? 0 : WARD_E_NOMEM;
	if (rc == 0)
		rc = read_noecho(fd, "Passphrase for the new key: ", buf, size);
	if (rc == 0)
		rc = read_noecho(fd, "Enter it again: ", again, size);
	if (rc == 0 && strcmp(buf, again) != 0) {
		if (write(fd, "Passphrases do not match.\n", 26) < 0)
			rc = WARD_E_IO;
		rc = WARD_E_PASSPHRASE;
	}
	sodium_free(again);
	close(fd);
	return rc;
}

int ward_parse_u64(const char *s, unsigned long long *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int ward_progress_enabled(int quiet)
{
	return !quiet && isatty(STDERR_FILENO);
}
