/* Synthetic echo-like test videos: a grey speckle sector, Doppler colour blobs and burned-in
 * digits, encoded with libavcodec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/core_internal.h"
#include "echo/echo_internal.h"

/* A 3x5 font for the digits and ':' '/' '-', rows top to bottom, 3 bits each. */
static const uint8_t glyphs[13][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 2, 0, 2, 0}, {1, 1, 2, 4, 4}, {0, 0, 7, 0, 0},
};

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static void put(uint8_t *bgr, size_t stride, int x, int y, uint8_t b, uint8_t g, uint8_t r)
{
	uint8_t *p = bgr + (size_t)y * stride + 3 * (size_t)x;
	p[0] = b;
	p[1] = g;
	p[2] = r;
}

/* Grey speckle inside a 80-degree sector from the top centre, drifting with the frame. */
static void draw_sector(const struct ward_echo_synth_opts *o, long index, uint8_t *bgr,
                        size_t stride)
{
	int w = o->width, h = o->height;
	long cx = w / 2, r2max = (long)h * h * 81 / 100;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			long dx = x - cx, dy = y;
			/* |dx| <= dy * tan(40 deg) ~ 0.84 dy */
			if (dx * dx + dy * dy > r2max || 100 * labs(dx) > 84 * dy)
				continue;
			uint32_t n = mix((uint32_t)(x / 2) * 73856093U ^
			                 (uint32_t)((y + index) / 2) * 19349663U ^ o->seed);
			uint8_t v = (uint8_t)(20 + n % 110);
			put(bgr, stride, x, y, v, v, v);
		}
}

/* Filled ellipse of one colour. */
static void draw_blob(const struct ward_echo_synth_opts *o, uint8_t *bgr, size_t stride, int cx,
                      int cy, int rx, int ry, const uint8_t colour[3])
{
	for (int y = cy - ry; y <= cy + ry; y++)
		for (int x = cx - rx; x <= cx + rx; x++) {
			if (x < 0 || y < 0 || x >= o->width || y >= o->height)
				continue;
			long dx = x - cx, dy = y - cy;
			if (dx * dx * ry * ry + dy * dy * rx * rx <= (long)rx * rx * ry * ry)
				put(bgr, stride, x, y, colour[0], colour[1], colour[2]);
		}
}

/* White digits (an exam number and a clock) in the corner the anonymiser masks. */
static void draw_text(const struct ward_echo_synth_opts *o, long index, uint8_t *bgr, size_t stride)
{
	int scale = o->height >= 160 ? 2 : 1;
	long secs = 11 * 3600 + 15 * 60 + 34 + index;
	char line[2][16];
	snprintf(line[0], sizeof line[0], "%04u", 1000 + o->seed % 9000);
	snprintf(line[1], sizeof line[1], "%02ld:%02ld:%02ld", secs / 3600 % 24, secs / 60 % 60,
	         secs % 60);
	int x0 = 2 * o->width / 3 - 8, y0 = 2;
	for (int l = 0; l < 2; l++)
		for (int k = 0; line[l][k]; k++) {
			char c = line[l][k];
			int g = c >= '0' && c <= '9' ? c - '0' : c == ':' ? 10 : c == '/' ? 11 : 12;
			for (int gy = 0; gy < 5 * scale; gy++)
				for (int gx = 0; gx < 3 * scale; gx++) {
					int x = x0 + k * 4 * scale + gx,
					    y = y0 + l * 6 * scale + gy;
					if (x >= o->width || y >= o->height / 6)
						continue;
					if (glyphs[g][gy / scale] & (4 >> (gx / scale)))
						put(bgr, stride, x, y, 255, 255, 255);
				}
		}
}

