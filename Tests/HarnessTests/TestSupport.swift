import Foundation
import Harness

/// The package's guest runner, shared by the tests of this target.
enum TestSupport {
  static let runner: GuestRunner = {
    let workspace = try! GuestWorkspace.locate(from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  /// The 1-based lines of `path` containing `marker`.
  static func lines(in path: String, containing marker: String) throws -> [Int] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      .filter { $0.element.contains(marker) }.map { $0.offset + 1 }
  }
}
