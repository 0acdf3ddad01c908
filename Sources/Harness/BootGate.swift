import Foundation

/// Limits how many guests this process boots at once (by default one per
/// host CPU). The runner's scheduler already budgets CPUs and memory; the
/// gate also keeps many concurrent callers — Swift Testing runs tests in
/// parallel — from overcommitting a small host until guests time out.
public actor BootGate {
  /// The process-wide gate. `HARNESS_MAX_BOOTS` overrides the slot count.
  public static let shared = BootGate(
    slots: ProcessInfo.processInfo.environment["HARNESS_MAX_BOOTS"].flatMap(Int.init)
      ?? ProcessInfo.processInfo.activeProcessorCount)

  private var free: Int
  private var waiting: [CheckedContinuation<Void, Never>] = []

  /// A gate with `slots` boots at once.
  public init(slots: Int) { free = max(1, slots) }

  private func acquire() async {
    if free > 0 {
      free -= 1
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  private func release() {
    if waiting.isEmpty {
      free += 1
    } else {
      waiting.removeFirst().resume()
    }
  }

  /// Runs `body` while holding a boot slot.
  public func withSlot<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
    await acquire()
    defer { release() }
    return try await body()
  }
}
