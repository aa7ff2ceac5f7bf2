/* Video decoding to BGR24 frames with libavformat/libavcodec/libswscale, as OpenCV's VideoCapture
 * does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/core_internal.h"
#include "echo/echo_internal.h"

struct ward_echo_video {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	struct SwsContext *sws;
	AVPacket *pkt;
	AVFrame *frame;
	int stream;
	int flushing; /* the demuxer is at its end; the decoder is being drained */
	int pending;  /* pkt holds a packet the decoder could not take yet */
	int err;      /* sticky error of ward_echo_video_next, and its message */
	char errmsg[256];
	long frames;   /* frames returned */
	long packets;  /* packets of the video stream read */
	long expected; /* frames (packets) the container announces, 0 if unknown */
	/* The conversion: sws_w x sws_h from a source of src_fmt. */
	int sws_w, sws_h;
	enum AVPixelFormat src_fmt;
	/* Destination BGR24 buffer, stride bytes per row, av_malloc'ed. */
	uint8_t *bgr;
	size_t stride, bgr_size;
	/* Padded copy of the source planes when the decoder's buffers are too small. */
	uint8_t *pad[4];
	int pad_linesize[4];
	char *path;
};

/* Maps an FFmpeg error to a ward_err with a message naming path. */
static int av_fail(const char *path, const char *what, int averr)
{
	char buf[AV_ERROR_MAX_STRING_SIZE] = "";
	av_strerror(averr, buf, sizeof buf);
	if (averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) || averr == AVERROR(EISDIR) ||
	    averr == AVERROR(EIO)) {
		errno = AVUNERROR(averr);
		return ward_error(WARD_E_IO, "%s: %s: %s", path, what, buf);
	}
	if (averr == AVERROR(ENOMEM))
		return ward_error(WARD_E_NOMEM, "%s: %s: out of memory", path, what);
	return ward_error(WARD_E_FORMAT, "%s: %s: %s", path, what, buf);
}

/*
 * Demuxers a video may use. Without a list FFmpeg would also accept
 * playlists and scripts (HLS, concat, ...) that open other files or URLs:
 * a crafted "video" could then pull another patient's file, or a network
 * resource, into the frames. Only local files are read (protocol "file").
 */
static const char format_whitelist[] =
    "mov,mp4,avi,matroska,webm,mpeg,mpegts,mpegvideo,asf,flv,ogg,nut,h264,hevc,m4v,ivf,"
    "yuv4mpegpipe,dv,rawvideo";

/* Still-image demuxers open a PNG or JPEG as a one-frame "video": not what we want. */
static int is_still_image_format(const AVInputFormat *f)
{
	size_t n = strlen(f->name);
	return strcmp(f->name, "image2") == 0 || (n > 5 && strcmp(f->name + n - 5, "_pipe") == 0);
}

static int open_decoder(struct ward_echo_video *v)
{
	const AVCodec *codec = NULL;
	int s = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (s == AVERROR_STREAM_NOT_FOUND)
		return ward_error(WARD_E_FORMAT, "%s: no video stream", v->path);
	if (s < 0 || !codec)
		return ward_error(WARD_E_UNSUPPORTED, "%s: no decoder for its video stream",
		                  v->path);
	v->stream = s;
	AVStream *st = v->fmt->streams[s];
	v->expected = st->nb_frames > 0 ? (long)st->nb_frames : 0;
	v->dec = avcodec_alloc_context3(codec);
	if (!v->dec)
		return ward_error(WARD_E_NOMEM, "out of memory");
	int rc = avcodec_parameters_to_context(v->dec, st->codecpar);
	if (rc < 0)
		return av_fail(v->path, "decoder parameters", rc);
	/*
	 * One thread: frames come out the same with any count, and the machines
	 * this runs on process several videos at once. EXPLODE turns the errors
	 * the decoder detects into failures instead of concealed pictures.
	 */
	v->dec->thread_count = 1;
	v->dec->err_recognition |= AV_EF_EXPLODE;
	rc = avcodec_open2(v->dec, codec, NULL);
	if (rc < 0)
		return av_fail(v->path, "cannot open the decoder", rc);
	return 0;
}

