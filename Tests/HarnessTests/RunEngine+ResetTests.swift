import Foundation
import GuestLib
import Synchronization
import Testing

@testable import Harness

/// A fake machine that resets on request: it writes `parts[0]` (ending
/// with a reset request line), waits until the engine resets it, writes
/// the next part (the document the guest writes after the reset), and so
/// on; after the last part it stops with exit status 0. `failure` makes
/// every reset throw.
final class ResettingFakeMachine: ResettableMachine {
  let events: AsyncStream<MachineEvent>
  private let feed: AsyncStream<MachineEvent>.Continuation
  let parts: [String]
  let failure: String?
  private let resetSignal: AsyncStream<Void>
  private let resetFeed: AsyncStream<Void>.Continuation
  struct State {
    var task: Task<Void, Never>?
    var gone = false
    var resets = 0
  }
  let state = Mutex(State())

  init(parts: [String], failure: String? = nil) {
    (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    (resetSignal, resetFeed) = AsyncStream.makeStream(of: Void.self)
    self.parts = parts
    self.failure = failure
  }

  var control: (any MachineControl)? { nil }
  var drainAfterStop: Duration { .zero }

  func start() async throws -> Int32? {
    let (feed, parts, resetSignal) = (feed, parts, resetSignal)
    let task = Task { [self] in
      var resets = resetSignal.makeAsyncIterator()
      for (index, part) in parts.enumerated() {
        feed.yield(.console(Array(part.utf8)))
        if index == parts.count - 1 { break }
        guard await resets.next() != nil else { return }
      }
      if end() {
        feed.yield(.stopped(.exited(QemuCommand.debugExitCode(forStatus: 0))))
        feed.finish()
      }
    }
    state.withLock { $0.task = task }
    return nil
  }

  private func end() -> Bool {
    state.withLock { state in
      defer { state.gone = true }
      return !state.gone
    }
  }

  func destroy() async {
    guard end() else { return }
    state.withLock { $0.task }?.cancel()
    resetFeed.finish()
    feed.yield(.stopped(.signaled(9)))
    feed.finish()
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    MachineReport(details: .other(name: "fake-resetting", remarks: []))
  }

  func reset() async throws {
    state.withLock { $0.resets += 1 }
    if let failure { throw QmpError(failure) }
    resetFeed.yield()
  }
}

struct ResettingFakeBackend: MachineBackend {
  let machine: any BackendMachine
  var host: HostKey { .local }
  func create(_ request: MachineRequest) async throws -> any BackendMachine { machine }
}

/// The engine's resets on the guest's request with fake machines: one
/// reset per request line, the run spanning it (checks from both boots
/// counted), a backend that cannot reset or a reset that fails as its own
/// reason, and a guest that starts over without a reset it asked for
/// never passing.
@Suite("Run engine: machine reset (fake backend)")
struct RunEngineResetTests {
  /// The document before the reset: test 1 passes, test 2 makes a check
  /// and asks for the reset.
  static let beforeReset =
    "KTAP version 1\n# guest: fake\n1..3\n    KTAP version 1\n    # Subtest: one\n"
    + "    ok 1 first # @Fake/Fake.swift:1\nok 1 one\n    KTAP version 1\n    # Subtest: reset\n"
    + "    ok 1 before the reset # @Fake/Fake.swift:2\n    # harness: reset\n"
  /// The document after it: firmware noise, the header, the guest name
  /// and the plan again, test 2 reopened with its checks going on, test 3.
  static func afterReset(reopened: String = "reset", checkNumber: Int = 2) -> String {
    "\nfirmware says hello\nKTAP version 1\n# guest: fake\n1..3\n    KTAP version 1\n"
      + "    # Subtest: \(reopened)\n    ok \(checkNumber) after the reset # @Fake/Fake.swift:3\nok 2 reset\n"
      + "    KTAP version 1\n    # Subtest: three\n    ok 1 last # @Fake/Fake.swift:4\nok 3 three\n"
      + "# Totals: pass:4 fail:0 skip:0\n# EXIT: STATUS=0\n"
  }

  static func run(_ machine: any BackendMachine, reset: Bool = true) async throws -> (
    RunRecord, Judgment
  ) {
    var settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, timeout: .seconds(600),
      silenceTimeout: .seconds(600))
    settings.reset = reset
    let record = try await RunEngine().run(
      ResettingFakeBackend(machine: machine),
      request: MachineRequest(guest: "fake", bootImage: "/nonexistent", settings: settings))
    return (
      record,
      VerdictJudge.judge(
        record, CellExpectations(settings: settings, expectedTests: ["one", "reset", "three"]))
    )
  }

