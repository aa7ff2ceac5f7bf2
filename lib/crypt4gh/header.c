/* The Crypt4GH header: reading, decrypting and validating packets; writing a new header. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypt4gh/c4gh_internal.h"

/* Where header bytes come from: a descriptor (read exactly, never past) or a buffer. */
struct hsrc {
	int fd;
	const uint8_t *buf;
	size_t len, pos;
};

static int hsrc_read(struct hsrc *s, uint8_t *dst, size_t n, const char *what)
{
	if (s->buf) {
		if (s->len - s->pos < n)
			return ward_error(WARD_E_TRUNCATED, "header is truncated (in %s)", what);
		memcpy(dst, s->buf + s->pos, n);
		s->pos += n;
		return 0;
	}
	ssize_t r = ward_read_full(s->fd, dst, n);
	if (r < 0)
		return ward_error_errno("cannot read the header");
	if ((size_t)r < n)
		return ward_error(WARD_E_TRUNCATED, "header is truncated (in %s)", what);
	s->pos += n;
	return 0;
}

static int add_key(struct c4gh_header *h, const uint8_t key[32])
{
	for (size_t i = 0; i < h->nkeys; i++)
		if (sodium_memcmp(h->keys[i], key, 32) == 0)
			return 0;
	uint8_t(*keys)[32] = sodium_malloc((h->nkeys + 1) * 32);
	if (!keys)
		return ward_error(WARD_E_NOMEM, "out of memory for data keys");
	if (h->nkeys)
		memcpy(keys, h->keys, h->nkeys * 32);
	memcpy(keys[h->nkeys], key, 32);
	if (h->keys)
		sodium_free(h->keys);
	h->keys = keys;
	h->nkeys++;
	return 0;
}

/* Interprets one decrypted payload (spec §3.2.3-3.2.4). */
static int take_payload(struct c4gh_header *h, const uint8_t *p, uint32_t len, uint32_t index)
{
	if (len < 4)
		return ward_error(WARD_E_FORMAT, "corrupt header: packet %u is too short", index);
	uint32_t type = ward_load32_le(p);
	if (type == C4GH_TYPE_DATA_ENC) {
		if (len < 8 + 32)
			return ward_error(WARD_E_FORMAT,
			                  "corrupt header: data key packet %u is too short", index);
		uint32_t method = ward_load32_le(p + 4);
		if (method != C4GH_DATA_CHACHA20)
			return ward_error(WARD_E_UNSUPPORTED,
			                  "unsupported data encryption method %u in packet %u",
			                  method, index);
		return add_key(h, p + 8); /* exactly 32 bytes: padding after them is ignored */
	}
	if (type == C4GH_TYPE_EDIT_LIST) {
		if (h->has_edit)
			return ward_error(WARD_E_FORMAT, "corrupt header: more than one edit list");
		if (len < 8)
			return ward_error(WARD_E_FORMAT,
			                  "corrupt header: edit list %u is too short", index);
		uint32_t n = ward_load32_le(p + 4);
		if ((uint64_t)n * 8 > len - 8)
			return ward_error(
			    WARD_E_FORMAT,
			    "corrupt header: edit list of %u lengths does not fit its packet", n);
		h->has_edit = 1;
		h->nedit = n;
		if (n) {
			h->edit = malloc((size_t)n * sizeof *h->edit);
			if (!h->edit)
				return ward_error(WARD_E_NOMEM, "out of memory for the edit list");
			for (uint32_t i = 0; i < n; i++)
				h->edit[i] = ward_load64_le(p + 8 + 8 * (size_t)i);
		}
		return 0;
	}
	return ward_error(WARD_E_FORMAT, "unknown header packet type %u in packet %u", type, index);
}

static int keep_packet(struct c4gh_header *h, uint32_t i, uint8_t *raw, uint32_t len,
                       uint8_t *plain, uint32_t plen)
{
	h->raw[i] = raw;
	h->raw_len[i] = len;
	h->opened[i] = plain != NULL;
	h->plain[i] = plain;
	h->plain_len[i] = plain ? plen : 0;
	return 0;
}

