import GuestLib
import Synchronization

/// Serialises console lines across CPUs (`Console.lineLock`): a lock word in
/// the image (shared, in no lowcore) holding the owner's CPU address + 1.
/// The owner may take it again — a crash record written while its CPU was in
/// the middle of a line must not deadlock.
enum ConsoleLock {
  /// How often the owner holds the lock (only the owner changes it).
  nonisolated(unsafe) static var depth = 0

  static var word: UnsafeMutablePointer<Atomic<UInt32>> {
    UnsafeMutableRawPointer(bitPattern: UInt(s390_console_lock_address()))!
      .assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  static func lock() {
    let me = UInt32(s390_cpu_address()) &+ 1
    if word.pointee.load(ordering: .acquiring) == me {
      depth &+= 1
      return
    }
    while !word.pointee.compareExchange(expected: 0, desired: me, ordering: .acquiring).exchanged {
      while word.pointee.load(ordering: .relaxed) != 0 {}
    }
    depth = 1
  }

  static func unlock() {
    let me = UInt32(s390_cpu_address()) &+ 1
    guard word.pointee.load(ordering: .relaxed) == me else { return }
    depth &-= 1
    if depth <= 0 {
      depth = 0
      word.pointee.store(0, ordering: .releasing)
    }
  }
}
