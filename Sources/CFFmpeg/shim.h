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
#include <libavutil/mastering_display_metadata.h>

static inline int vfx_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int vfx_averror_eof(void) { return AVERROR_EOF; }
static inline int vfx_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int vfx_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int vfx_averror_external(void) { return AVERROR_EXTERNAL; }
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
static inline int vfx_set_codec_opt(AVCodecContext *ctx, const char *key, const char *value) {
    return av_opt_set(ctx, key, value, 0);
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

/// HDR10 static metadata: mastering display colour volume and content light level.
typedef struct {
    int has_primaries, has_luminance, has_light;
    double primaries[3][2];   // R, G, B chromaticity (x, y)
    double white_point[2];
    double min_luminance, max_luminance; // cd/m2
    unsigned max_cll, max_fall;          // cd/m2
} vfx_hdr_metadata;

static inline void vfx_hdr_from_mastering(const AVMasteringDisplayMetadata *md, vfx_hdr_metadata *m) {
    m->has_primaries = md->has_primaries;
    m->has_luminance = md->has_luminance;
    for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) m->primaries[i][j] = av_q2d(md->display_primaries[i][j]);
    m->white_point[0] = av_q2d(md->white_point[0]); m->white_point[1] = av_q2d(md->white_point[1]);
    m->min_luminance = av_q2d(md->min_luminance); m->max_luminance = av_q2d(md->max_luminance);
}

static inline void vfx_hdr_to_mastering(const vfx_hdr_metadata *m, AVMasteringDisplayMetadata *md) {
    md->has_primaries = m->has_primaries;
    md->has_luminance = m->has_luminance;
    for (int i = 0; i < 3; i++) for (int j = 0; j < 2; j++) md->display_primaries[i][j] = av_make_q((int)(m->primaries[i][j] * 50000 + 0.5), 50000);
    md->white_point[0] = av_make_q((int)(m->white_point[0] * 50000 + 0.5), 50000);
    md->white_point[1] = av_make_q((int)(m->white_point[1] * 50000 + 0.5), 50000);
    md->min_luminance = av_make_q((int)(m->min_luminance * 10000 + 0.5), 10000);
    md->max_luminance = av_make_q((int)(m->max_luminance * 10000 + 0.5), 10000);
}

/// Reads HDR10 metadata a stream carries (MP4 mdcv/clli, Matroska colour elements); 1 if any.
static inline int vfx_hdr_from_stream(const AVStream *st, vfx_hdr_metadata *m) {
    memset(m, 0, sizeof(*m));
    size_t size = 0;
    int found = 0;
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_MASTERING_DISPLAY_METADATA);
    const uint8_t *md = sd ? sd->data : NULL; size = sd ? sd->size : 0;
#else
    const uint8_t *md = av_stream_get_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, &size);
#endif
    if (md && size >= sizeof(AVMasteringDisplayMetadata)) { vfx_hdr_from_mastering((const AVMasteringDisplayMetadata *)md, m); found = 1; }
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    sd = av_packet_side_data_get(st->codecpar->coded_side_data, st->codecpar->nb_coded_side_data, AV_PKT_DATA_CONTENT_LIGHT_LEVEL);
    const uint8_t *cl = sd ? sd->data : NULL; size = sd ? sd->size : 0;
#else
    const uint8_t *cl = av_stream_get_side_data(st, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, &size);
#endif
    if (cl && size >= sizeof(AVContentLightMetadata)) {
        const AVContentLightMetadata *c = (const AVContentLightMetadata *)cl;
        m->has_light = 1; m->max_cll = c->MaxCLL; m->max_fall = c->MaxFALL; found = 1;
    }
    return found;
}

/// Reads HDR10 metadata a decoded frame carries (HEVC/AV1 SEI and OBUs); 1 if any.
static inline int vfx_hdr_from_frame(const AVFrame *f, vfx_hdr_metadata *m) {
    memset(m, 0, sizeof(*m));
    int found = 0;
    AVFrameSideData *sd = av_frame_get_side_data(f, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
    if (sd) { vfx_hdr_from_mastering((const AVMasteringDisplayMetadata *)sd->data, m); found = 1; }
    sd = av_frame_get_side_data(f, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
    if (sd) {
        const AVContentLightMetadata *c = (const AVContentLightMetadata *)sd->data;
        m->has_light = 1; m->max_cll = c->MaxCLL; m->max_fall = c->MaxFALL; found = 1;
    }
    return found;
}

/// Attaches HDR10 metadata to an output stream, for muxers that write it (Matroska); FFmpeg's code.
static inline int vfx_hdr_to_stream(AVStream *st, const vfx_hdr_metadata *m) {
    if (m->has_primaries || m->has_luminance) {
        size_t size = 0;
        AVMasteringDisplayMetadata *md = av_mastering_display_metadata_alloc();
        if (!md) return AVERROR(ENOMEM);
        size = sizeof(*md);
        vfx_hdr_to_mastering(m, md);
#if LIBAVFORMAT_VERSION_MAJOR >= 61
        if (!av_packet_side_data_add(&st->codecpar->coded_side_data, &st->codecpar->nb_coded_side_data, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, md, size, 0)) { av_free(md); return AVERROR(ENOMEM); }
#else
        int r = av_stream_add_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, (uint8_t *)md, size);
        if (r < 0) { av_free(md); return r; }
#endif
    }
    if (m->has_light) {
        size_t size = 0;
        AVContentLightMetadata *c = av_content_light_metadata_alloc(&size);
        if (!c) return AVERROR(ENOMEM);
        c->MaxCLL = m->max_cll; c->MaxFALL = m->max_fall;
#if LIBAVFORMAT_VERSION_MAJOR >= 61
        if (!av_packet_side_data_add(&st->codecpar->coded_side_data, &st->codecpar->nb_coded_side_data, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, c, size, 0)) { av_free(c); return AVERROR(ENOMEM); }
#else
        int r = av_stream_add_side_data(st, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, (uint8_t *)c, size);
        if (r < 0) { av_free(c); return r; }
#endif
    }
    return 0;
}

#endif
