import Foundation
import Synchronization

/// The QEMU process groups this process has started and not yet reaped, so
/// that an interrupt handler can kill every one of them synchronously.
public enum QemuProcessRegistry {
  private static let state = Mutex<(groups: Set<Int32>, closed: Bool)>(([], false))

  /// Process group ids of the QEMU processes running now.
  public static var running: Set<Int32> { state.withLock { $0.groups } }

  /// Records a started group; kills it at once when `killAll` ran already.
  static func register(_ group: Int32) {
    let closed = state.withLock { state in
      state.groups.insert(group)
      return state.closed
    }
    if closed { QemuGuard.stop(group) }
  }

  /// Forgets a group whose leader has exited.
  static func unregister(_ group: Int32) {
    _ = state.withLock { $0.groups.remove(group) }
  }

  /// Sends SIGKILL to every registered QEMU process group. With
  /// `refuseNew`, groups registered afterwards are killed as they start
  /// (for an interrupted run). Safe to call from any thread.
  public static func killAll(refuseNew: Bool = true) {
    let groups = state.withLock { state in
      if refuseNew { state.closed = true }
      return state.groups
    }
    for group in groups { QemuGuard.stop(group) }
  }
}

/// Sizes the launcher keeps to.
public enum QemuLauncherLimits {
  /// Bytes of serial output kept after the output limit was reached.
  public static let keptTail = 16 << 10
}

/// The harness's private directory for QMP sockets: one per process, mode
/// 0700, under the temporary directory.
enum QemuControl {
  private static let counter = Mutex(0)

  /// A fresh socket path for one QEMU.
  static func socketPath() throws -> String {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("swiftguest-qmp-\(getuid())-\(getpid())").path
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let number = counter.withLock { value in
      value += 1
      return value
    }
    return "\(directory)/qmp-\(number).sock"
  }
}
