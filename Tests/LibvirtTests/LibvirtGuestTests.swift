import Foundation
import Harness
import LibvirtBackend
import Testing

/// Guests booted through a real libvirtd (the tests' own, see
/// `LibvirtTestDaemon`): same payloads, protocol and verdicts as bare QEMU.
/// The suites that use real daemons run one after the other: starting and
/// stopping the second daemon while guests run on the first one was seen to
/// cut those guests short (not understood yet; see the session note).
@Suite("libvirt daemons", .serialized)
struct LibvirtDaemonSuites {}

extension LibvirtDaemonSuites {
@Suite("Guests through libvirt", .serialized)
struct LibvirtGuestTests {
  static var uri: String { LibvirtTestDaemon.uri }

  static let runner: GuestRunner = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    let workspace = try! GuestWorkspace.locate(from: here)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  func connect() async throws -> LibvirtConnection {
    do {
      return try await LibvirtTestDaemon.connect()
    } catch {
      Issue.record("libvirtd is not reachable at \(Self.uri) (run scripts/setup.sh): \(error)")
      throw error
    }
  }

  func boot(
    _ guest: String, architecture: Architecture = .x86_64, accelerator: Accelerator = .tcg,
    cpus: Int = 1, timeout: Duration = .seconds(60),
    outputLimit: Int = LaunchSettings.defaultOutputLimitBytes
  ) async throws -> (GuestResult, RunRecord, LibvirtConnection) {
    let connection = try await connect()
    let program = try Self.runner.builder.workspace.program(named: guest)
    let payload = try await Self.runner.builder.build(program, for: architecture)
    var settings = LaunchSettings(
      architecture: architecture, accelerator: accelerator, cpus: cpus, timeout: timeout,
      silenceTimeout: timeout)
    settings.outputLimitBytes = outputLimit
    let run = try await LibvirtLauncher.run(
      guest: guest, bootImage: payload.bootImage, settings: settings, connection: connection)
    let judgment = VerdictJudge.judge(run, CellExpectations(architecture: architecture))
    let result = GuestResult(
      guest: guest, architecture: architecture, accelerator: accelerator, verdict: judgment.verdict,
      reason: judgment.reason, sections: run.stream.sections, crash: run.stream.crash,
      protocolErrors: run.stream.protocolErrors, serialLog: run.serialLog, qemuStderr: run.stderr,
      command: run.command, qemuExitCode: nil, duration: run.duration, processID: nil)
    return (result, run, connection)
  }

  /// The domain name from the run's libvirt details.
  static func domainName(in run: RunRecord) -> String? { run.libvirt?.domain }

  @Test(arguments: Accelerator.allCases)
  func selftestPasses(accelerator: Accelerator) async throws {
    if accelerator == .kvm, let reason = KVMAvailability.unavailableReason(for: .x86_64) {
      try Test.cancel("KVM unavailable: \(reason)")
    }
    let (result, run, _) = try await boot("selftest", accelerator: accelerator)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.checks.count == 21)
    #expect(run.libvirt?.ending == .guest(.poweredOff), "ACPI power-off: \(run.stderr)")
    #expect(run.stderr.contains("the guest powered off (SHUTDOWN event)"), "the logs say so")
    #expect(run.machineEnd == .poweredOff, "\(run.stderr)")
    #expect(!run.interrupted)
    #expect(!run.stderr.contains("the stream alone decides"), "QEMU's console log was read: \(run.stderr)")
  }

  @Test(arguments: ["selftest", "alloc", "core_semantics"])
  func s390xGuestPasses(guest: String) async throws {
    let (result, run, _) = try await boot(guest, architecture: .s390x)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(!result.checks.isEmpty)
    #expect(run.libvirt?.domain.hasPrefix("swiftguest-\(guest)-") == true)
    // All CPUs stopped with SIGP STOP: QEMU shuts down, libvirt says SHUTDOWN.
    #expect(run.machineEnd == .poweredOff, "\(run.stderr)")
    #expect(run.libvirt?.ending == .guest(.poweredOff), "\(run.stderr)")
  }

  @Test func s390xCrashIsADisabledWaitThatLibvirtReportsCrashed() async throws {
    let (result, run, _) = try await boot("crash", architecture: .s390x)
    #expect(result.verdict == .crashed, "\(result.reason)\n\(result.serialLog)")
    #expect(run.machineEnd == .panicked, "\(run.stderr)")
    #expect(run.libvirt?.ending == .guest(.panicked), "\(run.stderr)")
  }

  /// A console that claims success while the machine never powers off
  /// (nor stops its CPUs) is not an exit, through libvirt too.
  @Test(arguments: Architecture.allCases)
  func exitLineWithoutPowerOffIsNeverPass(architecture: Architecture) async throws {
    let (result, run, _) = try await boot("noexit", architecture: architecture)
    #expect(result.verdict == .protocolError, "\(result.reason)\n\(run.stderr)")
    #expect(result.reason.contains("exit line printed but the machine never stopped"))
    #expect(run.machineEnd == nil)
    #expect(run.libvirt?.ending == .harness(.exitGrace(.seconds(5))), "\(run.stderr)")
    // Before destroying it the harness read, through the monitor
    // passthrough, where the guest spun.
    #expect(run.vcpuPositions.count == 1, "\(run.stderr)")
    #expect(result.reason.contains("; CPU 0 stuck at "), "\(result.reason)")
  }

