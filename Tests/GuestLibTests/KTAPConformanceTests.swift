import Foundation
import GuestLib
import Testing

@testable import Harness

/// Synthetic guest runs written by the real guest writer (GuestLib on the
/// host), each with what the harness must make of it.
enum WriterRuns {
  struct Run {
    var name: String
    var text: String
    /// The verdict the harness must reach.
    var verdict: Verdict
    /// The status kunit_parser reaches (by the validator's reading).
    var kunitStatus: KTAPValidator.Status
  }

  /// A crash as the runtimes' exception handlers print it.
  static func crash() {
    Console.write(byte: 10)
    Console.diagnostic("CRASH: cpu=0 vector=14 name=\"#PF page fault\" error=0x2 rip=0x100abc")
    writeExitLine(.crashed)
  }

  /// A trailer at line `line` of a test file, CPU 0, guest time `time`.
  static func trailer(_ line: UInt, _ time: UInt64, dt: UInt64? = nil) -> KTAPTrailer {
    KTAPTrailer(fileID: "v2/V2.swift", line: line, cpu: 0, time: time, duration: dt)
  }

  /// The runs; `capture` turns a writer body into its serial text.
  static func all(_ capture: (() -> Void) -> String) -> [Run] {
    [
      Run(
        name: "passing, with # in names",
        text: capture {
          HostPlatform.run(
            "demo #1",
            [
              GuestLib.Test("arith # ops") {
                expect(true, "adds")
                expectEqual(UInt8(6), 6, "ud2 raises #UD and is caught")
              },
              GuestLib.Test("skips") {
                skip("x2APIC mode", because: "no #x2APIC here")
              },
              GuestLib.Test("notes") {
                note("a note with # in it")
                expect(true, "after a note")
              },
            ])
        }, verdict: .passed, kunitStatus: .success),
      Run(
        name: "failing",
        text: capture {
          HostPlatform.run(
            "failing",
            [
              GuestLib.Test("mixed") {
                expect(true, "a passing check")
                expect(false, "a failing check")
                expectEqual(UInt64(7), 8, "a failing #comparison")
              },
              GuestLib.Test("after") { expect(true, "continues") },
            ])
        }, verdict: .failed, kunitStatus: .failure),
      Run(
        name: "crash inside the last test",
        text: cut(
          capture {
            HostPlatform.run(
              "crash",
              [
                GuestLib.Test("before") { expect(true, "runs before the fault") },
                GuestLib.Test("faults #PF") {
                  expect(true, "still fine")
                  crash()
                },
              ])
          }, after: "EXIT: STATUS=2"), verdict: .crashed, kunitStatus: .crashed),
      Run(
        name: "crash before the first check of a test",
        text: cut(
          capture {
            HostPlatform.run("crash", [GuestLib.Test("faults at once") { crash() }])
          }, after: "EXIT: STATUS=2"), verdict: .crashed, kunitStatus: .crashed),
      Run(
        name: "output cut between tests",
        text: cut(
          capture {
            HostPlatform.run(
              "truncated",
              [
                GuestLib.Test("only test that runs") { expect(true, "a passing check") },
                GuestLib.Test("never") { expect(true, "x") },
                GuestLib.Test("never either") { expect(true, "y") },
              ])
          }, after: "ok 1 only test that runs"), verdict: .crashed, kunitStatus: .crashed),
      Run(
        // Nothing after the last test for a plan to miss: kunit_parser
        // reads the checks it got (and reports the missing result line as
        // an error); the harness calls it CRASH.
        name: "output cut inside the last test",
        text: cut(
          capture {
            HostPlatform.run("hang", [GuestLib.Test("spins") { expect(true, "output before the hang") }])
          }, after: "ok 1 output before the hang"), verdict: .crashed, kunitStatus: .success),
      Run(
        name: "v2: XFAIL, a test skipped before it ran, trailers",
        text: capture {
          KTAP.writeVersion(depth: 0)
          KTAP.writeGuestName("v2")
          KTAP.writePlan(depth: 0, count: 3)
          KTAP.writeVersion(depth: 1)
          KTAP.writeSubtestHeader(depth: 1, name: "expected # failure")
          KTAP.writeResult(depth: 1, ok: true, number: 1, name: "fine", trailer: trailer(1, 100))
          KTAP.writeDiagnostic(depth: 1, "expected 1, got 2")
          KTAP.writeResult(
            depth: 1, ok: true, number: 2, name: KTAPText("expectEqual", line: 2), directive: .xfail,
            reason: "QEMU # 1234", trailer: trailer(2, 200))
          KTAP.writeResult(
            depth: 0, ok: true, number: 1, name: "expected # failure", directive: .xfail, reason: "QEMU # 1234",
            trailer: trailer(3, 300, dt: 250))
          KTAP.writeResult(
            depth: 0, ok: true, number: 2, name: "needs kvm", directive: .skip, reason: "needs KVM",
            trailer: trailer(4, 310))
          KTAP.writeVersion(depth: 1)
          KTAP.writeSubtestHeader(depth: 1, name: "plain")
          KTAP.writeResult(depth: 1, ok: true, number: 1, name: "fine", trailer: trailer(5, 400))
          KTAP.writeResult(depth: 0, ok: true, number: 3, name: "plain", trailer: trailer(6, 410, dt: 20))
          KTAP.writeTotals(passed: 2, failed: 0, skipped: 1, xfailed: 1, xpassed: 0)
          KTAP.writeExit(status: 0)
        }, verdict: .passed, kunitStatus: .success),
      Run(
        name: "v2: XPASS and a test that made no check",
        text: capture {
          KTAP.writeVersion(depth: 0)
          KTAP.writePlan(depth: 0, count: 2)
          KTAP.writeVersion(depth: 1)
          KTAP.writeSubtestHeader(depth: 1, name: "xpassed")
          KTAP.writeResult(depth: 1, ok: true, number: 1, name: "fine", trailer: trailer(1, 100))
          KTAP.writeResult(
            depth: 0, ok: false, number: 1, name: "xpassed", directive: .xpass, reason: "fixed",
            trailer: trailer(2, 200, dt: 150))
          KTAP.writeVersion(depth: 1)
          KTAP.writeSubtestHeader(depth: 1, name: "empty")
          KTAP.writeDiagnostic(depth: 1, KTAP.noCheckDiagnostic)
          KTAP.writeResult(depth: 0, ok: false, number: 2, name: "empty", trailer: trailer(3, 300, dt: 5))
          KTAP.writeTotals(passed: 1, failed: 1, skipped: 0, xfailed: 0, xpassed: 1)
          KTAP.writeExit(status: 1)
        }, verdict: .failed, kunitStatus: .failure),
      Run(
        name: "v2: crash inside a test",
        text: capture {
          KTAP.writeVersion(depth: 0)
          KTAP.writePlan(depth: 0, count: 2)
          KTAP.writeVersion(depth: 1)
          KTAP.writeSubtestHeader(depth: 1, name: "faults")
          KTAP.writeResult(depth: 1, ok: true, number: 1, name: "fine", trailer: trailer(1, 100))
          Console.diagnostic("CRASH: cpu=0 vector=14 name=\"#PF page fault\" error=0x2 rip=0x100abc")
          KTAP.writeCrashMarker(depth: 1, number: 2)
          KTAP.writeResult(depth: 0, ok: false, number: 1, name: "faults")
          KTAP.writeExit(status: 2)
        }, verdict: .crashed, kunitStatus: .crashed),
      Run(
        name: "known failures",
        text: capture {
          HostPlatform.run(
            "xfail",
            [
              GuestLib.Test("fails as expected", { expectEqual(UInt32(0x1e), 0x1f, "mode") }, .xfail("TCG filters it")),
              GuestLib.Test("xfail elsewhere", { expect(true, "fine") }, .xfail("only on KVM", when: .kvm)),
            ], arguments: "harness.accel=tcg")
        }, verdict: .passed, kunitStatus: .success),
      Run(
        name: "unexpected pass",
        text: capture {
          HostPlatform.run(
            "xpass", [GuestLib.Test("passes anyway", { expect(true, "fine") }, .xfail("thought broken"))])
        }, verdict: .failed, kunitStatus: .failure),
      Run(
        name: "skipped by requirements, stopped by require, no check",
        text: capture {
          HostPlatform.run(
            "traits",
            [
              GuestLib.Test("needs two CPUs", { expect(true, "never runs") }, .requires(cpus: 2)),
              GuestLib.Test("needs KVM", { expect(true, "never runs") }, .requires(.kvm)),
              GuestLib.Test("stops") { () throws(TestStop) in
                try require(expectEqual(1, 2, "first"))
                expect(true, "never reached")
              },
              GuestLib.Test("checks nothing") {},
            ], arguments: "harness.accel=tcg")
        }, verdict: .failed, kunitStatus: .failure),
    ]
  }

