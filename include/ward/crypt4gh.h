/*
 * Crypt4GH v1 (GA4GH): keys, key files, streaming encryption and decryption
 * with random access, header re-encryption and rearrangement.
 *
 * Thread safety: objects are not shared between threads by the caller; the
 * library runs its own worker threads internally. Key objects may be read
 * concurrently.
 */
#ifndef WARD_CRYPT4GH_H
#define WARD_CRYPT4GH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_C4GH_KEYBYTES       32u
#define WARD_C4GH_SEGMENT        65536u /* plaintext bytes per segment */
#define WARD_C4GH_SEG_OVERHEAD   28u    /* nonce (12) + MAC (16) */
#define WARD_C4GH_CIPHER_SEGMENT (WARD_C4GH_SEGMENT + WARD_C4GH_SEG_OVERHEAD)

/* ---- Keys ------------------------------------------------------------- */

/* An X25519 secret key and its public key, in locked, guarded memory. */
struct ward_c4gh_seckey;

/* Generates a new key from the system CSPRNG. */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_generate(struct ward_c4gh_seckey **out);

/* Wraps a raw 32-byte X25519 secret key (copied; the caller wipes its copy). */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_from_raw(const uint8_t sk[WARD_C4GH_KEYBYTES],
                                                         struct ward_c4gh_seckey **out);

/* Parses 64 hex digits (surrounding white space allowed) as a raw secret key. */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_from_hex(const char *hex,
                                                         struct ward_c4gh_seckey **out);

/* The public key of sk. */
WARD_EXPORT void ward_c4gh_seckey_public(const struct ward_c4gh_seckey *sk,
                                         uint8_t pk[WARD_C4GH_KEYBYTES]);

/* The raw secret bytes; valid while sk lives. Do not copy them around. */
WARD_EXPORT const uint8_t *ward_c4gh_seckey_bytes(const struct ward_c4gh_seckey *sk);

/* Wipes and frees. Accepts NULL. */
WARD_EXPORT void ward_c4gh_seckey_free(struct ward_c4gh_seckey *sk);

/*
 * Supplies a passphrase when a key file turns out to be encrypted: writes at
 * most size-1 bytes and a NUL into buf, returns 0, or a negative ward_err to
 * give up. ctx is passed through. The library wipes buf after use.
 */
typedef int (*ward_passphrase_fn)(void *ctx, char *buf, size_t size);

/*
 * Parses a secret key file: c4gh-v1 (kdf scrypt, bcrypt, pbkdf2_hmac_sha256
 * or none), OpenSSH ed25519 (openssh-key-v1, plain or bcrypt-encrypted,
 * converted to X25519) or the htslib-crypt4gh raw base64 format.
 * get_pass is called only for encrypted keys (it may be NULL: then an
 * encrypted key fails with WARD_E_PASSPHRASE).
 * Errors: WARD_E_FORMAT, WARD_E_UNSUPPORTED, WARD_E_PASSPHRASE.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_parse(const char *text, size_t len,
                                                      ward_passphrase_fn get_pass, void *ctx,
                                                      struct ward_c4gh_seckey **out);

/* Reads and parses a secret key file (see ward_c4gh_seckey_parse). */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_load(const char *path, ward_passphrase_fn get_pass,
                                                     void *ctx, struct ward_c4gh_seckey **out);

/*
 * Parses a public key: "-----BEGIN CRYPT4GH PUBLIC KEY-----" armour or an
 * OpenSSH "ssh-ed25519 AAAA... comment" line (converted to X25519).
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_pubkey_parse(const char *text, size_t len,
                                                      uint8_t pk[WARD_C4GH_KEYBYTES]);
WARD_EXPORT WARD_NODISCARD int ward_c4gh_pubkey_load(const char *path,
                                                     uint8_t pk[WARD_C4GH_KEYBYTES]);

enum ward_c4gh_kdf {
	WARD_C4GH_KDF_NONE = 0, /* unencrypted key (cipher "none") */
	WARD_C4GH_KDF_SCRYPT,   /* N=2^14, r=8, p=1, as the reference */
	WARD_C4GH_KDF_BCRYPT,   /* OpenBSD bcrypt_pbkdf */
	WARD_C4GH_KDF_PBKDF2,   /* pbkdf2_hmac_sha256 */
};

/*
 * Formats sk as a c4gh-v1 private key file (PEM armour, NUL-terminated,
 * malloc'ed into *out; the caller wipes and frees it). passphrase is
 * required unless kdf is NONE. rounds 0 means the kdf's default. comment
 * may be NULL.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_seckey_format(const struct ward_c4gh_seckey *sk,
                                                       enum ward_c4gh_kdf kdf,
                                                       const char *passphrase, uint32_t rounds,
                                                       const char *comment, char **out);

/* Formats a Crypt4GH public key file (malloc'ed, NUL-terminated). */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_pubkey_format(const uint8_t pk[WARD_C4GH_KEYBYTES],
                                                       char **out);

/* ---- Reading ---------------------------------------------------------- */

struct ward_c4gh_read_opts {
	/* Keys to try on every header packet, in order. At least one. */
	const struct ward_c4gh_seckey *const *keys;
	size_t nkeys;
	/* If set, only packets written by this public key are accepted. */
	const uint8_t *sender_pk;
	/*
	 * Threads that decrypt segments, the calling thread included (1 = no
	 * extra thread); 0 = the number of online CPUs.
	 */
	unsigned threads;
};

