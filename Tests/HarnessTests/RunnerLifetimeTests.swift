import Foundation
import Testing

@testable import Harness

/// QEMU never outlives the runner: whatever ends the runner (`kill -9`,
/// SIGHUP from a closed terminal), every QEMU it started is gone 2 s later.
@Suite("Runner lifetime", .serialized)
struct RunnerLifetimeTests {
  /// Whether `pid` is gone or a zombie (dead, waiting to be reaped by
  /// whoever inherited it).
  static func isDead(_ pid: Int32) -> Bool {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return true }
    let stat = String(decoding: data, as: UTF8.self)
    guard let close = stat.lastIndex(of: ")") else { return true }
    return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
  }

  /// Starts the runner on two hung guests (one per arch; this 2-CPU host
  /// admits two 1-vCPU cells at once), waits until their QEMUs run, sends `signal` to the runner, and
  /// returns the runner's outcome and whether every QEMU died within 2 s.
  func killRunner(with signal: Int32) async throws -> (RunnerBinary.Outcome, [Int32], Bool) {
    try await RunnerBinary.prebuild(["hang"])
    let program = try TestSupport.runner.builder.workspace.program(named: "hang")
    _ = try await TestSupport.runner.builder.build(program, for: .s390x)
    let token = "harness.testtoken=\(UInt32.random(in: 1...UInt32.max))"
    let dir = try RunnerBinary.scratch(
      config: """
        [defaults]
        accel = tcg
        guest_args = \(token)
        [hang]
        arch = x86_64 s390x
        timeout = 600
        silence = 600
        """)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let qemus = RunnerBinary.Buffer()
    let allDied = RunnerBinary.Buffer()
    let run = try await RunnerBinary.interact([
      "--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run",
      "-j", "2",
    ]) { output, pid in
      let booted = try await RunnerBinary.wait(seconds: 120) {
        RunnerBinary.processes(containing: token).count == 2
      }
      #expect(booted, "two hung QEMUs started: \(output())")
      let pids = RunnerBinary.processes(containing: token)
      qemus.append(Array(pids.map(String.init).joined(separator: " ").utf8))
      kill(pid, signal)
      let died = try await RunnerBinary.wait(seconds: 2) { pids.allSatisfy(Self.isDead) }
      allDied.append(died ? [1] : [0])
    }
    for pid in RunnerBinary.processes(containing: token) { kill(pid, SIGKILL) }
    let pids = qemus.text.split(separator: " ").compactMap { Int32($0) }
    return (run, pids, allDied.text == "\u{1}")
  }

  @Test func killDashNineLeavesNoQemu() async throws {
    let (run, pids, died) = try await killRunner(with: SIGKILL)
    #expect(run.status == 128 + SIGKILL)
    #expect(pids.count == 2)
    #expect(died, "QEMUs \(pids) still alive 2 s after the runner was killed")
  }

  @Test func hangupIsAnInterruptAndLeavesNoQemu() async throws {
    let (run, pids, died) = try await killRunner(with: SIGHUP)
    #expect(run.status == 128 + SIGHUP, "\(run.stdout)\n\(run.stderr)")
    #expect(pids.count == 2)
    #expect(died, "QEMUs \(pids) still alive 2 s after SIGHUP")
    #expect(run.stdout.contains("INTERRUPTED"), "SIGHUP reports like Ctrl-C: \(run.stdout)")
  }
}
