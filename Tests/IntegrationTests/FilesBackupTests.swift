import Foundation
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffTestSupport
import Testing

/// The files backup: mastiff's tar against Debian's tar, then `.env.production` and a directory
/// backed up to moto, age-encrypted, and restored twice: with Debian's `age -d | tar -x` (no
/// mastiff needed) and with `mastiff backup restore --to`.
@Suite(.serialized) struct FilesBackupTests {
    /// A tree with what an installation holds: a secret file, nested directories, a path longer
    /// than ustar's 100 bytes, an empty file, sizes around the 512-byte blocks, and a link.
    static func tree() throws -> URL {
        let root = try Harness.temporaryDirectory().appendingPathComponent("live")
        let deep = root.appendingPathComponent("config/" + String(repeating: "very-long-directory-name-", count: 5) + "/nginx")
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        try "SECRET_KEY_BASE=files-backup-secret-0123456789\nACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY=ar-key\n"
            .write(to: root.appendingPathComponent(".env.production"), atomically: true, encoding: .utf8)
        try Data(repeating: 0x41, count: 513).write(to: deep.appendingPathComponent("site-with-a-name-that-makes-the-path-long.conf"))
        try Data().write(to: root.appendingPathComponent("empty"))
        try Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: root.appendingPathComponent("config/blob.bin"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("current").path, withDestinationPath: ".env.production")
        return root
    }

    /// Every regular file's bytes and every link's target under `root`, by relative path.
    static func contents(_ root: URL) throws -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            let path = root.appendingPathComponent(relative).path
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                result[relative] = "-> " + link
            } else if let data = FileManager.default.contents(atPath: path), !(enumerator?.fileAttributes?[.type] as? FileAttributeType == .typeDirectory) {
                result[relative] = data.base64EncodedString()
            }
        }
        return result
    }

    @Test func debiansTarReadsMastiffsArchive() throws {
        let root = try Self.tree()
        let source = TarArchiveSource(paths: [root.path])
        var archive: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 777)
        while true {
            let got = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if got == 0 { break }
            archive += buffer[0..<got]
        }
        #expect(archive.count % 512 == 0)
        let directory = try Harness.temporaryDirectory()
        let file = directory.appendingPathComponent("live.tar").path
        try Data(archive).write(to: URL(fileURLWithPath: file))
        let listed = try Harness.run("/usr/bin/tar", ["-tvf", file])
        #expect(listed.status == 0 && listed.stderr.isEmpty, "\(listed.stderr)")
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let extracted = try Harness.run("/usr/bin/tar", ["-xf", file, "-C", out.path])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        // Stored without the leading "/": the tree comes back under out/ with its full path.
        let restored = out.appendingPathComponent(String(root.path.dropFirst()))
        #expect(try Self.contents(restored) == Self.contents(root))
        #expect(source.entries == 9, "9 entries: live, .env.production, config, the deep directories, the files and the link")
    }

    @Test func aFilesBackupIsEncryptedAndRestoresWithAgeAndTarOrWithMastiff() async throws {
        let root = try Self.tree()
        let keyDirectory = try Harness.temporaryDirectory()
        let keyFile = keyDirectory.appendingPathComponent("key.txt").path
        #expect(try Harness.run(try Harness.which("age-keygen"), ["-o", keyFile]).status == 0)
        let recipient = try Harness.run(try Harness.which("age-keygen"), ["-y", keyFile]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let prefix = "files-\(UUID().uuidString.prefix(8))/"
        let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\ninstance: {env_file: \(root.path)/.env.production}\n"
            + (try BackupAgentTests.backupsSection(prefix: prefix, schedule: "@yearly"))
            + "  encryption: {recipients: [\(recipient)], identity_file: \(keyFile)}\n"
            + "  files: {enabled: true, paths: [\(root.path)/.env.production, \(root.path)/config]}\n")
        let run = try Harness.run(Harness.binary, ["backup", "run", "--target", "files", "--standalone", "--config", config])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // The summary says the part size used (the configured 5 MiB) and how long reading took.
        #expect(run.stdout.contains("in 1 parts of 5MiB, "), "\(run.stdout)")
        #expect(run.stdout.range(of: #"read in \d+\.\d s\)"#, options: .regularExpression) != nil, "\(run.stdout)")
        #expect(!run.stdout.contains("files-backup-secret") && !run.stderr.contains("files-backup-secret"))
        let list = try Harness.run(Harness.binary, ["backup", "list", "--json", "--config", config])
        #expect(list.stdout.contains("\"target\": \"files\"") || list.stdout.contains("\"target\":\"files\""), "\(list.stdout)")
        let dataKey = try #require(list.stdout.split(separator: "\"").first { $0.hasPrefix(prefix + "files/") && $0.hasSuffix(".tar.age") })

        // Without mastiff: the object, decrypted by age, unpacked by tar.
        let work = try Harness.temporaryDirectory()
        let object = work.appendingPathComponent("files.tar.age").path
        #expect(try BackupIntegrationTests.aws(["s3", "cp", "s3://\(try Harness.environment("MASTIFF_TEST_S3_BUCKET"))/\(dataKey)", object]).status == 0)
        let sealed = try Data(contentsOf: URL(fileURLWithPath: object))
        #expect(sealed.starts(with: Array("age-encryption.org/v1".utf8)))
        #expect(!String(decoding: sealed, as: UTF8.self).contains("files-backup-secret"))
        let plain = work.appendingPathComponent("files.tar").path
        #expect(try Harness.run(try Harness.which("age"), ["-d", "-i", keyFile, "-o", plain, object]).status == 0)
        let byAge = work.appendingPathComponent("by-age")
        try FileManager.default.createDirectory(at: byAge, withIntermediateDirectories: true)
        #expect(try Harness.run("/usr/bin/tar", ["-xf", plain, "-C", byAge.path]).status == 0)
        let restoredRoot = byAge.appendingPathComponent(String(root.path.dropFirst()))
        var expected = try Self.contents(root)
        expected = expected.filter { $0.key == ".env.production" || $0.key.hasPrefix("config/") }
        #expect(try Self.contents(restoredRoot) == expected)

        // With mastiff: into a new directory; an existing, non-empty one is refused.
        let byMastiff = work.appendingPathComponent("by-mastiff").path
        let restore = try Harness.run(Harness.binary, ["backup", "restore", "latest", "--to", byMastiff, "--config", config])
        #expect(restore.status == 0, "\(restore.stdout)\(restore.stderr)")
        #expect(try Self.contents(URL(fileURLWithPath: byMastiff).appendingPathComponent(String(root.path.dropFirst()))) == expected)
        let again = try Harness.run(Harness.binary, ["backup", "restore", "latest", "--to", byMastiff, "--config", config])
        #expect(again.status == 1 && again.stderr.contains("is not empty"), "\(again.stderr)")
        let verify = try Harness.run(Harness.binary, ["backup", "verify", String(dataKey), "--config", config])
        #expect(verify.status == 0 && verify.stdout.hasPrefix("ok: "), "\(verify.stdout)\(verify.stderr)")
    }

    @Test func anUnencryptedFilesBackupIsRefusedAtLoad() throws {
        let config = try Harness.writeConfig(collectors: [:], try BackupAgentTests.backupsSection(prefix: "x/", schedule: "@yearly")
            + "  files: {enabled: true}\n")
        let check = try Harness.run(Harness.binary, ["check-config", "--config", config])
        #expect(check.status != 0 && check.stderr.contains("backups.files: a files backup holds the instance's secrets and is always encrypted"), "\(check.stderr)")
    }
}
