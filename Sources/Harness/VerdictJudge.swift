/// Turns a finished QEMU run into a verdict. The serial protocol decides;
/// QEMU's exit code is only cross-checked, never trusted alone.
///
/// A cell fails on a failed check, on a test that failed without one (it
/// made no check: `test NAME made no check`), and on an XPASS test (`unexpected
/// pass (XPASS): NAME — reason`) unless the matrix allows XPASS (`xpass =
/// allow`, passed to the guest as `harness.xpass=allow`). XFAIL checks and
/// tests are no failures; a failed `require` is named in the reason.
public enum VerdictJudge {
  /// The verdict and its reason for `run` of an architecture.
  ///
  /// - Parameters:
  ///   - expectedTests: the tests the guest's sources declare for this
  ///     cell, in order (`MatrixCell.expectedTests`); when given, the
  ///     guest's top-level plan and its tests' names must match them.
  ///   - xpassAllowed: an XPASS test does not fail the cell.
  public static func judge(
    _ run: RunRecord, architecture: Architecture, expectedTests: [String]? = nil,
    xpassAllowed: Bool = false, xfailTests: Set<String>? = nil
  ) -> (Verdict, String) {
    let stream = run.stream
    if run.outputLimitReached != nil, stream.checkLimitReached {
      return (
        .protocolError,
        "output limit: the guest reported more than \(KTAPParser.maxChecks) checks; QEMU was killed (the log keeps the head and the tail)"
      )
    }
    if let limit = run.outputLimitReached {
      return (
        .protocolError,
        "output limit: the guest wrote more than \(limit) bytes of serial output; QEMU was killed (the log keeps the head and the tail)"
      )
    }
    if let failure = run.migrationFailure {
      // A live migration the guest asked for did not happen: the guest
      // never got its answer, so nothing after the request says anything.
      return (.crashed, "\(failure); the machine was destroyed")
    }
    if let failure = run.resetFailure {
      // A reset the guest asked for did not happen: the guest waits for a
      // reset that never comes.
      return (.crashed, "\(failure); the machine was destroyed")
    }
    if let timeout = run.timeout {
      switch timeout {
      case .deadline:
        if run.serialLog.isEmpty {
          return (
            .timedOut,
            "no serial output at all before the deadline (the firmware never handed over, or the guest hung before its first byte); QEMU was killed"
          )
        }
        return (.timedOut, "no verdict before the deadline; QEMU was killed (partial log kept)")
      case .silence:
        return (.timedOut, "no serial output for the silence timeout; QEMU was killed")
      }
    }
    if let crash = stream.crash {
      let vector = crash.fields["vector"].map { " vector \($0)" } ?? ""
      let name = crash.fields["name"].map { " (\($0))" } ?? ""
      let rip = crash.instructionAddress.map { " at \($0)" } ?? ""
      return (.crashed, "guest exception\(vector)\(name)\(rip)")
    }
    if stream.exitStatus == 2 {
      return (.crashed, "guest reported a crash")
    }
    guard let status = stream.exitStatus else {
      if let signal = run.signal {
        return (.crashed, "QEMU died from signal \(signal) before the guest's exit line")
      }
      let stderr = run.stderr.split(separator: "\n").last.map { ": \($0)" } ?? ""
      // A libvirt run has no exit code; its notes say how the domain ended.
      let ended = run.exitCode.map { "QEMU exited with \($0)" } ?? "the domain stopped"
      if !stream.sawHeader {
        return (.crashed, "no protocol output; \(ended)\(stderr)")
      }
      return (
        .crashed,
        "guest stopped without an exit line (triple fault, reset or early exit); \(ended)"
      )
    }
    var problems = stream.protocolErrors
    if !stream.sawHeader { problems.append("no KTAP version line") }
    if let problem = resetProblem(stream, resets: run.resets.count) { problems.append(problem) }
    if let planned = stream.plannedSections {
      let finished = stream.sections.filter { $0.reportedOK != nil }.count
      if planned != finished {
        problems.append("plan announced \(planned) tests, \(finished) finished")
      }
    } else {
      problems.append("no plan line")
    }
    if let expectedTests, let problem = planProblem(stream, expectedTests: expectedTests) {
      problems.append(problem)
    }
    if let xfailTests {
      for section in stream.sections where !xfailTests.contains(section.name) {
        let claims =
          section.status == .xfailed || section.status == .xpassed
          || section.checks.contains { if case .xfailed = $0.outcome { true } else { false } }
        if claims {
          problems.append(
            "test \(section.name) reports XFAIL or XPASS, but its declaration has no .xfail trait")
        }
      }
    }
    let failed = stream.sections.flatMap(\.checks).filter { $0.outcome == .failed }.count
    if status == 0 && failed > 0 {
      problems.append("exit status 0 but \(failed) checks failed")
    }
    if status == 0, let notOK = stream.sections.first(where: { $0.reportedOK == false && $0.status != .skipped }) {
      problems.append("exit status 0 but test \(notOK.name) reported not ok")
    }
    if let problem = machineEndProblem(run.machineEnd, status: status, architecture: architecture) {
      problems.append(problem)
    }
    if !problems.isEmpty {
      return (.protocolError, problems.joined(separator: "; "))
    }
    let failures = failureReasons(stream.sections, xpassAllowed: xpassAllowed)
    if !failures.isEmpty { return (.failed, failures.joined(separator: "; ")) }
    // A run whose every test was skipped tested nothing: SKIP, not PASS.
    if status == 0, !stream.sections.isEmpty,
      stream.sections.allSatisfy({ $0.status == .skipped })
    {
      let why = stream.sections.first?.reason.map { ": \($0)" } ?? ""
      return (.skipped, "every test was skipped (\(stream.sections.count))\(why)")
    }
    if status == 0 { return (.passed, "") }
    return (.failed, "guest reported failure (exit status \(status))")
  }

