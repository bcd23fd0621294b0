// What FFmpeg says on a thread while a call runs, kept for the error that call raises.
#ifndef VFX_FFMPEG_LOG_CAPTURE_H
#define VFX_FFMPEG_LOG_CAPTURE_H

/// Starts keeping this thread's FFmpeg messages (verbose and worse), forgetting earlier ones; other
/// threads' messages and the console output are unchanged.
void vfx_log_capture_begin(void);

/// Stops keeping them; returns what was kept (valid until the next capture on this thread).
const char *vfx_log_capture_end(void);

#endif
