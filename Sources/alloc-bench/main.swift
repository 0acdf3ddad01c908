// Page allocator benchmark on a 1 GiB area of host memory.
// Run with: swift run -c release alloc-bench [--runs N] [--row NAME] [--huge-pages]
//
// `--row NAME` (a, b.alloc, b.free, c, d, e.reserve, e.unreserve) runs one
// pass and measures only that row; it still runs the rows before it that
// consume the random number generator, so every row sees the same inputs as
// in a full run. It prints `ops N`, the number of operations of the measured
// region. Under `valgrind --tool=callgrind --toggle-collect='*alloc_bench_measured*'`
// only that region is counted (scripts/alloc-bench-instructions.sh divides).
//
// `--huge-pages` asks the host kernel to back the area with transparent huge
// pages (2 MiB), as the guests map RAM; by default the area is host 4 KiB
// pages, so every page the allocator touches costs a TLB miss.
import GuestLib

#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body`; the one function callgrind's `--toggle-collect` selects.
@inline(never)
@_silgen_name("alloc_bench_measured")
func measured(_ body: () -> Void) {
  body()
}

struct SplitMix64 {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

func benchmark() {
  let areaBytes = 1 << 30
  var runs = 7
  var only: String? = nil
  var hugePages = false
  var arguments = CommandLine.arguments.dropFirst().makeIterator()
  while let argument = arguments.next() {
    switch argument {
    case "--runs":
      guard let value = arguments.next().flatMap({ Int($0) }), value > 0 else {
        fatalError("alloc-bench: --runs needs a positive number")
      }
      runs = value
    case "--huge-pages":
      hugePages = true
    case "--row":
      guard let value = arguments.next() else { fatalError("alloc-bench: --row needs a name") }
      only = value
    default:
      fatalError(
        "alloc-bench: usage: alloc-bench [--runs N] [--row a|b.alloc|b.free|c|d|e.reserve|e.unreserve] [--huge-pages]")
    }
  }
  let rowNames = ["a", "b.alloc", "b.free", "c", "d", "e.reserve", "e.unreserve"]
  if let only, !rowNames.contains(only) { fatalError("alloc-bench: unknown row \(only)") }
  if only != nil { runs = 1 }
  /// Whether row `name`'s work has to run (measured or not).
  func wanted(_ names: String...) -> Bool {
    guard let only else { return true }
    return names.contains(only)
  }
  var operationCounts: [String: Int] = [:]
  let clock = ContinuousClock()

  func nanoseconds(_ duration: Duration) -> Double {
    let parts = duration.components
    return Double(parts.seconds) * 1e9 + Double(parts.attoseconds) / 1e9
  }

  /// Times `body` as row `row` (measured only if it is the selected row).
  func time(_ row: String, operations count: Int, _ body: () -> Void) -> Double {
    operationCounts[row] = count
    guard only == nil || only == row else {
      body()
      return 0
    }
    let start = clock.now
    measured(body)
    return nanoseconds(clock.now - start)
  }

  func fail(_ message: String) -> Never {
    fatalError("alloc-bench: \(message)")
  }

  // Host memory standing in for physical memory, aligned to its size.
  let memory = UnsafeMutableRawPointer.allocate(byteCount: areaBytes, alignment: areaBytes)
  let stateMemory = UnsafeMutableRawPointer.allocate(
    byteCount: PageAllocator.stateByteCount, alignment: PageAllocator.stateAlignment)
  if hugePages {
    #if canImport(Glibc)
      guard madvise(memory, areaBytes, MADV_HUGEPAGE) == 0 else { fail("madvise(MADV_HUGEPAGE) failed") }
    #else
      fail("--huge-pages needs Linux")
    #endif
  }
  // Touch every page once so page faults are not measured.
  for page in stride(from: 0, to: areaBytes, by: 4096) {
    memory.storeBytes(of: 0, toByteOffset: page, as: UInt.self)
  }
  let basePfn = UInt(bitPattern: memory) >> 12
  let topPfn = basePfn + UInt(areaBytes >> 12)

  func freshAllocator() -> PageAllocator {
    let allocator = PageAllocator(stateMemory: stateMemory, layout: .single)
    guard allocator.addMemory(basePfn: basePfn, topPfn: topPfn) == 1 else { fail("addMemory failed") }
    return allocator
  }

  func freeLists(_ a: PageAllocator) -> [UInt] {
    (0...PageAllocator.maxOrder).map { a.freeBlockCount(area: 0, order: $0) }
  }

  var results: [String: [Double]] = [:]
  var notes: [String: [String]] = [:]
  func record(_ key: String, _ value: Double) { results[key, default: []].append(value) }
  func note(_ key: String, _ value: String) { notes[key, default: []].append(value) }

  let probe = freshAllocator()
  let counts = probe.totalCounts()
  let maxInitialOrder = probe.largestFreeOrder() ?? 0
  print("area: \(areaBytes >> 20) MiB = \(topPfn - basePfn) pages; metadata pages: \(counts.metadata); "
    + "allocatable pages: \(counts.total); largest block order: \(maxInitialOrder); runs: \(runs)"
    + (hugePages ? "; host huge pages" : ""))

  // Row (b)'s page list: a plain buffer made and touched once, as the area
  // is, so neither its page faults (a fresh 2 MiB array per run faulted
  // inside the timed b.alloc loop) nor Array's checks are measured.
  let pageCapacity = Int(counts.total)
  let pages = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: pageCapacity)
  pages.initialize(repeating: memory)
  defer { pages.deallocate() }