  /// Why the tests of `sections` fail the cell (empty: they do not): failed
  /// checks (with the tests a failed `require` stopped), tests that made no
  /// check or failed otherwise without a failed check, and XPASS tests
  /// unless `xpassAllowed`. XFAIL checks and tests are no failures.
  public static func failureReasons(_ sections: [GuestSection], xpassAllowed: Bool) -> [String] {
    var reasons: [String] = []
    let failed = sections.flatMap(\.checks).filter { $0.outcome == .failed }.count
    if failed > 0 {
      let stopped = sections.filter { $0.diagnostics.contains(stoppedByRequire) }.map(\.name)
      var reason = "\(failed) check\(failed == 1 ? "" : "s") failed"
      if !stopped.isEmpty {
        reason += " (\(list(stopped)): \(stoppedByRequire))"
      }
      reasons.append(reason)
    }
    for section in sections {
      if let failure = section.ownFailure(xpassAllowed: xpassAllowed) { reasons.append(failure) }
    }
    return reasons
  }

  /// The diagnostic before the result line of a test a `require` stopped.
  static let stoppedByRequire = ProtocolText.stoppedByRequire

  /// Where the guest's plan and tests differ from the tests its sources
  /// declare (the first difference), or nil.
  public static func planProblem(_ stream: ParsedStream, expectedTests: [String]) -> String? {
    let announced = stream.plannedSections ?? 0
    if announced != expectedTests.count {
      let names = expectedTests.isEmpty ? "" : " (\(list(expectedTests, limit: 6)))"
      return "plan mismatch: sources declare \(expectedTests.count) test\(expectedTests.count == 1 ? "" : "s")\(names), the guest announced \(announced)"
    }
    for (index, section) in stream.sections.enumerated() where index < expectedTests.count {
      if section.name != expectedTests[index] {
        return "test \(index + 1) is named \(section.name), the sources declare \(expectedTests[index])"
      }
    }
    return nil
  }

  /// Where the guest's documents disagree with the resets the harness
  /// made, or nil: every document after the first must follow a reset the
  /// guest asked for and the harness made (a guest that started over by
  /// itself, or wrote a header without a reset, never passes).
  static func resetProblem(_ stream: ParsedStream, resets: Int) -> String? {
    guard stream.resumes != resets else { return nil }
    let documents = "\(stream.resumes) document\(stream.resumes == 1 ? "" : "s")"
    let times = "\(resets) time\(resets == 1 ? "" : "s")"
    return "the guest continued its run in \(documents) after a reset request, but the harness reset the machine \(times)"
  }

  /// `a, b, c` (with `, …` past `limit` names).
  static func list(_ names: [String], limit: Int = 5) -> String {
    names.prefix(limit).joined(separator: ", ") + (names.count > limit ? ", …" : "")
  }

  /// Why the machine's own end contradicts the guest's exit line `status`,
  /// or nil when it agrees. An exit line the machine did not confirm is not
  /// an exit: console text alone can be forged by any guest.
  static func machineEndProblem(_ end: MachineEnd?, status: Int, architecture: Architecture)
    -> String?
  {
    guard let end else {
      return "exit line printed but the machine never stopped (QEMU was killed after the exit grace)"
    }
    switch end {
    case .exited(let code):
      let expected: Int32
      switch architecture {
      case .x86_64: expected = QemuCommand.debugExitCode(forStatus: status)
      // SIGP STOP of the last CPU ends QEMU with 0; a disabled wait is a
      // guest panic, 1 under `-action panic=exit-failure`.
      case .s390x: expected = status == 2 ? 1 : 0
      }
      if code != expected {
        return "QEMU exit code \(code) does not match exit status \(status) (expected \(expected))"
      }
    case .poweredOff:
      if status == 2 { return "the guest reported a crash but the domain powered off" }
    case .panicked:
      if status != 2 { return "exit status \(status) but the guest panicked (CRASHED event)" }
    }
    return nil
  }
}
