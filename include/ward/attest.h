/*
 * Attestation: evidence that the local attestation service (LAS, `ward las`)
 * signs for a process on its host, its verification by the key service
 * (CAS), measurements (SHA-256 of executables), the LAS client used by
 * `ward run`, and the place where an SGX DCAP quote verifier plugs in later.
 *
 * Host-mode evidence (version 1) is a fixed 272-byte binary record, all
 * integers little-endian:
 *
 *   off  len  field
 *     0    4  magic "WEV1"
 *     4    1  version = 1
 *     5    1  mode = 1 (host)
 *     6    1  flags: bit 0 = a workload measurement is present
 *     7    1  reserved, 0
 *     8   32  platform: the LAS Ed25519 public key
 *    40   32  launcher measurement of the peer (ward_attest_measure_process)
 *    72   32  workload measurement: SHA-256 of the fd the peer passed (or 0)
 *   104   32  report data (chosen by the peer; see ward_attest_report_data)
 *   136   32  nonce issued by the CAS (copied from the request)
 *   168   16  LAS nonce: random, makes every evidence unique
 *   184    8  time: LAS clock, Unix seconds (signed)
 *   192    4  pid   196 4 uid   200 4 gid   (of the peer, from SO_PEERCRED)
 *   204    4  reserved, 0
 *   208   64  Ed25519 signature by `platform` over bytes 0..207
 *
 * SGX-mode evidence (mode = 2) starts with the same 8-byte header, then a
 * u32 quote length, the DCAP quote, a u32 collateral length and the
 * collateral. Its REPORTDATA must be report_data (32) || nonce (32). No
 * verifier is built in yet: verification refuses it with WARD_E_UNSUPPORTED
 * unless one was registered with ward_attest_sgx_set_verifier().
 *
 * Thread safety: every function may be called from any thread; key objects
 * may be used concurrently once created. ward_attest_sgx_set_verifier() must
 * be called before other threads verify.
 */
#ifndef WARD_ATTEST_H
#define WARD_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "ward/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WARD_ATTEST_HASHBYTES      32u /* SHA-256 measurement */
#define WARD_ATTEST_KEYBYTES       32u /* Ed25519 public key of a LAS */
#define WARD_ATTEST_NONCEBYTES     32u /* CAS nonce */
#define WARD_ATTEST_RDBYTES        32u /* report data */
#define WARD_ATTEST_LASNONCEBYTES  16u
#define WARD_ATTEST_EVIDENCE_BYTES 272u   /* host evidence, version 1 */
#define WARD_ATTEST_MAX_EVIDENCE   65536u /* upper bound for any mode */
#define WARD_ATTEST_MAX_SKEW       60     /* seconds of clock skew accepted */
#define WARD_ATTEST_HAS_WORKLOAD   0x01u

enum ward_attest_mode {
	WARD_ATTEST_MODE_NONE = 0, /* no attestation: only with an explicit insecure flag */
	WARD_ATTEST_MODE_HOST = 1, /* LAS-signed evidence (this module) */
	WARD_ATTEST_MODE_SGX = 2,  /* DCAP quote: interface only, refused for now */
};

/* What a piece of evidence says, after parsing (and, if verified, is vouched for). */
struct ward_attest_claims {
	uint8_t version;
	uint8_t mode;  /* enum ward_attest_mode */
	uint8_t flags; /* WARD_ATTEST_HAS_WORKLOAD */
	uint8_t platform[WARD_ATTEST_KEYBYTES];
	uint8_t launcher[WARD_ATTEST_HASHBYTES];
	uint8_t workload[WARD_ATTEST_HASHBYTES]; /* all zero unless HAS_WORKLOAD */
	uint8_t report_data[WARD_ATTEST_RDBYTES];
	uint8_t nonce[WARD_ATTEST_NONCEBYTES];
	uint8_t las_nonce[WARD_ATTEST_LASNONCEBYTES];
	int64_t time;
	uint32_t pid, uid, gid;
};

/* ---- Binding ------------------------------------------------------------ */

/*
 * report_data = SHA-256(pubkey (32 raw bytes) || nonce (32 raw bytes) ||
 * config_id (its bytes, no NUL)). pubkey is the launcher's ephemeral X25519
 * key, nonce the CAS nonce, config_id "SESSION/SERVICE". The fixed-size
 * fields come first, so the concatenation is unambiguous.
 */
