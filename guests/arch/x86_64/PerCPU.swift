import GuestLib
import Synchronization

/// A CPU's own block, found through the GS base. Layout (bytes):
/// 0 self pointer, 8 CPU index, 16 APIC id, 24 armed `catchException` stack
/// pointer (used by cpu.S), 32 work function, 40 work context,
/// 48 work state (atomic: 0 idle, 1 posted, 2 running, 3 done),
/// 56 online flag (atomic), 64 interrupts taken (atomic), 72 TSS address,
/// 96 the exception this CPU's `catchException` caught last (32 bytes).
public struct PerCPU {
  public let base: UnsafeMutableRawPointer

  static let size = 256

  /// This CPU's block.
  public static var current: PerCPU { PerCPU(base: x86_percpu()) }

  /// Clears a fresh block at `base` for CPU `index`.
  static func initialize(at base: UnsafeMutableRawPointer, index: Int) -> PerCPU {
    base.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    base.storeBytes(of: UInt(bitPattern: base), toByteOffset: 0, as: UInt.self)
    base.storeBytes(of: index, toByteOffset: 8, as: Int.self)
    let block = PerCPU(base: base)
    block.workState.initialize(to: Atomic(0))
    block.online.initialize(to: Atomic(0))
    block.interrupts.initialize(to: Atomic(0))
    return block
  }

  public var index: Int { base.load(fromByteOffset: 8, as: Int.self) }

  public internal(set) var apicID: UInt32 {
    get { base.load(fromByteOffset: 16, as: UInt32.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: 16, as: UInt32.self) }
  }

  var work: (@convention(c) (UnsafeMutableRawPointer?) -> Void)? {
    get { base.load(fromByteOffset: 32, as: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?.self) }
    nonmutating set {
      base.storeBytes(
        of: newValue, toByteOffset: 32, as: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?.self)
    }
  }

  var context: UnsafeMutableRawPointer? {
    get { base.load(fromByteOffset: 40, as: UnsafeMutableRawPointer?.self) }
    nonmutating set { base.storeBytes(of: newValue, toByteOffset: 40, as: UnsafeMutableRawPointer?.self) }
  }

  var workState: UnsafeMutablePointer<Atomic<UInt32>> {
    (base + 48).assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  var online: UnsafeMutablePointer<Atomic<UInt32>> {
    (base + 56).assumingMemoryBound(to: Atomic<UInt32>.self)
  }

  var interrupts: UnsafeMutablePointer<Atomic<UInt64>> {
    (base + 64).assumingMemoryBound(to: Atomic<UInt64>.self)
  }

  /// The exception this CPU caught last: each CPU its own, so that CPUs
  /// catching at the same time do not see each other's.
  var caught: UnsafeMutablePointer<CaughtException> {
    (base + 96).assumingMemoryBound(to: CaughtException.self)
  }
}
