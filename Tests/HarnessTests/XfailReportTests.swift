import Foundation
import Testing

@testable import Harness

/// XFAIL, XPASS, tests skipped before they ran and guest times, in every
/// report: terminal line, JUnit, JSON (and back through `runner merge`),
/// KTAP and HTML.
@Suite("Report XFAIL and XPASS")
struct XfailReportTests {
  /// A guest log of the second protocol version, guest times in
  /// nanoseconds large enough to show in JUnit's milliseconds.
  static let log = """
    KTAP version 1
    # guest: v2
    1..5
        KTAP version 1
        # Subtest: known bug
        ok 1 a # @V/V.swift:2 cpu=0 t=2000000000
        # expected 1, got 2
        ok 2 b # XFAIL bug 12 @V/V.swift:3 cpu=1 t=3250000000
    ok 1 known bug # XFAIL bug 12 @V/V.swift:1 cpu=0 t=3500000000 dt=2500000000
    ok 2 two cpus # SKIP needs 2 CPUs @V/V.swift:7 cpu=0 t=3600000000
        KTAP version 1
        # Subtest: was broken
        ok 1 c # @V/V.swift:4 cpu=0 t=3700000000
    not ok 3 was broken # XPASS QEMU 8 fixed it @V/V.swift:6 cpu=0 t=3800000000 dt=150000000
        KTAP version 1
        # Subtest: empty
        # the test made no check
    not ok 4 empty # @V/V.swift:8 cpu=0 t=3900000000 dt=1000
        KTAP version 1
        # Subtest: fine
        ok 1 d # @V/V.swift:9 cpu=0 t=4000000000
    ok 5 fine # @V/V.swift:10 cpu=0 t=4100000000 dt=150000000
    # Totals: pass:3 fail:1 skip:1 xfail:1 xpass:1
    # EXIT: STATUS=1

    """

  static var cell: ReportCell {
    var parser = KTAPParser()
    parser.consume(bytes: Array(log.utf8))
    let stream = parser.finish()
    let reasons = VerdictJudge.failureReasons(stream.sections, xpassAllowed: false)
    let result = GuestResult(
      guest: "v2", architecture: .x86_64, accelerator: .tcg, verdict: .failed,
      reason: reasons.joined(separator: "; "), sections: stream.sections, crash: nil,
      protocolErrors: stream.protocolErrors, serialLog: log, qemuStderr: "", command: ["qemu"], qemuExitCode: 3,
      duration: .seconds(5), processID: 1)
    return ReportCell(
      id: "v2.x86_64.tcg.smp1.mem256M", result: result, cpus: 1, memoryMiB: 256,
      sourcePaths: ["V/V.swift": "guests/tests/v2/V.swift"])
  }

