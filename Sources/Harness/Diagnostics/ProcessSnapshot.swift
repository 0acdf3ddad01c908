import Foundation

/// What a process's threads were doing, read from Linux's /proc: for a
/// QEMU killed by a timeout it tells a guest spinning in its vCPU (state R,
/// CPU time growing) from a vCPU blocked in the kernel (state D or S, with
/// the kernel function it waits in).
public enum ProcessSnapshot {
  /// One line per thread: `name state cpu=<s> wchan=<function>`; empty
  /// when /proc has nothing for `pid`.
  public static func threads(of pid: Int32) -> [String] {
    let base = "/proc/\(pid)/task"
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [] }
    let ticks = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
    return tids.compactMap(Int.init).sorted().compactMap { tid in
      let directory = "\(base)/\(tid)"
      guard let stat = read(directory + "/stat") else { return nil }
      let name = read(directory + "/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
      let wchan = read(directory + "/wchan").map { $0.isEmpty || $0 == "0" ? "-" : $0 } ?? "?"
      guard let fields = parse(stat) else { return nil }
      let cpu = String(format: "%.2f", Double(fields.utime + fields.stime) / ticks)
      return "\(name) \(fields.state) cpu=\(cpu)s wchan=\(wchan)"
    }
  }

  /// State and user/system ticks from a `stat` line (fields after the
  /// parenthesised command, which may itself hold spaces and parentheses).
  static func parse(_ stat: String) -> (state: String, utime: Int, stime: Int)? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    let rest = stat[stat.index(after: close)...].split(separator: " ")
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    guard rest.count > 12, let utime = Int(rest[11]), let stime = Int(rest[12]) else { return nil }
    return (String(rest[0]), utime, stime)
  }

  private static func read(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: data, as: UTF8.self)
  }
}
