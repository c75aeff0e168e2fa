/// Where the repository's files are, for tests that read checked-in fixtures, etc/ and the
/// built binary: found from this file's own path, so any test target can use it.
public enum RepositoryPaths {
    public static let root: String = {
        let file = #filePath
        guard let range = file.firstRange(of: "/Sources/MastiffTestSupport/") else { return "." }
        return String(file[..<range.lowerBound])
    }()
}

#if canImport(Glibc)
import Glibc
#endif

/// Where tests make scratch files: $TMPDIR (scripts/test.sh points it at a directory it removes
/// when the run ends), else /tmp.
public enum ScratchDirectory {
    public static var path: String {
        guard let value = getenv("TMPDIR"), value.pointee != 0 else { return "/tmp" }
        return String(cString: value)
    }

    /// A mkdtemp/mkstemp template: `<scratch>/<name>-XXXXXX`.
    public static func template(_ name: String) -> String { path + "/" + name + "-XXXXXX" }
}
