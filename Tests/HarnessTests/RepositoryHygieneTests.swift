import Foundation
import Testing

/// Text files of the checkout carry no leftovers of a merge: a conflict
/// marker once shipped in the README.
@Suite("Repository hygiene")
struct RepositoryHygieneTests {
  @Test func noMergeConflictMarkers() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent().path
    var offenders: [String] = []
    let roots = ["README.md", "configs", "Sources", "Tests", "guests", "scripts", ".ci"]
    for top in roots {
      let path = root + "/" + top
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
      let files =
        isDirectory.boolValue
        ? (FileManager.default.subpaths(atPath: path) ?? []).map { path + "/" + $0 } : [path]
      for file in files {
        guard let data = FileManager.default.contents(atPath: file), data.count < 2 << 20,
          let text = String(data: data, encoding: .utf8)
        else { continue }
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.hasPrefix("<<<<<<< ") || line.hasPrefix(">>>>>>> ") {
          offenders.append("\(file.dropFirst(root.count + 1)):\(index + 1)")
        }
      }
    }
    #expect(offenders.isEmpty, "merge conflict markers: \(offenders)")
  }
}
