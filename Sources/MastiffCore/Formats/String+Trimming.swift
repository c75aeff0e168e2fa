extension Substring {
    /// Without leading and trailing whitespace: spaces, tabs and newlines ("\r\n", a single
    /// Character in Swift, included). The one trim of the code base; formats with a narrower
    /// rule (the exposition format's spaces, SigV4's header values) say so where they trim.
    public var trimmingWhitespace: Substring {
        var slice = self
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}

extension String {
    /// Without leading and trailing whitespace (see `Substring.trimmingWhitespace`).
    public var trimmingWhitespace: String { String(Substring(self).trimmingWhitespace) }
}
