import Foundation

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
  /// it is a QEMU; returns path → first line of its version.
  public static func verify(_ cells: [MatrixCell]) async throws -> [String: String] {
    var versions: [String: String] = [:]
    for cell in cells {
      let path = cell.settings.qemuExecutable
      guard versions[path] == nil else { continue }
      guard let resolved = ExecutableSearch.resolve(path) else {
        throw HarnessError.qemuBuild("\(path) is not on PATH (install QEMU: scripts/setup.sh)")
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
    }
    return versions
  }
}