  @Test func aResetRequestResetsOnceAndTheRunSpansIt() async throws {
    let machine = ResettingFakeMachine(parts: [Self.beforeReset, Self.afterReset()])
    let (record, judgment) = try await Self.run(machine)
    #expect(judgment == Judgment(.passed, ""), "\(record.stream.protocolErrors)")
    #expect(machine.state.withLock { $0.resets } == 1)
    #expect(record.resets.map(\.number) == [1])
    #expect(record.resetFailure == nil)
    #expect(record.notes.contains(.resets(record.resets)))
    #expect(record.stream.resumes == 1)
    #expect(record.stream.resetRequests == 1)
    #expect(record.stream.sections.map(\.name) == ["one", "reset", "three"])
    // Checks of both boots: one before, the resumed test's two, one after.
    #expect(
      record.stream.sections.map { $0.checks.map(\.name) } == [
        ["first"], ["before the reset", "after the reset"], ["last"],
      ])
    #expect(record.stream.preamble.contains("firmware says hello"))
  }

  @Test func aBackendThatCannotResetFailsTheRunWithItsReason() async throws {
    // A machine without reset: the guest would wait for ever.
    let machine = MigratingFakeMachine(
      parts: [Self.beforeReset, Self.afterReset()], hop: .fail("no migration expected"))
    let (record, judgment) = try await Self.run(machine)
    #expect(judgment.verdict == .crashed)
    #expect(
      judgment.reason
        == "reset 1 failed: the guest asked for a reset, and this backend cannot reset a machine; the machine was destroyed",
      "\(judgment.reason)")
    #expect(record.resets.isEmpty)
    #expect(record.timeout == nil)
  }

  @Test func aRequestInACellThatDoesNotResetFailsAtOnce() async throws {
    let machine = ResettingFakeMachine(parts: [Self.beforeReset, Self.afterReset()])
    let (record, judgment) = try await Self.run(machine, reset: false)
    #expect(judgment.verdict == .crashed)
    #expect(
      judgment.reason
        == "reset 1 failed: the guest asked for a reset in a cell that does not reset (no harness.reset=yes); the machine was destroyed",
      "\(judgment.reason)")
    #expect(machine.state.withLock { $0.resets } == 0)
    #expect(record.resets.isEmpty)
  }

  @Test func aResetThatFailsIsItsOwnReason() async throws {
    let machine = ResettingFakeMachine(
      parts: [Self.beforeReset, Self.afterReset()], failure: "QMP says no")
    let (record, judgment) = try await Self.run(machine)
    #expect(judgment.verdict == .crashed)
    #expect(judgment.reason.hasPrefix("reset 1 failed: "), "\(judgment.reason)")
    #expect(judgment.reason.contains("QMP says no"), "\(judgment.reason)")
    #expect(record.resets.isEmpty)
    #expect(machine.state.withLock { $0.resets } == 1)
  }

  @Test func aGuestThatStartsOverUnaskedIsNoPass() async throws {
    // The same documents without the request line: the second header
    // follows no reset the guest asked for.
    let unasked = Self.beforeReset.replacingOccurrences(of: "    # harness: reset\n", with: "")
    let backend = FakeBackend { _ in
      FakeScript(steps: [
        .write(unasked), .write(Self.afterReset()),
        .stop(.exited(QemuCommand.debugExitCode(forStatus: 0))),
      ])
    }
    let settings = LaunchSettings(architecture: .x86_64, accelerator: .tcg)
    let record = try await RunEngine().run(
      backend, request: MachineRequest(guest: "fake", bootImage: "/nonexistent", settings: settings)
    )
    let judgment = VerdictJudge.judge(record, CellExpectations(settings: settings))
    #expect(judgment.verdict == .protocolError)
    #expect(judgment.reason.contains("second KTAP header"), "\(judgment.reason)")
    #expect(record.resets.isEmpty)
  }

  @Test func aDocumentAfterARequestWithoutAResetIsNoPass() {
    // The guest asked, and went on with a new document although the
    // harness never reset the machine.
    var parser = KTAPParser()
    parser.consume(bytes: Array((Self.beforeReset + Self.afterReset()).utf8))
    var record = RunRecord(
      stream: parser.finish(), serialLog: "…", stderr: "", exitCode: 1, signal: nil, timeout: nil,
      duration: .seconds(1), command: [], processID: 1)
    record.machineEnd = .exited(QemuCommand.debugExitCode(forStatus: 0))
    let judgment = VerdictJudge.judge(record, CellExpectations(architecture: .x86_64))
    #expect(judgment.verdict == .protocolError)
    #expect(
      judgment.reason.contains(
        "the guest continued its run in 1 document after a reset request, but the harness reset the machine 0 times"
      ),
      "\(judgment.reason)")
    record.resets = [MachineReset(number: 1, atMilliseconds: 10, milliseconds: 1)]
    #expect(
      VerdictJudge.judge(record, CellExpectations(architecture: .x86_64)) == Judgment(.passed, ""))
  }

  @Test func theResumedDocumentMustContinueTheTestThatAsked() {
    func errors(_ after: String) -> [String] {
      var parser = KTAPParser()
      parser.consume(bytes: Array((Self.beforeReset + after).utf8))
      return parser.finish().protocolErrors
    }
    #expect(errors(Self.afterReset()).isEmpty)
    #expect(
      errors(Self.afterReset(reopened: "three")).contains {
        $0.contains("after reset 1 the guest opened test 'three' where 'reset' was open")
      })
    // Check numbers go on from before the reset: starting over at 1 is a
    // duplicate.
    #expect(errors(Self.afterReset(checkNumber: 1)).contains { $0.contains("(duplicate)") })
    #expect(
      errors(Self.afterReset().replacingOccurrences(of: "1..3", with: "1..4")).contains {
        $0.contains("plan 1..4 after reset 1, where the run planned 3")
      })
  }
}
