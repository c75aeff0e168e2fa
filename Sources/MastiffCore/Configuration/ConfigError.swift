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

    public var description: String {
        let key = keyPath.isEmpty ? "" : "\(keyPath): "
        return "\(file):\(mark.line):\(mark.column): \(key)\(message)"
    }
}
