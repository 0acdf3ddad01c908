import Foundation
import Synchronization
import Testing

@testable import Harness

/// The run engine and the judge with the fake backend: limits, triage,
/// interrupts and trust rules in milliseconds, without QEMU.
@Suite("Run engine (fake backend)")
struct RunEngineTests {
  static let passing = FakeGuest.ktap([("first", true), ("second", true)])

  /// Settings; the limits a test does not exercise are far away (a loaded
  /// host can stall the test process for seconds).
  static func settings(
    timeout: Duration = .seconds(600), silence: Duration = .seconds(600), outputLimit: Int = 1 << 20
  ) -> LaunchSettings {
    var settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, cpus: 1, timeout: timeout, silenceTimeout: silence)
    settings.outputLimitBytes = outputLimit
    return settings
  }

  static func run(
    _ steps: [FakeStep], settings: LaunchSettings = settings(), engine: RunEngine = RunEngine(),
    backend: FakeBackend? = nil, consoleLog: [UInt8]? = nil
  ) async throws -> (RunRecord, Judgment, FakeLedger) {
    let fake = backend ?? FakeBackend { _ in FakeScript(steps: steps, consoleLog: consoleLog) }
    let record = try await engine.run(
      fake, request: MachineRequest(guest: "fake", bootImage: "/nonexistent", settings: settings))
    return (record, VerdictJudge.judge(record, CellExpectations(settings: settings)), fake.ledger)
  }

  @Test func aPassingGuestThatStopsWithTheMatchingExitCodePasses() async throws {
    let (record, judgment, ledger) = try await Self.run(FakeGuest.exits(Self.passing, status: 0))
    #expect(judgment == Judgment(.passed, ""))
    #expect(record.machineEnd == .exited(1))
    #expect(record.serialLog == Self.passing)
    #expect(!record.timeline.arrivals.isEmpty)
    #expect(ledger.snapshot.started.count == 1)
    #expect(record.timeout == nil && !record.interrupted)
  }

  /// No guest can turn a failure into PASS: console text claiming success
  /// while the machine ends otherwise is a PROTOCOL-ERROR.
  @Test func aForgedSuccessWithTheWrongMachineEndIsNeverPass() async throws {
    let steps: [FakeStep] = [.write(Self.passing), .stop(.exited(QemuCommand.debugExitCode(forStatus: 1)))]
    let (_, judgment, _) = try await Self.run(steps)
    #expect(judgment.verdict == .protocolError)
    #expect(judgment.reason.contains("QEMU exit code 3 does not match exit status 0"), "\(judgment.reason)")
  }

  @Test func failingChecksFail() async throws {
    let text = FakeGuest.ktap([("good", true), ("bad", false)])
    let (_, judgment, _) = try await Self.run(FakeGuest.exits(text, status: 1))
    #expect(judgment == Judgment(.failed, "1 check failed"))
  }

  @Test func theDeadlineKillsAHangAndTriageNamesEveryCPU() async throws {
    let positions = [
      VcpuPosition(cpu: 0, pc: 0x1000, registers: ["RIP": "0x1000"]),
      VcpuPosition(cpu: 1, pc: 0x2040, registers: ["RIP": "0x2040"]),
    ]
    let backend = FakeBackend(positions: positions) { _ in
      FakeScript(steps: [.write("KTAP version 1\n1..1\n"), .hang])
    }
    let (record, judgment, ledger) = try await Self.run(
      [], settings: Self.settings(timeout: .milliseconds(200)), backend: backend)
    #expect(record.timeout == .deadline)
    #expect(judgment.verdict == .timedOut)
    #expect(
      judgment.reason
        == "no verdict before the deadline; QEMU was killed (partial log kept); CPU 0 stuck at 0x1000; CPU 1 stuck at 0x2040")
    #expect(ledger.snapshot.controlCalls == 1, "positions are read once, before the kill")
    #expect(ledger.snapshot.destroyed.count == 1)
    #expect(record.notes.contains(.monitorTranscript(["-> stop", "<- {}"])))
    #expect(record.machineEnd == nil, "the harness ended it")
  }

  @Test func silenceAfterTheFirstByteTimesOut() async throws {
    let (record, judgment, _) = try await Self.run(
      [.write("KTAP version 1\n"), .hang],
      settings: Self.settings(timeout: .seconds(20), silence: .milliseconds(150)))
    #expect(record.timeout == .silence)
    #expect(judgment == Judgment(.timedOut, "no serial output for the silence timeout; QEMU was killed"))
  }

  /// An engine that wakes late (the host stalled it past both limits)
  /// names the limit that passed first, not the one it checks first.
  @Test func aLateWakeNamesTheLimitThatPassedFirst() {
    let start = ContinuousClock.now
    let deadline = start + .seconds(20)
    let late = start + .seconds(46)
    #expect(RunEngine.passedLimit(now: late, deadline: deadline, silence: start + .milliseconds(150)) == .silence)
    #expect(RunEngine.passedLimit(now: late, deadline: deadline, silence: start + .seconds(30)) == .deadline)
    #expect(RunEngine.passedLimit(now: late, deadline: deadline, silence: nil) == .deadline)
    #expect(RunEngine.passedLimit(now: start + .seconds(1), deadline: deadline, silence: start + .seconds(2)) == nil)
    #expect(RunEngine.passedLimit(now: start + .seconds(3), deadline: deadline, silence: start + .seconds(2)) == .silence)
    #expect(RunEngine.passedLimit(now: deadline, deadline: deadline, silence: nil) == .deadline)
  }

  /// Before the guest's first byte the firmware runs: only the deadline
  /// bounds it, never the silence timeout.
  @Test func silenceCountsFromTheFirstByte() async throws {
    let (record, judgment, _) = try await Self.run(
      [.hang], settings: Self.settings(timeout: .milliseconds(400), silence: .milliseconds(50)))
    #expect(record.timeout == .deadline)
    #expect(judgment.reason.hasPrefix("no serial output at all before the deadline"))
  }

  /// Output that keeps coming resets the silence timer: a chatty guest
  /// runs past the silence timeout until its exit. (Gaps of 200 ms against
  /// a silence of 4 s: only a host that stalls the test process for 3.8 s
  /// could fail it; the run takes 5 s.)
  @Test func steadyOutputIsNotSilence() async throws {
    var steps: [FakeStep] = [.write("KTAP version 1\n")]
    for _ in 0..<25 { steps += [.wait(.milliseconds(200)), .write("# tick\n")] }
    steps += FakeGuest.exits(String(Self.passing.dropFirst("KTAP version 1\n".count)), status: 0)
    let (record, judgment, _) = try await Self.run(
      steps, settings: Self.settings(silence: .seconds(4)))
    #expect(record.duration > .seconds(4), "the run outlasted one silence timeout")
    #expect(record.timeout == nil)
    #expect(judgment.verdict == .passed, "\(judgment.reason)")
  }

  /// Before the harness kills a guest that would not end by itself, it
  /// reads where its vCPUs are: a hang (above), a flood, an exit line
  /// without a machine stop — but not a guest that ended by itself.
  @Test func floodsAndExitsWithoutAStopAreTriagedAGuestThatEndsIsNot() async throws {
    let positions = [VcpuPosition(cpu: 0, pc: 0x1000, registers: [:])]
    func run(_ steps: [FakeStep], engine: RunEngine = RunEngine(), settings: LaunchSettings = Self.settings())
      async throws -> (RunRecord, Judgment, Int)
    {
      let backend = FakeBackend(positions: positions) { _ in FakeScript(steps: steps) }
      let (record, judgment, ledger) = try await Self.run([], settings: settings, engine: engine, backend: backend)
      return (record, judgment, ledger.snapshot.controlCalls)
    }
    let (flooded, floodJudgment, floodCalls) = try await run(
      [.write("KTAP version 1\n"), .flood(count: 1 << 20), .hang], settings: Self.settings(outputLimit: 16 << 10))
    #expect(flooded.vcpuPositions == positions)
    #expect(floodCalls == 1)
    #expect(floodJudgment.verdict == .protocolError)
    #expect(floodJudgment.reason.hasSuffix("; CPU 0 stuck at 0x1000"), "\(floodJudgment.reason)")
    var engine = RunEngine()
    engine.exitGrace = .milliseconds(100)
    let (stuck, stuckJudgment, stuckCalls) = try await run([.write(Self.passing), .hang], engine: engine)
    #expect(stuck.vcpuPositions == positions)
    #expect(stuckCalls == 1)
    #expect(stuckJudgment.reason.contains("exit line printed but the machine never stopped"))
    #expect(stuckJudgment.reason.hasSuffix("; CPU 0 stuck at 0x1000"), "\(stuckJudgment.reason)")
    // A guest that ends by itself is not triaged.
    let (passed, passJudgment, passCalls) = try await run(FakeGuest.exits(Self.passing, status: 0))
    #expect(passJudgment.verdict == .passed, "\(passJudgment.reason)")
    #expect(passed.vcpuPositions.isEmpty && passCalls == 0)
  }

  @Test func aFloodStopsAtTheOutputLimitWithHeadAndTail() async throws {
    let limit = 16 << 10
    let (record, judgment, ledger) = try await Self.run(
      [.write("KTAP version 1\n"), .flood(count: 1 << 20), .hang],
      settings: Self.settings(outputLimit: limit))
    #expect(record.outputLimitReached == limit)
    #expect(judgment.verdict == .protocolError)
    #expect(judgment.reason.hasPrefix("output limit: the guest wrote more than \(limit) bytes"))
    #expect(record.serialLog.contains("[swift-guest-harness: output limit of \(limit) bytes reached"))
    #expect(record.serialLog.utf8.count <= limit + QemuLauncherLimits.keptTail + 512)
    #expect(ledger.snapshot.destroyed.count == 1)
  }

  @Test func anExitLineWithoutAMachineStopIsAProtocolErrorAfterTheGrace() async throws {
    var engine = RunEngine()
    engine.exitGrace = .milliseconds(100)
    let (record, judgment, ledger) = try await Self.run([.write(Self.passing), .hang], engine: engine)
    #expect(judgment.verdict == .protocolError)
    #expect(judgment.reason.contains("exit line printed but the machine never stopped"))
    #expect(record.machineEnd == nil)
    #expect(record.timeout == nil)
    #expect(ledger.snapshot.destroyed.count == 1)
  }

  @Test func cancellingBeforeTheExitLineInterruptsAndDestroys() async throws {
    let backend = FakeBackend { _ in FakeScript(steps: [.write("KTAP version 1\n"), .hang]) }
    let settings = Self.settings()
    let received = Atomic<Int>(0)
    let task = Task {
      try await RunEngine().run(
        backend, request: MachineRequest(guest: "fake", bootImage: "", settings: settings),
        onSerial: { bytes in received.add(bytes.count, ordering: .relaxed) })
    }
    // Cancel once the engine has the guest's first line.
    while received.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
    task.cancel()
    let record = try await task.value
    #expect(record.interrupted)
    #expect(record.serialLog == "KTAP version 1\n")
    #expect(backend.ledger.snapshot.destroyed.count == 1)
    #expect(
      VerdictJudge.judge(record, CellExpectations(settings: settings))
        == Judgment(.skipped, "interrupted while running; the machine was destroyed"))
  }

  /// A cancel after the exit line lets the machine stop by itself: its
  /// verdict stands.
  @Test func cancellingAfterTheExitLineKeepsTheVerdict() async throws {
    let backend = FakeBackend { _ in
      FakeScript(steps: [.write(Self.passing), .wait(.milliseconds(300)), .stop(.exited(1))])
    }
    let settings = Self.settings()
    let received = Atomic<Int>(0)
    let task = Task {
      try await RunEngine().run(
        backend, request: MachineRequest(guest: "fake", bootImage: "", settings: settings),
        onSerial: { bytes in received.add(bytes.count, ordering: .relaxed) })
    }
    // Cancel once the engine has the exit line (before the machine stops).
    while received.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
    task.cancel()
    let record = try await task.value
    #expect(!record.interrupted)
    #expect(record.machineEnd == .exited(1))
    #expect(VerdictJudge.judge(record, CellExpectations(settings: settings)).verdict == .passed)
    #expect(backend.ledger.snapshot.destroyed.isEmpty)
  }

  /// A backend's console log decides over a stream that lost its end.
  @Test func theConsoleLogDecidesWhenTheStreamLostItsTail() async throws {
    let cut = String(Self.passing.prefix(40))
    let (record, judgment, _) = try await Self.run(
      [.write(cut), .stop(.poweredOff)], consoleLog: Array(Self.passing.utf8))
    #expect(record.notes.contains(.consoleStreamLostTail(bytes: Self.passing.utf8.count - 40)))
    #expect(record.serialLog == Self.passing)
    #expect(judgment.verdict == .passed, "\(judgment.reason)")
  }

  /// A guest that stops without its exit line crashed; the backend's
  /// notes never change the verdict, placement notes join the reason.
  @Test func placementNotesJoinTheReasonOthersStayInTheLogs() async throws {
    var (record, judgment, _) = try await Self.run([.write("KTAP version 1\n"), .stop(.exited(0))])
    #expect(judgment.verdict == .crashed)
    record.notes += [.consoleLogUnavailable("no log"), .requeued(after: ["a"]), .ranOn("b")]
    let judged = VerdictJudge.judge(record, CellExpectations(settings: Self.settings()))
    #expect(judged.verdict == .crashed)
    #expect(judged.reason == judgment.reason + "; re-queued after a dropped out; ran on b")
    #expect(!judged.reason.contains("no log"))
    #expect(record.stderr.contains("no log (the stream alone decides)"))
  }

  @Test func aMachineThatCannotStartIsAnError() async throws {
    struct Broken: MachineBackend {
      var host: HostKey { .local }
      func create(_ request: MachineRequest) async throws -> any BackendMachine {
        throw HarnessError.launchFailed("fake", underlying: "no such machine")
      }
    }
    await #expect(throws: HarnessError.self) {
      try await RunEngine().run(
        Broken(), request: MachineRequest(guest: "x", bootImage: "", settings: Self.settings()))
    }
  }
}
