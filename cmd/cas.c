/* ward cas: init, serve, unseal, status, audit verify, platform/launcher enrolment. */
#include <errno.h>
#include <getopt.h>
#include <termios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "services/cas/cas.h"
#include "ward/attest.h"
#include "ward/audit.h"
#include "ward/store.h"

static const char USAGE[] =
    "usage: ward cas init    [--data DIR] [--shares N] [--threshold K] [--hostname NAME]...\n"
    "       ward cas serve   [--data DIR] [--dev] [--owner-listen HOST:PORT]\n"
    "                        [--workload-listen HOST:PORT] [--port-file FILE]\n"
    "                        [--tls-cert PEM --tls-key PEM] [--insecure-allow-mode-none]\n"
    "                        [--audit-sync-each]\n"
    "       ward cas unseal  [--data DIR]        (shares on standard input, one per line)\n"
    "       ward cas status  [--data DIR]\n"
    "       ward cas audit verify [--data DIR] [--key HEX] [--witness SEQ:HASH]\n"
    "       ward cas platform add [--data DIR] [--label TEXT] KEYHEX [--launcher HASH]...\n"
    "       ward cas platform remove|list [--data DIR] [KEYHEX]\n"
    "       ward cas launcher add|remove|list [--data DIR] [--label TEXT] [HASH]\n"
    "\n"
    "The key service keeps sessions and their secrets encrypted under a key that exists\n"
    "only as Shamir shares; it releases a service's configuration only to a workload whose\n"
    "measured binary the session accepts, attested by an enrolled `ward las`.\n"
    "DIR defaults to $WARD_CAS_DATA or ./ward-cas. Ports: owner API 8081, workload 18765.\n"
    "\n"
    "Threat model (host mode): resists other users and tenants on the host, stolen disks\n"
    "(everything secret is encrypted under the unseal key), humans through the API\n"
    "(generated secrets are never returned), a changed workload binary, and replayed\n"
    "evidence. It does NOT resist root on the host: root can read the service's and the\n"
    "workload's memory, the LAS key and the decrypted secrets. See docs/cas.md.\n";

static const char *data_dir(const char *given)
{
	if (given)
		return given;
	const char *e = getenv("WARD_CAS_DATA");
	return e && *e ? e : "ward-cas";
}

/* ---- admin socket client ---- */

/* Sends one request and returns the parsed reply (NULL with a message printed on failure). */
static json_object *admin_call(const char *dir, json_object *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/admin.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n < 0 || (size_t)n >= sizeof sa.sun_path || fd < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr,
		        "ward cas: %s: cannot reach the service's admin socket (is `ward cas "
		        "serve --data %s` running?)\n",
		        sa.sun_path, dir);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	const char *out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	char *buf = sodium_malloc(8192);
	size_t len = 0;
	int ok =
	    buf && write(fd, out, strlen(out)) == (ssize_t)strlen(out) && write(fd, "\n", 1) == 1;
	while (ok && len < 8191) {
		ssize_t r = read(fd, buf + len, 8191 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(buf, '\n', len))
			break;
	}
	close(fd);
	json_object *reply = NULL;
	if (ok && len) {
		buf[len] = '\0';
		reply = json_tokener_parse(buf);
	}
	if (buf)
		sodium_free(buf);
	if (!reply)
		fprintf(stderr, "ward cas: no valid reply from the service\n");
	return reply;
}

/* 0 if reply says ok, else prints its error and returns an exit code. */
static int admin_result(json_object *reply, const char *what)
{
	json_object *ok, *err, *code;
	if (!reply)
		return WARD_EXIT_IO;
	if (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok))
		return 0;
	const char *msg = json_object_object_get_ex(reply, "error", &err)
	                      ? json_object_get_string(err)
	                      : "refused";
	int c = json_object_object_get_ex(reply, "code", &code) ? json_object_get_int(code) : -1;
	fprintf(stderr, "ward cas %s: %s\n", what, msg);
	return c == WARD_E_SEALED ? WARD_EXIT_DENIED : ward_exit_code(c);
}

static json_object *op(const char *name)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "op", json_object_new_string(name));
	return o;
}