WARD_EXPORT void ward_attest_report_data(const uint8_t pubkey[32], const uint8_t nonce[32],
                                         const char *config_id, uint8_t out[32]);

/* ---- Parsing and verification (CAS side) -------------------------------- */

/*
 * Parses evidence WITHOUT checking anything but its syntax. Returns 0,
 * WARD_E_TRUNCATED, WARD_E_FORMAT (bad magic, version, reserved bytes,
 * flags) or WARD_E_UNSUPPORTED (a mode this build cannot parse). *out is
 * zeroed on failure. Never trust the result: use ward_attest_evidence_verify.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_evidence_parse(const uint8_t *ev, size_t len,
                                                          struct ward_attest_claims *out);

/*
 * Verifies evidence: syntax, mode host (sgx goes to the registered verifier,
 * or fails with WARD_E_UNSUPPORTED "sgx attestation is not available yet"),
 * signer in enrolled[0..n) (else WARD_E_DENIED), Ed25519 signature (else
 * WARD_E_BADMSG), |time - now| <= WARD_ATTEST_MAX_SKEW (else WARD_E_DENIED;
 * now = 0 means the current time). Fills *out on success, zeroes it on
 * failure. Does NOT check the nonce's freshness or single use, the report
 * data or the measurements: see ward_attest_host_check.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_evidence_verify(const uint8_t *ev, size_t len,
                                                           const uint8_t (*enrolled)[32], size_t n,
                                                           int64_t now,
                                                           struct ward_attest_claims *out);

/* What the CAS expects of the evidence for one workload request. */
struct ward_attest_expect {
	const uint8_t (*platforms)[32]; /* enrolled LAS public keys */
	size_t n_platforms;
	const uint8_t (*launchers)[32]; /* trusted launcher (ward binary) measurements */
	size_t n_launchers;
	const uint8_t (*workloads)[32]; /* the service's accepted measurements */
	size_t n_workloads;
	const uint32_t *uids; /* if n_uids > 0: the peer uid must be one of these */
	size_t n_uids;
	const uint8_t *pubkey; /* 32 bytes: the ephemeral key of the request */
	const char *config_id; /* "SESSION/SERVICE" of the request */
	const uint8_t *nonce;  /* 32 bytes, or NULL if the caller checks claims.nonce */
	int64_t now;           /* 0 = current time */
};

/*
 * Everything the CAS checks before releasing a configuration, except the
 * nonce's single use (which needs the CAS store: consume out->nonce after
 * this returns 0, and refuse if it was not issued, already used or expired):
 * ward_attest_evidence_verify, then report_data == ward_attest_report_data(
 * pubkey, claims.nonce, config_id), nonce (if given), launcher in launchers,
 * workload measurement present and in workloads, uid in uids (if any).
 * Comparisons are constant-time. Returns 0 or the first failure (WARD_E_DENIED
 * with a message naming the failed check, WARD_E_BADMSG, WARD_E_FORMAT,
 * WARD_E_UNSUPPORTED, WARD_E_INVAL for missing arguments). Empty launcher or
 * workload lists deny everything.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_host_check(const uint8_t *ev, size_t len,
                                                      const struct ward_attest_expect *x,
                                                      struct ward_attest_claims *out);

/*
 * Checks a session's `security.attestation.mode` string: "host" -> 0;
 * "sgx" -> WARD_E_UNSUPPORTED ("sgx attestation is not available yet");
 * "none" -> 0 only if insecure_allowed, else WARD_E_DENIED; anything else
 * WARD_E_FORMAT. *mode (may be NULL) receives the enum on success.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_mode_check(const char *name, int insecure_allowed,
                                                      enum ward_attest_mode *mode);

/* ---- SGX plug-in point --------------------------------------------------- */

/* What a DCAP verifier reports about a quote it accepted under its policy. */
struct ward_attest_sgx_report {
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint16_t isvprodid, isvsvn;
	uint8_t report_data[64];
	int debug;
};

