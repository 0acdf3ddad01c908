import Foundation
import Harness
import Testing

/// One boot of one guest test program.
struct GuestCase: Sendable, CustomTestStringConvertible {
  var program: GuestProgram
  var architecture: Architecture
  var accelerator: Accelerator
  var testDescription: String { "\(program.name) · \(architecture) · \(accelerator)" }
}

enum GuestCatalog {
  static let runner: GuestRunner = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    let workspace = try! GuestWorkspace.locate(from: here)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  /// Every guest under guests/tests on x86_64, under TCG and KVM.
  static var cases: [GuestCase] {
    let programs = (try? runner.builder.workspace.programs()) ?? []
    return programs.flatMap { program in
      Accelerator.allCases.map { GuestCase(program: program, architecture: .x86_64, accelerator: $0) }
    }
  }
}

/// Boots every guest test; each failed guest check becomes an issue at the
/// guest's own source file and line.
@Suite("Guests")
struct GuestSuiteTests {
  @Test("guest", arguments: GuestCatalog.cases)
  func guest(_ guestCase: GuestCase) async throws {
    if guestCase.accelerator == .kvm,
      let reason = KVMAvailability.unavailableReason(for: guestCase.architecture)
    {
      try Test.cancel("KVM unavailable: \(reason)")
    }
    let runner = GuestCatalog.runner
    let payload = try await runner.builder.build(guestCase.program, for: guestCase.architecture)
    let result = try await runner.run(
      payload,
      settings: LaunchSettings(
        architecture: guestCase.architecture, accelerator: guestCase.accelerator))
    for check in result.failedChecks {
      let location = check.location ?? GuestSourceLocation(fileID: "unknown/unknown.swift", line: 1)
      let path = payload.sources[location.fileID] ?? location.fileID
      let details = check.diagnostics.isEmpty ? "" : "\n" + check.diagnostics.joined(separator: "\n")
      Issue.record(
        "guest check failed: \(check.section) › \(check.name)\(details)",
        sourceLocation: SourceLocation(
          fileID: location.fileID, filePath: path, line: location.line, column: 1))
    }
    #expect(
      result.verdict == .passed,
      "\(guestCase.testDescription): \(result.verdict) \(result.reason)")
    #expect(!result.checks.isEmpty, "a guest that made no check did not test anything")
    if result.verdict != .passed {
      Attachment.record(result.serialLog, named: "\(guestCase.program.name)-serial.log")
    }
  }
}
