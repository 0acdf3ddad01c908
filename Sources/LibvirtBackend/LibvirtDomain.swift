import CLibvirt
import Foundation
import Synchronization

/// A running libvirt domain.
public final class LibvirtDomain: @unchecked Sendable {
  let pointer: virDomainPtr
  /// The connection it belongs to (kept alive as long as the domain).
  public let connection: LibvirtConnection

  init(pointer: virDomainPtr, connection: LibvirtConnection) {
    self.pointer = pointer
    self.connection = connection
  }

  deinit { virDomainFree(pointer) }

  /// The domain's name.
  public var name: String {
    virDomainGetName(pointer).map { String(cString: $0) } ?? ""
  }

  /// Whether it is still running (or paused).
  public var isActive: Bool { virDomainIsActive(pointer) == 1 }

  /// Whether libvirt says for certain that it is no longer running (a
  /// failed query under load is not taken as "stopped").
  public var isCertainlyInactive: Bool { virDomainIsActive(pointer) == 0 }

  /// Resumes a paused domain.
  public func resume() throws {
    guard virDomainResume(pointer) == 0 else { throw LibvirtError.last("virDomainResume") }
  }

  /// Stops it at once (no-op when it already stopped). Returns when libvirt
  /// saw QEMU go.
  public func destroy() {
    if !isCertainlyInactive { _ = virDomainDestroy(pointer) }
  }

  /// Destroys it on a thread of its own, for a domain libvirt is already
  /// taking down (libvirt polls for QEMU's end every 200 ms; nobody needs to
  /// wait for that).
  public func destroyDetached() {
    Thread.detachNewThread { [self] in destroy() }
  }

  /// Opens the domain's console (its first serial/SCLP console, a pty) as a
  /// non-blocking stream whose data goes to `onData`; `onEnd` runs when the
  /// console closes. Both run on the libvirt event thread.
  public func openConsole(
    onData: @escaping @Sendable ([UInt8]) -> Void, onEnd: @escaping @Sendable () -> Void
  ) throws -> LibvirtStream {
    guard let stream = virStreamNew(connection.pointer, UInt32(VIR_STREAM_NONBLOCK.rawValue)) else {
      throw LibvirtError.last("virStreamNew")
    }
    guard virDomainOpenConsole(pointer, nil, stream, UInt32(VIR_DOMAIN_CONSOLE_FORCE.rawValue)) == 0
    else {
      let error = LibvirtError.last("virDomainOpenConsole")
      virStreamFree(stream)
      throw error
    }
    let console = LibvirtStream(pointer: stream, onData: onData, onEnd: onEnd)
    try console.watch()
    return console
  }
}

/// A non-blocking libvirt stream read through the event loop.
public final class LibvirtStream: @unchecked Sendable {
  let pointer: virStreamPtr
  let onData: @Sendable ([UInt8]) -> Void
  let onEnd: @Sendable () -> Void
  private let state = Mutex((watching: false, ended: false))

  init(
    pointer: virStreamPtr, onData: @escaping @Sendable ([UInt8]) -> Void,
    onEnd: @escaping @Sendable () -> Void
  ) {
    self.pointer = pointer
    self.onData = onData
    self.onEnd = onEnd
  }

  deinit {
    close()
    virStreamFree(pointer)
  }

  /// Whether the other end closed.
  public var ended: Bool { state.withLock { $0.ended } }

  func watch() throws {
    let events = Int32(
      VIR_STREAM_EVENT_READABLE.rawValue | VIR_STREAM_EVENT_ERROR.rawValue
        | VIR_STREAM_EVENT_HANGUP.rawValue)
    let opaque = Unmanaged.passRetained(self).toOpaque()
    let result = virStreamEventAddCallback(
      pointer, events,
      { _, _, opaque in
        Unmanaged<LibvirtStream>.fromOpaque(opaque!).takeUnretainedValue().readable()
      }, opaque,
      { opaque in Unmanaged<LibvirtStream>.fromOpaque(opaque!).release() })
    guard result == 0 else {
      Unmanaged<LibvirtStream>.fromOpaque(opaque).release()
      throw LibvirtError.last("virStreamEventAddCallback")
    }
    state.withLock { $0.watching = true }
  }

  /// Drains what is readable now (event thread).
  private func readable() {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = buffer.withUnsafeMutableBytes { raw in
        virStreamRecv(pointer, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
      }
      if count > 0 {
        onData(Array(buffer[0..<Int(count)]))
        continue
      }
      if count == -2 { return }  // would block
      finish()
      return
    }
  }

  private func finish() {
    let first = state.withLock { state -> Bool in
      if state.ended { return false }
      state.ended = true
      return true
    }
    if first {
      stopWatching()
      onEnd()
    }
  }

  private func stopWatching() {
    let watching = state.withLock { state -> Bool in
      let was = state.watching
      state.watching = false
      return was
    }
    if watching { virStreamEventRemoveCallback(pointer) }
  }

  /// Stops reading and aborts the stream.
  public func close() {
    stopWatching()
    let wasEnded = state.withLock { state -> Bool in
      let was = state.ended
      state.ended = true
      return was
    }
    if !wasEnded { virStreamAbort(pointer) }
  }
}
