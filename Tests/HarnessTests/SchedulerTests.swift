import Foundation
import Synchronization
import Testing

@testable import Harness

/// The resource pool, timeline, progress and config pieces of the parallel
/// runner, host-only.
@Suite("Scheduling")
struct SchedulingTests {
  @Test func memAvailableIsReadFromMeminfo() {
    let text = "MemTotal:       24600000 kB\nMemFree:   100 kB\nMemAvailable:   8388608 kB\n"
    #expect(HostResources.memAvailableMiB(meminfo: text) == 8192)
    #expect(HostResources.memAvailableMiB(meminfo: "MemTotal: 1 kB\n") == nil)
    let host = HostResources.available()
    #expect(host.cpus >= 1 && host.memoryMiB > 0)
  }

  @Test func cellCountsItsVCPUsAndMemory() {
    let cell = MatrixCell(
      guest: "g",
      settings: LaunchSettings(architecture: .x86_64, accelerator: .tcg, cpus: 4, memoryMiB: 8192),
      groups: [])
    #expect(HostResources(cell: cell) == HostResources(cpus: 4, memoryMiB: 8192))
  }

  @Test func poolAdmitsWithinCPUsMemoryAndJobs() async {
    let pool = ResourcePool(capacity: HostResources(cpus: 2, memoryMiB: 1024), maxConcurrent: 8)
    let small = HostResources(cpus: 1, memoryMiB: 256)
    #expect(await pool.acquire(small, priority: 0))
    #expect(await pool.acquire(small, priority: 1))
    // A third 1-CPU cell does not fit in 2 CPUs: it waits until a release.
    let third = Task { await pool.acquire(small, priority: 2) }
    try? await Task.sleep(for: .milliseconds(100))
    #expect(await pool.occupancy.running == 2)
    await pool.release(small)
    #expect(await third.value)
    #expect(await pool.occupancy.peak == 2)

    // Memory limits too: 2 × 600 MiB do not fit in 1024 MiB.
    let memoryPool = ResourcePool(capacity: HostResources(cpus: 8, memoryMiB: 1024))
    let big = HostResources(cpus: 1, memoryMiB: 600)
    #expect(await memoryPool.acquire(big))
    let second = Task { await memoryPool.acquire(big) }
    try? await Task.sleep(for: .milliseconds(100))
    #expect(await memoryPool.occupancy.running == 1)
    await memoryPool.release(big)
    #expect(await second.value)

    // -j caps the count even when resources are plenty.
    let capped = ResourcePool(capacity: HostResources(cpus: 64, memoryMiB: 1 << 20), maxConcurrent: 1)
    #expect(await capped.acquire(small))
    let blocked = Task { await capped.acquire(small) }
    try? await Task.sleep(for: .milliseconds(100))
    #expect(await capped.occupancy.running == 1)
    await capped.release(small)
    #expect(await blocked.value)
  }

  @Test func cellLargerThanHostRunsAloneAndWaitingIsCancellable() async {
    let pool = ResourcePool(capacity: HostResources(cpus: 2, memoryMiB: 1024))
    let huge = HostResources(cpus: 4, memoryMiB: 8192)
    let small = HostResources(cpus: 1, memoryMiB: 128)
    #expect(await pool.acquire(small, priority: 0))
    let hugeTask = Task { await pool.acquire(huge, priority: 1) }
    try? await Task.sleep(for: .milliseconds(100))
    // Waits while anything runs...
    #expect(await pool.occupancy.running == 1)
    // ...and holds back later (lower priority) cells so it cannot starve.
    let later = Task { await pool.acquire(small, priority: 2) }
    try? await Task.sleep(for: .milliseconds(100))
    #expect(await pool.occupancy.running == 1)
    await pool.release(small)
    #expect(await hugeTask.value)
    try? await Task.sleep(for: .milliseconds(100))
    #expect(await pool.occupancy.running == 1, "the oversized cell runs alone")
    later.cancel()
    #expect(await later.value == false, "a cancelled waiter gets nothing")
    await pool.release(huge)
    #expect(await pool.occupancy.running == 0)
  }

  @Test func timelineOverheadIsWallTimeWithoutQemu() {
    // Two lanes: [0,2] and [1,4] overlap, then [5,6]; wall 7 s.
    let timeline = RunTimeline(
      wallSeconds: 7, intervals: [(0, 2), (1, 4), (5, 6)].map { (start: $0.0, end: $0.1) })
    #expect(timeline.qemuSeconds == 6)
    #expect(timeline.busySeconds == 5)
    #expect(timeline.overheadSeconds == 2)
    #expect(timeline.peakConcurrency == 2)
    // Lane 1: [0,2] + [5,6] = 3 s; lane 2: [1,4] = 3 s.
    #expect(timeline.longestLaneSeconds == 3)
  }

