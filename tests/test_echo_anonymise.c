/* Tests of lib/echo anonymisation: PNG writer/reader, pseudonym keys, ward_echo_anonymise, the
 * reference PNGs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "echo/echo_internal.h"
#include "tests/test.h"
#include "ward/echo.h"

static char *tmp_path(const char *name)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
	return p;
}

static void md5_hex(const uint8_t *buf, size_t n, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len;
	EVP_Digest(buf, n, md, &len, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Chunk types of a PNG file, concatenated ("IHDRIDATIEND"). */
static void png_chunks(const char *path, char *out, size_t size)
{
	size_t len;
	uint8_t *d = test_read_file(path, &len);
	out[0] = '\0';
	for (size_t pos = 8; pos + 12 <= len;) {
		uint32_t n =
		    (uint32_t)d[pos] << 24 | d[pos + 1] << 16 | d[pos + 2] << 8 | d[pos + 3];
		char type[5] = {(char)d[pos + 4], (char)d[pos + 5], (char)d[pos + 6],
		                (char)d[pos + 7], 0};
		/* Collapse runs of IDAT. */
		if (!(strcmp(type, "IDAT") == 0 && strlen(out) >= 4 &&
		      strcmp(out + strlen(out) - 4, "IDAT") == 0))
			strncat(out, type, size - strlen(out) - 1);
		pos += 12 + (size_t)n;
	}
	free(d);
}

static void test_png(void)
{
	int w = 7, h = 5;
	size_t stride = 3 * 7 + 4;
	uint8_t *px = malloc(stride * (size_t)h);
	test_fill(px, stride * (size_t)h, 42);
	const char *a = tmp_path("a.png"), *b = tmp_path("b.png");
	CHECK_RC(ward_echo_png_write(a, px, w, h, stride, 0), 0, "write PNG as stored");
	CHECK_RC(ward_echo_png_write(b, px, w, h, stride, 1), 0, "write PNG with R and B swapped");
	uint8_t *ra = NULL, *rb = NULL;
	int wa = 0, ha = 0, wb = 0, hb = 0;
	CHECK_RC(ward_echo_png_read(a, &ra, &wa, &ha), 0, "read back");
	CHECK_RC(ward_echo_png_read(b, &rb, &wb, &hb), 0, "read back (swapped)");
	int same = wa == w && ha == h && wb == w && hb == h, swapped = same;
	for (int y = 0; same && y < h; y++)
		for (int x = 0; x < w; x++) {
			const uint8_t *s = px + (size_t)y * stride + 3 * (size_t)x;
			const uint8_t *p = ra + 3 * ((size_t)y * (size_t)w + (size_t)x);
			const uint8_t *q = rb + 3 * ((size_t)y * (size_t)w + (size_t)x);
			same &= p[0] == s[0] && p[1] == s[1] && p[2] == s[2];
			swapped &= q[0] == s[2] && q[1] == s[1] && q[2] == s[0];
		}
	CHECK(same, "swap_rb 0: the bytes are the R,G,B samples");
	CHECK(swapped, "swap_rb 1: first and third byte swapped");
	char chunks[128];
	png_chunks(a, chunks, sizeof chunks);
	CHECK(strcmp(chunks, "IHDRIDATIEND") == 0, "only IHDR, IDAT, IEND: %s", chunks);
	size_t len;
	uint8_t *file = test_read_file(a, &len);
	CHECK(len > 33 && file[24] == 8 && file[25] == 2 && file[28] == 0,
	      "8-bit RGB, not interlaced");
	free(file);
	CHECK_RC(ward_echo_png_write(a, px, 0, h, stride, 0), WARD_E_INVAL, "zero width refused");
	CHECK_RC(ward_echo_png_write(a, px, w, h, 3, 0), WARD_E_INVAL, "short stride refused");
	CHECK_RC(ward_echo_png_write(tmp_path("no/such/dir.png"), px, w, h, stride, 0), WARD_E_IO,
	         "unwritable path: WARD_E_IO");
	uint8_t *r = NULL;
	int rw, rh;
	CHECK_RC(ward_echo_png_read(tmp_path("missing.png"), &r, &rw, &rh), WARD_E_IO,
	         "missing PNG: WARD_E_IO");
	const char *junk = tmp_path("junk.png");
	FILE *f = fopen(junk, "w");
	fputs("not a png", f);
	fclose(f);
	CHECK_RC(ward_echo_png_read(junk, &r, &rw, &rh), WARD_E_FORMAT, "junk: WARD_E_FORMAT");
	CHECK(r == NULL, "failed read leaves NULL");
	free(ra);
	free(rb);
	free(px);
}

