import Foundation
import Harness
import LibvirtBackend

/// The local libvirt daemon the libvirt suites use, started by the tests
/// themselves: as root the harness's private libvirtd (`PrivateLibvirtd`,
/// in its own mount namespace, nothing of the system's libvirt touched;
/// it exits by itself 30 s after the last client), as a user
/// `qemu:///session` (libvirt auto-spawns the user's daemon).
/// `HARNESS_LIBVIRT_URI` names another daemon instead.
enum LibvirtTestDaemon {
  /// The private daemon of the tests (nil when not root or overridden).
  static let privateDaemon: PrivateLibvirtd? = {
    guard ProcessInfo.processInfo.environment["HARNESS_LIBVIRT_URI"] == nil, geteuid() == 0 else {
      return nil
    }
    return PrivateLibvirtd()
  }()

  /// The URI of the daemon the suites use.
  static var uri: String {
    if let uri = ProcessInfo.processInfo.environment["HARNESS_LIBVIRT_URI"] { return uri }
    return privateDaemon?.uri ?? "qemu:///session"
  }

  /// A new connection to that daemon, starting the private one if needed
  /// (on a thread of its own: starting a daemon blocks for a second).
  static func connect() async throws -> LibvirtConnection {
    let uri = uri
    return try await BlockingWork.run {
      if let privateDaemon { return try privateDaemon.start().connect() }
      return try LibvirtConnection(uri: uri)
    }
  }
}
