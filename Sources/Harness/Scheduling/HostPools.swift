import Foundation
import Synchronization

/// One resource pool per host: this machine is one, each libvirt daemon
/// (by URI) another. A guest booted on a remote host never takes a slot of
/// this machine, and a busy remote host never holds back local guests.
public final class HostPools: Sendable {
  private let pools: Mutex<[HostKey: ResourcePool]>

  /// This process's pools: every `GuestRunner` shares them (unless given
  /// its own), so that the runners of concurrent callers — Swift Testing
  /// runs suites and test cases in parallel — never boot more guests at
  /// once than this machine's one pool admits.
  public static let shared = HostPools()

  /// Pools with `local` as this machine's budget and at most
  /// `maxConcurrent` local guests at once (default: `HARNESS_MAX_BOOTS`,
  /// else one per CPU this process may use).
  public init(local: HostResources = .available(), maxConcurrent: Int? = nil) {
    let cap =
      maxConcurrent ?? ProcessInfo.processInfo.environment["HARNESS_MAX_BOOTS"].flatMap(Int.init)
      ?? local.cpus
    pools = Mutex([.local: ResourcePool(capacity: local, maxConcurrent: cap)])
  }

  /// Sets the budget of `host` (a libvirt daemon's capacity).
  public func register(_ host: HostKey, capacity: HostResources, maxConcurrent: Int = .max) {
    pools.withLock { $0[host] = ResourcePool(capacity: capacity, maxConcurrent: maxConcurrent) }
  }

  /// The pool of `host`; a host never registered gets one without limits
  /// (its launcher keeps its budget).
  public func pool(for host: HostKey) -> ResourcePool {
    pools.withLock { pools in
      if let pool = pools[host] { return pool }
      let pool = ResourcePool(capacity: HostResources(cpus: .max / 2, memoryMiB: .max / 2))
      pools[host] = pool
      return pool
    }
  }

  /// Runs `body` once `host` admitted `need`; nil (without running it)
  /// when the task was cancelled while waiting.
  public func withAdmission<T: Sendable>(
    _ host: HostKey, _ need: HostResources, priority: Int = .max,
    _ body: () async throws -> T
  ) async rethrows -> T? {
    let pool = pool(for: host)
    guard await pool.acquire(need, priority: priority) else { return nil }
    do {
      let value = try await body()
      await pool.release(need)
      return value
    } catch {
      await pool.release(need)
      throw error
    }
  }
}
