import Foundation
import Synchronization
import Testing

@testable import Harness

/// The scheduler, retries, FLAKY, interrupts and per-host admission with
/// the fake backend: no compiler, no QEMU.
@Suite("Scheduler (fake backend)")
struct FakeSchedulerTests {
  static func payload(_ guest: String, _ architecture: Architecture) -> Payload {
    Payload(
      program: GuestProgram(name: guest, directory: "/nonexistent/\(guest)", isNegative: false),
      architecture: architecture, elf: "/nonexistent/\(guest).elf",
      bootImage: "/nonexistent/\(guest).bin", sources: [:], cached: true)
  }

  static func cell(_ guest: String, cpus: Int = 1) -> MatrixCell {
    MatrixCell(
      guest: guest,
      settings: LaunchSettings(
        architecture: .x86_64, accelerator: .tcg, cpus: cpus, timeout: .seconds(600),
        silenceTimeout: .seconds(600)))
  }

  /// The attempt number the scheduler passed on the guest command line.
  static func attempt(_ request: MachineRequest) -> Int {
    request.settings.guestArguments.compactMap { argument -> Int? in
      argument.hasPrefix("harness.attempt=") ? Int(argument.dropFirst(16)) : nil
    }.last ?? 0
  }

  /// Guests by name: `pass`, `fail`, `flaky` (fails its first attempt),
  /// `hang`, `slow` (passes after 50 ms).
  static func backend() -> FakeBackend {
    FakeBackend { request in
      let pass = FakeGuest.exits(FakeGuest.ktap([("t", true)]), status: 0)
      let fail = FakeGuest.exits(FakeGuest.ktap([("t", false)]), status: 1)
      switch request.guest {
      case "fail": return FakeScript(steps: fail)
      case "flaky": return FakeScript(steps: attempt(request) == 1 ? fail : pass)
      case "hang": return FakeScript(steps: [.write("KTAP version 1\n"), .hang])
      case "slow": return FakeScript(steps: [.wait(.milliseconds(50))] + pass)
      default: return FakeScript(steps: pass)
      }
    }
  }

  static func scheduler(
    _ backend: FakeBackend, cpus: Int = 4, jobs: Int? = nil, retries: Int = 0
  ) -> MatrixScheduler {
    var runner = GuestRunner(builder: TestSupport.runner.builder)
    runner.launcher = EngineLauncher(backend)
    var scheduler = MatrixScheduler(
      runner: runner,
      options: MatrixScheduler.Options(
        budget: HostResources(cpus: cpus, memoryMiB: 1 << 16), maxConcurrentCells: jobs,
        retries: retries))
    scheduler.buildPayload = { guest, architecture in payload(guest, architecture) }
    return scheduler
  }

  @Test func aFailedAttemptThatPassesOnRetryIsFlaky() async {
    let backend = Self.backend()
    let outcomes = await Self.scheduler(backend, retries: 2).run([Self.cell("flaky"), Self.cell("fail")])
    #expect(outcomes[0].label == "FLAKY")
    #expect(outcomes[0].attemptVerdicts == [.failed, .passed])
    #expect(outcomes[0].earlierResults.map(\.verdict) == [.failed])
    #expect(!outcomes[0].isFailure)
    // A cell that fails every time keeps its last verdict after 1 + 2 runs.
    #expect(outcomes[1].label == "FAIL")
    #expect(outcomes[1].attemptVerdicts == [.failed, .failed, .failed])
    #expect(outcomes[1].isFailure)
    #expect(backend.ledger.snapshot.started.filter { $0.hasPrefix("fail") }.count == 3)
  }

  @Test func withoutRetriesAFailureIsFinal() async {
    let outcomes = await Self.scheduler(Self.backend()).run([Self.cell("flaky")])
    #expect(outcomes[0].label == "FAIL")
    #expect(outcomes[0].attempts == 1)
  }

  /// One CPU of budget: the cells run one at a time; the first to reach
  /// admission runs at once (the cells' tasks start concurrently, so that
  /// may be any of them), the waiting ones follow in matrix order.
  @Test func aOneCPUBudgetRunsCellsOneAtATimeWaitersInOrder() async {
    let backend = Self.backend()
    let cells = ["a", "b", "c", "d"].map { Self.cell("slow", cpus: 1).renamed($0) }
    let outcomes = await Self.scheduler(backend, cpus: 1).run(cells)
    #expect(outcomes.map(\.label) == ["PASS", "PASS", "PASS", "PASS"])
    #expect(backend.ledger.snapshot.peak == 1)
    let started = backend.ledger.snapshot.started.map { String($0.split(separator: "|")[1].prefix(1)) }
    #expect(Set(started) == ["a", "b", "c", "d"])
    #expect(Array(started.dropFirst()) == ["a", "b", "c", "d"].filter { $0 != started.first }, "\(started)")
  }

