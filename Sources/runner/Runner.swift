import ArgumentParser
import Foundation
import Harness

/// `swift run runner`: builds and boots every guest test and reports.
@main
struct Runner: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "runner",
    abstract: "Build bare-metal Swift guests, boot them in QEMU and report every check.")

  enum AcceleratorChoice: String, ExpressibleByArgument, CaseIterable {
    case tcg, kvm, auto
  }

  @Option(help: "Accelerator: tcg, kvm, or auto (KVM where /dev/kvm works, else TCG).")
  var accel: AcceleratorChoice = .auto

  @Option(help: "Guest architecture.")
  var arch: String = "x86_64"

  @Option(name: .customLong("guest"), help: "Run only these guests (repeatable).")
  var guests: [String] = []

  @Option(help: "Per-guest timeout in seconds.")
  var timeout: Int = 60

  @Flag(help: "Print each guest's serial log.")
  var verbose = false

  mutating func run() async throws {
    guard let architecture = Architecture(rawValue: arch) else {
      throw ValidationError("--arch: unknown architecture '\(arch)'; use x86_64 or s390x")
    }
    let runner = try GuestRunner.forCurrentPackage()
    let all = try runner.builder.workspace.programs()
    let selected: [GuestProgram] =
      guests.isEmpty ? all : try guests.map { try runner.builder.workspace.program(named: $0) }
    let accelerator: Accelerator
    switch accel {
    case .tcg: accelerator = .tcg
    case .kvm: accelerator = .kvm
    case .auto:
      accelerator = KVMAvailability.unavailableReason(for: architecture) == nil ? .kvm : .tcg
    }
    var failures = 0
    var counts: [Verdict: Int] = [:]
    for program in selected {
      let settings = LaunchSettings(
        architecture: architecture, accelerator: accelerator, timeout: .seconds(timeout))
      let result: GuestResult
      do {
        result = try await runner.run(program, settings: settings)
      } catch {
        print("ERROR \(program.name) · \(architecture) · \(accelerator): \(error)")
        failures += 1
        continue
      }
      counts[result.verdict, default: 0] += 1
      if result.verdict.isFailure { failures += 1 }
      let checks = result.checks
      let passed = checks.filter { $0.outcome == .passed }.count
      let skipped = checks.filter { if case .skipped = $0.outcome { true } else { false } }.count
      let seconds = Double(result.duration.components.attoseconds) / 1e18
        + Double(result.duration.components.seconds)
      print(
        "\(result.verdict.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) "
          + "\(program.name) · \(architecture) · \(accelerator)  "
          + "\(passed) passed, \(result.failedChecks.count) failed, \(skipped) skipped  "
          + String(format: "%.2fs", seconds)
          + (result.reason.isEmpty ? "" : "  — \(result.reason)"))
      for check in result.failedChecks {
        let location = check.location.map { result.sourcePath(for: $0, runner: runner) } ?? "?"
        print("    not ok \(check.section) › \(check.name) at \(location)")
        for line in check.diagnostics { print("      # \(line)") }
      }
      if verbose || result.verdict.isFailure {
        if verbose { print(result.serialLog) }
      }
    }
    let summary = Verdict.allCases.compactMap { verdict in
      counts[verdict].map { "\($0) \(verdict.rawValue)" }
    }.joined(separator: ", ")
    print("summary: \(selected.count) guests: \(summary.isEmpty ? "none run" : summary)")
    if failures > 0 { throw ExitCode(1) }
  }
}

extension GuestResult {
  /// The guest source path of a reported location, for people to click.
  func sourcePath(for location: GuestSourceLocation, runner: GuestRunner) -> String {
    guard let program = try? runner.builder.workspace.program(named: guest) else {
      return location.description
    }
    let map = runner.builder.sourceMap(program, architecture)
    return "\(map[location.fileID] ?? location.fileID):\(location.line)"
  }
}
