public enum MastiffVersion {
    public static let current = "0.1.0"
    #if compiler(>=6.3)
    public static let swift = "6.3"
    #elseif compiler(>=6.2)
    public static let swift = "6.2"
    #else
    public static let swift = "6"
    #endif
}