void ward_echo_synth_frame(const struct ward_echo_synth_opts *o, long index, uint8_t *bgr,
                           size_t stride)
{
	for (int y = 0; y < o->height; y++)
		memset(bgr + (size_t)y * stride, 0, 3 * (size_t)o->width);
	draw_sector(o, index, bgr, stride);
	if (o->doppler) {
		/* HSV (117,229,200) and (177,232,220): inside the blue and red ranges. */
		static const uint8_t blue[3] = {200, 40, 20}, red[3] = {40, 20, 220};
		int rx = o->width / 8 > 2 ? o->width / 8 : 2,
		    ry = o->height / 10 > 2 ? o->height / 10 : 2;
		int dx = (int)(index % 8) - 4;
		draw_blob(o, bgr, stride, o->width * 45 / 100 + dx, o->height / 2, rx, ry, blue);
		draw_blob(o, bgr, stride, o->width * 58 / 100 - dx, o->height * 62 / 100,
		          rx * 2 / 3, ry * 2 / 3, red);
	}
	if (o->text)
		draw_text(o, index, bgr, stride);
}

struct synth_enc {
	AVFormatContext *oc;
	AVCodecContext *enc;
	AVStream *st;
	AVFrame *frame;
	AVPacket *pkt;
	struct SwsContext *sws;
};

