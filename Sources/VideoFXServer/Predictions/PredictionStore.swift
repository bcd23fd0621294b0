/// Where predictions are kept: what a GET, an idempotent PUT and a cancel are answered from. One
/// process keeps them in memory (``MemoryPredictionStore``); a store shared by several nodes
/// implements the same protocol.
public protocol PredictionStore: Sendable {
    /// Stores a new prediction; when one is already stored under its id, stores nothing and returns that one.
    func insert(_ prediction: Prediction) async throws -> Prediction?
    /// The prediction with `id`, running or finished; nil when none is kept.
    func prediction(id: String) async throws -> Prediction?
    /// Saves a stored prediction's new state (status, logs, output, metrics).
    func update(_ prediction: Prediction) async throws
}

/// Predictions in this process's memory: every running one, and finished ones within a count and a
/// byte budget (``FinishedPredictions``), so a long-running server does not hold every output.
public actor MemoryPredictionStore: PredictionStore {
    private var running: [String: Prediction] = [:]
    private var finished: FinishedPredictions

    public init(keepFinished: Int, keepFinishedBytes: Int) {
        finished = FinishedPredictions(maxCount: keepFinished, maxBytes: keepFinishedBytes)
    }

    public func insert(_ prediction: Prediction) -> Prediction? {
        if let stored = running[prediction.id] ?? finished[prediction.id] { return stored }
        if prediction.status.isTerminal { finished.insert(prediction) } else { running[prediction.id] = prediction }
        return nil
    }

    public func prediction(id: String) -> Prediction? { running[id] ?? finished[id] }

    public func update(_ prediction: Prediction) {
        guard prediction.status.isTerminal else { running[prediction.id] = prediction; return }
        running[prediction.id] = nil
        finished.insert(prediction)
    }
}
