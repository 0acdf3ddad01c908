import Foundation
import Harness
@testable import LibvirtBackend
import Testing

/// Live migration through libvirt (`virDomainMigrate3`) with the real
/// `migration` guest: the tests' private daemon and its migration peer (a
/// second private libvirtd with its own host UUID) take the domain in
/// turns, the console stays one log, and no domain is left on either.
extension LibvirtDaemonSuites {
  @Suite("Live migration through libvirt", .serialized)
  struct LibvirtMigrationTests {
    static let runner: GuestRunner = {
      let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
      let workspace = try! GuestWorkspace.locate(from: here)
      return GuestRunner(builder: PayloadBuilder(workspace: workspace, toolchain: try! Toolchain.find()))
    }()

    /// The tests' daemon and its peer as one pool (root only: the peer is
    /// a private daemon).
    static func pool() async throws -> LibvirtPool {
      let daemon = try #require(
        LibvirtTestDaemon.privateDaemon, "migration between private daemons needs root")
      let source = try await LibvirtTestDaemon.connect()
      let peer = try await BlockingWork.run { try daemon.migrationPeer.start().connect() }
      return try LibvirtPool(connections: [source], migrationTargets: [peer])
    }

    func boot(_ architecture: Architecture, tests: String?, cpus: Int = 1, pool: LibvirtPool)
      async throws -> GuestResult
    {
      var runner = Self.runner
      runner.launcher = pool
      let program = try runner.builder.workspace.program(named: "migration")
      var settings = LaunchSettings(
        architecture: architecture, accelerator: .tcg, cpus: cpus,
        guestArguments: tests.map { ["harness.tests=\($0)"] } ?? [], timeout: .seconds(120))
      settings.migrate = true
      return try await runner.run(program, settings: settings)
    }

    @Test func theTwoPrivateDaemonsHaveDistinctHostUUIDs() throws {
      let daemon = PrivateLibvirtd(stateDirectory: "/tmp/swiftguest-libvirtd")
      #expect(daemon.hostUUID != daemon.migrationPeer.hostUUID)
      #expect(daemon.hostUUID == PrivateLibvirtd(stateDirectory: "/tmp/swiftguest-libvirtd").hostUUID)
      #expect(daemon.migrationPeer.stateDirectory == "/tmp/swiftguest-libvirtd-peer")
      let uuid = try #require(UUID(uuidString: daemon.hostUUID), "\(daemon.hostUUID)")
      #expect(uuid.uuidString.lowercased() == daemon.hostUUID)
    }

