import Foundation
import Testing

@testable import Harness

/// JUnit times: each testcase's from the serial timeline, each suite's
/// start time and host.
@Suite("JUnit times")
struct JUnitTimingTests {
  static let log = """
    KTAP version 1
    # guest: timed
    1..2
        KTAP version 1
        # Subtest: first
        ok 1 quick # @T/T.swift:1
        # expected: 1, actual: 2
        not ok 2 slow # @T/T.swift:2
    ok 1 first
        KTAP version 1
        # Subtest: second
        ok 1 after the section break # SKIP none @T/T.swift:3
    ok 2 second
    # EXIT: STATUS=1

    """

  /// The log with each line arriving at the given milliseconds.
  static func timeline(_ millis: [Int], for log: String, startedAt: Date?) -> SerialTimeline {
    var timeline = SerialTimeline(startedAt: startedAt)
    var offset = 0
    for (line, at) in zip(log.split(separator: "\n", omittingEmptySubsequences: false), millis) {
      offset += line.utf8.count + 1
      timeline.record(endOffset: offset, at: .milliseconds(at))
    }
    return timeline
  }

  static func cell(startedAt: Date?, millis: [Int]?) -> ReportCell {
    var parser = KTAPParser()
    parser.consume(bytes: Array(log.utf8))
    let stream = parser.finish()
    var result = GuestResult(
      guest: "timed", architecture: .x86_64, accelerator: .tcg, verdict: .failed, reason: "1 check failed",
      sections: stream.sections, crash: nil, protocolErrors: [], serialLog: log, qemuStderr: "",
      command: ["qemu"], qemuExitCode: 3, duration: .seconds(2), processID: 1)
    result.timeline =
      millis.map { timeline($0, for: log, startedAt: startedAt) } ?? SerialTimeline(startedAt: startedAt)
    return ReportCell(id: "timed.x86_64.tcg.smp1.mem256M", result: result, cpus: 1, memoryMiB: 256)
  }

  // Lines:            1   2   3   4   5   6    7    8    9    10   11   12    13    14
  static let millis = [10, 11, 12, 20, 21, 150, 160, 400, 410, 500, 505, 1250, 1300, 1310]

  @Test func checkDurationsRunFromThePreviousResultLine() {
    let timeline = Self.timeline(Self.millis, for: Self.log, startedAt: nil)
    // quick: header (10 ms) → 150 ms; slow: 150 → 400; skipped: "ok 1 first" (410) → 1250.
    #expect(timeline.checkDurations(Self.log) == [.milliseconds(140), .milliseconds(250), .milliseconds(840)])
    // Without arrival times there are no durations to tell.
    #expect(SerialTimeline(startedAt: nil).checkDurations(Self.log) == [nil, nil, nil])
  }

  func testcases(_ xml: String) -> [String] {
    xml.split(separator: "\n").map(String.init).filter { $0.contains("<testcase ") }
  }

  func attribute(_ name: String, in line: String) -> String? {
    guard let range = line.range(of: " \(name)=\"") else { return nil }
    return String(line[range.upperBound...].prefix { $0 != "\"" })
  }

  @Test func testcasesCarryRealTimesAndSuitesTimestampAndHostname() throws {
    let start = Date(timeIntervalSince1970: 1_764_625_299.75)  // 2025-12-01T21:41:39.75Z
    let xml = JUnitReport.render([Self.cell(startedAt: start, millis: Self.millis)], hostname: "build-7")
    let cases = testcases(xml)
    #expect(cases.count == 3)
    #expect(cases.map { attribute("time", in: $0) } == ["0.140", "0.250", "0.840"])
    let suite = try #require(xml.split(separator: "\n").map(String.init).first { $0.contains("<testsuite ") })
    #expect(attribute("timestamp", in: suite) == "2025-12-01T21:41:39")
    #expect(attribute("hostname", in: suite) == "build-7")
    // Counts are as before: 3 checks, 1 failure, 1 skipped.
    #expect(attribute("tests", in: suite) == "3")
    #expect(attribute("failures", in: suite) == "1")
    #expect(attribute("skipped", in: suite) == "1")
    #expect(attribute("time", in: suite) == "2.000")
  }

  @Test func withoutArrivalsTimesAreZeroAndTheRunStartStandsIn() throws {
    let early = Date(timeIntervalSince1970: 1_764_625_200)  // 21:40:00
    var other = Self.cell(startedAt: early, millis: Self.millis)
    other.id = "timed.x86_64.tcg.smp2.mem256M"
    let xml = JUnitReport.render([Self.cell(startedAt: nil, millis: nil), other], hostname: "h")
    let suites = xml.split(separator: "\n").map(String.init).filter { $0.contains("<testsuite ") }
    #expect(suites.map { attribute("timestamp", in: $0) } == ["2025-12-01T21:40:00", "2025-12-01T21:40:00"])
    #expect(testcases(xml).prefix(3).map { attribute("time", in: $0) } == ["0.000", "0.000", "0.000"])
  }

  @Test func theHostnameIsThisHosts() {
    #expect(!ReportText.hostname.isEmpty)
    let xml = JUnitReport.render([Self.cell(startedAt: nil, millis: nil)])
    #expect(xml.contains(" hostname=\"\(ReportText.hostname)\""))
  }
}