/* ---- subcommands ---- */

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
	                                     {"shares", required_argument, NULL, 'n'},
	                                     {"threshold", required_argument, NULL, 'k'},
	                                     {"hostname", required_argument, NULL, 'H'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0, 0, 0, 0}};
	const char *dir = NULL, *hosts[17] = {0};
	unsigned long long k = 3, n = 5;
	int nh = 0, c;
	while ((c = getopt_long(argc, argv, "d:n:k:H:h", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if ((c == 'n' && ward_parse_u64(optarg, &n)) ||
		         (c == 'k' && ward_parse_u64(optarg, &k)))
			return fprintf(stderr, "ward cas init: bad number '%s'\n", optarg),
			       WARD_EXIT_USAGE;
		else if (c == 'H' && nh < 16)
			hosts[nh++] = optarg;
		else if (c == 'h')
			return fputs(USAGE, stdout), 0;
		else if (c != 'n' && c != 'k' && c != 'H')
			return fputs(USAGE, stderr), WARD_EXIT_USAGE;
	}
	if (optind != argc || k == 0 || k > n || n > 255)
		return fputs("ward cas init: need 1 <= threshold <= shares <= 255\n", stderr),
		       WARD_EXIT_USAGE;
	dir = data_dir(dir);
	if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
		return fprintf(stderr, "ward cas init: %s: cannot create\n", dir), WARD_EXIT_IO;
	/* serve refuses a data directory others can enter: make an existing one private now. */
	struct stat st;
	if (stat(dir, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077)) {
		if (chmod(dir, 0700) != 0)
			return fprintf(stderr, "ward cas init: %s: cannot make it private: %s\n",
			               dir, strerror(errno)),
			       WARD_EXIT_IO;
		fprintf(stderr, "ward cas init: %s: made private (mode 0700)\n", dir);
	}
	char *shares = NULL;
	uint8_t pk[32];
	int rc = ward_store_create(dir, (unsigned)k, (unsigned)n, 0, &shares, pk);
	if (rc)
		return ward_report("ward cas init", dir, rc);
	char tls[4096], crt[4200], key[4200];
	snprintf(tls, sizeof tls, "%s/tls", dir);
	snprintf(crt, sizeof crt, "%s/server.crt", tls);
	snprintf(key, sizeof key, "%s/server.key", tls);
	mkdir(tls, 0700);
	if (access(crt, F_OK) != 0 && (rc = cas_tls_make_cert(crt, key, "ward cas", 1, hosts)))
		fprintf(stderr, "ward cas init: %s: %s (give --tls-cert/--tls-key to serve)\n", crt,
		        ward_last_error());
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, pk, 32);
	fprintf(
	    stderr,
	    "ward cas init: store created in %s. These %llu unseal shares are the ONLY copies of\n"
	    "the key that opens it: give them to %llu different people; any %llu unseal it.\n"
	    "Audit log key (pin it: ward cas audit verify --key): %s\n"
	    "Server certificate: %s\n",
	    dir, n, n, k, hex, crt);
	fputs(shares, stdout);
	fflush(stdout);
	ward_store_text_free(shares);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
	                                     {"dev", no_argument, NULL, 'D'},
	                                     {"owner-listen", required_argument, NULL, 'o'},
	                                     {"workload-listen", required_argument, NULL, 'w'},
	                                     {"port-file", required_argument, NULL, 'p'},
	                                     {"tls-cert", required_argument, NULL, 'c'},
	                                     {"tls-key", required_argument, NULL, 'K'},
	                                     {"insecure-allow-mode-none", no_argument, NULL, 'I'},
	                                     {"audit-sync-each", no_argument, NULL, 'S'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0, 0, 0, 0}};
	struct cas_opts o = {.owner_addr = "127.0.0.1:8081", .workload_addr = "127.0.0.1:18765"};
	int c;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'D':
			o.dev = 1;
			break;
		case 'o':
			o.owner_addr = optarg;
			break;
		case 'w':
			o.workload_addr = optarg;
			break;
		case 'p':
			o.port_file = optarg;
			break;
		case 'c':
			o.tls_cert = optarg;
			break;
		case 'K':
			o.tls_key = optarg;
			break;
		case 'I':
			o.insecure_none = 1;
			break;
		case 'S':
			o.audit_sync_each = 1;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return 0;
		default:
			fputs(USAGE, stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (optind != argc || !o.tls_cert != !o.tls_key)
		return fputs(USAGE, stderr), WARD_EXIT_USAGE;
	o.data_dir = data_dir(o.data_dir);
	int rc = cas_serve(&o);
	return rc ? ward_report("ward cas serve", o.data_dir, rc) : 0;
}

