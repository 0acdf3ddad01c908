import CLibvirt
import Foundation
import Synchronization

/// libvirt's default event loop, registered once before the first
/// connection and run on a dedicated thread for the life of the process.
/// Lifecycle events and console stream data arrive on that thread.
public enum LibvirtEventLoop {
  private static let started = Mutex(false)

  /// Registers the default implementation and starts its thread (once).
  public static func start() throws {
    try started.withLock { started in
      if started { return }
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
