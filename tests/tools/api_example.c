/* Uses the installed libward through pkg-config: encrypt a buffer, decrypt it, compare. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ward/crypt4gh.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct ward_c4gh_seckey *sk;
	uint8_t pk[32];
	if (ward_c4gh_seckey_generate(&sk) != 0)
		return 1;
	ward_c4gh_seckey_public(sk, pk);
	FILE *f = fopen(argv[1], "w+b");
	if (!f)
		return 1;
	struct ward_c4gh_write_opts wo = {.recipients = (const uint8_t(*)[32])pk, .nrecipients = 1};
	struct ward_c4gh_writer *w;
	static char msg[200000];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (char)('a' + i % 26);
	if (ward_c4gh_writer_open(fileno(f), &wo, &w) ||
	    ward_c4gh_writer_write(w, msg, sizeof msg) || ward_c4gh_writer_close(w)) {
		fprintf(stderr, "encrypt: %s\n", ward_last_error());
		return 1;
	}
	lseek(fileno(f), 0, SEEK_SET);
	const struct ward_c4gh_seckey *keys[1] = {sk};
	struct ward_c4gh_read_opts ro = {.keys = keys, .nkeys = 1};
	struct ward_c4gh_reader *r;
	static char back[sizeof msg];
	if (ward_c4gh_reader_open(fileno(f), &ro, &r) ||
	    ward_c4gh_reader_read(r, back, sizeof back) != (ssize_t)sizeof back) {
		fprintf(stderr, "decrypt: %s\n", ward_last_error());
		return 1;
	}
	ward_c4gh_reader_free(r);
	ward_c4gh_seckey_free(sk);
	fclose(f);
	puts(memcmp(msg, back, sizeof msg) == 0 ? "round trip ok" : "MISMATCH");
	return memcmp(msg, back, sizeof msg) != 0;
}
