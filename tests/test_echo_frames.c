/* Tests of lib/echo frames: decoding, OpenCV HSV, the Doppler test, the text mask, the sample-video
 * manifest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

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

static void md5_hex(const struct ward_echo_frame *f, char hex[33])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len;
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	for (int y = 0; y < f->height; y++)
		EVP_DigestUpdate(c, f->bgr + (size_t)y * f->stride, 3 * (size_t)f->width);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* ---- HSV ---------------------------------------------------------------- */

/*
 * The README's definition, written independently of lib/echo/hsv.c: the
 * tables by exact integer rounding (half to even), then the formulas.
 */
static int div_round_even(long num, long den)
{
	long q = num / den, r = num % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	return (int)q;
}

static void ref_hsv(int b, int g, int r, int out[3])
{
	int v = b > g ? (b > r ? b : r) : (g > r ? g : r);
	int mn = b < g ? (b < r ? b : r) : (g < r ? g : r);
	int diff = v - mn;
	int sdiv = v ? div_round_even(255L << 12, v) : 0;
	int hdiv = diff ? div_round_even(180L << 12, 6L * diff) : 0;
	int s = (diff * sdiv + 2048) >> 12;
	int h = v == r ? g - b : v == g ? b - r + 2 * diff : r - g + 4 * diff;
	long t = (long)h * hdiv + 2048;
	h = (int)(t >= 0 ? t / 4096 : -((-t + 4095) / 4096));
	if (h < 0)
		h += 180;
	out[0] = h;
	out[1] = s;
	out[2] = v;
}

static void test_hsv(void)
{
	static const struct {
		uint8_t bgr[3], hsv[3];
	} known[] = {
	    {{200, 40, 20}, {117, 229, 200}}, /* the synthetic blue */
	    {{40, 20, 220}, {177, 232, 220}}, /* the synthetic red */
	    {{255, 0, 0}, {120, 255, 255}},   {{0, 255, 0}, {60, 255, 255}},
	    {{0, 0, 255}, {0, 255, 255}},     {{255, 0, 255}, {150, 255, 255}},
	    {{128, 128, 128}, {0, 0, 128}},   {{0, 0, 0}, {0, 0, 0}},
	    {{0, 0, 1}, {0, 255, 1}},         {{255, 255, 254}, {90, 1, 255}},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		uint8_t out[3];
		ward_echo_bgr2hsv(known[i].bgr, out, 1);
		CHECK(memcmp(out, known[i].hsv, 3) == 0, "HSV of BGR (%d,%d,%d) = (%d,%d,%d)",
		      known[i].bgr[0], known[i].bgr[1], known[i].bgr[2], out[0], out[1], out[2]);
	}
	/* Every colour against the independent transcription (rows of 4096 pixels). */
	uint8_t *row = malloc(3 * 4096), *hsv = malloc(3 * 4096);
	long bad = 0, hmax = 0;
	for (long base = 0; base < (1L << 24); base += 4096) {
		for (int i = 0; i < 4096; i++) {
			long c = base + i;
			row[3 * i] = (uint8_t)c;
			row[3 * i + 1] = (uint8_t)(c >> 8);
			row[3 * i + 2] = (uint8_t)(c >> 16);
		}
		ward_echo_bgr2hsv(row, hsv, 4096);
		for (int i = 0; i < 4096; i++) {
			int ref[3];
			ref_hsv(row[3 * i], row[3 * i + 1], row[3 * i + 2], ref);
			bad += hsv[3 * i] != ref[0] || hsv[3 * i + 1] != ref[1] ||
			       hsv[3 * i + 2] != ref[2];
			hmax = hsv[3 * i] > hmax ? hsv[3 * i] : hmax;
		}
	}
	CHECK(bad == 0, "BGR2HSV matches the specification on all 2^24 colours (%ld differ)", bad);
	CHECK(hmax == 179, "H stays below 180 (max %ld)", hmax);
	/* In place. */
	memcpy(row, known[0].bgr, 3);
	ward_echo_bgr2hsv(row, row, 1);
	CHECK(memcmp(row, known[0].hsv, 3) == 0, "BGR2HSV works in place");
	free(row);
	free(hsv);
}

/* ---- Doppler test and mask ------------------------------------------------ */

static struct ward_echo_frame new_frame(int w, int h, size_t pad)
{
	struct ward_echo_frame f = {w, h, 3 * (size_t)w + pad, NULL};
	f.bgr = calloc(f.stride * (size_t)h, 1);
	return f;
}

