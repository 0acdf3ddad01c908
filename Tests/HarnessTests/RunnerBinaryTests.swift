import Foundation
import Subprocess
import Synchronization
import Testing

@testable import Harness

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// Starts the built `runner` executable (next to this test binary in the
/// build directory) with a config file in a temporary directory.
enum RunnerBinary {
  /// What a run of the runner gave.
  struct Outcome: Sendable {
    /// Exit status (128 + n when ended by signal n).
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// The runner executable of the same build as this test binary.
  static func path() throws -> String {
    var candidates: [String] = []
    for start in [CommandLine.arguments.first ?? "", "/proc/self/exe"] where !start.isEmpty {
      var url = URL(fileURLWithPath: start).resolvingSymlinksInPath().deletingLastPathComponent()
      // .../debug/X.xctest (a file on Linux, a bundle elsewhere).
      for _ in 0..<4 {
        candidates.append(url.appendingPathComponent("runner").path)
        url.deleteLastPathComponent()
      }
    }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
      throw HarnessError.toolNotFound(
        "runner", hint: "build it first (swift build); looked in \(candidates.joined(separator: ", "))")
    }
    return found
  }

  static var root: String { TestSupport.runner.builder.workspace.root }

  /// A scratch directory with `config` written as `guests.cfg` in it.
  static func scratch(config: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("runner-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try config.write(toFile: directory + "/guests.cfg", atomically: true, encoding: .utf8)
    return directory
  }

  static func status(_ termination: TerminationStatus) -> Int32 {
    switch termination {
    case .exited(let code): Int32(code)
    case .signaled(let signal): 128 + Int32(signal)
    }
  }

  /// Runs the runner to completion (from the package root).
  static func run(_ arguments: [String], via wrapper: [String] = []) async throws -> Outcome {
    let runner = try path()
    let argv = wrapper.isEmpty ? [runner] + arguments : wrapper + [([runner] + arguments).map(ReportText.shellQuote).joined(separator: " ")]
    let result = try await Subprocess.run(
      .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
      workingDirectory: FilePath(root),
      output: .string(limit: 8 << 20), error: .string(limit: 8 << 20))
    return Outcome(
      status: status(result.terminationStatus), stdout: result.standardOutput,
      stderr: result.standardError)
  }

  /// Runs the runner to completion and returns its standard output as raw
  /// bytes (as a pipe, or a terminal `via` script(1), would receive them).
  static func runBytes(_ arguments: [String], via wrapper: [String] = []) async throws -> (
    status: Int32, stdout: [UInt8], stderr: String
  ) {
    let runner = try path()
    let argv = wrapper.isEmpty ? [runner] + arguments : wrapper + [([runner] + arguments).map(ReportText.shellQuote).joined(separator: " ")]
    let result = try await Subprocess.run(
      .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
      workingDirectory: FilePath(root),
      output: .bytes(limit: 8 << 20), error: .string(limit: 8 << 20))
    return (status(result.terminationStatus), result.standardOutput, result.standardError)
  }

  /// Starts the runner, calls `whileRunning` with a function returning
  /// the output so far and the runner's pid, then waits for it to exit.
  static func interact(
    _ arguments: [String],
    whileRunning: @Sendable (_ output: @Sendable () -> String, _ pid: Int32) async throws -> Void
  ) async throws -> Outcome {
    let output = Buffer()
    let result = try await Subprocess.run(
      .path(FilePath(try path())), arguments: Arguments(arguments),
      workingDirectory: FilePath(root), input: .none, output: .sequence,
      error: .string(limit: 8 << 20)
    ) { execution in
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          for try await chunk in execution.standardOutput {
            chunk.withUnsafeBytes { raw in output.append(Array(raw)) }
          }
        }
        try await whileRunning(
          { output.text },
          execution.processIdentifier.value)
        try await group.waitForAll()
      }
    }
    return Outcome(
      status: status(result.terminationStatus),
      stdout: output.text,
      stderr: result.standardError)
  }

  /// Output collected from another task.
  final class Buffer: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    func append(_ more: [UInt8]) { bytes.withLock { $0 += more } }
    var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
  }

  /// Pids of QEMU processes (not their guards) whose command line
  /// contains `text`.
  static func processes(containing text: String) -> [Int32] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> Int32? in
      guard let pid = Int32(name),
        let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
        let comm = FileManager.default.contents(atPath: "/proc/\(name)/comm")
      else { return nil }
      let cmdline = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
      let isQemu = String(decoding: comm, as: UTF8.self).hasPrefix("qemu-system")
      return cmdline.contains(text) && isQemu ? pid : nil
    }
  }

  /// Polls `condition` every 50 ms for up to `seconds`.
  static func wait(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + .milliseconds(Int64(seconds * 1000))
    while clock.now < end {
      if condition() { return true }
      try await Task.sleep(for: .milliseconds(50))
    }
    return condition()
  }

  /// Builds the payloads the runner will use, so that its own run does not
  /// spend the test's waiting time compiling.
  static func prebuild(_ guests: [String]) async throws {
    for guest in guests {
      let program = try TestSupport.runner.builder.workspace.program(named: guest)
      _ = try await TestSupport.runner.builder.build(program, for: .x86_64)
    }
  }
}

