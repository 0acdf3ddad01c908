import Testing

@testable import Harness

/// The judge of `expect = panic` cells: only the machine's own panic,
/// without crash record, exit line or failed check, passes.
@Suite("Judge: panic expectations")
struct PanicJudgeTests {
  static let beforePanic = """
    KTAP version 1
    # guest: panic
    1..1
        KTAP version 1
        # Subtest: panics
        ok 1 the cell expects a panic # @panic/Panic.swift:20

    """

  static func record(_ text: String, end: MachineEnd?, timeout: TimeoutKind? = nil) -> RunRecord {
    var parser = KTAPParser()
    parser.consume(bytes: Array(text.utf8))
    var record = RunRecord(
      stream: parser.finish(), serialLog: text, timeout: timeout, duration: .seconds(1),
      backend: .other(name: "test", remarks: []))
    record.machineEnd = end
    return record
  }

  static func judge(_ record: RunRecord, _ architecture: Architecture) -> Judgment {
    var settings = LaunchSettings(architecture: architecture, accelerator: .tcg)
    settings.expectPanic = true
    return VerdictJudge.judge(record, CellExpectations(settings: settings))
  }

  @Test func theMachinesOwnPanicPassesOnEachArchitecture() {
    #expect(Self.judge(Self.record(Self.beforePanic, end: .exited(0)), .x86_64) == Judgment(.passed, ""))
    #expect(Self.judge(Self.record(Self.beforePanic, end: .exited(1)), .s390x) == Judgment(.passed, ""))
    #expect(Self.judge(Self.record(Self.beforePanic, end: .panicked), .x86_64) == Judgment(.passed, ""))
  }

  @Test func anotherEndIsNoPanic() {
    // x86_64 exit code 1 is isa-debug-exit status 0, never a panic.
    let judgment = Self.judge(Self.record(Self.beforePanic, end: .exited(1)), .x86_64)
    #expect(judgment.verdict == .failed)
    #expect(judgment.reason.hasPrefix("the cell expected a guest panic; the machine did not panic"), "\(judgment.reason)")
    #expect(Self.judge(Self.record(Self.beforePanic, end: .poweredOff), .s390x).verdict == .failed)
  }

  @Test func anExitLineOrAFailedCheckIsAFailure() {
    let exited = Self.beforePanic + "ok 1 panics\n# Totals: pass:1 fail:0 skip:0\n# EXIT: STATUS=0\n"
    #expect(
      Self.judge(Self.record(exited, end: .exited(1)), .x86_64)
        == Judgment(.failed, "the cell expected a guest panic, but the guest wrote its exit line (status 0)"))
    let failed = Self.beforePanic + "    not ok 2 something # @panic/Panic.swift:21\n"
    let judgment = Self.judge(Self.record(failed, end: .exited(0)), .x86_64)
    #expect(judgment == Judgment(.failed, "1 checks failed before the panic"))
  }

  @Test func aTimeoutStaysATimeout() {
    let judgment = Self.judge(Self.record(Self.beforePanic, end: nil, timeout: .silence), .x86_64)
    #expect(judgment.verdict == .timedOut)
    #expect(judgment.reason.hasSuffix("(the cell expected a guest panic)"), "\(judgment.reason)")
  }
}
