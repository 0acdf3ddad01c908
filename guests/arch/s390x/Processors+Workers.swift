import GuestLib

extension Processors {
  /// The resources of a worker CPU, allocated on its first start and kept
  /// for the next: lowcore, stack, program-check stack and start block.
  struct WorkerSlot {
    var lowcore: UnsafeMutableRawPointer
    var stackTop: UInt
    var programCheckStackTop: UInt
    var start: UnsafeMutablePointer<Start>
  }

  nonisolated(unsafe) static var workerSlots: UnsafeMutablePointer<WorkerSlot?>? = nil
  static let workerCapacity = 256

  /// Starts the stopped CPU `cpu` running `entry(context)` (it stops itself
  /// when `entry` returns), reusing its lowcore and stacks from an earlier
  /// start. Returns false when memory or SIGP refused.
  public static func startWorker(
    _ cpu: UInt16, _ entry: @convention(c) (UnsafeMutableRawPointer?) -> Void,
    context: UnsafeMutableRawPointer? = nil
  ) -> Bool {
    guard let pages = GuestMemory.pages, Int(cpu) < workerCapacity else { return false }
    if workerSlots == nil {
      guard let table = pages.allocate(order: 2, flags: .zero) else { return false }
      let slots = table.bindMemory(to: WorkerSlot?.self, capacity: workerCapacity)
      slots.initialize(repeating: nil, count: workerCapacity)
      workerSlots = slots
    }
    guard let slots = workerSlots else { return false }
    if slots[Int(cpu)] == nil {
      guard let lowcore = allocateLowcore(), let stack = pages.allocate(order: 2, flags: .zero),
        let programCheckStack = pages.allocate(order: 1), let block = pages.allocate(order: 0)
      else { return false }
      slots[Int(cpu)] = WorkerSlot(
        lowcore: lowcore, stackTop: UInt(bitPattern: stack) + 16384,
        programCheckStackTop: UInt(bitPattern: programCheckStack) + 8192,
        start: block.bindMemory(to: Start.self, capacity: 1))
    }
    guard let slot = slots[Int(cpu)] else { return false }
    slot.start.initialize(to: Start(entry: entry, context: context))
    return start(
      cpu, lowcore: slot.lowcore, stackTop: slot.stackTop,
      programCheckStackTop: slot.programCheckStackTop, start: slot.start) == nil
  }

  /// The lowcore `startWorker` gave `cpu`, if it started one.
  public static func workerLowcore(_ cpu: UInt16) -> UnsafeMutableRawPointer? {
    guard let slots = workerSlots, Int(cpu) < workerCapacity else { return nil }
    return slots[Int(cpu)]?.lowcore
  }

  /// The CPU addresses other than the caller's, in SCLP order.
  public static func others() -> [UInt16] {
    let me = s390_cpu_address()
    var list: [UInt16] = []
    var index = 0
    while index < BootInfo.cpuCount {
      if BootInfo.cpuAddresses[index] != me { list.append(BootInfo.cpuAddresses[index]) }
      index &+= 1
    }
    return list
  }

  /// Waits (bounded by `microseconds` of TOD time) until `cpu` is stopped.
  @discardableResult
  public static func waitStopped(_ cpu: UInt16, microseconds: UInt64 = 5_000_000) -> Bool {
    let deadline = (s390_store_clock() >> 12) &+ microseconds
    while !isStopped(cpu) {
      if s390_store_clock() >> 12 > deadline { return false }
    }
    return true
  }
}