static void paint(struct ward_echo_frame *f, int count, const uint8_t bgr[3], int start)
{
	for (int k = start; k < start + count; k++) {
		int x = k % f->width, y = k / f->width;
		memcpy(f->bgr + (size_t)y * f->stride + 3 * (size_t)x, bgr, 3);
	}
}

static void test_doppler_threshold(void)
{
	static const uint8_t blue[3] = {200, 40, 20}, red[3] = {40, 20, 220};
	static const uint8_t dim_blue[3] = {49, 10, 5};      /* V 49: below the bound */
	static const uint8_t pale_blue[3] = {200, 180, 170}; /* S 38: below the bound */
	struct ward_echo_frame f = new_frame(240, 320, 24);
	unsigned nb = 7, nr = 7;
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 0, "black frame is not Doppler");
	CHECK(nb == 0 && nr == 0, "black frame: no blue, no red");
	paint(&f, 98, blue, 1000);
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 0, "98 blue pixels: not Doppler");
	CHECK(nb == 98 && nr == 0, "98 blue pixels counted (%u)", nb);
	paint(&f, 1, blue, 5000);
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 1, "99 blue pixels: Doppler");
	memset(f.bgr, 0, f.stride * 320);
	paint(&f, 98, red, 20000);
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 0, "98 red pixels: not Doppler");
	paint(&f, 1, red, 40000);
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 1, "99 red pixels: Doppler");
	CHECK(nb == 0 && nr == 99, "99 red pixels counted (%u)", nr);
	memset(f.bgr, 0, f.stride * 320);
	paint(&f, 5000, dim_blue, 0);
	paint(&f, 5000, pale_blue, 10000);
	CHECK_RC(ward_echo_video_is_doppler(&f, &nb, &nr), 0, "dark or pale blue is not Doppler");
	/* Wide frame: the row is converted in pieces. */
	struct ward_echo_frame wide = new_frame(3000, 2, 0);
	paint(&wide, 120, blue, 2950);
	CHECK_RC(ward_echo_video_is_doppler(&wide, &nb, NULL), 1, "3000-wide frame: Doppler");
	CHECK(nb == 120, "3000-wide frame: 120 blue pixels across a row break (%u)", nb);
	struct ward_echo_frame empty = {0, 0, 0, NULL};
	CHECK_RC(ward_echo_video_is_doppler(&empty, NULL, NULL), WARD_E_INVAL, "empty frame");
	free(f.bgr);
	free(wide.bgr);
}

/* Checks that the mask zeroes exactly rows < r and columns >= c. */
static void check_mask(int w, int h, int rows, int col)
{
	struct ward_echo_frame f = new_frame(w, h, 5);
	memset(f.bgr, 0x77, f.stride * (size_t)h);
	ward_echo_frame_mask_text(&f);
	long wrong = 0;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			const uint8_t *p = f.bgr + (size_t)y * f.stride + 3 * (size_t)x;
			int want = y < rows && x >= col ? 0 : 0x77;
			wrong += p[0] != want || p[1] != want || p[2] != want;
		}
		/* The padding after each row stays untouched. */
		for (size_t k = 3 * (size_t)w; k < f.stride; k++)
			wrong += f.bgr[(size_t)y * f.stride + k] != 0x77;
	}
	CHECK(wrong == 0, "mask %dx%d: rows 0..%d, columns %d..%d (%ld wrong)", w, h, rows - 1, col,
	      w - 1, wrong);
	free(f.bgr);
}

static void test_mask(void)
{
	check_mask(240, 320, 53, 150); /* the sample videos: 53 x 90 pixels */
	check_mask(241, 321, 53, 150); /* int(2*241/3) = 160 */
	check_mask(242, 323, 53, 151);
	check_mask(320, 240, 40, 203);
	check_mask(12, 12, 2, 0); /* int(2W/3) - 10 < 0: the whole rows */
	check_mask(5, 5, 0, 0);   /* int(H/6) = 0: nothing */
	check_mask(1, 6, 1, 0);
}

/* ---- decoding synthetic videos -------------------------------------------- */