int ward_echo_video_open(const char *path, struct ward_echo_video **out)
{
	*out = NULL;
	struct ward_echo_video *v = calloc(1, sizeof *v);
	if (!v || !(v->path = strdup(path))) {
		free(v);
		return ward_error(WARD_E_NOMEM, "out of memory");
	}
	v->src_fmt = AV_PIX_FMT_NONE;
	/* libav* would print warnings on stderr; the library never prints. */
	if (!getenv("WARD_DEBUG"))
		av_log_set_level(AV_LOG_QUIET);
	AVDictionary *opts = NULL;
	av_dict_set(&opts, "format_whitelist", format_whitelist, 0);
	av_dict_set(&opts, "protocol_whitelist", "file", 0);
	int rc = avformat_open_input(&v->fmt, path, NULL, &opts);
	av_dict_free(&opts);
	if (rc == AVERROR(EINVAL)) {
		/* What FFmpeg says for a format outside the list. */
		rc = ward_error(WARD_E_FORMAT, "%s: not a video of an accepted container type",
		                path);
		goto fail;
	}
	if (rc < 0) {
		rc = av_fail(path, "not a readable video", rc);
		goto fail;
	}
	if (is_still_image_format(v->fmt->iformat)) {
		rc = ward_error(WARD_E_FORMAT, "%s: a still image, not a video", path);
		goto fail;
	}
	rc = avformat_find_stream_info(v->fmt, NULL);
	if (rc < 0) {
		rc = av_fail(path, "cannot read stream information", rc);
		goto fail;
	}
	if ((rc = open_decoder(v)) < 0)
		goto fail;
	v->pkt = av_packet_alloc();
	v->frame = av_frame_alloc();
	if (!v->pkt || !v->frame) {
		rc = ward_error(WARD_E_NOMEM, "out of memory");
		goto fail;
	}
	*out = v;
	return 0;
fail:
	ward_echo_video_close(v);
	return rc;
}

void ward_echo_video_close(struct ward_echo_video *v)
{
	if (!v)
		return;
	int saved = errno;
	sws_freeContext(v->sws);
	av_frame_free(&v->frame);
	av_packet_free(&v->pkt);
	avcodec_free_context(&v->dec);
	avformat_close_input(&v->fmt);
	av_free(v->bgr);
	av_freep(&v->pad[0]);
	free(v->path);
	free(v);
	errno = saved;
}

long ward_echo_video_frames(const struct ward_echo_video *v)
{
	return v->frames;
}

/*
 * OpenCV converts the decoder's coded size (H.264: whole macroblocks) and
 * crops afterwards. The size decides which swscale path runs: its unscaled
 * YUV->RGB converter (nearest chroma) only takes even heights, the general
 * scaler interpolates chroma. Doing the same keeps odd-sized videos
 * identical to the original; for 240x320 both sizes are the same.
 */
static void conversion_size(const struct ward_echo_video *v, const AVFrame *fr, int *w, int *h)
{
	*w = v->dec->coded_width >= fr->width ? v->dec->coded_width : fr->width;
	*h = v->dec->coded_height >= fr->height ? v->dec->coded_height : fr->height;
}

/* 1 if every plane's buffer holds rows x bytes-per-row from its data pointer. */
static int planes_cover(const AVFrame *fr, int w, int h)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fr->format);
	if (!d || (d->flags & AV_PIX_FMT_FLAG_PAL))
		return 0;
	int linesizes[4];
	if (av_image_fill_linesizes(linesizes, fr->format, w) < 0)
		return 0;
	for (int p = 0; p < 4 && fr->data[p]; p++) {
		AVBufferRef *b = av_frame_get_plane_buffer((AVFrame *)fr, p);
		int rows = p == 1 || p == 2 ? AV_CEIL_RSHIFT(h, d->log2_chroma_h) : h;
		if (!b || fr->linesize[p] < linesizes[p] || fr->data[p] < b->data)
			return 0;
		size_t need = (size_t)(fr->data[p] - b->data) +
		              (size_t)fr->linesize[p] * (size_t)(rows - 1) + (size_t)linesizes[p];
		if (need > b->size)
			return 0;
	}
	return 1;
}

