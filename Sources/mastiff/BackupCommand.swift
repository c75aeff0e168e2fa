import Glibc
import MastiffAgent
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies

/// `mastiff backup …`. `run` goes through the running agent when one answers (so that the agent's
/// one-at-a-time rule and metrics apply), else runs here; the rest talk to the bucket directly.
struct BackupCommand {
    let arguments: CommandLineArguments
    let config: MastiffConfig

    func run() async -> Int32 {
        // Reading and restoring work with backups disabled on this host (a restore host, say), as
        // long as the storage is configured; BackupPlan names what is missing.
        let plan: BackupPlan
        do { plan = try BackupPlan(config: config) } catch { return fail(error.description) }
        do {
            switch arguments.subcommand {
            case "run": return await backupRun(plan)
            case "list": return try await list(plan)
            case "prune": return try await prune(plan)
            case "verify": return try await verify(plan)
            case "restore": return try await restore(plan)
            case "drill": return try await drill(plan)
            default: return fail("unknown subcommand")
            }
        } catch {
            return fail("\(error)")
        }
    }

    func fail(_ message: String) -> Int32 {
        StderrLogHandler.writeToStderr("mastiff: \(message)\n")
        return 1
    }

    var interactive: Bool { isatty(1) == 1 }

    static func progressLine(bytes: Double, parts: Int, elapsed: Double) -> String {
        let rate = elapsed > 0 ? bytes / elapsed : 0
        let minutes = Int(saturating: elapsed) / 60, seconds = Int(saturating: elapsed) % 60
        return "\(ByteSize.format(UInt64(bytes))) read, \(ByteSize.format(UInt64(rate)))/s, \(parts) parts uploaded, \(minutes):\(seconds < 10 ? "0" : "")\(seconds) elapsed"
    }

    func show(_ line: String, lastPrint: inout Double, now: Double) {
        if interactive {
            print("\r\u{1B}[K" + line, terminator: "")
            fflush(nil)
        } else if now - lastPrint >= 10 {
            print(line)
            fflush(nil)
            lastPrint = now
        }
    }

    // MARK: run

    func backupRun(_ plan: BackupPlan) async -> Int32 {
        let target = arguments.target ?? "postgres"
        if !arguments.standalone, let socket = config.controlSocket, access(socket, F_OK) == 0,
           let answer = try? ControlClient.request(.object(["command": .string("backup_run"), "target": .string(target)]), socket: socket) {
            guard answer["ok"] != .bool(false) else { return fail(answer["error"]?.string ?? "the agent refused") }
            print("queued in the running agent: backup/\(target)")
            return await follow(socket: socket, task: "backup/\(target)")
        }
        print("backing up \(target) here (no running agent answered\(arguments.standalone ? ", --standalone" : ""))")
        let progress = StreamUpload.Progress()
        let started = ContinuousClock.now
        // The progress line and the upload are the two children of one group; the line stops
        // when the upload ends, before anything else is printed.
        let outcome = await withTaskGroup(of: Result<BackupManifest, any Error>?.self) { tasks in
            tasks.addTask {
                var lastPrint = 0.0
                while !Task.isCancelled {
                    let elapsed = (ContinuousClock.now - started).seconds
                    show(Self.progressLine(bytes: Double(progress.bytes), parts: progress.parts, elapsed: elapsed), lastPrint: &lastPrint, now: elapsed)
                    try? await Task.sleep(for: .milliseconds(500))
                }
                return nil
            }
            tasks.addTask {
                do {
                    switch target {
                    case "postgres": return .success(try await plan.postgresBackup().run(progress: progress))
                    case "redis": return .success(try await plan.redisBackup().run(progress: progress))
                    default: return .success(try await plan.filesBackup().run(progress: progress))
                    }
                } catch {
                    return .failure(error)
                }
            }
            var outcome: Result<BackupManifest, any Error> = .failure(CancellationError())
            for await result in tasks {
                guard let result else { continue }
                outcome = result
                tasks.cancelAll()
            }
            return outcome
        }
        if interactive { print("") }
        do {
            let manifest = try outcome.get()
            let read = progress.readSeconds.map { " (read in \(Self.seconds($0)))" } ?? ""
            print("done: \(manifest.dataKey), \(ByteSize.format(UInt64(manifest.bytes))) in \(manifest.parts) parts of \(ByteSize.format(UInt64(manifest.partSize))), "
                + "\(Self.seconds(manifest.finishedAt - manifest.startedAt))\(read), sha256 \(manifest.sha256)")
            let decision = try await plan.prune(target: target, dryRun: false)
            for deleted in decision.delete { print("retention: deleted \(deleted.dataKey)") }
            return 0
        } catch {
            return fail("backup failed: \(error)")
        }
    }

    /// Seconds for people, to a tenth: `19.8 s`.
    static func seconds(_ value: Double) -> String {
        "\(Double(Int((value * 10).rounded())) / 10) s"
    }

    /// Polls the agent until the queued task has finished, showing its progress.
    func follow(socket: String, task: String) async -> Int32 {
        var lastPrint = 0.0
        let started = ContinuousClock.now
        while true {
            try? await Task.sleep(for: .milliseconds(500))
            guard let answer = try? ControlClient.request(.object(["command": .string("work")]), socket: socket) else {
                return fail("lost the agent while waiting for \(task)")
            }
            if let finished = answer["finished"]?[task] {
                if interactive { print("") }
                let result = finished["result"]?.string ?? "?"
                print("\(result): \(finished["message"]?.string ?? "")")
                return result == "success" ? 0 : 1
            }
            if let current = answer["current"], current["task"]?.string == task {
                show(Self.progressLine(bytes: current["bytes"]?.double ?? 0, parts: Int(saturating: current["parts"]?.double ?? 0), elapsed: current["elapsed"]?.double ?? 0),
                     lastPrint: &lastPrint, now: (ContinuousClock.now - started).seconds)
            }
        }
    }

