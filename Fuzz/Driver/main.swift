import Glibc
import MastiffFuzzEntries

// The libFuzzer driver over the entry `MASTIFF_FUZZ_TARGET` names (scripts/fuzz.sh sets it for
// each run). Linked with -sanitize=fuzzer; SwiftPM gives the executable its own main, which
// hands libFuzzer the command line through LLVMFuzzerRunDriver.

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

guard let name = getenv("MASTIFF_FUZZ_TARGET").map({ String(cString: $0) }), let chosen = FuzzEntries.targets[name] else {
    let message = Array("mastiff-fuzz: set MASTIFF_FUZZ_TARGET to one of: \(FuzzEntries.targets.keys.sorted().joined(separator: ", "))\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
nonisolated(unsafe) let entry = chosen

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runFuzzer(&argc, &argv) { data, size in
    entry(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
