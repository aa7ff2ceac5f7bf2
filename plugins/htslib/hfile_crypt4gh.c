/*
 * hfile_crypt4gh.so: an htslib hFILE plugin so that samtools, bcftools and
 * tabix read Crypt4GH files as `crypt4gh:PATH` (and, through htslib's magic
 * detection, as plain PATH), with random access: a seek decrypts only the
 * segments it needs, so a plaintext .tbi/.csi/.bai index serves the
 * encrypted file. Files without the Crypt4GH magic (such as that index)
 * pass through unchanged. Keys: C4GH_SECRET_KEY (+ C4GH_PASSPHRASE), else
 * RECIPIENT_KEY (64 hex digits) with SENDER_KEY checked as the writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/hfile.h>
#include <htslib/hts_log.h>
#include <sodium.h>

#include "ward/crypt4gh.h"

#define PLUGIN_EXPORT __attribute__((visibility("default")))
#define SCHEME        "crypt4gh"

/*
 * The plugin interface of htslib 1.16 (hfile_internal.h, which Debian does
 * not ship): these declarations match it member for member.
 */
struct hFILE_backend {
	ssize_t (*read)(hFILE *fp, void *buffer, size_t nbytes);
	ssize_t (*write)(hFILE *fp, const void *buffer, size_t nbytes);
	off_t (*seek)(hFILE *fp, off_t offset, int whence);
	int (*flush)(hFILE *fp);
	int (*close)(hFILE *fp);
};

struct hFILE_scheme_handler {
	hFILE *(*open)(const char *filename, const char *mode);
	int (*isremote)(const char *filename);
	const char *provider;
	int priority; /* < 2000: htslib calls open(), never vopen() */
	hFILE *(*vopen)(const char *filename, const char *mode, va_list args);
};

struct hFILE_plugin {
	int api_version;
	void *obj;
	const char *name;
	void (*destroy)(void);
};

hFILE *hfile_init(size_t struct_size, const char *mode, size_t capacity);
void hfile_destroy(hFILE *fp);
void hfile_add_scheme_handler(const char *scheme, const struct hFILE_scheme_handler *handler);
int hfile_always_local(const char *fname);

typedef struct {
	hFILE base; /* first, as htslib casts */
	int fd;
	struct ward_c4gh_reader *r; /* NULL: not Crypt4GH, read the file as is */
	int err;                    /* sticky errno after a failed segment */
} hFILE_c4gh;

/* ---- keys: loaded once per process (a KDF can take a while), kept locked ---- */

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ward_c4gh_seckey *key;
static uint8_t sender_pk[32];
static int have_sender;

static int env_passphrase(void *ctx, char *buf, size_t size)
{
	(void)ctx;
	const char *p = getenv("C4GH_PASSPHRASE");
	if (!p || strlen(p) + 1 > size)
		return WARD_E_PASSPHRASE;
	memcpy(buf, p, strlen(p) + 1);
	return 0;
}

/* 0, or -1 with errno set and a message logged. */
static int load_keys(void)
{
	pthread_mutex_lock(&key_lock);
	int rc = 0;
	if (!key) {
		const char *path = getenv("C4GH_SECRET_KEY");
		const char *hex = getenv("RECIPIENT_KEY");
		const char *shex = getenv("SENDER_KEY");
		if (path && *path) {
			rc = ward_c4gh_seckey_load(path, env_passphrase, NULL, &key);
		} else if (hex && *hex) {
			rc = ward_c4gh_seckey_from_hex(hex, &key);
		} else {
			hts_log_error(
			    "no key: set C4GH_SECRET_KEY (+ C4GH_PASSPHRASE) or RECIPIENT_KEY");
			rc = WARD_E_NOKEY;
		}
		if (rc == 0 && shex && *shex) {
			struct ward_c4gh_seckey *s = NULL;
			rc = ward_c4gh_seckey_from_hex(shex, &s);
			if (rc == 0) {
				ward_c4gh_seckey_public(s, sender_pk);
				have_sender = 1;
			}
			ward_c4gh_seckey_free(s);
		}
		if (rc < 0 && rc != WARD_E_NOKEY)
			hts_log_error("cannot load the key: %s", ward_last_error());
		if (rc < 0) {
			ward_c4gh_seckey_free(key);
			key = NULL;
		}
	}
	pthread_mutex_unlock(&key_lock);
	if (rc < 0) {
		errno = rc == WARD_E_PASSPHRASE ? EACCES : EINVAL;
		return -1;
	}
	return 0;
}

