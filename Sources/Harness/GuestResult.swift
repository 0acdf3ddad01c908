/// Where in the guest sources a check was made (`#fileID` and line).
public struct GuestSourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
  /// `Module/File.swift` as the guest reported it.
  public var fileID: String
  /// 1-based line.
  public var line: Int

  /// A location.
  public init(fileID: String, line: Int) {
    self.fileID = fileID
    self.line = line
  }

  public var description: String { "\(fileID):\(line)" }
}

/// The outcome of one guest check.
public enum CheckOutcome: Sendable, Hashable, Codable {
  case passed
  case failed
  case skipped(reason: String)
  /// Failed inside a test that expects to fail (`ok … # XFAIL reason`): not
  /// a failure.
  case xfailed(reason: String)

  /// `passed`, `failed`, `skipped` or `xfailed` (reports, JSON).
  public var name: String {
    switch self {
    case .passed: "passed"
    case .failed: "failed"
    case .skipped: "skipped"
    case .xfailed: "xfailed"
    }
  }

  /// The SKIP or XFAIL reason.
  public var reason: String? {
    switch self {
    case .passed, .failed: nil
    case .skipped(let reason), .xfailed(let reason): reason
    }
  }
}

/// One check a guest made (one KTAP result line inside a test's subtest
/// block).
public struct GuestCheck: Sendable, Hashable, Codable {
  /// Name of the enclosing section (registered test).
  public var section: String
  /// Number within the section (1-based).
  public var number: Int
  /// The check's message.
  public var name: String
  /// Pass, fail, skip or xfail.
  public var outcome: CheckOutcome
  /// Guest source location, when the guest reported one.
  public var location: GuestSourceLocation?
  /// Diagnostic lines the guest printed for it (e.g. expected/actual).
  public var diagnostics: [String]
  /// The CPU that made the check (`cpu=N`), when the guest said.
  public var cpu: Int? = nil
  /// Guest clock when the check was made, in nanoseconds since boot
  /// (`t=NS`), when the guest said.
  public var time: UInt64? = nil
}

/// How a registered test ended, by its result line.
public enum TestStatus: String, Sendable, Hashable, Codable, CaseIterable {
  /// `ok`: no check failed.
  case passed
  /// `not ok`: a check failed, a `require` stopped it, or it made no check.
  case failed
  /// `ok … # SKIP reason`: skipped (before it ran: a requirement not met).
  case skipped
  /// `ok … # XFAIL reason`: expected to fail, and a check failed.
  case xfailed
  /// `… # XPASS reason`: expected to fail, but every check passed.
  case xpassed
}

/// One section of a guest run: a *registered test* of the guest (KTAP: a
/// subtest block with its checks, closed by the test's result line; or, for
/// a test skipped before it ran, the result line alone). The name is kept
/// from the protocol's first version, where guests declared "sections".
public struct GuestSection: Sendable, Hashable, Codable {
  /// Section number (1-based).
  public var number: Int
  /// Its name.
  public var name: String
  /// Its checks in order.
  public var checks: [GuestCheck]
  /// What the guest's own result line for the section said (nil if the
  /// section never ended).
  public var reportedOK: Bool?
  /// The status the result line's directive gave (nil when it did not end,
  /// or for a section made without one: then `status` follows
  /// `reportedOK`).
  public var reportedStatus: TestStatus? = nil
  /// The SKIP, XFAIL or XPASS reason of the result line.
  public var reason: String? = nil
  /// Where the test is declared (`@FILEID:LINE` of its result line).
  public var location: GuestSourceLocation? = nil
  /// The CPU that wrote the result line.
  public var cpu: Int? = nil
  /// Guest clock at the result line, nanoseconds since boot.
  public var time: UInt64? = nil
  /// The test's duration by the guest clock, nanoseconds (`dt=`).
  public var duration: UInt64? = nil
  /// Diagnostics between its last check and its result line (`# the test
  /// made no check`, `# stopped by a failed require`).
  public var diagnostics: [String] = []
  /// Skipped before it ran: a result line without a subtest block.
  public var skippedBeforeRun = false

  /// How the test ended; nil when it did not (crash, timeout, cut output).
  public var status: TestStatus? {
    guard let ok = reportedOK else { return nil }
    return reportedStatus ?? (ok ? .passed : .failed)
  }

  /// Whether the test failed without a failed check of its own: it made no
  /// check, or its result line says `not ok` for another reason (a failing
  /// XPASS included; a SKIP is never a failure, `ok` or not).
  public var failedWithoutFailedCheck: Bool {
    reportedOK == false && status != .skipped && !checks.contains { $0.outcome == .failed }
  }

  /// Why the test fails on its own, without a failed check, or nil: an
  /// XPASS (unless `xpassAllowed` and the guest wrote it `ok`), a test that
  /// made no check, or another `not ok` without a failed check.
  public func ownFailure(xpassAllowed: Bool) -> String? {
    guard let status else { return nil }
    if status == .xpassed {
      guard !xpassAllowed || reportedOK == false else { return nil }
      let why = reason.map { $0.isEmpty ? "" : " — \($0)" } ?? ""
      return "unexpected pass (XPASS): \(name)\(why)"
    }
    guard failedWithoutFailedCheck else { return nil }
    if checks.isEmpty || diagnostics.contains(ProtocolText.madeNoCheck) {
      return "test \(name) made no check"
    }
    return "test \(name) failed without a failed check"
  }

  /// The guest clock when the test started (`t - dt`), when both are known.
  public var startTime: UInt64? {
    guard let time, let duration, duration <= time else { return nil }
    return time - duration
  }

