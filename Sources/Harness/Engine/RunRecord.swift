/// What one boot of a guest produced, whichever backend ran it: the parsed
/// serial stream and log, how the run ended, and the backend's own details
/// (typed, never glued into a reason). The judge (`VerdictJudge`) reads
/// nothing else.
public struct RunRecord: Sendable {
  /// The parsed serial stream.
  public var stream: ParsedStream
  /// The raw serial output (head to the output limit, then a marker and
  /// the tail).
  public var serialLog: String
  /// Which limit ended the run, if one did.
  public var timeout: TimeoutKind?
  /// Wall time from start to the machine's end.
  public var duration: Duration
  /// Whether the run was cut short because its task was cancelled (Ctrl-C)
  /// before the guest's exit line: the machine was destroyed and the
  /// verdict means nothing.
  public var interrupted: Bool = false
  /// When the serial output arrived.
  public var timeline = SerialTimeline()
  /// How the machine itself ended, when it ended on its own (nil: the
  /// harness had to destroy it, or it never stopped). See `MachineEnd`.
  public var machineEnd: MachineEnd? = nil
  /// The output limit (bytes) when the serial output passed it (or the
  /// guest passed the check limit) and the machine was destroyed for it.
  public var outputLimitReached: Int? = nil
  /// Where each vCPU was when a timeout made the harness destroy the
  /// machine (read through the control channel just before; symbolized by
  /// `GuestRunner` when a symbolizer is available).
  public var vcpuPositions: [VcpuPosition] = []
  /// What the engine and the backend remarked, typed.
  public var notes: [RunNote] = []
  /// Every live migration of the run that completed, in order.
  public var migrations: [MigrationHop] = []
  /// The migration that failed (the harness destroyed the machine then).
  public var migrationFailure: MigrationFailure? = nil
  /// Every reset the harness made on the guest's request, in order.
  public var resets: [MachineReset] = []
  /// The reset that failed or that the backend cannot make (the harness
  /// destroyed the machine then).
  public var resetFailure: ResetFailure? = nil
  /// The backend's own details.
  public var backend: BackendDetails

  /// A record; the other fields start empty.
  public init(
    stream: ParsedStream, serialLog: String, timeout: TimeoutKind?, duration: Duration,
    backend: BackendDetails
  ) {
    self.stream = stream
    self.serialLog = serialLog
    self.timeout = timeout
    self.duration = duration
    self.backend = backend
  }

  /// A bare QEMU run (tests build records of finished runs this way).
  public init(
    stream: ParsedStream, serialLog: String, stderr: String, exitCode: Int32?, signal: Int32?,
    timeout: TimeoutKind?, duration: Duration, command: [String], processID: Int32
  ) {
    self.init(
      stream: stream, serialLog: serialLog, timeout: timeout, duration: duration,
      backend: .qemu(
        QemuDetails(
          argv: command, processID: processID, exitCode: exitCode, signal: signal, stderr: stderr)))
  }

  /// QEMU's exit code (bare QEMU only).
  public var exitCode: Int32? {
    if case .qemu(let details) = backend { return details.exitCode }
    return nil
  }

  /// The signal that ended QEMU (bare QEMU only).
  public var signal: Int32? {
    if case .qemu(let details) = backend { return details.signal }
    return nil
  }

  /// How the machine was started: QEMU's argv, or the libvirt call, URI
  /// and domain XML.
  public var command: [String] {
    switch backend {
    case .qemu(let details): details.argv
    case .libvirt(let details): ["virDomainCreateXML", details.uri, details.domainXML]
    case .other(let name, _): [name]
    }
  }

  /// QEMU's process id (its process group id too); nil for other backends.
  public var processID: Int32? {
    if case .qemu(let details) = backend { return details.processID }
    return nil
  }

  /// The libvirt details, for a libvirt run.
  public var libvirt: LibvirtDetails? {
    if case .libvirt(let details) = backend { return details }
    return nil
  }

  /// The backend's diagnostic text for the logs and reports: QEMU's
  /// standard error, then the notes, one a line.
  public var stderr: String {
    var lines: [String] = []
    var text = ""
    switch backend {
    case .qemu(let details): text = details.stderr
    case .libvirt(let details):
      lines.append("libvirt \(details.uri) domain \(details.domain)")
    case .other(_, let remarks): lines += remarks
    }
    for note in notes where !note.belongsInReason {
      lines.append(note.description)
    }
    if let details = libvirt, let ending = details.ending {
      lines.append("events: \(details.eventSummary)")
      if let hops = details.migratedTo, !hops.isEmpty {
        lines.append(
          "migrated to: " + hops.enumerated().map { "hop\($0.offset + 1) \($0.element)" }.joined(separator: ", "))
      }
      lines.append("libvirt: \(ending.description)")
    }
    if lines.isEmpty { return text }
    if text.isEmpty { return lines.joined(separator: "\n") }
    return text + "\n" + lines.joined(separator: "\n")
  }
}

