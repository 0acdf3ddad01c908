import GuestLib

/// One external interruption as the CPU stored it in its lowcore.
public struct ExternalInterruption {
  /// The external-interruption code (lowcore 0x86).
  public var code: UInt16
  /// The CPU address stored with it (lowcore 0x84): the sending CPU for an
  /// emergency signal or external call, unpredictable for other codes.
  public var cpuAddress: UInt16
  /// The external-interruption parameter (lowcore 0x80), e.g. the SCCB
  /// address of a service signal.
  public var parameter: UInt32
  /// The external old PSW: the interrupted code's PSW.
  public var oldMask: UInt64
  public var oldAddress: UInt64
  /// The address of the CPU that took the interruption.
  public var receiver: UInt16
}

/// External interruptions delivered to a Swift hook.
///
/// `install()` points this CPU's external new PSW at an entry that saves
/// the general and vector registers on the interrupted stack and calls
/// `hook` (shared by all CPUs) with the interruption; the hook may change
/// the old PSW in it (e.g. clear the external mask, so that a condition that
/// stays pending is taken once). An interruption that
/// ends a wait (old PSW wait bit set) resumes with the wait bit and the
/// external mask cleared, like the boot code's handler, so the SCLP console
/// keeps working and `waitForInterruption` returns disabled; an
/// interruption of running code resumes it with its PSW unchanged.
///
/// The subclass masks are CR0 bits 48-63 (`setSubclasses`), the PSW
/// external mask is bit 7 (`enable` / `disable`). The service signal is a
/// floating interruption: a CPU enabled for it may take another CPU's SCLP
/// completion, so tests enable it only where they mean to.
public enum External {
  /// Receives an `ExternalInterruption` (bind the pointer to it).
  public typealias Hook = @convention(c) (UnsafeMutableRawPointer) -> Void

  /// Called for every external interruption on a CPU with `install()`.
  nonisolated(unsafe) public static var hook: Hook? = nil

  /// CR0 subclass-mask bits (CR0 bit n is `1 << (63 - n)`).
  public static let emergencySignal: UInt64 = 1 << (63 - 49)
  public static let externalCall: UInt64 = 1 << (63 - 50)
  public static let clockComparator: UInt64 = 1 << (63 - 52)
  public static let cpuTimer: UInt64 = 1 << (63 - 53)
  public static let serviceSignal: UInt64 = 1 << (63 - 54)

  /// External-interruption codes.
  public static let clockComparatorCode: UInt16 = 0x1004
  public static let cpuTimerCode: UInt16 = 0x1005
  public static let emergencySignalCode: UInt16 = 0x1201
  public static let externalCallCode: UInt16 = 0x1202
  public static let serviceSignalCode: UInt16 = 0x2401

  /// PSW bits: external mask (7) and wait (14).
  public static let pswExternalMask: UInt64 = 1 << (63 - 7)
  public static let pswWait: UInt64 = 1 << (63 - 14)

  /// Points this CPU's external new PSW at the hook entry.
  public static func install() { s390_external_install() }

  /// Replaces CR0 bits 48-63 with `mask`; returns the previous bits.
  @discardableResult
  public static func setSubclasses(_ mask: UInt64) -> UInt64 {
    s390_external_set_subclasses(mask & 0xFFFF)
  }

  /// Sets PSW bit 7: pending external interruptions of enabled subclasses
  /// are taken from here on.
  public static func enable() { s390_external_enable() }

  /// Clears PSW bit 7.
  public static func disable() { s390_external_disable() }

  /// Waits, enabled for external interruptions, until one is taken; returns
  /// with the CPU disabled again.
  public static func waitForInterruption() { s390_wait_service_signal() }
}

@_extern(c, "s390_external_install") func s390_external_install()
@_extern(c, "s390_external_set_subclasses") func s390_external_set_subclasses(_ mask: UInt64) -> UInt64
@_extern(c, "s390_external_enable") func s390_external_enable()
@_extern(c, "s390_external_disable") func s390_external_disable()

/// Called by `s390_external_hook_entry` for every external interruption.
@_cdecl("s390_external_interruption")
func s390ExternalInterruption(
  _ code: UInt64, _ cpuAddress: UInt64, _ parameter: UInt64, _ psw: UnsafeMutablePointer<UInt64>
) {
  // This CPU's record slot in its lowcore (real 0x680, 32 bytes).
  let slot = UnsafeMutablePointer<ExternalInterruption>(bitPattern: 0x680)!
  slot.pointee = ExternalInterruption(
    code: UInt16(truncatingIfNeeded: code), cpuAddress: UInt16(truncatingIfNeeded: cpuAddress),
    parameter: UInt32(truncatingIfNeeded: parameter), oldMask: psw[0], oldAddress: psw[1],
    receiver: s390_cpu_address())
  if let hook = External.hook {
    hook(UnsafeMutableRawPointer(slot))
    psw[0] = slot.pointee.oldMask
    psw[1] = slot.pointee.oldAddress
  }
  if psw[0] & External.pswWait != 0 {
    psw[0] &= ~(External.pswWait | External.pswExternalMask)
  }
}
