// The C library symbols the Embedded Swift runtime links against, the same on
// every architecture: served by the architecture's guest heap (GuestMemory).
// malloc, free and posix_memalign are names the Swift runtime reserves, so
// each runtime's cpu.S forwards them to the guest_* functions here. Each
// runtime provides `cycleCounter()` (seed of arc4random_buf).

import GuestLib

@_cdecl("guest_posix_memalign")
public func guestPosixMemalign(
  _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ alignment: Int, _ size: Int
) -> Int32 {
  guard alignment > 0, alignment & (alignment - 1) == 0 else { return 22 }
  guard let pointer = GuestMemory.heap.memalign(alignment: UInt(alignment), size: UInt(max(size, 1)))
  else { return 12 }
  out.pointee = pointer
  return 0
}

@_cdecl("guest_malloc")
public func guestMalloc(_ size: Int) -> UnsafeMutableRawPointer? {
  GuestMemory.heap.malloc(UInt(max(size, 1)))
}

@_cdecl("guest_free")
public func guestFree(_ pointer: UnsafeMutableRawPointer?) {
  _ = GuestMemory.heap.free(pointer)
}

@_cdecl("putchar")
public func putchar(_ character: Int32) -> Int32 {
  Console.write(byte: UInt8(truncatingIfNeeded: character))
  return character
}

nonisolated(unsafe) var randomState: UInt64 = 0

@_cdecl("arc4random_buf")
public func arc4random_buf(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
  if randomState == 0 { randomState = cycleCounter() | 1 }
  var index = 0
  while index < count {
    randomState ^= randomState << 13
    randomState ^= randomState >> 7
    randomState ^= randomState << 17
    buffer.storeBytes(of: UInt8(truncatingIfNeeded: randomState), toByteOffset: index, as: UInt8.self)
    index &+= 1
  }
}
