/// Where a run spent its time, from the serial log and its arrival times:
/// the guest's first byte, each section's end, each check (its log line and
/// arrival), and the exit line. Used by the HTML report's per-cell
/// timeline and check table.
public struct SerialLandmarks: Sendable, Equatable {
  /// One check: its 1-based line in the serial log and its arrival.
  public struct Check: Sendable, Equatable {
    public var line: Int
    public var at: Duration?
  }

  /// Arrival of the first byte.
  public var firstOutput: Duration?
  /// Each finished section's name and the arrival of its result line.
  public var sections: [(name: String, at: Duration?)] = []
  /// Every check in the parser's order.
  public var checks: [Check] = []
  /// Arrival of the `# EXIT:` line.
  public var exit: Duration?
  /// Arrival of the last byte.
  public var last: Duration?

  public static func == (a: Self, b: Self) -> Bool {
    a.firstOutput == b.firstOutput && a.checks == b.checks && a.exit == b.exit && a.last == b.last
      && a.sections.map(\.name) == b.sections.map(\.name) && a.sections.map(\.at) == b.sections.map(\.at)
  }
}

extension SerialTimeline {
  /// The landmarks of `log` (the serial log this timeline was recorded for).
  public func landmarks(_ log: String) -> SerialLandmarks {
    let times = lineTimes(Array(log.utf8))
    var lines = log.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    var result = SerialLandmarks()
    result.firstOutput = arrivals.first?.at
    result.last = arrivals.last?.at
    var parser = KTAPParser()
    for (index, line) in lines.enumerated() {
      let time = index < times.count ? times[index] : nil
      let checksBefore = parser.checksParsed
      let sectionsBefore = parser.result.sections.count
      let exitBefore = parser.result.exitStatus
      parser.consume(line: String(line))
      if parser.checksParsed > checksBefore {
        result.checks.append(.init(line: index + 1, at: time))
      }
      let sections = parser.result.sections
      if sections.count > sectionsBefore, let section = sections.last {
        result.sections.append((section.name, time))
      }
      if exitBefore == nil && parser.result.exitStatus != nil { result.exit = time }
    }
    return result
  }
}
