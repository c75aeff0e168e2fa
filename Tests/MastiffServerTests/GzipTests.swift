import CZlib
import MastiffServer
import Testing

@Suite struct GzipTests {
    @Test func roundTripsThroughZlib() throws {
        let text = String(repeating: "process_group_processes{group=\"sidekiq\"} 1\n", count: 500)
        let compressed = try Gzip.compress(Array(text.utf8))
        #expect(compressed.count < text.utf8.count / 10)
        #expect(compressed.prefix(2) == [0x1F, 0x8B])   // gzip magic
        #expect(try inflate(compressed) == Array(text.utf8))
    }

    @Test(arguments: [
        ("gzip", true), ("gzip, deflate, br", true), ("deflate, gzip;q=0.5", true), ("*", true),
        ("gzip;q=0", false), ("identity", false), ("", false), ("x-gzip-not", false),
    ])
    func acceptEncoding(header: String, accepted: Bool) {
        #expect(Gzip.isAccepted(by: header) == accepted)
    }

    private func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        #expect(inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: 1 << 20)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        #expect(status == Z_STREAM_END)
        return Array(output.prefix(Int(stream.total_out)))
    }
}
