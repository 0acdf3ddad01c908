import Foundation
import Harness
import Testing

/// Guests are built from modules compiled once per architecture (GuestLib,
/// GuestArch, and the minimal core on s390x): what a build compiles, seen
/// through the builder's log and its cache directory, on private copies of
/// the workspace (real swiftc, clang and ld.lld).
@Suite("Guest modules", .serialized)
struct GuestModuleTests {
  /// The swiftc steps `log` recorded, as (step, guest) for `architecture`.
  func compiles(_ log: BuildLog, _ architecture: Architecture) -> [String] {
    log.steps.filter { $0.architecture == architecture && $0.step.hasPrefix("swiftc") }
      .map { $0.step == "swiftc" ? "swiftc \($0.guest)" : $0.step }.sorted()
  }

  /// Cache directories of `module` for `architecture`.
  func moduleDirectories(_ builder: PayloadBuilder, _ module: String, _ architecture: Architecture)
    -> [String]
  {
    let directory = "\(builder.cacheDirectory)/modules/\(architecture)"
    return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
      .filter { $0.hasPrefix(module + "-") && !$0.contains(".tmp-") }.sorted()
  }

  @Test func twoProgramsBuiltAtOnceCompileEachModuleOncePerArchitecture() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let selftest = try workspace.program(named: "selftest")
    let core = try workspace.program(named: "core_semantics")
    // Four payloads at once: each architecture's modules are needed by two.
    async let a = builder.build(selftest, for: .x86_64)
    async let b = builder.build(core, for: .x86_64)
    async let c = builder.build(selftest, for: .s390x)
    async let d = builder.build(core, for: .s390x)
    let payloads = try await [a, b, c, d]
    #expect(payloads.allSatisfy { !$0.cached && $0.bootImageSize > 0 })
    #expect(
      compiles(builder.log, .x86_64) == [
        "swiftc (GuestArch)", "swiftc (GuestLib)", "swiftc core_semantics", "swiftc selftest",
      ])
    var s390x = [
      "swiftc (GuestArch)", "swiftc (GuestLib)", "swiftc core_semantics", "swiftc selftest",
    ]
    if builder.usesCoreModule(for: .s390x) {
      s390x = (s390x + ["swiftc (core Synchronization)", "swiftc (core)"]).sorted()
    }
    #expect(compiles(builder.log, .s390x) == s390x)
    for architecture in Architecture.allCases {
      #expect(moduleDirectories(builder, "GuestLib", architecture).count == 1)
      #expect(moduleDirectories(builder, "GuestArch", architecture).count == 1)
    }
    // The program's module holds only the program; the rest is linked in.
    let runtime = try #require(
      moduleDirectories(builder, "GuestArch", .x86_64).first.map {
        "\(builder.cacheDirectory)/modules/x86_64/\($0)"
      })
    for file in ["GuestArch.swiftmodule", "GuestArch.o", "boot.S.o", "cpu.S.o"] {
      #expect(FileManager.default.fileExists(atPath: runtime + "/" + file), "\(file)")
    }
    #expect(
      payloads[0].sources["selftest/Selftest.swift"] == selftest.directory + "/Selftest.swift")
    #expect(
      payloads[0].sources["GuestLib/GuestRun.swift"] == workspace.root
        + "/guests/lib/Testing/GuestRun.swift")
    #expect(
      payloads[0].sources["GuestArch/Platform.swift"] == workspace.root
        + "/guests/arch/x86_64/Platform.swift")
  }

  @Test func editingAProgramFileRebuildsOnlyTheProgram() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let program = try workspace.program(named: "selftest")
    let first = try await builder.build(program, for: .x86_64)
    builder.log.clear()
    try TestSupport.append("// edited", to: program.directory + "/Selftest.swift")
    let second = try await builder.build(program, for: .x86_64)
    #expect(!second.cached)
    #expect(second.bootImage != first.bootImage)
    #expect(builder.log.steps.map(\.step) == ["swiftc", "ld.lld", "llvm-objcopy"])
    #expect(moduleDirectories(builder, "GuestLib", .x86_64).count == 1)
    #expect(moduleDirectories(builder, "GuestArch", .x86_64).count == 1)
    // Another program reuses the modules as they are.
    builder.log.clear()
    _ = try await builder.build(try workspace.program(named: "failing"), for: .x86_64)
    #expect(builder.log.steps.map(\.step) == ["swiftc", "ld.lld", "llvm-objcopy"])
  }

  @Test func editingTheLibraryRebuildsBothModulesAndTheRuntimeOnlyItself() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    let program = try workspace.program(named: "selftest")
    _ = try await builder.build(program, for: .x86_64)

    builder.log.clear()
    try TestSupport.append(
      "// edited", to: workspace.root + "/guests/lib/Runtime/BootArguments.swift")
    let afterLibrary = try await builder.build(program, for: .x86_64)
    #expect(!afterLibrary.cached)
    #expect(
      compiles(builder.log, .x86_64) == [
        "swiftc (GuestArch)", "swiftc (GuestLib)", "swiftc selftest",
      ])
    #expect(moduleDirectories(builder, "GuestLib", .x86_64).count == 2)
    #expect(moduleDirectories(builder, "GuestArch", .x86_64).count == 2)

    builder.log.clear()
    try TestSupport.append("// edited", to: workspace.root + "/guests/arch/x86_64/Serial.swift")
    _ = try await builder.build(program, for: .x86_64)
    #expect(compiles(builder.log, .x86_64) == ["swiftc (GuestArch)", "swiftc selftest"])
    #expect(builder.log.steps.contains { $0.step == "clang (boot.S)" })
    #expect(moduleDirectories(builder, "GuestLib", .x86_64).count == 2)
    #expect(moduleDirectories(builder, "GuestArch", .x86_64).count == 3)
  }

  @Test func compileErrorInTheLibraryNamesItsFileAndTheModuleStep() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let path = workspace.root + "/guests/lib/Runtime/BootArguments.swift"
    try TestSupport.append("let broken: UInt8 = \"text\"", to: path)
    let line = try TestSupport.lines(in: path, containing: "let broken").first ?? 0
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    await #expect {
      _ = try await builder.build(try workspace.program(named: "selftest"), for: .x86_64)
    } throws: { error in
      guard case HarnessError.buildFailed(let guest, let step, _, let output) = error else {
        return false
      }
      return guest == "selftest" && step == "swiftc (GuestLib)"
        && output.contains("BootArguments.swift:\(line):")
    }
    // Nothing half-built stays in the cache.
    #expect(moduleDirectories(builder, "GuestLib", .x86_64).isEmpty)
  }

  @Test func aProgramMayNotShadowTheGeneratedEntry() async throws {
    let workspace = try TestSupport.scratchWorkspace()
    defer { try? FileManager.default.removeItem(atPath: workspace.root) }
    let program = try workspace.program(named: "selftest")
    try "// mine\n".write(
      toFile: program.directory + "/" + GuestEntry.fileName, atomically: true, encoding: .utf8)
    let builder = PayloadBuilder(workspace: workspace, toolchain: try Toolchain.find())
    await #expect {
      _ = try await builder.build(program, for: .x86_64)
    } throws: { error in
      guard case HarnessError.layout(let message) = error else { return false }
      return message.contains(GuestEntry.fileName)
    }
    #expect(builder.log.steps.isEmpty)
  }

  @Test func generatedEntryCallsTheProgramThroughThePlatform() throws {
    let program = try TestSupport.runner.builder.workspace.program(named: "selftest")
    let source = GuestEntry.source(for: program)
    #expect(source.contains("@_cdecl(\"swiftguest_main\")"))
    #expect(source.contains("import GuestLib") && source.contains("import GuestArch"))
    #expect(source.contains("runGuestOnPlatform(named: \"selftest\") { guestTests }"))
    #expect(source.contains("`selftest`"))
  }
}
