import GuestLib

/// Registers saved by `isr_common` in boot.S, lowest address first, followed
/// by the vector, the error code and the hardware interrupt frame.
struct ExceptionFrame {
  var r15, r14, r13, r12, r11, r10, r9, r8: UInt64
  var rbp, rdi, rsi, rdx, rcx, rbx, rax: UInt64
  var vector, errorCode: UInt64
  var rip, cs, rflags, rsp, ss: UInt64
}

/// Runs `body(context)` with the exception hook armed: an exception in it
/// returns here instead of crashing the guest. Returns what was caught, or
/// nil when `body` returned normally.
public func catchException(
  _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void,
  context: UnsafeMutableRawPointer? = nil
) -> CaughtException? {
  let outcome = x86_try(body, context)
  return outcome == 0 ? nil : PerCPU.current.caught.pointee
}

private func exceptionName(_ vector: UInt64) -> StaticString {
  switch vector {
  case 0: return "#DE divide error"
  case 1: return "#DB debug"
  case 2: return "NMI"
  case 3: return "#BP breakpoint"
  case 4: return "#OF overflow"
  case 5: return "#BR bound range"
  case 6: return "#UD invalid opcode"
  case 7: return "#NM device not available"
  case 8: return "#DF double fault"
  case 10: return "#TS invalid TSS"
  case 11: return "#NP segment not present"
  case 12: return "#SS stack fault"
  case 13: return "#GP general protection"
  case 14: return "#PF page fault"
  case 16: return "#MF x87 error"
  case 17: return "#AC alignment check"
  case 18: return "#MC machine check"
  case 19: return "#XM SIMD error"
  case 20: return "#VE virtualization"
  case 21: return "#CP control protection"
  default: return "reserved"
  }
}

/// Called by `isr_common` for every CPU exception. With a `catchException`
/// armed it resumes there; otherwise it prints the crash record and ends
/// the guest as crashed.
@_cdecl("x86_exception_handler")
func x86ExceptionHandler(_ rawFrame: UnsafeMutableRawPointer) {
  let frame = rawFrame.assumingMemoryBound(to: ExceptionFrame.self)
  if frame.pointee.vector >= 32 {
    let vector = frame.pointee.vector
    if vector != 0xFF {
      _ = Interrupts.dispatch(vector)
      APIC.endOfInterrupt()
    }
    return
  }
  if frame.pointee.vector == 2, let handler = Interrupts.nmiHandler {
    handler()
    return
  }
  let armed = x86_try_armed_rsp()
  if armed != 0 && frame.pointee.vector != 8 {
    PerCPU.current.caught.pointee = CaughtException(
      vector: frame.pointee.vector, errorCode: frame.pointee.errorCode,
      instruction: frame.pointee.rip,
      faultAddress: frame.pointee.vector == 14 ? x86_read_cr2() : 0)
    frame.pointee.rip = x86_try_resume_address()
    frame.pointee.rsp = armed
    frame.pointee.rax = 0x100 | frame.pointee.vector
    return
  }
  let f = frame.pointee
  Console.write(byte: 10)
  Console.beginLine()
  Console.write("# CRASH: cpu=")
  Console.write(decimal: UInt64(PerCPU.current.index))
  Console.write(" vector=")
  Console.write(decimal: f.vector)
  Console.write(" name=\"")
  Console.write(exceptionName(f.vector))
  Console.write("\"")
  Console.write(field: "error", hex: f.errorCode)
  Console.write(field: "rip", hex: f.rip)
  Console.write(field: "rsp", hex: f.rsp)
  Console.write(field: "rflags", hex: f.rflags)
  Console.write(field: "cr2", hex: x86_read_cr2())
  Console.endLine()
  // The frame starts with the general registers as isr_common pushed them.
  Console.writeCrashRegisters(
    "r15 r14 r13 r12 r11 r10 r9 r8 rbp rdi rsi rdx rcx rbx rax",
    UnsafeRawPointer(rawFrame).assumingMemoryBound(to: UInt64.self))
  writeExitLine(.crashed)
  exitGuest(.crashed)
}
