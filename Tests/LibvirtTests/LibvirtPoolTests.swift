import Foundation
@testable import Harness
import LibvirtBackend
import Subprocess
import Testing

#if canImport(System)
  import System
#else
  import SystemPackage
#endif

/// One run spread over two really distinct libvirt daemons: the tests' own
/// local one (`LibvirtTestDaemon`) and a second one in its own network and mount namespaces, reached over
/// TCP (scripts/libvirt-second-host.sh), which is stopped mid-run.
extension LibvirtDaemonSuites {
@Suite("libvirt multi-host", .serialized)
struct LibvirtPoolTests {
  static let root: String = {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    return try! GuestWorkspace.locate(from: here).root
  }()

  static let runner: GuestRunner = {
    let workspace = try! GuestWorkspace(root: root)
    return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
  }()

  /// Runs the second-host script; returns its output's last line.
  @discardableResult
  static func secondHost(_ action: String) async throws -> String {
    let result = try await Subprocess.run(
      .path(FilePath("/bin/bash")),
      arguments: [root + "/scripts/libvirt-second-host.sh", action],
      output: .string(limit: 1 << 16), error: .string(limit: 1 << 16))
    let output = result.standardOutput
    guard result.terminationStatus.isSuccess else {
      throw LibvirtError(
        operation: "libvirt-second-host.sh \(action)", message: output + result.standardError, code: 0)
    }
    return output.split(separator: "\n").last.map(String.init) ?? ""
  }

  static func settings(cpus: Int = 1, timeout: Duration = .seconds(60)) -> LaunchSettings {
    LaunchSettings(
      architecture: .x86_64, accelerator: .tcg, cpus: cpus, timeout: timeout,
      silenceTimeout: timeout)
  }

  static func payload(_ guest: String) async throws -> Payload {
    try await runner.builder.build(try runner.builder.workspace.program(named: guest), for: .x86_64)
  }

  /// A daemon without the harness's pool, and many cells uploading at once
  /// from two clients: every upload succeeds, and one payload is one volume.
  /// (Before the storage lock two first cells both created the pool and the
  /// second failed with "pool 'swiftguest-payloads' already exists": CI, stop 21.)
  @Test func concurrentFirstUploadsToAFreshDaemonAllSucceed() async throws {
    let uri = try await Self.secondHost("start")
    // Stopped before the next test starts it again (not in a detached task).
    var failure: (any Error)?
    do { try await Self.uploadFromManyCellsAtOnce(uri: uri) } catch { failure = error }
    try await Self.secondHost("stop")
    if let failure { throw failure }
  }

  static func uploadFromManyCellsAtOnce(uri: String) async throws {
    let clients = [try LibvirtConnection(uri: uri), try LibvirtConnection(uri: uri)]
    #expect(clients.allSatisfy { !$0.sharesFiles }, "a remote daemon gets uploads")
    let image = try await Self.payload("selftest").bootImage
    let names = (0..<4).map { "race-\($0)-\(UUID().uuidString).elf" }
    let paths = try await withThrowingTaskGroup(of: (String, String).self) { group in
      for attempt in 0..<12 {
        let client = clients[attempt % 2]
        let name = names[attempt % names.count]
        group.addTask {
          (name, try await BlockingWork.run { try client.payloadPath(localPath: image, name: name) })
        }
      }
      var paths: [(String, String)] = []
      for try await path in group { paths.append(path) }
      return paths
    }
    #expect(paths.count == 12)
    for name in names {
      let forName = Set(paths.filter { $0.0 == name }.map(\.1))
      #expect(forName == ["/var/lib/libvirt/swiftguest-payloads/" + name], "\(name): \(forName)")
    }
  }

  /// A hop to a daemon on another (network and mount namespace) host: the
  /// payload is uploaded into its pool and the destination's definition
  /// names that copy and a console log of its own, which comes back by
  /// volume download and continues the one log.
  @Test func aCellMigratesToARemoteHostThatGetsThePayloadUploaded() async throws {
    let uri = try await Self.secondHost("start")
    var failure: (any Error)?
    do { try await Self.migrateOnce(to: uri) } catch { failure = error }
    try await Self.secondHost("stop")
    if let failure { throw failure }
  }