  /// The serial text parsed and judged as the harness does (s390x: no exit
  /// code to cross-check).
  static func judge(_ text: String) -> (ParsedStream, Verdict, String) {
    var parser = KTAPParser()
    parser.consume(bytes: Array(text.utf8))
    let stream = parser.finish()
    // s390x: the machine stopped by itself as the exit line says (0 after
    // SIGP STOP, 1 after a panic); the writer's text is what is tested.
    let code: Int32 = stream.exitStatus == 2 ? 1 : 0
    var run = RunRecord(
      stream: stream, serialLog: text, stderr: "", exitCode: code, signal: nil, timeout: nil,
      duration: .seconds(1), command: [], processID: 1)
    run.machineEnd = .exited(code)
    let (verdict, reason) = VerdictJudge.judge(run, architecture: .s390x)
    return (stream, verdict, reason)
  }

  /// The harness's tallies (checks, tests skipped before they ran, tests
  /// failing without a failed check) as kunit_parser counts them: it
  /// treats only SKIP specially, so an XFAIL check (`ok … # XFAIL`) is a
  /// pass, and a failing XPASS test (`not ok … # XPASS`, its checks
  /// passed) one failure more.
  static func tallies(_ sections: [GuestSection]) -> KTAPValidator.Counts {
    let counts = CheckCounts(sections: sections)
    let failingXpass = sections.filter { $0.status == .xpassed && $0.reportedOK == false }.count
    return KTAPValidator.Counts(
      passed: counts.passed + counts.xfailed, failed: counts.failed + failingXpass, crashed: 0,
      skipped: counts.skipped)
  }
}