/// The runner end to end: exit statuses, output forms, logs, Ctrl-C,
/// retries, crash locations and the gdb stub, through the built binary.
@Suite("Runner binary", .serialized)
struct RunnerBinaryTests {
  @Test func exitStatusZeroWhenAllPassAndPlainLinesWithoutATerminal() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\nmemory = 256M 512M\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--report-dir", dir + "/run",
    ])
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    #expect(!run.stdout.contains("\u{1B}"), "no escape codes when stdout is not a terminal")
    let lines = run.stdout.split(separator: "\n")
    #expect(lines.filter { $0.hasPrefix("PASS     selftest.x86_64.tcg.smp1.mem") }.count == 2)
    #expect(run.stdout.contains("summary: 2 cells: 2 PASS"))
    // The check totals: both cells' checks (selftest skips one), and a rate.
    let totals = try #require(
      run.stdout.firstMatch(
        of: /; (\d+) checks \((\d+) passed, (\d+) skipped\), (\d+\.\d) checks\/s/))
    let (all, passed, skipped) = (Int(totals.1)!, Int(totals.2)!, Int(totals.3)!)
    #expect(all == passed + skipped && all % 2 == 0 && passed > 0 && skipped == 2)
    #expect(Double(totals.4)! > 0)
    // Summary in matrix order.
    let summary = try #require(run.stdout.components(separatedBy: "summary (matrix order):").last)
    let first = try #require(summary.range(of: "selftest.x86_64.tcg.smp1.mem256M"))
    let second = try #require(summary.range(of: "selftest.x86_64.tcg.smp1.mem512M"))
    #expect(first.lowerBound < second.lowerBound)
    // Per-cell logs: serial, argv (shell-quoted), stderr.
    let base = dir + "/run/logs/selftest.x86_64.tcg.smp1.mem256M"
    let log = try String(contentsOfFile: base + ".log", encoding: .utf8)
    #expect(log.contains("# EXIT: STATUS=0"))
    let cmdline = try String(contentsOfFile: base + ".cmdline", encoding: .utf8)
    #expect(cmdline.hasPrefix("qemu-system-x86_64 "))
    // The QEMU version as its --version said (known once the run verified it).
    let version = try #require(
      QemuVersions.version(fromFirstLine: try TestSupport.qemuVersionLine("qemu-system-x86_64")))
    #expect(cmdline.contains("-append 'harness.mem=256 harness.smp=1 harness.accel=tcg harness.qemu=\(version) harness.attempt=1'"))
    #expect(FileManager.default.fileExists(atPath: base + ".stderr"))
    // The timed log: every line of the serial log, with non-decreasing
    // arrival times in milliseconds.
    let timed = try String(contentsOfFile: base + ".timed.log", encoding: .utf8)
      .split(separator: "\n").map(String.init)
    #expect(timed.count == log.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
    #expect(timed.last?.hasSuffix(" ms │ # EXIT: STATUS=0") == true, "\(timed.suffix(2))")
    let times = timed.compactMap { Double($0.prefix(while: { $0 != "m" }).trimmingCharacters(in: .whitespaces)) }
    #expect(times.count == timed.count, "every line has a time")
    #expect(times == times.sorted() && (times.last ?? 0) > 0)
    // The quoted command line runs as it is, to the same exit code.
    let shell = try await Subprocess.run(
      .path("/bin/sh"), arguments: ["-c", cmdline], output: .string(limit: 1 << 20), error: .discarded)
    #expect(RunnerBinary.status(shell.terminationStatus) == 1, "isa-debug-exit status 0 → QEMU exit 1")
    #expect(shell.standardOutput.contains("# EXIT: STATUS=0"))
  }

  /// A bare-QEMU run neither loads libvirt (it is loaded on first use:
  /// Sources/CLibvirt) nor asks a QEMU for its version that an earlier run
  /// asked (the answers persist in .build/guests/qemu-versions.json). The
  /// QEMU asked is a build of this test's own (`--qemu`), a wrapper that
  /// counts its `--version` calls: other tests share the file, not it.
  @Test func aBareQemuRunLoadsNoLibvirtAndReusesQemuVersions() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let build = dir + "/qemu-build"
    let calls = build + "/version-calls"
    try FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
    let wrapper = build + "/qemu-system-x86_64"
    try """
      #!/bin/sh
      case "$1" in --version) echo asked >> "\(calls)" ;; esac
      exec qemu-system-x86_64 "$@"

      """.write(toFile: wrapper, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
    func run() async throws -> (status: Int32, stderr: String) {
      let result = try await Subprocess.run(
        .path(FilePath(try RunnerBinary.path())),
        arguments: [
          "--config", dir + "/guests.cfg", "--report-dir", dir + "/run", "--qemu", "counted=\(build)",
        ],
        environment: .inherit.updating(["LD_DEBUG": "libs"]),
        workingDirectory: FilePath(RunnerBinary.root),
        output: .discarded, error: .string(limit: 8 << 20))
      return (RunnerBinary.status(result.terminationStatus), result.standardError)
    }
    func versionCalls() -> Int {
      ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count
    }
    let first = try await run()
    #expect(first.status == 0, "\(first.stderr.suffix(2000))")
    // The dynamic loader lists every library it looks up (LD_DEBUG=libs).
    #expect(first.stderr.contains("find library=libc.so.6"), "LD_DEBUG works here")
    #expect(!first.stderr.contains("libvirt"), "a bare-QEMU run loaded libvirt")
    #expect(versionCalls() == 1, "the first run asks the new build once")
    let cache = RunnerBinary.root + "/.build/guests/" + QemuVersions.fileName
    let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cache)))
    #expect((stored as? [String: Any])?[wrapper] != nil, "the answer is kept in \(cache)")
    // A second run finds the answer and asks the build nothing.
    let second = try await run()
    #expect(second.status == 0)
    #expect(versionCalls() == 1, "the second run asked a QEMU for its version again")
  }

  /// `bench --process` runs the runner as a child and prints every phase
  /// the child marked, the total, the bare QEMU time and their ratio.
  @Test func processBenchmarkPrintsTheChildsPhases() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "bench", "--process", "--config", dir + "/guests.cfg", "--repeats", "1",
    ])
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    var figures: [String: Double] = [:]
    for line in run.stdout.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let value = Double(fields[fields.count - 1]) {
        figures[fields.dropLast().joined(separator: " ")] = value
      }
    }
    for phase in [
      "start-up", "arguments", "matrix", "baseline+versions", "metadata+directory", "cells",
      "summary", "reports", "exit", "total", "bare QEMU, all cells",
    ] {
      #expect((figures[phase] ?? -1) >= 0, "no figure for \(phase) in:\n\(run.stdout)")
    }
    // The phases add up to the total; the cells took longer than nothing.
    let parts = ["start-up", "arguments", "matrix", "baseline+versions", "metadata+directory", "cells", "summary", "reports", "exit"]
      .compactMap { figures[$0] }.reduce(0, +)
    #expect(abs(parts - (figures["total"] ?? 0)) < 1, "phases \(parts) ms vs total \(figures["total"] ?? 0) ms")
    #expect((figures["cells"] ?? 0) > 1)
    #expect(run.stdout.contains("ratio") && run.stdout.contains("exited(0)"), "\(run.stdout)")
  }

  @Test func exitStatusOneWhenACellFails() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n[failing]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run", "-j", "1",
    ])
    #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains("FAIL     failing.x86_64.tcg.smp1.mem256M"))
    #expect(run.stdout.contains("at guests/negative/failing/Failing.swift:"))
  }

  @Test(arguments: [
    (["--bogus-option"], "Unknown option"),
    (["-j", "0"], "-j/--jobs must be at least 1"),
    (["--retry", "-1"], "--retry"),
    (["--accel", "fast"], "'fast' is invalid"),
    (["--guest", "no_such_guest"], "'no_such_guest' is not in"),
    (["--filter", "matches-no-cell"], "no matrix cell matches"),
    (["--connect", "qemu:///system"], "--connect needs --backend libvirt"),
    (["--backend", "libvirt", "--gdb", "x"], "drop --backend libvirt"),
    (["--backend", "libvirt", "--connect", "nosuch:///x"], "--connect: "),
  ])
  func exitStatusTwoForUsageErrors(arguments: [String], message: String) async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run(
      ["run", "--config", dir + "/guests.cfg", "--report-dir", dir + "/run"] + arguments)
    #expect(run.status == 2, "\(arguments): \(run.stderr)")
    #expect(run.stderr.contains(message), "\(run.stderr)")
  }

  @Test func exitStatusTwoForConfigErrorsWithFileAndLine() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\nmemory = 12Q\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let bad = try await RunnerBinary.run(["--config", dir + "/guests.cfg"])
    #expect(bad.status == 2)
    #expect(bad.stderr.contains("\(dir)/guests.cfg:4: '12Q' is not a memory size"))
    // A negative guest without --include-negative is a config error too.
    try "[hang]\n".write(toFile: dir + "/neg.cfg", atomically: true, encoding: .utf8)
    let negative = try await RunnerBinary.run(["list", "--config", dir + "/neg.cfg"])
    #expect(negative.status == 2)
    #expect(negative.stderr.contains("neg.cfg:1:") && negative.stderr.contains("--include-negative"))
  }

  @Test func retryTurnsFailThenPassIntoFlakyWithExitZero() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[flaky]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let arguments = ["--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run"]
    let once = try await RunnerBinary.run(arguments)
    #expect(once.status == 1, "without --retry the first attempt's failure stands")
    let retried = try await RunnerBinary.run(arguments + ["--retry", "2"])
    #expect(retried.status == 0, "\(retried.stdout)")
    #expect(retried.stdout.contains("RETRY    flaky.x86_64.tcg.smp1.mem256M  attempt 1 was FAIL"))
    #expect(retried.stdout.contains("FLAKY    flaky.x86_64.tcg.smp1.mem256M"))
    #expect(retried.stdout.contains("summary: 1 cell: 1 FLAKY"))
    let json = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/results.json"))
    let document = try JSONDecoder().decode(ResultsDocument.self, from: json)
    #expect(document.cells.first?.flaky == true)
    #expect(document.cells.first?.attempts == 2)
    #expect(document.summary.flaky == 1 && document.summary.ok)
    let junit = try String(contentsOfFile: dir + "/run/junit.xml", encoding: .utf8)
    #expect(junit.contains(#"<property name="flaky" value="true"/>"#))
    #expect(junit.contains(#"<property name="attempts" value="2"/>"#))
    let html = try String(contentsOfFile: dir + "/run/index.html", encoding: .utf8)
    #expect(html.contains("FLAKY"))
    // The failed first attempt's log is kept.
    let firstLog = try String(
      contentsOfFile: dir + "/run/logs/flaky.x86_64.tcg.smp1.mem256M.attempt1.log", encoding: .utf8)
    #expect(firstLog.contains("not ok"))
  }

  /// `runner list --tests` reads every registered test from the sources
  /// (no build, no boot); `--test` runs just the selected ones inside the
  /// guest, and the plan the judge expects shrinks to them.
  @Test func listTestsAndRunOneTest() async throws {
    let list = try await RunnerBinary.run(["list", "--tests"])
    #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
    let source = RunnerBinary.root + "/guests/tests/selftest/Selftest.swift"
    let line = try #require(try TestSupport.lines(in: source, containing: "func exceptions(").first)
    #expect(list.stdout.contains("selftest/exceptions\tguests/tests/selftest/Selftest.swift:\(line)"), "\(list.stdout)")
    #expect(list.stdout.contains("alloc/virtual\t"))
    #expect(!list.stdout.contains("xpass/"), "negative guests only with --include-negative")

    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\narch = x86_64 s390x\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--test", "selftest/exc*", "--report-dir", dir + "/run",
    ])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    let json = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/results.json"))
    let document = try JSONDecoder().decode(ResultsDocument.self, from: json)
    #expect(document.cells.count == 2)
    for cell in document.cells {
      #expect(Set(cell.checks.map(\.section)) == ["exceptions"], "\(cell.id)")
      #expect(cell.verdict == "PASS", "\(cell.id)")
    }
    let none = try await RunnerBinary.run(["--config", dir + "/guests.cfg", "--test", "selftest/nothing"])
    #expect(none.status != 0)
    #expect((none.stdout + none.stderr).contains("selects no test"), "\(none.stdout)\(none.stderr)")
  }

  @Test func crashLineNamesTheGuestSourceLine() async throws {
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[crash]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.run([
      "--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run",
    ])
    #expect(run.status == 1)
    let source = RunnerBinary.root + "/guests/negative/crash/Crash.swift"
    let line = try #require(try TestSupport.lines(in: source, containing: "unmapped.pointee =").first)
    let crashLine = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("CRASH    crash.") })
    #expect(crashLine.contains("in faults() at guests/negative/crash/Crash.swift:\(line)"))
    let json = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/results.json"))
    let document = try JSONDecoder().decode(ResultsDocument.self, from: json)
    #expect(document.cells.first?.crash?.location?.line == line)
  }

  @Test func interruptKillsQemuWritesReportsAndExits130() async throws {
    try await RunnerBinary.prebuild(["hang", "selftest"])
    let token = "harness.testtoken=\(UInt32.random(in: 1...UInt32.max))"
    let dir = try RunnerBinary.scratch(
      config: """
        [defaults]
        accel = tcg
        guest_args = \(token)
        [selftest]
        [hang]
        timeout = 600
        silence = 600
        """)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try await RunnerBinary.interact([
      "--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run", "-j", "2",
    ]) { output, pid in
      let booted = try await RunnerBinary.wait(seconds: 120) {
        RunnerBinary.processes(containing: token).count == 1 && output().contains("PASS")
      }
      #expect(booted, "the hang guest's QEMU started: \(output())")
      try await Task.sleep(for: .seconds(1))
      #expect(!RunnerBinary.processes(containing: token).isEmpty)
      kill(pid, SIGINT)
    }
    #expect(run.status == 130, "\(run.stdout)\n\(run.stderr)")
    #expect(RunnerBinary.processes(containing: token).isEmpty, "no QEMU of this run is left")
    #expect(run.stdout.contains("summary (matrix order):"))
    #expect(run.stdout.contains("  PASS           selftest.x86_64.tcg.smp1.mem256M"))
    #expect(run.stdout.contains("INTERRUPTED    hang.x86_64.tcg.smp1.mem256M"))
    let json = try Data(contentsOf: URL(fileURLWithPath: dir + "/run/results.json"))
    let document = try JSONDecoder().decode(ResultsDocument.self, from: json)
    #expect(document.cells.map(\.id) == ["selftest.x86_64.tcg.smp1.mem256M", "hang.x86_64.tcg.smp1.mem256M"])
    #expect(document.summary.interrupted == 1 && !document.summary.ok)
    #expect(document.cells.dropFirst().allSatisfy { $0.interrupted && $0.verdict == "SKIP" })
    let partial = try String(contentsOfFile: dir + "/run/logs/hang.x86_64.tcg.smp1.mem256M.log", encoding: .utf8)
    #expect(partial.contains("output before the hang"), "the partial serial log is kept")
  }

  @Test func escapeCodesOnlyOnATerminal() async throws {
    try await RunnerBinary.prebuild(["selftest"])
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let arguments = ["--config", dir + "/guests.cfg", "--report-dir", dir + "/run"]
    let plain = try await RunnerBinary.run(arguments)
    #expect(plain.status == 0)
    #expect(!plain.stdout.contains("\u{1B}"))
    // script(1) gives the runner a pseudo-terminal as stdout.
    let script = "/usr/bin/script"
    try #require(FileManager.default.isExecutableFile(atPath: script), "needs script(1) (bsdutils)")
    let tty = try await RunnerBinary.run(arguments, via: [script, "-q", "-e", "/dev/null", "-c"])
    #expect(tty.status == 0, "\(tty.stdout)")
    #expect(tty.stdout.contains("\r\u{1B}[2K"), "the status line is redrawn in place")
    #expect(tty.stdout.contains("x86_64: 0 running, 1 passed, 0 failed, 0 skipped"))
    #expect(tty.stdout.contains("PASS     selftest.x86_64.tcg.smp1.mem256M"))
  }

  /// Control characters in `bytes` (C0 but the line feed, DEL, C1 as UTF-8
  /// `C2 80`...`C2 9F`) with their offsets.
  static func controlBytes(_ bytes: [UInt8]) -> [(offset: Int, byte: UInt8)] {
    var found: [(Int, UInt8)] = []
    for (offset, byte) in bytes.enumerated() {
      if (byte < 0x20 && byte != 0x0A) || byte == 0x7F {
        found.append((offset, byte))
      } else if byte == 0xC2, offset + 1 < bytes.count, (0x80...0x9F).contains(bytes[offset + 1]) {
        found.append((offset, bytes[offset + 1]))
      }
    }
    return found
  }

  @Test func guestEscapeCodesNeverReachTheOutputRaw() async throws {
    try await RunnerBinary.prebuild(["escapes"])
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[escapes]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let arguments = ["--config", dir + "/guests.cfg", "--include-negative", "--report-dir", dir + "/run"]
    // Off a terminal, with and without the serial log: not one control
    // character but line feeds.
    for extra in [[], ["--verbose"]] {
      let run = try await RunnerBinary.runBytes(arguments + extra)
      let text = String(decoding: run.stdout, as: UTF8.self)
      #expect(run.status == 1, "\(text)\n\(run.stderr)")
      #expect(text.contains("CRASH    escapes.x86_64.tcg.smp1.mem256M"), "\(text)")
      let raw = Self.controlBytes(run.stdout)
      #expect(raw.isEmpty, "\(extra): raw control bytes \(raw.prefix(10)) in:\n\(text)")
      #expect(Self.controlBytes(Array(run.stderr.utf8)).isEmpty, "\(run.stderr)")
      // The guest's text is still there, escaped.
      #expect(text.contains(#"check \x1b[31mred\x1b[0m name\r PASS overwritten \x07"#), "\(text)")
      #expect(text.contains(#"not ok section \x1b[2J\x1b[Hcleared the screen"#))
      #expect(text.contains(#"# diagnostic \x1b[31mred\x1b[0m and a bell \x07 and C1 CSI \u{9b}31m"#))
      #expect(text.contains(#"# diagnostic with\rcarriage return, back\x08space and DEL \x7f"#))
      #expect(text.contains("# not UTF-8: \u{FFFD}\u{FFFD} end"))
      #expect(text.contains(#"CRASH: vector=14 name="\x1b[5mblink\x07""#), "crash lines")
      #expect(text.contains(#"guest exception vector 14 (\x1b[5mblink\x07)"#), "the reason quoting a crash field")
      if extra == ["--verbose"] {
        #expect(text.contains(#"# Subtest: window title \x1b]0;window title set by the guest\x07"#), "serial log")
      }
    }
    // On a terminal, the only escape codes are the runner's own status line
    // ones, and carriage returns only the terminal's CR LF and the runner's
    // redraw.
    let script = "/usr/bin/script"
    try #require(FileManager.default.isExecutableFile(atPath: script), "needs script(1) (bsdutils)")
    let tty = try await RunnerBinary.runBytes(arguments, via: [script, "-q", "-e", "/dev/null", "-c"])
    var text = String(decoding: tty.stdout, as: UTF8.self)
    #expect(tty.status == 1, "\(text)")
    #expect(text.contains("\u{1B}[7m"), "the status line was drawn: \(text)")
    for own in ["\r\u{1B}[2K", "\u{1B}[7m", "\u{1B}[0m", "\r\n"] { text = text.replacing(own, with: "") }
    let raw = Self.controlBytes(Array(text.utf8))
    #expect(raw.isEmpty, "raw control bytes \(raw.prefix(10)) on the terminal:\n\(text)")
    #expect(text.contains(#"check \x1b[31mred\x1b[0m name\r PASS overwritten \x07"#))
  }

  @Test func gdbStubListensAndTheCommandNamesTheELF() async throws {
    try await RunnerBinary.prebuild(["selftest"])
    let dir = try RunnerBinary.scratch(config: "[defaults]\naccel = tcg\n[selftest]\n")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cell = "selftest.x86_64.tcg.smp1.mem256M"
    let found = Mutex<(elf: String, port: Int)?>(nil)
    let run = try await RunnerBinary.interact(["--config", dir + "/guests.cfg", "--gdb", cell]) {
      output, pid in
      let printed = try await RunnerBinary.wait(seconds: 120) { output().contains("target remote :") }
      #expect(printed, "\(output())")
      let line = output().split(separator: "\n").first { $0.contains("gdb ") && $0.contains("target remote :") }
      if let line {
        // `  gdb <elf> -ex 'target remote :PORT'`
        let words = line.split(separator: " ")
        let elf = String(words[1])
        let port = Int(line.split(separator: ":").last?.filter(\.isNumber) ?? "") ?? 0
        found.withLock { $0 = (elf, port) }
        #expect(FileManager.default.fileExists(atPath: elf) && elf.hasSuffix(".elf"))
        #expect(output().contains("lldb \(elf) -o 'gdb-remote \(port)'"))
        // The stub answers a gdb remote-protocol query for the stop reason.
        let reply = Self.gdbQuery(port: port)
        #expect(reply.contains("$T05") || reply.contains("$S05"), "reply: \(reply)")
      }
      kill(pid, SIGINT)
    }
    #expect(run.status == 130, "\(run.stdout)\n\(run.stderr)")
    let port = try #require(found.withLock { $0 }?.port)
    #expect(Self.gdbQuery(port: port).isEmpty, "nothing listens any more: QEMU is gone")
  }

  /// Sends `?` to a gdb stub on 127.0.0.1:`port` and returns the reply
  /// ("" when nothing accepts the connection).
  static func gdbQuery(port: Int) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    guard connected else { return "" }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let packet = Array("+$?#3f".utf8)
    _ = packet.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 256)
    while !String(decoding: reply, as: UTF8.self).contains("#") {
      let count = recv(fd, &buffer, buffer.count, 0)
      if count <= 0 { break }
      reply += buffer.prefix(count)
    }
    return String(decoding: reply, as: UTF8.self)
  }

  @Test func autoAcceleratorUnderLibvirtAsksTheHostsNotThisMachine() async throws {
    // libvirt's test driver offers neither `qemu` nor `kvm` domains: auto
    // must pick the TCG cell, whatever this machine's /dev/kvm says, and that
    // cell is skipped for want of a host.
    let directory = try RunnerBinary.scratch(config: "")
    let outcome = try await RunnerBinary.run([
      "--backend", "libvirt", "--connect", "test:///default", "--accel", "auto",
      "--guest", "selftest", "--arch", "x86_64", "--report-dir", directory + "/runs",
    ])
    #expect(outcome.stdout.contains("SKIP     selftest.x86_64.tcg."), "\(outcome.stdout)\(outcome.stderr)")
    #expect(!outcome.stdout.contains("selftest.x86_64.kvm."))
    #expect(outcome.stdout.contains("no libvirt host offers x86_64 with tcg"))
  }
}

/// The CI workflow files shipped for users' projects parse as YAML.
@Suite("CI workflows")
struct CIWorkflowTests {
  @Test(arguments: ["scripts/ci/github-actions.yml", "scripts/ci/gitlab-ci.yml"])
  func parsesAsYAML(file: String) async throws {
    let path = RunnerBinary.root + "/" + file
    #expect(FileManager.default.fileExists(atPath: path))
    let result = try await Subprocess.run(
      .name("python3"),
      arguments: ["-c", "import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); assert isinstance(d, dict), type(d)", path],
      output: .discarded, error: .string(limit: 1 << 16))
    #expect(RunnerBinary.status(result.terminationStatus) == 0, "\(result.standardError)")
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.contains("swift test"))
    #expect(text.contains("swift run runner --accel"))
    #expect(text.contains("/dev/kvm"))
    #expect(text.contains("runs/latest/junit") && text.contains("runs/latest/index.html"))
  }
}