/// What a backend knows about its run, typed per backend.
public enum BackendDetails: Sendable, Hashable, Codable {
  /// A `qemu-system-*` child process.
  case qemu(QemuDetails)
  /// A transient libvirt domain.
  case libvirt(LibvirtDetails)
  /// Another backend (e.g. the tests' fake): its name and remarks.
  case other(name: String, remarks: [String])
}

/// A bare QEMU process.
public struct QemuDetails: Sendable, Hashable, Codable {
  /// argv, executable first.
  public var argv: [String]
  /// Process id (the guard's; its process group id too).
  public var processID: Int32
  /// Exit code, or nil when QEMU was ended by a signal.
  public var exitCode: Int32?
  /// The signal that ended it, if any.
  public var signal: Int32?
  /// QEMU's standard error.
  public var stderr: String

  /// Details of one QEMU process.
  public init(argv: [String], processID: Int32, exitCode: Int32?, signal: Int32?, stderr: String) {
    self.argv = argv
    self.processID = processID
    self.exitCode = exitCode
    self.signal = signal
    self.stderr = stderr
  }
}

/// A transient libvirt domain.
public struct LibvirtDetails: Sendable, Hashable, Codable {
  /// The connection's URI.
  public var uri: String
  /// The domain's name.
  public var domain: String
  /// The domain XML it was created from.
  public var domainXML: String
  /// Lifecycle events (`SHUTDOWN/1`…) with their arrival time after start.
  public var events: [LifecycleRecord]
  /// Who ended the domain.
  public var ending: LibvirtEnding?
  /// After live migrations: the URI of each hop's destination daemon, in
  /// order (the events of hop N are named `hopN:EVENT/detail`).
  public var migratedTo: [String]?

  /// Details of one domain.
  public init(
    uri: String, domain: String, domainXML: String, events: [LifecycleRecord] = [],
    ending: LibvirtEnding? = nil, migratedTo: [String]? = nil
  ) {
    self.uri = uri
    self.domain = domain
    self.domainXML = domainXML
    self.events = events
    self.ending = ending
    self.migratedTo = migratedTo
  }

  /// `NAME/detail@12ms …`.
  public var eventSummary: String {
    events.map { "\($0.name)@\(RunNote.milliseconds($0.at))" }.joined(separator: " ")
  }

}

/// One lifecycle event of a libvirt domain: its name with the detail
/// number (`SHUTDOWN/1`) and when it came after the run's start.
public struct LifecycleRecord: Sendable, Hashable, Codable {
  /// `NAME/detail`.
  public var name: String
  /// Arrival after the start.
  public var at: Duration

  /// A record.
  public init(name: String, at: Duration) {
    self.name = name
    self.at = at
  }
}

/// Who ended a libvirt domain.
public enum LibvirtEnding: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The guest: libvirt's SHUTDOWN or CRASHED event.
  case guest(MachineEnd)
  /// The domain stopped without a power-off or panic event (e.g. a reset
  /// under `<on_reboot>destroy`), with the STOPPED event's detail.
  case stoppedByItself(detail: Int32?)
  /// The harness destroyed it.
  case harness(HarnessKill)
  /// The connection to the daemon died first.
  case connectionLost

  public var description: String {
    switch self {
    case .guest(.panicked): "the guest panicked (CRASHED event)"
    case .guest: "the guest powered off (SHUTDOWN event)"
    case .stoppedByItself(let detail):
      "the domain stopped by itself without a power-off or panic event"
        + (detail.map { " (STOPPED/\($0))" } ?? "")
    case .harness(let kill): "destroyed by the harness: \(kill)"
    case .connectionLost: "the connection to the daemon was lost"
    }
  }
}