    // MARK: list, prune

    func list(_ plan: BackupPlan) async throws -> Int32 {
        let (manifests, problems, _) = try await plan.storage.manifests(target: arguments.target)
        // Names and messages come from the bucket: escaped before they reach a terminal.
        for problem in problems { StderrLogHandler.writeToStderr("mastiff: manifest skipped: \(problem.escapingControlCharacters)\n") }
        if arguments.json {
            print("[" + manifests.map { $0.json().trimmingWhitespace }.joined(separator: ",\n") + "]")
            return 0
        }
        if manifests.isEmpty {
            print("no backups under \(plan.storage.prefix) in \(config.backups.storage.bucket)")
            return 0
        }
        let rows = manifests.reversed().map { manifest in
            [CalendarTime.utc(manifest.finishedAt).rfc3339, manifest.target, ByteSize.format(UInt64(manifest.bytes)), manifest.isEncrypted ? "yes" : "no",
             manifest.verifiedAt.map { CalendarTime.utc($0).date } ?? "no", manifest.dataKey]
        }
        printTable(["FINISHED (UTC)", "TARGET", "SIZE", "ENCRYPTED", "VERIFIED", "KEY"], rows.map { $0.map(\.escapingControlCharacters) })
        return 0
    }

    func printTable(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        for row in [header] + rows {
            print(row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count) }
                .joined(separator: "  "))
        }
    }

    func prune(_ plan: BackupPlan) async throws -> Int32 {
        for target in arguments.target.map({ [$0] }) ?? ["postgres", "redis", "files"] {
            let decision = try await plan.prune(target: target, dryRun: arguments.dryRun)
            if decision.keep.isEmpty && decision.delete.isEmpty { continue }
            print("\(target): keeping \(decision.keep.count), \(arguments.dryRun ? "would delete" : "deleted") \(decision.delete.count)")
            for kept in decision.keep { print("  keep    \(kept.manifest.dataKey)  (\(kept.reasons.joined(separator: ", ")))") }
            for deleted in decision.delete { print("  \(arguments.dryRun ? "would delete" : "deleted")  \(deleted.dataKey)") }
        }
        return 0
    }

    // MARK: verify, restore, drill

    func restorer(_ plan: BackupPlan) throws -> PostgresRestore {
        var restorer = try plan.restorer()
        if let path = arguments.identityFile {
            let text = try FileSystemAccess.readRegularFile(path, limit: 64 << 10)
            restorer.reader.identities = try AgeIdentity.parseFile(text)
        }
        return restorer
    }

    /// An unsigned manifest named by its key: the admin chose it, but is told what that means.
    func warnIfUnsigned(_ manifest: BackupManifest) {
        guard !manifest.authenticated else { return }
        StderrLogHandler.writeToStderr("mastiff: warning: \(manifest.manifestKey.escapingControlCharacters) is not signed with this cluster's manifest key: "
            + "its size and SHA-256 are checked against a manifest anyone with write access to the bucket could have written\n")
    }

    func verify(_ plan: BackupPlan) async throws -> Int32 {
        let manifest = try await plan.storage.find(arguments.files[0])
        warnIfUnsigned(manifest)
        if manifest.target != "postgres" {
            // An RDB file has no pg_restore: its size and SHA-256 (and decryption) are what is checked.
            try await restorer(plan).reader.stream(manifest) { _ in }
            print("ok: \(manifest.dataKey): \(ByteSize.format(UInt64(manifest.bytes))), SHA-256 matches the manifest")
            return 0
        }
        let report = try await restorer(plan).verify(manifest)
        print("ok: \(manifest.dataKey): \(ByteSize.format(UInt64(report.bytes))), SHA-256 matches the manifest\(manifest.isEncrypted ? ", decrypted" : ""), pg_restore lists \(report.entries) entries")
        return 0
    }

    func restore(_ plan: BackupPlan) async throws -> Int32 {
        if let directory = arguments.to {
            let manifest = try await plan.storage.find(arguments.files[0], target: "files")
            warnIfUnsigned(manifest)
            let entries = try await FilesRestore(reader: try restorer(plan).reader).restore(manifest, to: directory)
            print("restored \(manifest.dataKey) into \(directory) (\(entries) top-level entries); copy what you need from there")
            return 0
        }
        let manifest = try await plan.storage.find(arguments.files[0], target: "postgres")
        warnIfUnsigned(manifest)
        let database = arguments.into!
        let started = ContinuousClock.now
        try await restorer(plan).restore(manifest, into: database, jobs: arguments.jobs, force: arguments.force)
        print("restored \(manifest.dataKey) into \(database) in \(Int((ContinuousClock.now - started).seconds)) s")
        return 0
    }

    func drill(_ plan: BackupPlan) async throws -> Int32 {
        let manifest = try await plan.storage.find(arguments.files.first ?? "latest", target: "postgres")
        warnIfUnsigned(manifest)
        let report = try await restorer(plan).drill(manifest, scratch: config.backups.drill.scratchDatabase)
        print("ok: restored \(manifest.dataKey) into \(report.database) in \(Int(saturating: report.seconds)) s and dropped it; row counts equal: "
            + (report.compared.isEmpty ? "no tables counted" : report.compared.map { "\($0.table) \($0.restored)" }.joined(separator: ", ")))
        return 0
    }
}
