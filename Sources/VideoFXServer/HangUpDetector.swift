import NIOCore

/// Notices a client that hangs up while its request is being answered.
///
/// The server keeps connections open for half-closure, so a client that closes its socket (FIN) shows
/// up as "input closed" rather than as a closed channel; an RST closes the channel. Either calls the
/// callbacks registered for the connection, once.
final class HangUpDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var hungUp = false
    private var callbacks: [@Sendable () -> Void] = []

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