/*
 * Copies the visible planes into a buffer of the conversion size, repeating
 * the last row and column. The padding only feeds pixels that are cropped
 * away, because the conversion is pointwise at this size.
 */
static int pad_planes(struct ward_echo_video *v, const AVFrame *fr, int w, int h)
{
	av_freep(&v->pad[0]);
	int rc = av_image_alloc(v->pad, v->pad_linesize, w, h, fr->format, 64);
	if (rc < 0)
		return av_fail(v->path, "padding buffer", rc);
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fr->format);
	int lines[4], need[4];
	av_image_fill_linesizes(lines, fr->format, fr->width);
	av_image_fill_linesizes(need, fr->format, w);
	for (int p = 0; p < 4 && fr->data[p]; p++) {
		int chroma = p == 1 || p == 2;
		int rows = chroma ? AV_CEIL_RSHIFT(fr->height, d->log2_chroma_h) : fr->height;
		int all = chroma ? AV_CEIL_RSHIFT(h, d->log2_chroma_h) : h;
		int pw = chroma ? AV_CEIL_RSHIFT(fr->width, d->log2_chroma_w) : fr->width;
		int step = pw > 0 && lines[p] % pw == 0 ? lines[p] / pw : 1;
		for (int r = 0; r < all; r++) {
			const uint8_t *src = fr->data[p] + (size_t)fr->linesize[p] *
			                                       (size_t)(r < rows ? r : rows - 1);
			uint8_t *dst = v->pad[p] + (size_t)v->pad_linesize[p] * (size_t)r;
			memcpy(dst, src, (size_t)lines[p]);
			for (int x = lines[p]; x + step <= need[p]; x += step)
				memcpy(dst + x, dst + lines[p] - step, (size_t)step);
		}
	}
	return 0;
}

static int setup_conversion(struct ward_echo_video *v, const AVFrame *fr, int w, int h)
{
	v->sws = sws_getCachedContext(v->sws, w, h, fr->format, w, h, AV_PIX_FMT_BGR24, SWS_BICUBIC,
	                              NULL, NULL, NULL);
	if (!v->sws)
		return ward_error(WARD_E_UNSUPPORTED, "%s: cannot convert pixel format %s to BGR24",
		                  v->path, av_get_pix_fmt_name(fr->format));
	/*
	 * swscale's SIMD converters write whole groups of 8 pixels and skip the
	 * last group when the row stride cannot hold it: keep room for it.
	 */
	size_t stride = ((size_t)FFALIGN(w, 32) * 3 + 63) & ~(size_t)63;
	size_t size = stride * (size_t)(h + 2);
	if (size > v->bgr_size) {
		av_free(v->bgr);
		v->bgr = av_malloc(size);
		if (!v->bgr) {
			v->bgr_size = 0;
			return ward_error(WARD_E_NOMEM, "out of memory");
		}
		v->bgr_size = size;
	}
	memset(v->bgr, 0, size);
	v->stride = stride;
	v->sws_w = w;
	v->sws_h = h;
	v->src_fmt = fr->format;
	return 0;
}

/* Converts v->frame into v->bgr and describes it in *f. */
static int convert(struct ward_echo_video *v, struct ward_echo_frame *f)
{
	AVFrame *fr = v->frame;
	int w, h, rc;
	if (fr->width <= 0 || fr->height <= 0 || fr->format < 0)
		return ward_error(WARD_E_FORMAT, "%s: frame %ld has no picture", v->path,
		                  v->frames);
	conversion_size(v, fr, &w, &h);
	if (w != v->sws_w || h != v->sws_h || fr->format != v->src_fmt || !v->sws)
		if ((rc = setup_conversion(v, fr, w, h)) < 0)
			return rc;
	const uint8_t *const *src = (const uint8_t *const *)fr->data;
	const int *src_lines = fr->linesize;
	if ((w != fr->width || h != fr->height) && !planes_cover(fr, w, h)) {
		if ((rc = pad_planes(v, fr, w, h)) < 0)
			return rc;
		src = (const uint8_t *const *)v->pad;
		src_lines = v->pad_linesize;
	}
	uint8_t *dst[4] = {v->bgr, NULL, NULL, NULL};
	int dst_lines[4] = {(int)v->stride, 0, 0, 0};
	if (sws_scale(v->sws, src, src_lines, 0, h, dst, dst_lines) != h)
		return ward_error(WARD_E_INTERNAL, "%s: frame %ld: conversion failed", v->path,
		                  v->frames);
	f->width = fr->width;
	f->height = fr->height;
	f->stride = v->stride;
	f->bgr = v->bgr;
	return 0;
}

