import Testing

@testable import Harness

/// Parser and verdict rules on synthetic serial streams.
@Suite("KTAP parser and verdicts")
struct KTAPParserTests {
  static let passingStream = """
    KTAP version 1
    # guest: demo
    1..2
        KTAP version 1
        # Subtest: first
        ok 1 one # @Demo/Demo.swift:10
        # expected: 3, actual: 4
        not ok 2 two # @Demo/Demo.swift:11
    not ok 1 first
        KTAP version 1
        # Subtest: second
        ok 1 skipped one # SKIP no device @Demo/Demo.swift:20
    ok 2 second # SKIP all checks skipped
    # Totals: pass:1 fail:1 skip:1
    # EXIT: STATUS=1

    """

  func parse(_ text: String) -> ParsedStream {
    var parser = KTAPParser()
    parser.consume(bytes: Array(text.utf8))
    return parser.finish()
  }

  func run(_ text: String, exitCode: Int32? = nil, signal: Int32? = nil, timeout: TimeoutKind? = nil)
    -> RunRecord
  {
    var run = RunRecord(
      stream: parse(text), serialLog: text, stderr: "", exitCode: exitCode, signal: signal,
      timeout: timeout, duration: .zero, command: [], processID: 0)
    // An exit code means QEMU exited by itself: the machine's own end.
    run.machineEnd = exitCode.map { .exited($0) }
    return run
  }

  @Test func parsesSectionsChecksLocationsAndDiagnostics() throws {
    let stream = parse(Self.passingStream)
    #expect(stream.guestName == "demo")
    #expect(stream.plannedSections == 2)
    #expect(stream.exitStatus == 1)
    #expect(stream.protocolErrors.isEmpty)
    try #require(stream.sections.count == 2)
    let failed = stream.sections[0].checks[1]
    #expect(failed.outcome == .failed)
    #expect(failed.name == "two")
    #expect(failed.location == GuestSourceLocation(fileID: "Demo/Demo.swift", line: 11))
    #expect(failed.diagnostics == ["expected: 3, actual: 4"])
    #expect(stream.sections[1].checks[0].outcome == .skipped(reason: "no device"))
    #expect(stream.sections[1].checks[0].location?.line == 20)
  }

  @Test func bytesSplitAnywhereParseTheSame() {
    let bytes = Array(Self.passingStream.utf8)
    for split in [1, 7, 64] {
      var parser = KTAPParser()
      var index = 0
      while index < bytes.count {
        parser.consume(bytes: bytes[index..<min(index + split, bytes.count)])
        index += split
      }
      let stream = parser.finish()
      #expect(stream.sections.flatMap(\.checks).count == 3, "split \(split)")
      #expect(stream.exitStatus == 1)
    }
  }

  @Test func failingChecksMakeFail() {
    let (verdict, reason) = VerdictJudge.judge(run(Self.passingStream, exitCode: 3), architecture: .x86_64)
    #expect(verdict == .failed)
    #expect(reason.contains("1 check failed"))
  }

  @Test func everyTruncationIsNeverPass() {
    let full = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: only
          ok 1 fine # @A/A.swift:1
      ok 1 only
      # EXIT: STATUS=0

      """
    #expect(VerdictJudge.judge(run(full, exitCode: 1), architecture: .x86_64).0 == .passed)
    let lines = full.split(separator: "\n", omittingEmptySubsequences: false)
    for cut in 0..<(lines.count - 2) {
      let truncated = lines[0...cut].joined(separator: "\n") + "\n"
      let verdict = VerdictJudge.judge(run(truncated, exitCode: 1), architecture: .x86_64).0
      #expect(verdict != .passed, "truncated after line \(cut + 1) must not pass")
    }
  }

  @Test func exitLineWithoutPlanMetIsProtocolError() {
    let text = """
      KTAP version 1
      1..2
          KTAP version 1
          # Subtest: only
          ok 1 fine # @A/A.swift:1
      ok 1 only
      # EXIT: STATUS=0

      """
    let (verdict, reason) = VerdictJudge.judge(run(text, exitCode: 1), architecture: .x86_64)
    #expect(verdict == .protocolError)
    #expect(reason.contains("plan announced 2 tests, 1 finished"))
  }

  @Test func duplicateMissingAndGarbageAreProtocolErrors() {
    let text = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: s
          ok 1 a # @A/A.swift:1
          ok 1 a again # @A/A.swift:2
          ok 4 jump # @A/A.swift:3
      %%% line noise
      ok 1 s
      # EXIT: STATUS=0

      """
    let stream = parse(text)
    #expect(stream.protocolErrors.contains { $0.contains("duplicate") })
    #expect(stream.protocolErrors.contains { $0.contains("missing checks") })
    #expect(stream.protocolErrors.contains { $0.contains("not a protocol line: %%% line noise") })
    #expect(VerdictJudge.judge(run(text, exitCode: 1), architecture: .x86_64).0 == .protocolError)
  }

  @Test func exitCodeMustAgreeWithExitLine() {
    let text = """
      KTAP version 1
      1..0
      # EXIT: STATUS=0

      """
    #expect(VerdictJudge.judge(run(text, exitCode: 1), architecture: .x86_64).0 == .passed)
    #expect(VerdictJudge.judge(run(text, exitCode: 0), architecture: .x86_64).0 == .protocolError)
  }

