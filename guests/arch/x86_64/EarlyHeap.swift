/// Boot-time heap: a bump allocator starting after the image. Freed memory
/// is not reused.
enum EarlyHeap {
  nonisolated(unsafe) static var next: UInt64 = 0

  static func start(at address: UInt64) {
    next = (address &+ 4095) & ~4095
  }

  static func allocate(size: Int, alignment: Int) -> UnsafeMutableRawPointer? {
    let align = UInt64(max(alignment, 16))
    guard align & (align &- 1) == 0 else { return nil }
    let start = (next &+ align &- 1) & ~(align &- 1)
    next = start &+ UInt64(max(size, 1))
    return UnsafeMutableRawPointer(bitPattern: UInt(start))
  }
}