/* Tries every key on one packet; returns the payload (sodium_malloc) or NULL. */
static uint8_t *open_packet(const uint8_t *pkt, uint32_t len, const struct ward_c4gh_read_opts *o)
{
	if (len < C4GH_PACKET_OVERHEAD)
		return NULL;
	uint8_t *plain = sodium_malloc(len - C4GH_PACKET_OVERHEAD + 1);
	if (!plain)
		return NULL;
	for (size_t k = 0; k < o->nkeys; k++)
		if (c4gh_packet_open(pkt, len, o->keys[k], o->sender_pk, plain) == 0)
			return plain;
	sodium_free(plain);
	return NULL;
}

static int alloc_raw(struct c4gh_header *h, uint32_t n)
{
	h->raw = calloc(n, sizeof *h->raw);
	h->raw_len = calloc(n, sizeof *h->raw_len);
	h->opened = calloc(n, 1);
	h->plain = calloc(n, sizeof *h->plain);
	h->plain_len = calloc(n, sizeof *h->plain_len);
	if (!h->raw || !h->raw_len || !h->opened || !h->plain || !h->plain_len)
		return ward_error(WARD_E_NOMEM, "out of memory");
	return 0;
}

static int read_preamble(struct hsrc *s, struct c4gh_header *h)
{
	uint8_t pre[C4GH_PREAMBLE];
	int rc = hsrc_read(s, pre, 8, "magic");
	if (rc == WARD_E_TRUNCATED || (rc == 0 && memcmp(pre, C4GH_MAGIC, 8) != 0))
		return ward_error(WARD_E_NOTC4GH, "not a Crypt4GH file (no 'crypt4gh' magic)");
	if (rc == 0)
		rc = hsrc_read(s, pre + 8, 8, "preamble");
	if (rc)
		return rc;
	uint32_t version = ward_load32_le(pre + 8);
	if (version != C4GH_VERSION)
		return ward_error(WARD_E_UNSUPPORTED, "unsupported Crypt4GH version %u", version);
	h->npackets = ward_load32_le(pre + 12);
	if (h->npackets == 0)
		return ward_error(WARD_E_FORMAT, "corrupt header: zero header packets");
	if (h->npackets > C4GH_PACKETS_MAX)
		return ward_error(WARD_E_FORMAT, "corrupt header: %u header packets (limit %u)",
		                  h->npackets, C4GH_PACKETS_MAX);
	return 0;
}

static int read_packets(struct hsrc *s, const struct ward_c4gh_read_opts *o, int keep_raw,
                        struct c4gh_header *h, uint32_t *opened)
{
	for (uint32_t i = 0; i < h->npackets; i++) {
		uint8_t lenbuf[4];
		int rc = hsrc_read(s, lenbuf, 4, "packet length");
		if (rc)
			return rc;
		uint32_t len = ward_load32_le(lenbuf);
		if (len < 8 || len > C4GH_PACKET_MAX)
			return ward_error(WARD_E_FORMAT, "corrupt header: packet %u has length %u",
			                  i, len);
		uint8_t *pkt = malloc(len);
		if (!pkt)
			return ward_error(WARD_E_NOMEM, "out of memory");
		memcpy(pkt, lenbuf, 4);
		rc = hsrc_read(s, pkt + 4, len - 4, "packet");
		uint8_t *plain = rc ? NULL : open_packet(pkt, len, o);
		if (plain) {
			(*opened)++;
			rc = take_payload(h, plain, len - C4GH_PACKET_OVERHEAD, i);
		}
		if (keep_raw && rc == 0) {
			keep_packet(h, i, pkt, len, plain, len - C4GH_PACKET_OVERHEAD);
			continue;
		}
		if (plain)
			sodium_free(plain);
		free(pkt);
		if (rc)
			return rc;
	}
	return 0;
}

