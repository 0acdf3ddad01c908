import GuestLib
import Testing

#if canImport(Dispatch)
  import Dispatch
#endif

@Suite("EarlyAllocator")
struct EarlyAllocatorTests {
  @Test func bumpAllocationAndAlignment() throws {
    let memory = HostMemory(byteCount: 1 << 20, alignment: 1 << 20)
    let early = try #require(
      EarlyAllocator(base: memory.address, top: memory.address + (1 << 20), minimumAlignment: 16))
    #expect(early.minimumAlignment == 16)
    let a = try #require(early.allocate(size: 3))
    let b = try #require(early.allocate(size: 1))
    #expect(address(a) % 16 == 0 && address(b) % 16 == 0)
    #expect(address(b) - address(a) == 16, "minimum alignment enforced by the allocator")
    #expect(address(a) >= memory.address + UInt(EarlyAllocator.stateByteCount), "state comes first")
    let c = try #require(early.memalign(alignment: 4096, size: 10))
    #expect(address(c) % 4096 == 0 && address(c) > address(b))
    #expect(early.memalign(alignment: 24, size: 8) == nil)
    #expect(early.allocate(size: 0) == nil)
    #expect(early.allocate(size: 2 << 20) == nil)
    #expect(early.owns(a) && early.owns(c))
    early.free(a)  // no-op
    let d = try #require(early.allocate(size: 16))
    #expect(d != a, "free does not recycle")
    let remaining = early.remainingRange
    #expect(remaining.base == address(d) + 16 && remaining.top == memory.address + (1 << 20))
    #expect(EarlyAllocator(base: 4096, top: 8192, minimumAlignment: 3) == nil)
    #expect(EarlyAllocator(base: 8192, top: 4096) == nil)
  }

  @Test func stateInSeparateMemoryAndExhaustion() throws {
    let state = StateBuffer()
    let memory = HostMemory(byteCount: 4096, alignment: 4096)
    let early = try #require(
      EarlyAllocator(
        stateMemory: state.pointer, base: memory.address, top: memory.address + 4096, minimumAlignment: 8))
    let all = try #require(early.allocate(size: 4096))
    #expect(address(all) == memory.address)
    #expect(early.allocate(size: 1) == nil)
    #expect(early.usedBytes == 4096)
  }

  @Test func handsRemainingPagesToThePageAllocator() throws {
    let memory = HostMemory(byteCount: 4 << 20, alignment: 1 << 22)
    let early = try #require(EarlyAllocator(base: memory.address, top: memory.address + (4 << 20)))
    let boot = try #require(early.allocate(size: 10_000))
    let range = early.takeRemainingPages()
    #expect(range.basePfn << 12 >= address(boot) + 10_000)
    #expect(range.topPfn == memory.topPfn)
    #expect(early.allocate(size: 1) == nil, "no bump allocation after the hand-over")
    let pages = try #require(PageAllocator.bootstrap(layout: .single, basePfn: range.basePfn, topPfn: range.topPfn))
    let p = try #require(pages.allocate(order: 0))
    #expect(address(p) >= range.basePfn << 12)
    #expect(pages.free(p) == nil)
    expectValid(pages)
  }
}

@Suite("GuestHeap")
struct GuestHeapTests {
  @Test func activateVirtualCreatesOnceThenReactivates() throws {
    let f = try VirtualFixture(physicalMegabytes: 8, virtualMegabytes: 4)
    var heap = GuestHeap<HostPageMapper>()
    #expect(!heap.activateVirtual { nil }, "nothing made: nothing changes")
    #expect(heap.virtual == nil && heap.backend == .none)
    var made = 0
    #expect(heap.activateVirtual { made += 1; return f.virtual })
    #expect(heap.backend == .virtual && made == 1)
    heap.usePages(f.pages)
    #expect(heap.backend == .pages)
    #expect(heap.activateVirtual { made += 1; return nil }, "already registered: reactivated")
    #expect(heap.backend == .virtual && made == 1)
  }