    @Test(arguments: Architecture.allCases)
    func threeHopsBetweenTwoDaemonsKeepOneLog(architecture: Architecture) async throws {
      let pool = try await Self.pool()
      #expect(pool.canMigrate)
      // Test 5 of the migration guest: three hops in a row.
      let result = try await boot(architecture, tests: "5", pool: pool)
      #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
      #expect(result.migrations.map(\.number) == [1, 2, 3], "\(result.qemuStderr)")
      for hop in result.migrations {
        #expect(hop.totalMilliseconds > 0 && hop.downtimeMilliseconds >= 0, "\(hop.summary)")
        #expect(hop.wallMilliseconds >= hop.totalMilliseconds, "\(hop.summary)")
      }
      let lines = result.serialLog.split(separator: "\n")
      #expect(lines.filter { $0.hasSuffix("# harness: migrate") }.count == 3)
      #expect(lines.filter { $0 == "KTAP version 1" }.count == 1, "one document across the hops")
      #expect(lines.filter { $0.hasPrefix("# EXIT:") }.count == 1)
      // The domain went source -> peer -> source -> peer, and is gone.
      let events = result.qemuStderr
      let peerURI = pool.migrationTargets[0].uri
      let hosts = [peerURI, pool.hosts[0].uri, peerURI]
      #expect(
        events.contains("migrated to: " + hosts.enumerated().map { "hop\($0.offset + 1) \($0.element)" }.joined(separator: ", ")),
        "\(events)")
      #expect(events.contains("hop3:RESUMED/"), "\(events)")
      // (A powered-off domain goes once libvirt reaped its QEMU: bounded.)
      let domain = try #require(result.qemuStderr.split(separator: " ").first { $0.hasPrefix("swiftguest-migration-") })
      for connection in pool.hosts.map(\.connection) + pool.migrationTargets {
        let until = ContinuousClock.now + .seconds(10)
        while try connection.runningDomainNames().contains(String(domain)), ContinuousClock.now < until {
          try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try !connection.runningDomainNames().contains(String(domain)), "\(connection.uri) still runs \(domain)")
      }
    }

    /// Every migration test of the guest (memory, SMP, time, timers, the
    /// allocator) survives the hops between daemons as it does on bare QEMU
    /// (two CPUs, as the matrix's cell).
    @Test func everyMigrationTestPassesBetweenDaemons() async throws {
      let pool = try await Self.pool()
      let result = try await boot(.x86_64, tests: nil, cpus: 2, pool: pool)
      #expect(result.verdict == .passed, "\(result.reason)\n\(result.serialLog)")
      #expect(result.migrations.count >= 3, "\(result.qemuStderr)")
    }

    /// One daemon cannot migrate a domain to itself: a migrating cell on a
    /// pool of one is SKIP with the reason, never booted.
    @Test func aPoolOfOneDaemonSkipsMigratingCells() async throws {
      let pool = try LibvirtPool(connections: [try await LibvirtTestDaemon.connect()])
      #expect(!pool.canMigrate)
      let result = try await boot(.x86_64, tests: "0", pool: pool)
      #expect(result.verdict == .skipped, "\(result.reason)")
      #expect(result.reason.contains("libvirt migrates between two daemons"), "\(result.reason)")
    }

    /// A migration libvirt refuses (here: to the same daemon, whose host
    /// UUID is the source's) ends the run at once with its own reason, and
    /// the domain is gone.
    @Test func aMigrationLibvirtRefusesIsItsOwnReasonAndNoDomainIsLeft() async throws {
      let source = try await LibvirtTestDaemon.connect()
      let same = try await LibvirtTestDaemon.connect()
      let pool = try LibvirtPool(connections: [source], migrationTargets: [same])
      // Same URI: not a destination at all.
      let result = try await boot(.x86_64, tests: "0", pool: pool)
      #expect(result.verdict == .crashed, "\(result.reason)")
      #expect(result.reason.hasPrefix("migration 1 failed: no other libvirt daemon"), "\(result.reason)")
      // The same daemon under another URI spelling: libvirt itself refuses.
      let alias = try LibvirtConnection(
        uri: source.uri.replacingOccurrences(of: "qemu+unix:///system?", with: "qemu+unix:///system?mode=legacy&"),
        payloadDirectory: source.payloadDirectory, sharesFiles: true)
      let refused = try await boot(
        .x86_64, tests: "0", pool: try LibvirtPool(connections: [source], migrationTargets: [alias]))
      #expect(refused.verdict == .crashed, "\(refused.reason)")
      #expect(refused.reason.hasPrefix("migration 1 failed: virDomainMigrate3"), "\(refused.reason)")
      #expect(refused.migrations.isEmpty)
      let domain = try #require(
        refused.qemuStderr.split(separator: " ").first { $0.hasPrefix("swiftguest-migration-") })
      let until = ContinuousClock.now + .seconds(10)
      while try source.runningDomainNames().contains(String(domain)), ContinuousClock.now < until {
        try await Task.sleep(for: .milliseconds(50))
      }
      #expect(try !source.runningDomainNames().contains(String(domain)))
    }

    /// A migrating cell's domain has no AUTODESTROY; its guard destroys it
    /// once the lifeline closes (as when the runner is killed), and a
    /// released guard destroys nothing.
    @Test func theGuardDestroysTheDomainWhenTheLifelineCloses() async throws {
      let connection = try await LibvirtTestDaemon.connect()
      let program = try Self.runner.builder.workspace.program(named: "hang")
      let payload = try await Self.runner.builder.build(program, for: .x86_64)
      var settings = LaunchSettings(architecture: .x86_64, accelerator: .tcg, cpus: 1)
      settings.migrate = true
      func domain() throws -> (String, LibvirtDomain) {
        let name = LibvirtLauncher.domainName(for: "guard")
        let xml = DomainXML.make(name: name, kernel: payload.bootImage, settings: settings)
        return (name, try connection.createPausedTransientDomain(xml, autodestroy: false))
      }
      var ends: [Int32] = [-1, -1]
      #expect(pipe(&ends) == 0)
      let (name, first) = try domain()
      let guarding = try DomainGuard(name: name, uris: [connection.uri], lifeline: ends[0])
      let (kept, second) = try domain()
      let released = try DomainGuard(name: kept, uris: [connection.uri], lifeline: ends[0])
      released.release()
      close(ends[0])
      close(ends[1])  // the "runner" dies
      #expect(guarding.waitForEnd(timeout: .seconds(20)), "the guard ran virsh destroy and ended")
      #expect(!first.isActive, "the guarded domain is gone")
      #expect(second.isActive, "a released guard destroyed nothing")
      second.destroy()
      #expect(try !connection.runningDomainNames().contains(name))
    }
  }
}
