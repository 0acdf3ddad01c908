import Foundation

/// Marks of where one runner process spends its time, for `runner bench
/// --process`: with `SWIFTGUEST_PHASES` set in its environment, `mark`
/// writes `phase NAME MS` to standard error (MS: milliseconds on
/// `CLOCK_MONOTONIC`, the clock `now()` reads, so that the parent can place
/// the child's marks between its own spawn and exit times). Without it a
/// mark costs one check of a flag read once.
public enum PhaseTrace {
  /// The environment variable that turns the marks on.
  public static let variable = "SWIFTGUEST_PHASES"

  /// Whether this process writes its marks.
  public static let enabled = getenv(variable) != nil

  /// Milliseconds on `CLOCK_MONOTONIC`.
  public static func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
  }

  /// Marks the end of phase `name` (when enabled).
  public static func mark(_ name: String) {
    guard enabled else { return }
    FileHandle.standardError.write(Data("phase \(name) \(ReportText.fixed(now(), places: 3))\n".utf8))
  }

  /// The marks in `stderr` (other lines are skipped), in order.
  public static func marks(in stderr: String) -> [(name: String, at: Double)] {
    stderr.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count == 3, fields[0] == "phase", let at = Double(fields[2]) else { return nil }
      return (String(fields[1]), at)
    }
  }
}
