import Foundation

/// CPUs and memory: what the host offers, or what one cell needs.
public struct HostResources: Sendable, Hashable, CustomStringConvertible {
  /// Logical CPUs (virtual CPUs for a cell).
  public var cpus: Int
  /// Memory in MiB.
  public var memoryMiB: Int

  /// Resources of the given size.
  public init(cpus: Int, memoryMiB: Int) {
    self.cpus = cpus
    self.memoryMiB = memoryMiB
  }

  /// What a matrix cell occupies while it runs: its virtual CPUs and its
  /// guest RAM as declared (a 4-vCPU, 8 GiB cell counts as 4 CPUs and
  /// 8192 MiB, whether or not the guest touches the memory).
  public init(cell: MatrixCell) {
    self.init(cpus: cell.settings.cpus, memoryMiB: cell.settings.memoryMiB)
  }

  /// The host's free resources now: the CPUs this process may run on and
  /// `MemAvailable` from `/proc/meminfo`.
  public static func available() -> HostResources {
    let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
    let memory = memAvailableMiB(meminfo: meminfo) ?? physicalMemoryMiB()
    return HostResources(cpus: onlineCPUs(), memoryMiB: memory)
  }

  /// `MemAvailable` in MiB from the text of `/proc/meminfo`.
  public static func memAvailableMiB(meminfo: String) -> Int? {
    for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let words = line.split(separator: " ")
      guard words.count >= 2, let kibibytes = Int(words[1]) else { return nil }
      return kibibytes / 1024
    }
    return nil
  }

  /// CPUs this process may use (Foundation honours the affinity mask and
  /// cgroup CPU quota on Linux).
  static func onlineCPUs() -> Int {
    max(1, ProcessInfo.processInfo.activeProcessorCount)
  }

  static func physicalMemoryMiB() -> Int {
    Int(ProcessInfo.processInfo.physicalMemory / (1 << 20))
  }

  public var description: String {
    "\(cpus) CPU\(cpus == 1 ? "" : "s"), \(MatrixCell.memoryLabel(memoryMiB)) memory"
  }
}
