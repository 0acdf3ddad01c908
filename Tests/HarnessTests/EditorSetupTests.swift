import Foundation
import Harness
import Testing

/// `runner editor-setup`: compile_commands.json for the guests of one
/// architecture, whose every command type-checks against the built modules.
@Suite("Editor setup", .serialized)
struct EditorSetupTests {
  struct Entry: Decodable {
    var directory: String
    var file: String
    var arguments: [String]
  }

  @Test(arguments: Architecture.allCases)
  func everyCommandOfTheCompilationDatabaseTypeChecks(architecture: Architecture) async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let result = try await EditorSetup.commands(builder: builder, architecture: architecture)
    let data = try EditorSetup.compilationDatabase(result.commands, directory: workspace.root)
    let entries = try JSONDecoder().decode([Entry].self, from: data)

    // Every guest source of the architecture has an entry, with absolute paths.
    let files = Set(entries.map(\.file))
    let modules = Set(result.commands.map(\.module))
    #expect(
      modules.isSuperset(of: [
        "GuestLib", "GuestArch", "selftest", "core_semantics", "alloc", "failing",
      ]))
    #expect(files.contains(workspace.root + "/guests/lib/Testing/GuestRun.swift"))
    #expect(
      files.contains(
        workspace.root + "/guests/arch/\(architecture.runtimeDirectory)/Platform.swift"))
    #expect(files.contains(workspace.root + "/guests/tests/selftest/Selftest.swift"))
    #expect(entries.allSatisfy { $0.directory == workspace.root && $0.file.hasPrefix("/") })
    #expect(entries.allSatisfy { $0.arguments.first == builder.toolchain.swiftc })
    // Arch-only tests are traits (`.requires(arch:)`) with `#if arch`
    // bodies, so every program compiles for every architecture and none is
    // left out.
    #expect(modules.isSuperset(of: ["crash_ap", "crash_s390x_cpu"]))
    #expect(result.leftOut.isEmpty, "\(result.leftOut)")

    // Each distinct command type-checks: its -I paths are the built modules.
    var commands: [[String]: GuestCompileCommand] = [:]
    for entry in entries {
      let command = try #require(result.commands.first { $0.arguments == entry.arguments })
      commands[entry.arguments] = command
    }
    #expect(commands.count == result.commands.count)
    for command in commands.values {
      let failure = try await EditorSetup.typecheckFailure(command, in: workspace.root)
      #expect(failure == nil, "\(command.module): \(failure ?? "")")
    }
  }

  @Test func typecheckVariantDropsOutputsOnly() {
    let command = GuestCompileCommand(
      module: "GuestLib", files: ["/a.swift"],
      arguments: [
        "/swiftc", "-Osize", "-module-name", "GuestLib", "-emit-module", "-emit-module-path",
        "/out/GuestLib.swiftmodule", "-c", "-o", "/out/GuestLib.o", "/a.swift",
      ])
    #expect(
      command.typecheckArguments == [
        "/swiftc", "-Osize", "-module-name", "GuestLib", "/a.swift", "-typecheck",
      ])
  }

  @Test func aBrokenProgramFailsTheTypeCheck() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    try TestSupport.append(
      "let broken: UInt8 = \"text\"", to: workspace.root + "/guests/tests/selftest/Selftest.swift")
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let result = try await EditorSetup.commands(builder: builder, architecture: .x86_64)
    let selftest = try #require(result.commands.first { $0.module == "selftest" })
    let failure = try await EditorSetup.typecheckFailure(selftest, in: workspace.root)
    #expect(failure?.contains("Selftest.swift") == true, "\(failure ?? "passed")")
  }
}