static void plugin_destroy(void)
{
	pthread_mutex_lock(&key_lock);
	ward_c4gh_seckey_free(key);
	key = NULL;
	pthread_mutex_unlock(&key_lock);
}

/* ---- backend ------------------------------------------------------------- */

static int map_errno(int err)
{
	switch (err) {
	case WARD_E_BADMSG:
		return EBADMSG;
	case WARD_E_TRUNCATED:
		return EIO;
	case WARD_E_NOMEM:
		return ENOMEM;
	case WARD_E_UNSUPPORTED:
		return ESPIPE;
	case WARD_E_RANGE:
		return EINVAL;
	default:
		return EIO;
	}
}

static ssize_t c4gh_read(hFILE *fpv, void *buf, size_t n)
{
	hFILE_c4gh *fp = (hFILE_c4gh *)fpv;
	if (!fp->r)
		return read(fp->fd, buf, n);
	if (fp->err) {
		errno = fp->err;
		return -1;
	}
	ssize_t k = ward_c4gh_reader_read(fp->r, buf, n);
	if (k < 0) {
		hts_log_error("%s", ward_last_error());
		/* Fail closed: htslib would otherwise seek past the bad segment and read on. */
		fp->err = errno = map_errno((int)k);
		return -1;
	}
	return k;
}

static ssize_t c4gh_write(hFILE *fpv, const void *buf, size_t n)
{
	hFILE_c4gh *fp = (hFILE_c4gh *)fpv;
	if (fp->r) {
		errno = EBADF; /* Crypt4GH is opened for reading only */
		return -1;
	}
	return write(fp->fd, buf, n);
}

static off_t c4gh_seek(hFILE *fpv, off_t off, int whence)
{
	hFILE_c4gh *fp = (hFILE_c4gh *)fpv;
	if (!fp->r)
		return lseek(fp->fd, off, whence);
	if (fp->err) {
		errno = fp->err;
		return -1;
	}
	int64_t base = 0;
	if (whence == SEEK_CUR)
		base = (int64_t)ward_c4gh_reader_tell(fp->r);
	else if (whence == SEEK_END)
		base = ward_c4gh_reader_size(fp->r);
	else if (whence != SEEK_SET)
		base = -1;
	if (base < 0 || base + off < 0) {
		errno = base < 0 ? ESPIPE : EINVAL;
		return -1;
	}
	int rc = ward_c4gh_reader_seek(fp->r, (uint64_t)(base + off));
	if (rc < 0) {
		errno = map_errno(rc);
		return -1;
	}
	return (off_t)(base + off);
}

static int c4gh_flush(hFILE *fpv)
{
	(void)fpv;
	return 0;
}

static int c4gh_close(hFILE *fpv)
{
	hFILE_c4gh *fp = (hFILE_c4gh *)fpv;
	ward_c4gh_reader_free(fp->r);
	fp->r = NULL;
	return close(fp->fd);
}

static const struct hFILE_backend c4gh_backend = {c4gh_read, c4gh_write, c4gh_seek, c4gh_flush,
                                                  c4gh_close};

/* ---- open ---------------------------------------------------------------- */

/*
 * htslib looks for an index at URL.tbi (.csi, .bai): "crypt4gh:x.vcf.gz.c4gh.tbi".
 * When that file does not exist, the plaintext's own name serves: x.vcf.gz.tbi.
 */