  @Test func floodStopsAtTheOutputLimit() async throws {
    let limit = 64 << 10
    let (result, run, _) = try await boot("flood", outputLimit: limit)
    #expect(result.verdict == .protocolError, "\(result.reason)")
    #expect(result.reason.contains("output limit"))
    #expect(result.serialLog.utf8.count <= limit + QemuLauncherLimits.keptTail + 512)
    #expect(run.outputLimitReached == limit)
    #expect(run.libvirt?.ending == .harness(.outputLimit), "\(run.stderr)")
  }

  @Test func smpGuestPassesWithTwoCPUs() async throws {
    let (result, _, _) = try await boot("smp", cpus: 2)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
  }

  @Test func crashIsCrashWithPanicEvent() async throws {
    let (result, run, _) = try await boot("crash")
    #expect(result.verdict == .crashed)
    #expect(result.crash?.fields["vector"] == "14")
    #expect(run.libvirt?.ending == .guest(.panicked), "pvpanic reached libvirt: \(run.stderr)")
    #expect(run.machineEnd == .panicked)
  }

  @Test func failingChecksAreFail() async throws {
    let (result, run, _) = try await boot("failing")
    #expect(result.verdict == .failed)
    #expect(result.failedChecks.count == 2)
    #expect(run.machineEnd == .poweredOff, "status 1 powers off too: \(run.stderr)")
  }

  /// The daemon the tests use is their own: as root a private libvirtd
  /// whose configuration lives in its state directory; the system's
  /// /etc/libvirt is not written.
  @Test func theDaemonIsPrivateAndTheSystemConfigIsUntouched() async throws {
    let before = Self.systemConfig()
    let connection = try await connect()
    #expect(connection.isAlive)
    if let daemon = LibvirtTestDaemon.privateDaemon {
      #expect(connection.uri == daemon.uri)
      #expect(connection.sharesFiles)
      #expect(daemon.processID != nil, "its pid file names a live process")
      let conf = try String(contentsOfFile: daemon.stateDirectory + "/etc/qemu.conf", encoding: .utf8)
      #expect(conf.contains("PrivateLibvirtd"))
      #expect(connection.payloadDirectory == daemon.payloadDirectory)
    } else {
      #expect(!connection.uri.hasPrefix("qemu:///system"))
    }
    #expect(Self.systemConfig() == before, "/etc/libvirt unchanged")
  }