static struct ward_echo_synth_opts synth(int w, int h, int frames, const char *codec,
                                         const char *pix_fmt)
{
	struct ward_echo_synth_opts o = {.width = w,
	                                 .height = h,
	                                 .frames = frames,
	                                 .doppler = 1,
	                                 .text = 1,
	                                 .seed = 7,
	                                 .codec = codec,
	                                 .pix_fmt = pix_fmt};
	return o;
}

/* Decodes a lossless synthetic video and compares every frame with its source. */
static void test_lossless(int w, int h, int frames)
{
	struct ward_echo_synth_opts o = synth(w, h, frames, "ffv1", "bgr0");
	char name[64];
	snprintf(name, sizeof name, "lossless_%dx%d_%d.mkv", w, h, frames);
	const char *path = tmp_path(name);
	int rc = ward_echo_synth(path, &o);
	CHECK_RC(rc, 0, "synth %s", name);
	if (rc)
		return;
	struct ward_echo_video *v;
	CHECK_RC(ward_echo_video_open(path, &v), 0, "open %s", name);
	if (!v)
		return;
	size_t stride = 3 * (size_t)w;
	uint8_t *want = malloc(stride * (size_t)h);
	struct ward_echo_frame f;
	long same = 0, n = 0;
	while ((rc = ward_echo_video_next(v, &f)) == 1) {
		ward_echo_synth_frame(&o, n, want, stride);
		int eq = f.width == w && f.height == h && f.stride >= stride;
		for (int y = 0; eq && y < h; y++)
			eq = memcmp(f.bgr + (size_t)y * f.stride, want + (size_t)y * stride,
			            stride) == 0;
		same += eq;
		n++;
	}
	CHECK_RC(rc, 0, "%s decodes to the end", name);
	CHECK(n == frames && ward_echo_video_frames(v) == frames, "%s: %ld of %d frames", name, n,
	      frames);
	CHECK(same == frames, "%s: every frame is the source, byte for byte (%ld)", name, same);
	CHECK_RC(ward_echo_video_next(v, &f), 0, "%s: end stays the end", name);
	ward_echo_video_close(v);
	free(want);
}

/* Lossy codecs: all frames come out, and the Doppler decision follows the content. */
static void test_lossy(const char *codec, const char *ext, int doppler, int w, int h)
{
	struct ward_echo_synth_opts o = synth(w, h, 12, codec, NULL);
	o.doppler = doppler;
	char name[96];
	snprintf(name, sizeof name, "lossy_%s_%d_%dx%d.%s", codec ? codec : "default", doppler, w,
	         h, ext);
	const char *path = tmp_path(name);
	int rc = ward_echo_synth(path, &o);
	if (rc == WARD_E_UNSUPPORTED) {
		test_skip("%s: encoder %s not available", name, codec ? codec : "default");
		return;
	}
	CHECK_RC(rc, 0, "synth %s", name);
	struct ward_echo_video *v;
	if (rc || ward_echo_video_open(path, &v) != 0) {
		CHECK(0, "open %s: %s", name, ward_last_error());
		return;
	}
	struct ward_echo_frame f;
	int d = -1;
	unsigned blue = 0, red = 0;
	long n = 0;
	while ((rc = ward_echo_video_next(v, &f)) == 1) {
		if (n++ == 0)
			d = ward_echo_video_is_doppler(&f, &blue, &red);
		if (f.width != w || f.height != h)
			break;
	}
	CHECK(rc == 0 && n == 12, "%s: 12 frames of %dx%d (%ld, rc %d)", name, w, h, n, rc);
	CHECK(d == doppler, "%s: Doppler %d (blue %u, red %u)", name, d, blue, red);
	ward_echo_video_close(v);
}

