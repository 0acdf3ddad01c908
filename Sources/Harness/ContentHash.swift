internal import Crypto

/// SHA-256 of a cache key's inputs (payloads, guest modules, the QEMU
/// guard, libvirt's private files), computed by swift-crypto: this type
/// only adds the ways the harness feeds it (byte sequences, NUL-separated
/// fields, raw buffers) and the hexadecimal digest the caches are named by.
public struct ContentHash: Sendable {
  private var hash = Crypto.SHA256()

  /// A fresh hash.
  public init() {}

  /// Adds bytes.
  public mutating func update(_ bytes: some Sequence<UInt8>) {
    let done: Void? = bytes.withContiguousStorageIfAvailable {
      update(buffer: UnsafeRawBufferPointer($0))
    }
    if done == nil { Array(bytes).withUnsafeBytes { update(buffer: $0) } }
  }

  /// Adds a string's UTF-8 bytes followed by a NUL separator.
  public mutating func update(field: String) {
    var text = field
    text.withUTF8 { update(buffer: UnsafeRawBufferPointer($0)) }
    var nul: UInt8 = 0
    withUnsafeBytes(of: &nul) { update(buffer: $0) }
  }

  /// Adds the bytes of `buffer`.
  public mutating func update(buffer: UnsafeRawBufferPointer) {
    hash.update(bufferPointer: buffer)
  }

  /// The digest as 64 lowercase hexadecimal digits.
  public func finalizeHex() -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(64)
    for byte in hash.finalize() {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
  }
}
