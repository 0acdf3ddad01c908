import Foundation
import Harness
import Testing

/// One matrix cell, named by its stable id in the test navigator.
struct GuestCase: Sendable, CustomTestStringConvertible {
  var cell: MatrixCell
  var testDescription: String { cell.id }
}

enum GuestCatalog {
  static let runner: GuestRunner = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    let workspace = try! GuestWorkspace.locate(from: here)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  /// Every cell of configs/guests.cfg (all accelerators). `GUEST_TESTS`
  /// narrows them like the runner's `--test`: patterns `guest/test`
  /// separated by `;` (`GUEST_TESTS='selftest/exceptions' swift test
  /// --filter GuestSuiteTests`); each guest then runs only those tests.
  static var cases: [GuestCase] {
    ((try? selectedCells()) ?? []).map(GuestCase.init)
  }

  /// The cells `GUEST_TESTS` selects (all without it).
  static func selectedCells() throws -> [MatrixCell] {
    let matrix = try TestMatrix.load(workspace: runner.builder.workspace)
    let patterns = (ProcessInfo.processInfo.environment["GUEST_TESTS"] ?? "")
      .split(separator: ";").map(String.init).filter { !$0.isEmpty }
    return try GuestTestSelection(patterns: patterns).apply(
      to: matrix.cells, workspace: runner.builder.workspace)
  }
}

/// Boots every guest test; each failed guest check becomes an issue at the
/// guest's own source file and line.
@Suite("Guests")
struct GuestSuiteTests {
  @Test func matrixLoadsAndCoversEveryGuest() throws {
    let matrix = try TestMatrix.load(workspace: GuestCatalog.runner.builder.workspace)
    let programs = try GuestCatalog.runner.builder.workspace.programs().map(\.name)
    #expect(Set(matrix.cells.map(\.guest)) == Set(programs))
    #expect(Set(matrix.cells.map(\.id)).count == matrix.cells.count, "cell ids are unique")
    // A GUEST_TESTS that selects nothing fails here instead of leaving the
    // parameterized test below without cases.
    #expect(!(try GuestCatalog.selectedCells()).isEmpty)
  }

  @Test("guest", arguments: GuestCatalog.cases)
  func guest(_ guestCase: GuestCase) async throws {
    let cell = guestCase.cell
    if cell.settings.accelerator == .kvm,
      let reason = KVMAvailability.unavailableReason(for: cell.settings.architecture)
    {
      try Test.cancel("KVM unavailable: \(reason)")
    }
    // One run, no second chance: a retry is the runner's visible --retry.
    let (payload, result) = try await GuestCatalog.runner.run(cell)
    for check in result.failedChecks {
      let location = check.location ?? GuestSourceLocation(fileID: "unknown/unknown.swift", line: 1)
      let path = payload.sources[location.fileID] ?? location.fileID
      let details = check.diagnostics.isEmpty ? "" : "\n" + check.diagnostics.joined(separator: "\n")
      Issue.record(
        "guest check failed: \(check.section) › \(check.name)\(details)",
        sourceLocation: SourceLocation(
          fileID: location.fileID, filePath: path, line: location.line, column: 1))
    }
    // A failure says enough to diagnose it from CI output alone: the end of
    // the serial log, QEMU's stderr and how long the run took.
    let tail = result.serialLog.split(separator: "\n").suffix(15).joined(separator: "\n")
    #expect(
      result.verdict == .passed,
      """
      \(cell.id): \(result.verdict) \(result.reason) after \(result.duration)
      serial log (last 15 lines):
      \(tail)
      QEMU stderr: \(result.qemuStderr)
      """)
    #expect(!result.checks.isEmpty, "a guest that made no check did not test anything")
    if result.verdict != .passed {
      Attachment.record(result.serialLog, named: "\(cell.id)-serial.log")
    }
  }
}