/*
 * A DCAP quote verifier: checks quote and collateral at time now (chain to
 * the pinned Intel root, signatures, TCB, policy) and fills *out. Returns 0
 * or a negative ward_err. ctx is passed through.
 */
typedef int (*ward_attest_sgx_verify_fn)(void *ctx, const uint8_t *quote, size_t quote_len,
                                         const uint8_t *collateral, size_t coll_len, int64_t now,
                                         struct ward_attest_sgx_report *out);

/* Registers the verifier (NULL removes it). Not thread-safe: call at start. */
WARD_EXPORT void ward_attest_sgx_set_verifier(ward_attest_sgx_verify_fn fn, void *ctx);

/* ---- LAS keys -------------------------------------------------------------- */

/* An Ed25519 signing key of a LAS, in locked, guarded memory. */
struct ward_attest_key;

WARD_EXPORT WARD_NODISCARD int ward_attest_key_generate(struct ward_attest_key **out);

/*
 * Writes the key to path with mode 0600 (O_EXCL: WARD_E_EXISTS if it exists)
 * as one line "ward-las-ed25519 <128 hex: seed || public>\n".
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_key_save(const struct ward_attest_key *k,
                                                    const char *path);

/*
 * Loads a key file. Refuses (WARD_E_DENIED) a file that group or others can
 * read or write, or that is not a regular file; WARD_E_FORMAT if malformed.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_key_load(const char *path, struct ward_attest_key **out);

WARD_EXPORT void ward_attest_key_public(const struct ward_attest_key *k, uint8_t pk[32]);

/* Wipes and frees. Accepts NULL. */
WARD_EXPORT void ward_attest_key_free(struct ward_attest_key *k);

/*
 * Signs host evidence: c's version/mode/platform fields are set by this
 * function (platform = k's public key); flags, measurements, report data,
 * nonces, time and ids are taken from c. out receives the 272-byte record.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_evidence_sign(const struct ward_attest_claims *c,
                                                         const struct ward_attest_key *k,
                                                         uint8_t out[WARD_ATTEST_EVIDENCE_BYTES]);

/* ---- Measurements ----------------------------------------------------------- */

/*
 * SHA-256 of the whole content of the regular file open on fd, read with
 * pread from offset 0 (the file offset is not used or changed).
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_measure_fd(int fd, uint8_t out[32]);

/* Same for a path (opened O_RDONLY|O_CLOEXEC, following symlinks). */
WARD_EXPORT WARD_NODISCARD int ward_attest_measure_path(const char *path, uint8_t out[32]);

/*
 * Opens the program a session names the way `ward run` executes it: a name
 * without '/' is looked up in path_env (a PATH value; NULL or "" means
 * "/usr/local/bin:/usr/bin:/bin"), the first regular executable file wins.
 * The file must be a regular file with an execute bit and an ELF image
 * (a "#!" script is refused: its interpreter would run unmeasured), and no
 * one but root and the caller's euid may be able to write it (owner root or
 * euid, no group/other write bit), so the bytes that are measured are the
 * bytes that run. On success *fd is open O_RDONLY|O_CLOEXEC and the path
 * used is copied into resolved (cap bytes; may be NULL). WARD_E_NOTFOUND,
 * WARD_E_DENIED (checks), WARD_E_IO.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_open_program(const char *program, const char *path_env,
                                                        char *resolved, size_t cap, int *fd);

/* Hooks for ward_attest_measure_process; every member may be NULL. */
struct ward_attest_proc_ops {
	/* Hashes a regular file (default ward_attest_measure_fd); the LAS caches here. */
	int (*hash)(void *ctx, int fd, uint8_t out[32]);
	/* Called once /proc/PID/exe and /proc/PID/maps are open: 0 if pid is still the process
	 * meant (the LAS checks its peer's pidfd), else a negative ward_err. */
	int (*still_same)(void *ctx);
	void *ctx;
};

