import ErrorTaxonomy
import Foundation

/// Which addresses the server may open connections to (downloads, redirects, webhooks, uploads).
///
/// Link-local and cloud metadata addresses are always refused; loopback, private, shared (CGNAT) and
/// unique-local ranges are refused unless the operator allows private URLs. The check is made on the
/// resolved addresses, and the connection then goes to the address that was checked (see
/// ``OutboundHTTP``), so a name cannot resolve one way for the check and another for the connection.
public struct OutboundPolicy: Sendable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool = false) { self.allowPrivate = allowPrivate }

    /// Why a URL or address is refused.
    public struct Refusal: Error, CategorizedError, CustomStringConvertible, Sendable {
        /// A refused address is the request's fault.
        public var category: ErrorCategory { .invalidInput }
        public let reason: String
        /// The name did not resolve (rather than resolving somewhere forbidden).
        public var unresolved = false
        /// The address is a kind the policy refuses (rather than the URL being malformed).
        public var addressRefused = false
        public var description: String { reason }
    }

    /// What kind of address an IP literal is.
    enum Kind: Equatable { case global, loopback, privateRange, linkLocal, metadata, unspecified, multicast }

    /// The kind of an IPv4 or IPv6 address in text form; nil when it is not an address.
    static func kind(of ip: String) -> Kind? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            return kind(v4: withUnsafeBytes(of: v4.s_addr) { Array($0) })
        }
        guard inet_pton(AF_INET6, ip, &v6) == 1 else { return nil }
        let b = withUnsafeBytes(of: v6) { Array($0) }
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses are their IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return kind(v4: Array(b[12..<16])) }
        if b[0..<12].allSatisfy({ $0 == 0 }) && !(b[12..<15].allSatisfy { $0 == 0 } && b[15] <= 1) { return kind(v4: Array(b[12..<16])) }
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return .linkLocal }
        if b[0] == 0xff { return .multicast }
        if b[0] & 0xfe == 0xfc {
            // fd00:ec2::254 is AWS's metadata service over IPv6.
            if b[0] == 0xfd && b[1] == 0 && b[2] == 0x0e && b[3] == 0xc2 && b[4..<14].allSatisfy({ $0 == 0 }) && b[14] == 0x02 && b[15] == 0x54 {
                return .metadata
            }
            return .privateRange
        }
        // NAT64 (64:ff9b::/96) carries an IPv4 address too.
        if b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..<12].allSatisfy({ $0 == 0 }) {
            return kind(v4: Array(b[12..<16]))
        }
        return .global
    }

    private static func kind(v4 b: [UInt8]) -> Kind {
        switch (b[0], b[1]) {
        case (169, 254) where b[2] == 169 && b[3] == 254: return .metadata
        case (100, 100) where b[2] == 100 && b[3] == 200: return .metadata  // Alibaba Cloud
        case (169, 254): return .linkLocal
        case (0, _): return .unspecified
        case (127, _): return .loopback
        case (10, _), (192, 168): return .privateRange
        case (172, let x) where x & 0xf0 == 16: return .privateRange
        case (100, let x) where x & 0xc0 == 64: return .privateRange  // shared address space (CGNAT)
        case (224...239, _): return .multicast
        case (240...255, _): return .unspecified  // reserved and broadcast
        default: return .global
        }
    }

    /// Refuses an address this policy does not allow; `what` names the URL for the message.
    func check(address ip: String, for what: String) throws {
        guard let kind = Self.kind(of: ip) else { throw Refusal(reason: "\(what): \(ip) is not an IP address") }
        switch kind {
        case .global: return
        case .linkLocal, .metadata, .unspecified, .multicast:
            throw Refusal(reason: "\(what) resolves to \(ip), a link-local, metadata or reserved address, which is never allowed",
                          addressRefused: true)
        case .loopback, .privateRange:
            if !allowPrivate {
                throw Refusal(reason: "\(what) resolves to \(ip), a loopback or private address (allowed only with --allow-private-urls)",
                              addressRefused: true)
            }
        }
    }

    /// Resolves `host` and returns its addresses if every one of them is allowed.
    func resolve(host: String, port: Int, for what: String) throws -> [String] {
        let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if Self.kind(of: literal) != nil {
            try check(address: literal, for: what)
            return [literal]
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(literal, String(port), &hints, &result)
        guard code == 0, let first = result else {
            throw Refusal(reason: "\(what): cannot resolve \(literal): \(String(cString: gai_strerror(code)))", unresolved: true)
        }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(a.pointee.ai_addr, a.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let ip = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(ip) { addresses.append(ip) }
            }
            p = a.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw Refusal(reason: "\(what): \(literal) has no address") }
        // Every address must pass: a name that also points somewhere forbidden is refused outright.
        for ip in addresses { try check(address: ip, for: what) }
        return addresses
    }
}
