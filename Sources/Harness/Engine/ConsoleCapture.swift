/// The serial console of one run as the engine keeps it: the log up to the
/// output limit (then only the last `keptTail` bytes), its arrival times,
/// and the KTAP parser fed with the kept bytes.
struct ConsoleCapture: Sendable {
  /// Bytes of serial output kept after the output limit was reached.
  static let keptTail = QemuLauncherLimits.keptTail

  let limit: Int
  let start: ContinuousClock.Instant
  var parser = KTAPParser()
  var log: [UInt8] = []
  var timeline = SerialTimeline()
  /// Serial bytes received in all.
  var received = 0
  /// The last bytes received after the limit was reached.
  var tail: [UInt8] = []
  /// The output limit or the check limit was reached.
  var limitHit = false
  var firstOutputAt: ContinuousClock.Instant?
  var lastOutputAt: ContinuousClock.Instant?
  var exitLineAt: ContinuousClock.Instant?

  init(limit: Int, start: ContinuousClock.Instant) {
    self.limit = limit
    self.start = start
  }

  /// Takes `bytes` that arrived `now`; true when they made the output
  /// reach a limit (the machine must be destroyed).
  mutating func consume(_ bytes: [UInt8], at now: ContinuousClock.Instant) -> Bool {
    received += bytes.count
    lastOutputAt = now
    if firstOutputAt == nil { firstOutputAt = now }
    if limitHit {
      tail += bytes
      if tail.count > Self.keptTail { tail.removeFirst(tail.count - Self.keptTail) }
      return false
    }
    var kept = bytes[...]
    let room = limit - log.count
    if kept.count > room {
      tail = Array(kept.dropFirst(max(room, 0)).suffix(Self.keptTail))
      kept = kept.prefix(max(room, 0))
      limitHit = true
    }
    log += kept
    timeline.record(endOffset: log.count, at: now - start)
    parser.consume(bytes: kept)
    if !limitHit && parser.result.checkLimitReached { limitHit = true }
    if exitLineAt == nil && parser.result.exitStatus != nil { exitLineAt = now }
    return limitHit
  }

  /// The log as the record keeps it: past the limit, a marker line and
  /// the tail follow the head.
  var finalLog: [UInt8] {
    guard limitHit, received > log.count else { return log }
    let dropped = received - log.count - tail.count
    return log
      + Array(
        "\n[swift-guest-harness: output limit of \(limit) bytes reached; the machine was destroyed; \(dropped) bytes dropped; the last \(tail.count) bytes follow]\n"
          .utf8) + tail
  }

  /// A note when the console stream and the backend's console log
  /// disagree (the stream should be a prefix of the log); nil when equal.
  static func compare(streamed: [UInt8], logged: [UInt8]) -> RunNote? {
    if streamed == logged { return nil }
    if logged.count > streamed.count && logged.starts(with: streamed) {
      return .consoleStreamLostTail(bytes: logged.count - streamed.count)
    }
    return .consoleStreamDiffers(streamed: streamed.count, logged: logged.count)
  }
}
