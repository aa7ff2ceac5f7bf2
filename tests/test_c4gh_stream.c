/* Crypt4GH round trips: sizes, threads, recipients, edit lists, ranges, reencrypt and rearrange. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c4gh_testutil.h"
#include "test.h"
#include "ward/crypt4gh.h"

static struct ward_c4gh_seckey *alice, *bob, *carol;
static uint8_t alice_pk[32], bob_pk[32], carol_pk[32];

static int same(const struct tbuf *b, const uint8_t *p, size_t n)
{
	return b->n == n && (n == 0 || memcmp(b->p, p, n) == 0);
}

/* Number of segments and their nonces: no nonce may repeat within a file. */
static int nonces_unique(const struct tbuf *c, uint64_t header_len)
{
	size_t nseg = (c->n - header_len + WARD_C4GH_CIPHER_SEGMENT - 1) / WARD_C4GH_CIPHER_SEGMENT;
	for (size_t i = 0; i < nseg; i++)
		for (size_t j = i + 1; j < nseg; j++)
			if (!memcmp(c->p + header_len + i * WARD_C4GH_CIPHER_SEGMENT,
			            c->p + header_len + j * WARD_C4GH_CIPHER_SEGMENT, 12))
				return 0;
	return 1;
}

static void sizes(void)
{
	const size_t sz[] = {0, 1, 65535, 65536, 65537, 131072, 3 * 65536 + 17, 5u << 20};
	const unsigned threads[] = {1, 2, 3};
	for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
		uint8_t *plain = malloc(sz[i] + 1);
		test_fill(plain, sz[i], (uint32_t)i + 1);
		for (size_t t = 0; t < 3; t++) {
			size_t chunk = t == 0 ? 0 : t == 1 ? 1000 : 70000;
			struct tbuf c, p;
			int rc = tu_encrypt(plain, sz[i], bob, (const uint8_t(*)[32])alice_pk, 1,
			                    NULL, 0, threads[t], chunk, &c);
			CHECK_RC(rc, 0, "encrypt %zu bytes, %u threads, chunk %zu", sz[i],
			         threads[t], chunk);
			size_t nseg = (sz[i] + 65535) / 65536;
			CHECK(c.n == 124 + sz[i] + 28 * nseg,
			      "%zu bytes -> %zu-byte file (%zu segments, no empty last one)", sz[i],
			      c.n, nseg);
			CHECK(nonces_unique(&c, 124), "%zu bytes: every segment nonce is distinct",
			      sz[i]);
			rc = tu_decrypt(&c, alice, bob_pk, (int)(t == 2), threads[t], 0, UINT64_MAX,
			                &p);
			CHECK(rc == 0 && same(&p, plain, sz[i]),
			      "decrypt %zu bytes (%s, %u threads)", sz[i], t == 2 ? "pipe" : "file",
			      threads[t]);
			tu_free(&c);
			tu_free(&p);
		}
		free(plain);
	}
}

/*
 * write_fd from a file whose offset is not page-aligned (the mapping starts
 * below it), after bytes given with write (the file path is then skipped
 * for the first call), and twice on the same writer.
 */
