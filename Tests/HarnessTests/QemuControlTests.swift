import Foundation
import Testing

@testable import Harness

@Suite("QMP socket directories")
struct QemuControlTests {
  /// The pid of a process that has exited and been reaped.
  static func deadPID() throws -> Int32 {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/true")
    try child.run()
    child.waitUntilExit()
    return child.processIdentifier
  }

  /// Each harness process has a socket directory; one killed with SIGKILL
  /// cannot remove its own, so the next one removes the directories of
  /// processes that are gone — and nothing else.
  @Test func directoriesOfGoneProcessesAreRemovedAndNothingElse() throws {
    let temporary = FileManager.default.temporaryDirectory
      .appendingPathComponent("qmp-sweep-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: temporary) }
    let prefix = QemuControl.prefix
    let (dead, otherDead) = (try Self.deadPID(), try Self.deadPID())
    let stale = "\(temporary)/\(prefix)\(dead)"
    try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: stale + "/qmp-1.sock", contents: Data()))
    let kept = [
      "\(temporary)/\(prefix)\(getpid())",  // this process
      "\(temporary)/\(prefix)1",  // alive
      "\(temporary)/swiftguest-qmp-\(getuid() + 1)-\(otherDead)",  // another user's name
      "\(temporary)/\(prefix)x\(otherDead)",  // not a pid
    ]
    for path in kept { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    // A symbolic link with a gone process's name is never followed or removed.
    let target = "\(temporary)/target"
    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: target + "/keep", contents: Data()))
    let link = "\(temporary)/\(prefix)\(otherDead)"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)

    let removed = QemuControl.sweepStale(in: temporary)
    #expect(removed == [stale])
    #expect(!FileManager.default.fileExists(atPath: stale))
    for path in kept { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
    #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target)
    #expect(FileManager.default.fileExists(atPath: target + "/keep"))
  }
}
