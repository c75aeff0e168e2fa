#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOSSL
import Synchronization

/// The TLS context HTTPS connections are served with (swift-nio-ssl, BoringSSL; ADR 21), built
/// from the web configuration's tls_server_config. The certificate, key and client CA files are
/// looked at again for each new connection (a stat each): when one changed — a certbot renewal —
/// the next connection gets a context built from the new files, without a restart. A file that
/// does not load keeps the context in use, with an error logged once per change.
public final class TLSServerContext: Sendable {
    private struct Current {
        var stamps: [FileStamp]
        var context: NIOSSLContext
    }

    private struct FileStamp: Equatable {
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var modifiedNanoseconds: Int64
    }

    private let settings: WebConfig.TLS
    private let logger: Logger
    private let current: Mutex<Current>

    /// Fails (with the file named) when the files do not make a context.
    public init(_ settings: WebConfig.TLS, logger: Logger) throws(TLSSetupError) {
        self.settings = settings
        self.logger = logger
        current = Mutex(Current(stamps: Self.stamps(settings), context: try Self.context(settings)))
    }

    /// The context for a new connection: rebuilt first when a file changed.
    public func context() -> NIOSSLContext {
        let stamps = Self.stamps(settings)
        let (context, changed) = current.withLock { current in (current.context, current.stamps != stamps) }
        guard changed else { return context }
        do {
            let fresh = try Self.context(settings)
            current.withLock { $0 = Current(stamps: stamps, context: fresh) }
            logger.info("TLS certificate files changed: new connections use them", metadata: ["tls.cert_file": "\(settings.certFile)"])
            return fresh
        } catch {
            // Not tried again until the files change once more.
            current.withLock { $0.stamps = stamps }
            logger.error("TLS certificate files changed but do not load; serving with the previous ones", metadata: ["error": "\(error)"])
            return context
        }
    }

    private static func stamps(_ settings: WebConfig.TLS) -> [FileStamp] {
        ([settings.certFile, settings.keyFile] + (settings.clientCAFile.map { [$0] } ?? [])).map { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return FileStamp(inode: 0, size: -1, modified: 0, modifiedNanoseconds: 0) }
            return FileStamp(inode: UInt64(info.st_ino), size: Int64(info.st_size), modified: Int64(info.st_mtim.tv_sec),
                             modifiedNanoseconds: Int64(info.st_mtim.tv_nsec))
        }
    }

    private static func context(_ settings: WebConfig.TLS) throws(TLSSetupError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(settings.certFile).map { NIOSSLCertificateSource.certificate($0) }
            guard !chain.isEmpty else { throw TLSSetupError("\(settings.certFile): no certificate in the file") }
            let key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = settings.minVersion
            configuration.maximumTLSVersion = settings.maxVersion
            if let suites = settings.cipherSuites { configuration.cipherSuiteValues = suites }
            if let curves = settings.curves { configuration.curves = curves }
            switch settings.clientAuth {
            case .none:
                configuration.certificateVerification = .none
            case .verifyIfGiven, .requireAndVerify:
                let roots = try NIOSSLCertificate.fromPEMFile(settings.clientCAFile ?? "")
                configuration.trustRoots = .certificates(roots)
                configuration.sendCANameList = true
                // The server checks the chain, not a host name (clients have none to check).
                configuration.certificateVerification = settings.clientAuth == .requireAndVerify ? .noHostnameVerification : .optionalVerification
            }
            return try NIOSSLContext(configuration: configuration)
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError("TLS setup from \(settings.certFile) and \(settings.keyFile) failed: \(error)")
        }
    }
}

public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
