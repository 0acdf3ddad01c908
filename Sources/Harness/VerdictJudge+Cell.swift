/// What a cell expects of its run, for the judge.
public struct CellExpectations: Sendable, Hashable {
  /// The guest's architecture (how its machine end is read).
  public var architecture: Architecture
  /// The tests the guest's sources declare, in order (nil: not checked).
  public var expectedTests: [String]?
  /// An XPASS test does not fail the cell.
  public var xpassAllowed: Bool
  /// The tests whose declaration has an `.xfail` trait (nil: not checked).
  public var xfailTests: Set<String>?
  /// The expected outcome is a guest panic (`expect = panic`).
  public var expectPanic = false

  /// Expectations from a cell's settings.
  public init(settings: LaunchSettings, expectedTests: [String]? = nil) {
    self.init(
      architecture: settings.architecture, expectedTests: expectedTests,
      xpassAllowed: settings.xpassAllowed, xfailTests: settings.xfailTests)
    expectPanic = settings.expectPanic
  }

  /// Expectations given one by one.
  public init(
    architecture: Architecture, expectedTests: [String]? = nil, xpassAllowed: Bool = false,
    xfailTests: Set<String>? = nil
  ) {
    self.architecture = architecture
    self.expectedTests = expectedTests
    self.xpassAllowed = xpassAllowed
    self.xfailTests = xfailTests
  }
}

/// A verdict and its reason.
public struct Judgment: Sendable, Hashable {
  /// The verdict.
  public var verdict: Verdict
  /// Why (empty for PASS).
  public var reason: String

  /// A judgment.
  public init(_ verdict: Verdict, _ reason: String) {
    self.verdict = verdict
    self.reason = reason
  }
}

extension VerdictJudge {
  /// The one verdict of a finished run, a pure function of the record and
  /// the cell's expectations: an interrupted run is SKIP; otherwise the
  /// protocol decides (`judge(_:architecture:…)`), a symbolized crash
  /// location and every vCPU's position read before a kill are added to the
  /// reason, and so are the placement notes (re-queued, which host).
  public static func judge(_ record: RunRecord, _ expectations: CellExpectations) -> Judgment {
    if record.interrupted {
      return Judgment(.skipped, "interrupted while running; the machine was destroyed")
    }
    var (verdict, reason) =
      expectations.expectPanic
      ? judgePanic(record, architecture: expectations.architecture)
      : judge(
        record, architecture: expectations.architecture, expectedTests: expectations.expectedTests,
        xpassAllowed: expectations.xpassAllowed, xfailTests: expectations.xfailTests)
    if let location = record.stream.crash?.location { reason += " in \(location)" }
    if !record.vcpuPositions.isEmpty {
      // Triage: where every vCPU stood when the harness gave up on the
      // guest (a hang, a flood, an exit line without a machine stop).
      reason += "; " + record.vcpuPositions.map(\.summary).joined(separator: "; ")
    }
    for note in record.notes where note.belongsInReason {
      reason += (reason.isEmpty ? "" : "; ") + note.description
    }
    return Judgment(verdict, reason)
  }
}
