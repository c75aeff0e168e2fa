/// Where the repository's files are, for tests that read checked-in fixtures, etc/ and the
/// built binary: found from this file's own path, so any test target can use it.
public enum RepositoryPaths {
    public static let root: String = {
        let file = #filePath
        guard let range = file.firstRange(of: "/Sources/MastiffTestSupport/") else { return "." }
        return String(file[..<range.lowerBound])
    }()
}
