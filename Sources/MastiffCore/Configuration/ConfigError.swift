/// A configuration problem, located at file:line:column and a dotted key path.
///
/// The message names the key and what was expected; it never repeats a secret's value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var mark: SourceMark
    public var keyPath: String
    public var message: String

    public init(file: String, mark: SourceMark, keyPath: String, message: String) {
        self.file = file
        self.mark = mark
        self.keyPath = keyPath
        self.message = message
    }

    /// A file that could not be read at all: there is no position to name.
    public init(unreadable file: String, _ error: FileSystemAccess.RegularFileError) {
        self.init(file: file, mark: SourceMark(line: 0, column: 0), keyPath: "", message: "\(error)")
    }

    public var description: String {
        // Line 0: the error is about the file as a whole, and its message names it.
        if mark.line == 0 { return message }
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(mark.line):\(mark.column): \(key)\(message)"
    }
}
