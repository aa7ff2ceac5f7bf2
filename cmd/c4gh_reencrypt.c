/* crypt4gh reencrypt and rearrange: new header packets, data segments copied unchanged. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd/c4gh_common.h"

int c4gh_cli_reencrypt(const struct c4gh_cli *c)
{
	struct ward_c4gh_seckey *sk = NULL;
	uint8_t(*rcpt)[32] = NULL;
	struct ward_outfile *out = NULL;
	int in = -1, code;
	if ((code = c4gh_cli_load_recipients(c, &rcpt)) || (code = c4gh_cli_load_sk(c, 0, &sk)))
		goto done;
	if ((code = c4gh_cli_open_io(c, &in, &out, 0644)))
		goto done;
	const struct ward_c4gh_seckey *keys[1] = {sk};
	struct ward_c4gh_reencrypt_opts o = {
	    .keys = keys,
	    .nkeys = 1,
	    .writer = sk,
	    .recipients = (const uint8_t(*)[32])rcpt,
	    .nrecipients = c->nrcpt,
	    .trim = c->trim,
	    .header_only = c->header_only,
	};
	int rc = ward_c4gh_reencrypt(in, ward_outfile_fd(out), &o);
	code = rc ? c4gh_cli_fail(c, in, out, rc) : c4gh_cli_finish(c, in, out);
done:
	free(rcpt);
	ward_c4gh_seckey_free(sk);
	return code;
}

int c4gh_cli_rearrange(const struct c4gh_cli *c)
{
	struct ward_c4gh_seckey *sk = NULL;
	struct ward_outfile *out = NULL;
	int in = -1, code;
	if (!c->has_range) {
		fprintf(stderr, "crypt4gh: rearrange needs --range START-END\n");
		return WARD_EXIT_USAGE;
	}
	if ((code = c4gh_cli_load_sk(c, 0, &sk)))
		return code;
	if ((code = c4gh_cli_open_io(c, &in, &out, 0644))) {
		ward_c4gh_seckey_free(sk);
		return code;
	}
	const struct ward_c4gh_seckey *keys[1] = {sk};
	struct ward_c4gh_read_opts o = {.keys = keys, .nkeys = 1, .threads = c->threads};
	int rc = ward_c4gh_rearrange(in, ward_outfile_fd(out), &o, c->range_start, c->range_end);
	ward_c4gh_seckey_free(sk);
	return rc ? c4gh_cli_fail(c, in, out, rc) : c4gh_cli_finish(c, in, out);
}
