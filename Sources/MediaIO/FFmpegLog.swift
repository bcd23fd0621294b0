import CFFmpeg

/// FFmpeg's own console messages.
public enum FFmpegLog {
    /// Quiet keeps FFmpeg to fatal messages (VideoFX reports problems itself); verbose shows warnings and info.
    public static func configure(verbose: Bool) {
        av_log_set_level(verbose ? AV_LOG_INFO : AV_LOG_FATAL)
    }
}
