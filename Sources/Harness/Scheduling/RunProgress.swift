/// Tallies of a scheduled run for the live status line: cells running,
/// passed, failed and skipped per architecture, elapsed time and an ETA
/// from the mean cell time.
public struct RunProgress: Sendable {
  /// Counts of one architecture.
  public struct Counts: Sendable, Equatable {
    /// Cells booting now.
    public var running = 0
    /// Passed (flaky ones included).
    public var passed = 0
    /// Failed, crashed, timed out, protocol errors and errors.
    public var failed = 0
    /// Skipped, interrupted or not run.
    public var skipped = 0
  }

  /// Cells in the run.
  public let total: Int
  /// Per architecture, in `Architecture.allCases` order when rendered.
  public private(set) var counts: [Architecture: Counts] = [:]
  /// Cells finished.
  public private(set) var finished = 0
  /// Sum of the finished cells' wall times (all attempts).
  public private(set) var cellSeconds = 0.0
  private var runningIndexes: Set<Int> = []

  /// Progress of a run of `total` cells.
  public init(total: Int) { self.total = total }

  /// Cells booting now, over all architectures.
  public var running: Int { runningIndexes.count }

  /// Updates the tallies with an event.
  public mutating func record(_ event: SchedulerEvent) {
    switch event {
    case .cellStarted(let index, let cell, _):
      if runningIndexes.insert(index).inserted {
        counts[cell.settings.architecture, default: Counts()].running += 1
      }
    case .cellFinished(let outcome):
      let architecture = outcome.cell.settings.architecture
      var entry = counts[architecture, default: Counts()]
      if runningIndexes.remove(outcome.index) != nil { entry.running -= 1 }
      switch outcome.state {
      case .finished:
        switch outcome.result?.verdict {
        case .passed: entry.passed += 1
        case .skipped: entry.skipped += 1
        default: entry.failed += 1
        }
      case .error: entry.failed += 1
      case .interrupted, .notRun: entry.skipped += 1
      }
      counts[architecture] = entry
      finished += 1
      cellSeconds += outcome.attemptIntervals.reduce(0) {
        $0 + ($1.upperBound - $1.lowerBound).seconds
      }
    case .buildStarted, .buildFinished, .attemptFailed:
      break
    }
  }

  /// Estimated seconds left: the mean finished cell time × the cells not
  /// finished, spread over the cells running now (at least one); nil
  /// before the first cell finished.
  public var etaSeconds: Double? {
    guard finished > 0 else { return nil }
    let mean = cellSeconds / Double(finished)
    return mean * Double(total - finished) / Double(max(1, running))
  }

  /// The status line, e.g. `x86_64: 2 running, 5 passed, 1 failed,
  /// 0 skipped · 6/18 · 12s elapsed · ETA 20s`, cut to `width` characters.
  public func statusLine(elapsedSeconds: Double, width: Int = 200) -> String {
    var parts: [String] = []
    for architecture in Architecture.allCases {
      guard let entry = counts[architecture] else { continue }
      parts.append(
        "\(architecture): \(entry.running) running, \(entry.passed) passed, "
          + "\(entry.failed) failed, \(entry.skipped) skipped")
    }
    if parts.isEmpty { parts.append("building") }
    parts.append("\(finished)/\(total)")
    parts.append("\(Self.clock(elapsedSeconds)) elapsed")
    parts.append("ETA " + (etaSeconds.map(Self.clock) ?? "?"))
    let line = parts.joined(separator: " · ")
    return line.count <= width ? line : String(line.prefix(max(0, width - 1))) + "…"
  }

  /// `42s`, `3m05s`, `1h02m`.
  public static func clock(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded())
    if whole < 60 { return "\(whole)s" }
    if whole < 3600 { return "\(whole / 60)m" + (whole % 60 < 10 ? "0" : "") + "\(whole % 60)s" }
    return "\(whole / 3600)h" + ((whole % 3600) / 60 < 10 ? "0" : "") + "\((whole % 3600) / 60)m"
  }
}

extension Duration {
  /// The duration in (fractional) seconds.
  public var seconds: Double {
    let parts = components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
  }
}
