import Synchronization

/// A minimal test-and-test-and-set spin lock whose 32-bit lock word lives in
/// memory owned by the caller (for example inside an allocator's state page).
///
/// The lock is a small `Copyable` handle: copies refer to the same lock word,
/// so it can be shared by several CPUs. Acquisition uses an acquiring
/// exchange (an unconditional swap, fewer instructions than a
/// compare-exchange on x86), release uses a releasing store. The lock is
/// not re-entrant.
public struct SpinLock: @unchecked Sendable {
  @usableFromInline
  let word: UnsafeMutablePointer<Atomic<UInt32>>

  /// Number of bytes the lock word occupies.
  public static var byteCount: Int { MemoryLayout<Atomic<UInt32>>.size }

  /// Required alignment of the lock word.
  public static var alignment: Int { MemoryLayout<Atomic<UInt32>>.alignment }

  /// Creates a new, unlocked lock in `memory`, which must be at least
  /// `byteCount` bytes and aligned to `alignment`.
  public init(initializingAt memory: UnsafeMutableRawPointer) {
    let typed = memory.bindMemory(to: Atomic<UInt32>.self, capacity: 1)
    typed.initialize(to: Atomic(0))
    word = typed
  }

  /// Attaches to a lock previously created with `init(initializingAt:)`.
  public init(existingAt memory: UnsafeMutableRawPointer) {
    word = memory.assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  /// Tries once to take the lock; returns `true` on success.
  @inlinable
  public func tryLock() -> Bool {
    word.pointee.exchange(1, ordering: .acquiring) == 0
  }

  /// Spins until the lock is taken.
  @inlinable
  public func lock() {
    while !tryLock() {
      while word.pointee.load(ordering: .relaxed) != 0 {}
    }
  }

  /// Releases the lock. Must only be called by the holder.
  @inlinable
  public func unlock() {
    word.pointee.store(0, ordering: .releasing)
  }

  /// Whether the lock is currently held by someone (a racy snapshot).
  public var isLocked: Bool { word.pointee.load(ordering: .relaxed) != 0 }
}