  @Test func switchesBackendsAndRoutesFrees() throws {
    let f = try VirtualFixture(physicalMegabytes: 8, virtualMegabytes: 4)
    var heap = GuestHeap<HostPageMapper>()
    #expect(heap.malloc(8) == nil, "no backend yet")
    let activated = heap.activate(.pages)
    #expect(!activated)

    // Early backend.
    let bootMemory = HostMemory(byteCount: 1 << 20, alignment: 1 << 20)
    let early = try #require(EarlyAllocator(base: bootMemory.address, top: bootMemory.address + (1 << 20)))
    heap.useEarly(early)
    #expect(heap.backend == .early)
    let e = try #require(heap.malloc(24))
    #expect(early.owns(e))
    let eAligned = try #require(heap.memalign(alignment: 256, size: 8))
    #expect(address(eAligned) % 256 == 0)

    // Page backend.
    heap.usePages(f.pages)
    #expect(heap.backend == .pages)
    let free0 = f.pages.totalCounts().free
    let p = try #require(heap.malloc(100))
    #expect(address(p) % 4096 == 0)
    #expect(f.pages.totalCounts().free == free0 - 1)
    let p5 = try #require(heap.malloc(5 * 4096))
    #expect(f.pages.totalCounts().free == free0 - 1 - 8, "5 pages round up to 8")
    let big = try #require(heap.memalign(alignment: 1 << 21, size: 4096))
    #expect(address(big) % (1 << 21) == 0)
    #expect(f.pages.totalCounts().free == free0 - 1 - 8 - 1)

    // Virtual backend.
    heap.useVirtual(f.virtual)
    #expect(heap.backend == .virtual)
    let v = try #require(heap.malloc(3 * 4096))
    #expect(f.virtual.owns(v))
    let z = try #require(heap.calloc(count: 100, size: 41))
    #expect(UnsafeBufferPointer(start: z.assumingMemoryBound(to: UInt8.self), count: 4100).allSatisfy { $0 == 0 })

    // free goes to the owner whatever the active backend is.
    #expect(heap.free(e) == .ignored)
    #expect(heap.free(nil) == .ignored)
    #expect(heap.free(p) == .freed)
    #expect(heap.free(p) == .invalid, "double free through the page allocator")
    #expect(heap.free(p5) == .freed)
    #expect(heap.free(big) == .freed)
    #expect(heap.free(v) == .freed)
    #expect(heap.free(v) == .invalid)
    #expect(heap.free(z) == .freed)
    let stray = HostMemory(byteCount: 4096, alignment: 4096)
    #expect(heap.free(stray.base) == .invalid)
    #expect(f.virtual.usedPages == 0)
    #expect(f.pages.totalCounts().free == free0 - f.virtual.metadataPages + f.virtual.metadataPages)
    expectValid(f.pages)

    // Switching back to a registered backend.
    let reactivated = heap.activate(.pages)
    #expect(reactivated)
    let again = try #require(heap.malloc(1))
    #expect(f.pages.area(containing: address(again)) != nil)
    #expect(heap.free(again) == .freed)
    let deactivated = heap.activate(.none)
    #expect(deactivated)
    #expect(heap.malloc(1) == nil)
  }

  @Test func callocOverflowAndZeroSizes() throws {
    let heapMemory = TestHeap(megabytes: 4, alignment: 1 << 22)
    var heap = GuestHeap<NoPageMapper>()
    heap.usePages(heapMemory.allocator)
    #expect(heap.calloc(count: UInt.max / 2, size: 3) == nil, "overflow")
    #expect(heap.calloc(count: 0, size: 8) == nil)
    #expect(heap.malloc(0) == nil)
    #expect(heap.memalign(alignment: 48, size: 8) == nil)
    let dirty = try #require(heap.malloc(4096))
    dirty.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 4096)
    #expect(heap.free(dirty) == .freed)
    let clean = try #require(heap.calloc(count: 7, size: 9))
    #expect(clean == dirty)
    #expect(UnsafeBufferPointer(start: clean.assumingMemoryBound(to: UInt8.self), count: 63).allSatisfy { $0 == 0 })
    #expect(heap.free(clean) == .freed)
    expectValid(heapMemory.allocator)
  }
}

@Suite("SpinLock and concurrency")
struct ConcurrencyTests {
  @Test func spinLockBasics() {
    let word = UnsafeMutableRawPointer.allocate(byteCount: SpinLock.byteCount, alignment: SpinLock.alignment)
    defer { word.deallocate() }
    let lock = SpinLock(initializingAt: word)
    #expect(!lock.isLocked)
    #expect(lock.tryLock())
    #expect(!lock.tryLock())
    #expect(SpinLock(existingAt: word).isLocked, "copies share the word")
    lock.unlock()
    #expect(lock.tryLock())
    lock.unlock()
  }

  #if canImport(Dispatch)
    @Test func concurrentAllocateAndFree() throws {
      let heap = TestHeap(megabytes: 16)
      let a = heap.allocator
      let initial = freeListSnapshot(a)
      DispatchQueue.concurrentPerform(iterations: 4) { worker in
        var rng = SplitMix64(seed: UInt64(worker) + 100)
        var live: [UnsafeMutableRawPointer] = []
        for _ in 0..<20_000 {
          if rng.below(2) == 0, let p = a.allocate(order: rng.below(3)) {
            p.storeBytes(of: UInt(worker), as: UInt.self)
            live.append(p)
          } else if !live.isEmpty {
            let p = live.remove(at: rng.below(live.count))
            if p.load(as: UInt.self) != UInt(worker) || a.free(p) != nil {
              live.append(p)
              return
            }
          }
        }
        for p in live { _ = a.free(p) }
      }
      #expect(a.totalCounts().allocated == 0)
      #expect(freeListSnapshot(a) == initial)
      expectValid(a)
    }
  #endif
}
