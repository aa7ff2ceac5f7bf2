/* Private declarations shared by the files of lib/crypt4gh. */
#ifndef WARD_C4GH_INTERNAL_H
#define WARD_C4GH_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>
#include <stddef.h>

#include "core/core_internal.h"
#include "ward/crypt4gh.h"

#define C4GH_MAGIC    "crypt4gh"
#define C4GH_VERSION  1u
#define C4GH_PREAMBLE 16u
#define C4GH_NONCE    12u
#define C4GH_MAC      16u
#define C4GH_SEG      WARD_C4GH_SEGMENT
#define C4GH_CSEG     WARD_C4GH_CIPHER_SEGMENT

/* Header packet encryption methods and payload types (spec §3.2). */
#define C4GH_METHOD_X25519_CHACHA20 0u
#define C4GH_TYPE_DATA_ENC          0u
#define C4GH_TYPE_EDIT_LIST         1u
#define C4GH_DATA_CHACHA20          0u
/* u32 length + u32 method + writer pk + nonce ... + MAC */
#define C4GH_PACKET_OVERHEAD (4u + 4u + 32u + C4GH_NONCE + C4GH_MAC)
/* Bound on one header packet: 16 MiB holds an edit list of 2M entries. */
#define C4GH_PACKET_MAX  (16u << 20)
#define C4GH_PACKETS_MAX 65536u

struct ward_c4gh_seckey {
	uint8_t sk[32];
	uint8_t pk[32];
};

/* A decoded, decrypted header. Data keys live in sodium_malloc'ed memory. */
struct c4gh_header {
	uint32_t npackets;
	uint64_t header_len; /* bytes of preamble + packets */
	uint8_t (*keys)[32]; /* data keys, sodium_malloc */
	size_t nkeys;
	uint64_t *edit; /* edit list, NULL if none */
	size_t nedit;
	int has_edit;
	/* Raw packets, kept for reencrypt (NULL unless asked for). */
	uint8_t **raw;
	uint32_t *raw_len;
	uint8_t *opened; /* per raw packet: 1 if one of our keys opened it */
	uint8_t **plain; /* per opened packet: its decrypted payload */
	uint32_t *plain_len;
};

/*
 * Reads a header from fd (reading exactly its bytes), decrypting packets
 * with keys. keep_raw keeps raw and plaintext packets for reencrypt.
 */
int c4gh_header_read(int fd, const struct ward_c4gh_read_opts *opts, int keep_raw,
                     struct c4gh_header *h);

/* Same, on a buffer; *used gets the header length. For the fuzzer and tests. */
int c4gh_header_parse(const uint8_t *buf, size_t len, const struct ward_c4gh_read_opts *opts,
                      int keep_raw, struct c4gh_header *h, size_t *used);

void c4gh_header_clear(struct c4gh_header *h);

/*
 * Encrypts one header packet payload for recipient pk with writer key w
 * (whose public key is wpk). out must hold C4GH_PACKET_OVERHEAD + len bytes.
 */
int c4gh_packet_seal(uint8_t *out, const uint8_t *payload, size_t len,
                     const struct ward_c4gh_seckey *w, const uint8_t recipient_pk[32]);

/*
 * Tries to open one packet (starting with its length field) with key k;
 * returns 0 and the payload in out (len - overhead bytes), or -1 if the
 * packet is not for k.
 */
int c4gh_packet_open(const uint8_t *pkt, uint32_t len, const struct ward_c4gh_seckey *k,
                     const uint8_t *sender_pk, uint8_t *out);

/* Fills the 16-byte preamble: magic, version 1, packet count. */
void c4gh_preamble(uint8_t pre[C4GH_PREAMBLE], uint32_t npackets);

/* Writes a whole header: preamble + one packet per recipient per payload. */
int c4gh_header_write(int fd, const struct ward_c4gh_seckey *writer,
                      const uint8_t (*recipients)[32], size_t nrecipients,
                      const uint8_t *const *payloads, const uint32_t *payload_lens,
                      size_t npayloads, uint64_t *written);

