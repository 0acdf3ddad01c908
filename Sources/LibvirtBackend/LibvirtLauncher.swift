import Foundation
import Harness
import Synchronization

/// One libvirt daemon as a `MachineBackend`: a payload boots as a transient
/// domain, created paused with AUTODESTROY (tied to the connection), its
/// console stream attached before it runs so that no output is lost.
///
/// The console stream drives the run (progress, silence, the exit line);
/// the verdict comes from QEMU's console log when it could be read, because
/// a pty drops what its reader had not read yet when QEMU exits.
///
/// With `peers` (other daemons: the pool's hosts, a `PrivateLibvirtd`'s
/// migration peer) a cell that asks for it live-migrates between them
/// (`LibvirtMachine.migrate`).
public struct LibvirtHostBackend: MachineBackend {
  /// The connection.
  public var connection: LibvirtConnection
  /// Daemons a domain may live-migrate to (the connection's own is skipped
  /// as a destination when it is among them).
  public var peers: [LibvirtConnection]
  /// The boot image's path on a destination daemon that does not share
  /// this machine's files (an upload into its pool); nil: the same path.
  public var stage: (@Sendable (LibvirtConnection) throws -> String)?

  /// The backend of `connection`'s daemon.
  public init(
    connection: LibvirtConnection, peers: [LibvirtConnection] = [],
    stage: (@Sendable (LibvirtConnection) throws -> String)? = nil
  ) {
    self.connection = connection
    self.peers = peers
    self.stage = stage
  }

  public var host: HostKey { .libvirt(uri: connection.uri) }

  public var canMigrate: Bool { peers.contains { $0.uri != connection.uri } }

  public var canReset: Bool { true }

  public func create(_ request: MachineRequest) async throws -> any BackendMachine {
    // libvirt's calls block until the daemon answered (a domain's creation
    // takes a second or more on a loaded host): off the cooperative pool.
    let backend = self
    return try await BlockingWork.run { try LibvirtMachine(backend: backend, request: request) }
  }
}

/// Runs one payload on one libvirt connection through the `RunEngine`.
public enum LibvirtLauncher {
  /// After the domain stopped, the stream gets this long to deliver its
  /// last bytes when there is no console log to read instead.
  static let drainWithoutLog: Duration = .milliseconds(500)

  /// A unique transient domain name for `guest`.
  public static func domainName(for guest: String) -> String {
    "swiftguest-\(guest)-\(UUID().uuidString.prefix(8).lowercased())"
  }

  /// Runs `bootImage` (a path the daemon can read) with `settings`.
  ///
  /// The record's `libvirt` details say who ended the domain: the guest
  /// (SHUTDOWN or CRASHED event; `machineEnd` is then `.poweredOff` or
  /// `.panicked`) or the harness (interrupted, timeout, exit grace;
  /// `machineEnd` nil).
  public static func run(
    guest: String, bootImage: String, settings: LaunchSettings, connection: LibvirtConnection
  ) async throws -> RunRecord {
    try await RunEngine().run(
      LibvirtHostBackend(connection: connection),
      request: MachineRequest(guest: guest, bootImage: bootImage, settings: settings))
  }
}

/// One transient domain; after live migrations, the same domain on
/// another daemon (each stretch on one daemon is a `Segment`).
final class LibvirtMachine: MigratableMachine, @unchecked Sendable {
  /// The domain on one daemon.
  struct Segment {
    var id: Int
    var connection: LibvirtConnection
    var domain: LibvirtDomain
    var watch: LifecycleWatch
    var console: LibvirtStream?
    var logPath: String?
  }

  /// Hands the segments' callbacks to the engine's stream: only the
  /// current segment's stops and console end count, and while a hop runs
  /// they are held (the source's end is no stop when the hop succeeds).
  final class Router: @unchecked Sendable {
    let feed: AsyncStream<MachineEvent>.Continuation
    let state = Mutex<(current: Int, hopping: Bool, held: [MachineEvent])>((0, false, []))

    init(feed: AsyncStream<MachineEvent>.Continuation) { self.feed = feed }

    func deliver(_ event: MachineEvent, from segment: Int) {
      let pass = state.withLock { state -> Bool in
        // Console bytes always pass: a source's last bytes may come late.
        if case .console = event { return true }
        guard segment == state.current else { return false }
        if state.hopping {
          state.held.append(event)
          return false
        }
        return true
      }
      if pass { feed.yield(event) }
    }

