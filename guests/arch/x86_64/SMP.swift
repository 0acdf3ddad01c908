import GuestLib
import Synchronization

/// Runs on a CPU: a C function and its context.
public typealias CPUWork = @convention(c) (UnsafeMutableRawPointer?) -> Void

/// Multiprocessor support on x86_64: discovery through ACPI, bring-up with
/// INIT-SIPI-SIPI from a real-mode trampoline on a page below 1 MiB that is
/// reserved from the page allocator, per-CPU stacks, TSS (IST stacks) and
/// data blocks from the allocator, and `onCPU`/`onCPUs` to run work.
public enum SMP {
  /// Most CPUs supported (GDT slots for TSS descriptors).
  public static let maxCPUs = 17
  /// Vectors used by the runtime.
  static let wakeVector: UInt32 = 0x42

  nonisolated(unsafe) static var blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
  /// CPUs online (the boot CPU included).
  nonisolated(unsafe) public private(set) static var count = 1
  /// CPUs the firmware (ACPI MADT) reports.
  nonisolated(unsafe) public private(set) static var reported = 0
  /// Physical address of the trampoline page.
  nonisolated(unsafe) public private(set) static var trampoline: UInt = 0
  /// Time from the first INIT to the last CPU online.
  nonisolated(unsafe) public private(set) static var bringUpNanoseconds: UInt64 = 0
  /// Why bring-up stopped early, if it did.
  nonisolated(unsafe) public private(set) static var failure: StaticString? = nil

  /// The calling CPU's index (0 = boot CPU).
  public static var currentIndex: Int { PerCPU.current.index }

  /// The APIC id of CPU `index`.
  public static func apicID(of index: Int) -> UInt32 {
    guard index >= 0, index < count, let base = blocks?[index] else { return .max }
    return PerCPU(base: base).apicID
  }