/* Reads one line from standard input without echo on a terminal. 0, 1 at end of input, or -1. */
static int read_share(char *buf, size_t cap)
{
	struct termios old, quiet;
	int tty = tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	size_t n = 0;
	int rc = 1;
	for (;;) {
		char ch;
		ssize_t r = read(STDIN_FILENO, &ch, 1);
		if (r <= 0)
			break;
		rc = 0;
		if (ch == '\n')
			break;
		if (n + 1 >= cap) {
			rc = -1;
			continue;
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return rc == 1 && n ? 0 : rc;
}

/* Reads one share per line (no echo on a terminal) and sends each until unsealed. */
static int cmd_unseal(const char *dir)
{
	int tty = isatty(STDIN_FILENO);
	char *line = sodium_malloc(1024);
	int status = 0;
	for (;;) {
		if (tty)
			fputs("unseal share: ", stderr);
		int rc = read_share(line, 1024);
		if (rc < 0) {
			fputs("ward cas unseal: share line too long\n", stderr);
			status = WARD_EXIT_USAGE;
			break;
		}
		if (rc > 0)
			break;
		if (!line[strspn(line, " \t\r")])
			continue;
		json_object *req = op("unseal");
		json_object_object_add(req, "share", json_object_new_string(line));
		sodium_memzero(line, 1024);
		json_object *reply = admin_call(dir, req);
		/* json-c copied the share: wipe that copy too before freeing. */
		json_object *js;
		if (json_object_object_get_ex(req, "share", &js))
			sodium_memzero((void *)json_object_get_string(js),
			               (size_t)json_object_get_string_len(js));
		json_object_put(req);
		status = admin_result(reply, "unseal");
		json_object *jh, *jn, *js2;
		if (!status && json_object_object_get_ex(reply, "have", &jh) &&
		    json_object_object_get_ex(reply, "need", &jn) &&
		    json_object_object_get_ex(reply, "sealed", &js2)) {
			int sealed = json_object_get_boolean(js2);
			fprintf(stderr, "ward cas unseal: %s (%d of %d shares)\n",
			        sealed ? "still sealed" : "UNSEALED", json_object_get_int(jh),
			        json_object_get_int(jn));
			json_object_put(reply);
			if (!sealed)
				break;
			continue;
		}
		json_object_put(reply);
		if (status == WARD_EXIT_IO || !reply)
			break;
	}
	sodium_free(line);
	return status;
}

static int cmd_status(const char *dir)
{
	json_object *req = op("status");
	json_object *reply = admin_call(dir, req);
	json_object_put(req);
	int rc = admin_result(reply, "status");
	if (!rc)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
	json_object_put(reply);
	return rc;
}

/* "SEQ:HASH" as printed by a previous verify. */
static int parse_witness(const char *text, struct ward_audit_pos *w)
{
	char *end;
	w->seq = strtoull(text, &end, 10);
	return end != text && *end == ':' && w->seq > 0 && ward_attest_unhex(end + 1, w->hash) == 0
	           ? 0
	           : -1;
}

static int cmd_audit_verify(const char *dir, const char *key_hex, const char *witness)
{
	uint8_t pk[32], pinned[32];
	struct ward_audit_anchor anchor;
	struct ward_audit_pos w;
	if (witness && parse_witness(witness, &w))
		return fprintf(stderr, "ward cas audit verify: --witness must be SEQ:HASH (64 hex "
		                       "digits), as printed by an earlier verify\n"),
		       WARD_EXIT_USAGE;
	if (key_hex && ward_attest_unhex(key_hex, pinned) != 0)
		return fprintf(stderr, "ward cas audit verify: --key must be 64 hex digits\n"),
		       WARD_EXIT_USAGE;
	int rc = ward_store_audit_anchor(dir, pk, &anchor);
	if (rc)
		return ward_report("ward cas audit verify", dir, rc);
	if (key_hex && sodium_memcmp(pk, pinned, 32) != 0)
		return fprintf(stderr,
		               "ward cas audit verify: %s: the store's audit key is not the "
		               "pinned key (store replaced?)\n",
		               dir),
		       WARD_EXIT_BADMSG;
	if (!key_hex)
		fprintf(stderr,
		        "ward cas audit verify: note: verifying with the key stored in %s; "
		        "pin the key printed by `ward cas init` with --key\n",
		        dir);
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, WARD_STORE_AUDIT);
	struct ward_audit_report rep;
	rc = ward_audit_verify_witness(path, pk, &anchor, witness ? &w : NULL, &rep);
	uint64_t uncommitted = 0;
	if (!rc) /* the log against the database: a database rolled back alone */
		rc = ward_store_audit_check(dir, &uncommitted);
	if (rc) {
		ward_report("ward cas audit verify", path, rc);
		return rc == WARD_E_IO ? WARD_EXIT_IO : WARD_EXIT_BADMSG;
	}
	if (uncommitted)
		fprintf(stderr,
		        "ward cas audit verify: note: entry %llu records a change that was logged "
		        "but not committed (the service stopped in between)\n",
		        (unsigned long long)uncommitted);
	char hex[65];
	ward_attest_hex(rep.last_hash, hex);
	printf("ok: %llu entries, last %llu, checkpoint at %llu%s\n",
	       (unsigned long long)rep.entries, (unsigned long long)rep.last_seq,
	       (unsigned long long)anchor.pos.seq, witness ? ", witness present" : "");
	/* Kept elsewhere, this catches a rollback of the log and database together. */
	printf("witness: %llu:%s\n", (unsigned long long)rep.last_seq, hex);
	return 0;
}

/* platform|launcher add|remove|list. */
static int cmd_trust(const char *what, int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
	                                     {"label", required_argument, NULL, 'l'},
	                                     {"launcher", required_argument, NULL, 'L'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0, 0, 0, 0}};
	const char *dir = NULL, *label = "", *launchers[16];
	int nl = 0, c;
	if (argc < 2)
		return fputs(USAGE, stderr), WARD_EXIT_USAGE;
	const char *verb = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:h", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'l')
			label = optarg;
		else if (c == 'L' && nl < 16 && strcmp(what, "platform") == 0)
			launchers[nl++] = optarg;
		else
			return fputs(USAGE, c == 'h' ? stdout : stderr),
			       c == 'h' ? 0 : WARD_EXIT_USAGE;
	}
	dir = data_dir(dir);
	int list = strcmp(verb, "list") == 0;
	if ((!list && optind + 1 != argc) || (list && optind != argc) ||
	    (!list && strcmp(verb, "add") && strcmp(verb, "remove")))
		return fputs(USAGE, stderr), WARD_EXIT_USAGE;
	json_object *req = op(list                   ? "trust_list"
	                      : !strcmp(verb, "add") ? "trust_add"
	                                             : "trust_remove");
	json_object_object_add(req, "what", json_object_new_string(what));
	if (!list) {
		json_object_object_add(req, "value", json_object_new_string(argv[optind]));
		json_object_object_add(req, "label", json_object_new_string(label));
	}
	json_object *reply = admin_call(dir, req);
	json_object_put(req);
	int rc = admin_result(reply, what);
	json_object *entries;
	if (!rc && list && json_object_object_get_ex(reply, "entries", &entries))
		for (size_t i = 0; i < json_object_array_length(entries); i++) {
			json_object *e = json_object_array_get_idx(entries, i), *v, *l;
			json_object_object_get_ex(e, "value", &v);
			json_object_object_get_ex(e, "label", &l);
			printf("%s %s %s\n", what, json_object_get_string(v),
			       json_object_get_string(l));
		}
	json_object_put(reply);
	for (int i = 0; !rc && i < nl; i++) {
		req = op("trust_add");
		json_object_object_add(req, "what", json_object_new_string("launcher"));
		json_object_object_add(req, "value", json_object_new_string(launchers[i]));
		json_object_object_add(req, "label", json_object_new_string(label));
		reply = admin_call(dir, req);
		json_object_put(req);
		rc = admin_result(reply, "launcher");
		json_object_put(reply);
	}
	return rc;
}