    /// A hop begins: the source's stops are held.
    func beginHop() { state.withLock { $0.hopping = true } }

    /// The hop ended: on success `segment` is current and the source's
    /// held stops are dropped; on failure they are delivered.
    func endHop(current segment: Int?) {
      let held = state.withLock { state -> [MachineEvent] in
        defer {
          state.hopping = false
          state.held = []
        }
        if let segment {
          state.current = segment
          return []
        }
        return state.held
      }
      for event in held { feed.yield(event) }
    }
  }

  let events: AsyncStream<MachineEvent>
  private let router: Router
  let backend: LibvirtHostBackend
  let name: String
  let xml: String
  private let settings: LaunchSettings
  private var setupNotes: [RunNote] = []
  /// For a domain without AUTODESTROY (a migrating cell's).
  private let domainGuard: DomainGuard?
  let state: Mutex<(current: Segment, retired: [Segment], start: ContinuousClock.Instant?, gone: Bool)>

  init(backend: LibvirtHostBackend, request: MachineRequest) throws {
    let (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    self.events = events
    let router = Router(feed: feed)
    self.router = router
    self.backend = backend
    settings = request.settings
    let connection = backend.connection
    name = LibvirtLauncher.domainName(for: request.guest)
    var notes: [RunNote] = []
    let logPath: String?
    do {
      logPath = try connection.consoleLogPath(domain: name)
    } catch {
      logPath = nil
      notes.append(.consoleLogUnavailable("no console log: \(error)"))
    }
    setupNotes = notes
    let xml = DomainXML.make(
      name: name, kernel: request.bootImage, settings: request.settings, consoleLog: logPath)
    self.xml = xml
    // libvirt does not migrate an AUTODESTROY domain; a migrating cell's
    // domain is destroyed by the engine like every other.
    let segment = try Self.segment(
      0, connection: connection, name: name, router: router, logPath: logPath
    ) { try connection.createPausedTransientDomain(xml, autodestroy: !request.settings.migrate) }
    if request.settings.migrate {
      // Without AUTODESTROY, a guard destroys the domain if the runner dies.
      do {
        domainGuard = try DomainGuard(
          name: name, uris: [connection.uri] + backend.peers.map(\.uri).filter { $0 != connection.uri })
      } catch {
        segment.domain.destroy()
        segment.watch.cancel()
        throw error
      }
    } else {
      domainGuard = nil
    }
    state = Mutex((segment, [], nil, false))
  }

  /// Watches `name` on `connection`, makes the domain (`make`) and opens
  /// its console; on failure leaves nothing behind.
  private static func segment(
    _ id: Int, connection: LibvirtConnection, name: String, router: Router, logPath: String?,
    make: () throws -> LibvirtDomain
  ) throws -> Segment {
    // Events may arrive before the create call returns: watch first.
    let watch = try LifecycleWatch(
      connection: connection, domainName: name,
      onEvent: { event in
        if let stop = LifecycleWatch.stop(event) { router.deliver(.stopped(stop), from: id) }
      },
      // The daemon went away (or stopped answering its keepalive).
      onLost: { router.deliver(.stopped(.connectionLost), from: id) })
    let domain: LibvirtDomain
    do {
      domain = try make()
    } catch {
      watch.cancel()
      throw error
    }
    do {
      let console = try domain.openConsole(
        onData: { bytes in router.deliver(.console(bytes), from: id) },
        onEnd: { router.deliver(.consoleEnded, from: id) })
      return Segment(
        id: id, connection: connection, domain: domain, watch: watch, console: console, logPath: logPath)
    } catch {
      domain.destroy()
      watch.cancel()
      throw error
    }
  }

  private var current: Segment { state.withLock { $0.current } }

  /// QEMU's monitor through libvirt (`virDomainQemuMonitorCommand`).
  var control: (any MachineControl)? { LibvirtMonitorControl(domain: current.domain) }

  var drainAfterStop: Duration {
    current.logPath == nil ? LibvirtLauncher.drainWithoutLog : .zero
  }

  func start() async throws -> Int32? {
    let domain = state.withLock { state in
      state.start = .now
      return state.current.domain
    }
    try await BlockingWork.run { try domain.resume() }
    // A connection lost before the watch was in place has no callback to
    // come: ask once. (Stops and losses are events from here on.)
    if !backend.connection.isAlive { router.deliver(.stopped(.connectionLost), from: 0) }
    return nil
  }

  func destroy() async {
    let segment = state.withLock { state -> Segment? in
      if state.gone { return nil }
      state.gone = true
      return state.current
    }
    guard let segment else { return }
    await BlockingWork.run {
      if segment.watch.stopped {
        // Gone already.
      } else if segment.watch.machineEnd != nil {
        Self.destroyUnlessItStops(segment)
      } else {
        segment.domain.destroy()
      }
      segment.console?.close()
    }
    router.feed.finish()
  }

  /// How long libvirt gets to take down a domain whose guest powered off
  /// or panicked before the harness destroys it itself.
  static let stopGrace: Duration = .seconds(10)

  /// For a domain libvirt is taking down already (the guest powered off or
  /// panicked; `on_poweroff` and `on_crash` are destroy): destroys it only
  /// if its STOPPED event does not come within `stopGrace`, on a thread of
  /// its own, and then stops watching it.
  ///
  /// Not at once: libvirt 9.0 holds the domain while it waits for QEMU's
  /// end (it polls every 200 ms), and any call on the domain meanwhile,
  /// even `virDomainIsActive`, waits for it while holding the daemon's
  /// domain list, so that every other domain's creation on that daemon
  /// waited too: the next cell's `virDomainCreateXML` started 150 ms late
  /// (the daemon's debug log, 3 runs in a row of the s390x selftest).
  static func destroyUnlessItStops(_ segment: Segment) {
    let (domain, watch) = (segment.domain, segment.watch)
    Thread.detachNewThread {
      if !watch.waitUntilStopped(timeout: stopGrace) { domain.destroy() }
      watch.cancel()
    }
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    await destroy()
    let (segments, started) = state.withLock { ($0.retired + [$0.current], $0.start) }
    // A watch handed to `destroyUnlessItStops` is cancelled there.
    for segment in segments where segment.watch.stopped || segment.watch.machineEnd == nil {
      segment.watch.cancel()
    }
    if let domainGuard { await BlockingWork.run { domainGuard.release() } }
    let last = segments[segments.count - 1]
    let ending: LibvirtEnding
    if let end = run.machineEnd {
      ending = .guest(end)
    } else if let kill = run.kill {
      ending = .harness(kill)
    } else if run.stop == .connectionLost || !last.connection.isAlive {
      ending = .connectionLost
    } else {
      ending = .stoppedByItself(detail: last.watch.stopDetail)
    }
    var notes = setupNotes
    var consoleLog: [UInt8]?
    // Each stretch on one daemon has its own log file (the destination of
    // hop N writes `<domain>.hopN.console.log`): joined in hop order.
    for segment in segments {
      guard let logPath = segment.logPath else { continue }
      let (connection, name, hop) = (segment.connection, name, segment.id)
      do {
        if let part = try await BlockingWork.run({
          try connection.takeConsoleLog(domain: name, hop: hop, path: logPath)
        }) {
          consoleLog = (consoleLog ?? []) + part
        } else {
          notes.append(.consoleLogUnavailable("QEMU wrote no console log" + (hop == 0 ? "" : " after hop \(hop)")))
        }
      } catch {
        notes.append(.consoleLogUnavailable("console log unreadable: \(error)"))
      }
    }
    let start = started ?? run.start
    notes.append(
      .timing(
        firstOutput: run.firstOutputAt.map { $0 - start }, exitLine: run.exitLineAt.map { $0 - start },
        stopped: run.stoppedAt.map { $0 - start }))
    var events: [LifecycleRecord] = []
    for segment in segments {
      let prefix = segment.id == 0 ? "" : "hop\(segment.id):"
      events += segment.watch.events.map { LifecycleRecord(name: prefix + $0.name, at: $0.at - start) }
    }
    let details = LibvirtDetails(
      uri: backend.connection.uri, domain: name, domainXML: xml, events: events, ending: ending,
      migratedTo: segments.count > 1 ? segments.dropFirst().map(\.connection.uri) : nil)
    return MachineReport(details: .libvirt(details), consoleLog: consoleLog, notes: notes)
  }

  // MARK: Live migration

  /// QEMU's migration URI towards `connection`'s host: its URI's host name,
  /// or the loopback address for a daemon on this machine.
  static func migrationURI(to connection: LibvirtConnection) -> String {
    let host = URL(string: connection.uri)?.host ?? ""
    if host.isEmpty || host == "localhost" { return "tcp:127.0.0.1" }
    return host.contains(":") ? "tcp:[\(host)]" : "tcp:\(host)"
  }

  /// One hop: `virDomainMigrate3` to the next daemon of `peers` (live, left
  /// paused there), the destination's console opened, then resumed; the
  /// source's console bytes come first in the one stream and its end is no
  /// stop. The destination's definition differs only in paths its host
  /// needs (the boot image, the console log) when it does not share files.
  func migrate(hop: Int, timeout: Duration) async -> Result<MigrationHop, MigrationFailure> {
    let began = ContinuousClock.now
    func failure(_ reason: String) -> Result<MigrationHop, MigrationFailure> {
      .failure(MigrationFailure(hop: hop, reason: reason))
    }
    let (source, gone) = state.withLock { ($0.current, $0.gone) }
    guard !gone else { return failure("the machine is gone") }
    guard
      let destination = backend.peers.first(where: {
        $0.uri != source.connection.uri && $0.isAlive
      })
    else { return failure("no other libvirt daemon to migrate to") }
    router.beginHop()
    let (name, router, stage) = (name, router, backend.stage)
    let moved = await BlockingWork.run { () -> Result<(Segment, MigrationHop), MigrationFailure> in
      do {
        // The destination logs to a file of its own (the source's may be
        // on another host, and a shared one would interleave stretches).
        let logPath = try destination.consoleLogPath(domain: name, hop: hop)
        var xml = try source.domain.migratableXML()
        var changed = false
        if let oldLog = source.logPath {
          xml = xml.replacingOccurrences(of: DomainXML.escape(oldLog), with: DomainXML.escape(logPath))
          changed = true
        }
        if let stage, !(destination.sharesFiles && source.connection.sharesFiles) {
          let kernel = try stage(destination)
          if let range = xml.range(of: "<kernel>"), let end = xml.range(of: "</kernel>", range: range.upperBound..<xml.endIndex) {
            xml.replaceSubrange(range.upperBound..<end.lowerBound, with: DomainXML.escape(kernel))
            changed = true
          }
        }
        let segment = try Self.segment(
          hop, connection: destination, name: name, router: router, logPath: logPath
        ) {
          try source.domain.migrate(
            to: destination, uri: Self.migrationURI(to: destination), xml: changed ? xml : nil)
        }
        let figures = segment.domain.completedJobStatistics()
        return .success(
          (
            segment,
            MigrationHop(
              number: hop, downtimeMilliseconds: figures.downtime ?? -1,
              totalMilliseconds: figures.elapsed ?? -1, wallMilliseconds: 0,
              transferredBytes: figures.transferred)
          ))
      } catch {
        return .failure(MigrationFailure(hop: hop, reason: "\(error)"))
      }
    }
    switch moved {
    case .failure(let error):
      router.endHop(current: nil)
      return .failure(error)
    case .success(let (segment, figures)):
      let destroyed = state.withLock { state in
        state.retired.append(state.current)
        state.current = segment
        return state.gone
      }
      router.endHop(current: segment.id)
      source.console?.close()
      source.watch.cancel()
      let domain = segment.domain
      if destroyed {
        await BlockingWork.run { domain.destroy() }
        return failure("the machine was destroyed")
      }
      do {
        try await BlockingWork.run { try domain.resume() }
      } catch {
        return failure("the destination did not resume: \(error)")
      }
      var hopFigures = figures
      let (seconds, attoseconds) = (ContinuousClock.now - began).components
      hopFigures.wallMilliseconds = Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
      return .success(hopFigures)
    }
  }

  func writeConsoleInput(_ bytes: [UInt8]) async throws {
    guard let console = current.console else { throw LibvirtError(operation: "console input", message: "no console", code: 0) }
    try await BlockingWork.run { try console.send(bytes) }
  }
}

/// A reset the guest asked for, through libvirt's monitor passthrough: the
/// same `ResetConversation` as bare QEMU, so a reset the guest causes by
/// itself still ends the domain (QEMU's reboot action `shutdown`; libvirt
/// then destroys it, `on_poweroff` destroy).
extension LibvirtMachine: ResettableMachine {
  func reset() async throws {
    let (domain, gone) = state.withLock { ($0.current.domain, $0.gone) }
    guard !gone else { throw LibvirtError(operation: "reset", message: "the machine is gone", code: 0) }
    let control = LibvirtMonitorControl(domain: domain)
    for (command, arguments) in ResetConversation.commands {
      _ = try await control.execute(command, arguments: arguments)
    }
  }
}
