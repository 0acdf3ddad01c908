/// SHA-256 (FIPS 180-4), used for the payload and module cache keys.
///
/// Written for speed in debug builds too (`swift run runner` hashes every
/// guest source on each build): whole buffers go through unsafe pointers,
/// the message schedule lives on the stack, and nothing calls through a
/// generic `Sequence`.
public struct SHA256: Sendable {
  private var h0: UInt32 = 0x6a09_e667
  private var h1: UInt32 = 0xbb67_ae85
  private var h2: UInt32 = 0x3c6e_f372
  private var h3: UInt32 = 0xa54f_f53a
  private var h4: UInt32 = 0x510e_527f
  private var h5: UInt32 = 0x9b05_688c
  private var h6: UInt32 = 0x1f83_d9ab
  private var h7: UInt32 = 0x5be0_cd19
  /// Bytes of an incomplete block (fewer than 64).
  private var pending: [UInt8] = []
  private var length: UInt64 = 0

  private static let k: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4,
    0xab1c_5ed5, 0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe,
    0x9bdc_06a7, 0xc19b_f174, 0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f,
    0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da, 0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967, 0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc,
    0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85, 0xa2bf_e8a1, 0xa81a_664b,
    0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070, 0x19a4_c116,
    0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7,
    0xc671_78f2,
  ]

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
    guard var base = buffer.baseAddress, buffer.count > 0 else { return }
    var count = buffer.count
    length &+= UInt64(count)
    if !pending.isEmpty {
      let taken = min(64 - pending.count, count)
      pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: taken))
      base += taken
      count -= taken
      guard pending.count == 64 else { return }
      pending.withUnsafeBytes { compress($0.baseAddress!) }
      pending.removeAll(keepingCapacity: true)
    }
    while count >= 64 {
      compress(base)
      base += 64
      count -= 64
    }
    if count > 0 { pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: count)) }
  }

  /// The digest as 64 lowercase hexadecimal digits.
  public mutating func finalizeHex() -> String {
    let bitLength = length &* 8
    var tail: [UInt8] = [0x80]
    while (pending.count + tail.count) % 64 != 56 { tail.append(0) }
    for shift in stride(from: 56, through: 0, by: -8) {
      tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
    }
    let total = length
    tail.withUnsafeBytes { update(buffer: $0) }
    length = total
    let digits = Array("0123456789abcdef")
    var text = ""
    for word in [h0, h1, h2, h3, h4, h5, h6, h7] {
      for shift in stride(from: 28, through: 0, by: -4) {
        text.append(digits[Int((word >> UInt32(shift)) & 0xF)])
      }
    }
    return text
  }

  /// Processes the 64-byte block at `block`.
  private mutating func compress(_ block: UnsafeRawPointer) {
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
      let w = schedule.baseAddress!
      var i = 0
      while i < 16 {
        let p = block + i &* 4
        w[i] =
          UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self))
          << 16
          | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8
          | UInt32(p.load(fromByteOffset: 3, as: UInt8.self))
        i &+= 1
      }
      while i < 64 {
        let x = w[i &- 15]
        let y = w[i &- 2]
        let s0 = (x >> 7 | x << 25) ^ (x >> 18 | x << 14) ^ (x >> 3)
        let s1 = (y >> 17 | y << 15) ^ (y >> 19 | y << 13) ^ (y >> 10)
        w[i] = w[i &- 16] &+ s0 &+ w[i &- 7] &+ s1
        i &+= 1
      }
      var a = h0
      var b = h1
      var c = h2
      var d = h3
      var e = h4
      var f = h5
      var g = h6
      var h = h7
      SHA256.k.withUnsafeBufferPointer { table in
        let k = table.baseAddress!
        var i = 0
        while i < 64 {
          let s1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
          let choice = (e & f) ^ (~e & g)
          let t1 = h &+ s1 &+ choice &+ k[i] &+ w[i]
          let s0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
          let majority = (a & b) ^ (a & c) ^ (b & c)
          let t2 = s0 &+ majority
          h = g
          g = f
          f = e
          e = d &+ t1
          d = c
          c = b
          b = a
          a = t1 &+ t2
          i &+= 1
        }
      }
      h0 &+= a
      h1 &+= b
      h2 &+= c
      h3 &+= d
      h4 &+= e
      h5 &+= f
      h6 &+= g
      h7 &+= h
    }
  }
}
