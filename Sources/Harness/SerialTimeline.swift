import Foundation

/// When the serial output reached the harness: for each chunk read, the
/// log's length after it and the time since the guest was started. It turns
/// into a timed copy of the log (`logs/<id>.timed.log`), which shows where a
/// slow or stuck guest spent its time, and into the JUnit report's
/// per-check times (`checkDurations`).
public struct SerialTimeline: Sendable, Hashable, Codable {
  /// One chunk: the log's byte count after it, and when it arrived.
  public struct Arrival: Sendable, Hashable, Codable {
    public var endOffset: Int
    public var at: Duration

    public init(endOffset: Int, at: Duration) {
      self.endOffset = endOffset
      self.at = at
    }
  }

  /// Arrivals in order (offsets and times never decrease).
  public private(set) var arrivals: [Arrival] = []

  /// The wall-clock time the timeline was started: the launchers create it
  /// as they start QEMU, so this is the cell's start (the JUnit suite's
  /// `timestamp`). Nil when unknown (e.g. decoded from an older report).
  public var startedAt: Date?

  /// An empty timeline started now.
  public init() { startedAt = Date() }

  /// An empty timeline started at `startedAt`.
  public init(startedAt: Date?) { self.startedAt = startedAt }

  /// Records that the log had `endOffset` bytes at `at`.
  public mutating func record(endOffset: Int, at: Duration) {
    if let last = arrivals.last, last.endOffset >= endOffset { return }
    arrivals.append(Arrival(endOffset: endOffset, at: at))
  }

  /// The arrival time of every line of `log` (lines end at `\n`; a last
  /// line without one counts too): the time of the chunk that completed
  /// it, nil for bytes no recorded chunk covered (e.g. output recovered
  /// from a console log rather than the stream).
  public func lineTimes(_ log: [UInt8]) -> [Duration?] {
    var times: [Duration?] = []
    var next = 0
    func time(endingAt offset: Int) -> Duration? {
      while next < arrivals.count && arrivals[next].endOffset < offset { next += 1 }
      return next < arrivals.count ? arrivals[next].at : nil
    }
    var lineStart = 0
    for (index, byte) in log.enumerated() where byte == 10 {
      times.append(time(endingAt: index + 1))
      lineStart = index + 1
    }
    if lineStart < log.count { times.append(time(endingAt: log.count)) }
    return times
  }

  /// How long each check took, in the order `KTAPParser` reports the checks
  /// of `log`: the time from the previous KTAP result line (a check's, a
  /// section's or a crash marker's; for the first one, the `KTAP version 1`
  /// header) to the check's own result line. Nil where either line has no
  /// arrival time; negative spans (never, with ordered arrivals) are 0.
  public func checkDurations(_ log: String) -> [Duration?] {
    let bytes = Array(log.utf8)
    let times = lineTimes(bytes)
    var lines = log.split(separator: "\n", omittingEmptySubsequences: false)
    if lines.last == "" { lines.removeLast() }
    var parser = KTAPParser()
    var durations: [Duration?] = []
    // The previous result line's (or the header's) time; nil: unknown.
    var previous: Duration?
    for (index, line) in lines.enumerated() {
      let time = index < times.count ? times[index] : nil
      let sawHeader = parser.result.sawHeader
      let checksBefore = parser.checksParsed
      parser.consume(line: String(line))
      if !sawHeader && parser.result.sawHeader {
        previous = time
        continue
      }
      if parser.checksParsed > checksBefore {
        if let start = previous, let time {
          durations.append(max(.zero, time - start))
        } else {
          durations.append(nil)
        }
      }
      if Self.isResultLine(line) { previous = time }
    }
    return durations
  }

  /// Whether `line` is a KTAP result line (`ok …`/`not ok …`, indented or not).
  static func isResultLine(_ line: Substring) -> Bool {
    let text = line.drop { $0 == " " }
    return text.hasPrefix("ok ") || text.hasPrefix("not ok ")
  }

  /// The log with each line prefixed by its arrival time in milliseconds
  /// (`   12.345 ms │ line`; `         ? ms │` when unknown).
  public func timedText(_ log: String) -> String {
    let bytes = Array(log.utf8)
    let times = lineTimes(bytes)
    var lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    var text = ""
    for (index, line) in lines.enumerated() {
      let stamp: String
      if index < times.count, let time = times[index] {
        let (seconds, attoseconds) = time.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        let whole = String(micros / 1000)
        let fraction = String(micros % 1000)
        stamp =
          String(repeating: " ", count: max(0, 9 - whole.count)) + whole + "."
          + String(repeating: "0", count: 3 - fraction.count) + fraction
      } else {
        stamp = String(repeating: " ", count: 9) + "?" + "   "
      }
      text += "\(stamp) ms │ \(line)\n"
    }
    return text
  }
}