  /// Names, sizes and modification times of the files in /etc/libvirt.
  static func systemConfig() -> [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: "/etc/libvirt")) ?? []
    return files.sorted().map { name in
      let attributes = try? FileManager.default.attributesOfItem(atPath: "/etc/libvirt/" + name)
      return "\(name) \(attributes?[.size] ?? "") \(attributes?[.modificationDate] ?? "")"
    }
  }

  /// A daemon with libvirt's standard security model (as `qemu:///system`
  /// has it: QEMU as `libvirt-qemu`): the pool uploads the payload into the
  /// daemon's storage pool and reads the console log back as a volume, so
  /// the daemon's QEMU never reads the checkout. (A second private daemon,
  /// so that no system daemon is needed.)
  @Test func standardSecurityModelGetsThePayloadUploaded() async throws {
    if let reason = PrivateLibvirtd.unavailableReason() { try Test.cancel("\(reason)") }
    let daemon = PrivateLibvirtd(
      stateDirectory: "/tmp/swiftguest-libvirtd-standard", securityModel: .standard)
    let connection = try await BlockingWork.run { try daemon.start().connect() }
    #expect(!connection.sharesFiles)
    let conf = try String(contentsOfFile: daemon.stateDirectory + "/etc/qemu.conf", encoding: .utf8)
    #expect(!conf.contains("user ="), "QEMU runs as libvirt's default user")
    let pool = try LibvirtPool(connections: [connection])
    let payload = try await Self.runner.builder.build(
      try Self.runner.builder.workspace.program(named: "selftest"), for: .x86_64)
    let settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, cpus: 1, timeout: .seconds(60),
      silenceTimeout: .seconds(60))
    let run = try #require(try await pool.launch(payload, settings: settings, onStart: nil).record)
    let (verdict, reason) = VerdictJudge.judge(run, architecture: .x86_64)
    #expect(verdict == .passed, "\(reason)\n\(run.stderr)")
    #expect(run.machineEnd == .poweredOff)
    #expect(!run.stderr.contains("the stream alone decides"), "console log read back: \(run.stderr)")
    let uploaded = try #require(
      try FileManager.default.contentsOfDirectory(atPath: daemon.payloadDirectory).first {
        $0.hasPrefix("selftest-x86_64-") && $0.hasSuffix(".elf")
      })
    #expect(!uploaded.isEmpty)
    // The QEMU driver hands its state directory to the user QEMU runs as.
    let state = try FileManager.default.attributesOfItem(atPath: daemon.stateDirectory + "/lib/qemu")
    #expect(state[.ownerAccountName] as? String == "libvirt-qemu")
  }

  @Test func capacityIsTheWholeHostsMemory() async throws {
    // The local daemon is this machine: its capacity is all of MemTotal, not
    // one NUMA cell's share (virNodeGetInfo gave half on this VM).
    let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
    let line = try #require(meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") })
    let kib = try #require(Int(line.split(separator: " ")[1]))
    let capacity = try await connect().capacity()
    #expect(abs(capacity.memoryMiB - kib / 1024) <= kib / 1024 / 100, "\(capacity.memoryMiB) MiB vs \(kib / 1024)")
    #expect(capacity.accelerators[.x86_64]?.contains(.tcg) == true)
  }

  @Test func hangTimesOutAndLeavesNoDomain() async throws {
    let (result, run, connection) = try await boot("hang", timeout: .seconds(3))
    #expect(result.verdict == .timedOut)
    let name = try #require(Self.domainName(in: run), "\(run.stderr)")
    #expect(name.hasPrefix("swiftguest-hang-"))
    #expect(try !connection.runningDomainNames().contains(name))
    #expect(run.machineEnd == nil, "the harness destroyed it")
    #expect(run.libvirt?.ending == .harness(.timeout(.deadline)), "\(run.stderr)")
    // Hang triage through libvirt's monitor passthrough, before the destroy.
    #expect(!run.vcpuPositions.isEmpty, "\(run.stderr)")
    #expect(result.reason.contains("CPU 0 stuck at"), "\(result.reason)")
    #expect(run.notes.contains { if case .monitorTranscript = $0 { true } else { false } })
    #expect(!run.interrupted)
  }

  /// Ctrl-C cancels the cell's task: the domain is destroyed and the run is
  /// an interrupted one, not a CRASH "stopped without an exit line".
  @Test func cancelledRunIsInterruptedAndLeavesNoDomain() async throws {
    let connection = try await connect()
    let payload = try await Self.runner.builder.build(
      try Self.runner.builder.workspace.program(named: "hang"), for: .x86_64)
    let settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, cpus: 1, timeout: .seconds(60),
      silenceTimeout: .seconds(60))
    let task = Task {
      try await LibvirtLauncher.run(
        guest: "hang", bootImage: payload.bootImage, settings: settings, connection: connection)
    }
    // Cancel once the guest printed its check (read from its console log,
    // which the tests' daemon writes where this process can read it), at
    // most 30 s on.
    #expect(connection.sharesFiles, "the console log is readable here")
    let deadline = ContinuousClock.now + .seconds(30)
    func printed() throws -> Bool {
      guard
        let name = try connection.runningDomainNames().first(where: { $0.hasPrefix("swiftguest-hang-") }),
        let log = FileManager.default.contents(atPath: try connection.consoleLogPath(domain: name))
      else { return false }
      return String(decoding: log, as: UTF8.self).contains("output before the hang")
    }
    while ContinuousClock.now < deadline, try !printed() {
      try await Task.sleep(for: .milliseconds(20))
    }
    let cancelledAt = ContinuousClock.now
    task.cancel()
    let run = try await task.value
    #expect(ContinuousClock.now - cancelledAt < .seconds(10), "the cancel ended the run promptly")
    #expect(run.interrupted, "\(run.stderr)")
    #expect(run.timeout == nil)
    #expect(run.machineEnd == nil)
    #expect(run.libvirt?.ending == .harness(.interrupted), "\(run.stderr)")
    let name = try #require(Self.domainName(in: run), "\(run.stderr)")
    #expect(try !connection.runningDomainNames().contains(name))
    #expect(run.serialLog.contains("output before the hang"), "the guest had started")
  }

  /// The same through GuestRunner and LibvirtPool (the runner's path): the
  /// cancelled cell is SKIP and interrupted, not CRASH.
  @Test func cancelledCellThroughThePoolIsInterruptedNotCrash() async throws {
    let connection = try await connect()
    var runner = Self.runner
    runner.launcher = try LibvirtPool(connections: [connection])
    let payload = try await runner.builder.build(
      try runner.builder.workspace.program(named: "hang"), for: .x86_64)
    let settings = LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, cpus: 1, timeout: .seconds(60),
      silenceTimeout: .seconds(60))
    let task = Task { try await runner.run(payload, settings: settings) }
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline,
      try !connection.runningDomainNames().contains(where: { $0.hasPrefix("swiftguest-hang-") })
    {
      try await Task.sleep(for: .milliseconds(20))
    }
    try await Task.sleep(for: .milliseconds(300))
    task.cancel()
    let result = try await task.value
    #expect(result.interrupted, "\(result.reason)")
    #expect(result.verdict == .skipped, "\(result.verdict): \(result.reason)")
    #expect(result.qemuStderr.contains("destroyed by the harness: interrupted"), "\(result.qemuStderr)")
    #expect(try !connection.runningDomainNames().contains(where: { $0.hasPrefix("swiftguest-hang-") }))
  }
}
}