  @Test func crashRecordAndTimeoutsWin() {
    let text = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: s
      # CRASH: cpu=0 vector=14 name="#PF page fault" error=0x2 rip=0x100abc
      # EXIT: STATUS=2

      """
    let crashed = VerdictJudge.judge(run(text, exitCode: 5), architecture: .x86_64)
    #expect(crashed.0 == .crashed)
    #expect(crashed.1.contains("#PF page fault"))
    #expect(parse(text).crash?.fields["rip"] == "0x100abc")
    #expect(VerdictJudge.judge(run("", timeout: .silence), architecture: .x86_64).0 == .timedOut)
    #expect(VerdictJudge.judge(run("", signal: 9), architecture: .x86_64).0 == .crashed)
  }

  @Test func outputAfterExitIsProtocolError() {
    let text = """
      KTAP version 1
      1..0
      # EXIT: STATUS=0
      ok 1 late

      """
    #expect(VerdictJudge.judge(run(text, exitCode: 1), architecture: .x86_64).0 == .protocolError)
  }

  @Test func namesReadBackWithHashAndRawHashIsAProtocolError() throws {
    let text = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: traps ＃UD
          ok 1 ud2 raises ＃UD and is caught # @A/A.swift:1
          ok 2 skipped # SKIP no #x2APIC @A/A.swift:2
      ok 1 traps ＃UD
      # EXIT: STATUS=0

      """
    let stream = parse(text)
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)")
    let section = try #require(stream.sections.first)
    #expect(section.name == "traps #UD")
    #expect(section.checks.map(\.name) == ["ud2 raises #UD and is caught", "skipped"])
    #expect(section.checks[1].outcome == .skipped(reason: "no #x2APIC"))
    #expect(VerdictJudge.judge(run(text, exitCode: 1), architecture: .x86_64).0 == .passed)

    // The old wire form: a raw '#' in a name is what kunit_parser misreads.
    let raw = text.replacing("＃", with: "#")
    #expect(parse(raw).protocolErrors.count == 3, "\(parse(raw).protocolErrors)")
    #expect(VerdictJudge.judge(run(raw, exitCode: 1), architecture: .x86_64).0 == .protocolError)
  }

  static let crashMarkerStream = """
    KTAP version 1
    1..2
        KTAP version 1
        # Subtest: before
        ok 1 fine # @A/A.swift:1
    ok 1 before
        KTAP version 1
        # Subtest: faults
        ok 1 still fine # @A/A.swift:2

    # CRASH: cpu=0 vector=14 name="#PF page fault" error=0x2 rip=0x100abc
            KTAP version 1
            # Subtest: (crashed)
            1..1
        not ok 2 (crashed)
    not ok 2 faults
    # EXIT: STATUS=2

    """

  @Test func crashMarkerIsNoCheckAndLeavesTheSectionUnfinished() throws {
    let stream = parse(Self.crashMarkerStream)
    #expect(stream.protocolErrors.isEmpty, "\(stream.protocolErrors)")
    try #require(stream.sections.count == 2)
    #expect(stream.sections[1].checks.map(\.name) == ["still fine"])
    #expect(stream.sections[1].reportedOK == nil)
    #expect(stream.crash != nil)
    #expect(VerdictJudge.judge(run(Self.crashMarkerStream, exitCode: 5), architecture: .x86_64).0 == .crashed)
  }

  @Test func misusedCrashMarkerIsAProtocolError() {
    // A check after the marker, and a marker closed ok.
    let afterMarker = Self.crashMarkerStream.replacing(
      "    not ok 2 (crashed)\n", with: "    not ok 2 (crashed)\n    ok 3 sneaky # @A/A.swift:3\n")
    #expect(parse(afterMarker).protocolErrors.contains { $0.contains("after the crash marker") })
    let okMarker = Self.crashMarkerStream.replacing("    not ok 2 (crashed)", with: "    ok 2 (crashed)")
    #expect(parse(okMarker).protocolErrors.contains { $0.contains("crash marker closed by") })
    let okSection = Self.crashMarkerStream.replacing("not ok 2 faults", with: "ok 2 faults")
    #expect(parse(okSection).protocolErrors.contains { $0.contains("reported ok after its crash marker") })
    // Any other nested subtest is still an error.
    let nested = Self.crashMarkerStream.replacing("# Subtest: (crashed)", with: "# Subtest: hidden")
    #expect(parse(nested).protocolErrors.contains { $0.contains("subtest started inside another subtest") })
  }

  @Test func aSectionPlanMustMatchItsChecks() {
    let text = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: s
          1..2
          ok 1 a # @A/A.swift:1
      ok 1 s
      # EXIT: STATUS=0

      """
    #expect(parse(text).protocolErrors.contains { $0.contains("planned 2 checks and made 1") })
    #expect(parse(text.replacing("1..2", with: "1..1")).protocolErrors.isEmpty)
    let late = text.replacing("    1..2\n    ok 1 a # @A/A.swift:1\n", with: "    ok 1 a # @A/A.swift:1\n    1..1\n")
    #expect(parse(late).protocolErrors.contains { $0.contains("not right after the test's header") })
  }
}
