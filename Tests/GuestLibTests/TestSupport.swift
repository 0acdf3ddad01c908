import GuestLib
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Host memory used as "physical memory" by the allocator tests: host
/// addresses are treated as physical addresses (pfn = address >> 12).
final class HostMemory: @unchecked Sendable {
  let base: UnsafeMutableRawPointer
  let byteCount: Int
  private let owned: Bool

  /// Allocates `byteCount` bytes aligned to `alignment` (both powers of two).
  init(byteCount: Int, alignment: Int) {
    self.byteCount = byteCount
    base = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: alignment)
    owned = true
  }

  /// Maps anonymous memory at the fixed address `address` (for tests of the
  /// real x86_64/s390x layouts), or returns `nil` if that range is taken.
  init?(fixedAt address: UInt, byteCount: Int) {
    #if canImport(Glibc)
      let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE
      guard let hint = UnsafeMutableRawPointer(bitPattern: address),
        let mapped = mmap(hint, byteCount, PROT_READ | PROT_WRITE, flags, -1, 0),
        mapped != MAP_FAILED
      else { return nil }
      if mapped != hint {
        munmap(mapped, byteCount)
        return nil
      }
      base = mapped
      self.byteCount = byteCount
      owned = false
    #else
      return nil
    #endif
  }

  deinit {
    if owned {
      base.deallocate()
    } else {
      #if canImport(Glibc)
        munmap(base, byteCount)
      #endif
    }
  }

  var address: UInt { UInt(bitPattern: base) }
  var basePfn: UInt { address >> 12 }
  var topPfn: UInt { (address + UInt(byteCount)) >> 12 }
}

/// State memory for a page allocator, outside the managed range.
final class StateBuffer: @unchecked Sendable {
  let pointer: UnsafeMutableRawPointer
  init() {
    pointer = UnsafeMutableRawPointer.allocate(
      byteCount: PageAllocator.stateByteCount, alignment: PageAllocator.stateAlignment)
  }
  deinit { pointer.deallocate() }
}

/// A page allocator over host memory plus the memory keeping it alive.
struct TestHeap {
  let memory: HostMemory
  let state: StateBuffer
  let allocator: PageAllocator

  /// `megabytes` of host memory aligned to `alignment`, one area (or the
  /// layout made by `layout` from the buffer's base address).
  init(megabytes: Int, alignment: Int = 1 << 25, layout: (UInt) -> AreaLayout = { _ in .single }) {
    memory = HostMemory(byteCount: megabytes << 20, alignment: alignment)
    state = StateBuffer()
    allocator = PageAllocator(stateMemory: state.pointer, layout: layout(memory.address))
    allocator.addMemory(basePfn: memory.basePfn, topPfn: memory.topPfn)
  }

  /// Four areas of `megabytes / 4` each inside the buffer.
  static func fourAreas(megabytes: Int = 16) -> TestHeap {
    let quarter = UInt(megabytes << 20) / 4
    return TestHeap(megabytes: megabytes) { base in
      AreaLayout(areaCount: 4, boundaries: (base + quarter, base + 2 * quarter, base + 3 * quarter))!
    }
  }
}

/// Deterministic PRNG (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Free-list lengths of every area and order.
func freeListSnapshot(_ allocator: PageAllocator) -> [UInt] {
  var result: [UInt] = []
  for area in 0..<PageAllocator.maxAreas {
    for order in 0...PageAllocator.maxOrder {
      result.append(allocator.freeBlockCount(area: area, order: order))
    }
  }
  return result
}

/// Fails the current test with the validator's message if inconsistent.
func expectValid(_ allocator: PageAllocator, sourceLocation: SourceLocation = #_sourceLocation) {
  let problem = allocator.validate()
  #expect(problem == nil, "validate: \(problem.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
}

func address(_ pointer: UnsafeMutableRawPointer?) -> UInt {
  UInt(bitPattern: pointer)
}
