/* X.509 for the key service (OpenSSL): self-signed certificates for --dev and init, client key
 * hashes. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/core_internal.h"
#include "services/cas/cas.h"

int cas_read_file(const char *path, char **out, size_t *len)
{
	*out = NULL;
	FILE *f = fopen(path, "re");
	if (!f)
		return ward_error_errno("%s", path);
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
		if (n + 1 == cap) {
			if (cap > (64u << 20)) {
				free(buf);
				buf = NULL;
				break;
			}
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	int err = ferror(f);
	fclose(f);
	if (!buf || err) {
		free(buf);
		return ward_error(err ? WARD_E_IO : WARD_E_NOMEM, "%s: cannot read", path);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	int ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* "DNS:localhost,IP:127.0.0.1,IP:::1" plus extras (names or addresses). */
static void build_san(char *san, size_t cap, const char *const *sans)
{
	snprintf(san, cap, "DNS:localhost,IP:127.0.0.1,IP:::1");
	for (size_t i = 0; sans && sans[i]; i++) {
		unsigned char tmp[16];
		int ip =
		    inet_pton(AF_INET, sans[i], tmp) == 1 || inet_pton(AF_INET6, sans[i], tmp) == 1;
		size_t n = strlen(san);
		snprintf(san + n, cap - n, ",%s:%s", ip ? "IP" : "DNS", sans[i]);
	}
}

/* Writes PEM through a new file of the given mode, created exclusively. */
static int write_pem(const char *path, unsigned mode, int (*write)(FILE *, void *), void *obj)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return ward_error_errno("%s", path);
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return ward_error_errno("%s", path);
	}
	int ok = write(f, obj);
	if (fflush(f) != 0 || fsync(fd) != 0)
		ok = 0;
	fclose(f);
	if (!ok) {
		unlink(path);
		return ward_error(WARD_E_IO, "%s: cannot write", path);
	}
	return 0;
}

static int write_cert(FILE *f, void *x)
{
	return PEM_write_X509(f, x);
}

static int write_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static X509 *make_x509(EVP_PKEY *key, const char *cn, int server, const char *const *sans)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	if (!x || RAND_bytes(serial, sizeof serial) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (!ok || !X509_set_version(x, 2) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) || !X509_set_pubkey(x, key))
		goto fail;
	X509_NAME *name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	                                -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	char san[2048];
	build_san(san, sizeof san, sans);
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(x, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") ||
	    (server && add_ext(x, NID_subject_alt_name, san)) ||
	    add_ext(x, NID_subject_key_identifier, "hash"))
		goto fail;
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

int cas_tls_make_cert(const char *cert_path, const char *key_path, const char *cn, int server,
                      const char *const *sans)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? make_x509(key, cn, server, sans) : NULL;
	int rc = x ? 0 : ward_error(WARD_E_INTERNAL, "cannot create a certificate for %s", cn);
	if (!rc && !(rc = write_pem(key_path, 0600, write_key, key)) &&
	    (rc = write_pem(cert_path, 0644, write_cert, x)))
		unlink(key_path);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* SHA-256 of the certificate's DER SubjectPublicKeyInfo; 0 or -1. */
static int spki_hash(X509 *x, uint8_t out[32])
{
	unsigned char *spki = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (n <= 0)
		return -1;
	SHA256(spki, (size_t)n, out);
	OPENSSL_free(spki);
	return 0;
}

int cas_tls_client_key(const uint8_t *der, size_t len, uint8_t out[32])
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		return 0;
	int rc = spki_hash(x, out) == 0;
	/* Owners are keys, but a certificate's validity period still binds. */
	if (rc && (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
	           X509_cmp_current_time(X509_get0_notAfter(x)) <= 0))
		rc = -1;
	X509_free(x);
	return rc;
}

int cas_tls_spki_hash_file(const char *path, uint8_t out[32])
{
	FILE *f = fopen(path, "re");
	if (!f)
		return ward_error_errno("%s", path);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return ward_error(WARD_E_FORMAT, "%s: not a PEM certificate", path);
	int rc = spki_hash(x, out);
	X509_free(x);
	return rc ? ward_error(WARD_E_FORMAT, "%s: no public key", path) : 0;
}
