import Foundation
import Prometheus

/// What `GET /metrics` reports, in Prometheus' text format (swift-prometheus).
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let running: Gauge
    let downloadsWaiting: Gauge
    let duration: DurationHistogram
    let fps: ValueHistogram
    let downloadedBytes: Counter
    let uploadedBytes: Counter
    let webhookRetries: Counter
    let webhookFailures: Counter

    public init() {
        running = registry.makeGauge(name: "vfx_predictions_running", help: "Predictions running now")
        downloadsWaiting = registry.makeGauge(name: "vfx_downloads_waiting", help: "Downloads queued for a download slot")
        duration = registry.makeDurationHistogram(name: "vfx_prediction_duration_seconds",
                                                  buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800].map { .seconds($0) },
                                                  help: "Time from start to end of a prediction")
        fps = registry.makeValueHistogram(name: "vfx_prediction_fps", buckets: [5, 15, 30, 60, 120, 240, 480, 960],
                                          help: "Frames per second of finished predictions")
        downloadedBytes = registry.makeCounter(name: "vfx_downloaded_bytes_total", help: "Bytes of input videos downloaded")
        uploadedBytes = registry.makeCounter(name: "vfx_uploaded_bytes_total", help: "Bytes of output videos uploaded")
        webhookRetries = registry.makeCounter(name: "vfx_webhook_retries_total", help: "Webhook deliveries tried again")
        webhookFailures = registry.makeCounter(name: "vfx_webhook_failures_total", help: "Webhook deliveries given up")
        // Every status appears from the start, at zero.
        for status in ["succeeded", "failed", "canceled"] { _ = predictions(status) }
    }

    /// Predictions that ended, by status.
    func predictions(_ status: String) -> Counter {
        registry.makeCounter(name: "vfx_predictions_total", labels: [("status", status)], help: "Predictions that ended, by status")
    }

    /// A stream of a finished prediction: which decoder and encoder handled it, and on which device.
    func stream(kind: String, decoder: String, decoderDevice: String, encoder: String, encoderDevice: String) {
        registry.makeCounter(name: "vfx_streams_total",
                             labels: [("kind", kind), ("decoder", decoder), ("decoder_device", decoderDevice),
                                      ("encoder", encoder), ("encoder_device", encoderDevice)],
                             help: "Streams processed, by decoder and encoder and the device each ran on").increment()
    }

    /// A hardware encoder that was asked for but could not open, and the CPU encoder used instead.
    func fallback(requested: String, used: String) {
        registry.makeCounter(name: "vfx_encoder_fallbacks_total", labels: [("requested", requested), ("used", used)],
                             help: "Encoders asked for that fell back to another").increment()
    }

    /// The text `/metrics` serves.
    /// A job whose process ended without a result (a signal, a trap, a limit), by reason.
    func jobCrashed(_ reason: String) {
        registry.makeCounter(name: "vfx_job_crashes_total", labels: [("reason", reason)],
                             help: "Jobs whose process crashed or passed a limit, by reason").increment()
    }

    func exposition() -> String { registry.emitToString() }
}