  /// Sets up the boot CPU (APIC, per-CPU block); called once at boot.
  static func initializeBootCPU() {
    maskLegacyPIC()
    Timer.calibrate()
    APIC.x2 = APIC.hasX2APIC
    APIC.enableOnThisCPU()
    let boot = PerCPU.initialize(at: x86_percpu(), index: 0)
    boot.base.storeBytes(of: UInt(bitPattern: boot.base), toByteOffset: 0, as: UInt.self)
    boot.apicID = APIC.id
    boot.online.pointee.store(1, ordering: .releasing)
    let table = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: maxCPUs)
    table.initialize(repeating: nil, count: maxCPUs)
    table[0] = boot.base
    blocks = table
    Console.lineLock = { ConsoleLock.acquire() }
    Console.lineUnlock = { ConsoleLock.release() }
    Interrupts.register(wakeVector) { _ in }
  }

  /// APIC ids of the enabled processors of the ACPI MADT, once read.
  nonisolated(unsafe) static var discovered: UnsafeMutablePointer<UInt32>? = nil

  /// Reads the enabled processors from the ACPI MADT (once) and returns
  /// their number, also kept in `reported` (0 without ACPI tables).
  @discardableResult
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func discoverProcessors() -> Int {
    if discovered == nil {
      let ids = UnsafeMutablePointer<UInt32>.allocate(capacity: ACPI.capacity)
      reported = ACPI.discoverProcessors(into: ids)
      discovered = ids
    }
    return reported
  }

  /// Starts every processor the firmware reports; returns CPUs online.
  @discardableResult
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func startAll() -> Int {
    guard count == 1, let pages = GuestMemory.pages, let blocks else { return count }
    discoverProcessors()
    guard reported > 1, let ids = discovered else { return count }
    // The trampoline page: the first page below 1 MiB the allocator lets us reserve.
    var page: UInt = 1
    while page < 0x9F && pages.reserve(address: page << 12, pages: 1) != nil { page += 1 }
    guard page < 0x9F else {
      failure = "no free page below 1 MiB for the trampoline"
      return count
    }
    trampoline = page << 12
    UnsafeMutableRawPointer(bitPattern: trampoline)!.copyMemory(
      from: UnsafeRawPointer(bitPattern: UInt(x86_ap_trampoline_start()))!,
      byteCount: x86_ap_trampoline_size())
    let bootID = PerCPU.current.apicID
    let start = x86_rdtsc()
    var index = 0
    while index < reported && count < maxCPUs {
      let id = ids[index]
      index += 1
      if id == bootID { continue }
      guard let block = pages.allocate(order: 0, flags: .zero),
        let stack = pages.allocate(order: 2),
        let exceptionStack = pages.allocate(order: 1),
        let doubleFaultStack = pages.allocate(order: 1),
        let interruptStack = pages.allocate(order: 1)
      else {
        failure = "out of memory for per-CPU data"
        break
      }
      let cpu = PerCPU.initialize(at: block, index: count)
      cpu.apicID = id
      // The TSS lives in the per-CPU page after the block.
      let tss = block + PerCPU.size
      tss.storeBytes(of: UInt(bitPattern: exceptionStack) + 8192, toByteOffset: 36, as: UInt.self)
      tss.storeBytes(of: UInt(bitPattern: doubleFaultStack) + 8192, toByteOffset: 44, as: UInt.self)
      tss.storeBytes(of: UInt(bitPattern: interruptStack) + 8192, toByteOffset: 52, as: UInt.self)
      tss.storeBytes(of: UInt16(104), toByteOffset: 102, as: UInt16.self)
      let selector = UInt64(0x30 + 16 * (count - 1))
      writeTSSDescriptor(selector: selector, base: UInt64(UInt(bitPattern: tss)))
      blocks[count] = block
      x86_set_ap_boot(
        UInt64(UInt(bitPattern: block)), UInt64(UInt(bitPattern: stack) + 16384), selector,
        UInt64(count))
      APIC.startProcessor(id, trampolinePage: UInt32(page))
      // Wait for it to check in (generous: TCG with more vCPUs than cores).
      let deadline = x86_rdtsc() &+ 5_000_000 &* max(Timer.ticksPerMicrosecond, 1)
      while cpu.online.pointee.load(ordering: .acquiring) == 0 && x86_rdtsc() < deadline {
        x86_pause()
      }
      guard cpu.online.pointee.load(ordering: .acquiring) != 0 else {
        failure = "a processor did not come online within 5 s"
        blocks[count] = nil
        break
      }
      count += 1
    }
    bringUpNanoseconds = Timer.nanoseconds(x86_rdtsc() &- start)
    return count
  }

  /// Moves the 8259 PICs off the exception vectors (the firmware leaves the
  /// timer on vector 8) and masks every line: the guest uses the local APIC.
  static func maskLegacyPIC() {
    x86_outb(0x20, 0x11)
    x86_outb(0xA0, 0x11)
    x86_outb(0x21, 0xF0)
    x86_outb(0xA1, 0xF8)
    x86_outb(0x21, 0x04)
    x86_outb(0xA1, 0x02)
    x86_outb(0x21, 0x01)
    x86_outb(0xA1, 0x01)
    x86_outb(0x21, 0xFF)
    x86_outb(0xA1, 0xFF)
  }

  private static func writeTSSDescriptor(selector: UInt64, base: UInt64) {
    let entry = UnsafeMutableRawPointer(bitPattern: UInt(x86_gdt_address() + selector))!
    entry.storeBytes(of: UInt16(103), toByteOffset: 0, as: UInt16.self)
    entry.storeBytes(of: UInt16(truncatingIfNeeded: base), toByteOffset: 2, as: UInt16.self)
    entry.storeBytes(of: UInt8(truncatingIfNeeded: base >> 16), toByteOffset: 4, as: UInt8.self)
    entry.storeBytes(of: UInt8(0x89), toByteOffset: 5, as: UInt8.self)
    entry.storeBytes(of: UInt8(0), toByteOffset: 6, as: UInt8.self)
    entry.storeBytes(of: UInt8(truncatingIfNeeded: base >> 24), toByteOffset: 7, as: UInt8.self)
    entry.storeBytes(of: UInt32(truncatingIfNeeded: base >> 32), toByteOffset: 8, as: UInt32.self)
    entry.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
  }

  private static func post(_ index: Int, _ work: CPUWork, _ context: UnsafeMutableRawPointer?) -> PerCPU? {
    guard index > 0, index < count, let base = blocks?[index] else { return nil }
    let cpu = PerCPU(base: base)
    while cpu.workState.pointee.load(ordering: .acquiring) != 0 { x86_pause() }
    cpu.work = work
    cpu.context = context
    cpu.workState.pointee.store(1, ordering: .releasing)
    APIC.sendIPI(to: cpu.apicID, 0x4000 | wakeVector)
    return cpu
  }

  private static func wait(_ cpu: PerCPU) {
    while cpu.workState.pointee.load(ordering: .acquiring) != 3 { x86_pause() }
    cpu.workState.pointee.store(0, ordering: .releasing)
  }

  /// Runs `work(context)` on CPU `index` and waits for it. Returns false
  /// when there is no such CPU.
  @discardableResult
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func onCPU(
    _ index: Int, _ work: CPUWork, context: UnsafeMutableRawPointer? = nil
  ) -> Bool {
    if index == currentIndex {
      work(context)
      return true
    }
    guard let cpu = post(index, work, context) else { return false }
    wait(cpu)
    return true
  }

  /// Runs `work(context)` on every CPU at once (this one included) and
  /// waits for all.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func onCPUs(_ work: CPUWork, context: UnsafeMutableRawPointer? = nil) {
    let me = currentIndex
    var index = 1
    while index < count {
      if index != me { _ = post(index, work, context) }
      index += 1
    }
    work(context)
    index = 1
    while index < count {
      if index != me, let base = blocks?[index] { wait(PerCPU(base: base)) }
      index += 1
    }
  }

  /// Sends a fixed-vector IPI to CPU `index`.
  public static func sendInterrupt(to index: Int, vector: UInt32) {
    APIC.sendIPI(to: apicID(of: index), 0x4000 | (vector & 0xFF))
  }
}

