import Foundation
import Harness
import Testing

@Suite("Payload builder", .serialized)
struct PayloadBuilderTests {
  /// A private copy of guests/ and configs/ with its own cache.
  func scratchWorkspace() throws -> (GuestWorkspace, String) {
    let workspace = try TestSupport.scratchWorkspace()
    return (workspace, workspace.root)
  }

  @Test func secondBuildOfUnchangedGuestIsCachedAndEditRebuilds() async throws {
    let (workspace, scratch) = try scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let program = try workspace.program(named: "selftest")
    let first = try await builder.build(program, for: .x86_64)
    #expect(!first.cached)
    #expect(first.bootImageSize > 0)
    let clock = ContinuousClock()
    var second: Payload?
    let elapsed = try await clock.measure { second = try await builder.build(program, for: .x86_64) }
    #expect(second?.cached == true)
    #expect(second?.bootImage == first.bootImage)
    print("cached build of selftest: \(elapsed)")
    // Any change to an input is a new payload.
    let file = program.directory + "/Selftest.swift"
    try (String(contentsOfFile: file, encoding: .utf8) + "\n// edited\n")
      .write(toFile: file, atomically: true, encoding: .utf8)
    let third = try await builder.build(program, for: .x86_64)
    #expect(!third.cached)
    #expect(third.bootImage != first.bootImage)
  }

  @Test func compileErrorNamesGuestFileAndLine() async throws {
    let (workspace, scratch) = try scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let directory = scratch + "/guests/tests/broken"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try "import GuestLib\n\nfunc guestMain() {\n  plan(\"broken\", sections: 1)\n  let x: UInt8 = \"text\"\n}\n"
      .write(toFile: directory + "/Broken.swift", atomically: true, encoding: .utf8)
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let program = try workspace.program(named: "broken")
    await #expect {
      _ = try await builder.build(program, for: .x86_64)
    } throws: { error in
      guard case HarnessError.buildFailed(let guest, let step, _, let output) = error else {
        return false
      }
      return guest == "broken" && step == "swiftc" && output.contains("Broken.swift:5:")
    }
  }

  @Test func guestNameMustBeIdentifier() async throws {
    let (workspace, scratch) = try scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let directory = scratch + "/guests/tests/bad-name"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try "func guestMain() {}\n".write(
      toFile: directory + "/Bad.swift", atomically: true, encoding: .utf8)
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    await #expect(throws: HarnessError.self) {
      _ = try await builder.build(try workspace.program(named: "bad-name"), for: .x86_64)
    }
  }
}
