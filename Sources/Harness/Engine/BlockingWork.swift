import Foundation

/// Work that blocks a thread (a synchronous C call such as libvirt's, a
/// socket conversation, hashing megabytes in a debug build) runs on a
/// thread of its own, never on Swift concurrency's cooperative pool.
///
/// That pool has one thread per CPU. On a 2-CPU host two blocking calls
/// were enough to stop every other task: the run engine's timers fired
/// tens of seconds late and a guest's silence timeout was reported as the
/// deadline.
public enum BlockingWork {
  /// Runs `work` on a new thread and returns its result.
  public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      Thread.detachNewThread { continuation.resume(returning: work()) }
    }
  }

  /// Runs `work` on a new thread and returns its result or its error.
  public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
  }
}