static void test_empty_and_single(void)
{
	struct ward_echo_synth_opts o = synth(240, 320, 0, "mpeg4", NULL);
	const char *zero = tmp_path("zero.avi");
	CHECK_RC(ward_echo_synth(zero, &o), 0, "synth a video without frames");
	struct ward_echo_video *v;
	struct ward_echo_frame f;
	if (ward_echo_video_open(zero, &v) == 0) {
		CHECK_RC(ward_echo_video_next(v, &f), 0, "0 frames: the end at once");
		CHECK(ward_echo_video_frames(v) == 0, "0 frames counted");
		ward_echo_video_close(v);
	} else {
		CHECK(0, "open a video without frames: %s", ward_last_error());
	}
	o = synth(240, 320, 1, NULL, NULL);
	const char *one = tmp_path("one.mp4");
	CHECK_RC(ward_echo_synth(one, &o), 0, "synth a one-frame video");
	if (ward_echo_video_open(one, &v) == 0) {
		CHECK_RC(ward_echo_video_next(v, &f), 1, "1 frame: a frame");
		CHECK_RC(ward_echo_video_next(v, &f), 0, "1 frame: then the end");
		ward_echo_video_close(v);
	} else {
		CHECK(0, "open a one-frame video: %s", ward_last_error());
	}
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* Decodes to the end; returns the final status and the frame count. */
static int decode_all(const char *path, long *frames)
{
	struct ward_echo_video *v;
	*frames = 0;
	int rc = ward_echo_video_open(path, &v);
	if (rc < 0)
		return rc;
	struct ward_echo_frame f;
	while ((rc = ward_echo_video_next(v, &f)) == 1)
		;
	*frames = ward_echo_video_frames(v);
	int again = ward_echo_video_next(v, &f);
	if (rc < 0 && again != rc)
		rc = WARD_E_INTERNAL; /* errors must be sticky */
	ward_echo_video_close(v);
	return rc;
}

static void test_damaged(void)
{
	struct ward_echo_synth_opts o = synth(240, 320, 10, NULL, NULL);
	o.faststart = 1;
	const char *good = tmp_path("good.mp4");
	if (ward_echo_synth(good, &o) != 0) {
		CHECK(0, "synth: %s", ward_last_error());
		return;
	}
	size_t len;
	uint8_t *data = test_read_file(good, &len);
	long n;
	CHECK_RC(decode_all(good, &n), 0, "intact video decodes");

	/* Index first, data cut: some frames, then "ends early". */
	const char *cut = tmp_path("cut.mp4");
	write_file(cut, data, len * 9 / 10);
	CHECK_RC(decode_all(cut, &n), WARD_E_TRUNCATED, "truncated video: WARD_E_TRUNCATED");
	CHECK(n < 10, "truncated video: %ld frames before the error", n);
	CHECK(strstr(ward_last_error(), "ends early") != NULL, "message says it ends early: %s",
	      ward_last_error());

	/* Wherever the data is cut, the error says so. */
	size_t cuts[] = {len - 1, len - 50, len - 700, len * 3 / 4, len / 2};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		write_file(cut, data, cuts[i]);
		CHECK_RC(decode_all(cut, &n), WARD_E_TRUNCATED,
		         "cut at %zu of %zu bytes: truncated", cuts[i], len);
	}

	/* Index only. */
	write_file(cut, data, 2000 < len ? 2000 : len);
	int rc = decode_all(cut, &n);
	CHECK(rc < 0 && n == 0, "video cut inside its index: error %d, no frame", rc);

	/* Compressed data overwritten. */
	const char *bad = tmp_path("bad.mp4");
	uint8_t *copy = malloc(len);
	memcpy(copy, data, len);
	for (size_t i = len / 3; i < len / 3 + 4000 && i < len; i++)
		copy[i] = (uint8_t)(i * 37);
	write_file(bad, copy, len);
	rc = decode_all(bad, &n);
	CHECK(rc == WARD_E_FORMAT || rc == WARD_E_TRUNCATED, "overwritten data: an error (%d: %s)",
	      rc, ward_last_error());

	/* Not videos. */
	const char *txt = tmp_path("notes.txt");
	write_file(txt, "exam 1390: nothing to see\n", 26);
	struct ward_echo_video *v;
	CHECK_RC(ward_echo_video_open(txt, &v), WARD_E_FORMAT, "text file: WARD_E_FORMAT");
	CHECK(v == NULL, "failed open leaves NULL");
	CHECK_RC(ward_echo_video_open(tmp_path("missing.mp4"), &v), WARD_E_IO,
	         "missing: WARD_E_IO");
	const char *png = tmp_path("still.png");
	uint8_t px[3 * 16 * 16] = {0};
	CHECK_RC(ward_echo_png_write(png, px, 16, 16, 48, 0), 0, "write a PNG");
	CHECK_RC(ward_echo_video_open(png, &v), WARD_E_FORMAT, "still image: not a video");
	CHECK_RC(ward_echo_video_open(test_tmpdir(), &v), WARD_E_IO, "directory: WARD_E_IO");

	/* Playlists and scripts that name other files are refused (FFmpeg itself follows them). */
	char text[9000];
	int tn =
	    snprintf(text, sizeof text,
	             "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n%s\n#EXT-X-ENDLIST\n", good);
	const char *hls = tmp_path("playlist.mp4");
	write_file(hls, text, (size_t)tn);
	CHECK_RC(ward_echo_video_open(hls, &v), WARD_E_FORMAT,
	         "HLS playlist naming a video refused");
	tn = snprintf(text, sizeof text, "ffconcat version 1.0\nfile '%s'\n", good);
	const char *concat = tmp_path("concat.mp4");
	write_file(concat, text, (size_t)tn);
	CHECK_RC(ward_echo_video_open(concat, &v), WARD_E_FORMAT, "concat script refused");
	free(copy);
	free(data);
}

