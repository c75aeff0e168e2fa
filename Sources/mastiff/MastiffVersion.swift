enum MastiffVersion {
    static let current = "0.1.0"
    #if compiler(>=6.3)
    static let swift = "6.3"
    #elseif compiler(>=6.2)
    static let swift = "6.2"
    #else
    static let swift = "6"
    #endif
}
