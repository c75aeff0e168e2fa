import Logging
import Synchronization

/// A log handler that keeps every line in memory, so tests assert on what was logged.
public struct RecordingLogHandler: LogHandler {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    public final class Store: Sendable {
        private let entries = Mutex<[Entry]>([])
        public init() {}
        public var all: [Entry] { entries.withLock { $0 } }
        func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
        /// Whether any line contains `text` in its message or metadata values.
        public func contains(_ text: String) -> Bool {
            all.contains { $0.message.contains(text) || $0.metadata.values.contains { $0.contains(text) } }
        }
    }

    public let store: Store
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(store: Store) {
        self.store = store
    }

    /// A logger writing into a new store.
    public static func logger(label: String = "test") -> (Logger, Store) {
        let store = Store()
        return (Logger(label: label) { _ in RecordingLogHandler(store: store) }, store)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        let merged = metadata.merging(extra ?? [:]) { _, new in new }
        store.append(Entry(level: level, message: message.description, metadata: merged.mapValues(\.description)))
    }
}