/// Entry of every application processor (called by boot.S).
@_cdecl("x86_ap_main")
func x86ApMain(_ index: Int) {
  APIC.enableOnThisCPU()
  let cpu = PerCPU.current
  cpu.apicID = APIC.id
  cpu.online.pointee.store(1, ordering: .releasing)
  while true {
    if cpu.workState.pointee.load(ordering: .acquiring) == 1 {
      cpu.workState.pointee.store(2, ordering: .relaxed)
      cpu.work?(cpu.context)
      cpu.workState.pointee.store(3, ordering: .releasing)
    } else {
      x86_sti_hlt()
    }
  }
}

/// Handlers for vectors 32-255, run on the interrupt IST stack with
/// interrupts off; the runtime sends the EOI.
public enum Interrupts {
  public typealias Handler = @convention(c) (UInt64) -> Void
  nonisolated(unsafe) static var table: UnsafeMutablePointer<Handler?>? = nil
  /// The NMI handler (vector 2), run on the NMI's CPU; nil: an NMI is a
  /// crash like any unexpected exception.
  nonisolated(unsafe) public static var nmiHandler: (@convention(c) () -> Void)? = nil

  /// Installs `handler` for `vector`.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func register(_ vector: UInt32, _ handler: Handler) {
    if table == nil {
      let storage = UnsafeMutablePointer<Handler?>.allocate(capacity: 256)
      storage.initialize(repeating: nil, count: 256)
      table = storage
    }
    table?[Int(vector & 0xFF)] = handler
  }

  /// Takes interrupts on this CPU (IF=1 between short spins without PAUSE,
  /// `Timer.spinBriefly`) until the TSC reaches `end` or `done()` holds;
  /// returns with IF=0.
  public static func window(untilTSC end: UInt64, stopWhen done: () -> Bool) {
    while !done() && x86_rdtsc() < end {
      x86_sti()
      Timer.spinBriefly()
      x86_cli()
    }
  }

  /// Runs the handler of `vector`; false when none is installed.
  static func dispatch(_ vector: UInt64) -> Bool {
    guard let handler = table?[Int(vector & 0xFF)] else { return false }
    PerCPU.current.interrupts.pointee.add(1, ordering: .relaxed)
    handler(vector)
    return true
  }
}

/// Serialises console lines across CPUs; re-entrant for the CPU holding it
/// (a crash record printed in the middle of a line still gets out).
enum ConsoleLock {
  static let owner = Atomic<Int>(-1)
  nonisolated(unsafe) static var depth = 0

  static func acquire() {
    let me = PerCPU.current.index
    if owner.load(ordering: .acquiring) == me {
      depth += 1
      return
    }
    while !owner.compareExchange(expected: -1, desired: me, ordering: .acquiring).exchanged {
      x86_pause()
    }
    depth = 1
  }

  static func release() {
    depth -= 1
    if depth == 0 { owner.store(-1, ordering: .releasing) }
  }
}
