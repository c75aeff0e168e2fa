import MastiffCore
import Testing

/// Mastodon's .env.production as the dotenv gem reads it, and the YAML init writes values into.
@Suite struct DotEnvTests {
    @Test func linesAsTheDotenvGemReadsThem() {
        let text = """
        # Generated with mastodon:setup
        LOCAL_DOMAIN=social.example
        export REDIS_HOST=127.0.0.1
        DB_PASS="pa:ss\\\\w0rd \\"quoted\\""
        SMTP_FROM_ADDRESS='Mastodon <notifications@social.example>'
        S3_BUCKET=files # the media bucket
        EMPTY=
          SPACED = value  \r
        not a line
        LOCAL_DOMAIN=later.example
        """
        let env = DotEnv.parse(text)
        #expect(env["LOCAL_DOMAIN"] == "later.example", "a later line wins")
        #expect(env["REDIS_HOST"] == "127.0.0.1")
        #expect(env["DB_PASS"] == #"pa:ss\w0rd "quoted""#)
        #expect(env["SMTP_FROM_ADDRESS"] == "Mastodon <notifications@social.example>")
        #expect(env["S3_BUCKET"] == "files")
        #expect(env["EMPTY"] == "")
        #expect(env["SPACED"] == "value")
        #expect(env.count == 7)
    }

    @Test(arguments: ["plain", "with \"quotes\" and \\ backslash", "new\nline", "tab\t", "\u{7}bell", "#comment", "key: value", "ünï\u{2028}"])
    func yamlQuotedTextReadsBackAsItself(_ value: String) throws {
        let config = try ConfigLoader.parse("collectors: {sidekiq: {namespace: \(YAMLText.quoted(value))}}\n", file: "y.yml")
        #expect(config.collectors.sidekiq.namespace == value)
    }
}