  for run in 0..<runs {
    var rng = SplitMix64(state: 0xC0FFEE &+ UInt64(run))

    // (a) 1-page alloc+free pairs.
    if wanted("a") {
      let a = freshAllocator()
      let pairs = 1_000_000
      let ns = time("a", operations: pairs) {
        for _ in 0..<pairs {
          guard let p = a.allocate(order: 0) else { fail("(a) allocation failed") }
          a.free(p)
        }
      }
      record("a", ns / Double(pairs))
    }

    // (b) allocate every page one at a time, free all in random order.
    if wanted("b.alloc", "b.free", "d", "e.reserve", "e.unreserve") {
      let a = freshAllocator()
      let initial = freeLists(a)
      var count = 0
      let allocNs = time("b.alloc", operations: Int(counts.total)) {
        while let p = a.allocate(order: 0) {
          if count == pageCapacity { fail("(b) more pages than counted") }
          pages[count] = p
          count += 1
        }
      }
      guard UInt(count) == counts.total else { fail("(b) allocated \(count) pages") }
      for i in stride(from: count - 1, to: 0, by: -1) { pages.swapAt(i, rng.below(i + 1)) }
      // The last query settles the pending merges inside the timed region,
      // so no merge work escapes the measurement.
      let freeNs = time("b.free", operations: count) {
        for i in 0..<count { a.free(pages[i]) }
        _ = a.largestFreeOrder()
      }
      record("b.alloc", allocNs / Double(count))
      record("b.free", freeNs / Double(count))
      let coalesced = freeLists(a) == initial
      let big = a.allocate(order: maxInitialOrder)
      note("b", "\(coalesced && big != nil ? "yes" : "NO")")
      if let big { a.free(big) }
      if !a.checkInvariants() { fail("(b) invariants broken") }
    }

    // (c) 100 x memalign(2 MiB, 4 KiB).
    if wanted("c") {
      let a = freshAllocator()
      let before = a.totalCounts().free
      var blocks: [UnsafeMutableRawPointer] = []
      let ns = time("c", operations: 100) {
        for _ in 0..<100 {
          guard let p = a.memalign(alignment: 2 << 20, size: 4096) else { fail("(c) memalign failed") }
          blocks.append(p)
        }
      }
      for p in blocks where UInt(bitPattern: p) % (2 << 20) != 0 { fail("(c) misaligned") }
      let lost = Int(before - a.totalCounts().free) - blocks.count
      record("c", ns / 100)
      note("c", "\(lost)")
      for p in blocks { a.free(p) }
      if a.totalCounts().free != before || !a.checkInvariants() { fail("(c) not restored") }
    }

    // (d) 1,000,000 mixed operations.
    if wanted("d", "e.reserve", "e.unreserve") {
      let a = freshAllocator()
      // A plain buffer, not an Array: the loop measures the allocator, not
      // Array's uniqueness checks (the C harness of the comparison uses one).
      let operations = 1_000_000
      let live = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: operations)
      defer { live.deallocate() }
      var liveCount = 0
      var failures = 0
      let ns = time("d", operations: operations) {
        for _ in 0..<operations {
          if rng.next() & 1 == 0 || liveCount == 0 {
            if let p = a.allocate(order: rng.below(5)) {
              live[liveCount] = p
              liveCount += 1
            } else {
              failures += 1
            }
          } else {
            let index = rng.below(liveCount)
            liveCount -= 1
            let p = live[index]
            live[index] = live[liveCount]
            a.free(p)
          }
        }
      }
      record("d", ns / Double(operations))
      note("d", "\(failures)")
      record("d.live", Double(liveCount))
      for i in 0..<liveCount { a.free(live[i]) }
      if a.totalCounts().allocated != 0 || !a.checkInvariants() { fail("(d) not restored") }
    }

