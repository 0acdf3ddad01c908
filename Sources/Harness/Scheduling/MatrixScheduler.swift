import Foundation
import Synchronization

/// How one matrix cell ended in a scheduled run.
public struct CellOutcome: Sendable {
  /// What happened to the cell.
  public enum State: Sendable, Equatable {
    /// It ran to a verdict (see `result`).
    case finished
    /// It was running when the run was interrupted; QEMU was killed.
    case interrupted
    /// The run was interrupted before it started.
    case notRun
    /// Its payload could not be built or QEMU could not be started.
    case error(String)
  }

  /// Position of the cell in the list given to the scheduler.
  public var index: Int
  /// The cell.
  public var cell: MatrixCell
  /// How it ended.
  public var state: State
  /// The built payload, if the build succeeded.
  public var payload: Payload?
  /// The last attempt's result (nil when no attempt finished).
  public var result: GuestResult?
  /// The verdict of every attempt, in order.
  public var attemptVerdicts: [Verdict] = []
  /// The results of attempts before the last one (failed ones that were retried).
  public var earlierResults: [GuestResult] = []
  /// Launch-to-verdict interval of every attempt.
  public var attemptIntervals: [Range<ContinuousClock.Instant>] = []

  /// Runs made.
  public var attempts: Int { attemptVerdicts.count }
  /// Failed at least once, then passed.
  public var flaky: Bool { result?.verdict == .passed && attemptVerdicts.count > 1 }
  /// Whether this cell makes the run fail: a failing final verdict or an error.
  public var isFailure: Bool {
    switch state {
    case .finished: result?.verdict.isFailure ?? true
    case .error: true
    case .interrupted, .notRun: false
    }
  }

  /// `FLAKY` for a flaky cell, `INTERRUPTED`, `NOT-RUN`, `ERROR`, else the verdict.
  public var label: String {
    switch state {
    case .interrupted: "INTERRUPTED"
    case .notRun: "NOT-RUN"
    case .error: "ERROR"
    case .finished: flaky ? "FLAKY" : result?.verdict.rawValue ?? "ERROR"
    }
  }
}

/// What the scheduler reports while it runs (from any task; in no order
/// across cells).
public enum SchedulerEvent: Sendable {
  /// A payload build started (once per guest and architecture).
  case buildStarted(guest: String, architecture: Architecture)
  /// It finished (with the error when it failed).
  case buildFinished(guest: String, architecture: Architecture, error: String?)
  /// An attempt of a cell started (resources admitted).
  case cellStarted(index: Int, cell: MatrixCell, attempt: Int)
  /// An attempt failed and the cell will be retried.
  case attemptFailed(index: Int, cell: MatrixCell, attempt: Int, result: GuestResult)
  /// A cell is done (also sent for interrupted and not-run cells).
  case cellFinished(CellOutcome)
}

/// Runs matrix cells in parallel within the host's resources.
///
/// Each distinct payload (guest, architecture) is built once per run, by
/// its own task, at most `maxConcurrentBuilds` at a time, while cells whose
/// payload is ready boot. A cell waits for its payload, then for the
/// resource pool to admit its CPUs and memory, then boots; a failed
/// attempt (FAIL, CRASH, TIMEOUT, PROTOCOL-ERROR) is retried up to
/// `retries` times while the cell keeps its resources. Every attempt gets
/// `harness.attempt=<n>` on the guest command line.
///
/// Cancelling the task that calls `run` interrupts the run: QEMU process
/// groups are killed, running cells end `interrupted`, waiting ones
/// `notRun`, and `run` still returns every outcome.
public struct MatrixScheduler: Sendable {
  /// Settings of a scheduled run.
  public struct Options: Sendable {
    /// This machine's resources the cells booted here may use together
    /// (the budget of its pool; hosts of a libvirt pool keep their own).
    public var budget: HostResources
    /// `-j`: at most this many cells at once (nil: only resources limit).
    public var maxConcurrentCells: Int?
    /// Re-runs of a failed cell.
    public var retries: Int
    /// Payload builds at once.
    public var maxConcurrentBuilds: Int

    /// Options; the budget defaults to the host's free CPUs and memory.
    public init(
      budget: HostResources = .available(), maxConcurrentCells: Int? = nil, retries: Int = 0,
      maxConcurrentBuilds: Int? = nil
    ) {
      self.budget = budget
      self.maxConcurrentCells = maxConcurrentCells
      self.retries = max(0, retries)
      self.maxConcurrentBuilds = max(1, maxConcurrentBuilds ?? budget.cpus)
    }
  }

  /// The pipeline for one cell.
  public var runner: GuestRunner
  /// The settings.
  public var options: Options
  /// How a payload is obtained (default: the runner's builder builds it);
  /// tests without guests hand out prepared payloads.
  public var buildPayload: @Sendable (String, Architecture) async throws -> Payload