  static func migrateOnce(to uri: String) async throws {
    let pool = try LibvirtPool(
      connections: [try await LibvirtTestDaemon.connect()], migrationTargets: [try LibvirtConnection(uri: uri)])
    var runner = Self.runner
    runner.launcher = pool
    var settings = Self.settings()
    settings.migrate = true
    settings.guestArguments = ["harness.tests=1"]  // memory: one hop
    let result = try await runner.run(try runner.builder.workspace.program(named: "migration"), settings: settings)
    #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
    #expect(result.migrations.map(\.number) == [1])
    #expect(result.qemuStderr.contains("migrated to: hop1 \(uri)"), "\(result.qemuStderr)")
    let lines = result.serialLog.split(separator: "\n")
    let request = try #require(lines.firstIndex { $0.hasSuffix("# harness: migrate") })
    #expect(
      lines[request...].contains { $0.hasPrefix("ok ") && $0.contains(" memory") },
      "the destination's part is in the log")
    #expect(lines.filter { $0.hasPrefix("# EXIT:") }.count == 1)
  }

  @Test func cellsSpreadOverTwoDaemonsThenOneDropsOut() async throws {
    let second = try await Self.secondHost("start")
    #expect(second.hasPrefix("qemu+tcp://"))

    // Part 1: both hosts share the cells; the remote one gets the payload
    // uploaded through a storage volume.
    let local = LibvirtTestDaemon.uri
    let pool = try LibvirtPool(connections: [try await LibvirtTestDaemon.connect(), try LibvirtConnection(uri: second)])
    #expect(pool.hosts.allSatisfy { $0.capacity.accelerators[.x86_64]?.contains(.tcg) == true })
    // The pool is driven directly (not through GuestRunner's process-wide
    // boot gate) so that the four cells really compete for the two hosts.
    let jobs: [(String, Int)] = [("selftest", 1), ("selftest", 2), ("selftest", 1), ("alloc", 1)]
    var payloads: [Payload] = []
    for (guest, _) in jobs { payloads.append(try await Self.payload(guest)) }
    let prepared = payloads
    let runs = await withTaskGroup(of: (Int, Result<RunRecord, any Error>).self) { group in
      for (index, job) in jobs.enumerated() {
        group.addTask {
          do {
            let outcome = try await pool.launch(prepared[index], settings: Self.settings(cpus: job.1), onStart: nil)
            guard let record = outcome.record else { throw CancellationError() }
            return (index, .success(record))
          } catch { return (index, .failure(error)) }
        }
      }
      var runs: [(Int, Result<RunRecord, any Error>)] = []
      for await run in group { runs.append(run) }
      return runs.sorted { $0.0 < $1.0 }.map(\.1)
    }
    var hostsUsed: Set<String> = []
    for (index, outcome) in runs.enumerated() {
      let run = try outcome.get()
      let (verdict, reason) = VerdictJudge.judge(run, architecture: .x86_64)
      #expect(verdict == .passed, "\(jobs[index].0): \(reason)")
      #expect(!run.stderr.contains("the stream alone decides"), "console log read back: \(run.stderr)")
      if case .ranOn(let uri)? = run.notes.last { hostsUsed.insert(uri) }
    }
    #expect(hostsUsed == [local, second], "both hosts ran cells")
    let remotePath = try pool.hosts[1].connection.payloadPath(
      localPath: payloads[0].bootImage, name: "probe-\(UUID().uuidString).elf")
    #expect(remotePath.hasPrefix("/var/lib/libvirt/swiftguest-payloads/"))

    // Part 2: the remote host is stopped while it runs a cell: the cell is
    // re-queued on the other host and the result says so.
    let dropPool = try LibvirtPool(connections: [try LibvirtConnection(uri: second), try await LibvirtTestDaemon.connect()])
    var dropRunner = Self.runner
    dropRunner.launcher = dropPool
    let hang = try await Self.payload("hang")
    async let dropped = dropRunner.run(hang, settings: Self.settings(timeout: .seconds(6)))
    try await Task.sleep(for: .seconds(2))
    try await Self.secondHost("stop")
    let result = try await dropped
    #expect(result.verdict == .timedOut, "the hang guest times out on the host that took over")
    #expect(result.reason.contains("re-queued after \(second) dropped out"), "\(result.reason)")
    #expect(result.reason.hasSuffix("ran on \(local)"), "\(result.reason)")
    #expect(result.notes.suffix(2) == [.requeued(after: [second]), .ranOn(local)])
    #expect(result.backend.map { if case .libvirt(let details) = $0 { details.uri == local } else { false } } == true)
    #expect(dropPool.lostHosts == [second])
  }
}
}
