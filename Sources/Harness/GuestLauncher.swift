/// Places a built payload on a backend and runs it through the `RunEngine`:
/// bare QEMU by default, or a pool of libvirt hosts. Every launcher feeds
/// the same engine, parser and judge.
public protocol GuestLauncher: Sendable {
  /// Whether the launcher itself decides where KVM is available (remote
  /// hosts); otherwise a KVM cell on a host without `/dev/kvm` is SKIP.
  var checksAcceleratorAvailability: Bool { get }

  /// The host whose pool admits its guests, or nil when the launcher
  /// places guests on hosts and admits them itself (a libvirt pool).
  var host: HostKey? { get }

  /// Whether its machines live-migrate on request (default: no).
  var canMigrate: Bool { get }
  /// Whether its machines reset on request (default: no).
  var canReset: Bool { get }

  /// Boots `payload` with `settings` and waits until the machine is gone;
  /// `.skipped` when the launcher cannot run it anywhere.
  func launch(_ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?)
    async throws -> LaunchOutcome
}

/// A launcher that runs every payload on one backend.
public struct EngineLauncher: GuestLauncher {
  /// The backend.
  public var backend: any MachineBackend
  /// The engine.
  public var engine = RunEngine()

  /// A launcher for `backend`.
  public init(_ backend: any MachineBackend) { self.backend = backend }

  public var checksAcceleratorAvailability: Bool { false }

  public var host: HostKey? { backend.host }

  public var canMigrate: Bool { backend.canMigrate }

  public var canReset: Bool { backend.canReset }

  public func launch(
    _ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?
  ) async throws -> LaunchOutcome {
    let request = MachineRequest(
      guest: payload.program.name, bootImage: payload.bootImage, settings: settings)
    return .ran(try await engine.run(backend, request: request, onStart: onStart))
  }
}