static void write_fd_offsets(void)
{
	const size_t pre = 4097, n = (3u << 20) + 12345;
	uint8_t *file = malloc(pre + n);
	test_fill(file, pre + n, 77);
	const char *path = tu_write_tmp("offsets.in", file, pre + n);
	const struct {
		size_t head;  /* bytes given with write before write_fd */
		size_t split; /* if nonzero: write_fd, then write_fd again from here */
		unsigned threads;
	} cases[] = {{0, 0, 1}, {0, 0, 2}, {1000, 0, 2}, {65536, 0, 1}, {0, 70000, 2}};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int in = open(path, O_RDONLY);
		FILE *tmp = tmpfile();
		int fd = fileno(tmp);
		struct ward_c4gh_write_opts o = {.recipients = (const uint8_t(*)[32])alice_pk,
		                                 .nrecipients = 1,
		                                 .threads = cases[k].threads};
		struct ward_c4gh_writer *w = NULL;
		int rc = ward_c4gh_writer_open(fd, &o, &w);
		if (!rc && cases[k].head)
			rc = ward_c4gh_writer_write(w, file + pre, cases[k].head);
		lseek(in, (off_t)(pre + cases[k].head), SEEK_SET);
		if (!rc && cases[k].split) {
			/* A file that ends at split, then grows to its full size. */
			int part = open(tu_write_tmp("offsets.part", file, pre + cases[k].split),
			                O_RDONLY);
			lseek(part, (off_t)pre, SEEK_SET);
			rc = ward_c4gh_writer_write_fd(w, part);
			close(part);
			lseek(in, (off_t)(pre + cases[k].split), SEEK_SET);
		}
		if (!rc)
			rc = ward_c4gh_writer_write_fd(w, in);
		rc = rc ? (ward_c4gh_writer_abort(w), rc) : ward_c4gh_writer_close(w);
		struct tbuf c = {0}, p = {0};
		off_t len = lseek(fd, 0, SEEK_END);
		c.p = malloc((size_t)len + 1);
		c.n = (size_t)pread(fd, c.p, (size_t)len, 0);
		int ok = rc == 0 && tu_decrypt(&c, alice, NULL, 0, 2, 0, UINT64_MAX, &p) == 0 &&
		         same(&p, file + pre, n);
		CHECK(ok,
		      "write_fd at offset %zu (+%zu by write, split %zu, %u threads): round trip",
		      pre + cases[k].head, cases[k].head, cases[k].split, cases[k].threads);
		tu_free(&c);
		tu_free(&p);
		close(in);
		fclose(tmp);
	}
	free(file);
}

static void recipients(void)
{
	uint8_t pks[4][32];
	memcpy(pks[0], alice_pk, 32);
	memcpy(pks[1], bob_pk, 32);
	memcpy(pks[2], carol_pk, 32);
	memcpy(pks[3], alice_pk, 32); /* a duplicate is written once */
	uint8_t plain[70000];
	test_fill(plain, sizeof plain, 7);
	struct tbuf c, p;
	CHECK_RC(
	    tu_encrypt(plain, sizeof plain, NULL, (const uint8_t(*)[32])pks, 4, NULL, 0, 2, 0, &c),
	    0, "encrypt for alice, bob, carol (+ duplicate alice)");
	CHECK(c.n == 16 + 3 * 108 + sizeof plain + 2 * 28, "three packets, duplicates removed");
	struct ward_c4gh_seckey *who[3] = {alice, bob, carol};
	for (int i = 0; i < 3; i++) {
		CHECK(tu_decrypt(&c, who[i], NULL, i == 1, 2, 0, UINT64_MAX, &p) == 0 &&
		          same(&p, plain, sizeof plain),
		      "recipient %d decrypts", i);
		tu_free(&p);
	}
	struct ward_c4gh_seckey *eve;
	CHECK_RC(ward_c4gh_seckey_generate(&eve), 0, "generate eve");
	CHECK_RC(tu_decrypt(&c, eve, NULL, 0, 2, 0, UINT64_MAX, &p), WARD_E_NOKEY,
	         "a non-recipient gets 'no packet for this key'");
	CHECK(p.n == 0, "and no plaintext");
	tu_free(&p);
	ward_c4gh_seckey_free(eve);
	tu_free(&c);
}

