import Testing

@testable import Harness

@Suite struct ContentHashTests {
  @Test(arguments: [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
  ])
  func knownVectors(input: String, digest: String) {
    var hash = ContentHash()
    hash.update(Array(input.utf8))
    #expect(hash.finalizeHex() == digest)
  }

  @Test func millionBytesInUnevenPieces() {
    // FIPS 180-2 appendix B.3: one million 'a', fed in pieces that straddle blocks.
    var hash = ContentHash()
    let piece = [UInt8](repeating: 0x61, count: 1024)
    var left = 1_000_000
    var size = 1
    while left > 0 {
      let count = min(size, left)
      hash.update(piece.prefix(count))
      left -= count
      size = size % 997 + 7
    }
    #expect(hash.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func fieldsAreTextAndASeparator() {
    var fields = ContentHash()
    fields.update(field: "abc")
    var bytes = ContentHash()
    bytes.update(Array("abc".utf8) + [0])
    #expect(fields.finalizeHex() == bytes.finalizeHex())
  }
}