static void test_keys(void)
{
	const char *kp = tmp_path("pseudonym.key");
	struct ward_echo_pseudonym_key *k = NULL, *k2 = NULL;
	CHECK_RC(ward_echo_pseudonym_key_generate(kp, &k), 0, "generate a key");
	struct stat st;
	CHECK(stat(kp, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 65,
	      "key file: mode 0600, 64 digits and a newline");
	CHECK_RC(ward_echo_pseudonym_key_generate(kp, &k2), WARD_E_EXISTS, "never overwrites");
	CHECK_RC(ward_echo_pseudonym_key_load(kp, &k2), 0, "load it back");

	/* Known answer: HMAC-SHA256 by OpenSSL over the same bytes with the same key. */
	size_t klen, vlen;
	uint8_t *ktext = test_read_file(kp, &klen);
	uint8_t key[32];
	for (int i = 0; i < 32; i++) {
		unsigned x;
		sscanf((const char *)ktext + 2 * i, "%2x", &x);
		key[i] = (uint8_t)x;
	}
	const char *video = tmp_path("content.bin");
	FILE *f = fopen(video, "wb");
	uint8_t *content = malloc(200000);
	test_fill(content, 200000, 9);
	fwrite(content, 1, 200000, f);
	fclose(f);
	uint8_t *data = test_read_file(video, &vlen);
	unsigned char mac[32];
	unsigned maclen = 32;
	HMAC(EVP_sha256(), key, 32, data, vlen, mac, &maclen);
	char want[65], got[65], got2[65];
	for (int i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02x", mac[i]);
	CHECK_RC(ward_echo_pseudonym(k, video, got), 0, "pseudonym of a file");
	CHECK(strcmp(got, want) == 0, "pseudonym = hex HMAC-SHA256(key, content)");
	CHECK_RC(ward_echo_pseudonym(k2, video, got2), 0, "pseudonym with the reloaded key");
	CHECK(strcmp(got, got2) == 0, "same key, same name");
	struct ward_echo_pseudonym_key *other;
	CHECK_RC(ward_echo_pseudonym_key_generate(tmp_path("other.key"), &other), 0, "second key");
	CHECK_RC(ward_echo_pseudonym(other, video, got2), 0, "pseudonym under the second key");
	CHECK(strcmp(got, got2) != 0, "another key, another name");
	CHECK_RC(ward_echo_pseudonym(k, tmp_path("nope"), got2), WARD_E_IO, "missing video");

	/* Malformed key files. */
	static const char *const bad[] = {
	    "",
	    "abcd\n",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *p = tmp_path("bad.key");
		f = fopen(p, "w");
		fputs(bad[i], f);
		fclose(f);
		struct ward_echo_pseudonym_key *kb = (void *)1;
		CHECK_RC(ward_echo_pseudonym_key_load(p, &kb), WARD_E_FORMAT, "bad key file %zu",
		         i);
		CHECK(kb == NULL, "bad key file %zu: no key", i);
	}
	const char *crlf = tmp_path("crlf.key");
	f = fopen(crlf, "w");
	fputs("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\r\n", f);
	fclose(f);
	struct ward_echo_pseudonym_key *kc;
	CHECK_RC(ward_echo_pseudonym_key_load(crlf, &kc), 0, "upper-case digits and CRLF accepted");
	ward_echo_pseudonym_key_free(kc);
	ward_echo_pseudonym_key_free(other);
	ward_echo_pseudonym_key_free(k);
	ward_echo_pseudonym_key_free(k2);
	ward_echo_pseudonym_key_free(NULL);
	free(ktext);
	free(data);
	free(content);
}

static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Compares out/<i>.png with the masked synthetic frame i, in true or swapped colours. */
static long compare_output(const char *out, const struct ward_echo_synth_opts *o, int original)
{
	size_t stride = 3 * (size_t)o->width;
	uint8_t *want = malloc(stride * (size_t)o->height);
	long wrong = 0;
	for (long i = 0; i < o->frames; i++) {
		ward_echo_synth_frame(o, i, want, stride);
		struct ward_echo_frame f = {o->width, o->height, stride, want};
		ward_echo_frame_mask_text(&f);
		char path[4200];
		snprintf(path, sizeof path, "%s/%ld.png", out, i);
		uint8_t *px;
		int w, h;
		if (ward_echo_png_read(path, &px, &w, &h) != 0 || w != o->width || h != o->height) {
			wrong++;
			continue;
		}
		for (size_t k = 0; k < stride * (size_t)h; k += 3) {
			const uint8_t *p = px + k, *s = want + k;
			wrong += original ? memcmp(p, s, 3) != 0
			                  : (p[0] != s[2] || p[1] != s[1] || p[2] != s[0]);
		}
		free(px);
	}
	free(want);
	return wrong;
}

static void test_anonymise(void)
{
	struct ward_echo_synth_opts o = {.width = 241,
	                                 .height = 321,
	                                 .frames = 5,
	                                 .doppler = 1,
	                                 .text = 1,
	                                 .seed = 5,
	                                 .codec = "ffv1",
	                                 .pix_fmt = "bgr0"};
	const char *video = tmp_path("doppler.mkv");
	CHECK_RC(ward_echo_synth(video, &o), 0, "synth a lossless Doppler video");
	const char *outroot = tmp_path("out");
	mkdir(outroot, 0755);
	const char *out = tmp_path("out/a");
	struct ward_echo_anonymise_result r;
	struct ward_echo_anonymise_opts opts = {.threads = 2};
	CHECK_RC(ward_echo_anonymise(video, out, &opts, &r), 0, "anonymise");
	CHECK(r.outcome == WARD_ECHO_WRITTEN && r.frames == 5 && r.opened, "5 frames written");
	CHECK(count_entries(out, "") == 5, "5 files in the output");
	CHECK(compare_output(out, &o, 0) == 0, "true colours, text region zero, rest intact");
	CHECK_RC(ward_echo_anonymise(video, out, &opts, &r), WARD_E_EXISTS, "refuses to overwrite");
	opts.replace = 1;
	opts.original_colours = 1;
	opts.threads = 1;
	CHECK_RC(ward_echo_anonymise(video, out, &opts, &r), 0, "replaces when asked");
	CHECK(compare_output(out, &o, 1) == 0, "original colours: the BGR bytes as RGB");
	CHECK(count_entries(outroot, ".") == 0, "no temporary directory left");

	/* In two steps: nothing visible until published; discard leaves nothing. */
	struct ward_echo_pending *pend = NULL;
	const char *out_b = tmp_path("out/two-step");
	CHECK_RC(ward_echo_anonymise_begin(video, out_b, NULL, &r, &pend), 0, "begin");
	CHECK(pend && r.outcome == WARD_ECHO_WRITTEN && access(out_b, F_OK) != 0 &&
	          count_entries(outroot, ".") == 1,
	      "begin: frames in a hidden temporary folder, output not there yet");
	ward_echo_anonymise_discard(pend);
	CHECK(access(out_b, F_OK) != 0 && count_entries(outroot, ".") == 0,
	      "discard: nothing left");
	CHECK_RC(ward_echo_anonymise_begin(video, out_b, NULL, &r, &pend), 0, "begin again");
	CHECK_RC(ward_echo_anonymise_publish(pend), 0, "publish");
	CHECK(count_entries(out_b, "") == 5 && count_entries(outroot, ".") == 0,
	      "publish: 5 frames in place");

	/* Text really was there, and gone after. */
	size_t stride = 3 * (size_t)o.width;
	uint8_t *src = malloc(stride * (size_t)o.height);
	ward_echo_synth_frame(&o, 0, src, stride);
	long white = 0;
	for (int y = 0; y < o.height / 6; y++)
		for (int x = 2 * o.width / 3 - 10; x < o.width; x++)
			white += src[(size_t)y * stride + 3 * (size_t)x] == 255;
	CHECK(white > 50, "the synthetic frame has burned-in text (%ld white pixels)", white);
	free(src);

	/* Not Doppler: nothing written. */
	o.doppler = 0;
	o.frames = 2;
	const char *plain = tmp_path("plain.mkv");
	CHECK_RC(ward_echo_synth(plain, &o), 0, "synth a grey video");
	const char *out2 = tmp_path("out/b");
	CHECK_RC(ward_echo_anonymise(plain, out2, NULL, &r), 0, "anonymise a grey video");
	CHECK(r.outcome == WARD_ECHO_NOT_DOPPLER && access(out2, F_OK) != 0,
	      "not Doppler: nothing written");
}

/* A damaged Doppler video: error, no output, no temporary directory. */
static void test_anonymise_damaged(void)
{
	const char *outroot = tmp_path("out");
	struct ward_echo_anonymise_result r;
	struct ward_echo_synth_opts d = {
	    .width = 240, .height = 320, .frames = 30, .doppler = 1, .text = 1, .faststart = 1};
	const char *good = tmp_path("long.mp4");
	CHECK_RC(ward_echo_synth(good, &d), 0, "synth a longer video");
	size_t len;
	uint8_t *data = test_read_file(good, &len);
	const char *cut = tmp_path("cut.mp4");
	FILE *f = fopen(cut, "wb");
	fwrite(data, 1, len * 8 / 10, f);
	fclose(f);
	const char *out3 = tmp_path("out/c");
	int rc = ward_echo_anonymise(cut, out3, NULL, &r);
	CHECK_RC(rc, WARD_E_TRUNCATED, "truncated Doppler video fails");
	CHECK(access(out3, F_OK) != 0 && count_entries(outroot, ".") == 0,
	      "truncated: no output, no temporary directory");
	free(data);
}

/* The reference: --compat PNG pixels of the shared sample videos. */
static void test_reference_pngs(void)
{
	const char *shared = getenv("WARD_SHARED");
	char dir[4096], manifest[4200];
	snprintf(dir, sizeof dir, "%s/data/echo", shared ? shared : "../shared");
	snprintf(manifest, sizeof manifest, "%s/reference/sample_videos_manifest.json", dir);
	if (access(manifest, R_OK) != 0) {
		test_skip("sample videos: %s not found (set WARD_SHARED)", manifest);
		return;
	}
	json_object *root = json_object_from_file(manifest);
	json_object *vids = root ? json_object_object_get(root, "videos") : NULL;
	for (size_t i = 0; vids && i < json_object_array_length(vids); i++) {
		json_object *vid = json_object_array_get_idx(vids, i);
		const char *name = json_object_get_string(json_object_object_get(vid, "video"));
		json_object *md5s = json_object_object_get(vid, "md5_anonymised_png_pixel_rows");
		char path[8300], out[4200];
		snprintf(path, sizeof path, "%s/videos/%s", dir, name);
		snprintf(out, sizeof out, "%s/ref%zu", test_tmpdir(), i);
		struct ward_echo_anonymise_opts opts = {.original_colours = 1};
		struct ward_echo_anonymise_result r;
		int rc = ward_echo_anonymise(path, out, &opts, &r);
		size_t n = json_object_array_length(md5s), same = 0;
		for (size_t k = 0; rc == 0 && k < n; k++) {
			char png[4300], hex[33];
			snprintf(png, sizeof png, "%s/%zu.png", out, k);
			uint8_t *px;
			int w, h;
			if (ward_echo_png_read(png, &px, &w, &h) != 0)
				continue;
			md5_hex(px, 3 * (size_t)w * (size_t)h, hex);
			same +=
			    strcmp(hex,
			           json_object_get_string(json_object_array_get_idx(md5s, k))) == 0;
			free(px);
		}
		CHECK(rc == 0 && r.frames == (long)n && same == n,
		      "%s: --compat PNG pixels match the original's (%zu of %zu)", name, same, n);
	}
	json_object_put(root);
}

int main(void)
{
	test_png();
	test_keys();
	test_anonymise();
	test_anonymise_damaged();
	test_reference_pngs();
	return test_done();
}
