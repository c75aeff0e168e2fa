import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs blocking work (reads under /proc, libpq, hiredis, libcurl) on threads of its own.
///
/// Swift's cooperative pool has one thread per core: two reads stuck in the kernel (a /proc file
/// of a process in D state, a dead TCP peer) would stall every task in the daemon, HTTP included.
/// Jobs never wait for each other: a job goes to an idle worker if there is one, else to a new
/// thread, so a worker stuck forever costs only its stack. Idle workers are kept for a minute, so
/// a daemon scraped every 15 s does not create threads on every scrape.
public enum BlockingWork {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            WorkerPool.shared.submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Starts `body` on a worker thread and returns at once: for a reader that ends by itself at
    /// its descriptor's end of file (a child process's stderr), which no task needs to await.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        WorkerPool.shared.submit(body)
    }

    /// Like `run`, but a cancelled caller stops waiting at once (CancellationError) while the
    /// work goes on to its own end on its thread, its result dropped: for a request whose
    /// answer nobody needs any more once its service is shutting down (a notification stays
    /// queued; a probe's scrape is over). The work must bound itself (a timeout).
    public static func runAbandoningOnCancel<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let waiter = Mutex<CheckedContinuation<T, Error>?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                waiter.withLock { $0 = continuation }
                // Cancelled before the continuation was stored: the handler found nothing to resume.
                if Task.isCancelled, let waiting = waiter.withLock({ $0.take() }) {
                    waiting.resume(throwing: CancellationError())
                    return
                }
                WorkerPool.shared.submit {
                    let result = Result { try body() }
                    waiter.withLock { $0.take() }?.resume(with: result)
                }
            }
        } onCancel: {
            waiter.withLock { $0.take() }?.resume(throwing: CancellationError())
        }
    }
}

/// Idle workers wait on their own condition, and a job is handed to one directly, so no job can
/// end up queued behind a busy worker.
private final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    final class Worker: @unchecked Sendable {
        var condition = pthread_cond_t()
        var job: (() -> Void)?
        init() { pthread_cond_init(&condition, nil) }
    }

    private var mutex = pthread_mutex_t()
    private var idle: [Worker] = []
    private let idleSeconds = 60

    private init() {
        pthread_mutex_init(&mutex, nil)
    }

    func submit(_ job: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        if let worker = idle.popLast() {
            worker.job = job
            pthread_cond_signal(&worker.condition)
            pthread_mutex_unlock(&mutex)
            return
        }
        pthread_mutex_unlock(&mutex)
        let worker = Worker()
        worker.job = job
        if !start(worker) {
            // No thread to be had: run inline rather than lose the work.
            job()
        }
    }

    private func start(_ worker: Worker) -> Bool {
        let context = Unmanaged.passRetained(Box(pool: self, worker: worker)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 512 * 1024)
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.pool.loop(box.worker)
            return nil
        }, context)
        if result != 0 {
            Unmanaged<Box>.fromOpaque(context).release()
            return false
        }
        return true
    }

    private final class Box {
        let pool: WorkerPool
        let worker: Worker
        init(pool: WorkerPool, worker: Worker) {
            self.pool = pool
            self.worker = worker
        }
    }

    private func loop(_ worker: Worker) {
        while true {
            pthread_mutex_lock(&mutex)
            let job = worker.job
            worker.job = nil
            pthread_mutex_unlock(&mutex)
            job?()

            pthread_mutex_lock(&mutex)
            idle.append(worker)
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += idleSeconds
            while worker.job == nil {
                if pthread_cond_timedwait(&worker.condition, &mutex, &deadline) == ETIMEDOUT, worker.job == nil {
                    // Still idle after a minute: leave, unless a job was handed over meanwhile.
                    idle.removeAll { $0 === worker }
                    pthread_mutex_unlock(&mutex)
                    return
                }
            }
            pthread_mutex_unlock(&mutex)
        }
    }
}
