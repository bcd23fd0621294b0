import Foundation
import Synchronization

/// One prediction's events, fanned out: to its SSE listeners at once, and to its webhook one delivery at
/// a time, in order, the terminal one last, each carrying the whole prediction as it stood. A `logs`
/// webhook still waiting is replaced by a newer one, and `logs` go out at most every half second.
final class PredictionEvents: Sendable {
    /// What an SSE client sees.
    enum Event: Sendable { case start(Prediction), log(String), output(Prediction), completed(Prediction) }

    private struct State {
        var listeners: [UUID: AsyncStream<Event>.Continuation] = [:]
        var queue: [(event: WebhookEvent, snapshot: Prediction)] = []
        var worker: Task<Void, Never>?
        var lastLogs = ContinuousClock.now - .seconds(1)
        var finished = false
    }
    private let state = Mutex(State())
    private let webhook: (url: String, filter: Set<WebhookEvent>, sender: WebhookSender)?

    /// Events for a prediction whose request named `webhook` (with its filter; nil: every event; empty:
    /// the terminal one only, as Cog does).
    init(webhook url: String? = nil, filter: [String]? = nil, sender: WebhookSender? = nil) {
        if let url, let sender { webhook = (url, WebhookEvent.selected(by: filter), sender) } else { webhook = nil }
    }

    /// Events from now on; a listener that arrives after the start still sees it, and one that arrives
    /// after the end sees only the end.
    func subscribe(current: Prediction) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        state.withLock { s in
            if s.finished || current.status.isTerminal {
                continuation.yield(.completed(current)); continuation.finish()
            } else {
                if current.status == .processing { continuation.yield(.start(current)) }
                s.listeners[UUID()] = continuation
            }
        }
        return stream
    }

    /// Publishes one event with the prediction as it stands (`logs` events are throttled for webhooks).
    /// Returns the task delivering the webhooks, for the terminal one.
    @discardableResult
    func publish(_ event: Event, _ prediction: Prediction) -> Task<Void, Never>? {
        let kind: WebhookEvent
        switch event {
        case .start: kind = .start
        case .log: kind = .logs
        case .output: kind = .output
        case .completed: kind = .completed
        }
        return state.withLock { s -> Task<Void, Never>? in
            for c in s.listeners.values { c.yield(event) }
            if kind == .completed {
                for c in s.listeners.values { c.finish() }
                s.listeners.removeAll()
                s.finished = true
            }
            guard let webhook, webhook.filter.contains(kind) else { return nil }
            if kind == .logs {
                guard ContinuousClock.now - s.lastLogs >= .milliseconds(500) else { return nil }
                s.lastLogs = .now
            }
            let item = (event: kind, snapshot: prediction)
            if kind == .logs, s.queue.last?.event == .logs { s.queue[s.queue.count - 1] = item } else { s.queue.append(item) }
            if s.worker == nil { s.worker = Task { await self.deliver(to: webhook.url, webhook.sender) } }
            return s.worker
        }
    }

    /// Sends the queued webhooks one after another until none is left.
    private func deliver(to url: String, _ sender: WebhookSender) async {
        while let next = state.withLock({ s -> (event: WebhookEvent, snapshot: Prediction)? in
            if Task.isCancelled { s.queue.removeAll() }
            guard !s.queue.isEmpty else { s.worker = nil; return nil }
            return s.queue.removeFirst()
        }) {
            await sender.send(next.snapshot, to: url, terminal: next.event == .completed)
        }
    }
}
