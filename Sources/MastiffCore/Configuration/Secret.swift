/// A credential read from the configuration. Its description is always `<redacted>`, so string
/// interpolation into a log line, an error or /metrics cannot leak it; `reveal()` is the one way
/// to get the value, and is only called where the value is handed to a library.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) { self.value = value }

    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    public struct ResolutionError: Error, Sendable { public var message: String }

    /// `file:/path` reads the file (one trailing newline dropped); `${NAME}` anywhere in the text is
    /// replaced by that environment variable; anything else is literal.
    public static func resolve(_ text: String, environment: (String) -> String?) throws(ResolutionError) -> Secret {
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw ResolutionError(message: "'file:' needs a path") }
            do {
                var contents = try FileSystemAccess.readRegularFile(path, limit: 64 * 1024)
                if contents.hasSuffix("\r\n") { contents.removeLast(2) } else if contents.hasSuffix("\n") { contents.removeLast() }
                return Secret(contents)
            } catch {
                throw ResolutionError(message: "secret file: \(error)")
            }
        }
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRangeOfReferenceOpening() {
            result += rest[..<start.lowerBound]
            let afterOpen = rest[start.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else {
                throw ResolutionError(message: "unterminated '${' in a secret reference (${NAME}); a secret containing '${' must come from file:")
            }
            let name = String(afterOpen[..<close])
            guard MetricName.isValidLabelName(name) || name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                  !name.isEmpty else {
                // The text between the braces is not repeated: it may be part of a password that
                // happens to contain "${".
                throw ResolutionError(message: "a '${' does not start a valid environment variable reference (${NAME}: letters, digits, _); a secret containing '${' must come from file:")
            }
            guard let value = environment(name) else {
                throw ResolutionError(message: "environment variable \(name) is not set")
            }
            result += value
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        result += rest
        return Secret(result)
    }
}

extension Substring {
    /// The range of the first "${", without pulling in the string-processing library.
    fileprivate func firstRangeOfReferenceOpening() -> Range<Substring.Index>? {
        var index = startIndex
        while index < endIndex {
            let next = self.index(after: index)
            if self[index] == "$", next < endIndex, self[next] == "{" {
                return index..<self.index(after: next)
            }
            index = next
        }
        return nil
    }
}
