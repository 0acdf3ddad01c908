import Foundation
import Harness
import LibvirtBackend
import Testing

/// A reset the guest asks for, through libvirt (the monitor passthrough):
/// the run spans it as on bare QEMU, and a reset the guest then makes by
/// itself still ends the domain (`on_reboot` destroy), never a pass.
extension LibvirtDaemonSuites {
  @Suite("Machine reset through libvirt", .serialized)
  struct LibvirtResetTests {
    static let runner: GuestRunner = {
      let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
      let workspace = try! GuestWorkspace.locate(from: here)
      return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
    }()

    func boot(_ guest: String, _ architecture: Architecture, cpus: Int = 1) async throws -> GuestResult {
      var runner = Self.runner
      runner.launcher = try LibvirtPool(connections: [try await LibvirtTestDaemon.connect()])
      var settings = LaunchSettings(
        architecture: architecture, accelerator: .tcg, cpus: cpus, timeout: .seconds(60))
      settings.reset = true
      return try await runner.run(try runner.builder.workspace.program(named: guest), settings: settings)
    }

    @Test(arguments: Architecture.allCases)
    func theGuestSeesAWarmResetAndTheRunSpansIt(architecture: Architecture) async throws {
      let result = try await boot("reset", architecture, cpus: architecture == .x86_64 ? 2 : 1)
      #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
      #expect(result.resets.map(\.number) == [1], "\(result.qemuStderr)")
      #expect(result.sections.map(\.name) == ["before", "warm reset", "after"])
      let lines = result.serialLog.split(separator: "\n")
      #expect(lines.filter { $0 == "KTAP version 1" }.count == 2, "one document before the reset, one after")
      #expect(lines.filter { $0.hasPrefix("# EXIT:") }.count == 1)
    }

    @Test(arguments: Architecture.allCases)
    func aResetTheGuestMakesByItselfAfterAnAskedOneEndsTheDomain(architecture: Architecture) async throws {
      // guests/negative/reset_unasked: asks, is reset, then resets unasked.
      let result = try await boot("reset_unasked", architecture)
      #expect(result.verdict == .crashed, "\(result.reason)\n\(result.serialLog)")
      #expect(result.reason.hasPrefix("guest stopped without an exit line"), "\(result.reason)")
      #expect(result.resets.map(\.number) == [1], "\(result.qemuStderr)")
      let lines = result.serialLog.split(separator: "\n")
      #expect(lines.filter { $0 == "KTAP version 1" }.count == 2, "no third document\n\(result.qemuStderr)")
      #expect(result.duration < .seconds(15), "\(result.duration)")
    }
  }
}
