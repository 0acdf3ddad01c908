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

/// Live migration (`virDomainMigrate3`).
extension LibvirtDomain {
  /// The domain's XML as a destination must receive it
  /// (`VIR_DOMAIN_XML_MIGRATABLE`).
  public func migratableXML() throws -> String {
    guard let text = virDomainGetXMLDesc(pointer, UInt32(VIR_DOMAIN_XML_MIGRATABLE.rawValue)) else {
      throw LibvirtError.last("virDomainGetXMLDesc")
    }
    defer { free(text) }
    return String(cString: text)
  }

  /// Live-migrates the domain to `destination`'s daemon and leaves it
  /// paused there (`VIR_MIGRATE_LIVE | VIR_MIGRATE_PAUSED`), over QEMU's
  /// migration `uri` (e.g. `tcp:127.0.0.1`), with `xml` as the
  /// destination's definition when given (paths that differ on that host).
  /// The source domain, transient, is gone afterwards. Blocks until libvirt
  /// finished or failed.
  public func migrate(to destination: LibvirtConnection, uri: String?, xml: String?) throws
    -> LibvirtDomain
  {
    var parameters: virTypedParameterPtr?
    var count: Int32 = 0
    var capacity: Int32 = 0
    defer { virTypedParamsFree(parameters, count) }
    if let uri {
      guard virTypedParamsAddString(&parameters, &count, &capacity, VIR_MIGRATE_PARAM_URI, uri) == 0
      else { throw LibvirtError.last("virTypedParamsAddString") }
    }
    if let xml {
      guard virTypedParamsAddString(&parameters, &count, &capacity, VIR_MIGRATE_PARAM_DEST_XML, xml) == 0
      else { throw LibvirtError.last("virTypedParamsAddString") }
    }
    let flags = VIR_MIGRATE_LIVE.rawValue | VIR_MIGRATE_PAUSED.rawValue
    guard let moved = virDomainMigrate3(pointer, destination.pointer, parameters, UInt32(count), flags)
    else { throw LibvirtError.last("virDomainMigrate3") }
    return LibvirtDomain(pointer: moved, connection: destination)
  }

  /// Figures of the domain's last completed job (on a migration's
  /// destination: that migration), as libvirt reports them.
  public func completedJobStatistics() -> (downtime: Int?, elapsed: Int?, transferred: Int?) {
    var type: Int32 = 0
    var parameters: virTypedParameterPtr?
    var count: Int32 = 0
    guard
      virDomainGetJobStats(
        pointer, &type, &parameters, &count, UInt32(VIR_DOMAIN_JOB_STATS_COMPLETED.rawValue)) == 0
    else { return (nil, nil, nil) }
    defer { virTypedParamsFree(parameters, count) }
    func value(_ name: String) -> Int? {
      var result: UInt64 = 0
      return virTypedParamsGetULLong(parameters, count, name, &result) == 1 ? Int(result) : nil
    }
    return (
      value(VIR_DOMAIN_JOB_DOWNTIME), value(VIR_DOMAIN_JOB_TIME_ELAPSED),
      value(VIR_DOMAIN_JOB_MEMORY_PROCESSED) ?? value(VIR_DOMAIN_JOB_DATA_PROCESSED)
    )
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

  /// Writes `bytes` to the stream (the console's input), waiting while
  /// the non-blocking stream is full; throws when it is closed or fails.
  public func send(_ bytes: [UInt8], timeout: Duration = .seconds(5)) throws {
    let deadline = ContinuousClock.now + timeout
    var offset = 0
    while offset < bytes.count {
      let count = bytes[offset...].withUnsafeBytes { raw in
        virStreamSend(pointer, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
      }
      if count > 0 {
        offset += Int(count)
      } else if count == -2, ContinuousClock.now < deadline {
        usleep(1_000)  // would block: the daemon has not taken the last bytes yet
      } else {
        throw LibvirtError.last("virStreamSend")
      }
    }
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