/* ---- the shared sample videos ---------------------------------------------- */

static void test_manifest_video(const char *dir, json_object *vid)
{
	const char *name = json_object_get_string(json_object_object_get(vid, "video"));
	json_object *md5s = json_object_object_get(vid, "md5_decoded_bgr24_frames");
	int frames = json_object_get_int(json_object_object_get(vid, "frames"));
	char path[8300];
	snprintf(path, sizeof path, "%s/videos/%s", dir, name);
	struct ward_echo_video *v;
	if (ward_echo_video_open(path, &v) != 0) {
		CHECK(0, "%s: open: %s", name, ward_last_error());
		return;
	}
	struct ward_echo_frame f;
	int rc, same = 0, n = 0, doppler = -1;
	unsigned blue = 0, red = 0;
	while ((rc = ward_echo_video_next(v, &f)) == 1) {
		char hex[33];
		md5_hex(&f, hex);
		if (n == 0)
			doppler = ward_echo_video_is_doppler(&f, &blue, &red);
		if (n < (int)json_object_array_length(md5s))
			same += strcmp(hex, json_object_get_string(
			                        json_object_array_get_idx(md5s, (size_t)n))) == 0;
		n++;
	}
	ward_echo_video_close(v);
	CHECK(rc == 0 && n == frames, "%s: %d frames (want %d)", name, n, frames);
	CHECK(same == frames, "%s: every BGR24 frame matches the reference MD5 (%d of %d)", name,
	      same, frames);
	CHECK(blue == (unsigned)json_object_get_int(
	                  json_object_object_get(vid, "hsv_blue_px_frame0")) &&
	          red == (unsigned)json_object_get_int(
	                     json_object_object_get(vid, "hsv_red_px_frame0")),
	      "%s: frame 0 has %u blue and %u red pixels as the reference", name, blue, red);
	CHECK(doppler == json_object_get_boolean(json_object_object_get(vid, "is_doppler")),
	      "%s: Doppler decision as the reference", name);
	char want[4200], hex[33];
	snprintf(want, sizeof want, "/mnt/input/%s", name);
	ward_echo_compat_name(want, hex);
	CHECK(strcmp(hex, json_object_get_string(json_object_object_get(
	                      vid, "outdir_md5_if_input_is_slash_mnt_slash_input"))) == 0,
	      "%s: --compat name for /mnt/input", name);
	snprintf(want, sizeof want, "sample-videos/%s", name);
	ward_echo_compat_name(want, hex);
	CHECK(strcmp(hex, json_object_get_string(json_object_object_get(
	                      vid, "outdir_md5_if_input_is_sample_videos"))) == 0,
	      "%s: --compat name for sample-videos", name);
}

static void test_manifest(void)
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
	CHECK(vids && json_object_array_length(vids) == 6, "manifest lists 6 videos");
	for (size_t i = 0; vids && i < json_object_array_length(vids); i++)
		test_manifest_video(dir, json_object_array_get_idx(vids, i));
	json_object_put(root);
}

int main(void)
{
	test_hsv();
	test_doppler_threshold();
	test_mask();
	test_lossless(240, 320, 3);
	test_lossless(241, 321, 2);
	test_lossless(17, 13, 2);
	test_lossless(1, 1, 1);
	test_lossy(NULL, "mp4", 1, 240, 320);
	test_lossy(NULL, "mp4", 0, 240, 320);
	test_lossy("mpeg4", "avi", 1, 240, 320);
	test_lossy("libx264", "mp4", 1, 250, 330); /* coded 256x336, cropped */
	test_lossy("ffv1", "mkv", 1, 241, 321);    /* odd, yuv420p */
	test_empty_and_single();
	test_damaged();
	test_manifest();
	return test_done();
}