  /// A scheduler.
  public init(runner: GuestRunner, options: Options = Options()) {
    self.runner = runner
    self.options = options
    let builder = runner.builder
    buildPayload = { guest, architecture in
      try await builder.build(try builder.workspace.program(named: guest), for: architecture)
    }
  }

  /// Runs `cells` and returns their outcomes in the order of `cells`.
  ///
  /// Admission is per host (`HostPools`): this machine's pool has
  /// `options.budget`; a launcher that places cells on its hosts itself
  /// (a libvirt pool, `GuestLauncher.host == nil`) admits them in each
  /// host's own budget, so the run adds no second budget over them. `-j`
  /// caps the cells running at once over every host.
  public func run(
    _ cells: [MatrixCell], events: @escaping @Sendable (SchedulerEvent) -> Void = { _ in }
  ) async -> [CellOutcome] {
    let admission = Admission(
      pools: HostPools(local: options.budget, maxConcurrent: .max),
      jobs: ResourcePool(
        capacity: HostResources(cpus: .max / 2, memoryMiB: .max / 2),
        maxConcurrent: options.maxConcurrentCells ?? .max),
      host: runner.launcher.host)
    let builds = PayloadBuilds(
      build: buildPayload, slots: Slots(options.maxConcurrentBuilds), events: events)
    let priorities = Self.admissionPriorities(cells, budget: options.budget)
    // Started in priority order too: with cached payloads the cells reach
    // admission about in that order, and admission keeps it among waiters.
    let startOrder = cells.indices.sorted { priorities[$0] < priorities[$1] }
    return await withTaskGroup(of: CellOutcome.self) { group in
      for index in startOrder {
        let cell = cells[index]
        group.addTask {
          let outcome = await runCell(
            cell, index: index, priority: priorities[index], admission: admission, builds: builds,
            events: events)
          events(.cellFinished(outcome))
          return outcome
        }
      }
      var outcomes: [CellOutcome?] = Array(repeating: nil, count: cells.count)
      for await outcome in group { outcomes[outcome.index] = outcome }
      return outcomes.map { $0! }
    }
  }

  /// The admission priority of each cell (lower first): the cells that
  /// need more than half of `budget`'s CPUs first, most CPUs first (each of
  /// them runs alone whatever `-j` says), then the others, each group in
  /// matrix order.
  ///
  /// Admission is strictly in priority order, so that a large cell cannot
  /// starve. In plain matrix order every large cell in the middle of the
  /// matrix kept the cells behind it waiting while the cell before it
  /// finished, one CPU idle: on this 2-CPU host (35 of the 85 TCG cells have
  /// 2 or 4 vCPUs) `-j 2` was barely faster than `-j 1`. With the large
  /// cells first, the small ones then pack the CPUs to the end.
  static func admissionPriorities(_ cells: [MatrixCell], budget: HostResources) -> [Int] {
    let order = cells.indices.sorted { left, right in
      let (a, b) = (cells[left].settings.cpus, cells[right].settings.cpus)
      let (largeA, largeB) = (a * 2 > budget.cpus, b * 2 > budget.cpus)
      if largeA != largeB { return largeA }
      if largeA && a != b { return a > b }
      return left < right
    }
    var priorities = Array(repeating: 0, count: cells.count)
    for (rank, index) in order.enumerated() { priorities[index] = rank }
    return priorities
  }

  /// A run's admission: a `-j` slot, then the cell's resources in the pool
  /// of the launcher's host (none when the launcher admits on its hosts).
  struct Admission: Sendable {
    var pools: HostPools
    var jobs: ResourcePool
    var host: HostKey?

    /// Waits for both, in matrix order (`priority`); false (holding
    /// nothing) when cancelled meanwhile.
    func acquire(_ need: HostResources, priority: Int) async -> Bool {
      guard await jobs.acquire(need, priority: priority) else { return false }
      guard let host else { return true }
      guard await pools.pool(for: host).acquire(need, priority: priority) else {
        await jobs.release(need)
        return false
      }
      return true
    }

    func release(_ need: HostResources) async {
      if let host { await pools.pool(for: host).release(need) }
      await jobs.release(need)
    }
  }

