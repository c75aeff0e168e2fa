#if canImport(Glibc)
import Glibc
#endif

/// This host's name, as gethostname(2) gives it.
public enum HostName {
    /// The full name ("social.example.org"); "localhost" when it cannot be read.
    public static var current: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// The first label ("social"): what backup keys and manifests name the host by.
    public static var short: String {
        let name = current.split(separator: ".").first.map(String.init) ?? ""
        return name.isEmpty ? "host" : name
    }
}
