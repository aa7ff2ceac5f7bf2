/* `ward cas serve`: opens the store (sealed, or unsealed in --dev), starts the listeners and admin
 * socket. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"
#include "ward/io.h"

static const char DEV_BANNER[] =
    "\n"
    "**************************************************************************\n"
    "*  WARNING: ward cas is running in DEV MODE. NOT FOR REAL DATA.          *\n"
    "*  - the store's unseal share lies next to it (dev-unseal-share), so     *\n"
    "*    anyone who can read the data directory can read every secret;       *\n"
    "*  - the TLS certificates are self-signed and generated on first start.  *\n"
    "*  Use `ward cas init` and `ward cas unseal` for anything that matters.  *\n"
    "**************************************************************************\n\n";

static const char NONE_BANNER[] =
    "ward cas: WARNING: --insecure-allow-mode-none: sessions with attestation mode "
    "none get their secrets WITHOUT any attestation.\n";

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Creates a dev store with a 1-of-1 share kept beside it, and dev certificates. */
static int dev_prepare(const char *dir)
{
	char p[4096], p2[4096];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ward_error_errno("%s", dir);
	path_in(p, sizeof p, dir, WARD_STORE_DB);
	if (access(p, F_OK) != 0) {
		char *share = NULL;
		uint8_t pk[32];
		int rc = ward_store_create(dir, 1, 1, 1, &share, pk);
		if (rc)
			return rc;
		struct ward_outfile *f;
		path_in(p, sizeof p, dir, "dev-unseal-share");
		if (!(rc = ward_outfile_open(p, 0600, &f))) {
			if (ward_write_full(ward_outfile_fd(f), share, strlen(share)) != 0) {
				ward_outfile_abort(f);
				rc = ward_error_errno("%s", p);
			} else {
				rc = ward_outfile_commit(f, 1);
			}
		}
		ward_store_text_free(share);
		if (rc)
			return rc;
	}
	path_in(p, sizeof p, dir, "tls");
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		return ward_error_errno("%s", p);
	path_in(p, sizeof p, dir, "tls/server.crt");
	path_in(p2, sizeof p2, dir, "tls/server.key");
	int rc = 0;
	if (access(p, F_OK) != 0 && (rc = cas_tls_make_cert(p, p2, "ward cas (dev)", 1, NULL)))
		return rc;
	path_in(p, sizeof p, dir, "tls/client.crt");
	path_in(p2, sizeof p2, dir, "tls/client.key");
	if (access(p, F_OK) != 0)
		rc = cas_tls_make_cert(p, p2, "ward cas dev owner", 0, NULL);
	return rc;
}

static int dev_unseal(struct ward_store *st, const char *dir)
{
	char p[4096], *share = NULL;
	path_in(p, sizeof p, dir, "dev-unseal-share");
	int rc = cas_read_file(p, &share, NULL);
	if (rc)
		return rc;
	unsigned have, need;
	rc = ward_store_unseal(st, share, &have, &need);
	sodium_memzero(share, strlen(share));
	free(share);
	return rc;
}

/* One service per data directory: a second one would share the store but not the nonce key or
 * the session cache. */
static int lock_dir(const char *dir, int *fd)
{
	char p[4096];
	path_in(p, sizeof p, dir, "lock");
	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return ward_error_errno("%s", p);
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		close(*fd);
		*fd = -1;
		return ward_error(WARD_E_EXISTS, "%s: another `ward cas serve` uses this directory",
		                  dir);
	}
	return 0;
}

static int write_port_file(const char *path, int owner, int workload)
{
	struct ward_outfile *f;
	int rc = ward_outfile_open(path, 0644, &f);
	if (rc)
		return rc;
	char buf[64];
	int n = snprintf(buf, sizeof buf, "owner %d\nworkload %d\n", owner, workload);
	if (ward_write_full(ward_outfile_fd(f), buf, (size_t)n) != 0) {
		ward_outfile_abort(f);
		return ward_error_errno("%s", path);
	}
	return ward_outfile_commit(f, 0);
}

struct listeners {
	struct cas_server *owner, *workload;
	struct cas_admin *admin;
};

static int start_listeners(struct cas_state *cs, const struct cas_opts *o, struct listeners *l)
{
	char cert_path[4096], key_path[4096], *cert = NULL, *key = NULL;
	path_in(cert_path, sizeof cert_path, o->data_dir, "tls/server.crt");
	path_in(key_path, sizeof key_path, o->data_dir, "tls/server.key");
	int rc = cas_read_file(o->tls_cert ? o->tls_cert : cert_path, &cert, NULL);
	if (!rc)
		rc = cas_read_file(o->tls_key ? o->tls_key : key_path, &key, NULL);
	char sock[4096];
	path_in(sock, sizeof sock, o->data_dir, "admin.sock");
	if (!rc)
		rc = cas_admin_start(cs, sock, &l->admin);
	if (!rc)
		rc = cas_http_start(cs, o->owner_addr, 1, cert, key, &l->owner);
	if (!rc)
		rc = cas_http_start(cs, o->workload_addr, 0, cert, key, &l->workload);
	if (key) {
		sodium_memzero(key, strlen(key)); /* GnuTLS holds its own copy now */
		free(key);
	}
	free(cert);
	if (!rc && o->port_file)
		rc = write_port_file(o->port_file, cas_http_port(l->owner),
		                     cas_http_port(l->workload));
	return rc;
}