static const AVCodec *pick_codec(const char *name)
{
	if (name)
		return avcodec_find_encoder_by_name(name);
	const AVCodec *c = avcodec_find_encoder_by_name("libx264");
	return c ? c : avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

static int open_encoder(struct synth_enc *e, const struct ward_echo_synth_opts *o, const char *path,
                        const char *tmp)
{
	/* The container follows the final name (the temporary name has no extension). */
	int rc = avformat_alloc_output_context2(&e->oc, NULL, o->container, path);
	if (rc < 0 || !e->oc)
		return ward_error(WARD_E_INVAL, "%s: no container for this file name", path);
	/* The MP4 faststart pass reopens the file by this name. */
	av_freep(&e->oc->url);
	if (!(e->oc->url = av_strdup(tmp)))
		return ward_error(WARD_E_NOMEM, "out of memory");
	const AVCodec *codec = pick_codec(o->codec);
	if (!codec)
		return ward_error(WARD_E_UNSUPPORTED, "no encoder %s", o->codec ? o->codec : "");
	e->st = avformat_new_stream(e->oc, NULL);
	e->enc = avcodec_alloc_context3(codec);
	if (!e->st || !e->enc)
		return ward_error(WARD_E_NOMEM, "out of memory");
	enum AVPixelFormat fmt = o->pix_fmt ? av_get_pix_fmt(o->pix_fmt) : AV_PIX_FMT_YUV420P;
	if (fmt == AV_PIX_FMT_NONE)
		return ward_error(WARD_E_INVAL, "unknown pixel format %s", o->pix_fmt);
	e->enc->width = o->width;
	e->enc->height = o->height;
	e->enc->pix_fmt = fmt;
	e->enc->time_base = (AVRational){1, 15};
	e->enc->framerate = (AVRational){15, 1};
	e->enc->gop_size = 12;
	e->enc->thread_count = 1;
	if (codec->id == AV_CODEC_ID_MPEG4)
		e->enc->bit_rate = 2000000;
	if (e->oc->oformat->flags & AVFMT_GLOBALHEADER)
		e->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_opt_set(e->enc->priv_data, "preset", "veryfast", 0);
	if ((rc = avcodec_open2(e->enc, codec, NULL)) < 0)
		return ward_error(WARD_E_UNSUPPORTED, "cannot open encoder %s for %dx%d %s",
		                  codec->name, o->width, o->height, av_get_pix_fmt_name(fmt));
	if (avcodec_parameters_from_context(e->st->codecpar, e->enc) < 0)
		return ward_error(WARD_E_INTERNAL, "encoder parameters");
	e->st->time_base = e->enc->time_base;
	e->frame = av_frame_alloc();
	e->pkt = av_packet_alloc();
	if (!e->frame || !e->pkt)
		return ward_error(WARD_E_NOMEM, "out of memory");
	e->frame->format = fmt;
	e->frame->width = o->width;
	e->frame->height = o->height;
	if (av_frame_get_buffer(e->frame, 0) < 0)
		return ward_error(WARD_E_NOMEM, "out of memory");
	e->sws = sws_getContext(o->width, o->height, AV_PIX_FMT_BGR24, o->width, o->height, fmt,
	                        SWS_BICUBIC, NULL, NULL, NULL);
	if (!e->sws)
		return ward_error(WARD_E_UNSUPPORTED, "cannot convert BGR24 to %s",
		                  av_get_pix_fmt_name(fmt));
	if ((rc = avio_open(&e->oc->pb, tmp, AVIO_FLAG_WRITE)) < 0)
		return ward_error(WARD_E_IO, "%s: cannot create", tmp);
	AVDictionary *mux = NULL;
	if (o->faststart)
		av_dict_set(&mux, "movflags", "faststart", 0);
	rc = avformat_write_header(e->oc, &mux);
	av_dict_free(&mux);
	if (rc < 0)
		return ward_error(WARD_E_UNSUPPORTED, "%s: cannot write the container header", tmp);
	return 0;
}

/* Sends one frame (NULL: flush) and writes every packet that comes out. */
static int encode(struct synth_enc *e, AVFrame *f)
{
	int rc = avcodec_send_frame(e->enc, f);
	if (rc < 0)
		return ward_error(WARD_E_INTERNAL, "encoder refused a frame");
	for (;;) {
		rc = avcodec_receive_packet(e->enc, e->pkt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		if (rc < 0)
			return ward_error(WARD_E_INTERNAL, "encoding failed");
		/* Without a duration the MP4 edit list leaves the last frame out. */
		if (e->pkt->duration <= 0)
			e->pkt->duration = 1;
		av_packet_rescale_ts(e->pkt, e->enc->time_base, e->st->time_base);
		e->pkt->stream_index = e->st->index;
		if (av_interleaved_write_frame(e->oc, e->pkt) < 0)
			return ward_error(WARD_E_IO, "cannot write a packet");
	}
}

static void synth_close(struct synth_enc *e)
{
	sws_freeContext(e->sws);
	av_packet_free(&e->pkt);
	av_frame_free(&e->frame);
	avcodec_free_context(&e->enc);
	if (e->oc && e->oc->pb)
		avio_closep(&e->oc->pb);
	avformat_free_context(e->oc);
}

int ward_echo_synth(const char *path, const struct ward_echo_synth_opts *o)
{
	if (o->width <= 0 || o->height <= 0 || o->width > 8192 || o->height > 8192 || o->frames < 0)
		return ward_error(WARD_E_INVAL, "bad synthetic video size");
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
		return ward_error(WARD_E_INVAL, "%s: path too long", path);
	if (!getenv("WARD_DEBUG"))
		av_log_set_level(AV_LOG_QUIET);
	struct synth_enc e = {0};
	size_t stride = 3 * (size_t)o->width;
	uint8_t *bgr = malloc(stride * (size_t)o->height);
	int rc = bgr ? open_encoder(&e, o, path, tmp) : ward_error(WARD_E_NOMEM, "out of memory");
	for (long i = 0; rc == 0 && i < o->frames; i++) {
		ward_echo_synth_frame(o, i, bgr, stride);
		const uint8_t *src[1] = {bgr};
		int lines[1] = {(int)stride};
		if (av_frame_make_writable(e.frame) < 0) {
			rc = ward_error(WARD_E_NOMEM, "out of memory");
			break;
		}
		sws_scale(e.sws, src, lines, 0, o->height, e.frame->data, e.frame->linesize);
		e.frame->pts = i;
		rc = encode(&e, e.frame);
	}
	if (rc == 0)
		rc = encode(&e, NULL);
	if (rc == 0 && av_write_trailer(e.oc) < 0)
		rc = ward_error(WARD_E_IO, "%s: cannot finish the container", tmp);
	if (rc == 0 && e.oc->pb && avio_closep(&e.oc->pb) < 0)
		rc = ward_error(WARD_E_IO, "%s: cannot write", tmp);
	synth_close(&e);
	free(bgr);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = ward_error_errno("%s: rename", path);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
