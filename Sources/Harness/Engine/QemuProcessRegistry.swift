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
/// 0700, under the temporary directory, removed when the process exits. A
/// process that could not remove its own (killed with SIGKILL) leaves it to
/// the next harness process of the same user, which removes the
/// directories of processes that no longer exist.
enum QemuControl {
  private static let counter = Mutex(0)
  static let prefix = "swiftguest-qmp-\(getuid())-"

  /// This process's directory; the first use sweeps the stale ones and
  /// arranges the removal at exit.
  private static let directory: String = {
    let temporary = FileManager.default.temporaryDirectory.path
    sweepStale(in: temporary)
    atexit { QemuControl.removeOwnDirectory() }
    return temporary + "/" + prefix + "\(getpid())"
  }()

  /// Removes this process's socket directory (at exit).
  static func removeOwnDirectory() {
    let path = FileManager.default.temporaryDirectory.path + "/" + prefix + "\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
  }

  /// Removes, under `temporary`, the socket directories of this user's
  /// harness processes that no longer exist; returns their paths. Only
  /// real directories owned by this user with the harness's name are
  /// touched, never a symbolic link, a live process's directory or
  /// anything else.
  @discardableResult
  static func sweepStale(in temporary: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
    var removed: [String] = []
    for name in names where name.hasPrefix(prefix) {
      guard let pid = Int32(name.dropFirst(prefix.count)), pid > 0, pid != getpid() else { continue }
      // Alive (or not ours to signal): keep it.
      if kill(pid, 0) == 0 || errno != ESRCH { continue }
      let path = temporary + "/" + name
      var info = stat()
      guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid() else {
        continue
      }
      if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
    }
    return removed
  }

  /// A fresh socket path for one QEMU.
  static func socketPath() throws -> String {
    let directory = directory
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    let number = counter.withLock { value in
      value += 1
      return value
    }
    return "\(directory)/qmp-\(number).sock"
  }
}
