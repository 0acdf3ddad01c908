import Foundation
import GuestLib
import Synchronization
import Testing

@testable import Harness

/// A fake machine that migrates: the guest writes `before`, which ends
/// with a request line, waits for the console input's answer, then writes
/// `after` and stops with exit status 0. `hop` decides what each migration
/// does.
final class MigratingFakeMachine: MigratableMachine {
  enum Hop: Sendable {
    case succeed(downtime: Int)
    case fail(String)
    /// Never answers (until the machine is destroyed).
    case hang
  }

  let events: AsyncStream<MachineEvent>
  private let feed: AsyncStream<MachineEvent>.Continuation
  let parts: [String]
  let hop: Hop
  private let input: AsyncStream<UInt8>
  private let inputFeed: AsyncStream<UInt8>.Continuation
  struct State {
    var task: Task<Void, Never>?
    var gone = false
    var hops = 0
    var answers: [UInt8] = []
  }
  let state = Mutex(State())

  /// `parts` are written one after another, each but the last followed by
  /// a wait for the harness's answer.
  init(parts: [String], hop: Hop) {
    (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    (input, inputFeed) = AsyncStream.makeStream(of: UInt8.self)
    self.parts = parts
    self.hop = hop
  }

  /// Every monitor command the engine sent.
  let commands = Mutex<[String]>([])
  var control: (any MachineControl)? { RecordingControl(commands: self) }
  var drainAfterStop: Duration { .zero }

  func start() async throws -> Int32? {
    let (feed, parts, input) = (feed, parts, input)
    let task = Task { [self] in
      var answers = input.makeAsyncIterator()
      for (index, part) in parts.enumerated() {
        feed.yield(.console(Array(part.utf8)))
        if index == parts.count - 1 { break }
        guard let answer = await answers.next(), answer == KTAP.requestDone else { return }
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
    inputFeed.finish()
    feed.yield(.stopped(.signaled(9)))
    feed.finish()
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    MachineReport(details: .other(name: "fake-migrating", remarks: []))
  }

  func migrate(hop number: Int, timeout: Duration) async -> Result<MigrationHop, MigrationFailure> {
    state.withLock { $0.hops += 1 }
    switch hop {
    case .succeed(let downtime):
      return .success(
        MigrationHop(
          number: number, downtimeMilliseconds: downtime, totalMilliseconds: downtime * 10,
          wallMilliseconds: downtime * 20))
    case .fail(let reason):
      return .failure(MigrationFailure(hop: number, reason: reason))
    case .hang:
      while !state.withLock({ $0.gone }) { try? await Task.sleep(for: .milliseconds(20)) }
      return .failure(MigrationFailure(hop: number, reason: "destroyed"))
    }
  }

  func writeConsoleInput(_ bytes: [UInt8]) async throws {
    state.withLock { $0.answers += bytes }
    for byte in bytes { inputFeed.yield(byte) }
  }
}

/// A control channel that records each command in its machine.
struct RecordingControl: MachineControl {
  let commands: MigratingFakeMachine

  func execute(_ command: String, arguments: String?) async throws -> String {
    commands.commands.withLock { $0.append(command) }
    return "{}"
  }

  func triage(architecture: Architecture) async -> TriageCapture {
    TriageCapture(positions: [], transcript: [])
  }
}

struct MigratingFakeBackend: MachineBackend {
  let machine: MigratingFakeMachine
  var host: HostKey { .local }
  var canMigrate: Bool { true }
  func create(_ request: MachineRequest) async throws -> any BackendMachine { machine }
}

/// The engine's migration state machine with a fake machine: one hop at a
/// time on the guest's request line, the answer on the console input, the
/// figures in the record, a failure or a hang as its own reason, and a
/// request in a cell that does not migrate.
@Suite("Run engine: live migration (fake backend)")
struct RunEngineMigrationTests {
  /// A guest whose one test migrates `hops` times.
  static func parts(hops: Int) -> [String] {
    var parts = ["KTAP version 1\n# guest: fake\n1..1\n    KTAP version 1\n    # Subtest: hop\n"]
    for number in 1...hops {
      parts[parts.count - 1] += "    # harness: migrate\n"
      parts.append("    ok \(number) migrated \(number) # @Fake/Fake.swift:\(number)\n")
    }
    parts[parts.count - 1] += "ok 1 hop\n# Totals: pass:\(hops) fail:0 skip:0\n# EXIT: STATUS=0\n"
    return parts
  }

  static func run(
    _ machine: MigratingFakeMachine, migrate: Bool = true, engine: RunEngine = RunEngine()
  ) async throws -> (RunRecord, Judgment) {
    var settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, timeout: .seconds(600),
      silenceTimeout: .seconds(600))
    settings.migrate = migrate
    let record = try await engine.run(
      MigratingFakeBackend(machine: machine),
      request: MachineRequest(guest: "fake", bootImage: "/nonexistent", settings: settings))
    return (record, VerdictJudge.judge(record, CellExpectations(settings: settings)))
  }

  @Test func everyRequestIsOneHopAnsweredOnTheConsoleInput() async throws {
    let machine = MigratingFakeMachine(parts: Self.parts(hops: 3), hop: .succeed(downtime: 4))
    let (record, judgment) = try await Self.run(machine)
    #expect(judgment == Judgment(.passed, ""))
    #expect(record.migrations.map(\.number) == [1, 2, 3])
    #expect(record.migrations.allSatisfy { $0.downtimeMilliseconds == 4 && $0.totalMilliseconds == 40 })
    #expect(machine.state.withLock { $0.answers } == [KTAP.requestDone, KTAP.requestDone, KTAP.requestDone])
    #expect(record.notes.contains(.migrations(record.migrations)))
    #expect(record.migrationFailure == nil)
  }

  @Test func aFailedMigrationIsItsOwnReasonNotAHang() async throws {
    let machine = MigratingFakeMachine(parts: Self.parts(hops: 2), hop: .fail("QEMU says failed: boom"))
    let (record, judgment) = try await Self.run(machine)
    #expect(judgment.verdict == .crashed)
    #expect(
      judgment.reason == "migration 1 failed: QEMU says failed: boom; the machine was destroyed",
      "\(judgment.reason)")
    #expect(record.migrations.isEmpty)
    #expect(record.timeout == nil)
    #expect(machine.state.withLock { $0.hops } == 1)
  }

  @Test func aMigrationThatNeverCompletesEndsAtTheMigrationTimeout() async throws {
    let machine = MigratingFakeMachine(parts: Self.parts(hops: 1), hop: .hang)
    var engine = RunEngine()
    engine.migrationTimeout = .milliseconds(200)
    let (record, judgment) = try await Self.run(machine, engine: engine)
    #expect(judgment.verdict == .crashed)
    #expect(
      judgment.reason.hasPrefix("migration 1 failed: no completion within the migration timeout (200ms)"),
      "\(judgment.reason)")
    #expect(record.timeout == nil)
  }