struct ward_c4gh_reader;

/*
 * Reads and decrypts the header from fd (the current position of fd is the
 * start of the file) and prepares to stream the plaintext, after the edit
 * list if the header has one. fd stays owned by the caller and must stay
 * open until ward_c4gh_reader_free. When fd is seekable, seeks read only the
 * segments they need.
 * Errors: WARD_E_NOTC4GH, WARD_E_FORMAT (corrupt header), WARD_E_NOKEY,
 * WARD_E_UNSUPPORTED, WARD_E_TRUNCATED, WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_reader_open(int fd, const struct ward_c4gh_read_opts *opts,
                                                     struct ward_c4gh_reader **out);

/*
 * Returns the next piece of authenticated plaintext: *data points into the
 * reader's buffers and stays valid until the next call on r. *len == 0 means
 * end of data. Errors: WARD_E_BADMSG ("segment N failed authentication"),
 * WARD_E_TRUNCATED, WARD_E_IO. After an error the reader only returns errors.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_reader_next(struct ward_c4gh_reader *r,
                                                     const uint8_t **data, size_t *len);

/* Copies up to n plaintext bytes into buf. Returns bytes (0 at end) or a negative ward_err. */
WARD_EXPORT WARD_NODISCARD ssize_t ward_c4gh_reader_read(struct ward_c4gh_reader *r, void *buf,
                                                         size_t n);

/*
 * Moves to plaintext offset off of the (edited) stream. On a pipe only
 * forward moves are possible (skipped segments are read but not decrypted);
 * a backward move gives WARD_E_UNSUPPORTED. Seeking past the end is allowed
 * and reads return 0.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_reader_seek(struct ward_c4gh_reader *r, uint64_t off);

/* The current plaintext offset. */
WARD_EXPORT uint64_t ward_c4gh_reader_tell(const struct ward_c4gh_reader *r);

/*
 * The plaintext size of the (edited) stream if known (seekable input), else
 * -1. Computed from the file size: whole trailing segments removed from a
 * file cannot be detected by Crypt4GH v1.
 */
WARD_EXPORT int64_t ward_c4gh_reader_size(const struct ward_c4gh_reader *r);

/* Number of header packets, and the header's length in bytes. */
WARD_EXPORT uint32_t ward_c4gh_reader_packet_count(const struct ward_c4gh_reader *r);
WARD_EXPORT uint64_t ward_c4gh_reader_header_len(const struct ward_c4gh_reader *r);

/* Stops the workers, wipes keys and buffers, frees. Accepts NULL. */
WARD_EXPORT void ward_c4gh_reader_free(struct ward_c4gh_reader *r);

/* ---- Writing ---------------------------------------------------------- */

struct ward_c4gh_write_opts {
	/* Writer key; NULL = a fresh ephemeral key for this file. */
	const struct ward_c4gh_seckey *writer;
	/* Recipients' public keys (duplicates are written once). At least one. */
	const uint8_t (*recipients)[WARD_C4GH_KEYBYTES];
	size_t nrecipients;
	/* Optional edit list to store in the header (NULL/0 = none). */
	const uint64_t *edit_list;
	size_t edit_len;
	/* Threads that encrypt segments, the caller included; 0 = online CPUs. */
	unsigned threads;
	/* If > 0, the header goes to this descriptor and the segments to the main one. */
	int header_fd;
};

struct ward_c4gh_writer;

/* Writes the header to fd and prepares to encrypt. fd stays the caller's. */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_writer_open(int fd,
                                                     const struct ward_c4gh_write_opts *opts,
                                                     struct ward_c4gh_writer **out);

/* Encrypts n bytes (buffered into 64 KiB segments). */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_writer_write(struct ward_c4gh_writer *w, const void *buf,
                                                      size_t n);

/*
 * Encrypts everything read from in_fd until EOF, reading directly into the
 * segment buffers (the fast path of `crypt4gh encrypt`).
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_writer_write_fd(struct ward_c4gh_writer *w, int in_fd);

/* Writes the last (short) segment, waits for the workers and frees w. */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_writer_close(struct ward_c4gh_writer *w);

/* Frees w without finishing the file. Accepts NULL. */
WARD_EXPORT void ward_c4gh_writer_abort(struct ward_c4gh_writer *w);

/* ---- Header operations -------------------------------------------------- */

struct ward_c4gh_reencrypt_opts {
	const struct ward_c4gh_seckey *const *keys; /* keys that open packets */
	size_t nkeys;
	const struct ward_c4gh_seckey *writer; /* NULL = ephemeral */
	const uint8_t (*recipients)[WARD_C4GH_KEYBYTES];
	size_t nrecipients;
	int trim;        /* drop the packets we cannot open */
	int header_only; /* the input is a header without data */
};

/*
 * Re-encrypts the header read from in_fd for new recipients and copies the
 * data segments unchanged to out_fd.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_reencrypt(int in_fd, int out_fd,
                                                   const struct ward_c4gh_reencrypt_opts *opts);

/*
 * Rewrites in_fd so that it holds only the plaintext range [start, end)
 * (end = UINT64_MAX: to the end): an edit list in a header for the key's
 * own public key, and only the segments the range needs, copied unchanged.
 */
WARD_EXPORT WARD_NODISCARD int ward_c4gh_rearrange(int in_fd, int out_fd,
                                                   const struct ward_c4gh_read_opts *opts,
                                                   uint64_t start, uint64_t end);

#ifdef __cplusplus
}
#endif
#endif
