import CLibvirt
import Foundation

/// The console log: QEMU writes every byte the guest sends to its console
/// into a file on the daemon's host, at the moment the guest writes it. The
/// console stream can lose its last bytes (when QEMU exits, the pty hangs
/// up and unread data is dropped), so after the domain stops the harness
/// reads this file, which lives in the harness's storage pool directory so
/// that a remote daemon can hand it back through a volume download.
extension LibvirtConnection {
  /// File name of domain `domain`'s console log; after live migration
  /// `hop` N, the destination's own (`<domain>.hopN.console.log`).
  static func consoleLogName(domain: String, hop: Int = 0) -> String {
    hop == 0 ? "\(domain).console.log" : "\(domain).hop\(hop).console.log"
  }

  /// Where the daemon's QEMU should write `domain`'s console log (after
  /// migration `hop`: the destination's part).
  public func consoleLogPath(domain: String, hop: Int = 0) throws -> String {
    let pool = try payloadPool()
    defer { virStoragePoolFree(pool) }
    return try poolDirectory(pool) + "/" + Self.consoleLogName(domain: domain, hop: hop)
  }

  /// Reads and deletes `domain`'s console log (at `path`, from
  /// `consoleLogPath`): from the file system when the daemon shares this
  /// machine's files, otherwise as a volume download. Nil when QEMU wrote
  /// none.
  public func takeConsoleLog(domain: String, hop: Int = 0, path: String) throws -> [UInt8]? {
    if sharesFiles {
      guard let data = FileManager.default.contents(atPath: path) else { return nil }
      try? FileManager.default.removeItem(atPath: path)
      return Array(data)
    }
    let pool = try payloadPool()
    defer { virStoragePoolFree(pool) }
    guard let volume = virStorageVolLookupByName(pool, Self.consoleLogName(domain: domain, hop: hop)) else {
      return nil
    }
    defer { virStorageVolFree(volume) }
    let bytes = try download(volume)
    virStorageVolDelete(volume, 0)
    return bytes
  }

  private func download(_ volume: virStorageVolPtr) throws -> [UInt8] {
    guard let stream = virStreamNew(pointer, 0) else { throw LibvirtError.last("virStreamNew") }
    defer { virStreamFree(stream) }
    guard virStorageVolDownload(volume, stream, 0, 0, 0) == 0 else {
      throw LibvirtError.last("virStorageVolDownload")
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = buffer.withUnsafeMutableBytes { raw in
        virStreamRecv(stream, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
      }
      if count == 0 { break }
      guard count > 0 else {
        let error = LibvirtError.last("virStreamRecv")
        virStreamAbort(stream)
        throw error
      }
      bytes += buffer[0..<Int(count)]
    }
    guard virStreamFinish(stream) == 0 else { throw LibvirtError.last("virStreamFinish") }
    return bytes
  }

  /// The target directory of the harness's pool on the daemon's host.
  private func poolDirectory(_ pool: virStoragePoolPtr) throws -> String {
    guard let text = virStoragePoolGetXMLDesc(pool, 0) else {
      throw LibvirtError.last("virStoragePoolGetXMLDesc")
    }
    defer { free(text) }
    let xml = String(cString: text)
    guard let open = xml.range(of: "<path>"), let close = xml.range(of: "</path>"),
      open.upperBound <= close.lowerBound
    else {
      throw LibvirtError(
        operation: "pool \(Self.poolName)", message: "its XML names no target path", code: 0)
    }
    return String(xml[open.upperBound..<close.lowerBound])
  }
}
