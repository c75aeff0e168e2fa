/// Conversions from floating point that never trap. Every number that reaches an `Int` from
/// outside mastiff (a rule's value, a state file, a manifest, a Retry-After header, a control
/// request) goes through one of these: Swift's `Int(Double)` aborts the process on NaN, an
/// infinity or anything past ±9.2e18.
extension Int {
    /// Rounded toward zero and clamped to `Int`'s range; NaN is 0.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.223372036854775807e18 {   // 2^63: the first Double past Int.max
            self = .max
        } else if value <= -9.223372036854775808e18 {
            self = .min
        } else {
            self = Int(value)
        }
    }

    /// The value when it is a whole number Double holds exactly (|x| ≤ 2^53), else nil: for
    /// counts, sizes and sequence numbers read from a file, where anything else is corrupt.
    public init?(exactWhole value: Double) {
        guard value.isFinite, value == value.rounded(), Swift.abs(value) <= 9_007_199_254_740_992 else { return nil }
        self = Int(value)
    }
}

extension Int64 {
    /// Rounded toward zero and clamped to `Int64`'s range; NaN is 0.
    public init(saturating value: Double) {
        self = Int64(Int(saturating: value))
    }
}
