import CZlib

/// gzip compression of a response body with zlib (level 6 is zlib's own default balance).
public enum Gzip {
    public struct CompressionError: Error, CustomStringConvertible {
        let code: Int32
        public var description: String { "zlib error \(code)" }
    }

    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        guard mastiff_deflate_init_gzip(&stream, level) == Z_OK else { throw CompressionError(code: -1) }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw CompressionError(code: status) }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// Whether an Accept-Encoding header value allows gzip (and does not refuse it with q=0).
    public static func isAccepted(by acceptEncoding: String) -> Bool {
        for part in acceptEncoding.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.filter { $0 != " " } }
            guard let coding = pieces.first?.lowercased(), coding == "gzip" || coding == "*" else { continue }
            let refused = pieces.dropFirst().contains { $0 == "q=0" || $0 == "q=0.0" || $0 == "q=0.00" || $0 == "q=0.000" }
            return !refused
        }
        return false
    }
}