  /// Cells that need more than half of the CPUs are admitted first, most
  /// CPUs first; the small ones then run two at a time on 2 CPUs, in matrix
  /// order. Outcomes stay in matrix order.
  @Test func largeCellsGoFirstAndSmallOnesPackTheCPUs() async {
    let backend = Self.backend()
    let cells = [
      Self.cell("slow").renamed("a"), Self.cell("slow", cpus: 2).renamed("B"),
      Self.cell("slow").renamed("c"), Self.cell("slow", cpus: 4).renamed("D"),
      Self.cell("slow").renamed("e"), Self.cell("slow").renamed("f"),
    ]
    let outcomes = await Self.scheduler(backend, cpus: 2, jobs: 2).run(cells)
    #expect(outcomes.map(\.cell.id) == cells.map(\.id))
    #expect(outcomes.allSatisfy { $0.label == "PASS" })
    // (The first cell to reach admission may be any whose payload came
    // first; admission keeps the order among those that wait.)
    let started = backend.ledger.snapshot.started.map { String($0.split(separator: "|")[1].prefix(1)) }
    #expect(Set(started) == ["a", "B", "c", "D", "e", "f"])
    // Both large cells before c, e and f (in matrix order c came before D,
    // and D, waiting at the head, then held e and f back while c ran).
    for large in ["B", "D"] {
      for small in ["c", "e", "f"] {
        #expect(started.firstIndex(of: large)! < started.firstIndex(of: small)!, "\(started)")
      }
    }
    #expect(backend.ledger.snapshot.peak == 2, "small cells ran two at a time")
    #expect(
      MatrixScheduler.admissionPriorities(cells, budget: HostResources(cpus: 8, memoryMiB: 1 << 16))
        == [0, 1, 2, 3, 4, 5], "on 8 CPUs no cell is large: matrix order")
  }

  @Test func jobsCapTheCellsRunningAtOnce() async {
    let backend = Self.backend()
    let cells = (0..<6).map { Self.cell("slow").renamed("s\($0)") }
    let outcomes = await Self.scheduler(backend, cpus: 64, jobs: 2).run(cells)
    #expect(outcomes.allSatisfy { $0.label == "PASS" })
    #expect(backend.ledger.snapshot.peak == 2)
  }

  /// An interrupt: the running cell is INTERRUPTED (its machine destroyed),
  /// the waiting ones NOT-RUN, and `run` still returns every outcome.
  @Test func anInterruptEndsRunningCellsAndSkipsWaitingOnes() async throws {
    let backend = Self.backend()
    let scheduler = Self.scheduler(backend, cpus: 1)
    // Three hanging cells on one CPU: whichever reaches admission first
    // runs (hangs) and the other two wait.
    let cells = ["a", "b", "c"].map { Self.cell("hang").renamed($0) }
    let task = Task { await scheduler.run(cells) }
    while backend.ledger.snapshot.started.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
    task.cancel()
    let outcomes = await task.value
    #expect(outcomes.map(\.label).sorted() == ["INTERRUPTED", "NOT-RUN", "NOT-RUN"])
    let interrupted = try #require(outcomes.first { $0.label == "INTERRUPTED" })
    #expect(interrupted.result?.verdict == .skipped)
    #expect(interrupted.result?.reason == "interrupted while running; the machine was destroyed")
    #expect(outcomes.allSatisfy { !$0.isFailure })
    #expect(backend.ledger.snapshot.destroyed.count == 1)
    #expect(backend.ledger.snapshot.running == 0, "no machine outlives the run")
  }

  /// A timeout is a failure like any other: retried, and TIMEOUT when it
  /// stays one.
  @Test func aTimeoutIsRetriedAndStaysTimeout() async {
    let backend = FakeBackend { _ in FakeScript(steps: [.write("KTAP version 1\n"), .hang]) }
    var cell = Self.cell("hang")
    cell.settings.timeout = .milliseconds(100)
    let outcomes = await Self.scheduler(backend, retries: 1).run([cell])
    #expect(outcomes[0].label == "TIMEOUT")
    #expect(outcomes[0].attemptVerdicts == [.timedOut, .timedOut])
  }

  /// Admission is per host: a full local pool does not hold back a guest
  /// bound for a libvirt daemon.
  @Test func hostPoolsAreIndependent() async throws {
    let pools = HostPools(local: HostResources(cpus: 1, memoryMiB: 1024), maxConcurrent: 1)
    pools.register(.libvirt(uri: "qemu+tcp://far/system"), capacity: HostResources(cpus: 8, memoryMiB: 8192))
    let need = HostResources(cpus: 1, memoryMiB: 256)
    let local = pools.pool(for: .local)
    #expect(await local.acquire(need))
    let blocked = Task { await pools.withAdmission(.local, need) { "local" } }
    let remote = await pools.withAdmission(.libvirt(uri: "qemu+tcp://far/system"), need) { "remote" }
    #expect(remote == "remote")
    try await Task.sleep(for: .milliseconds(50))
    #expect(await local.occupancy.running == 1, "the second local guest waits")
    await local.release(need)
    #expect(await blocked.value == "local")
  }

  /// A direct `GuestRunner.run` is admitted by the runner's pool of the
  /// backend's host: with one slot, two guests never overlap.
  @Test func directRunsAreAdmittedByTheBackendsHostPool() async throws {
    let backend = Self.backend()
    var runner = GuestRunner(builder: TestSupport.runner.builder)
    runner.launcher = EngineLauncher(backend)
    runner.pools = HostPools(local: HostResources(cpus: 1, memoryMiB: 1024), maxConcurrent: 1)
    let shared = runner
    let settings = Self.cell("slow").settings
    async let first = shared.run(Self.payload("slow", .x86_64), settings: settings)
    async let second = shared.run(Self.payload("slow", .x86_64), settings: settings)
    let results = try await [first, second]
    #expect(results.map(\.verdict) == [.passed, .passed])
    #expect(backend.ledger.snapshot.peak == 1)
  }
}

