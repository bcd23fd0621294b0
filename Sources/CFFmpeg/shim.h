// Inline helpers for the parts of FFmpeg's API that Swift cannot import: function-like macros,
// version-dependent calls, and variadic logging.
#ifndef VFX_SHIM_H
#define VFX_SHIM_H

#include <errno.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
#include <libavutil/hwcontext.h>

static inline int vfx_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vfx_averror_eof(void) { return AVERROR_EOF; }
static inline int vfx_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int vfx_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int64_t vfx_nopts(void) { return AV_NOPTS_VALUE; }

/// Copies the display matrix (rotation) of one stream onto another; 0 when there is none.
static inline int vfx_copy_display_matrix(const AVStream *in, AVStream *out) {
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(in->codecpar->coded_side_data,
        in->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (!sd) return 0;
    AVPacketSideData *nsd = av_packet_side_data_new(&out->codecpar->coded_side_data,
        &out->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX, sd->size, 0);
    if (!nsd) return AVERROR(ENOMEM);
    memcpy(nsd->data, sd->data, sd->size);
    return 0;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(in, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (!data || size < 36) return 0;
    uint8_t *dst = av_stream_new_side_data(out, AV_PKT_DATA_DISPLAYMATRIX, size);
    if (!dst) return AVERROR(ENOMEM);
    memcpy(dst, data, size);
    return 0;
#endif
}

/// The clockwise rotation in degrees the stream's display matrix asks for, or 0.
static inline double vfx_stream_rotation(const AVStream *st) {
    const uint8_t *data = NULL;
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
        st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 36) data = sd->data;
#else
    size_t size = 0;
    data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (size < 36) data = NULL;
#endif
    if (!data) return 0;
    double r = -av_display_rotation_get((const int32_t *)data);
    return r != r ? 0 : r;
}

/// The number of channels in a codec parameter set (works across the channel-layout API change).
static inline int vfx_channels(const AVCodecParameters *par) { return par->ch_layout.nb_channels; }

/// Sets a string option on a codec context's private data; returns FFmpeg's code.
static inline int vfx_set_priv_opt(AVCodecContext *ctx, const char *key, const char *value) {
    return av_opt_set(ctx->priv_data, key, value, 0);
}
static inline int vfx_has_priv_opt(AVCodecContext *ctx, const char *key) {
    return ctx->priv_data && av_opt_find(ctx->priv_data, key, NULL, 0, 0) != NULL;
}

static inline const char *vfx_codec_name(enum AVCodecID id) { return avcodec_get_name(id); }

/// A frame's duration in its time base (the field was renamed in FFmpeg 6).
static inline int64_t vfx_frame_duration(const AVFrame *f) {
#if LIBAVUTIL_VERSION_MAJOR >= 58
    return f->duration;
#else
    return f->pkt_duration;
#endif
}
static inline void vfx_set_frame_duration(AVFrame *f, int64_t d) {
#if LIBAVUTIL_VERSION_MAJOR >= 58
    f->duration = d;
#else
    f->pkt_duration = d;
#endif
}

/// Paints a video frame's buffers black; returns FFmpeg's code.
static inline int vfx_frame_fill_black(AVFrame *f) {
    ptrdiff_t lines[4] = { f->linesize[0], f->linesize[1], f->linesize[2], f->linesize[3] };
    return av_image_fill_black(f->data, lines, (enum AVPixelFormat)f->format, f->color_range, f->width, f->height);
}

#endif