  @Test func aRequestInACellThatDoesNotMigrateFailsAtOnce() async throws {
    let machine = MigratingFakeMachine(parts: Self.parts(hops: 1), hop: .succeed(downtime: 1))
    let (record, judgment) = try await Self.run(machine, migrate: false)
    #expect(judgment.verdict == .crashed)
    #expect(judgment.reason.contains("does not migrate"), "\(judgment.reason)")
    #expect(machine.state.withLock { $0.hops } == 0)
    #expect(record.migrations.isEmpty)
  }

  @Test func anNMIRequestInjectsOneNMIWithoutAnswer() async throws {
    let text =
      "KTAP version 1\n# guest: fake\n1..1\n    KTAP version 1\n    # Subtest: nmi\n    # harness: nmi\n"
      + "    ok 1 handled # @Fake/Fake.swift:1\nok 1 nmi\n# Totals: pass:1 fail:0 skip:0\n# EXIT: STATUS=0\n"
    let machine = MigratingFakeMachine(parts: [text], hop: .fail("no migration expected"))
    let (record, judgment) = try await Self.run(machine, migrate: false)
    #expect(judgment == Judgment(.passed, ""))
    #expect(machine.commands.withLock { $0 } == ["inject-nmi"])
    #expect(machine.state.withLock { $0.answers }.isEmpty)
    #expect(record.notes.contains(.pokes(nmis: 1, failures: [])))
  }

  @Test func theRequestLineIsParsedOnlyExactly() {
    func request(_ text: String) -> HarnessRequest? {
      Array(text.utf8).withUnsafeBufferPointer { KTAP.request(in: $0.baseAddress!, 0, $0.count) }
    }
    #expect(request("harness: migrate") == .migrate)
    #expect(request("  harness:  migrate \r") == .migrate)
    #expect(request("harness: migrated") == nil)
    #expect(request("harness: reset") == .reset)
    #expect(request("harness: resets") == nil)
    #expect(request("harness: nmi") == .nmi)
    #expect(request("note: harness: migrate") == nil)
    var parser = KTAPParser()
    parser.consume(bytes: Array("KTAP version 1\n    # harness: migrate\n# harness: migrate\n# harness: nmi\n".utf8))
    #expect(parser.result.migrationRequests == 2)
    #expect(parser.result.requests == [.migrate, .migrate, .nmi])
  }
}
