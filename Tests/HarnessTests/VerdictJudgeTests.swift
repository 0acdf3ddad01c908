import Testing

@testable import Harness

/// The judge on streams of the second protocol version (wire.md): XFAIL,
/// XPASS, tests skipped before they ran, tests that made no check, a failed
/// `require`, and the plan the guest's sources declare.
@Suite("VerdictJudge")
struct VerdictJudgeTests {
  /// A run of `tests` (each a block of lines at the top level, result line
  /// included) with exit status `status`, judged on x86_64 with the exit
  /// code that status gives.
  static func judge(
    _ tests: [String], status: Int, plan: Int? = nil, expectedTests: [String]? = nil, xpassAllowed: Bool = false,
    xfailTests: Set<String>? = nil
  ) -> (Verdict, String, ParsedStream) {
    let text =
      "KTAP version 1\n# guest: demo\n1..\(plan ?? tests.count)\n" + tests.joined()
      + "# EXIT: STATUS=\(status)\n"
    var parser = KTAPParser()
    parser.consume(bytes: Array(text.utf8))
    let stream = parser.finish()
    let code = QemuCommand.debugExitCode(forStatus: status)
    var run = RunRecord(
      stream: stream, serialLog: text, stderr: "", exitCode: code, signal: nil, timeout: nil, duration: .zero,
      command: [], processID: 0)
    run.machineEnd = .exited(code)
    let (verdict, reason) = VerdictJudge.judge(
      run, architecture: .x86_64, expectedTests: expectedTests, xpassAllowed: xpassAllowed,
      xfailTests: xfailTests)
    return (verdict, reason, stream)
  }

  /// A test block: header, `checks` (lines at depth 1, without indent),
  /// then its result line `result` (without number and name).
  static func test(_ number: Int, _ name: String, _ checks: [String], _ result: String) -> String {
    "    KTAP version 1\n    # Subtest: \(name)\n" + checks.map { "    \($0)\n" }.joined()
      + result.replacing("NAME", with: "\(number) \(name)") + "\n"
  }

  static let passing = test(1, "fine", ["ok 1 a # @D/D.swift:1 cpu=0 t=10"], "ok NAME # @D/D.swift:9 cpu=0 t=20 dt=15")
  static let xfailed = test(
    2, "known bug", ["ok 1 a # @D/D.swift:2 cpu=0 t=30", "# expected 1, got 2", "ok 2 b # XFAIL bug 12 @D/D.swift:3 cpu=1 t=40"],
    "ok NAME # XFAIL bug 12 @D/D.swift:8 cpu=0 t=50 dt=25")
  static let skippedBefore = "ok 3 two cpus # SKIP needs 2 CPUs @D/D.swift:7 cpu=0 t=60\n"
  static func xpassed(_ number: Int, ok: Bool) -> String {
    test(number, "was broken", ["ok 1 a # @D/D.swift:4 cpu=0 t=70"], "\(ok ? "" : "not ")ok NAME # XPASS QEMU 8 fixed it @D/D.swift:6 cpu=0 t=80 dt=10")
  }