/* Edit lists of every shape, checked against the slicing oracle, with ranges on top. */
static void editlists(void)
{
	static const uint64_t shapes[][6] = {
	    {0},                    /* empty: whole plaintext */
	    {5},                    /* one skip: keep the rest */
	    {65535, 3, 65534, 2},   /* even */
	    {10, 5, 140000, 5},     /* a whole segment skipped */
	    {0, 100, 0, 100, 10},   /* zero skips, odd */
	    {1, 0, 2, 65536, 0, 7}, /* zero keeps */
	    {131072, 65536},        /* exactly one segment */
	    {1000000, 5},           /* past the end */
	    {100, 1000000},         /* keep past the end */
	    {3, 4, 5, 6, 70000, 9}, /* several in the first segment */
	};
	static const size_t lens[] = {0, 1, 4, 4, 5, 6, 2, 2, 2, 6};
	size_t n = 300000;
	uint8_t *plain = malloc(n);
	test_fill(plain, n, 99);
	for (size_t s = 0; s < sizeof lens / sizeof lens[0]; s++) {
		struct tbuf c, want, got;
		CHECK_RC(tu_encrypt(plain, n, bob, (const uint8_t(*)[32])alice_pk, 1, shapes[s],
		                    lens[s], 2, 0, &c),
		         0, "encrypt with edit list shape %zu", s);
		tu_apply_editlist(plain, n, shapes[s], lens[s], &want);
		for (int use_pipe = 0; use_pipe < 2; use_pipe++) {
			int rc = tu_decrypt(&c, alice, NULL, use_pipe, 2, 0, UINT64_MAX, &got);
			CHECK(rc == 0 && same(&got, want.p, want.n),
			      "edit list shape %zu on a %s: %zu bytes as the oracle", s,
			      use_pipe ? "pipe" : "file", want.n);
			tu_free(&got);
		}
		/* Ranges inside the edited stream. */
		for (uint64_t a = 0; a < want.n + 3; a += want.n / 7 + 1) {
			uint64_t b = a + 70000;
			int rc = tu_decrypt(&c, alice, NULL, (int)(a & 1), 1, a, b, &got);
			size_t lo = a < want.n ? (size_t)a : want.n;
			size_t hi = b < want.n ? (size_t)b : want.n;
			CHECK(rc == 0 && same(&got, want.p + lo, hi - lo),
			      "edit list shape %zu, range [%llu, %llu)", s, (unsigned long long)a,
			      (unsigned long long)b);
			tu_free(&got);
		}
		tu_free(&want);
		tu_free(&c);
	}
	free(plain);
}

/* Ranges at many offsets against slicing, on files and pipes, with 1 and 2 threads. */
static void ranges(void)
{
	size_t n = 4 * 65536 + 1234;
	uint8_t *plain = malloc(n);
	test_fill(plain, n, 5);
	struct tbuf c;
	CHECK_RC(tu_encrypt(plain, n, bob, (const uint8_t(*)[32])alice_pk, 1, NULL, 0, 2, 0, &c), 0,
	         "encrypt for ranges");
	const uint64_t pts[] = {0,      1,      65535,  65536, 65537, 131071,
	                        131072, 200000, 262144, n - 1, n,     n + 10};
	int bad = 0, total = 0;
	for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
		for (size_t j = 0; j < sizeof pts / sizeof pts[0]; j++) {
			if (pts[j] <= pts[i])
				continue;
			for (int mode = 0; mode < 4; mode++) {
				struct tbuf got;
				int rc = tu_decrypt(&c, alice, NULL, mode & 1, 1 + (mode >> 1),
				                    pts[i], pts[j], &got);
				size_t lo = pts[i] < n ? pts[i] : n, hi = pts[j] < n ? pts[j] : n;
				total++;
				if (rc != 0 || !same(&got, plain + lo, hi - lo)) {
					bad++;
					printf("  range [%llu, %llu) mode %d wrong\n",
					       (unsigned long long)pts[i],
					       (unsigned long long)pts[j], mode);
				}
				tu_free(&got);
			}
		}
	CHECK(bad == 0, "%d ranges (files and pipes, 1 and 2 threads) equal the slices", total);
	tu_free(&c);
	free(plain);
}

static int fd_of(const struct tbuf *b, const char *name)
{
	return open(tu_write_tmp(name, b->p, b->n), O_RDONLY);
}

static int fd_out(const char *name)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
	return open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
}

static void slurp(int fd, struct tbuf *b)
{
	off_t n = lseek(fd, 0, SEEK_END);
	b->p = malloc((size_t)n + 1);
	b->n = (size_t)pread(fd, b->p, (size_t)n, 0);
	close(fd);
}

