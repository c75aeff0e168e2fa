import MastiffCore
import MastiffTestSupport
import Testing

/// etc/mastiff.yml is the reference for every key: it must parse, and the values it shows must
/// be the embedded defaults, or the comments would lie.
@Suite struct ShippedConfigTests {
    static let repositoryRoot = RepositoryPaths.root

    @Test func annotatedConfigShowsTheEmbeddedDefaults() throws {
        let path = Self.repositoryRoot + "/etc/mastiff.yml"
        let config = try ConfigLoader.load(.file(path))
        #expect(config == MastiffConfig())
    }

    /// Every key the parser accepts (the sections' own declarations, which the parser reads) is written
    /// in etc/mastiff.yml, as a key or, for list items, in the comment that describes them.
    @Test func everyKeyInTheParserIsDocumented() throws {
        let text = try FileSystemAccess.readFile(Self.repositoryRoot + "/etc/mastiff.yml")
        for (section, keys) in ConfigLoader.schema {
            for key in keys {
                let written = text.contains("\(key):") || (section.hasSuffix("[]") && text.contains("# \(key) ") || text.contains("#   \(key) "))
                #expect(written, "etc/mastiff.yml does not document \(section.isEmpty ? key : section + "." + key)")
            }
        }
    }
}
