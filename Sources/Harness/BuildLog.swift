import Synchronization

/// One step a payload builder ran: a compile, an assembly, a link.
public struct BuildStep: Sendable, Equatable {
  /// The guest program whose build ran it (a module is built for the first
  /// program that needs it; editor setup uses `(<arch> modules)`).
  public var guest: String
  /// The architecture built for.
  public var architecture: Architecture
  /// What ran: `swiftc` (the program), `swiftc (GuestLib)`,
  /// `swiftc (GuestArch)`, `swiftc (core)`, `clang (boot.S)`, `ld.lld`,
  /// `llvm-objcopy`...
  public var step: String
  /// Wall time of the step.
  public var seconds: Double
  /// Whether the tool exited with status 0.
  public var succeeded: Bool
}

/// The steps a payload builder and its copies ran, in the order they ended.
/// Tests read it to see what a build compiled; nothing else depends on it.
public final class BuildLog: Sendable {
  private let storage = Mutex<[BuildStep]>([])

  /// An empty log.
  public init() {}

  /// Every step so far.
  public var steps: [BuildStep] { storage.withLock { $0 } }

  /// The steps named `step` (e.g. `swiftc (GuestLib)`) for `architecture`.
  public func steps(named step: String, for architecture: Architecture? = nil) -> [BuildStep] {
    steps.filter { $0.step == step && (architecture == nil || $0.architecture == architecture) }
  }

  /// Forgets every step.
  public func clear() { storage.withLock { $0.removeAll() } }

  func append(_ step: BuildStep) { storage.withLock { $0.append(step) } }
}
