import CLibvirt
import Foundation

extension LibvirtConnection {
  /// Name of the transient directory pool holding uploaded payloads.
  static let poolName = "swiftguest-payloads"

  /// The default of `sharesFiles`: a local daemon, except a system one
  /// (`…/system`), whose standard security model runs QEMU as its own user,
  /// which may not read the harness's files, nor the harness its files.
  static func sharesFilesByDefault(uri: String) -> Bool {
    guard let url = URL(string: uri) else { return false }
    let host = url.host ?? ""
    let local = host.isEmpty || host == "localhost" || host == "127.0.0.1" || url.scheme == "test"
    return local && url.path != "/system"
  }

  /// The harness's pool directory on a daemon reached by `uri`: under the
  /// user's home for `qemu:///session`, else `/var/lib/libvirt`.
  public static func defaultPayloadDirectory(for uri: String) -> String {
    if let url = URL(string: uri), url.path == "/session", (url.host ?? "").isEmpty {
      let data =
        ProcessInfo.processInfo.environment["XDG_DATA_HOME"]
        ?? NSHomeDirectory() + "/.local/share"
      return data + "/libvirt/\(poolName)"
    }
    return "/var/lib/libvirt/\(poolName)"
  }

  /// A path on the daemon's host holding the file at `localPath`: the path
  /// itself when the daemon shares this machine's files (`sharesFiles`),
  /// otherwise a storage volume named `name` (a content hash, so an
  /// unchanged payload is uploaded once) written over a libvirt stream into
  /// a transient directory pool, which the daemon labels for its QEMU.
  public func payloadPath(localPath: String, name: String) throws -> String {
    if sharesFiles { return localPath }
    return try storage.withLock { _ in try uploadLocked(localPath: localPath, name: name) }
  }

  private func uploadLocked(localPath: String, name: String) throws -> String {
    let pool = try payloadPoolLocked()
    defer { virStoragePoolFree(pool) }
    if let existing = virStorageVolLookupByName(pool, name) {
      defer { virStorageVolFree(existing) }
      return try volumePath(existing)
    }
    guard let data = FileManager.default.contents(atPath: localPath) else {
      throw LibvirtError(operation: "upload", message: "cannot read \(localPath)", code: 0)
    }
    let xml = """
      <volume><name>\(DomainXML.escape(name))</name>\
      <capacity unit='bytes'>\(data.count)</capacity><target><format type='raw'/></target></volume>
      """
    guard let volume = virStorageVolCreateXML(pool, xml, 0) else {
      let error = LibvirtError.last("virStorageVolCreateXML(\(name))")
      // Another process made it since the lookup: use that one.
      virStoragePoolRefresh(pool, 0)
      if let existing = virStorageVolLookupByName(pool, name) {
        defer { virStorageVolFree(existing) }
        return try volumePath(existing)
      }
      throw error
    }
    defer { virStorageVolFree(volume) }
    guard let stream = virStreamNew(pointer, 0) else { throw LibvirtError.last("virStreamNew") }
    defer { virStreamFree(stream) }
    guard virStorageVolUpload(volume, stream, 0, UInt64(data.count), 0) == 0 else {
      throw LibvirtError.last("virStorageVolUpload(\(name))")
    }
    let sent = data.withUnsafeBytes { raw -> Bool in
      var offset = 0
      while offset < raw.count {
        let chunk = min(64 * 1024, raw.count - offset)
        let count = virStreamSend(
          stream, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), chunk)
        if count <= 0 { return false }
        offset += Int(count)
      }
      return true
    }
    guard sent else {
      let error = LibvirtError.last("virStreamSend(\(name))")
      virStreamAbort(stream)
      virStorageVolDelete(volume, 0)
      throw error
    }
    guard virStreamFinish(stream) == 0 else { throw LibvirtError.last("virStreamFinish(\(name))") }
    return try volumePath(volume)
  }

  private func volumePath(_ volume: virStorageVolPtr) throws -> String {
    guard let path = virStorageVolGetPath(volume) else {
      throw LibvirtError.last("virStorageVolGetPath")
    }
    defer { free(path) }
    return String(cString: path)
  }

  /// The harness's pool on this daemon, created (transient) when missing.
  func payloadPool() throws -> virStoragePoolPtr {
    try storage.withLock { _ in try payloadPoolLocked() }
  }

  private func payloadPoolLocked() throws -> virStoragePoolPtr {
    if let pool = lookUpPayloadPool() { return pool }
    let xml = """
      <pool type='dir'><name>\(Self.poolName)</name>\
      <target><path>\(DomainXML.escape(payloadDirectory))</path></target></pool>
      """
    guard let pool = virStoragePoolCreateXML(pointer, xml, UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue))
    else {
      let error = LibvirtError.last("virStoragePoolCreateXML(\(Self.poolName))")
      // Another client of the daemon (a second runner, another test process)
      // created it since the lookup.
      if let pool = lookUpPayloadPool() { return pool }
      throw error
    }
    return pool
  }

  private func lookUpPayloadPool() -> virStoragePoolPtr? {
    guard let pool = virStoragePoolLookupByName(pointer, Self.poolName) else { return nil }
    if virStoragePoolIsActive(pool) != 1 { virStoragePoolCreate(pool, 0) }
    virStoragePoolRefresh(pool, 0)
    return pool
  }
}
