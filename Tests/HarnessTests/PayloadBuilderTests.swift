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

  @Test func programAssemblyIsLinkedPerArchitectureAndKeysTheCache() async throws {
    let (workspace, scratch) = try scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let directory = scratch + "/guests/tests/stubs"
    try FileManager.default.createDirectory(
      atPath: directory + "/x86_64", withIntermediateDirectories: true)
    try """
      import GuestLib

      #if arch(x86_64)
        @_extern(c, "stub_answer") func stubAnswer() -> UInt64
      #else
        func stubAnswer() -> UInt64 { 42 }
      #endif

      let guestTests = [Test("answer", answer)]

      func answer() { expectEqual(stubAnswer(), 42) }

      """.write(toFile: directory + "/Stubs.swift", atomically: true, encoding: .utf8)
    let stub = directory + "/x86_64/Stub.S"
    let text = "  .text\n  .globl stub_answer\nstub_answer:\n  movq $42, %rax\n  ret\n"
    try text.write(toFile: stub, atomically: true, encoding: .utf8)
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let program = try workspace.program(named: "stubs")
    #expect(builder.programAssemblySources(program, .x86_64) == [stub])
    #expect(builder.programAssemblySources(program, .s390x).isEmpty)
    let first = try await builder.build(program, for: .x86_64)
    #expect(builder.log.steps.contains { $0.guest == "stubs" && $0.step == "clang (Stub.S)" })
    // The stub is in the linked ELF (an undefined symbol would have failed the link).
    let symbols = try String(contentsOfFile: first.elf, encoding: .isoLatin1)
    #expect(symbols.contains("stub_answer"))
    // The assembly is part of the payload's key.
    try (text + "  nop\n").write(toFile: stub, atomically: true, encoding: .utf8)
    let second = try await builder.build(program, for: .x86_64)
    #expect(!second.cached)
    #expect(second.elf != first.elf)
    // An assembler error names the file and line.
    try (text + "  notaninstruction %rax\n").write(toFile: stub, atomically: true, encoding: .utf8)
    await #expect {
      _ = try await builder.build(program, for: .x86_64)
    } throws: { error in
      guard case HarnessError.buildFailed(let guest, let step, _, let output) = error else {
        return false
      }
      return guest == "stubs" && step == "clang (Stub.S)" && output.contains("Stub.S:6:")
    }
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
