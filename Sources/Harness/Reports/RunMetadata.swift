import Foundation

/// What a run ran on: the QEMU binary and version per architecture, the host
/// kernel and its KVM modules, the project's commit and the date. Written
/// into results.json (`metadata`), the HTML header and every JUnit suite's
/// properties, so that two runs can be told apart and a diff explained.
public struct RunMetadata: Codable, Sendable, Equatable {
  /// One QEMU binary.
  public struct Qemu: Codable, Sendable, Equatable {
    /// Architecture it emulates.
    public var arch: String
    /// The build's name on the `qemu` axis (`system`: the one on PATH).
    public var build: String
    /// The binary's path (resolved through PATH).
    public var path: String
    /// The first line of `--version` (empty when it could not be run).
    public var version: String
  }

  /// ISO 8601 start of the run (UTC).
  public var started: String
  /// The host's name.
  public var hostname: String
  /// `uname -r`.
  public var kernel: String
  /// KVM modules loaded on the host (from /sys/module), e.g. `kvm, kvm_intel`.
  public var kvmModules: [String]
  /// The project's git commit (HEAD), when the workspace is a checkout.
  public var commit: String?
  /// The QEMU binaries of the architectures the run used.
  public var qemu: [Qemu]

  /// The metadata of a run of `cells` starting now on this host;
  /// `versions` maps each QEMU binary to its `--version` line
  /// (`QemuBuilds.verify`).
  public static func collect(cells: [MatrixCell], versions: [String: String], workspaceRoot: String?)
    -> RunMetadata
  {
    var name = utsname()
    uname(&name)
    let kernel = withUnsafeBytes(of: &name.release) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    let modules = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/module")) ?? [])
      .filter { $0 == "kvm" || $0.hasPrefix("kvm_") }.sorted()
    var qemu: [Qemu] = []
    for cell in cells {
      let settings = cell.settings
      guard !qemu.contains(where: { $0.arch == settings.architecture.rawValue && $0.build == settings.qemuBuild })
      else { continue }
      let executable = settings.qemuExecutable
      let path = ExecutableSearch.resolve(executable) ?? executable
      qemu.append(
        Qemu(
          arch: settings.architecture.rawValue, build: settings.qemuBuild, path: path,
          version: versions[executable] ?? ""))
    }
    return RunMetadata(
      started: ReportText.utcTimestamp(Date()),
      hostname: ProcessInfo.processInfo.hostName, kernel: kernel, kvmModules: modules,
      commit: workspaceRoot.flatMap(Self.gitHead), qemu: qemu)
  }

  /// HEAD's commit of the checkout at `root`, read from .git (no git needed).
  /// In a linked worktree `.git` is a file naming the worktree's git
  /// directory (`gitdir: …`), which holds HEAD; branches live in the common
  /// directory its `commondir` names.
  static func gitHead(_ root: String) -> String? {
    func read(_ path: String) -> String? {
      (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    var gitDirectory = root + "/.git"
    var commonDirectory = gitDirectory
    if let link = read(gitDirectory), link.hasPrefix("gitdir: ") {
      let target = String(link.dropFirst(8))
      gitDirectory = target.hasPrefix("/") ? target : root + "/" + target
      commonDirectory = read(gitDirectory + "/commondir").map {
        $0.hasPrefix("/") ? $0 : gitDirectory + "/" + $0
      } ?? gitDirectory
    }
    guard let head = read(gitDirectory + "/HEAD") else { return nil }
    guard head.hasPrefix("ref: ") else { return head }
    let ref = String(head.dropFirst(5))
    if let commit = read(gitDirectory + "/" + ref) ?? read(commonDirectory + "/" + ref) {
      return commit
    }
    // Packed refs: `<sha> <ref>` lines.
    return read(commonDirectory + "/packed-refs")?.split(separator: "\n")
      .first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(40)) }
  }

  /// `name: value` pairs for JUnit properties and the HTML header.
  public var properties: [(String, String)] {
    var pairs: [(String, String)] = [
      ("run.started", started), ("host.name", hostname), ("host.kernel", kernel),
      ("host.kvm", kvmModules.isEmpty ? "none" : kvmModules.joined(separator: ", ")),
    ]
    if let commit { pairs.append(("commit", commit)) }
    for binary in qemu {
      let suffix = binary.build == LaunchSettings.systemQemu ? "" : ".\(binary.build)"
      pairs.append(("qemu.\(binary.arch)\(suffix)", "\(binary.path) (\(binary.version))"))
    }
    return pairs
  }
}
