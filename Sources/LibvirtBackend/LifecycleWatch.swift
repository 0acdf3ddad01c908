import CLibvirt
import Dispatch
import Harness
import Synchronization

/// One lifecycle event of a domain, and when it arrived.
struct LifecycleEvent: Sendable {
  var event: Int32
  var detail: Int32
  var at: ContinuousClock.Instant

  private static let names = [
    "DEFINED", "UNDEFINED", "STARTED", "SUSPENDED", "RESUMED", "STOPPED", "SHUTDOWN",
    "PMSUSPENDED", "CRASHED",
  ]

  /// The event's libvirt name and its detail number, e.g. `SHUTDOWN/1`.
  var name: String {
    let base = Self.names.indices.contains(Int(event)) ? Self.names[Int(event)] : "EVENT\(event)"
    return "\(base)/\(detail)"
  }

  func `is`(_ type: virDomainEventType) -> Bool { event == Int32(type.rawValue) }
}

/// Lifecycle events of one domain, matched by name (events may arrive
/// before the create call returns). The connection has one C callback that
/// hands each event to the watch of that domain's name.
final class LifecycleWatch: @unchecked Sendable {
  let domainName: String
  private let state = Mutex<[LifecycleEvent]>([])
  private let connection: LibvirtConnection

  private let onEvent: @Sendable (LifecycleEvent) -> Void
  private let onLost: @Sendable () -> Void
  private let lost = Mutex(false)
  /// Signalled by the STOPPED event (`waitUntilStopped`).
  private let stoppedSignal = DispatchSemaphore(value: 0)

  init(
    connection: LibvirtConnection, domainName: String,
    onEvent: @escaping @Sendable (LifecycleEvent) -> Void = { _ in },
    onLost: @escaping @Sendable () -> Void = {}
  ) throws {
    self.connection = connection
    self.domainName = domainName
    self.onEvent = onEvent
    self.onLost = onLost
    try connection.addWatch(self)
  }

  /// The connection closed (libvirt's close callback); `onLost` runs once.
  func connectionLost() {
    let first = lost.withLock { was in
      defer { was = true }
      return !was
    }
    if first { onLost() }
  }

  func record(_ event: Int32, _ detail: Int32) {
    let event = LifecycleEvent(event: event, detail: detail, at: .now)
    state.withLock { $0.append(event) }
    onEvent(event)
    if event.is(VIR_DOMAIN_EVENT_STOPPED) { stoppedSignal.signal() }
  }

  /// Blocks until the STOPPED event has come, for at most `timeout`;
  /// whether it came. For one waiting thread (not the event loop's).
  func waitUntilStopped(timeout: Duration) -> Bool {
    if stopped { return true }
    let (seconds, attoseconds) = timeout.components
    let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    return stoppedSignal.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success || stopped
  }

  /// How the machine stopped, if `event` says it did: a guest power-off,
  /// a panic, or a stop without either (a host-caused SHUTDOWN is not one:
  /// its STOPPED follows).
  static func stop(_ event: LifecycleEvent) -> MachineStop? {
    if event.is(VIR_DOMAIN_EVENT_CRASHED) { return .panicked }
    if event.is(VIR_DOMAIN_EVENT_SHUTDOWN) {
      return event.detail == Int32(VIR_DOMAIN_EVENT_SHUTDOWN_HOST.rawValue) ? nil : .poweredOff
    }
    if event.is(VIR_DOMAIN_EVENT_STOPPED) {
      switch event.detail {
      case Int32(VIR_DOMAIN_EVENT_STOPPED_CRASHED.rawValue): return .panicked
      case Int32(VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN.rawValue): return .poweredOff
      default: return .stoppedWithoutEnd(detail: event.detail)
      }
    }
    return nil
  }

  /// Events so far.
  var events: [LifecycleEvent] { state.withLock { $0 } }

  /// Whether the domain stopped (shut down, crashed or was destroyed).
  var stopped: Bool { events.contains { $0.is(VIR_DOMAIN_EVENT_STOPPED) } }

  /// Whether the guest panicked.
  var crashed: Bool {
    events.contains {
      $0.is(VIR_DOMAIN_EVENT_CRASHED)
        || ($0.is(VIR_DOMAIN_EVENT_STOPPED)
          && $0.detail == Int32(VIR_DOMAIN_EVENT_STOPPED_CRASHED.rawValue))
    }
  }

  /// Whether the guest powered off.
  var shutdown: Bool {
    events.contains {
      $0.is(VIR_DOMAIN_EVENT_SHUTDOWN)
        || ($0.is(VIR_DOMAIN_EVENT_STOPPED)
          && $0.detail == Int32(VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN.rawValue))
    }
  }

  /// How the machine itself ended so far: `.panicked` after a CRASHED
  /// event, `.poweredOff` after a guest-requested SHUTDOWN (not one the
  /// host caused, detail 2), nil otherwise.
  var machineEnd: MachineEnd? {
    if crashed { return .panicked }
    let hostShutdown = Int32(VIR_DOMAIN_EVENT_SHUTDOWN_HOST.rawValue)
    let guestShutdown = events.contains {
      ($0.is(VIR_DOMAIN_EVENT_SHUTDOWN) && $0.detail != hostShutdown)
        || ($0.is(VIR_DOMAIN_EVENT_STOPPED)
          && $0.detail == Int32(VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN.rawValue))
    }
    return guestShutdown ? .poweredOff : nil
  }

  /// The detail of the STOPPED event, if one came.
  var stopDetail: Int32? { events.first { $0.is(VIR_DOMAIN_EVENT_STOPPED) }?.detail }

  /// The events with their arrival time after `start`, for the run's notes.
  func summary(since start: ContinuousClock.Instant) -> String {
    events.map { "\($0.name)@\(RunNote.milliseconds($0.at - start))" }.joined(separator: " ")
  }

  func cancel() { connection.removeWatch(self) }
}
