/// Where the time of a scheduled run went, from the launch-to-verdict
/// interval of every attempt.
///
/// **Runner overhead** is defined as the wall time during which no QEMU
/// process of the run was alive: wall time minus the length of the union
/// of all QEMU intervals. That is the time the runner alone sits on the
/// critical path (loading the config, building or fetching payloads,
/// scheduling, writing reports); time in which at least one QEMU runs is
/// counted as QEMU time however many run at once.
///
/// The **longest lane** is a second view: the intervals are packed into
/// lanes greedily (each goes to the first lane free at its start), and the
/// lane whose intervals add up to the most is the longest chain of QEMU
/// time one slot ran; `wall − longest lane` bounds what the runner added
/// to that slot.
public struct RunTimeline: Sendable {
  /// Wall time of the whole run in seconds.
  public var wallSeconds: Double
  /// Sum of every QEMU interval in seconds (CPU-slot time).
  public var qemuSeconds: Double
  /// Length of the union of the QEMU intervals in seconds.
  public var busySeconds: Double
  /// The largest sum of intervals in one greedy lane, in seconds.
  public var longestLaneSeconds: Double
  /// Most intervals alive at once.
  public var peakConcurrency: Int

  /// Wall time with no QEMU alive (the runner's overhead, see above).
  public var overheadSeconds: Double { max(0, wallSeconds - busySeconds) }

  /// The timeline of `intervals` (offsets in seconds from the run's start)
  /// in a run of `wallSeconds`.
  public init(wallSeconds: Double, intervals: [(start: Double, end: Double)]) {
    self.wallSeconds = wallSeconds
    let sorted = intervals.filter { $0.end >= $0.start }.sorted { $0.start < $1.start }
    qemuSeconds = sorted.reduce(0) { $0 + ($1.end - $1.start) }
    var busy = 0.0
    var current: (start: Double, end: Double)?
    for interval in sorted {
      if let open = current, interval.start <= open.end {
        current = (open.start, max(open.end, interval.end))
      } else {
        if let open = current { busy += open.end - open.start }
        current = interval
      }
    }
    if let open = current { busy += open.end - open.start }
    busySeconds = busy
    var laneEnds: [Double] = []
    var laneSums: [Double] = []
    var peak = 0
    for interval in sorted {
      let alive = sorted.filter { $0.start <= interval.start && $0.end > interval.start }.count
      peak = max(peak, alive)
      if let lane = laneEnds.firstIndex(where: { $0 <= interval.start }) {
        laneEnds[lane] = interval.end
        laneSums[lane] += interval.end - interval.start
      } else {
        laneEnds.append(interval.end)
        laneSums.append(interval.end - interval.start)
      }
    }
    longestLaneSeconds = laneSums.max() ?? 0
    peakConcurrency = peak
  }

  /// The timeline of scheduled outcomes, relative to `start`, ending at `end`.
  public init(
    outcomes: [CellOutcome], start: ContinuousClock.Instant, end: ContinuousClock.Instant
  ) {
    let intervals = outcomes.flatMap(\.attemptIntervals).map {
      (start: ($0.lowerBound - start).seconds, end: ($0.upperBound - start).seconds)
    }
    self.init(wallSeconds: (end - start).seconds, intervals: intervals)
  }
}
