#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import MastiffTestSupport
import Testing

/// The configuration file as a careless admin leaves it: too big, two documents, a FIFO, a
/// directory, unreadable, tab-indented. Each is refused with a message that names the problem,
/// and nothing is read in part.
@Suite struct ConfigFileTests {
    private func scratch(_ name: String) -> String {
        var template = Array(ScratchDirectory.template("mastiff-config").utf8CString)
        let directory = String(cString: mkdtemp(&template)!)
        return directory + "/" + name
    }

    private func write(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func loadError(_ path: String) -> String? {
        do {
            _ = try ConfigLoader.load(.file(path))
            return nil
        } catch {
            return error.description
        }
    }

    /// It used to be cut at 1 MiB and reported valid while a key past the cut was ignored.
    @Test func aFileOverTheLimitIsRefusedNamingTheLimit() {
        let path = scratch("big.yml")
        write("listen: 127.0.0.1:9815\n" + String(repeating: "#", count: ConfigLoader.maxFileSize) + "\nbogus: 1\n", to: path)
        #expect(loadError(path) == "\(path) is larger than the limit of 1MiB")
    }

    @Test func aFileJustUnderTheLimitIsRead() throws {
        let path = scratch("padded.yml")
        let head = "listen: 127.0.0.1:9900\n"
        write(head + String(repeating: "#", count: ConfigLoader.maxFileSize - head.utf8.count - 1) + "\n", to: path)
        #expect(try ConfigLoader.load(.file(path)).listen.port == 9900)
    }

    @Test func aSecondDocumentIsRefused() {
        let path = scratch("two.yml")
        write("listen: 127.0.0.1:9815\n---\nbogus: 1\n", to: path)
        #expect(loadError(path) == "\(path):2:1: YAML syntax error: a second YAML document ('---') is not allowed: the file holds one document")
    }

    @Test func anExplicitSingleDocumentIsFine() throws {
        let path = scratch("one.yml")
        write("---\nlisten: 127.0.0.1:9901\n...\n", to: path)
        #expect(try ConfigLoader.load(.file(path)).listen.port == 9901)
    }

    /// A FIFO blocked check-config and SIGHUP forever, waiting for a writer.
    @Test func aFIFOOrDirectoryIsRefusedAtOnce() {
        let fifo = scratch("fifo.yml")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(loadError(fifo) == "\(fifo) is a FIFO, not a regular file")
        let directory = scratch("")
        #expect(loadError(directory) == "\(directory) is a directory, not a regular file")
    }

    /// No made-up position (it was `path:0:0`) for a file that cannot be read at all.
    @Test func aMissingFileSaysCannotReadWithoutAPosition() {
        let path = scratch("missing.yml")
        #expect(loadError(path) == "cannot read \(path): No such file or directory")
    }

    @Test func tabIndentationIsNamed() {
        let path = scratch("tabs.yml")
        write("collectors:\n\tsystem: {}\n", to: path)
        #expect(loadError(path) == "\(path):2:1: YAML syntax error: a tab character: YAML is indented with spaces, not tabs")
    }
}
