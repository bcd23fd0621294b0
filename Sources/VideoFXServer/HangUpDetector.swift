import NIOCore
import NIOHTTPTypes

/// Watches one client connection: closes it when the first request's headers have not arrived within
/// the header timeout (a client holding half-sent headers holds nothing for long), and notices a
/// client that hangs up while its request is being answered.
///
/// The server keeps connections open for half-closure, so a client that closes its socket (FIN) shows
/// up as "input closed" rather than as a closed channel; an RST closes the channel. Either calls the
/// callbacks registered for the connection, once.
final class HangUpDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let headerTimeout: Double
    private var headerDeadline: Scheduled<Void>?
    private var hungUp = false
    private var callbacks: [@Sendable () -> Void] = []

    init(headerTimeout: Double) { self.headerTimeout = headerTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        headerDeadline = context.eventLoop.scheduleTask(in: .milliseconds(Int64(headerTimeout * 1000))) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { headerDeadline?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            headerDeadline?.cancel()
            headerDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        guard !hungUp else { return }
        hungUp = true
        let pending = callbacks
        callbacks = []
        for c in pending { c() }
    }

    /// Calls `action` when the client of `channel` hangs up (at once if it already has).
    static func onHangUp(of channel: any Channel, _ action: @escaping @Sendable () -> Void) {
        channel.eventLoop.execute {
            guard let detector = try? channel.pipeline.syncOperations.handler(type: HangUpDetector.self) else {
                channel.closeFuture.whenComplete { _ in action() }
                return
            }
            if detector.hungUp { action() } else { detector.callbacks.append(action) }
        }
    }
}