  @Test func progressLineCountsPerArchitectureWithETA() {
    var progress = RunProgress(total: 4)
    func cell(_ guest: String, _ arch: Architecture) -> MatrixCell {
      MatrixCell(
        guest: guest, settings: LaunchSettings(architecture: arch, accelerator: .tcg), groups: [])
    }
    let a = cell("a", .x86_64)
    let b = cell("b", .x86_64)
    let c = cell("c", .s390x)
    #expect(progress.statusLine(elapsedSeconds: 0).hasPrefix("building"))
    progress.record(.cellStarted(index: 0, cell: a, attempt: 1))
    progress.record(.cellStarted(index: 1, cell: b, attempt: 1))
    progress.record(.cellStarted(index: 2, cell: c, attempt: 1))
    let start = ContinuousClock.now
    var outcome = CellOutcome(index: 0, cell: a, state: .finished)
    outcome.result = GuestResult(
      guest: "a", architecture: .x86_64, accelerator: .tcg, verdict: .passed, reason: "",
      sections: [], crash: nil, protocolErrors: [], serialLog: "", qemuStderr: "", command: [],
      qemuExitCode: 1, duration: .seconds(2), processID: 1)
    outcome.attemptVerdicts = [.passed]
    outcome.attemptIntervals = [start..<(start + .seconds(2))]
    progress.record(.cellFinished(outcome))
    let line = progress.statusLine(elapsedSeconds: 65)
    #expect(line.contains("x86_64: 1 running, 1 passed, 0 failed, 0 skipped"))
    #expect(line.contains("s390x: 1 running, 0 passed, 0 failed, 0 skipped"))
    #expect(line.contains("1/4"))
    #expect(line.contains("1m05s elapsed"))
    // Mean 2 s × 3 cells left / 2 running = 3 s.
    #expect(progress.etaSeconds == 3)
    #expect(line.hasSuffix("ETA 3s"))
    #expect(!line.contains("\u{1B}"), "the status text itself has no escape codes")
    #expect(progress.statusLine(elapsedSeconds: 1, width: 20).count == 20)
  }
}

@Suite("Deadline factors")
struct DeadlineFactorTests {
  @Test func timeoutIsMultipliedByTheAcceleratorFactor() throws {
    let text = """
      [defaults]
      accel = tcg kvm
      arch = x86_64 s390x
      timeout = 10
      tcg_factor = 2.5
      [a]
      kvm_factor = 0.5
      tcg_factor@s390x = 4
      """
    let cells = Matrix.cells(try MatrixConfig.parse(text, file: "f.cfg"))
    func timeout(_ arch: Architecture, _ accel: Accelerator) -> Duration? {
      cells.first { $0.settings.architecture == arch && $0.settings.accelerator == accel }?.settings.timeout
    }
    #expect(timeout(.x86_64, .tcg) == .seconds(25))
    #expect(timeout(.x86_64, .kvm) == .seconds(5))
    #expect(timeout(.s390x, .tcg) == .seconds(40))
    #expect(cells.allSatisfy { $0.settings.silenceTimeout == .seconds(30) }, "silence is not scaled")
    // Without factors the deadline is the timeout.
    let plain = Matrix.cells(try MatrixConfig.parse("[a]\ntimeout = 7\n", file: "f.cfg"))
    #expect(plain.first?.settings.timeout == .seconds(7))
  }

  @Test(arguments: [
    ("[defaults]\ntcg_factor = fast\n[a]\n", 2, "'fast' is not a positive number"),
    ("[a]\n\nkvm_factor = 0\n", 3, "'0' is not a positive number"),
    ("[a]\nkvm_factor = 1 2\n", 2, "takes one number"),
    ("[a]\ntcg_factor@s390x = -1\n", 2, "bad value '-1' for 'tcg_factor'"),
  ])
  func badFactorsNameFileAndLine(text: String, line: Int, message: String) {
    #expect {
      _ = try MatrixConfig.parse(text, file: "configs/bad.cfg")
    } throws: { error in
      guard let error = error as? ConfigError else { return false }
      return error.line == line && error.message.contains(message)
    }
  }
}

@Suite("Negative guests in a config")
struct NegativeGuestConfigTests {
  func write(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("neg-\(UUID().uuidString).cfg").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func negativeGuestNeedsTheFlag() throws {
    let workspace = TestSupport.runner.builder.workspace
    let path = try write("[defaults]\naccel = tcg\n\n[hang]\ntimeout = 5\n")
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect {
      _ = try TestMatrix.load(workspace: workspace, configPath: path)
    } throws: { error in
      (error as? ConfigError).map { $0.line == 4 && $0.message.contains("--include-negative") } ?? false
    }
    let matrix = try TestMatrix.load(workspace: workspace, configPath: path, includeNegative: true)
    #expect(matrix.cells.map(\.id) == ["hang.x86_64.tcg.smp1.mem256M"])
    // The default config must still cover every guest program.
    #expect(throws: ConfigError.self) {
      _ = try TestMatrix.load(
        workspace: workspace, configPath: path, includeNegative: true, requireEveryGuest: true)
    }
  }
}
