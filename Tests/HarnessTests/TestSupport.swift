import Foundation
import Harness

/// The package's guest runner, shared by the tests of this target.
enum TestSupport {
  static let runner: GuestRunner = {
    let workspace = try! GuestWorkspace.locate(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  /// Processes of process group `group` that are alive (not zombies: an
  /// orphaned zombie is dead, waiting for a late-reaping PID 1).
  static func livingMembers(ofGroup group: Int32) -> [Int32] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return names.compactMap { name -> Int32? in
      guard let pid = Int32(name),
        let data = FileManager.default.contents(atPath: "/proc/\(name)/stat")
      else { return nil }
      let stat = String(decoding: data, as: UTF8.self)
      guard let close = stat.lastIndex(of: ")") else { return nil }
      // Fields after the command: state, ppid, pgrp, ...
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 2, fields[0] != "Z", Int32(fields[2]) == group else { return nil }
      return pid
    }
  }

  /// A private copy of the workspace's guests/ and configs/ in a new
  /// temporary directory (its own payload cache under .build/guests), so a
  /// test can edit guest sources; remove the directory when done.
  static func scratchWorkspace() throws -> GuestWorkspace {
    let real = runner.builder.workspace.root
    let scratch = FileManager.default.temporaryDirectory
      .appendingPathComponent("guest-builder-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    for directory in ["guests", "configs"] {
      try FileManager.default.copyItem(atPath: real + "/" + directory, toPath: scratch + "/" + directory)
    }
    return try GuestWorkspace(root: scratch)
  }

  /// Appends `line` to the file at `path`.
  static func append(_ line: String, to path: String) throws {
    try (String(contentsOfFile: path, encoding: .utf8) + line + "\n")
      .write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// The 1-based lines of `path` containing `marker`.
  /// The first line of `qemu --version` (the binary on PATH).
  static func qemuVersionLine(_ name: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name, "--version"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
  }

  static func lines(in path: String, containing marker: String) throws -> [Int] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      .filter { $0.element.contains(marker) }.map { $0.offset + 1 }
  }
}