static int open_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	static const char *const idx[] = {".tbi", ".csi", ".bai", ".crai", ".gzi"};
	size_t n = strlen(path);
	for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
		size_t k = strlen(idx[i]);
		if (n < k + 5 || strcmp(path + n - k, idx[i]) != 0 ||
		    memcmp(path + n - k - 5, ".c4gh", 5) != 0)
			continue;
		char *alt = malloc(n + 1);
		if (!alt)
			return -1;
		memcpy(alt, path, n - k - 5);
		strcpy(alt + n - k - 5, idx[i]);
		fd = open(alt, O_RDONLY | O_CLOEXEC);
		free(alt);
		if (fd < 0)
			errno = ENOENT;
		return fd;
	}
	errno = ENOENT;
	return -1;
}

static int is_c4gh(int fd)
{
	char magic[8];
	off_t at = lseek(fd, 0, SEEK_CUR);
	ssize_t n = at >= 0 ? pread(fd, magic, 8, at) : -1;
	return n == 8 && memcmp(magic, "crypt4gh", 8) == 0;
}

/*
 * The one write htslib makes through a remote scheme: the local copy of an
 * index (hts_open_tmpfile: "NAME.tmp_PID_N_T", mode "wx"), later renamed by
 * its literal name. It is a plain file named exactly as asked.
 */
static int open_index_copy(const char *url, const char *mode)
{
	if (!strchr(mode, 'x') || !strstr(url, ".tmp_")) {
		hts_log_error("%s: writing Crypt4GH is not supported (use `ward vcf encrypt`)",
		              url);
		errno = EROFS;
		return -1;
	}
	return open(url, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
}

static hFILE *hopen_crypt4gh(const char *url, const char *mode)
{
	const char *path = strncmp(url, SCHEME ":", sizeof SCHEME) == 0 ? url + sizeof SCHEME : url;
	int fd, writing = strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+');
	if (writing)
		fd = open_index_copy(url, mode);
	else
		fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open_path(path);
	if (fd < 0)
		return NULL;
	struct ward_c4gh_reader *r = NULL;
	if (!writing && is_c4gh(fd)) {
		if (load_keys() < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return NULL;
		}
		const struct ward_c4gh_seckey *keys[1] = {key};
		struct ward_c4gh_read_opts o = {
		    .keys = keys, .nkeys = 1, .sender_pk = have_sender ? sender_pk : NULL};
		int rc = ward_c4gh_reader_open(fd, &o, &r);
		if (rc < 0) {
			hts_log_error("%s: %s", path, ward_last_error());
			close(fd);
			errno = rc == WARD_E_NOKEY || rc == WARD_E_SENDER ? EACCES : EIO;
			return NULL;
		}
	}
	hFILE_c4gh *fp = (hFILE_c4gh *)hfile_init(sizeof(hFILE_c4gh), mode, 65536);
	if (!fp) {
		ward_c4gh_reader_free(r);
		close(fd);
		return NULL;
	}
	fp->fd = fd;
	fp->r = r;
	fp->err = 0;
	fp->base.backend = &c4gh_backend;
	return &fp->base;
}

/*
 * crypt4gh: URLs count as remote. For a local file htslib only stat()s
 * index names such as "crypt4gh:x.vcf.gz.c4gh.tbi" literally, which never
 * exist; for a remote one it opens them through this plugin (open_path
 * finds the plaintext's x.vcf.gz.tbi) and keeps a copy in the working
 * directory, as it does for https:// files.
 */
static int c4gh_isremote(const char *name)
{
	(void)name;
	return 1;
}

PLUGIN_EXPORT int hfile_plugin_init(struct hFILE_plugin *self);

int hfile_plugin_init(struct hFILE_plugin *self)
{
	/* Above htslib's built-in "crypt4gh plugin needed" stub; local files. */
	static const struct hFILE_scheme_handler handler = {hopen_crypt4gh, c4gh_isremote, "ward",
	                                                    90, NULL};
	if (sodium_init() < 0)
		return -1;
	self->name = "ward crypt4gh";
	self->destroy = plugin_destroy;
	hfile_add_scheme_handler(SCHEME, &handler);
	return 0;
}