  /// Each check's duration by the guest clock, in nanoseconds: from the
  /// previous check (the first: from the test's start) to the check; nil
  /// where a time is missing.
  public var checkDurations: [UInt64?] {
    var previous = startTime
    return checks.map { check in
      defer { previous = check.time }
      guard let start = previous, let time = check.time, time >= start else { return nil }
      return time - start
    }
  }
}

/// A crash record printed by the guest's exception handler.
public struct CrashRecord: Sendable, Hashable, Codable {
  /// The `# CRASH:` lines as printed.
  public var lines: [String]
  /// `key=value` fields from those lines (vector, rip, registers...).
  public var fields: [String: String]
  /// The faulting instruction symbolized against the payload ELF,
  /// innermost (inlined) frame first; empty when not symbolized.
  public var frames: [CrashFrame] = []

  /// The innermost frame: the guest function and source line that faulted.
  public var location: CrashFrame? { frames.first }

  /// The faulting instruction's address as printed: `rip` (x86_64) or `ip`
  /// (s390x, where the PSW can point past the instruction).
  public var instructionAddress: String? { fields["rip"] ?? fields["ip"] }
}

/// One frame of a symbolized crash address (inlined frames included).
public struct CrashFrame: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The instruction address.
  public var address: UInt64
  /// The function, demangled when possible (e.g. `closure #2 in guestMain()`).
  public var function: String
  /// The source file, relative to the package root when inside it.
  public var file: String
  /// 1-based line (0 when unknown).
  public var line: Int
  /// 1-based column (0 when unknown).
  public var column: Int

  /// A frame.
  public init(address: UInt64, function: String, file: String, line: Int, column: Int) {
    self.address = address
    self.function = function
    self.file = file
    self.line = line
    self.column = column
  }

  /// `file:line`.
  public var sourceReference: String { "\(file):\(line)" }

  /// `function at file:line`.
  public var description: String { "\(function) at \(sourceReference)" }
}

/// The verdict of one guest run.
public enum Verdict: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
  /// Plan met, exit line says passed, no failed check.
  case passed = "PASS"
  /// At least one check failed (or the guest reported failure).
  case failed = "FAIL"
  /// Exception record, triple fault/reset, or QEMU died.
  case crashed = "CRASH"
  /// The deadline or the silence timeout hit; QEMU was killed.
  case timedOut = "TIMEOUT"
  /// The serial stream broke the protocol (garbage, numbering, plan).
  case protocolError = "PROTOCOL-ERROR"
  /// The run could not happen here (e.g. KVM unavailable).
  case skipped = "SKIP"

  public var description: String { rawValue }

  /// Whether this verdict makes a run fail.
  public var isFailure: Bool { self != .passed && self != .skipped }
}

/// Everything known about one guest run.
public struct GuestResult: Sendable, Codable {
  /// Guest program name.
  public var guest: String
  /// Architecture and accelerator it ran on.
  public var architecture: Architecture
  public var accelerator: Accelerator
  /// The verdict.
  public var verdict: Verdict
  /// Why, in one sentence (for non-passing verdicts).
  public var reason: String
  /// Sections and checks parsed from the serial stream.
  public var sections: [GuestSection]
  /// The crash record, if the guest printed one.
  public var crash: CrashRecord?
  /// Problems with the serial stream.
  public var protocolErrors: [String]
  /// The complete serial log.
  public var serialLog: String
  /// QEMU's standard error.
  public var qemuStderr: String
  /// QEMU's command line.
  public var command: [String]
  /// QEMU's exit code, or nil when it was killed by a signal.
  public var qemuExitCode: Int32?
  /// Wall time from QEMU start to its exit.
  public var duration: Duration
  /// The process id QEMU had (nil when it did not run).
  public var processID: Int32?
  /// The run was cut short by an interrupt (Ctrl-C); the verdict is SKIP
  /// and says nothing about the guest.
  public var interrupted: Bool = false
  /// When each part of the serial log arrived.
  public var timeline = SerialTimeline()
  /// The backend's typed details of the run (nil when nothing ran).
  public var backend: BackendDetails? = nil
  /// The run's typed notes (re-queues, console-log remarks, monitor
  /// transcript…).
  public var notes: [RunNote] = []
  /// Where each vCPU was when a timeout ended the run (symbolized when a
  /// symbolizer was available).
  public var vcpuPositions: [VcpuPosition] = []
  /// The live migrations of the run, in order (a migrating cell).
  public var migrations: [MigrationHop] = []
  /// The resets the harness made on the guest's request, in order.
  public var resets: [MachineReset] = []

  /// A result.
  public init(
    guest: String, architecture: Architecture, accelerator: Accelerator, verdict: Verdict,
    reason: String, sections: [GuestSection], crash: CrashRecord?, protocolErrors: [String],
    serialLog: String, qemuStderr: String, command: [String], qemuExitCode: Int32?,
    duration: Duration, processID: Int32?, interrupted: Bool = false
  ) {
    self.guest = guest
    self.architecture = architecture
    self.accelerator = accelerator
    self.verdict = verdict
    self.reason = reason
    self.sections = sections
    self.crash = crash
    self.protocolErrors = protocolErrors
    self.serialLog = serialLog
    self.qemuStderr = qemuStderr
    self.command = command
    self.qemuExitCode = qemuExitCode
    self.duration = duration
    self.processID = processID
    self.interrupted = interrupted
  }

  /// All checks in order.
  public var checks: [GuestCheck] { sections.flatMap(\.checks) }
  /// The failed checks.
  public var failedChecks: [GuestCheck] { checks.filter { $0.outcome == .failed } }
  /// The XFAIL checks (failed as expected).
  public var xfailedChecks: [GuestCheck] {
    checks.filter { if case .xfailed = $0.outcome { true } else { false } }
  }
}
