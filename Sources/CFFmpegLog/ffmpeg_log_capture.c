#include "ffmpeg_log_capture.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/log.h>

static __thread char text[1024];
static __thread int capturing;

static void callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (capturing && level <= AV_LOG_VERBOSE) {
        size_t used = strlen(text);
        if (used < sizeof(text) - 1) {
            va_list copy;
            va_copy(copy, vl);
            vsnprintf(text + used, sizeof(text) - used, fmt, copy);
            va_end(copy);
        }
    }
    av_log_default_callback(avcl, level, fmt, vl);
}

void vfx_log_capture_begin(void) {
    av_log_set_callback(callback);
    text[0] = 0;
    capturing = 1;
}

const char *vfx_log_capture_end(void) {
    capturing = 0;
    return text;
}
