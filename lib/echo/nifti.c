/* A small NIfTI-1 reader (single file, optionally gzip) for the IBSI digital phantom. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include "core/core_internal.h"
#include "echo/analysis_internal.h"

#define NII_HDR        348
#define NII_MAX_VOXELS (1u << 26)
#define NII_MAX_FILE   (1u << 30)

static uint16_t ld16(const uint8_t *p, int be)
{
	return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t ld32(const uint8_t *p, int be)
{
	return be ? ward_load32_be(p) : ward_load32_le(p);
}

static float ldf32(const uint8_t *p, int be)
{
	uint32_t u = ld32(p, be);
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static double ldf64(const uint8_t *p, int be)
{
	uint64_t u =
	    be ? (uint64_t)ward_load32_be(p) << 32 | ward_load32_be(p + 4) : ward_load64_le(p);
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* Bytes per voxel of a NIfTI datatype code, 0 if unsupported. */
static int type_size(int dt)
{
	switch (dt) {
	case 2: /* uint8 */
	case 256:
		return 1; /* int8 */
	case 4:           /* int16 */
	case 512:
		return 2; /* uint16 */
	case 8:           /* int32 */
	case 16:
		return 4; /* float32 */
	case 64:
		return 8; /* float64 */
	}
	return 0;
}

static double voxel(const uint8_t *p, int dt, int be)
{
	switch (dt) {
	case 2:
		return p[0];
	case 256:
		return (int8_t)p[0];
	case 4:
		return (int16_t)ld16(p, be);
	case 512:
		return ld16(p, be);
	case 8:
		return (int32_t)ld32(p, be);
	case 16:
		return ldf32(p, be);
	default:
		return ldf64(p, be);
	}
}

/* Checks the header; sets the sizes, type and data offset. */
static int parse_header(const uint8_t *b, size_t len, struct ward_echo_volume *vol, int *dt,
                        int *be, size_t *off)
{
	if (len < NII_HDR)
		return ward_error(WARD_E_FORMAT, "NIfTI: %zu bytes, shorter than a header", len);
	*be = ward_load32_le(b) != NII_HDR;
	if (ld32(b, *be) != NII_HDR)
		return ward_error(WARD_E_FORMAT, "NIfTI: bad sizeof_hdr");
	if (memcmp(b + 344, "n+1", 4) != 0)
		return ward_error(WARD_E_FORMAT, "NIfTI: not a single-file NIfTI-1 image");
	int ndim = (int16_t)ld16(b + 40, *be);
	if (ndim < 1 || ndim > 7)
		return ward_error(WARD_E_FORMAT, "NIfTI: %d dimensions", ndim);
	int d[7];
	for (int i = 0; i < 7; i++) {
		d[i] = i < ndim ? (int16_t)ld16(b + 42 + 2 * i, *be) : 1;
		if (d[i] < 1)
			return ward_error(WARD_E_FORMAT, "NIfTI: dimension %d is %d", i + 1, d[i]);
		if (i >= 3 && d[i] != 1)
			return ward_error(WARD_E_UNSUPPORTED, "NIfTI: more than 3 dimensions");
	}
	*dt = (int16_t)ld16(b + 70, *be);
	int tsz = type_size(*dt);
	if (!tsz)
		return ward_error(WARD_E_UNSUPPORTED, "NIfTI: datatype %d", *dt);
	float vo = ldf32(b + 108, *be);
	if (!(vo >= NII_HDR && vo < (float)NII_MAX_FILE) || vo != floorf(vo))
		return ward_error(WARD_E_FORMAT, "NIfTI: bad vox_offset");
	size_t nvox = (size_t)d[0] * (size_t)d[1] * (size_t)d[2];
	if (nvox > NII_MAX_VOXELS)
		return ward_error(WARD_E_UNSUPPORTED, "NIfTI: %zu voxels is too many", nvox);
	*off = (size_t)vo;
	if (*off > len || (len - *off) / (size_t)tsz < nvox)
		return ward_error(WARD_E_TRUNCATED, "NIfTI: data ends early");
	vol->nx = d[0];
	vol->ny = d[1];
	vol->nz = d[2];
	vol->dx = ldf32(b + 80, *be);
	vol->dy = ldf32(b + 84, *be);
	vol->dz = ldf32(b + 88, *be);
	return 0;
}

/* Decompresses a gzip member into a malloc'ed buffer (size doubling, bounded). */
static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *olen)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	if (!d)
		return ward_error(WARD_E_NOMEM, "gzip: out of memory");
	size_t cap = len * 4 < 4096 ? 4096 : len * 4;
	int rc = 0;
	*out = NULL;
	for (;;) {
		uint8_t *b = realloc(*out, cap);
		if (!b) {
			rc = ward_error(WARD_E_NOMEM, "gzip: out of memory");
			break;
		}
		*out = b;
		enum libdeflate_result r = libdeflate_gzip_decompress(d, in, len, b, cap, olen);
		if (r == LIBDEFLATE_SUCCESS)
			break;
		if (r != LIBDEFLATE_INSUFFICIENT_SPACE || cap >= NII_MAX_FILE) {
			rc = ward_error(WARD_E_FORMAT, "gzip: corrupt or too large data");
			break;
		}
		cap *= 2;
	}
	libdeflate_free_decompressor(d);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int ward_echo_nifti_parse(const uint8_t *buf, size_t len, struct ward_echo_volume *vol)
{
	memset(vol, 0, sizeof *vol);
	uint8_t *raw = NULL;
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		int rc = gunzip(buf, len, &raw, &len);
		if (rc)
			return rc;
		buf = raw;
	}
	int dt = 0, be = 0;
	size_t off = 0;
	int rc = parse_header(buf, len, vol, &dt, &be, &off);
	size_t n = (size_t)vol->nx * (size_t)vol->ny * (size_t)vol->nz;
	if (rc == 0 && !(vol->v = malloc(n * sizeof *vol->v)))
		rc = ward_error(WARD_E_NOMEM, "NIfTI: out of memory");
	if (rc == 0) {
		float slope = ldf32(buf + 112, be), inter = ldf32(buf + 116, be);
		int scale =
		    isfinite(slope) && slope != 0 && isfinite(inter) && !(slope == 1 && inter == 0);
		int tsz = type_size(dt);
		for (size_t i = 0; i < n; i++) {
			double v = voxel(buf + off + i * (size_t)tsz, dt, be);
			vol->v[i] = scale ? v * slope + inter : v;
		}
	}
	free(raw);
	if (rc)
		memset(vol, 0, sizeof *vol);
	return rc;
}

int ward_echo_nifti_read(const char *path, struct ward_echo_volume *vol)
{
	memset(vol, 0, sizeof *vol);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ward_error_errno("%s", path);
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size > NII_MAX_FILE) {
		close(fd);
		return ward_error(WARD_E_FORMAT, "%s: not a regular file of a sane size", path);
	}
	size_t len = (size_t)st.st_size;
	uint8_t *b = malloc(len ? len : 1);
	if (!b) {
		close(fd);
		return ward_error(WARD_E_NOMEM, "%s: out of memory", path);
	}
	ssize_t r = ward_read_full(fd, b, len);
	close(fd);
	int rc = r < 0 ? ward_error_errno("%s", path) : ward_echo_nifti_parse(b, (size_t)r, vol);
	free(b);
	return rc;
}

void ward_echo_volume_free(struct ward_echo_volume *vol)
{
	if (!vol)
		return;
	free(vol->v);
	vol->v = NULL;
}
