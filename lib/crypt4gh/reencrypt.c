/* Header-level operations: re-encrypting a header for new readers, and rearranging to a range. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "crypt4gh/c4gh_internal.h"

static int write_packets(int out, uint8_t **pkts, const uint32_t *lens, size_t n)
{
	uint8_t pre[C4GH_PREAMBLE];
	c4gh_preamble(pre, (uint32_t)n);
	if (ward_write_full(out, pre, sizeof pre) != 0)
		return ward_error_errno("cannot write the header");
	for (size_t i = 0; i < n; i++)
		if (ward_write_full(out, pkts[i], lens[i]) != 0)
			return ward_error_errno("cannot write the header");
	return 0;
}

/* Builds the new packet list: opened payloads sealed per recipient, others kept unless trim. */
static int reseal(const struct c4gh_header *h, const struct ward_c4gh_reencrypt_opts *o,
                  const struct ward_c4gh_seckey *writer, const uint8_t (*rcpt)[32], size_t nr,
                  uint8_t ***pkts_out, uint32_t **lens_out, size_t *n_out)
{
	size_t cap = (size_t)h->npackets * (nr > 1 ? nr : 1);
	if (cap > C4GH_PACKETS_MAX)
		return ward_error(WARD_E_INVAL, "too many header packets");
	uint8_t **pkts = calloc(cap, sizeof *pkts);
	uint32_t *lens = calloc(cap, sizeof *lens);
	size_t n = 0;
	int rc = pkts && lens ? 0 : ward_error(WARD_E_NOMEM, "out of memory");
	for (uint32_t i = 0; i < h->npackets && rc == 0; i++) {
		if (!h->opened[i]) {
			if (o->trim)
				continue;
			lens[n] = h->raw_len[i];
			if (!(pkts[n] = malloc(lens[n])))
				rc = ward_error(WARD_E_NOMEM, "out of memory");
			else
				memcpy(pkts[n], h->raw[i], lens[n]);
			n++;
			continue;
		}
		for (size_t r = 0; r < nr && rc == 0; r++) {
			lens[n] = (uint32_t)(C4GH_PACKET_OVERHEAD + h->plain_len[i]);
			if (!(pkts[n] = malloc(lens[n])))
				rc = ward_error(WARD_E_NOMEM, "out of memory");
			else
				rc = c4gh_packet_seal(pkts[n], h->plain[i], h->plain_len[i], writer,
				                      rcpt[r]);
			n++;
		}
	}
	*pkts_out = pkts;
	*lens_out = lens;
	*n_out = n;
	return rc;
}

int ward_c4gh_reencrypt(int in_fd, int out_fd, const struct ward_c4gh_reencrypt_opts *o)
{
	struct ward_c4gh_read_opts ro = {.keys = o->keys, .nkeys = o->nkeys};
	struct c4gh_header h;
	struct ward_c4gh_seckey *eph = NULL;
	uint8_t **pkts = NULL, *buf = NULL;
	uint32_t *lens = NULL;
	size_t n = 0;
	if (!o->recipients || !o->nrecipients)
		return ward_error(WARD_E_INVAL, "no recipient public key given");
	int rc = c4gh_header_read(in_fd, &ro, 1, &h);
	if (rc)
		return rc;
	uint8_t(*rcpt)[32] = malloc(o->nrecipients * 32);
	if (!rcpt) {
		rc = ward_error(WARD_E_NOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(rcpt, o->recipients, o->nrecipients * 32);
	size_t nr = c4gh_dedup_keys(rcpt, o->nrecipients);
	const struct ward_c4gh_seckey *writer = o->writer;
	if (!writer && (rc = ward_c4gh_seckey_generate(&eph)) == 0)
		writer = eph;
	if (rc == 0)
		rc = reseal(&h, o, writer, (const uint8_t(*)[32])rcpt, nr, &pkts, &lens, &n);
	if (rc == 0)
		rc = write_packets(out_fd, pkts, lens, n);
	if (rc == 0 && !o->header_only) {
		buf = malloc(C4GH_COPY_BUF);
		rc = buf ? c4gh_copy_bytes(in_fd, out_fd, UINT64_MAX, buf)
		         : ward_error(WARD_E_NOMEM, "out of memory");
	}
cleanup:
	for (size_t i = 0; pkts && i < n; i++)
		free(pkts[i]);
	free(pkts);
	free(lens);
	free(rcpt);
	free(buf);
	ward_c4gh_seckey_free(eph);
	c4gh_header_clear(&h);
	return rc;
}
