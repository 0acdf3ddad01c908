import Foundation
import Harness
import Testing

/// Boots the guests under guests/negative, which fail on purpose, and checks
/// that the harness tells each kind of failure apart truthfully.
@Suite("Negative guests", .serialized)
struct NegativeGuestTests {
  func boot(
    _ name: String, architecture: Architecture = .x86_64, timeout: Duration = .seconds(30),
    cpus: Int = 1, outputLimit: Int = LaunchSettings.defaultOutputLimitBytes,
    arguments: [String] = [], xpassAllowed: Bool = false
  ) async throws -> GuestResult {
    let runner = TestSupport.runner
    let program = try runner.builder.workspace.program(named: name)
    var settings = LaunchSettings(
      architecture: architecture, accelerator: .tcg, cpus: cpus, guestArguments: arguments,
      timeout: timeout)
    settings.outputLimitBytes = outputLimit
    settings.xpassAllowed = xpassAllowed
    return try await runner.run(program, settings: settings)
  }

  @Test(arguments: Architecture.allCases)
  func exitLineWithoutMachineStopIsNeverPass(architecture: Architecture) async throws {
    let result = try await boot("noexit", architecture: architecture)
    #expect(result.verdict == .protocolError, "\(result.reason)\n\(result.serialLog)")
    #expect(result.reason.contains("exit line printed but the machine never stopped"))
    #expect(result.serialLog.contains("# EXIT: STATUS=0"), "the console claimed success")
    #expect(result.checks.count == 1 && result.failedChecks.isEmpty)
    // Before the kill the harness read where the guest spun: in its loop,
    // or in the clock read it calls (assembly, named by its symbol).
    let program = try TestSupport.runner.builder.workspace.program(named: "noexit")
    let spin = try #require(try TestSupport.lines(in: program.directory + "/NoExit.swift", containing: "while true").first)
    let position = try #require(result.vcpuPositions.first, "\(result.reason)")
    let clockRead = architecture == .x86_64 ? "x86_rdtsc" : "s390_store_clock"
    if let frame = position.frames.first {
      #expect(
        frame.sourceReference == "guests/negative/noexit/NoExit.swift:\(spin)" || frame.function == "cycleCounter()",
        "\(position)")
    } else {
      // In the assembly helper: its caller, through the return address
      // (s390x R14, x86_64 the word at RSP), names the guest's clock read.
      #expect(position.symbol == clockRead, "\(position)")
      #expect(position.caller.first?.function == "cycleCounter()", "\(position)")
      #expect(position.summary.hasSuffix(" in cycleCounter() (in \(clockRead))"), "\(position.summary)")
    }
    #expect(result.reason.hasSuffix("; " + position.summary), "\(result.reason)")
  }

  /// Known failures end to end: an xfail'd test whose check fails is
  /// XFAIL (no failure), one whose checks pass is XPASS and fails the cell
  /// unless the matrix allows it (`xpass = allow` becomes
  /// `harness.xpass=allow`), an xfail for the other accelerator is inert,
  /// and an unmet requirement skips the test before it runs.
  @Test(arguments: Architecture.allCases)
  func xfailAndXPassReachTheVerdict(architecture: Architecture) async throws {
    let strict = try await boot("xpass", architecture: architecture)
    #expect(strict.verdict == .failed, "\(strict.reason)\n\(strict.serialLog)")
    #expect(strict.reason.contains("XPASS"), "\(strict.reason)")
    #expect(strict.reason.contains("passes unexpectedly"), "\(strict.reason)")
    #expect(
      strict.sections.map(\.status) == [.xfailed, .xpassed, .passed, .skipped], "\(strict.serialLog)")
    #expect(strict.sections[3].skippedBeforeRun)
    #expect(strict.sections[0].checks.first?.outcome == .xfailed(reason: "known: the value is off by one"))
    #expect(strict.failedChecks.isEmpty, "an XFAIL check is no failed check")
    #expect(strict.serialLog.contains("# expected 0x1f (31), got 0x1e (30)"))
    let allowed = try await boot("xpass", architecture: architecture, xpassAllowed: true)
    #expect(allowed.serialLog.contains("harness.xpass=allow") || allowed.command.joined(separator: " ").contains("harness.xpass=allow"))
    #expect(allowed.verdict == .passed, "\(allowed.reason)\n\(allowed.serialLog)")
    #expect(allowed.sections.map(\.status) == [.xfailed, .xpassed, .passed, .skipped])
  }

  @Test(arguments: Architecture.allCases)
  func floodStopsAtTheOutputLimit(architecture: Architecture) async throws {
    let limit = 64 << 10
    let result = try await boot("flood", architecture: architecture, outputLimit: limit)
    #expect(result.verdict == .protocolError, "\(result.reason)")
    // 64 KiB of check lines (~870) stay under the check limit: the byte limit hits.
    #expect(result.reason.contains("output limit: the guest wrote more than \(limit) bytes"))
    #expect(result.serialLog.contains("[swift-guest-harness: output limit of \(limit) bytes reached"))
    #expect(result.serialLog.utf8.count <= limit + QemuLauncherLimits.keptTail + 512)
    #expect(result.serialLog.hasPrefix("KTAP version 1") || result.serialLog.contains("# guest: flood"))
    #expect(result.qemuExitCode == nil, "QEMU was killed")
    // Where the flooding CPU was, symbolized (a source line, or the
    // function of code without line information).
    let position = try #require(result.vcpuPositions.first, "\(result.reason)")
    #expect(position.frames.first?.file.hasPrefix("guests/") == true || position.symbol != nil, "\(position)")
    #expect(position.symbol?.hasPrefix("$") != true, "a Swift symbol is demangled: \(position)")
    #expect(result.reason.hasSuffix("; " + position.summary), "\(result.reason)")
  }

  /// Silence is the guest's: it counts from its first serial byte. A
  /// machine that never hands over to the guest (here: QEMU started paused,
  /// like a firmware that takes too long) is bounded by the deadline.
  @Test func silenceCountsFromTheGuestsFirstByte() async throws {
    let runner = TestSupport.runner
    let payload = try await runner.builder.build(
      try runner.builder.workspace.program(named: "hang"), for: .x86_64)
    let paused = try await runner.run(
      payload,
      settings: LaunchSettings(
        architecture: .x86_64, accelerator: .tcg, extraQemuArguments: ["-S"],
        timeout: .seconds(3), silenceTimeout: .seconds(1)))
    #expect(paused.verdict == .timedOut)
    #expect(paused.reason.contains("no serial output at all before the deadline"), "\(paused.reason)")
    #expect(paused.duration >= .seconds(3), "the 1 s silence did not apply before the first byte")

    let hung = try await runner.run(
      payload,
      settings: LaunchSettings(
        architecture: .x86_64, accelerator: .tcg, timeout: .seconds(60),
        silenceTimeout: .seconds(1)))
    #expect(hung.verdict == .timedOut)
    #expect(hung.reason.contains("no serial output for the silence timeout"), "\(hung.reason)")
    #expect(hung.duration < .seconds(30))
  }

  @Test func tooManyChecksStopTheGuest() async throws {
    let result = try await boot("flood", outputLimit: 64 << 20)
    #expect(result.verdict == .protocolError)
    #expect(result.reason.contains("more than \(KTAPParser.maxChecks) checks"), "\(result.reason)")
    #expect(result.checks.count == KTAPParser.maxChecks)
  }

  @Test func endlessLineIsCutAndStopsAtTheLimit() async throws {
    let result = try await boot(
      "flood", outputLimit: 1 << 20, arguments: ["flood.line=1"])
    #expect(result.verdict == .protocolError)
    #expect(result.reason.contains("output limit"))
    #expect(
      result.protocolErrors.contains { $0.contains("line longer than \(LaunchSettings.maxLineBytes) bytes") },
      "\(result.protocolErrors)")
  }

  @Test func exceptionOnApplicationProcessorNamesThatCPU() async throws {
    let result = try await boot("crash_ap", cpus: 2)
    #expect(result.verdict == .crashed)
    #expect(result.crash?.fields["cpu"] == "1")
    #expect(result.crash?.fields["vector"] == "14")
    #expect(result.crash?.fields["cr2"] == "0x0000004000000000")
  }

  @Test(arguments: Architecture.allCases)
  func failingCheckIsReportedAtItsGuestLine(architecture: Architecture) async throws {
    let result = try await boot("failing", architecture: architecture)
    #expect(result.verdict == .failed)
    let program = try TestSupport.runner.builder.workspace.program(named: "failing")
    let source = program.directory + "/Failing.swift"
    let expectedLines = try TestSupport.lines(in: source, containing: "EXPECT-FAIL")
    try #require(expectedLines.count == 2)
    let failed = result.failedChecks
    #expect(failed.map { $0.location?.line } == expectedLines.map { Optional($0) })
    #expect(failed.allSatisfy { $0.location?.fileID == "failing/Failing.swift" })
    let map = TestSupport.runner.builder.sourceMap(program, architecture)
    #expect(map["failing/Failing.swift"] == source)
    #expect(failed.last?.diagnostics == ["expectEqual(UInt64(7), 8, \"a failing comparison\")", "expected 8, got 7"])
    #expect(result.checks.filter { $0.outcome == .passed }.count == 2)
  }

  @Test func unexpectedExceptionIsCrash() async throws {
    let result = try await boot("crash")
    #expect(result.verdict == .crashed)
    #expect(result.crash?.fields["vector"] == "14")
    #expect(result.crash?.fields["cr2"] == "0x0000004000000000")
    #expect(result.crash?.fields["rip"] != nil)
    #expect(result.reason.contains("#PF"))
  }

  @Test(arguments: Architecture.allCases)
  func endlessLoopIsTimeoutAndQemuIsGone(architecture: Architecture) async throws {
    // Two CPUs: CPU 0 spins, CPU 1 waits for a flag that never comes.
    let result = try await boot("hang", architecture: architecture, timeout: .seconds(3), cpus: 2)
    #expect(result.verdict == .timedOut)
    #expect(result.serialLog.contains("output before the hang"))
    #expect(result.qemuExitCode == nil)
    // Where QEMU was when it was killed: its vCPU thread running the guest.
    #expect(result.qemuStderr.contains("QEMU threads when the timeout killed it:"), "\(result.qemuStderr)")
    #expect(result.qemuStderr.contains("CPU 0/TCG R cpu="), "\(result.qemuStderr)")
    // Hang triage: the vCPU's position read through QMP before the kill,
    // symbolized to the guest's spinning line.
    let program = try TestSupport.runner.builder.workspace.program(named: "hang")
    let spin = try #require(try TestSupport.lines(in: program.directory + "/Hang.swift", containing: "while true").first)
    let wait = try #require(
      try TestSupport.lines(in: program.directory + "/Hang.swift", containing: "CPU 1 is always on this line").first)
    #expect(
      result.reason.contains("CPU 0 stuck at guests/negative/hang/Hang.swift:\(spin) in spinLoop()"),
      "\(result.reason)")
    #expect(
      result.reason.contains("CPU 1 stuck at guests/negative/hang/Hang.swift:\(wait) in waitsForTheOtherCPU()"),
      "\(result.reason)")
    // The same position is a field of the reports (JSON shown).
    let json = try JSONReport.render([ReportCell(id: "hang", result: result, cpus: 1, memoryMiB: 256)])
    let vcpu = try #require(
      try JSONDecoder().decode(ResultsDocument.self, from: Data(json.utf8)).cells.first?.vcpus?.first)
    #expect(vcpu.cpu == 0)
    #expect(vcpu.location?.file == "guests/negative/hang/Hang.swift")
    #expect(vcpu.location?.line == spin)
    #expect(vcpu.registers[architecture == .x86_64 ? "RSP" : "PSW.mask"] != nil, "\(vcpu.registers)")
    #expect(result.qemuStderr.contains("QEMU monitor (QMP) before the kill:"))
    #expect(result.qemuStderr.contains("\"command-line\": \"info registers -a\""))
    // The process group was killed and reaped: nothing left with that pid.
    let pid = try #require(result.processID)
    #expect(kill(pid, 0) == -1 && errno == ESRCH)
  }

  @Test(arguments: Architecture.allCases)
  func truncatedOutputIsNeverPass(architecture: Architecture) async throws {
    let result = try await boot("truncated", architecture: architecture)
    #expect(result.verdict != .passed)
    #expect(result.verdict == .crashed)
    #expect(result.reason.contains("without an exit line"))
  }
}
