import CLibvirt
import Foundation
import Synchronization

/// libvirt's default event loop, registered once before the first
/// connection and run on a dedicated thread for the life of the process.
/// Lifecycle events and console stream data arrive on that thread.
public enum LibvirtEventLoop {
  private static let started = Mutex(false)

  /// Loads libvirt (the runner does not link it: `CLibvirt`), registers
  /// the default implementation and starts its thread (once). Throws when
  /// libvirt is not installed, naming the library and the package.
  public static func start() throws {
    try started.withLock { started in
      if started { return }
      var message: UnsafePointer<CChar>?
      guard swiftguest_libvirt_load(&message) == 0 else {
        throw LibvirtError(
          operation: "loading libvirt", message: message.map { String(cString: $0) } ?? "unknown error",
          code: 0)
      }
      // Errors are read through virGetLastError; keep libvirt from also
      // printing every one of them to stderr.
      virSetErrorFunc(nil) { _, _ in }
      guard virEventRegisterDefaultImpl() == 0 else {
        throw LibvirtError.last("virEventRegisterDefaultImpl")
      }
      let thread = Thread {
        while true {
          if virEventRunDefaultImpl() < 0 { Thread.sleep(forTimeInterval: 0.01) }
        }
      }
      thread.name = "libvirt-events"
      thread.start()
      started = true
    }
  }
}
