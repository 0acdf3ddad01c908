import Foundation
import Harness
import Testing

/// Live migration on bare QEMU with the real `migration` guest: the
/// figures of every hop reach the result, the serial log stays one log,
/// and a migration past its bound is its own reason with no QEMU left.
@Suite("Live migration (real QEMU)", .serialized)
struct MigrationGuestTests {
  func boot(
    architecture: Architecture, tests: String, runner: GuestRunner = TestSupport.runner
  ) async throws -> GuestResult {
    let program = try runner.builder.workspace.program(named: "migration")
    var settings = LaunchSettings(
      architecture: architecture, accelerator: .tcg, cpus: 1, guestArguments: ["harness.tests=\(tests)"],
      timeout: .seconds(120))
    settings.migrate = true
    return try await runner.run(program, settings: settings)
  }

  /// Processes whose command line names the QMP socket `socket` or one of
  /// its destinations' (`qmp-N.sock`, `qmp-N-hopH.sock`).
  func processes(sharing socket: String) -> [Int32] {
    let stem = socket.hasSuffix(".sock") ? String(socket.dropLast(5)) : socket
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      let words = String(decoding: data, as: UTF8.self).split(separator: "\0")
      return words.contains { $0.contains(stem + ".sock") || $0.contains(stem + "-hop") }
    }
  }

  func socket(of command: [String]) -> String? {
    guard let index = command.firstIndex(of: "-qmp"), index + 1 < command.count else { return nil }
    let value = command[index + 1]
    guard value.hasPrefix("unix:") else { return nil }
    return String(value.dropFirst(5).prefix { $0 != "," })
  }

  @Test(arguments: Architecture.allCases)
  func threeHopsKeepOneLogAndReportTheirFigures(architecture: Architecture) async throws {
    // Test 5 of the migration guest: three hops in a row.
    let result = try await boot(architecture: architecture, tests: "5")
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.migrations.map(\.number) == [1, 2, 3])
    for hop in result.migrations {
      #expect(hop.downtimeMilliseconds >= 0 && hop.totalMilliseconds > 0, "\(hop.summary)")
      #expect(hop.wallMilliseconds >= hop.totalMilliseconds, "\(hop.summary)")
    }
    let lines = result.serialLog.split(separator: "\n")
    #expect(lines.filter { $0.hasSuffix("# harness: migrate") }.count == 3)
    #expect(lines.filter { $0 == "KTAP version 1" }.count == 1, "one document across the hops")
    #expect(lines.filter { $0.hasPrefix("# EXIT:") }.count == 1)
    #expect(result.qemuStderr.contains("migration 3: downtime"), "\(result.qemuStderr)")
  }

  @Test func aMigrationPastItsBoundIsItsOwnReasonAndNoQEMUIsLeft() async throws {
    var runner = TestSupport.runner
    var launcher = EngineLauncher(QemuProcessBackend())
    launcher.engine.migrationTimeout = .milliseconds(1)
    runner.launcher = launcher
    let result = try await boot(architecture: .x86_64, tests: "0", runner: runner)
    #expect(result.verdict == .crashed, "\(result.reason)")
    #expect(
      result.reason.hasPrefix("migration 1 failed: no completion within the migration timeout"),
      "\(result.reason)")
    #expect(result.migrations.isEmpty)
    let monitor = try #require(socket(of: result.command))
    // The run returns once every QEMU it started is gone: the destination
    // too, which was still starting when the bound passed.
    #expect(processes(sharing: monitor).isEmpty, "source and destination are gone when the run returns")
    try await Task.sleep(for: .milliseconds(500))
    #expect(processes(sharing: monitor).isEmpty, "and no QEMU of the run starts afterwards")
  }
}
