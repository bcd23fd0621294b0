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

    /// A job whose process ended without a result (a signal, a trap, a limit), by reason.
    func jobCrashed(_ reason: String) {
        registry.makeCounter(name: "vfx_job_crashes_total", labels: [("reason", reason)],
                             help: "Jobs whose process crashed or passed a limit, by reason").increment()
    }

    // MARK: - The cluster's queue (nodes with --database)

    /// Tasks in each state across the cluster, on the one worker that reports them (nil: this worker does
    /// not, and shows none, so a sum over nodes counts each task once).
    func queueTasks(_ counts: [String: Int]?) {
        for state in ["queued", "running", "succeeded", "failed", "canceled"] {
            let gauge = registry.makeGauge(name: "vfx_queue_tasks", labels: [("state", state)],
                                           help: "Tasks by state across the cluster (reported by one worker only)")
            if let counts { gauge.set(Double(counts[state] ?? 0)) } else { registry.unregisterGauge(gauge) }
        }
    }

    // Registered on first use, so a node without a database shows none of them.
    /// How long a task waited in the queue before this node's worker claimed it.
    var queueWait: DurationHistogram {
        registry.makeDurationHistogram(name: "vfx_queue_wait_seconds",
                                       buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800].map { .milliseconds(Int64($0 * 1000)) },
                                       help: "Time from submit to claim of the tasks this node ran")
    }
    var queueRescues: Counter { registry.makeCounter(name: "vfx_queue_rescues_total", help: "Expired leases this node rescued") }
    var queueRetries: Counter {
        registry.makeCounter(name: "vfx_queue_retries_total", help: "Tasks this node queued again after a transient failure")
    }
    var listenerReconnects: Gauge {
        registry.makeGauge(name: "vfx_queue_listener_reconnects", help: "Times this node's LISTEN connection was made again")
    }
    var heartbeatAge: Gauge {
        registry.makeGauge(name: "vfx_worker_heartbeat_age_seconds", help: "Seconds since this worker last renewed its leases")
    }
    var outboxDepth: Gauge { registry.makeGauge(name: "vfx_webhook_outbox_depth", help: "Webhooks waiting in the cluster's outbox") }

    /// The text `/metrics` serves.
    func exposition() -> String { registry.emitToString() }
}
