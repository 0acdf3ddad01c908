import Foundation
import Testing

@testable import Harness

/// The commit a run records, read from .git without git.
@Suite struct RunMetadataTests {
  func write(_ text: String, _ path: String) throws {
    try FileManager.default.createDirectory(
      atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
      withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }

  @Test func headOfACheckoutAndOfALinkedWorktree() throws {
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("git-head-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let main = String(repeating: "a", count: 40)
    let packed = String(repeating: "b", count: 40)
    try write("ref: refs/heads/main\n", root + "/repo/.git/HEAD")
    try write(main + "\n", root + "/repo/.git/refs/heads/main")
    try write("# pack-refs\n\(packed) refs/heads/wip\n", root + "/repo/.git/packed-refs")
    #expect(RunMetadata.gitHead(root + "/repo") == main)
    // A worktree: .git is a file; its branch is only in the common directory.
    try write("gitdir: \(root)/repo/.git/worktrees/wt\n", root + "/wt/.git")
    try write("ref: refs/heads/wip\n", root + "/repo/.git/worktrees/wt/HEAD")
    try write("../..\n", root + "/repo/.git/worktrees/wt/commondir")
    #expect(RunMetadata.gitHead(root + "/wt") == packed)
    try write(main + "\n", root + "/repo/.git/refs/heads/wip")
    #expect(RunMetadata.gitHead(root + "/wt") == main)
    #expect(RunMetadata.gitHead(root + "/nothing") == nil)
  }
}