/// Why the harness destroyed a machine.
public enum HarnessKill: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The run's task was cancelled (Ctrl-C).
  case interrupted
  /// The serial output passed the output limit or the check limit.
  case outputLimit
  /// The deadline or the silence timeout.
  case timeout(TimeoutKind)
  /// The exit line came but the machine did not stop within the grace.
  case exitGrace(Duration)
  /// A live migration the guest asked for failed or took too long.
  case migrationFailed(MigrationFailure)
  /// A reset the guest asked for failed, or the backend cannot reset.
  case resetFailed(ResetFailure)

  /// Whether the vCPUs' positions are read before this kill: the guest
  /// would not end by itself (not for Ctrl-C, nor a failed migration).
  public var triaged: Bool {
    switch self {
    case .timeout, .outputLimit, .exitGrace: true
    case .interrupted, .migrationFailed, .resetFailed: false
    }
  }

  public var description: String {
    switch self {
    case .interrupted: "interrupted"
    case .outputLimit: "output limit"
    case .timeout(.deadline): "timeout (deadline)"
    case .timeout(.silence): "timeout (silence)"
    case .exitGrace(let grace):
      "exit grace (no power-off or panic \(RunNote.milliseconds(grace)) after the exit line)"
    case .migrationFailed(let failure): failure.description
    case .resetFailed(let failure): failure.description
    }
  }
}

/// A remark about a run, typed; `description` is its text for the logs.
public enum RunNote: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The host's threads of the machine when a timeout killed it.
  case hostThreads([String])
  /// The control channel's transcript (QMP or monitor passthrough).
  case monitorTranscript([String])
  /// The backend's console log could not be set up or read: the stream
  /// alone decides.
  case consoleLogUnavailable(String)
  /// The console stream missed the last bytes the console log has.
  case consoleStreamLostTail(bytes: Int)
  /// Stream and log differ; the longer one decides.
  case consoleStreamDiffers(streamed: Int, logged: Int)
  /// When the first output, the exit line and the stop were seen.
  case timing(firstOutput: Duration?, exitLine: Duration?, stopped: Duration?)
  /// The cell was re-queued after these hosts dropped out.
  case requeued(after: [String])
  /// The host (libvirt URI) that ran the cell.
  case ranOn(String)
  /// The run's live migrations (downtime and total time per hop).
  case migrations([MigrationHop])
  /// Machine pokes the guest asked for: NMIs injected, pokes that failed.
  case pokes(nmis: Int, failures: [String])
  /// The resets the harness made on the guest's request.
  case resets([MachineReset])

  /// Notes that are part of the verdict's reason (where the cell ran).
  public var belongsInReason: Bool {
    switch self {
    case .requeued, .ranOn: true
    default: false
    }
  }

  public var description: String {
    switch self {
    case .hostThreads(let threads):
      "QEMU threads when the timeout killed it:\n" + threads.map { "  " + $0 }.joined(separator: "\n")
    case .monitorTranscript(let lines):
      "QEMU monitor (QMP) before the kill:\n" + lines.map { "  " + $0 }.joined(separator: "\n")
    case .consoleLogUnavailable(let why): "\(why) (the stream alone decides)"
    case .consoleStreamLostTail(let bytes):
      "the console stream lost the last \(bytes) bytes; the console log has them"
    case .consoleStreamDiffers(let streamed, let logged):
      "the console stream (\(streamed) bytes) and the console log (\(logged) bytes) differ; the longer one decides"
    case .timing(let first, let exit, let stopped):
      [
        first.map { "first output @\(Self.milliseconds($0))" },
        exit.map { "exit line @\(Self.milliseconds($0))" },
        stopped.map { "seen stopped @\(Self.milliseconds($0))" },
      ].compactMap { $0 }.joined(separator: ", ")
    case .requeued(let hosts): "re-queued after \(hosts.joined(separator: ", ")) dropped out"
    case .ranOn(let uri): "ran on \(uri)"
    case .migrations(let hops): hops.map(\.summary).joined(separator: "\n")
    case .pokes(let nmis, let failures):
      (["NMIs injected on request: \(nmis)"] + failures.map { "failed: \($0)" }).joined(separator: "\n")
    case .resets(let resets): resets.map(\.summary).joined(separator: "\n")
    }
  }

  /// Short millisecond text (`12ms`).
  public static func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
  }
}

/// What launching a cell came to: a run, or a reason it could not run
/// here (a skip is not a run).
public enum LaunchOutcome: Sendable {
  /// The machine ran.
  case ran(RunRecord)
  /// The backend cannot run the cell here (SKIP), and why.
  case skipped(String)

  /// The run's record, unless skipped.
  public var record: RunRecord? {
    if case .ran(let record) = self { return record }
    return nil
  }
}

/// The limit that ended a run.
public enum TimeoutKind: String, Sendable, Codable {
  /// The overall deadline.
  case deadline
  /// No serial output for the silence timeout.
  case silence
}