/* Feeds the decoder one packet of our stream, or starts draining it at the end. */
static int feed(struct ward_echo_video *v)
{
	int rc;
	while (!v->pending) {
		rc = av_read_frame(v->fmt, v->pkt);
		if (rc == AVERROR_EOF) {
			v->flushing = 1;
			rc = avcodec_send_packet(v->dec, NULL);
			return rc < 0 && rc != AVERROR_EOF ? av_fail(v->path, "decoding", rc) : 0;
		}
		if (rc < 0) {
			if (rc == AVERROR(EIO) || rc == AVERROR_INVALIDDATA)
				return ward_error(WARD_E_TRUNCATED,
				                  "%s: the file ends early (after frame %ld)",
				                  v->path, v->frames);
			return av_fail(v->path, "reading", rc);
		}
		if (v->pkt->stream_index != v->stream) {
			av_packet_unref(v->pkt);
			continue;
		}
		if (v->pkt->flags & AV_PKT_FLAG_CORRUPT) {
			av_packet_unref(v->pkt);
			return ward_error(WARD_E_TRUNCATED,
			                  "%s: the file ends early (inside frame %ld's data)",
			                  v->path, v->frames);
		}
		v->packets++;
		v->pending = 1;
	}
	rc = avcodec_send_packet(v->dec, v->pkt);
	if (rc == AVERROR(EAGAIN))
		return 0; /* the caller takes a frame out first, then we send it again */
	v->pending = 0;
	av_packet_unref(v->pkt);
	if (rc < 0)
		return ward_error(WARD_E_FORMAT, "%s: corrupt video data near frame %ld", v->path,
		                  v->frames);
	return 0;
}

static int next_frame(struct ward_echo_video *v, struct ward_echo_frame *f)
{
	for (;;) {
		int rc = avcodec_receive_frame(v->dec, v->frame);
		if (rc == 0) {
			if (v->frame->decode_error_flags ||
			    (v->frame->flags & AV_FRAME_FLAG_CORRUPT))
				return ward_error(WARD_E_FORMAT, "%s: frame %ld is corrupt",
				                  v->path, v->frames);
			rc = convert(v, f);
			av_frame_unref(v->frame);
			if (rc < 0)
				return rc;
			v->frames++;
			return 1;
		}
		if (rc == AVERROR_EOF) {
			if (v->expected > 0 && v->frames < v->expected)
				return ward_error(WARD_E_TRUNCATED,
				                  "%s: only %ld of the %ld frames it announces",
				                  v->path, v->frames, v->expected);
			return 0;
		}
		if (rc != AVERROR(EAGAIN))
			return ward_error(WARD_E_FORMAT, "%s: corrupt video data near frame %ld",
			                  v->path, v->frames);
		if (v->flushing)
			return ward_error(WARD_E_INTERNAL, "%s: the decoder stalled", v->path);
		if ((rc = feed(v)) < 0)
			return rc;
	}
}

int ward_echo_video_next(struct ward_echo_video *v, struct ward_echo_frame *f)
{
	if (v->err)
		return ward_error(v->err, "%s", v->errmsg);
	int rc = next_frame(v, f);
	if (rc < 0) {
		v->err = rc;
		snprintf(v->errmsg, sizeof v->errmsg, "%s", ward_last_error());
	}
	return rc;
}
