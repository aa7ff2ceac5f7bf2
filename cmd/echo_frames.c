/* ward echo frames: decode videos, print per-frame MD5 and the Doppler decision (a test and
 * benchmark tool). */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cmd/commands.h"
#include "cmd/util.h"
#include "ward/echo.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: ward echo frames [--md5] [--raw OUT] VIDEO...\n"
	        "  Decodes every frame to BGR24 as the anonymiser and the analysis see it.\n"
	        "  Prints `VIDEO<TAB>frames N<TAB>WxH<TAB>blue B<TAB>red R<TAB>doppler yes|no`;\n"
	        "  --md5 adds one line `VIDEO<TAB>I<TAB>MD5` per frame (MD5 of the H*W*3 bytes),\n"
	        "  --raw appends the raw BGR24 frames of every video to OUT (`-` for stdout).\n");
}

static void md5_frame(const struct ward_echo_frame *f, char hex[33])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestInit_ex(c, EVP_md5(), NULL);
	for (int y = 0; y < f->height; y++)
		EVP_DigestUpdate(c, f->bgr + (size_t)y * f->stride, 3 * (size_t)f->width);
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int write_raw(FILE *raw, const struct ward_echo_frame *f)
{
	for (int y = 0; y < f->height; y++)
		if (fwrite(f->bgr + (size_t)y * f->stride, 3, (size_t)f->width, raw) !=
		    (size_t)f->width)
			return -1;
	return 0;
}

static int one_video(const char *path, int md5, FILE *raw)
{
	/* With the raw frames on stdout, the text goes to stderr. */
	FILE *info = raw == stdout ? stderr : stdout;
	struct ward_echo_video *v;
	int rc = ward_echo_video_open(path, &v);
	if (rc < 0)
		return ward_report("ward echo frames", NULL, rc);
	struct ward_echo_frame f;
	unsigned blue = 0, red = 0;
	int doppler = -1, w = 0, h = 0;
	while ((rc = ward_echo_video_next(v, &f)) == 1) {
		long i = ward_echo_video_frames(v) - 1;
		if (i == 0) {
			doppler = ward_echo_video_is_doppler(&f, &blue, &red);
			w = f.width;
			h = f.height;
		}
		if (md5) {
			char hex[33];
			md5_frame(&f, hex);
			fprintf(info, "%s\t%ld\t%s\n", path, i, hex);
		}
		if (raw && write_raw(raw, &f) != 0) {
			fprintf(stderr, "ward echo frames: cannot write raw frames\n");
			ward_echo_video_close(v);
			return WARD_EXIT_IO;
		}
	}
	long n = ward_echo_video_frames(v);
	ward_echo_video_close(v);
	if (rc < 0)
		return ward_report("ward echo frames", NULL, rc);
	fprintf(info, "%s\tframes %ld\t%dx%d\tblue %u\tred %u\tdoppler %s\n", path, n, w, h, blue,
	        red,
	        doppler > 0    ? "yes"
	        : doppler == 0 ? "no"
	                       : "-");
	return 0;
}

int cmd_echo_frames_main(int argc, char **argv)
{
	int md5 = 0, first = 1;
	const char *raw_path = NULL;
	for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
		if (strcmp(argv[first], "--md5") == 0) {
			md5 = 1;
		} else if (strcmp(argv[first], "--raw") == 0 && first + 1 < argc) {
			raw_path = argv[++first];
		} else if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0) {
			usage(stdout);
			return WARD_EXIT_OK;
		} else if (strcmp(argv[first], "--") == 0) {
			first++;
			break;
		} else {
			usage(stderr);
			return WARD_EXIT_USAGE;
		}
	}
	if (first >= argc) {
		usage(stderr);
		return WARD_EXIT_USAGE;
	}
	FILE *raw = NULL;
	if (raw_path) {
		raw = strcmp(raw_path, "-") == 0 ? stdout : fopen(raw_path, "wb");
		if (!raw) {
			perror("ward echo frames: --raw");
			return WARD_EXIT_IO;
		}
	}
	int status = 0;
	for (int i = first; i < argc; i++) {
		int rc = one_video(argv[i], md5, raw);
		if (rc && !status)
			status = rc;
	}
	if (raw && raw != stdout && fclose(raw) != 0) {
		perror("ward echo frames: --raw");
		status = status ? status : WARD_EXIT_IO;
	}
	return status;
}
