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
public struct LibvirtHostBackend: MachineBackend {
  /// The connection.
  public var connection: LibvirtConnection

  /// The backend of `connection`'s daemon.
  public init(connection: LibvirtConnection) { self.connection = connection }

  public var host: HostKey { .libvirt(uri: connection.uri) }

  public func create(_ request: MachineRequest) async throws -> any BackendMachine {
    // libvirt's calls block until the daemon answered (a domain's creation
    // takes a second or more on a loaded host): off the cooperative pool.
    let connection = connection
    return try await BlockingWork.run { try LibvirtMachine(connection: connection, request: request) }
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

/// One transient domain.
final class LibvirtMachine: BackendMachine, @unchecked Sendable {
  let events: AsyncStream<MachineEvent>
  private let feed: AsyncStream<MachineEvent>.Continuation
  let connection: LibvirtConnection
  let name: String
  let xml: String
  let logPath: String?
  private var setupNotes: [RunNote] = []
  private let watch: LifecycleWatch
  private let domain: LibvirtDomain
  private let state = Mutex<(console: LibvirtStream?, start: ContinuousClock.Instant?, gone: Bool)>(
    (nil, nil, false))

  init(connection: LibvirtConnection, request: MachineRequest) throws {
    let (events, feed) = AsyncStream.makeStream(of: MachineEvent.self)
    self.events = events
    self.feed = feed
    self.connection = connection
    name = LibvirtLauncher.domainName(for: request.guest)
    var notes: [RunNote] = []
    do {
      logPath = try connection.consoleLogPath(domain: name)
    } catch {
      logPath = nil
      notes.append(.consoleLogUnavailable("no console log: \(error)"))
    }
    setupNotes = notes
    xml = DomainXML.make(
      name: name, kernel: request.bootImage, settings: request.settings, consoleLog: logPath)
    // Events may arrive before the create call returns: watch first.
    watch = try LifecycleWatch(
      connection: connection, domainName: name,
      onEvent: { event in
        if let stop = LifecycleWatch.stop(event) { feed.yield(.stopped(stop)) }
      },
      // The daemon went away (or stopped answering its keepalive).
      onLost: { feed.yield(.stopped(.connectionLost)) })
    do {
      domain = try connection.createPausedTransientDomain(xml)
    } catch {
      watch.cancel()
      throw error
    }
    do {
      let console = try domain.openConsole(
        onData: { bytes in feed.yield(.console(bytes)) },
        onEnd: { feed.yield(.consoleEnded) })
      state.withLock { $0.console = console }
    } catch {
      domain.destroy()
      watch.cancel()
      throw error
    }
  }

  /// QEMU's monitor through libvirt (`virDomainQemuMonitorCommand`).
  var control: (any MachineControl)? { LibvirtMonitorControl(domain: domain) }

  var drainAfterStop: Duration { logPath == nil ? LibvirtLauncher.drainWithoutLog : .zero }

  func start() async throws -> Int32? {
    state.withLock { $0.start = .now }
    let domain = domain
    try await BlockingWork.run { try domain.resume() }
    // A connection lost before the watch was in place has no callback to
    // come: ask once. (Stops and losses are events from here on.)
    if !connection.isAlive { feed.yield(.stopped(.connectionLost)) }
    return nil
  }

  func destroy() async {
    let console = state.withLock { state -> LibvirtStream? in
      if state.gone { return nil }
      state.gone = true
      return state.console
    }
    guard let console else { return }
    let (domain, watch) = (domain, watch)
    await BlockingWork.run {
      if watch.machineEnd != nil {
        // libvirt is taking the domain down already.
        domain.destroyDetached()
      } else {
        domain.destroy()
      }
      console.close()
    }
    feed.finish()
  }

  func finish(_ run: EngineSummary) async -> MachineReport {
    await destroy()
    watch.cancel()
    let ending: LibvirtEnding
    if let end = run.machineEnd {
      ending = .guest(end)
    } else if let kill = run.kill {
      ending = .harness(kill)
    } else if run.stop == .connectionLost || !connection.isAlive {
      ending = .connectionLost
    } else {
      ending = .stoppedByItself(detail: watch.stopDetail)
    }
    var notes = setupNotes
    var consoleLog: [UInt8]?
    if let logPath {
      let (connection, name) = (connection, name)
      do {
        consoleLog = try await BlockingWork.run { try connection.takeConsoleLog(domain: name, path: logPath) }
        if consoleLog == nil { notes.append(.consoleLogUnavailable("QEMU wrote no console log")) }
      } catch {
        notes.append(.consoleLogUnavailable("console log unreadable: \(error)"))
      }
    }
    let start = state.withLock { $0.start } ?? run.start
    notes.append(
      .timing(
        firstOutput: run.firstOutputAt.map { $0 - start }, exitLine: run.exitLineAt.map { $0 - start },
        stopped: run.stoppedAt.map { $0 - start }))
    let details = LibvirtDetails(
      uri: connection.uri, domain: name, domainXML: xml,
      events: watch.events.map { LifecycleRecord(name: $0.name, at: $0.at - start) },
      ending: ending)
    return MachineReport(details: .libvirt(details), consoleLog: consoleLog, notes: notes)
  }
}
