import Foundation
import Synchronization
import Testing

@testable import Harness

/// The scheduler and the crash symbolizer with real payloads booted in
/// QEMU (TCG).
@Suite("Parallel runs", .serialized)
struct ParallelRunTests {
  static func cell(_ guest: String, cpus: Int = 1, memory: Int = 256, tests: [String]? = nil) -> MatrixCell {
    MatrixCell(
      guest: guest,
      settings: LaunchSettings(
        architecture: .x86_64, accelerator: .tcg, cpus: cpus, memoryMiB: memory,
        timeout: .seconds(60), silenceTimeout: .seconds(30)),
      groups: [], expectedTests: tests)
  }

  @Test func buildsOncePerPayloadRetriesAndKeepsMatrixOrder() async throws {
    let cells = [
      Self.cell("flaky", tests: ["depends on the attempt"]), Self.cell("selftest"), Self.cell("selftest", memory: 512),
      Self.cell("failing"), Self.cell("selftest", memory: 384),
    ]
    let events = Mutex<[SchedulerEvent]>([])
    let scheduler = MatrixScheduler(
      runner: TestSupport.runner,
      options: .init(budget: HostResources(cpus: 2, memoryMiB: 4096), retries: 1))
    let outcomes = await scheduler.run(cells) { event in events.withLock { $0.append(event) } }

    #expect(outcomes.map(\.cell.id) == cells.map(\.id), "outcomes are in matrix order")
    let builds = events.withLock { events in
      events.compactMap { event -> String? in
        if case .buildStarted(let guest, let arch) = event { return "\(guest)/\(arch)" }
        return nil
      }
    }
    #expect(builds.sorted() == ["failing/x86_64", "flaky/x86_64", "selftest/x86_64"], "one build per (guest, arch)")

    let flaky = outcomes[0]
    #expect(flaky.flaky)
    #expect(flaky.label == "FLAKY")
    #expect(flaky.attemptVerdicts == [.failed, .passed])
    #expect(!flaky.isFailure)
    #expect(flaky.earlierResults.first?.command.last(where: { $0.contains("harness.attempt") })?
      .contains("harness.attempt=1") == true)
    #expect(flaky.result?.command.contains { $0.hasSuffix("harness.attempt=2") } == true)

    let failing = outcomes[3]
    #expect(failing.attemptVerdicts == [.failed, .failed], "fails every time: last verdict")
    #expect(failing.label == "FAIL" && failing.isFailure)
    #expect(outcomes.filter { $0.cell.guest == "selftest" }.allSatisfy { $0.label == "PASS" && $0.attempts == 1 })

    // Never more cells at once than 2 CPUs allow.
    var running = 0
    var peak = 0
    for event in events.withLock({ $0 }) {
      switch event {
      case .cellStarted(_, _, let attempt) where attempt == 1: running += 1
      case .cellFinished(let outcome) where outcome.attempts > 0: running -= 1
      default: break
      }
      peak = max(peak, running)
    }
    #expect(peak <= 2)
  }

  @Test func oversizedCellStillRuns() async throws {
    let scheduler = MatrixScheduler(
      runner: TestSupport.runner,
      options: .init(budget: HostResources(cpus: 1, memoryMiB: 256)))
    let outcomes = await scheduler.run([Self.cell("selftest", cpus: 2, memory: 512)])
    #expect(outcomes.first?.label == "PASS")
  }

  @Test func cancellingTheRunKillsQemuAndReportsInterrupted() async throws {
    let cells = [Self.cell("hang"), Self.cell("hang", memory: 512), Self.cell("hang", memory: 768)]
    let started = Mutex<Int>(0)
    let scheduler = MatrixScheduler(
      runner: TestSupport.runner, options: .init(budget: HostResources(cpus: 2, memoryMiB: 4096)))
    let task = Task {
      await scheduler.run(cells) { event in
        if case .cellStarted = event { started.withLock { $0 += 1 } }
      }
    }
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(120)
    while started.withLock({ $0 }) < 2 && clock.now < deadline {
      try await Task.sleep(for: .milliseconds(50))
    }
    try await Task.sleep(for: .seconds(1))
    task.cancel()
    let outcomes = await task.value
    // Two fit into 2 CPUs and were running; the third never started.
    #expect(outcomes.filter { $0.state == .interrupted }.count == 2)
    #expect(outcomes.filter { $0.state == .notRun }.count == 1)
    #expect(outcomes.allSatisfy { !$0.isFailure })
    for outcome in outcomes where outcome.state == .interrupted {
      let pid = try #require(outcome.result?.processID)
      #expect(TestSupport.livingMembers(ofGroup: pid).isEmpty, "QEMU's process group is gone")
      #expect(outcome.result?.interrupted == true)
      #expect(outcome.result?.verdict == .skipped)
      // (Other tests may be booting guests in this process meanwhile.)
      #expect(!QemuProcessRegistry.running.contains(pid))
    }
  }

  @Test func crashIsSymbolizedToTheGuestLine() async throws {
    let runner = TestSupport.runner
    let program = try runner.builder.workspace.program(named: "crash")
    let result = try await runner.run(
      program, settings: LaunchSettings(architecture: .x86_64, accelerator: .tcg))
    #expect(result.verdict == .crashed)
    let source = program.directory + "/Crash.swift"
    let faultLine = try #require(try TestSupport.lines(in: source, containing: "unmapped.pointee =").first)
    let location = try #require(result.crash?.location)
    #expect(location.file == "guests/negative/crash/Crash.swift")
    #expect(location.line == faultLine)
    #expect(location.function.contains("faults"))
    // The outermost frame at the crash is the test's function (a registered
    // test is a plain function: `faults()`).
    #expect(result.crash?.frames.last?.function.contains("faults()") == true)
    // The reason (the Swift Testing issue text of a crashed guest) names it.
    #expect(result.reason.contains("guests/negative/crash/Crash.swift:\(faultLine)"))

    // And the reports carry it.
    let report = ReportCell(id: "crash.x86_64.tcg.smp1.mem256M", result: result, cpus: 1, memoryMiB: 256)
    let json = try JSONReport.render([report])
    let document = try JSONDecoder().decode(ResultsDocument.self, from: Data(json.utf8))
    #expect(document.cells.first?.crash?.location?.file == "guests/negative/crash/Crash.swift")
    #expect(document.cells.first?.crash?.location?.line == faultLine)
    let junit = JUnitReport.render([report])
    #expect(junit.contains("name=\"crashLocation\""))
    #expect(junit.contains("guests/negative/crash/Crash.swift:\(faultLine)"))
    #expect(HTMLReport.render([report]).contains("guests/negative/crash/Crash.swift:\(faultLine)"))
    #expect(KTAPReport.render([report], architecture: .x86_64).contains("crash location: "))
  }

  @Test func symbolizerOutputParsing() {
    let output = """
      $e5crash9guestMainyyFyyXEfU0_
      /repo/guests/negative/crash/Crash.swift:11:22
      ??
      ??:0:0
      """
    let frames = CrashSymbolizer.parse(output, address: 0x1000, root: "/repo")
    #expect(frames.count == 1)
    #expect(frames.first?.file == "guests/negative/crash/Crash.swift")
    #expect(frames.first?.line == 11 && frames.first?.column == 22)
    #expect(CrashSymbolizer.address(of: CrashRecord(lines: [], fields: ["rip": "0x00000000001051a5"])) == 0x1051a5)
    #expect(CrashSymbolizer.address(of: CrashRecord(lines: [], fields: [:])) == nil)
  }
}