static int header_read(struct hsrc *s, const struct ward_c4gh_read_opts *o, int keep_raw,
                       struct c4gh_header *h)
{
	memset(h, 0, sizeof *h);
	if (!o || !o->keys || o->nkeys == 0)
		ward_misuse("c4gh header read without keys");
	uint32_t opened = 0;
	int rc = read_preamble(s, h);
	if (rc == 0 && keep_raw)
		rc = alloc_raw(h, h->npackets);
	if (rc == 0)
		rc = read_packets(s, o, keep_raw, h, &opened);
	if (rc == 0 && h->nkeys == 0) {
		if (opened == 0)
			rc = ward_error(WARD_E_NOKEY,
			                o->sender_pk
			                    ? "no header packet from the expected sender "
			                      "opens with this key (%u packets)"
			                    : "no header packet opens with this key: it was "
			                      "not encrypted for you (%u packets)",
			                h->npackets);
		else
			rc = ward_error(WARD_E_NOKEY, "the header holds no data key for this key");
	}
	h->header_len = s->pos;
	if (h->has_edit && h->nedit == 0)
		h->has_edit = 0; /* an empty edit list means the whole plaintext */
	if (rc)
		c4gh_header_clear(h);
	return rc;
}

int c4gh_header_read(int fd, const struct ward_c4gh_read_opts *opts, int keep_raw,
                     struct c4gh_header *h)
{
	struct hsrc s = {.fd = fd};
	return header_read(&s, opts, keep_raw, h);
}

int c4gh_header_parse(const uint8_t *buf, size_t len, const struct ward_c4gh_read_opts *opts,
                      int keep_raw, struct c4gh_header *h, size_t *used)
{
	struct hsrc s = {.fd = -1, .buf = buf, .len = len};
	int rc = header_read(&s, opts, keep_raw, h);
	if (used)
		*used = s.pos;
	return rc;
}

void c4gh_header_clear(struct c4gh_header *h)
{
	if (h->keys)
		sodium_free(h->keys);
	free(h->edit);
	if (h->raw)
		for (uint32_t i = 0; i < h->npackets; i++) {
			free(h->raw[i]);
			if (h->plain[i])
				sodium_free(h->plain[i]);
		}
	free(h->raw);
	free(h->raw_len);
	free(h->opened);
	free(h->plain);
	free(h->plain_len);
	memset(h, 0, sizeof *h);
}

size_t c4gh_dedup_keys(uint8_t (*keys)[32], size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < out && memcmp(keys[j], keys[i], 32) != 0)
			j++;
		if (j == out)
			memmove(keys[out++], keys[i], 32);
	}
	return out;
}

void c4gh_preamble(uint8_t pre[C4GH_PREAMBLE], uint32_t npackets)
{
	memcpy(pre, C4GH_MAGIC, 8);
	ward_store32_le(pre + 8, C4GH_VERSION);
	ward_store32_le(pre + 12, npackets);
}

int c4gh_header_write(int fd, const struct ward_c4gh_seckey *writer,
                      const uint8_t (*recipients)[32], size_t nrecipients,
                      const uint8_t *const *payloads, const uint32_t *payload_lens,
                      size_t npayloads, uint64_t *written)
{
	uint64_t total = C4GH_PREAMBLE;
	for (size_t p = 0; p < npayloads; p++)
		total += (uint64_t)nrecipients * (C4GH_PACKET_OVERHEAD + payload_lens[p]);
	if (nrecipients * npayloads > C4GH_PACKETS_MAX || total > (1u << 30))
		return ward_error(WARD_E_INVAL, "header would be too large");
	uint8_t *buf = malloc(total);
	if (!buf)
		return ward_error(WARD_E_NOMEM, "out of memory");
	c4gh_preamble(buf, (uint32_t)(nrecipients * npayloads));
	uint8_t *q = buf + C4GH_PREAMBLE;
	int rc = 0;
	for (size_t r = 0; r < nrecipients && rc == 0; r++)
		for (size_t p = 0; p < npayloads && rc == 0; p++) {
			rc = c4gh_packet_seal(q, payloads[p], payload_lens[p], writer,
			                      recipients[r]);
			q += C4GH_PACKET_OVERHEAD + payload_lens[p];
		}
	if (rc == 0 && ward_write_full(fd, buf, total) != 0)
		rc = ward_error_errno("cannot write the header");
	free(buf);
	if (rc == 0 && written)
		*written = total;
	return rc;
}