    // (e) reserve 1,000 random free single pages, then unreserve them.
    if wanted("e.reserve", "e.unreserve") {
      let a = freshAllocator()
      let bounds = a.bounds(area: 0)!
      var chosen = Set<UInt>()
      while chosen.count < 1000 {
        chosen.insert(bounds.usablePfn + UInt(rng.below(Int(bounds.topPfn - bounds.usablePfn))))
      }
      let pfns = Array(chosen)
      let reserveNs = time("e.reserve", operations: pfns.count) {
        for pfn in pfns where a.reserve(address: pfn << 12, pages: 1) != nil { fail("(e) reserve failed") }
      }
      let unreserveNs = time("e.unreserve", operations: pfns.count) {
        for pfn in pfns where a.unreserve(address: pfn << 12, pages: 1) != nil { fail("(e) unreserve failed") }
        _ = a.largestFreeOrder()  // settles pending merges inside the timed region
      }
      record("e.reserve", reserveNs / 1000)
      record("e.unreserve", unreserveNs / 1000)
      if a.totalCounts().reserved != 0 || !a.checkInvariants() { fail("(e) not restored") }
    }
  }

  if let only {
    print("ops \(operationCounts[only] ?? 0)")
    if let values = results[only], let value = values.first { print("ns/op \(value)") }
    memory.deallocate()
    stateMemory.deallocate()
    return
  }

  func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
      ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
  }

  func fixed(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
  }

  func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
  }

  func padLeft(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
  }

  let rows: [(String, String, String)] = [
    ("a", "(a) 1-page alloc+free pair", ""),
    ("b.alloc", "(b) alloc every page (per alloc)", ""),
    ("b.free", "(b) free all, random order (per free)", "b"),
    ("c", "(c) memalign(2 MiB, 4 KiB) (per op)", "c"),
    ("d", "(d) 1M mixed ops, order 0-4 (per op)", "d"),
    ("e.reserve", "(e) reserve 1 random free page", ""),
    ("e.unreserve", "(e) unreserve it", ""),
  ]
  let noteTitles = ["b": "max-order alloc after", "c": "pages lost", "d": "failed allocs"]
  print("")
  print(pad("benchmark", 40) + padLeft("median ns", 11) + padLeft("min ns", 10) + padLeft("max ns", 10) + "  notes")
  print(String(repeating: "-", count: 100))
  for (key, title, noteKey) in rows {
    let values = results[key] ?? []
    var line = pad(title, 40) + padLeft(fixed(median(values)), 11)
    line += padLeft(fixed(values.min() ?? 0), 10) + padLeft(fixed(values.max() ?? 0), 10)
    if let all = notes[noteKey], !noteKey.isEmpty {
      let distinct = Array(Set(all)).sorted()
      line += "  " + (noteTitles[noteKey] ?? "") + ": " + distinct.joined(separator: " / ")
    }
    if noteKey == "d", let lives = results["d.live"] {
      line += " (live blocks at end: \(Int(lives.min() ?? 0))-\(Int(lives.max() ?? 0)))"
    }
    print(line)
  }
  memory.deallocate()
  stateMemory.deallocate()
}

benchmark()
