/// The narrow interface every way of running a guest implements (bare QEMU,
/// libvirt, the tests' fake): create the machine paused, hand out its
/// console bytes and lifecycle events as one stream, offer a control
/// channel, and destroy it. Everything else — the serial parser, the
/// timeline, output limits, the deadline/silence/exit-grace watchdog,
/// cancellation and hang triage — is `RunEngine`'s, once for all backends.
public protocol MachineBackend: Sendable {
  /// The host whose resources the machine uses (for the scheduler's pool).
  var host: HostKey { get }
  /// Whether its machines live-migrate on request (default: no).
  var canMigrate: Bool { get }
  /// Whether its machines reset on request (default: no).
  var canReset: Bool { get }

  /// Creates the machine for `request` without running guest code: no
  /// console byte can be lost before the engine listens.
  func create(_ request: MachineRequest) async throws -> any BackendMachine
}

/// What to boot.
public struct MachineRequest: Sendable {
  /// The guest program's name (for names of domains, logs).
  public var guest: String
  /// The boot image, at a path the backend can read.
  public var bootImage: String
  /// The cell's settings.
  public var settings: LaunchSettings

  /// A request.
  public init(guest: String, bootImage: String, settings: LaunchSettings) {
    self.guest = guest
    self.bootImage = bootImage
    self.settings = settings
  }
}

/// One created machine.
public protocol BackendMachine: AnyObject, Sendable {
  /// Console bytes and lifecycle events in arrival order. The stream
  /// finishes once the machine is gone and its console is drained (for a
  /// destroyed machine: when `destroy` returned or soon after).
  var events: AsyncStream<MachineEvent> { get }
  /// The control channel (QMP, libvirt's monitor passthrough), if any.
  var control: (any MachineControl)? { get }
  /// After the machine stopped by itself, how long console bytes may still
  /// arrive (zero: the backend's console log has every byte anyway).
  var drainAfterStop: Duration { get }

  /// Lets the machine run; returns its host process id when it has one.
  func start() async throws -> Int32?
  /// Ends the machine at once (no-op once it is gone).
  func destroy() async
  /// The backend's details once the event stream finished; `run` says how
  /// the engine saw the run end.
  func finish(_ run: EngineSummary) async -> MachineReport
}

/// One thing a machine reports.
public enum MachineEvent: Sendable, Equatable {
  /// Serial console bytes.
  case console([UInt8])
  /// The console closed.
  case consoleEnded
  /// The machine stopped (only the first stop counts).
  case stopped(MachineStop)
}

/// How a machine stopped, as its backend saw it.
public enum MachineStop: Sendable, Hashable {
  /// QEMU exited with this code.
  case exited(Int32)
  /// QEMU was ended by this signal.
  case signaled(Int32)
  /// The guest powered the machine off (libvirt SHUTDOWN event).
  case poweredOff
  /// The guest panicked (libvirt CRASHED event).
  case panicked
  /// It stopped without saying how (libvirt STOPPED with this detail).
  case stoppedWithoutEnd(detail: Int32?)
  /// The backend lost the machine (a libvirt connection died).
  case connectionLost

  /// The machine's own end, when the stop is one the guest caused.
  public var machineEnd: MachineEnd? {
    switch self {
    case .exited(let code): .exited(code)
    case .poweredOff: .poweredOff
    case .panicked: .panicked
    case .signaled, .stoppedWithoutEnd, .connectionLost: nil
    }
  }
}

/// The host a machine runs on, for resource admission: this machine, or a
/// libvirt daemon by URI.
public enum HostKey: Sendable, Hashable, CustomStringConvertible {
  /// The machine the runner runs on.
  case local
  /// A libvirt daemon.
  case libvirt(uri: String)

  public var description: String {
    switch self {
    case .local: "this host"
    case .libvirt(let uri): uri
    }
  }
}

/// A machine's control channel. Bare QEMU speaks QMP on a private socket;
/// libvirt passes monitor commands through (`virDomainQemuMonitorCommand`).
/// Migration, NMI and reset build on `execute`.
public protocol MachineControl: Sendable {
  /// Sends one monitor command with its JSON `arguments` and returns the
  /// reply's JSON.
  func execute(_ command: String, arguments: String?) async throws -> String
  /// Stops the vCPUs and reads where each one is (program counter and key
  /// registers), with the transcript of the conversation. Bounded in time;
  /// a failure returns what it could and says why in the transcript.
  func triage(architecture: Architecture) async -> TriageCapture
}

/// What the control channel saw before a timeout kill.
public struct TriageCapture: Sendable, Hashable {
  /// Every vCPU's position (not symbolized).
  public var positions: [VcpuPosition]
  /// The monitor transcript.
  public var transcript: [String]
  /// The host threads of the machine (bare QEMU: from /proc).
  public var hostThreads: [String]

  /// A capture.
  public init(positions: [VcpuPosition], transcript: [String], hostThreads: [String] = []) {
    self.positions = positions
    self.transcript = transcript
    self.hostThreads = hostThreads
  }
}

/// How the engine saw a run end (for the backend's report).
public struct EngineSummary: Sendable {
  /// When the run started.
  public var start: ContinuousClock.Instant
  /// Why the harness destroyed the machine, if it did.
  public var kill: HarnessKill?
  /// The first stop the machine reported, if any (before or after a kill).
  public var stop: MachineStop?
  /// When the first console byte, the exit line and the stop came.
  public var firstOutputAt: ContinuousClock.Instant?
  /// When the exit line was parsed.
  public var exitLineAt: ContinuousClock.Instant?
  /// When the machine was seen stopped.
  public var stoppedAt: ContinuousClock.Instant?
  /// The machine's own end, when it stopped by itself before the harness
  /// acted (what the record gets).
  public var machineEnd: MachineEnd?
}

/// What a backend adds to the record after the run.
public struct MachineReport: Sendable {
  /// Typed backend details.
  public var details: BackendDetails
  /// The complete console as the backend logged it, when it keeps a log
  /// (libvirt: QEMU's console log file); it decides over the stream when
  /// it is longer (a pty drops what was unread when QEMU exits).
  public var consoleLog: [UInt8]?
  /// Notes.
  public var notes: [RunNote]

  /// A report.
  public init(details: BackendDetails, consoleLog: [UInt8]? = nil, notes: [RunNote] = []) {
    self.details = details
    self.consoleLog = consoleLog
    self.notes = notes
  }
}
