/// An exception caught by the runtime's `catchException { ... }` hook.
/// The fields mean the same on every architecture, filled from its own
/// registers.
public struct CaughtException {
  /// x86_64: the exception vector (6 = #UD, 13 = #GP, 14 = #PF, ...).
  /// s390x: the program-interruption code (1 = operation, 5 = addressing,
  /// 6 = specification, 9 = fixed-point divide, 0x11 = page translation...).
  public var vector: UInt64
  /// x86_64: the error code the CPU pushed (0 when none). s390x: the
  /// instruction-length code (1, 2 or 3 halfwords; 0 if not available).
  public var errorCode: UInt64
  /// The faulting instruction (x86_64 RIP; s390x the program old PSW
  /// address: the faulting instruction for nullifying exceptions, the next
  /// one for suppressing ones).
  public var instruction: UInt64
  /// x86_64: CR2 for a page fault. s390x: the translation-exception
  /// address for DAT exceptions. 0 otherwise.
  public var faultAddress: UInt64

  /// A record.
  public init(vector: UInt64, errorCode: UInt64, instruction: UInt64, faultAddress: UInt64) {
    self.vector = vector
    self.errorCode = errorCode
    self.instruction = instruction
    self.faultAddress = faultAddress
  }
}
