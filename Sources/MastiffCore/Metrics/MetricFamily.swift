/// The Prometheus metric types mastiff emits (text format 0.0.4).
public enum MetricType: String, Sendable, Equatable {
    case counter, gauge, histogram, summary, untyped
}

/// A label name and value. Kept as an ordered array on samples: label order is part of a stable
/// exposition, and families are small enough that dictionaries would only cost memory.
public struct Label: Sendable, Equatable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One line of exposition: `name{labels} value`. `suffix` is appended to the family name for
/// histogram and summary parts (`_bucket`, `_sum`, `_count`).
public struct Sample: Sendable, Equatable {
    public var suffix: String
    public var labels: [Label]
    public var value: Double
    public init(suffix: String = "", labels: [Label], value: Double) {
        self.suffix = suffix
        self.labels = labels
        self.value = value
    }
}

/// A named family with its help text, type and samples.
public struct MetricFamily: Sendable, Equatable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var samples: [Sample]
    public init(name: String, help: String, type: MetricType, samples: [Sample] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples
    }
}

public enum MetricName {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    public static func isValidMetricName(_ name: String) -> Bool {
        isValid(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not reserved (`__` prefix).
    public static func isValidLabelName(_ name: String) -> Bool {
        isValid(name, allowColon: false) && !name.hasPrefix("__")
    }

    private static func isValid(_ name: String, allowColon: Bool) -> Bool {
        var first = true
        for byte in name.utf8 {
            let isColon = byte == 0x3A && allowColon
            if first {
                guard byte.isNameStartByte || isColon else { return false }
                first = false
            } else {
                guard byte.isNameByte || isColon else { return false }
            }
        }
        return !first
    }
}

extension UInt8 {
    /// `[A-Za-z_]`: a byte that may start a metric or label name.
    public var isNameStartByte: Bool { (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) || self == 0x5F }
    /// `[0-9]`.
    public var isDigitByte: Bool { self >= 0x30 && self <= 0x39 }
    /// `[A-Za-z0-9_]`: a byte that may follow the first in a label name.
    public var isNameByte: Bool { isNameStartByte || isDigitByte }
}