/*
 * The launcher measurement of process pid (0 = the calling process), what
 * the LAS puts in evidence. E = SHA-256 of /proc/PID/exe. Every executable
 * file mapping of the process (from /proc/PID/maps, resolved under
 * /proc/PID/root) is examined: a ward module (a "*.so" under a ".../lib/ward/"
 * directory) is hashed; any other file must be owned by root or by the
 * caller's euid and not be group/other-writable (platform libraries), else
 * WARD_E_DENIED (e.g. a user's LD_PRELOAD library). The measurement is E when
 * no module is mapped, else SHA-256("ward-launcher-v1" NUL || E || the module
 * hashes in ascending byte order), so it names the code that runs `ward run`
 * whichever directory the files were installed in. A mapped file that was
 * deleted or replaced since it was mapped is refused (WARD_E_DENIED).
 */
WARD_EXPORT WARD_NODISCARD int
ward_attest_measure_process(int pid, const struct ward_attest_proc_ops *ops, uint8_t out[32]);

/*
 * What tells one exec of a process from the next: the randomised start of
 * its code and of its stack (/proc/PID/stat). An execve, even of the same
 * file, maps a new layout and none can bring an old one back, so two equal
 * images read at two instants mean the process ran one program image
 * throughout (up to the randomisation's ~2^-50 chance). A process without address-space
 * randomisation (personality ADDR_NO_RANDOMIZE) is refused, WARD_E_DENIED,
 * as is one whose layout the caller may not read.
 */
struct ward_attest_image {
	uint64_t start_code, start_stack;
};
WARD_EXPORT WARD_NODISCARD int ward_attest_image_read(int pid, struct ward_attest_image *out);
/*
 * 0 if process pid still runs the image was read from (one read of
 * /proc/PID/stat, the cheap check to repeat), else WARD_E_DENIED.
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_image_check(int pid,
                                                       const struct ward_attest_image *was);
/* 1 if a and b are the same image. */
WARD_EXPORT int ward_attest_image_same(const struct ward_attest_image *a,
                                       const struct ward_attest_image *b);
/* The pid a pidfd (e.g. received over SCM_RIGHTS) refers to, or a negative error. */
WARD_EXPORT WARD_NODISCARD int ward_attest_pidfd_pid(int fd);

/* 64 lower-case hex digits and a NUL. */
WARD_EXPORT void ward_attest_hex(const uint8_t in[32], char out[65]);

/* Exactly 64 hex digits (either case) -> 32 bytes; WARD_E_FORMAT otherwise. */
WARD_EXPORT WARD_NODISCARD int ward_attest_unhex(const char *hex, uint8_t out[32]);

/* ---- LAS client (`ward run`) ------------------------------------------------ */

/*
 * The LAS socket path: WARD_LAS_ADDR if set, else $XDG_RUNTIME_DIR/ward/las.sock
 * for a non-root user with XDG_RUNTIME_DIR set, else /run/ward/las.sock.
 * Static storage or the environment; do not free.
 */
WARD_EXPORT const char *ward_attest_las_default_path(void);

/* One evidence request as the LAS reads it. */
struct ward_attest_las_req {
	uint8_t challenge[32]; /* the LAS's, echoed: the request was written after it */
	uint8_t nonce[32];
	uint8_t report_data[32];
	int want_workload;
};

/*
 * The LAS side of the protocol (docs/attestation.md): parses one request
 * line (a trailing newline is allowed), exactly
 * {"challenge":HEX64,"nonce":HEX64,"report_data":HEX64[,"workload":BOOL]}
 * in any order with no other field, nesting or trailing bytes. want_workload
 * is 0 if the field is absent. WARD_E_FORMAT with a message for the client
 * otherwise (and *req zeroed).
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_las_parse_request(const char *buf, size_t len,
                                                             struct ward_attest_las_req *req);

/*
 * Asks the LAS at socket_path for evidence binding nonce and report_data.
 * If workload_fd >= 0 it is passed with SCM_RIGHTS and the LAS measures it
 * too (the stronger variant). On success *ev (malloc'ed, free()) holds the
 * evidence and *len its size. The reply is parsed (not verified) and must
 * echo nonce and report_data. Errors: WARD_E_IO (connect/send/recv), WARD_E_FORMAT
 * (bad reply), WARD_E_DENIED (the LAS refused; its message is in the error).
 */
WARD_EXPORT WARD_NODISCARD int ward_attest_las_request(const char *socket_path,
                                                       const uint8_t nonce[32],
                                                       const uint8_t report_data[32],
                                                       int workload_fd, uint8_t **ev, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
