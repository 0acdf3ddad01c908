import Foundation
import Synchronization

/// The `qemu` axis: which QEMU binary each cell runs on. `system` is the
/// `qemu-system-<arch>` on PATH; any other name is a build whose location
/// comes from `qemu_builds = NAME=LOCATION` in the config or
/// `--qemu NAME=LOCATION` on the command line. A location is a QEMU build
/// directory (holding `qemu-system-<arch>`, as QEMU's own build tree does)
/// or a binary path in which `{arch}` stands for the architecture.
public enum QemuBuilds {
  /// The binary of build `name` at `location` for `architecture`.
  public static func binary(at location: String, for architecture: Architecture) -> String {
    if location.contains("{arch}") {
      return location.replacingOccurrences(of: "{arch}", with: architecture.rawValue)
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: location, isDirectory: &isDirectory), isDirectory.boolValue {
      return location + "/" + architecture.qemuBinary
    }
    return location
  }

  /// `cells` with every build named in `extra` added to each cell's axis,
  /// and each cell's `qemuPath` resolved (`extra` overrides the config's
  /// locations). A build without a location, or whose binary does not
  /// exist or is not executable, is an error naming the build and path.
  public static func resolve(_ cells: [MatrixCell], adding extra: [(name: String, location: String)])
    throws -> [MatrixCell]
  {
    var result: [MatrixCell] = []
    for cell in cells {
      result.append(cell)
      guard cell.settings.qemuBuild == LaunchSettings.systemQemu else { continue }
      for build in extra {
        var copy = cell
        copy.settings.qemuBuild = build.name
        if !cells.contains(where: { $0.id == copy.id }) { result.append(copy) }
      }
    }
    let overrides = Dictionary(extra.map { ($0.name, $0.location) }, uniquingKeysWith: { _, last in last })
    for index in result.indices where result[index].settings.qemuBuild != LaunchSettings.systemQemu {
      let name = result[index].settings.qemuBuild
      guard let location = overrides[name] ?? result[index].qemuLocation else {
        throw HarnessError.qemuBuild(
          "QEMU build '\(name)' (cell \(result[index].id)) has no location: add '\(name)=DIR' to qemu_builds in [defaults], or pass --qemu \(name)=DIR")
      }
      let path = binary(at: location, for: result[index].settings.architecture)
      guard FileManager.default.isExecutableFile(atPath: path) else {
        throw HarnessError.qemuBuild(
          "QEMU build '\(name)': \(path) is not an executable file (from location \(location))")
      }
      result[index].qemuLocation = location
      result[index].settings.qemuPath = path
    }
    return result
  }

  /// Runs `--version` of every distinct binary of `cells` and checks that
  /// it is a QEMU; returns path → first line of its version. A binary that
  /// already answered (same path, size and modification time:
  /// `QemuVersions`) is not run again; every answer is kept there, so that
  /// guests get `harness.qemu=MAJOR.MINOR.MICRO`.
  public static func verify(_ cells: [MatrixCell]) async throws -> [String: String] {
    var versions: [String: String] = [:]
    for cell in cells {
      let path = cell.settings.qemuExecutable
      guard versions[path] == nil else { continue }
      guard let resolved = ExecutableSearch.resolve(path) else {
        throw HarnessError.qemuBuild("\(path) is not on PATH (install QEMU: scripts/setup.sh)")
      }
      if let known = QemuVersions.shared.firstLine(of: resolved) {
        versions[path] = known
        continue
      }
      let outcome: ToolRunner.Outcome
      do {
        outcome = try await ToolRunner.run(resolved, ["--version"])
      } catch {
        throw HarnessError.qemuBuild("QEMU build '\(cell.settings.qemuBuild)': cannot run \(resolved): \(error)")
      }
      let first = outcome.output.split(separator: "\n").first.map(String.init) ?? ""
      guard outcome.exitCode == 0, first.hasPrefix("QEMU emulator version") else {
        throw HarnessError.qemuBuild(
          "QEMU build '\(cell.settings.qemuBuild)': \(resolved) is not a QEMU (its --version said: \(first.isEmpty ? "nothing" : first))")
      }
      versions[path] = first
      QemuVersions.shared.record(first, for: resolved)
    }
    return versions
  }
}

/// The versions of QEMU binaries as their `--version` reported them
/// (`QemuBuilds.verify`), by resolved path; an entry holds while the
/// binary's size and modification time are those it had when it answered
/// (a rebuilt QEMU is asked again).
public final class QemuVersions: Sendable {
  /// The process-wide cache.
  public static let shared = QemuVersions()

  private struct Entry {
    var size: UInt64
    var modified: Date
    var firstLine: String
  }

  private let entries = Mutex<[String: Entry]>([:])

  /// An empty cache.
  public init() {}

  /// `MAJOR.MINOR.MICRO` from the first line of `--version` (`QEMU emulator
  /// version 7.2.22 (Debian 1:7.2+dfsg-7)` → `7.2.22`; `8.0` → `8.0.0`);
  /// nil when it names no version.
  public static func version(fromFirstLine line: String) -> String? {
    let marker = "QEMU emulator version "
    guard let range = line.range(of: marker) else { return nil }
    let word = line[range.upperBound...].prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
    let parts = word.split(separator: ".", omittingEmptySubsequences: false)
    guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.count <= 4 }) else {
      return nil
    }
    return (parts.map(String.init) + (parts.count == 2 ? ["0"] : [])).joined(separator: ".")
  }

  /// The size and modification time of the file at `path`.
  private static func stamp(_ path: String) -> (UInt64, Date)? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
      let size = (attributes[.size] as? NSNumber)?.uint64Value,
      let modified = attributes[.modificationDate] as? Date
    else { return nil }
    return (size, modified)
  }

  /// Keeps `firstLine` as the `--version` answer of the binary at `path`
  /// (as it is now).
  public func record(_ firstLine: String, for path: String) {
    guard let (size, modified) = Self.stamp(path) else { return }
    entries.withLock { $0[path] = Entry(size: size, modified: modified, firstLine: firstLine) }
  }

  /// The `--version` first line recorded for the binary at `path`, when it
  /// is still the same file (size and modification time).
  public func firstLine(of path: String) -> String? {
    guard let entry = entries.withLock({ $0[path] }), let (size, modified) = Self.stamp(path),
      entry.size == size, entry.modified == modified
    else { return nil }
    return entry.firstLine
  }

  /// `MAJOR.MINOR.MICRO` of `executable` (a path, or a name looked up on
  /// PATH) when its `--version` was recorded and it is still the same file;
  /// nil otherwise (never a guess).
  public func version(of executable: String) -> String? {
    guard let path = ExecutableSearch.resolve(executable), let line = firstLine(of: path) else {
      return nil
    }
    return Self.version(fromFirstLine: line)
  }
}
