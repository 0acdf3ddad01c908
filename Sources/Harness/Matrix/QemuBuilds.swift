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
/// binary is the same file (device, inode, size, modification and change
/// times: a rebuilt or replaced QEMU is asked again).
///
/// With `persist(in:)` the answers are also kept in a file
/// (`qemu-versions.json` in the guest cache, `.build/guests`), so that a
/// runner does not start every binary once per process: `--version` costs
/// 15-20 ms, a sixth of a whole TCG run of the selftest.
public final class QemuVersions: Sendable {
  /// The process-wide cache.
  public static let shared = QemuVersions()

  /// The file name of the persisted cache in its directory.
  public static let fileName = "qemu-versions.json"

  /// What identifies one version of a binary's file.
  struct Stamp: Codable, Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedNanoseconds: Int64
    var changedNanoseconds: Int64
  }

  /// One answer and the file it came from.
  struct Entry: Codable, Equatable {
    var stamp: Stamp
    var firstLine: String
  }

  private struct State {
    var entries: [String: Entry] = [:]
    var file: String?
  }

  private let state = Mutex(State())

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

  /// The identity of the file at `path` now (following symbolic links).
  static func stamp(_ path: String) -> Stamp? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    func nanoseconds(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }
    return Stamp(
      device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
      modifiedNanoseconds: nanoseconds(info.st_mtim), changedNanoseconds: nanoseconds(info.st_ctim))
  }

  /// Keeps the answers in `directory`/`fileName` from now on, after taking
  /// in what the file holds (an unreadable or malformed file is ignored:
  /// its binaries are asked again, and it is rewritten on the next answer).
  public func persist(in directory: String) {
    let file = directory + "/" + Self.fileName
    let stored =
      (try? Data(contentsOf: URL(fileURLWithPath: file))).flatMap {
        try? JSONDecoder().decode([String: Entry].self, from: $0)
      } ?? [:]
    state.withLock { state in
      state.file = file
      state.entries.merge(stored) { current, _ in current }
    }
  }

  /// Keeps `firstLine` as the `--version` answer of the binary at `path`
  /// (as it is now), and in the persisted file if there is one (written
  /// whole to a temporary file and renamed over it: a concurrent runner
  /// reads the old or the new file, never a torn one; the last writer's
  /// entries win). Answers about binaries that are gone or changed are
  /// dropped then: they would never be used again.
  public func record(_ firstLine: String, for path: String) {
    guard let stamp = Self.stamp(path) else { return }
    let (file, entries) = state.withLock { state in
      state.entries[path] = Entry(stamp: stamp, firstLine: firstLine)
      state.entries = state.entries.filter { Self.stamp($0.key) == $0.value.stamp }
      return (state.file, state.entries)
    }
    guard let file else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    guard let data = try? encoder.encode(entries) else { return }
    let directory = (file as NSString).deletingLastPathComponent
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try? data.write(to: URL(fileURLWithPath: file), options: .atomic)
  }

  /// The `--version` first line recorded for the binary at `path`, when it
  /// is still the same file.
  public func firstLine(of path: String) -> String? {
    guard let entry = state.withLock({ $0.entries[path] }), let stamp = Self.stamp(path),
      entry.stamp == stamp
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
