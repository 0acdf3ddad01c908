import Foundation
import Harness
import Testing

/// Forwards a machine but hides its reset: a backend that cannot reset.
final class UnresettableMachine: BackendMachine {
  let inner: any BackendMachine
  init(_ inner: any BackendMachine) { self.inner = inner }
  var events: AsyncStream<MachineEvent> { inner.events }
  var control: (any MachineControl)? { inner.control }
  var drainAfterStop: Duration { inner.drainAfterStop }
  func start() async throws -> Int32? { try await inner.start() }
  func destroy() async { await inner.destroy() }
  func finish(_ run: EngineSummary) async -> MachineReport { await inner.finish(run) }
}

/// Bare QEMU whose machines cannot reset; `claimsReset`: the backend says
/// it can all the same (the engine must still refuse).
struct UnresettableQemuBackend: MachineBackend {
  var claimsReset: Bool
  var host: HostKey { .local }
  var canReset: Bool { claimsReset }
  func create(_ request: MachineRequest) async throws -> any BackendMachine {
    UnresettableMachine(try await QemuProcessBackend().create(request))
  }
}

/// Machine resets on bare QEMU with the real `reset` guest: the run spans
/// the reset (the first document's test, the resumed test's checks from
/// both boots, the test after it), the guest sees a warm reset, the
/// harness records exactly one; a cell on a backend that cannot reset is
/// SKIP, a machine that cannot ends the run with its reason, a cell that
/// does not reset never asks, and a reset the guest makes by itself after
/// an asked one ends QEMU: never a pass.
@Suite("Machine reset (real QEMU)", .serialized)
struct ResetGuestTests {
  func boot(
    _ name: String = "reset", architecture: Architecture, cpus: Int = 1,
    runner: GuestRunner = TestSupport.runner, reset: Bool = true
  ) async throws -> GuestResult {
    let program = try runner.builder.workspace.program(named: name)
    var settings = LaunchSettings(
      architecture: architecture, accelerator: .tcg, cpus: cpus, timeout: .seconds(120))
    settings.reset = reset
    return try await runner.run(program, settings: settings)
  }

  @Test(arguments: Architecture.allCases)
  func theGuestSeesAWarmResetAndTheRunSpansIt(architecture: Architecture) async throws {
    // x86_64 with two CPUs: the second CPU also runs before and after.
    let cpus = architecture == .x86_64 ? 2 : 1
    let result = try await boot(architecture: architecture, cpus: cpus)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.resets.map(\.number) == [1], "\(result.qemuStderr)")
    #expect(result.sections.map(\.name) == ["before", "warm reset", "after"])
    // The resumed test has its checks from before the reset (3, x86_64: 5)
    // and after it (6, x86_64: 8; its `require` runs on both boots).
    let resumed = try #require(result.sections.first { $0.name == "warm reset" })
    #expect(resumed.checks.count == (cpus == 2 ? 13 : 9), "\(resumed.checks.map(\.name))")
    #expect(resumed.checks.allSatisfy { $0.outcome == .passed })
    let lines = result.serialLog.split(separator: "\n")
    #expect(lines.filter { $0.hasSuffix("# harness: reset") }.count == 1)
    #expect(
      lines.filter { $0 == "KTAP version 1" }.count == 2, "one document before the reset, one after"
    )
    #expect(lines.filter { $0.hasPrefix("# EXIT:") }.count == 1)
    #expect(result.qemuStderr.contains("reset 1: at"), "\(result.qemuStderr)")
  }

  @Test func aCellOnABackendThatCannotResetIsSkippedWithItsReason() async throws {
    var runner = TestSupport.runner
    runner.launcher = EngineLauncher(UnresettableQemuBackend(claimsReset: false))
    let result = try await boot(architecture: .x86_64, runner: runner)
    #expect(result.verdict == .skipped, "\(result.reason)")
    #expect(result.reason == "this backend cannot reset a machine yet (reset = yes)")
    #expect(result.sections.isEmpty && result.command.isEmpty, "nothing ran")
  }

  @Test func aCellThatDoesNotResetNeverAsks() async throws {
    // reset = no: requestReset() returns at once and both tests that need
    // the reset skip; the harness resets nothing.
    let result = try await boot(architecture: .x86_64, reset: false)
    #expect(result.verdict == .passed, "\(result.reason)")
    #expect(result.resets.isEmpty)
    #expect(result.sections.map(\.status) == [.passed, .skipped, .skipped])
    #expect(!result.serialLog.contains("# harness: reset"))
  }

  @Test func aBackendThatCannotResetEndsTheRunWithItsReason() async throws {
    // The backend claims it can, its machine cannot: the engine refuses.
    var runner = TestSupport.runner
    runner.launcher = EngineLauncher(UnresettableQemuBackend(claimsReset: true))
    let result = try await boot(architecture: .x86_64, runner: runner)
    #expect(result.verdict == .crashed, "\(result.reason)")
    #expect(
      result.reason.hasPrefix(
        "reset 1 failed: the guest asked for a reset, and this backend cannot reset a machine"),
      "\(result.reason)")
    #expect(result.resets.isEmpty)
    // Ended at once, not after the guest's 20 s wait.
    #expect(result.duration < .seconds(15), "\(result.duration)")
  }

  @Test(arguments: Architecture.allCases)
  func aResetTheGuestMakesByItselfAfterAnAskedOneEndsQEMU(architecture: Architecture)
    async throws
  {
    // guests/negative/reset_unasked: asks, is reset, then resets unasked.
    let result = try await boot("reset_unasked", architecture: architecture)
    #expect(result.verdict == .crashed, "\(result.reason)\n\(result.serialLog)")
    #expect(
      result.reason.hasPrefix(
        "guest stopped without an exit line (triple fault, reset or early exit); QEMU exited with 0"
      ),
      "\(result.reason)")
    #expect(result.resets.map(\.number) == [1])
    // Two documents: the one that asked and the resumed one; no third.
    let lines = result.serialLog.split(separator: "\n")
    #expect(lines.filter { $0 == "KTAP version 1" }.count == 2, "\(result.serialLog)")
    #expect(result.duration < .seconds(15), "\(result.duration)")
  }
}
