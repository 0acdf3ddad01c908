// Swift declarations of the assembly helpers in cpu.S.

import GuestLib

@_extern(c, "x86_outb") public func x86_outb(_ port: UInt16, _ value: UInt8)
@_extern(c, "x86_outw") public func x86_outw(_ port: UInt16, _ value: UInt16)
@_extern(c, "x86_outl") public func x86_outl(_ port: UInt16, _ value: UInt32)
@_extern(c, "x86_inb") public func x86_inb(_ port: UInt16) -> UInt8
@_extern(c, "x86_read_cr0") public func x86_read_cr0() -> UInt64
@_extern(c, "x86_read_cr2") public func x86_read_cr2() -> UInt64
@_extern(c, "x86_read_cr3") public func x86_read_cr3() -> UInt64
@_extern(c, "x86_read_cr4") public func x86_read_cr4() -> UInt64
@_extern(c, "x86_write_cr3") public func x86_write_cr3(_ value: UInt64)
@_extern(c, "x86_invlpg") public func x86_invlpg(_ address: UInt64)
@_extern(c, "x86_rdtsc") public func x86_rdtsc() -> UInt64
@_extern(c, "x86_rdmsr") public func x86_rdmsr(_ msr: UInt32) -> UInt64
@_extern(c, "x86_wrmsr") public func x86_wrmsr(_ msr: UInt32, _ value: UInt64)
@_extern(c, "x86_cpuid") public func x86_cpuid(_ leaf: UInt32, _ subleaf: UInt32, _ out: UnsafeMutablePointer<UInt32>)
@_extern(c, "x86_halt_forever") public func x86_halt() 

/// Stops this CPU for good.
public func x86_halt_forever() -> Never {
  while true { x86_halt() }
}
@_extern(c, "x86_pause") public func x86_pause()
@_extern(c, "x86_ud2") public func x86_ud2()
@_extern(c, "x86_int3") public func x86_int3()
@_extern(c, "x86_divide_error") public func x86_divide_error()
@_extern(c, "x86_load") public func x86_load(_ address: UInt64) -> UInt64
@_extern(c, "x86_read_rsp") public func x86_read_rsp() -> UInt64
@_extern(c, "x86_image_end") public func x86_image_end() -> UInt64
@_extern(c, "x86_try") public func x86_try(
  _ body: @convention(c) (UnsafeMutableRawPointer?) -> Void, _ context: UnsafeMutableRawPointer?
) -> UInt64
@_extern(c, "x86_try_resume_address") public func x86_try_resume_address() -> UInt64
@_extern(c, "x86_try_armed_rsp") public func x86_try_armed_rsp() -> UInt64
@_extern(c, "x86_percpu") public func x86_percpu() -> UnsafeMutableRawPointer
@_extern(c, "x86_sti") public func x86_sti()
@_extern(c, "x86_cli") public func x86_cli()
@_extern(c, "x86_sti_hlt") public func x86_sti_hlt()
@_extern(c, "x86_gdt_address") public func x86_gdt_address() -> UInt64
@_extern(c, "x86_ap_trampoline_start") public func x86_ap_trampoline_start() -> UInt64
@_extern(c, "x86_ap_trampoline_size") public func x86_ap_trampoline_size() -> Int
@_extern(c, "x86_set_ap_boot") public func x86_set_ap_boot(
  _ gs: UInt64, _ stack: UInt64, _ tss: UInt64, _ index: UInt64)
@_extern(c, "x86_image_start") public func x86_image_start() -> UInt64
@_extern(c, "x86_mmio_read32") public func x86_mmio_read32(_ address: UInt) -> UInt32
@_extern(c, "x86_mmio_write32") public func x86_mmio_write32(_ address: UInt, _ value: UInt32)

/// A free-running counter (the TSC), used to seed arc4random_buf.
public func cycleCounter() -> UInt64 { x86_rdtsc() }
/// RDTSCP: the TSC, and IA32_TSC_AUX[31:0] (ECX) stored to `aux`.
@_extern(c, "x86_rdtscp") public func x86_rdtscp(_ aux: UnsafeMutablePointer<UInt32>) -> UInt64
/// RDPID: IA32_TSC_AUX, zero-extended.
@_extern(c, "x86_rdpid") public func x86_rdpid() -> UInt64
/// LOCK CMPXCHG16B on the 16-byte aligned `p`: 1 when it held (cmpLo,
/// cmpHi) and now holds (newLo, newHi), 0 otherwise.
@_extern(c, "x86_cmpxchg16b") public func x86_cmpxchg16b(
  _ p: UnsafeMutablePointer<UInt64>, _ cmpLo: UInt64, _ cmpHi: UInt64, _ newLo: UInt64, _ newHi: UInt64
) -> UInt64
/// POPCNT of `value` (the instruction, not a software fallback).
@_extern(c, "x86_popcnt") public func x86_popcnt(_ value: UInt64) -> UInt64
/// MOVBE load of the 8 bytes at `p`: byte-swapped.
@_extern(c, "x86_movbe_load") public func x86_movbe_load(_ p: UnsafePointer<UInt64>) -> UInt64
/// RDRAND into `out`; returns CF (1 = a random value was delivered).
@_extern(c, "x86_rdrand") public func x86_rdrand(_ out: UnsafeMutablePointer<UInt64>) -> UInt64
/// Writes `value` to MSR `msr`, reads it back, restores the old value and
/// returns what was read, with no code in between that could depend on the
/// MSR (safe for GS_BASE and IA32_APIC_BASE). A faulting WRMSR changes nothing.
@_extern(c, "x86_wrmsr_swap") public func x86_wrmsr_swap(_ msr: UInt32, _ value: UInt64) -> UInt64

/// EAX, EBX, ECX, EDX of `CPUID(leaf, subleaf)` on this CPU.
public func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0)
  -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)
{
  var registers: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
  withUnsafeMutablePointer(to: &registers) { pointer in
    pointer.withMemoryRebound(to: UInt32.self, capacity: 4) { x86_cpuid(leaf, subleaf, $0) }
  }
  return registers
}
