import Foundation
import Harness
import Testing

/// s390x guests: the payload builder's minimal core module, a boot of the
/// selftest under TCG, and a crash reported as CRASH with its record.
@Suite("s390x guests", .serialized)
struct S390xTests {
  func boot(_ name: String, cpus: Int = 1, memoryMiB: Int = 256) async throws -> GuestResult {
    let runner = TestSupport.runner
    let program = try runner.builder.workspace.program(named: name)
    return try await runner.run(
      program,
      settings: LaunchSettings(
        architecture: .s390x, accelerator: .tcg, cpus: cpus, memoryMiB: memoryMiB,
        timeout: .seconds(60)))
  }

  @Test func builderUsesCoreModuleWhenToolchainLacksS390xStdlib() throws {
    let builder = TestSupport.runner.builder
    #expect(builder.usesCoreModule(for: .s390x) == !builder.toolchain.hasEmbeddedStdlib(for: .s390x))
    #expect(!builder.usesCoreModule(for: .x86_64))
  }

  @Test func selftestPassesUnderTCG() async throws {
    let result = try await boot("selftest")
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.checks.filter { $0.outcome == .failed }.isEmpty)
    #expect(result.checks.count == 22)
    #expect(result.serialLog.contains("# EXIT: STATUS=0"))
  }

  @Test func payloadIsABigEndianS390xELF() async throws {
    let builder = TestSupport.runner.builder
    let payload = try await builder.build(
      try builder.workspace.program(named: "selftest"), for: .s390x)
    let data = try #require(FileManager.default.contents(atPath: payload.bootImage))
    #expect(data.count > 0x1000)
    #expect(Array(data.prefix(4)) == [0x7F, 0x45, 0x4C, 0x46])
    #expect(data[5] == 2, "ELFDATA2MSB")
    #expect(data[18] == 0 && data[19] == 22, "EM_S390")
    // Entry point 0x10000: QEMU starts Linux-style kernels there and copies
    // the command line into the image at 0x10480.
    let entry = data[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    #expect(entry == 0x10000)
  }

  @Test func unexpectedProgramCheckIsCrashWithRecord() async throws {
    // guests/negative/crash stores to 256 GiB: beyond RAM, so on s390x
    // (DAT off) an addressing exception.
    let result = try await boot("crash")
    #expect(result.verdict == .crashed)
    #expect(result.crash?.fields["vector"] == "5")
    #expect(result.crash?.fields["name"] == "addressing")
    #expect(result.crash?.fields["cpu"] == "0")
    #expect(result.crash?.fields["psw"] != nil)
    #expect(result.serialLog.contains("# EXIT: STATUS=2"))
    // The PSW points past the 6-byte store (ILC 3); `ip` is the store, and
    // it is symbolized to the guest's source line like an x86 crash.
    let psw = try #require(result.crash?.fields["psw"].flatMap { UInt64($0.dropFirst(2), radix: 16) })
    let ip = try #require(result.crash?.fields["ip"].flatMap { UInt64($0.dropFirst(2), radix: 16) })
    #expect(result.crash?.fields["ilc"] == "3")
    #expect(psw - ip == 6)
    let source = try TestSupport.runner.builder.workspace.program(named: "crash").directory + "/Crash.swift"
    let faultLine = try #require(try TestSupport.lines(in: source, containing: "unmapped.pointee =").first)
    #expect(result.crash?.location?.file == "guests/negative/crash/Crash.swift")
    #expect(result.crash?.location?.line == faultLine)
    #expect(result.reason.contains("guests/negative/crash/Crash.swift:\(faultLine)"), "\(result.reason)")
    #expect(result.checks.filter { $0.outcome == .passed }.count == 1)
    // The crash path ends in a disabled wait: a guest panic for QEMU.
    #expect(result.qemuExitCode == 1)
  }

  @Test func programCheckOnSecondCPUNamesThatCPU() async throws {
    let result = try await boot("crash_s390x_cpu", cpus: 2)
    #expect(result.verdict == .crashed)
    #expect(result.crash?.fields["cpu"] == "1")
    #expect(result.crash?.fields["vector"] == "1")
    #expect(result.crash?.fields["name"] == "operation")
    #expect(result.qemuExitCode == 1)
  }

  @Test func everyCPUStartsWithALowcoreBelow2GiB() async throws {
    let result = try await boot("smp_s390x", cpus: 4, memoryMiB: 4096)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.serialLog.contains("# CPU address 3"))
    #expect(result.checks.contains { $0.name == "every lowcore lies below 2 GiB" && $0.outcome == .passed })
    #expect(
      result.checks.contains {
        $0.name == "a lowcore is never taken from NORMAL, even with LOW fragmented" && $0.outcome == .passed
      })
  }
}