/* Options shared by unseal, status and audit verify: --data DIR [--key HEX] [--witness W]. */
static int simple(int argc, char **argv, const char **dir, const char **key, const char **witness)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
	                                     {"key", required_argument, NULL, 'k'},
	                                     {"witness", required_argument, NULL, 'w'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		if (c == 'd')
			*dir = optarg;
		else if (c == 'k' && key)
			*key = optarg;
		else if (c == 'w' && witness)
			*witness = optarg;
		else
			return fputs(USAGE, c == 'h' ? stdout : stderr),
			       c == 'h' ? 0 : WARD_EXIT_USAGE;
	}
	*dir = data_dir(*dir);
	return optind == argc ? -1 : (fputs(USAGE, stderr), WARD_EXIT_USAGE);
}

int cmd_cas_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? WARD_EXIT_USAGE : 0;
	}
	if (sodium_init() < 0)
		return fputs("ward cas: libsodium failed to initialise\n", stderr), WARD_EXIT_FAIL;
	const char *sub = argv[1], *dir = NULL, *key = NULL, *wit = NULL;
	int rc;
	if (!strcmp(sub, "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(sub, "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(sub, "platform") || !strcmp(sub, "launcher"))
		return cmd_trust(sub, argc - 1, argv + 1);
	if (!strcmp(sub, "unseal"))
		return (rc = simple(argc - 1, argv + 1, &dir, NULL, NULL)) >= 0 ? rc
		                                                                : cmd_unseal(dir);
	if (!strcmp(sub, "status"))
		return (rc = simple(argc - 1, argv + 1, &dir, NULL, NULL)) >= 0 ? rc
		                                                                : cmd_status(dir);
	if (!strcmp(sub, "audit") && argc > 2 && !strcmp(argv[2], "verify"))
		return (rc = simple(argc - 2, argv + 2, &dir, &key, &wit)) >= 0
		           ? rc
		           : cmd_audit_verify(dir, key, wit);
	fprintf(stderr, "ward cas: unknown subcommand '%s'\n%s", sub, USAGE);
	return WARD_EXIT_USAGE;
}