/* encrypt for bob -> rearrange (bob) -> reencrypt for alice (+carol, trim) -> decrypt. */
static void chains(void)
{
	size_t n = 262144;
	uint8_t *plain = malloc(n);
	test_fill(plain, n, 11);
	struct tbuf c, r, re, got;
	CHECK_RC(tu_encrypt(plain, n, alice, (const uint8_t(*)[32])bob_pk, 1, NULL, 0, 2, 0, &c), 0,
	         "encrypt for bob");
	const uint64_t rng[][2] = {{65535, 131073}, {0, 10}, {70000, UINT64_MAX}, {131072, 196608}};
	for (size_t i = 0; i < 4; i++) {
		const struct ward_c4gh_seckey *keys[1] = {bob};
		struct ward_c4gh_read_opts ro = {.keys = keys, .nkeys = 1, .threads = 1};
		int in = fd_of(&c, "chain.in"), out = fd_out("chain.rearranged");
		CHECK_RC(ward_c4gh_rearrange(in, out, &ro, rng[i][0], rng[i][1]), 0,
		         "rearrange [%llu, %llu)", (unsigned long long)rng[i][0],
		         (unsigned long long)rng[i][1]);
		close(in);
		slurp(out, &r);
		size_t hi = rng[i][1] < n ? (size_t)rng[i][1] : n, lo = (size_t)rng[i][0];
		size_t segs = (hi - 1) / 65536 - lo / 65536 + 1;
		CHECK(r.n < c.n || segs == 4, "rearranged file keeps only %zu segments", segs);
		uint8_t pks[2][32];
		memcpy(pks[0], alice_pk, 32);
		memcpy(pks[1], carol_pk, 32);
		struct ward_c4gh_reencrypt_opts eo = {.keys = keys,
		                                      .nkeys = 1,
		                                      .writer = bob,
		                                      .recipients = (const uint8_t(*)[32])pks,
		                                      .nrecipients = 2,
		                                      .trim = 1};
		in = fd_of(&r, "chain.r");
		out = fd_out("chain.re");
		CHECK_RC(ward_c4gh_reencrypt(in, out, &eo), 0, "reencrypt for alice and carol");
		close(in);
		slurp(out, &re);
		CHECK(tu_decrypt(&re, alice, bob_pk, 0, 2, 0, UINT64_MAX, &got) == 0 &&
		          same(&got, plain + lo, hi - lo),
		      "alice reads exactly the range after rearrange + reencrypt");
		tu_free(&got);
		CHECK(tu_decrypt(&re, carol, NULL, 1, 2, 0, UINT64_MAX, &got) == 0 &&
		          same(&got, plain + lo, hi - lo),
		      "carol too, from a pipe");
		tu_free(&got);
		CHECK_RC(tu_decrypt(&re, bob, NULL, 0, 1, 0, UINT64_MAX, &got), WARD_E_NOKEY,
		         "bob's packets were trimmed");
		tu_free(&got);
		tu_free(&r);
		tu_free(&re);
	}
	tu_free(&c);
	free(plain);
}

/* reencrypt replaces the packets it opens; it keeps the others unless trim. */
static void keep_untrimmed(void)
{
	uint8_t plain[1000], pks[2][32];
	test_fill(plain, sizeof plain, 3);
	memcpy(pks[0], bob_pk, 32);
	memcpy(pks[1], carol_pk, 32);
	struct tbuf c, re, got;
	CHECK_RC(
	    tu_encrypt(plain, sizeof plain, NULL, (const uint8_t(*)[32])pks, 2, NULL, 0, 1, 0, &c),
	    0, "encrypt for bob and carol");
	for (int trim = 0; trim < 2; trim++) {
		const struct ward_c4gh_seckey *keys[1] = {bob};
		struct ward_c4gh_reencrypt_opts eo = {.keys = keys,
		                                      .nkeys = 1,
		                                      .recipients = (const uint8_t(*)[32])alice_pk,
		                                      .nrecipients = 1,
		                                      .trim = trim};
		int in = fd_of(&c, "keep.in"), out = fd_out("keep.out");
		CHECK_RC(ward_c4gh_reencrypt(in, out, &eo), 0, "bob reencrypts for alice (trim %d)",
		         trim);
		close(in);
		slurp(out, &re);
		CHECK(tu_decrypt(&re, alice, NULL, 0, 1, 0, UINT64_MAX, &got) == 0 &&
		          same(&got, plain, sizeof plain),
		      "alice's new packet opens (trim %d)", trim);
		tu_free(&got);
		CHECK_RC(tu_decrypt(&re, bob, NULL, 0, 1, 0, UINT64_MAX, &got), WARD_E_NOKEY,
		         "bob's packet was replaced by alice's (trim %d)", trim);
		tu_free(&got);
		int rc = tu_decrypt(&re, carol, NULL, 0, 1, 0, UINT64_MAX, &got);
		if (trim)
			CHECK_RC(rc, WARD_E_NOKEY, "--trim drops carol's packet");
		else
			CHECK(rc == 0 && same(&got, plain, sizeof plain),
			      "without --trim carol's packet is kept");
		tu_free(&got);
		tu_free(&re);
	}
	tu_free(&c);
}