/* Shared key: BLAKE2b-512(DH || reader_pk || writer_pk)[0..32]; -1 if DH is all zero. */
int c4gh_shared_key(uint8_t key[32], const uint8_t my_sk[32], const uint8_t peer_pk[32],
                    const uint8_t reader_pk[32], const uint8_t writer_pk[32]);

/* Segment AEAD with OpenSSL's ChaCha20-Poly1305 (one context per thread). */
struct c4gh_aead;
struct c4gh_aead *c4gh_aead_new(void);
void c4gh_aead_free(struct c4gh_aead *a);
/* In place: buf holds nonce(12) | plaintext (len) and gets the MAC after it. */
int c4gh_aead_seal(struct c4gh_aead *a, const uint8_t key[32], uint8_t *seg, size_t len);
/* In place: seg holds nonce | ct | mac (clen = whole chunk); plaintext at seg+12. */
int c4gh_aead_open(struct c4gh_aead *a, const uint8_t key[32], uint8_t *seg, size_t clen);
/* Out of place: pt (len bytes) sealed into seg = nonce (set by the caller) | ct | mac. */
int c4gh_aead_seal_to(struct c4gh_aead *a, const uint8_t key[32], const uint8_t *pt, size_t len,
                      uint8_t *seg);
/* Out of place: chunk seg (clen bytes) opened into pt; seg is left untouched. */
int c4gh_aead_open_to(struct c4gh_aead *a, const uint8_t key[32], const uint8_t *seg, size_t clen,
                      uint8_t *pt);

/* Deduplicates recipients in place; returns the new count. */
size_t c4gh_dedup_keys(uint8_t (*keys)[32], size_t n);

/* Number of worker threads for a request of n (0 = online CPUs), capped at 64. */
unsigned c4gh_thread_count(unsigned n);

/* Copies n bytes (UINT64_MAX: to EOF) through buf (C4GH_COPY_BUF bytes);
 * WARD_E_TRUNCATED (no message) if the input ends first. */
#define C4GH_COPY_BUF (1u << 20)
int c4gh_copy_bytes(int in, int out, uint64_t n, uint8_t *buf);

/* Maps an edit list into [start, len) keep extents; see editlist.c. */
struct c4gh_extent {
	uint64_t start, len;
};
int c4gh_editlist_extents(const uint64_t *edit, size_t n, struct c4gh_extent **out, size_t *nout);

/* ---- mapping.c: reading an input file through one long-lived mapping ---- */
#define C4GH_FOLIO_MAX ((size_t)2 << 20) /* the largest page-cache folio (a PMD) */

struct c4gh_map {
	uint8_t *base; /* page-aligned; NULL when nothing is mapped */
	size_t len;
	off_t start; /* file offset of base */
};
/* Maps [off, end) of fd read-only, huge-page friendly; the byte at off, or NULL. */
const uint8_t *c4gh_map_file(struct c4gh_map *m, int fd, off_t off, off_t end);
/* The byte at file offset off if [off, off + n) is mapped, else NULL. */
const uint8_t *c4gh_map_at(const struct c4gh_map *m, off_t off, size_t n);
/* 1 if p points into the mapping (and not, say, into a read buffer). */
int c4gh_map_holds(const struct c4gh_map *m, const uint8_t *p);
void c4gh_map_close(struct c4gh_map *m);
/* Faults in the pages under [p, p + n) at once; -1 if they cannot be read (file shrank). */
int c4gh_populate(const uint8_t *p, size_t n);
/*
 * Drops the pages under [p, p + n), widened by around bytes each way and
 * clipped to the mapping (the page cache keeps them).
 */
void c4gh_map_drop(const struct c4gh_map *m, const uint8_t *p, size_t n, size_t around);

#endif