extension FakeSchedulerTests {
  /// A launcher that places cells on hosts and admits them itself, as a
  /// libvirt pool does (`host == nil`): here one host of three CPUs.
  struct SelfAdmittingLauncher: GuestLauncher {
    var inner: EngineLauncher
    var hostPool = ResourcePool(capacity: HostResources(cpus: 3, memoryMiB: 1 << 16))
    var checksAcceleratorAvailability: Bool { false }
    var host: HostKey? { nil }
    var canMigrate: Bool { false }
    func launch(
      _ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?
    ) async throws -> LaunchOutcome {
      let need = HostResources(cpus: settings.cpus, memoryMiB: settings.memoryMiB)
      guard await hostPool.acquire(need) else { throw CancellationError() }
      do {
        let outcome = try await inner.launch(payload, settings: settings, onStart: onStart)
        await hostPool.release(need)
        return outcome
      } catch {
        await hostPool.release(need)
        throw error
      }
    }
  }

  /// One scheduler, a pool per host: cells of a launcher that admits on
  /// its own hosts are bounded by those hosts (3 CPUs), not by this
  /// machine's budget (1 CPU), and `-j` still caps them.
  @Test func aSelfAdmittingLaunchersCellsUseItsHostsNotThisMachinesBudget() async {
    let backend = Self.backend()
    var scheduler = Self.scheduler(backend, cpus: 1)
    scheduler.runner.launcher = SelfAdmittingLauncher(inner: EngineLauncher(backend))
    let cells = (0..<6).map { Self.cell("slow").renamed("r\($0)") }
    let outcomes = await scheduler.run(cells)
    #expect(outcomes.allSatisfy { $0.label == "PASS" })
    #expect(backend.ledger.snapshot.peak == 3, "the launcher's host admits three at once")

    let capped = Self.backend()
    var jobs = Self.scheduler(capped, cpus: 1, jobs: 2)
    jobs.runner.launcher = SelfAdmittingLauncher(inner: EngineLauncher(capped))
    _ = await jobs.run(cells)
    #expect(capped.ledger.snapshot.peak == 2, "-j 2 holds over every host")
  }
}

extension MatrixCell {
  /// The cell with the guest's name given a prefix for the fake ledger.
  fileprivate func renamed(_ prefix: String) -> MatrixCell {
    var cell = self
    cell.settings.guestArguments.insert(prefix, at: 0)
    return cell
  }
}
