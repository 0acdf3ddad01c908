/// Admits matrix cells by CPUs, memory and a cap on concurrent cells.
///
/// A cell is admitted when its CPUs and memory fit into what is left of
/// the budget and fewer than `maxConcurrent` cells run. A cell larger
/// than the whole budget is admitted once nothing else runs, so it runs
/// alone instead of never. Waiters are admitted strictly in priority order
/// (lowest first: the scheduler passes the matrix index), so a large cell
/// at the head is not overtaken by smaller ones and cannot starve.
public actor ResourcePool {
  /// The budget.
  public let capacity: HostResources
  /// At most this many cells at once.
  public let maxConcurrent: Int

  private var used = HostResources(cpus: 0, memoryMiB: 0)
  private var running = 0
  private var peak = 0
  private var waiters: [(id: UInt64, priority: Int, need: HostResources, continuation: CheckedContinuation<Bool, Never>)] = []
  private var nextID: UInt64 = 0

  /// A pool with `capacity`, running at most `maxConcurrent` cells.
  public init(capacity: HostResources, maxConcurrent: Int = .max) {
    self.capacity = capacity
    self.maxConcurrent = max(1, maxConcurrent)
  }

  /// Cells running now, and the most that ever ran at once.
  public var occupancy: (running: Int, peak: Int) { (running, peak) }

  /// Waits until `need` is admitted; among waiters, lower `priority`
  /// values go first. Returns false (holding nothing) when the task was
  /// cancelled while waiting.
  public func acquire(_ need: HostResources, priority: Int = .max) async -> Bool {
    if Task.isCancelled { return false }
    if waiters.allSatisfy({ $0.priority > priority }) && fits(need) {
      take(need)
      return true
    }
    nextID += 1
    let id = nextID
    return await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let index = waiters.firstIndex { $0.priority > priority } ?? waiters.endIndex
        waiters.insert((id, priority, need, continuation), at: index)
      }
    } onCancel: {
      Task { await self.cancel(id) }
    }
  }

  /// Gives back what an admitted cell held and admits waiters that now fit.
  public func release(_ need: HostResources) {
    used.cpus -= need.cpus
    used.memoryMiB -= need.memoryMiB
    running -= 1
    admit()
  }

  private func fits(_ need: HostResources) -> Bool {
    if running == 0 { return true }
    return running < maxConcurrent && used.cpus + need.cpus <= capacity.cpus
      && used.memoryMiB + need.memoryMiB <= capacity.memoryMiB
  }

  private func take(_ need: HostResources) {
    used.cpus += need.cpus
    used.memoryMiB += need.memoryMiB
    running += 1
    peak = max(peak, running)
  }

  private func admit() {
    while let head = waiters.first, fits(head.need) {
      waiters.removeFirst()
      take(head.need)
      head.continuation.resume(returning: true)
    }
  }

  private func cancel(_ id: UInt64) {
    guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
    let waiter = waiters.remove(at: index)
    waiter.continuation.resume(returning: false)
    admit()
  }
}
