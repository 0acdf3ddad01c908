/// Something that boots a built payload and reports how the run went: bare
/// QEMU by default, or another backend such as libvirt. Every backend feeds
/// the same parser and verdict rules.
public protocol GuestLauncher: Sendable {
  /// Whether the launcher itself decides where KVM is available (remote
  /// hosts); otherwise a KVM cell on a host without `/dev/kvm` is SKIP.
  var checksAcceleratorAvailability: Bool { get }

  /// Boots `payload` with `settings` and waits until the guest is gone.
  func launch(_ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?)
    async throws -> QemuRun
}

/// The default launcher: a `qemu-system-*` child process.
public struct QemuProcessLauncher: GuestLauncher {
  /// A launcher.
  public init() {}

  public var checksAcceleratorAvailability: Bool { false }

  public func launch(
    _ payload: Payload, settings: LaunchSettings, onStart: (@Sendable (Int32) -> Void)?
  ) async throws -> QemuRun {
    try await QemuLauncher.run(bootImage: payload.bootImage, settings: settings, onStart: onStart)
  }
}