extension ConsoleTests {
  @Test func theNameRuleIsTheSameOnBothSides() {
    let text = capture { GuestLib.KTAPName.write("a#b##") }
    #expect(text == "a＃b＃＃")
    #expect(Array(String(Harness.KTAPName.replacement).utf8) == [0xEF, 0xBC, 0x83])
    #expect(Harness.KTAPName.encode("a#b##") == text)
    #expect(Harness.KTAPName.decode(text) == "a#b##")
  }

  @Test func crashClosesTheOpenTestWithAMarker() {
    var line: UInt = 0
    let text = cut(
      capture {
        HostPlatform.run(
          "crash",
          [
            GuestLib.Test("faults #PF") {
              line = #line + 1
              expect(true, "fine")
              writeExitLine(.crashed)
            }
          ])
      }, after: "EXIT: STATUS=2")
    let tail = text.split(separator: "\n").suffix(8).map(String.init)
    #expect(
      tail == [
        "    # Subtest: faults ＃PF",
        "    ok 1 fine # @GuestLibTests/KTAPConformanceTests.swift:\(line) cpu=0 t=2000",
        "        KTAP version 1",
        "        # Subtest: (crashed)",
        "        1..1",
        "    not ok 2 (crashed)",
        "not ok 1 faults ＃PF",
        "# EXIT: STATUS=2",
      ])
    // Without an open section a crash adds nothing before the exit line.
    let bare = capture { writeExitLine(.crashed) }
    #expect(bare == "# EXIT: STATUS=2\n")
  }

  /// Every synthetic run: the grammar holds, kunit_parser's counts (by the
  /// validator) are the harness's, and neither reads a bad run as a pass.
  @Test func writerOutputIsStrictKTAPWithTheHarnessCounts() {
    for run in WriterRuns.all(capture) {
      let report = KTAPValidator.validate(run.text, as: .guestLog)
      #expect(report.violations.isEmpty, "\(run.name): \(report.violations)\n\(run.text)")
      let (stream, verdict, reason) = WriterRuns.judge(run.text)
      #expect(stream.protocolErrors.isEmpty, "\(run.name): \(stream.protocolErrors)")
      #expect(verdict == run.verdict, "\(run.name): \(verdict) \(reason)")
      var harness = WriterRuns.tallies(stream.sections)
      harness.crashed = report.counts.crashed
      #expect(report.counts == harness, "\(run.name)")
      #expect(report.status == run.kunitStatus, "\(run.name): \(report.counts)")
      // No name on the wire has a '#'; the harness reads them back with it.
      #expect(!stream.sections.isEmpty)
      if run.name.hasPrefix("passing") {
        #expect(stream.sections.map(\.name) == ["arith # ops", "skips", "notes"])
        #expect(stream.sections[0].checks.map(\.name) == ["adds", "ud2 raises #UD and is caught"])
        #expect(stream.sections[1].checks[0].outcome == .skipped(reason: "no #x2APIC here"))
      }
      if run.verdict == .crashed && run.text.contains("(crashed)") {
        // The marker is no check; its section counts as unfinished.
        #expect(!stream.sections.flatMap(\.checks).contains { $0.name == "(crashed)" })
        #expect(stream.sections.last?.reportedOK == nil)
      }
    }
  }

  /// The runs as report cells, with the verdicts no guest text gives.
  func reportCells() -> [ReportCell] {
    var cells: [ReportCell] = []
    for (index, run) in WriterRuns.all(capture).enumerated() {
      let (stream, verdict, reason) = WriterRuns.judge(run.text)
      let result = GuestResult(
        guest: "run\(index)", architecture: .x86_64, accelerator: .tcg, verdict: verdict, reason: reason,
        sections: stream.sections, crash: stream.crash, protocolErrors: stream.protocolErrors,
        serialLog: run.text, qemuStderr: "", command: ["qemu"], qemuExitCode: 0, duration: .seconds(1),
        processID: 1)
      cells.append(ReportCell(id: "run\(index).x86_64.tcg.smp1.mem256M", result: result, cpus: 1, memoryMiB: 256))
    }
    func cell(_ id: String, _ verdict: Verdict, _ reason: String, _ sections: [GuestSection]) -> ReportCell {
      let result = GuestResult(
        guest: id, architecture: .x86_64, accelerator: .kvm, verdict: verdict, reason: reason,
        sections: sections, crash: nil, protocolErrors: verdict == .protocolError ? ["serial line 3: # junk"] : [],
        serialLog: "", qemuStderr: "", command: [], qemuExitCode: nil, duration: .zero, processID: nil)
      return ReportCell(id: id + ".x86_64.kvm.smp1.mem256M", result: result, cpus: 1, memoryMiB: 256)
    }
    func check(_ name: String, _ outcome: CheckOutcome) -> GuestCheck {
      GuestCheck(section: "s", number: 1, name: name, outcome: outcome, location: nil, diagnostics: [])
    }
    let cut = GuestSection(number: 1, name: "cut #1", checks: [check("a #1", .passed)], reportedOK: nil)
    let liar = GuestSection(number: 1, name: "says not ok", checks: [check("fine", .passed)], reportedOK: false)
    let done = GuestSection(
      number: 1, name: "done", checks: [check("p", .passed), check("s", .skipped(reason: "#why"))],
      reportedOK: true)
    var xfail = GuestSection(
      number: 1, name: "xfail #1", checks: [check("p", .passed), check("x", .xfailed(reason: "#bug"))],
      reportedOK: true)
    xfail.reportedStatus = .xfailed
    xfail.reason = "#bug"
    var skippedBefore = GuestSection(number: 2, name: "skipped before", checks: [], reportedOK: true)
    skippedBefore.reportedStatus = .skipped
    skippedBefore.skippedBeforeRun = true
    skippedBefore.reason = "needs 2 CPUs"
    var xpassFailing = GuestSection(number: 1, name: "xpass", checks: [check("p", .passed)], reportedOK: false)
    xpassFailing.reportedStatus = .xpassed
    xpassFailing.reason = "fixed"
    var xpassAllowed = xpassFailing
    xpassAllowed.reportedOK = true
    var noCheck = GuestSection(number: 2, name: "no check", checks: [], reportedOK: false)
    noCheck.reportedStatus = .failed
    noCheck.diagnostics = ["the test made no check"]
    var noCheck2 = noCheck
    noCheck2.number = 3
    noCheck2.name = "no check either"
    cells += [
      cell("xfailpass", .passed, "", [xfail, skippedBefore]),
      cell("xpassfail", .failed, "unexpected pass (XPASS): xpass — fixed", [xpassFailing, noCheck]),
      cell("xpassallowed", .passed, "", [xpassAllowed, skippedBefore]),
      cell("nocheckprotocol", .protocolError, "plan mismatch", [xfail, noCheck, noCheck2]),
      cell("nocheckcrash", .crashed, "guest exception", [done, noCheck, cut]),
      cell("kvmskip", .skipped, "KVM unavailable", []),
      cell("interrupted", .skipped, "interrupted", [done, cut]),
      cell("timeout", .timedOut, "no serial output for 30 s", [done, cut]),
      cell("hangearly", .timedOut, "no serial output for 30 s", []),
      cell("protocol", .protocolError, "section says not ok", [liar, done]),
      cell("exitone", .failed, "guest reported failure (exit status 1)", [done]),
    ]
    return cells
  }

  /// results-<arch>.ktap: strict dialect, every level planned, and
  /// kunit_parser's counts equal the JUnit report's, cell by cell.
  @Test func reportIsStrictKTAPWithTheJUnitCounts() throws {
    let cells = reportCells()
    let whole = KTAPValidator.validate(KTAPReport.render(cells, architecture: .x86_64), as: .report)
    #expect(whole.violations.isEmpty, "\(whole.violations)")
    #expect(whole.unterminated.isEmpty)
    for cell in cells {
      let text = KTAPReport.render([cell], architecture: .x86_64)
      let report = KTAPValidator.validate(text, as: .report)
      #expect(report.violations.isEmpty, "\(cell.id): \(report.violations)\n\(text)")
      #expect(report.unterminated.isEmpty, "\(cell.id)")
      let junit = try Self.junitCounts(JUnitReport.render([cell], hostname: "h"), xfailed: Self.xfailed([cell]))
      #expect(report.counts == junit, "\(cell.id)\n\(text)")
      if cell.result.verdict == .passed { #expect(report.status == .success, "\(cell.id)") }
      if cell.result.verdict.isFailure { #expect(report.status != .success, "\(cell.id): \(report.status)") }
      #expect(!text.contains("\\#"))
    }
    let junit = try Self.junitCounts(JUnitReport.render(cells, hostname: "h"), xfailed: Self.xfailed(cells))
    #expect(whole.counts == junit)
    // XFAIL and XPASS stay visible in the KTAP report.
    let xfailText = KTAPReport.render(cells.filter { $0.id.hasPrefix("xfailpass.") }, architecture: .x86_64)
    #expect(xfailText.contains("        ok 2 x # XFAIL #bug\n"), "\(xfailText)")
    #expect(xfailText.contains("\n    ok 1 xfail ＃1 # XFAIL ＃bug\n") == false, "a reason keeps '#'")
    #expect(xfailText.contains("\n    ok 1 xfail ＃1 # XFAIL #bug\n"), "\(xfailText)")
    #expect(xfailText.contains("\n    ok 2 skipped before # SKIP needs 2 CPUs\n"), "\(xfailText)")
    let xpassText = KTAPReport.render(cells.filter { $0.id.hasPrefix("xpass") }, architecture: .x86_64)
    #expect(xpassText.contains("\n    not ok 1 xpass # XPASS fixed\n"), "\(xpassText)")
    #expect(xpassText.contains("\n    ok 1 xpass # XPASS fixed\n"), "\(xpassText)")
    #expect(xpassText.contains("# the test made no check\n    not ok 2 no check\n"), "\(xpassText)")
  }

  /// XFAIL checks of `cells`: JUnit reports them skipped, kunit_parser
  /// (which knows only SKIP) passed.
  static func xfailed(_ cells: [ReportCell]) -> Int {
    cells.reduce(0) { $0 + $1.result.xfailedChecks.count }
  }

  /// passed/failed/errors/skipped of `<testsuites>`, as validator counts
  /// (errors are what kunit_parser calls crashed), with `xfailed` XFAIL
  /// testcases moved from skipped to passed as kunit_parser counts them.
  static func junitCounts(_ xml: String, xfailed: Int = 0) throws -> KTAPValidator.Counts {
    let line = try #require(xml.split(separator: "\n").first { $0.hasPrefix("<testsuites") })
    func value(_ name: String) throws -> Int {
      let range = try #require(line.range(of: " \(name)=\""))
      return try #require(Int(line[range.upperBound...].prefix { $0 != "\"" }))
    }
    let tests = try value("tests")
    let failures = try value("failures")
    let errors = try value("errors")
    let skipped = try value("skipped")
    return KTAPValidator.Counts(
      passed: tests - failures - errors - skipped + xfailed, failed: failures, crashed: errors,
      skipped: skipped - xfailed)
  }
}

/// The validator itself rejects what kunit_parser would misread.
@Suite("KTAP validator")
struct KTAPValidatorTests {
  static let good = """
    KTAP version 1
    # a comment
    1..1
        KTAP version 1
        # Subtest: section ＃1
        1..2
        ok 1 adds # @A/A.swift:3
        # expected: 1, actual: 2
        not ok 2 compares # SKIP why @A/A.swift:4
    ok 1 section ＃1

    """

  @Test func acceptsTheDialect() {
    let report = KTAPValidator.validate(Self.good, as: .report)
    #expect(report.violations.isEmpty, "\(report.violations)")
    #expect(report.counts == KTAPValidator.Counts(passed: 1, failed: 0, crashed: 0, skipped: 1))
  }

  @Test(arguments: [
    ("ok 1 adds # @A/A.swift:3", "ok 1 ud2 raises #UD # @A/A.swift:3", "contains '#'"),
    ("ok 1 adds # @A/A.swift:3", ##"ok 1 a \# b # @A/A.swift:3"##, "contains '#'"),
    ("ok 1 adds # @A/A.swift:3", "ok 3 adds # @A/A.swift:3", "result number 3"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # TODO later", "unknown directive"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # @A/A.swift", "malformed source location"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 - adds", "starts with '- '"),
    ("ok 1 adds # @A/A.swift:3", "  ok 1 adds", "unexpected line"),
    ("ok 1 adds # @A/A.swift:3", "%%% noise", "not a KTAP line"),
    ("ok 1 section ＃1", "ok 1 section #1", "contains '#'"),
    ("ok 1 section ＃1", "ok 1 other", "closes subtest"),
    ("    1..2", "    # no plan", "has no plan"),
    ("    1..2", "    1..3", "plan 3 not met"),
    ("    1..2", "    1..1", "not closed by its result line"),
    ("    # expected: 1, actual: 2", "    # Subtest: sneaky", "unexpected line"),
    ("KTAP version 1\n# a comment", "TAP version 14\n# a comment", "text before the KTAP header"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # XFAIL a # SKIP b @A/A.swift:3", "kunit_parser would count a skip"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # @A/A.swift:3 cpu=0 t=x", "malformed trailer token"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # XFAILED why @A/A.swift:3", "unknown directive"),
    ("ok 1 adds # @A/A.swift:3", "ok 1 adds # SKIPwhy", "SKIP not followed by a space"),
  ])
  func rejectsWhatKunitWouldMisread(good: String, bad: String, expected: String) {
    #expect(Self.good.contains(good))
    let text = Self.good.replacing(good, with: bad, maxReplacements: 1)
    let report = KTAPValidator.validate(text, as: .report)
    #expect(report.violations.contains { $0.contains(expected) }, "\(report.violations)\n\(text)")
  }

  /// Wire format v2: XFAIL and XPASS directives, trailers, a test skipped
  /// before it ran; kunit_parser counts XFAIL as passed and a `not ok`
  /// XPASS parent of passing checks as one failure.
  @Test func acceptsDirectivesAndTrailersOfTheSecondVersion() {
    let text = """
      KTAP version 1
      # guest: v2
      1..3
          KTAP version 1
          # Subtest: xfailed
          ok 1 c # XFAIL TCG filters x2APIC @s/S.swift:22 cpu=0 t=1204100
          ok 2 d # @s/S.swift:23 cpu=1 t=1204200
      ok 1 xfailed # XFAIL TCG filters x2APIC @s/S.swift:32 cpu=0 t=1204300 dt=200
      ok 2 needs two cpus # SKIP needs 2 CPUs, the machine has 1 @s/S.swift:31 cpu=0 t=1204600
          KTAP version 1
          # Subtest: xpassed
          ok 1 c # cpu=0 t=1204700
      not ok 3 xpassed # XPASS
      # Totals: pass:2 fail:0 skip:1 xfail:1 xpass:1
      # EXIT: STATUS=1

      """
    let report = KTAPValidator.validate(text, as: .guestLog)
    #expect(report.violations.isEmpty, "\(report.violations)")
    #expect(report.counts == KTAPValidator.Counts(passed: 3, failed: 1, crashed: 0, skipped: 1))
    #expect(report.status == .failure)
    let allowed = KTAPValidator.validate(text.replacing("not ok 3 xpassed", with: "ok 3 xpassed"), as: .guestLog)
    #expect(allowed.counts == KTAPValidator.Counts(passed: 3, failed: 0, crashed: 0, skipped: 1))
  }

  @Test func countsMissingPlannedTestsAsCrashed() {
    let cut = """
      KTAP version 1
      1..3
          KTAP version 1
          # Subtest: one
          ok 1 fine # @A/A.swift:1
      ok 1 one

      """
    let report = KTAPValidator.validate(cut, as: .guestLog)
    #expect(report.violations.isEmpty)
    #expect(report.counts == KTAPValidator.Counts(passed: 1, failed: 0, crashed: 2, skipped: 0))
    #expect(report.status == .crashed)
  }

  @Test func notOkParentOfPassingChildrenAddsAFailure() {
    let text = """
      KTAP version 1
      1..1
          KTAP version 1
          # Subtest: one
          1..1
          ok 1 fine
      not ok 1 one

      """
    let report = KTAPValidator.validate(text, as: .report)
    #expect(report.violations.isEmpty)
    #expect(report.counts == KTAPValidator.Counts(passed: 1, failed: 1, crashed: 0, skipped: 0))
  }
}