  @Test func xfailChecksAndTestsAndSkippedTestsPass() throws {
    let (verdict, reason, stream) = Self.judge([Self.passing, Self.xfailed, Self.skippedBefore], status: 0)
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)")
    #expect(verdict == .passed && reason.isEmpty, "\(reason)")
    #expect(stream.sections.map(\.status) == [.passed, .xfailed, .skipped])
    #expect(stream.sections[1].checks.map(\.outcome) == [.passed, .xfailed(reason: "bug 12")])
    #expect(stream.sections[1].checks[1].diagnostics == ["expected 1, got 2"])
    #expect(stream.sections[2].skippedBeforeRun && stream.sections[2].reason == "needs 2 CPUs")
  }

  /// Only a test whose declaration has an `.xfail` trait may report XFAIL
  /// or XPASS: a guest that writes a failing check as XFAIL elsewhere is
  /// caught, never a PASS.
  @Test func xfailOnlyFromTestsThatDeclareIt() {
    let forged = Self.judge([Self.passing, Self.xfailed], status: 0, xfailTests: [])
    #expect(forged.0 == .protocolError, "\(forged.1)")
    #expect(forged.1.contains("test known bug reports XFAIL or XPASS, but its declaration has no .xfail trait"))
    let declared = Self.judge([Self.passing, Self.xfailed], status: 0, xfailTests: ["known bug"])
    #expect(declared.0 == .passed, "\(declared.1)")
    let xpass = Self.judge([Self.xpassed(1, ok: true)], status: 0, xpassAllowed: true, xfailTests: [])
    #expect(xpass.0 == .protocolError, "\(xpass.1)")
  }

  /// A run that skipped every test tested nothing: SKIP with the reason,
  /// never PASS; one passing test among skipped ones is a PASS.
  @Test func everyTestSkippedIsSkipNotPass() {
    let allSkipped = Self.judge(
      ["ok 1 two cpus # SKIP needs 2 CPUs @D/D.swift:7 cpu=0 t=60\n", "ok 2 kvm # SKIP needs KVM @D/D.swift:8 cpu=0 t=70\n"],
      status: 0)
    #expect(allSkipped.0 == .skipped, "\(allSkipped.1)")
    #expect(allSkipped.1 == "every test was skipped (2): needs 2 CPUs")
    let mixed = Self.judge([Self.passing, "ok 2 kvm # SKIP needs KVM @D/D.swift:8 cpu=0 t=70\n"], status: 0)
    #expect(mixed.0 == .passed, "\(mixed.1)")
  }

  @Test func anXpassFailsTheCellUnlessAllowed() {
    let failing = Self.judge([Self.passing, Self.xpassed(2, ok: false)], status: 1)
    #expect(failing.0 == .failed)
    #expect(failing.1 == "unexpected pass (XPASS): was broken — QEMU 8 fixed it")
    // Allowed: the guest writes it ok and exits 0; the cell passes.
    let allowed = Self.judge([Self.passing, Self.xpassed(2, ok: true)], status: 0, xpassAllowed: true)
    #expect(allowed.0 == .passed, "\(allowed.1)")
    // Allowed by the matrix, but the guest did not hear it (not ok, status 1).
    let unheard = Self.judge([Self.xpassed(1, ok: false)], status: 1, xpassAllowed: true)
    #expect(unheard.0 == .failed && unheard.1.hasPrefix("unexpected pass (XPASS): was broken"))
    // Not allowed, though the guest wrote it ok: still a failure.
    let overruled = Self.judge([Self.xpassed(1, ok: true)], status: 0)
    #expect(overruled.0 == .failed && overruled.1.hasPrefix("unexpected pass (XPASS)"))
  }

  @Test func aTestThatMadeNoCheckFails() {
    let empty = Self.test(2, "empty", ["# the test made no check"], "not ok NAME # @D/D.swift:5 cpu=0 t=90 dt=1")
    let (verdict, reason, stream) = Self.judge([Self.passing, empty], status: 1)
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)")
    #expect(verdict == .failed)
    #expect(reason == "test empty made no check")
    #expect(stream.sections[1].diagnostics == ["the test made no check"])
  }

  @Test func aFailedRequireIsNamedInTheReason() {
    let stopped = Self.test(
      1, "setup", ["ok 1 a # @D/D.swift:1", "not ok 2 require line 3 # @D/D.swift:3", "# stopped by a failed require"],
      "not ok NAME # @D/D.swift:9")
    let (verdict, reason, _) = Self.judge([stopped, Self.test(2, "other", ["not ok 1 b"], "not ok NAME")], status: 1)
    #expect(verdict == .failed)
    #expect(reason == "2 checks failed (setup: stopped by a failed require)")
  }

  @Test func everyFailureIsNamed() {
    let empty = Self.test(3, "empty", [], "not ok NAME")
    let failing = Self.test(1, "broken", ["not ok 1 a"], "not ok NAME")
    let (verdict, reason, _) = Self.judge([failing, Self.xpassed(2, ok: false), empty], status: 1)
    #expect(verdict == .failed)
    #expect(reason == "1 check failed; unexpected pass (XPASS): was broken — QEMU 8 fixed it; test empty made no check")
  }

  @Test func thePlanMustBeTheOneTheSourcesDeclare() {
    let tests = [Self.passing, Self.xfailed, Self.skippedBefore]
    #expect(Self.judge(tests, status: 0, expectedTests: ["fine", "known bug", "two cpus"]).0 == .passed)
    let fewer = Self.judge(Array(tests.prefix(2)), status: 0, expectedTests: ["fine", "known bug", "two cpus"])
    #expect(fewer.0 == .protocolError)
    #expect(fewer.1.contains("plan mismatch: sources declare 3 tests (fine, known bug, two cpus), the guest announced 2"))
    let renamed = Self.judge(tests, status: 0, expectedTests: ["fine", "known bugs", "two cpus"])
    #expect(renamed.0 == .protocolError)
    #expect(renamed.1.contains("test 2 is named known bug, the sources declare known bugs"))
    let many = (1...9).map { "t\($0)" }
    let long = Self.judge(tests, status: 0, expectedTests: many)
    #expect(long.1.contains("sources declare 9 tests (t1, t2, t3, t4, t5, t6, …), the guest announced 3"))
    // Unknown (nil): the plan is only held to the tests that ran.
    #expect(Self.judge(tests, status: 0, expectedTests: nil).0 == .passed)
  }

  @Test func statusZeroWithANotOkTestIsAProtocolError() {
    let empty = Self.test(1, "empty", ["# the test made no check"], "not ok NAME")
    let (verdict, reason, _) = Self.judge([empty], status: 0)
    #expect(verdict == .protocolError)
    #expect(reason.contains("exit status 0 but test empty reported not ok"))
  }

  @Test(arguments: [
    (test(1, "t", ["ok 1 a"], "ok NAME # XFAIL why"), "reported XFAIL but none of its checks failed"),
    (test(1, "t", ["not ok 1 a"], "ok NAME # XFAIL why"), "reported XFAIL but has a failed check"),
    (test(1, "t", ["ok 1 a # XFAIL why"], "not ok NAME # XFAIL why"), "reported not ok with XFAIL"),
    (test(1, "t", ["not ok 1 a"], "not ok NAME # XPASS why"), "reported XPASS but a check failed"),
    (test(1, "t", ["ok 1 a # XFAIL why"], "ok NAME"), "has XFAIL checks but its result line is not XFAIL"),
    (test(1, "t", ["ok 1 a # XPASS why"], "ok NAME"), "has the directive XPASS, which only a test's result line may have"),
    (test(1, "t", ["ok 1 a # TODO later"], "ok NAME"), "has an unknown directive 'TODO later'"),
    (test(1, "t", ["ok 1 a"], "ok NAME # TODO later"), "test 't' has an unknown directive 'TODO later'"),
    (test(1, "t", ["not ok 1 a"], "ok NAME # SKIP why"), "reported SKIP but a check failed"),
    (test(1, "t", ["ok 1 a"], "not ok NAME"), "reported not ok but its checks say otherwise"),
    ("ok 1 lone\n", "without a subtest header (only a test skipped before it ran"),
    ("ok 2 lone # SKIP why\n", "test number 2 where 1 was expected"),
  ])
  func inconsistentResultLinesAreProtocolErrors(test: String, error: String) {
    let (verdict, reason, stream) = Self.judge([test], status: 1)
    #expect(stream.protocolErrors.contains { $0.contains(error) }, "\(stream.protocolErrors)")
    #expect(verdict == .protocolError, "\(reason)")
  }

  /// The first version's guests (no trailer but `@file:line` on checks,
  /// SKIP sections with blocks) still parse and judge as before.
  @Test func firstVersionStreamsStillParse() {
    let old = Self.test(1, "all skipped", ["ok 1 a # SKIP no device @D/D.swift:1"], "ok NAME # SKIP all checks skipped")
    let empty = Self.test(2, "empty", [], "ok NAME")
    let (verdict, reason, stream) = Self.judge([old, empty], status: 0)
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)")
    #expect(verdict == .passed, "\(reason)")
    #expect(stream.sections.map(\.status) == [.skipped, .passed])
    #expect(stream.sections[0].checks[0].cpu == nil && stream.sections[0].checks[0].time == nil)
    #expect(!stream.sections[0].skippedBeforeRun)
  }
}