  private func runCell(
    _ cell: MatrixCell, index: Int, priority: Int, admission: Admission, builds: PayloadBuilds,
    events: @Sendable (SchedulerEvent) -> Void
  ) async -> CellOutcome {
    var outcome = CellOutcome(index: index, cell: cell, state: .notRun)
    let payload: Payload
    do {
      payload = try await builds.payload(cell.guest, cell.settings.architecture)
    } catch {
      if Task.isCancelled { return outcome }
      outcome.state = .error("\(error)")
      return outcome
    }
    outcome.payload = payload
    let need = HostResources(cell: cell)
    guard await admission.acquire(need, priority: priority) else { return outcome }
    if Task.isCancelled {
      await admission.release(need)
      return outcome
    }
    for attempt in 1...(options.retries + 1) {
      events(.cellStarted(index: index, cell: cell, attempt: attempt))
      let start = ContinuousClock.now
      let result: GuestResult
      do {
        result = try await runner.run(cell, payload: payload, attempt: attempt, admitted: true)
      } catch {
        outcome.state = Task.isCancelled ? .interrupted : .error("\(error)")
        break
      }
      outcome.attemptIntervals.append(start..<ContinuousClock.now)
      if result.interrupted || Task.isCancelled && result.verdict.isFailure {
        outcome.state = .interrupted
        if let previous = outcome.result { outcome.earlierResults.append(previous) }
        outcome.result = result
        break
      }
      if let previous = outcome.result { outcome.earlierResults.append(previous) }
      outcome.result = result
      outcome.attemptVerdicts.append(result.verdict)
      outcome.state = .finished
      guard result.verdict.isFailure, attempt <= options.retries, !Task.isCancelled else { break }
      events(.attemptFailed(index: index, cell: cell, attempt: attempt, result: result))
    }
    await admission.release(need)
    return outcome
  }
}

/// Counting semaphore for build slots.
actor Slots {
  private var free: Int
  private var waiters: [CheckedContinuation<Void, Never>] = []

  init(_ count: Int) { free = max(1, count) }

  func acquire() async {
    if free > 0 {
      free -= 1
      return
    }
    await withCheckedContinuation { waiters.append($0) }
  }

  func release() {
    if waiters.isEmpty {
      free += 1
    } else {
      waiters.removeFirst().resume()
    }
  }
}

/// One build task per (guest, architecture), shared by every cell that
/// needs the payload. Waiting for a build is cancellable (an interrupted
/// run does not wait for compilers); the build itself finishes.
actor PayloadBuilds {
  private struct Key: Hashable {
    var guest: String
    var architecture: Architecture
  }

  private enum Entry {
    case building(waiters: [(id: UInt64, continuation: CheckedContinuation<Payload, any Error>)])
    case done(Result<Payload, any Error>)
  }

  private let build: @Sendable (String, Architecture) async throws -> Payload
  private let slots: Slots
  private let events: @Sendable (SchedulerEvent) -> Void
  private var entries: [Key: Entry] = [:]
  private var nextID: UInt64 = 0

  init(
    build: @escaping @Sendable (String, Architecture) async throws -> Payload, slots: Slots,
    events: @escaping @Sendable (SchedulerEvent) -> Void
  ) {
    self.build = build
    self.slots = slots
    self.events = events
  }

  /// The payload, built once by a task of its own and awaited by every
  /// caller; throws `CancellationError` when the caller is cancelled first.
  func payload(_ guest: String, _ architecture: Architecture) async throws -> Payload {
    let key = Key(guest: guest, architecture: architecture)
    if case .done(let result)? = entries[key] { return try result.get() }
    if entries[key] == nil {
      entries[key] = .building(waiters: [])
      let (build, slots, events) = (build, slots, events)
      // Detached: hashing inputs and compiling must not run on this actor.
      Task.detached {
        await slots.acquire()
        events(.buildStarted(guest: guest, architecture: architecture))
        let result: Result<Payload, any Error>
        do {
          result = .success(try await build(guest, architecture))
        } catch {
          result = .failure(error)
        }
        await slots.release()
        if case .failure(let error) = result {
          events(.buildFinished(guest: guest, architecture: architecture, error: "\(error)"))
        } else {
          events(.buildFinished(guest: guest, architecture: architecture, error: nil))
        }
        await self.finish(key, result)
      }
    }
    try Task.checkCancellation()
    nextID += 1
    let id = nextID
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        if case .building(var waiters)? = entries[key] {
          waiters.append((id, continuation))
          entries[key] = .building(waiters: waiters)
        } else if case .done(let result)? = entries[key] {
          continuation.resume(with: result)
        }
      }
    } onCancel: {
      Task { await self.cancel(key, id) }
    }
  }

  private func finish(_ key: Key, _ result: Result<Payload, any Error>) {
    if case .building(let waiters)? = entries[key] {
      for waiter in waiters { waiter.continuation.resume(with: result) }
    }
    entries[key] = .done(result)
  }

  private func cancel(_ key: Key, _ id: UInt64) {
    guard case .building(var waiters)? = entries[key],
      let index = waiters.firstIndex(where: { $0.id == id })
    else { return }
    let waiter = waiters.remove(at: index)
    entries[key] = .building(waiters: waiters)
    waiter.continuation.resume(throwing: CancellationError())
  }
}
