#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs blocking work (reads under /proc, libpq, hiredis, libcurl) on its own short-lived thread.
///
/// Swift's cooperative pool has one thread per core: two reads stuck in the kernel (a /proc file
/// of a process in D state, a dead TCP peer) would stall every task in the daemon, HTTP included.
/// A thread per call costs tens of microseconds, which is nothing at scrape rates, and a thread
/// that never returns only costs its stack.
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job = Job {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            let context = Unmanaged.passRetained(job).toOpaque()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            pthread_attr_setstacksize(&attributes, 512 * 1024)
            var thread = pthread_t()
            let result = pthread_create(&thread, &attributes, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                job.body()
                return nil
            }, context)
            pthread_attr_destroy(&attributes)
            if result != 0 {
                // No thread to be had: run inline rather than fail the work.
                Unmanaged<Job>.fromOpaque(context).takeRetainedValue().body()
            }
        }
    }

    private final class Job: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}
