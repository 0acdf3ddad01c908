import GuestLib

/// The CPUs of the machine, by the addresses SCLP READ SCP INFO reported,
/// and their bring-up with SIGP.
///
/// Starting a CPU: its lowcore is an order-1 (8 KiB, naturally aligned)
/// block from the LOW area (below 2 GiB, as SET PREFIX takes a 31-bit
/// address) — never from NORMAL, even when LOW is fragmented. The new-PSW
/// part of this CPU's lowcore is copied into it, its restart new PSW points
/// at `s390_secondary_entry`, and stack, program-check stack and argument go
/// into this runtime's own lowcore slots. Then SIGP SENSE (the CPU must be
/// stopped), SET PREFIX and RESTART, each retried while the CPU answers busy.
///
/// A CPU running with a non-zero prefix sees absolute 0–8 KiB at its own
/// lowcore and the reverse, so data shared between CPUs lives in neither.
public enum Processors {
  public static let sigpSense: UInt8 = 1
  public static let sigpStop: UInt8 = 5
  public static let sigpRestart: UInt8 = 6
  public static let sigpSetPrefix: UInt8 = 13

  /// SIGP status bits (stored with condition code 1).
  public static let statusStopped: UInt32 = 0x40
  public static let statusInvalidParameter: UInt32 = 0x100
  public static let statusIncorrectState: UInt32 = 0x200

  /// The outcome of a SIGP order: condition code and, for cc 1, the status.
  public struct SigpResult {
    public var conditionCode: UInt32
    public var status: UInt32
  }

  /// Sends `order` to `cpu`, retrying while it is busy (cc 2).
  public static func sigp(_ cpu: UInt16, _ order: UInt8, parameter: UInt64 = 0) -> SigpResult {
    var status: UInt32 = 0
    var attempts = 0
    while true {
      let cc = s390_sigp(cpu, order, parameter, &status)
      if cc != 2 || attempts == 1_000_000 { return SigpResult(conditionCode: cc, status: cc == 1 ? status : 0) }
      attempts &+= 1
    }
  }

  /// Whether `cpu` is in the stopped state (SIGP SENSE).
  public static func isStopped(_ cpu: UInt16) -> Bool {
    let sense = sigp(cpu, sigpSense)
    return sense.conditionCode == 1 && sense.status & statusStopped != 0
  }

  /// An 8 KiB lowcore from the LOW area, or nil (never NORMAL memory).
  public static func allocateLowcore() -> UnsafeMutableRawPointer? {
    GuestMemory.pages?.allocate(order: 1, areas: .s390xLow, flags: .zero)
  }

  /// What a started CPU runs: `entry(context)` on its own stack.
  public struct Start {
    public var entry: @convention(c) (UnsafeMutableRawPointer?) -> Void
    public var context: UnsafeMutableRawPointer?

    /// Runs `entry(context)`.
    public init(entry: @convention(c) (UnsafeMutableRawPointer?) -> Void, context: UnsafeMutableRawPointer?) {
      self.entry = entry
      self.context = context
    }
  }

  /// Why a start failed.
  public enum StartError: UInt8 {
    case notStopped, setPrefixRefused, restartRefused
    /// No memory in the LOW area for its lowcore, stacks or start block.
    case noMemory
  }

  /// A CPU other than this one (the last other one SCLP lists), or nil
  /// when this is the only one.
  public static var another: UInt16? {
    let me = s390_cpu_address()
    var other: UInt16?
    var index = 0
    while index < BootInfo.cpuCount {
      if BootInfo.cpuAddresses[index] != me { other = BootInfo.cpuAddresses[index] }
      index &+= 1
    }
    return other
  }

  /// Starts `cpu` running `entry(context)` on memory of its own from the
  /// LOW area (an 8 KiB lowcore, a 16 KiB stack, an 8 KiB program-check
  /// stack and the start block), which it keeps for the rest of the run.
  public static func start(
    _ cpu: UInt16, running entry: @convention(c) (UnsafeMutableRawPointer?) -> Void,
    context: UnsafeMutableRawPointer? = nil
  ) -> StartError? {
    guard let pages = GuestMemory.pages, let lowcore = allocateLowcore(),
      let stack = pages.allocate(order: 2, areas: .s390xLow, flags: .zero),
      let checkStack = pages.allocate(order: 1, areas: .s390xLow),
      let startPage = pages.allocate(order: 0, areas: .s390xLow, flags: .zero)
    else { return .noMemory }
    let block = startPage.bindMemory(to: Start.self, capacity: 1)
    block.initialize(to: Start(entry: entry, context: context))
    return start(
      cpu, lowcore: lowcore, stackTop: UInt(bitPattern: stack) + 16384,
      programCheckStackTop: UInt(bitPattern: checkStack) + 8192, start: block)
  }

  /// Starts `cpu` with `lowcore` (8 KiB, below 2 GiB), `stackTop`,
  /// `programCheckStackTop` and `start`, which must stay valid while it runs.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func start(
    _ cpu: UInt16, lowcore: UnsafeMutableRawPointer, stackTop: UInt,
    programCheckStackTop: UInt, start: UnsafeMutablePointer<Start>
  ) -> StartError? {
    guard isStopped(cpu) else { return .notStopped }
    let base = UInt64(UInt(bitPattern: lowcore))
    s390_copy_lowcore_psws(base)
    lowcore.storeBytes(of: UInt64(0x0000_0001_8000_0000), toByteOffset: 0x1A0, as: UInt64.self)
    lowcore.storeBytes(of: s390_secondary_entry_address(), toByteOffset: 0x1A8, as: UInt64.self)
    lowcore.storeBytes(of: UInt64(UInt(bitPattern: start)), toByteOffset: 0x2D8, as: UInt64.self)
    lowcore.storeBytes(of: UInt64(stackTop), toByteOffset: 0x2E0, as: UInt64.self)
    lowcore.storeBytes(of: UInt64(programCheckStackTop), toByteOffset: 0x2F0, as: UInt64.self)
    guard sigp(cpu, sigpSetPrefix, parameter: base).conditionCode == 0 else { return .setPrefixRefused }
    guard sigp(cpu, sigpRestart).conditionCode == 0 else { return .restartRefused }
    return nil
  }

  /// Stops every CPU but this one (SIGP STOP, retried while busy) and waits
  /// until SIGP SENSE reports each stopped: the stop completes
  /// asynchronously, and QEMU ends the run (0 for SIGP STOP of the last CPU,
  /// a panic for its disabled wait) only once this CPU is the last running.
  #if hasAttribute(export)
    @export(interface)  // compiled once in GuestArch.o, not into each program
  #endif
  public static func stopOthers() {
    let me = s390_cpu_address()
    var index = 0
    while index < BootInfo.cpuCount {
      let cpu = BootInfo.cpuAddresses[index]
      if cpu != me {
        _ = sigp(cpu, sigpStop)
        var attempts = 0
        while !isStopped(cpu) && attempts < 1_000_000 { attempts &+= 1 }
      }
      index &+= 1
    }
  }
}

/// The Swift entry of a CPU started by `Processors.start`: runs the start
/// block's entry, then stops the CPU.
@_cdecl("s390_secondary_main")
func s390SecondaryMain(_ argument: UInt64) {
  if let start = UnsafeMutablePointer<Processors.Start>(bitPattern: UInt(argument)) {
    start.pointee.entry(start.pointee.context)
  }
  s390_stop_self()
}
