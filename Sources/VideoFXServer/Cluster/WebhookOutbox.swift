import Foundation
import Logging
import Queue

/// Sends the cluster's webhooks from the outbox, on every node: claims the next one (in order per
/// prediction), POSTs it, and records the outcome. A node that dies holding one lets another take it
/// when the claim runs out, so each event is sent at least once; the terminal one is retried with
/// backoff within the configured budget, the others are tried once, as in one process.
struct WebhookOutbox: Sendable {
    let queue: TaskQueue
    let sender: WebhookSender
    let node: String
    let logger = Logger(label: "vfx.webhooks")

    func run() async {
        while !Task.isCancelled {
            guard let item = try? await queue.claimWebhook(node: node) else {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            let attempt = await sender.post(Data(item.body.utf8), to: item.url)
            var retryAfter: Double?
            switch attempt {
            case .delivered: break
            case .refused: sender.metrics.webhookFailures.increment()
            case .retry:
                // Bounded by the attempt count (each try may be made by another node).
                if item.terminal, let delay = sender.retryDelay(after: item.attempt, started: .now) {
                    retryAfter = delay
                    sender.metrics.webhookRetries.increment()
                } else {
                    sender.metrics.webhookFailures.increment()
                }
            }
            do {
                try await queue.settleWebhook(item, node: node, sent: attempt == .delivered, retryAfter: retryAfter)
            } catch {
                logger.warning("recording webhook \(item.id) of prediction \(item.predictionID) failed: \(error); it may be sent again")
            }
        }
    }
}