/* One reader, many seeks back and forth (as htslib does), with and without an edit list. */
static void seeks(void)
{
	size_t n = 9 * 65536 + 777;
	uint8_t *plain = malloc(n), *buf = malloc(200000);
	test_fill(plain, n, 21);
	const uint64_t edit[] = {1000, 70000, 5, 200000, 65536, 3};
	for (int with_edit = 0; with_edit < 2; with_edit++) {
		struct tbuf c, want;
		CHECK_RC(tu_encrypt(plain, n, bob, (const uint8_t(*)[32])alice_pk, 1,
		                    with_edit ? edit : NULL, with_edit ? 6 : 0, 2, 0, &c),
		         0, "encrypt for seeking (edit list %d)", with_edit);
		tu_apply_editlist(plain, n, with_edit ? edit : NULL, with_edit ? 6 : 0, &want);
		int fd = open(tu_write_tmp("seek.c4gh", c.p, c.n), O_RDONLY);
		const struct ward_c4gh_seckey *keys[1] = {alice};
		struct ward_c4gh_read_opts o = {.keys = keys, .nkeys = 1, .threads = 2};
		struct ward_c4gh_reader *r;
		CHECK_RC(ward_c4gh_reader_open(fd, &o, &r), 0, "open for seeking");
		CHECK(ward_c4gh_reader_size(r) == (int64_t)want.n,
		      "size() is the edited length %zu", want.n);
		uint32_t x = 12345;
		int bad = 0;
		for (int i = 0; i < 400; i++) {
			x = x * 1103515245u + 12345u;
			uint64_t pos = (x >> 8) % (want.n + 100);
			size_t len = (size_t)((x >> 3) % (i % 3 == 0 ? 150000 : 5000));
			if (i % 5 == 1) /* short hops back and forth near the last position */
				pos = ward_c4gh_reader_tell(r) > 3000
				          ? ward_c4gh_reader_tell(r) - 3000
				          : 0;
			if (ward_c4gh_reader_seek(r, pos) != 0) {
				bad++;
				continue;
			}
			ssize_t got = ward_c4gh_reader_read(r, buf, len);
			size_t exp = pos >= want.n ? 0 : (want.n - pos < len ? want.n - pos : len);
			if (got != (ssize_t)exp ||
			    memcmp(buf, want.p + (pos < want.n ? pos : 0), exp))
				bad++;
		}
		CHECK(bad == 0, "400 random seeks and reads match the oracle (edit list %d)",
		      with_edit);
		ward_c4gh_reader_free(r);
		close(fd);
		tu_free(&c);
		tu_free(&want);
	}
	free(plain);
	free(buf);
}

int main(void)
{
	if (ward_c4gh_seckey_generate(&alice) || ward_c4gh_seckey_generate(&bob) ||
	    ward_c4gh_seckey_generate(&carol))
		return 1;
	ward_c4gh_seckey_public(alice, alice_pk);
	ward_c4gh_seckey_public(bob, bob_pk);
	ward_c4gh_seckey_public(carol, carol_pk);
	sizes();
	write_fd_offsets();
	recipients();
	editlists();
	ranges();
	chains();
	keep_untrimmed();
	seeks();
	ward_c4gh_seckey_free(alice);
	ward_c4gh_seckey_free(bob);
	ward_c4gh_seckey_free(carol);
	return test_done();
}
