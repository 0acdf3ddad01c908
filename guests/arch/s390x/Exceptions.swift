import GuestLib

/// What `s390_program_entry` in boot.S saves for a program check: the
/// general registers, the program old PSW, the interruption code, the
/// lowcore halfword holding the instruction-length code, and the
/// translation-exception address.
struct ProgramCheckFrame {
  var r0, r1, r2, r3, r4, r5, r6, r7: UInt64
  var r8, r9, r10, r11, r12, r13, r14, r15: UInt64
  var pswMask, pswAddress: UInt64
  var code, ilcField, tea: UInt64
}

/// The exception this CPU's `catchException` caught last, in its lowcore
/// (0x300, real address, so each CPU has its own through prefixing).
private var caughtOnThisCPU: UnsafeMutablePointer<CaughtException> {
  UnsafeMutablePointer(bitPattern: 0x300)!
}

/// Runs `body(context)` with the exception hook armed: a program check in it
/// returns here instead of crashing the guest. Returns what was caught, or
/// nil when `body` returned normally.
public func catchException(
  _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void,
  context: UnsafeMutableRawPointer? = nil
) -> CaughtException? {
  let outcome = s390_try(body, context)
  return outcome == 0 ? nil : caughtOnThisCPU.pointee
}

/// Whether the interruption code carries a translation-exception address.
private func hasTranslationAddress(_ code: UInt64) -> Bool {
  switch code & 0x7F {
  case 0x04, 0x10, 0x11, 0x38, 0x39, 0x3A, 0x3B: return true
  default: return false
  }
}

/// The address of the instruction behind program check `code`. Translation
/// exceptions nullify the instruction: the old PSW still points at it. The
/// others suppress, complete or terminate it: the old PSW points past it, by
/// the instruction-length code in halfwords (seen under QEMU: an addressing
/// exception of a 6-byte STG gives ILC 3 and the PSW 6 bytes on).
public func faultingInstruction(psw: UInt64, code: UInt64, ilc: UInt64) -> UInt64 {
  switch code & 0x7F {
  case 0x10, 0x11, 0x38, 0x39, 0x3A, 0x3B: return psw
  default: return psw &- 2 &* ilc
  }
}

private func programCheckName(_ code: UInt64) -> StaticString {
  switch code & 0x7F {
  case 0x01: return "operation"
  case 0x02: return "privileged operation"
  case 0x03: return "execute"
  case 0x04: return "protection"
  case 0x05: return "addressing"
  case 0x06: return "specification"
  case 0x07: return "data"
  case 0x08: return "fixed-point overflow"
  case 0x09: return "fixed-point divide"
  case 0x0A: return "decimal overflow"
  case 0x0B: return "decimal divide"
  case 0x10: return "segment translation"
  case 0x11: return "page translation"
  case 0x12: return "translation specification"
  case 0x13: return "special operation"
  case 0x15: return "operand"
  case 0x1B: return "vector processing"
  case 0x38: return "ASCE type"
  case 0x39: return "region-first translation"
  case 0x3A: return "region-second translation"
  case 0x3B: return "region-third translation"
  default: return "other"
  }
}

/// Called by `s390_program_entry` for every program check. With a
/// `catchException` armed it resumes there; otherwise it prints the crash
/// record and ends the guest as crashed.
@_cdecl("s390_program_check_handler")
func s390ProgramCheckHandler(_ rawFrame: UnsafeMutableRawPointer) {
  let frame = rawFrame.assumingMemoryBound(to: ProgramCheckFrame.self)
  let code = frame.pointee.code
  let ilc = (frame.pointee.ilcField >> 1) & 3
  let tea = hasTranslationAddress(code) ? frame.pointee.tea : 0
  let armed = s390_try_armed_sp()
  if armed != 0 {
    caughtOnThisCPU.pointee = CaughtException(
      vector: code, errorCode: ilc, instruction: frame.pointee.pswAddress, faultAddress: tea)
    frame.pointee.pswAddress = s390_try_resume_address()
    frame.pointee.r15 = armed
    frame.pointee.r2 = 0x100 | code
    return
  }
  let f = frame.pointee
  Console.beginLine()
  Console.write(byte: 10)
  Console.write("# CRASH: cpu=")
  Console.write(decimal: UInt64(s390_cpu_address()))
  Console.write(" vector=")
  Console.write(decimal: code)
  Console.write(" name=\"")
  Console.write(programCheckName(code))
  Console.write("\"")
  Console.write(field: "ip", hex: faultingInstruction(psw: f.pswAddress, code: code, ilc: ilc))
  Console.write(field: "psw", hex: f.pswAddress)
  Console.write(field: "mask", hex: f.pswMask)
  Console.write(" ilc=")
  Console.write(decimal: ilc)
  Console.write(field: "tea", hex: f.tea)
  Console.endLine()
  // The frame starts with r0-r15.
  Console.writeCrashRegisters(
    "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9 r10 r11 r12 r13 r14 r15",
    UnsafeRawPointer(rawFrame).assumingMemoryBound(to: UInt64.self))
  writeExitLine(.crashed)
  exitGuest(.crashed)
}