static void stop_listeners(struct listeners *l)
{
	cas_http_stop(l->workload);
	cas_http_stop(l->owner);
	cas_admin_stop(l->admin);
}

/*
 * The data directory holds the store, the audit log, the TLS key and (with
 * --dev) an unseal share: like ssh with ~/.ssh, refuse to serve one that
 * other users can enter, or that another user owns.
 */
static int check_private(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return ward_error_errno("%s", dir);
	if (!S_ISDIR(st.st_mode))
		return ward_error(WARD_E_INVAL, "%s: not a directory", dir);
	if (st.st_uid != geteuid())
		return ward_error(WARD_E_DENIED, "%s: owned by uid %u, not by this user", dir,
		                  (unsigned)st.st_uid);
	if (st.st_mode & 077)
		return ward_error(WARD_E_DENIED,
		                  "%s: group or others can access it (mode %04o): chmod 700 %s",
		                  dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static int open_store(const struct cas_opts *o, struct ward_store **st)
{
	int rc = o->dev ? dev_prepare(o->data_dir) : 0;
	if (!rc)
		rc = ward_store_open(o->data_dir, st);
	if (rc)
		return rc;
	if (ward_store_is_dev(*st) != o->dev)
		rc = ward_error(WARD_E_DENIED,
		                o->dev ? "%s holds a real store: refusing to serve it in --dev mode"
		                       : "%s holds a --dev store: serve it with --dev",
		                o->data_dir);
	else if (o->dev)
		rc = dev_unseal(*st, o->data_dir);
	if (rc) {
		ward_store_close(*st);
		*st = NULL;
	}
	return rc;
}

int cas_serve(const struct cas_opts *o)
{
	if (sodium_init() < 0)
		return ward_error(WARD_E_INTERNAL, "libsodium failed to initialise");
	/*
	 * The process holds the data key and decrypted secrets: no core dumps,
	 * and no ptrace or /proc/PID/mem access by other processes of the same
	 * user (root still can: see the threat model in docs/cas.md).
	 */
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (o->dev)
		fputs(DEV_BANNER, stderr);
	if (o->insecure_none)
		fputs(NONE_BANNER, stderr);
	int lockfd = -1;
	if (o->dev && mkdir(o->data_dir, 0700) != 0 && errno != EEXIST)
		return ward_error_errno("%s", o->data_dir);
	int rc = check_private(o->data_dir);
	if (!rc)
		rc = lock_dir(o->data_dir, &lockfd);
	struct cas_state cs = {.opts = o};
	if (!rc)
		rc = open_store(o, &cs.store);
	if (!rc)
		ward_store_audit_sync_each(cs.store, o->audit_sync_each);
	if (!rc && !(cs.nonces = cas_nonces_new()))
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	/* Block the stop signals before any thread starts, so only sigwait below sees them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct listeners l = {0};
	if (!rc)
		rc = cas_denials_start(cs.store, CAS_UNAUTH_INTERVAL_MS, &cs.denials);
	if (!rc)
		rc = start_listeners(&cs, o, &l);
	if (!rc) {
		int oh = (int)(strrchr(o->owner_addr, ':') - o->owner_addr);
		int wh = (int)(strrchr(o->workload_addr, ':') - o->workload_addr);
		printf("ward cas: owner API on https://%.*s:%d (client certificates required)\n"
		       "ward cas: workload interface on https://%.*s:%d\n"
		       "ward cas: %s\n",
		       oh, o->owner_addr, cas_http_port(l.owner), wh, o->workload_addr,
		       cas_http_port(l.workload),
		       ward_store_sealed(cs.store) ? "SEALED: unseal with `ward cas unseal`"
		                                   : "unsealed");
		fflush(stdout);
		int sig;
		sigwait(&set, &sig);
		fprintf(stderr, "ward cas: stopping (signal %d)\n", sig);
	}
	stop_listeners(&l);
	/* After the listeners (no request counts any more), before the store closes. */
	uint64_t lost;
	if (cas_denials_stop(cs.denials, &lost) && lost)
		fprintf(stderr,
		        "ward cas: %s: %llu unauthenticated refusals could not be logged: %s\n",
		        o->data_dir, (unsigned long long)lost, ward_last_error());
	cas_nonces_free(cs.nonces);
	ward_store_close(cs.store);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