  @Test func theTerminalLineCountsXfailAndXpass() {
    let cell = Self.cell
    #expect(cell.result.protocolErrors.isEmpty, "\(cell.result.protocolErrors)")
    #expect(cell.result.countSummary == "3 passed, 1 failed, 1 skipped, 1 xfailed, 1 xpassed")
    #expect(
      cell.result.reason == "unexpected pass (XPASS): was broken — QEMU 8 fixed it; test empty made no check")
  }

  @Test func junitSkipsXfailAndFailsXpassWithGuestTimes() throws {
    let xml = JUnitReport.render([Self.cell], hostname: "h")
    #expect(xml.contains(#"<skipped message="XFAIL: bug 12"/>"#), "\(xml)")
    #expect(xml.contains(#"<failure message="unexpected pass (XPASS): was broken — QEMU 8 fixed it" type="XPASS">"#))
    #expect(xml.contains(#"<failure message="test empty made no check" type="TestFailed">guests/tests/v2/V.swift:8"#))
    #expect(xml.contains(#"name="two cpus" file="guests/tests/v2/V.swift" line="7" time="0.000">"#), "\(xml)")
    #expect(xml.contains(#"<skipped message="needs 2 CPUs"/>"#))
    // The check times by the guest clock: a from the test's start (t - dt =
    // 1.0 s) to 2.0 s, b 1.25 s later; the XPASS test's own time is its dt.
    #expect(xml.contains(#"name="known bug › a" file="guests/tests/v2/V.swift" line="2" time="1.000"/>"#), "\(xml)")
    #expect(xml.contains(#"name="known bug › b" file="guests/tests/v2/V.swift" line="3" time="1.250">"#))
    #expect(xml.contains(#"name="was broken" file="guests/tests/v2/V.swift" line="6" time="0.150">"#))
    #expect(xml.contains(#"<property name="xfailed" value="1"/>"#))
    #expect(xml.contains(#"<property name="xpassed" value="was broken — QEMU 8 fixed it"/>"#))
    // 4 checks + the skipped test + 2 failing tests; no (guest verdict) case.
    #expect(xml.contains(#"tests="7" failures="2" errors="0" skipped="2""#), "\(xml)")
    #expect(!xml.contains("(guest verdict)"))
  }

  @Test func jsonHasTestsStatusesCpusAndGuestTimes() throws {
    let text = try JSONReport.render([Self.cell])
    let document = try JSONDecoder().decode(ResultsDocument.self, from: Data(text.utf8))
    let cell = try #require(document.cells.first)
    let tests = try #require(cell.tests)
    #expect(tests.map(\.status) == ["xfailed", "skipped", "xpassed", "failed", "passed"])
    #expect(tests.map(\.ok) == [true, true, false, false, true])
    #expect(tests[0].reason == "bug 12" && tests[0].durationNs == 2_500_000_000 && tests[0].cpu == 0)
    #expect(tests[1].skippedBeforeRun && tests[1].checks == 0 && tests[1].file == "guests/tests/v2/V.swift")
    #expect(tests[3].diagnostics == ["the test made no check"])
    let b = try #require(cell.checks.first { $0.name == "b" })
    #expect(b.outcome == "xfailed" && b.reason == "bug 12" && b.skipReason == nil)
    #expect(b.cpu == 1 && b.timeNs == 3_250_000_000 && b.durationNs == 1_250_000_000)
    // Every key present, null where unknown.
    let object = try #require(
      (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["cells"] as? [[String: Any]])
    let firstTest = try #require((object.first?["tests"] as? [[String: Any]])?.first)
    #expect(
      Set(firstTest.keys) == [
        "number", "name", "status", "ok", "reason", "skippedBeforeRun", "file", "fileID", "line", "cpu", "timeNs",
        "durationNs", "checks", "diagnostics",
      ])
    let firstCheck = try #require((object.first?["checks"] as? [[String: Any]])?.first)
    #expect(Set(firstCheck.keys).isSuperset(of: ["cpu", "timeNs", "durationNs", "reason"]))
  }

  /// `runner merge` rebuilds cells from results.json: the tests come back
  /// with their statuses, and the reports read the same.
  @Test func mergeRebuildsTestsFromJSON() throws {
    let text = try JSONReport.render([Self.cell])
    let document = try JSONDecoder().decode(ResultsDocument.self, from: Data(text.utf8))
    let rebuilt = try Sharding.reportCell(
      try #require(document.cells.first), from: "/nonexistent-\(UUID().uuidString)", metadata: nil)
    let original = Self.cell.result.sections
    #expect(rebuilt.result.sections.map(\.status) == original.map(\.status))
    #expect(rebuilt.result.sections.map(\.reportedOK) == original.map(\.reportedOK))
    #expect(rebuilt.result.sections.map(\.checks.count) == original.map(\.checks.count))
    #expect(rebuilt.result.checks.map(\.outcome) == Self.cell.result.checks.map(\.outcome))
    #expect(rebuilt.result.countSummary == Self.cell.result.countSummary)
    #expect(KTAPReport.render([rebuilt]) == KTAPReport.render([Self.cell]))
  }

  @Test func ktapKeepsTheDirectives() {
    let text = KTAPReport.render([Self.cell], architecture: .x86_64)
    #expect(text.contains("\n        ok 2 b # XFAIL bug 12\n"), "\(text)")
    #expect(text.contains("\n    ok 1 known bug # XFAIL bug 12\n"))
    #expect(text.contains("\n    ok 2 two cpus # SKIP needs 2 CPUs\n"))
    #expect(text.contains("\n    not ok 3 was broken # XPASS QEMU 8 fixed it\n"))
    #expect(text.contains("\n        # the test made no check\n    not ok 4 empty\n"))
  }

  @Test func htmlShowsChipsCpusGuestTimesAndTestDurations() {
    let html = HTMLReport.render([Self.cell])
    #expect(html.contains(#"<span class="chip chip-xfail" title="checks that failed as expected">1 XFAIL</span>"#))
    #expect(html.contains(#"<span class="chip chip-xpass" title="tests expected to fail that passed">1 XPASS</span>"#))
    #expect(html.contains(#"<tr class="test-xpassed"><td>3</td><td>was broken <span class="skip-reason">(QEMU 8 fixed it)</span>"#))
    #expect(html.contains(#"<td class="test-duration">2.50 s</td>"#), "the XFAIL test's dt")
    #expect(html.contains(#"<td class="test-duration">150.00 ms</td>"#))
    #expect(html.contains(#"<td class="test-duration">1.0 µs</td>"#))
    #expect(html.contains(#"<span class="chip chip-skip">SKIP</span>"#))
    #expect(html.contains(#"<td class="check-cpu">1</td><td class="check-guest-time">3.250000 s</td>"#))
    #expect(html.contains(#"<td>\#(#"<span class="chip chip-xfail">XFAIL</span>"#)</td><td class="check-time">1.25 s</td>"#))
    #expect(html.contains("# the test made no check"))
    #expect(html.contains("3 passed, 1 failed, 1 skipped, 1 xfailed, 1 xpassed"))
  }
}
