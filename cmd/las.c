/* ward las: the local attestation service for host mode (init, pubkey, serve). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "services/las/las.h"
#include "ward/attest.h"

static const char usage_text[] =
    "usage: ward las init [--key PATH] [--force]\n"
    "       ward las pubkey [--key PATH]\n"
    "       ward las [serve] [--socket PATH] [--key PATH] [--mode OCTAL] [--no-cache]\n"
    "                [--max-conns N] [--verbose]\n"
    "\n"
    "The local attestation service of host mode. Clients (`ward run`) connect to its\n"
    "Unix socket; it identifies them with SO_PEERCRED, hashes /proc/PID/exe and the\n"
    "workload file they pass, and signs that evidence with its Ed25519 key. A key\n"
    "service trusts the evidence only if an admin enrolled the key printed by\n"
    "`ward las init` (`ward cas platform add`).\n"
    "\n"
    "  --socket PATH   socket (default: WARD_LAS_ADDR, else /run/ward/las.sock, or\n"
    "                  $XDG_RUNTIME_DIR/ward/las.sock when not root)\n"
    "  --key PATH      signing key (default: WARD_LAS_KEY, else /var/lib/ward/las.key,\n"
    "                  or ~/.local/share/ward/las.key when not root); mode 0600\n"
    "  --mode OCTAL    permissions of the socket (default 0666: any local user may ask)\n"
    "  --no-cache      hash executables on every request\n"
    "\n"
    "Threat model (host mode): resists other users and tenants of the host, stolen\n"
    "disks, humans using the key service's API, a modified binary and replayed\n"
    "evidence. It does NOT resist root on this host or a compromised kernel: they can\n"
    "read the key file, forge evidence and read any workload's memory. The LAS must\n"
    "run as root (or as the only user whose processes it attests).\n"
    "See ward-las(1) and docs/attestation.md.\n";

static const char *default_key_path(void)
{
	static char buf[512];
	const char *env = getenv("WARD_LAS_KEY");
	if (env && env[0])
		return env;
	if (geteuid() == 0)
		return "/var/lib/ward/las.key";
	const char *data = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n = data && data[0] == '/'
	            ? snprintf(buf, sizeof buf, "%s/ward/las.key", data)
	            : snprintf(buf, sizeof buf, "%s/.local/share/ward/las.key", home ? home : ".");
	return n > 0 && (size_t)n < sizeof buf ? buf : "las.key";
}

/* mkdir -p of the key's directory, private (0700) for what we create. */
static int make_parent(const char *path)
{
	char dir[512];
	if (strlen(path) >= sizeof dir)
		return -1;
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static void print_identity(const struct ward_attest_key *k)
{
	uint8_t pk[32], m[32];
	char hex[65];
	ward_attest_key_public(k, pk);
	ward_attest_hex(pk, hex);
	printf("platform %s\n", hex);
	if (ward_attest_measure_process(0, NULL, m) == 0) {
		ward_attest_hex(m, hex);
		printf("launcher %s\n", hex);
	}
}

static int las_init(const char *key_path, int force)
{
	if (make_parent(key_path) < 0) {
		fprintf(stderr, "ward las: %s: cannot create its directory: %s\n", key_path,
		        strerror(errno));
		return WARD_EXIT_IO;
	}
	if (force && unlink(key_path) < 0 && errno != ENOENT) {
		fprintf(stderr, "ward las: %s: %s\n", key_path, strerror(errno));
		return WARD_EXIT_IO;
	}
	struct ward_attest_key *k = NULL;
	int rc = ward_attest_key_generate(&k);
	if (rc == 0)
		rc = ward_attest_key_save(k, key_path);
	if (rc < 0) {
		ward_attest_key_free(k);
		if (rc == WARD_E_EXISTS)
			fprintf(stderr,
			        "ward las: %s: key exists already (use --force to replace it)\n",
			        key_path);
		else
			return ward_report("ward las", key_path, rc);
		return WARD_EXIT_DENIED;
	}
	print_identity(k);
	fprintf(stderr,
	        "ward las: key written to %s; enroll it on the key service with\n"
	        "  ward cas platform add <platform hex>   (see ward-las(1))\n",
	        key_path);
	ward_attest_key_free(k);
	return 0;
}

static int las_pubkey(const char *key_path)
{
	struct ward_attest_key *k = NULL;
	int rc = ward_attest_key_load(key_path, &k);
	if (rc < 0)
		return ward_report("ward las", NULL, rc);
	print_identity(k);
	ward_attest_key_free(k);
	return 0;
}

static void print_claims(const struct ward_attest_claims *c, const uint8_t *ev, size_t len)
{
	char p[65], l[65], w[65], r[65], n[65];
	ward_attest_hex(c->platform, p);
	ward_attest_hex(c->launcher, l);
	ward_attest_hex(c->workload, w);
	ward_attest_hex(c->report_data, r);
	ward_attest_hex(c->nonce, n);
	char *b64 = malloc(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
	if (b64)
		sodium_bin2base64(b64,
		                  sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL),
		                  ev, len, sodium_base64_VARIANT_ORIGINAL);
	printf("{\"platform\":\"%s\",\"launcher\":\"%s\",\"workload\":%s%s%s,"
	       "\"report_data\":\"%s\",\"nonce\":\"%s\",\"time\":%lld,\"pid\":%u,\"uid\":%u,"
	       "\"gid\":%u,\"evidence\":\"%s\"}\n",
	       p, l, c->flags & WARD_ATTEST_HAS_WORKLOAD ? "\"" : "",
	       c->flags & WARD_ATTEST_HAS_WORKLOAD ? w : "null",
	       c->flags & WARD_ATTEST_HAS_WORKLOAD ? "\"" : "", r, n, (long long)c->time, c->pid,
	       c->uid, c->gid, b64 ? b64 : "");
	free(b64);
}

/*
 * Nonce and report data are random on purpose: a ward process that asked
 * for evidence over caller-chosen report data would let anyone bind the
 * trusted launcher measurement to a key of their choice (docs/attestation.md).
 */
static int las_query(const char *sock, const char *workload)
{
	uint8_t nonce[32], rd[32];
	randombytes_buf(nonce, sizeof nonce);
	randombytes_buf(rd, sizeof rd);
	int fd = -1;
	if (workload && (fd = open(workload, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "ward las: %s: %s\n", workload, strerror(errno));
		return WARD_EXIT_IO;
	}
	uint8_t *ev = NULL;
	size_t len = 0;
	struct ward_attest_claims c;
	int rc = ward_attest_las_request(sock, nonce, rd, fd, &ev, &len);
	if (rc == 0)
		rc = ward_attest_evidence_parse(ev, len, &c);
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		free(ev);
		return ward_report("ward las", NULL, rc);
	}
	print_claims(&c, ev, len);
	free(ev);
	return 0;
}

static int las_run(const char *key_path, struct las_options *o)
{
	struct ward_attest_key *k = NULL;
	int rc = ward_attest_key_load(key_path, &k);
	if (rc < 0)
		return ward_report("ward las", NULL, rc);
	rc = las_serve(o, k);
	if (rc < 0)
		return ward_report("ward las", NULL, rc);
	return 0;
}

int cmd_las_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},    {"key", required_argument, NULL, 'k'},
	    {"mode", required_argument, NULL, 'm'},      {"no-cache", no_argument, NULL, 'C'},
	    {"max-conns", required_argument, NULL, 'n'}, {"verbose", no_argument, NULL, 'v'},
	    {"force", no_argument, NULL, 'f'},           {"help", no_argument, NULL, 'h'},
	    {"workload", required_argument, NULL, 'w'},  {NULL, 0, NULL, 0}};
	struct las_options o = {.socket_path = NULL,
	                        .socket_mode = 0666,
	                        .cache_entries = 1024,
	                        .max_conns = 256,
	                        .read_timeout_ms = 5000};
	const char *key = NULL, *workload = NULL;
	int force = 0, c;
	unsigned long long v;
	while ((c = getopt_long(argc, argv, "s:k:m:n:vfh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket_path = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'm': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (*end || m > 0777) {
				fprintf(stderr, "ward las: --mode: '%s' is not an octal mode\n",
				        optarg);
				return WARD_EXIT_USAGE;
			}
			o.socket_mode = (unsigned)m;
			break;
		}
		case 'C':
			o.cache_entries = 0;
			break;
		case 'n':
			if (ward_parse_u64(optarg, &v) < 0 || v == 0 || v > 100000) {
				fprintf(stderr, "ward las: --max-conns: '%s' is not 1..100000\n",
				        optarg);
				return WARD_EXIT_USAGE;
			}
			o.max_conns = (unsigned)v;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'w':
			workload = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return WARD_EXIT_USAGE;
		}
	}
	const char *verb = optind < argc ? argv[optind++] : "serve";
	if (optind < argc) {
		fprintf(stderr, "ward las: unexpected argument '%s'\n", argv[optind]);
		return WARD_EXIT_USAGE;
	}
	if (!key)
		key = default_key_path();
	if (!o.socket_path)
		o.socket_path = ward_attest_las_default_path();
	if (strcmp(verb, "init") == 0)
		return las_init(key, force);
	if (strcmp(verb, "pubkey") == 0)
		return las_pubkey(key);
	if (strcmp(verb, "query") == 0)
		return las_query(o.socket_path, workload);
	if (strcmp(verb, "serve") == 0)
		return las_run(key, &o);
	fprintf(stderr, "ward las: unknown command '%s' (init, pubkey or serve)\n", verb);
	return WARD_EXIT_USAGE;
}
