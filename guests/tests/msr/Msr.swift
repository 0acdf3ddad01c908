// Architectural MSRs read, written and read back as the Intel SDM (vol. 3
// chapter 2.2, vol. 4) and the AMD APM (vol. 2) define them: what a write
// must keep, which values must raise #GP (vector 13), and what the CPU shows
// of them elsewhere (RDTSCP, RDTSC). Every test restores what it changed.
// Probes that may be accepted by a lax implementation go through
// `x86_wrmsr_swap`, which puts the old value back before anything runs.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("efer", eferRoundTrip, .requires(arch: .x86_64)),
  Test(
    "efer reserved bits", eferReserved, .requires(arch: .x86_64),
    .xfail("measured: TCG raises no #GP for EFER bits 1, 7, 9, 63 nor for clearing LME with paging on", when: .tcg)),
  Test("syscall msrs", syscallMSRs, .requires(arch: .x86_64)),
  Test(
    "syscall msrs non-canonical", syscallNonCanonical, .requires(arch: .x86_64),
    .xfail("measured: TCG accepts non-canonical LSTAR/CSTAR without #GP", when: .tcg)),
  Test("segment bases", segmentBases, .requires(arch: .x86_64)),
  Test(
    "segment bases non-canonical", segmentBasesNonCanonical, .requires(arch: .x86_64),
    .xfail("measured: TCG accepts non-canonical FS/GS/KERNEL_GS bases without #GP", when: .tcg)),
  Test(
    "tsc_aux", tscAux, .requires(arch: .x86_64),
    .xfail("measured: TCG reads IA32_TSC_AUX without #GP although qemu64 reports neither RDTSCP nor RDPID", when: .tcg)),
  Test("pat", pat, .requires(arch: .x86_64)),
  Test(
    "pat invalid types", patInvalid, .requires(arch: .x86_64),
    .xfail("measured: TCG stores PAT types 2, 3 and 8 without #GP", when: .tcg),
    .xfail("measured: this host's nested KVM (PVM) stores PAT types 2, 3 and 8 without #GP", when: .kvm)),
  Test(
    "mtrr", mtrr, .requires(arch: .x86_64),
    .xfail("measured: TCG stores MTRR_DEF_TYPE reserved bit 9 and type 2 without #GP", when: .tcg)),
  Test("apic base", apicBase, .requires(arch: .x86_64)),
  Test(
    "apic base reserved bits", apicBaseReserved, .requires(arch: .x86_64),
    .xfail("measured: TCG raises no #GP for IA32_APIC_BASE bits 0, 7, 9, MAXPHYADDR, 63", when: .tcg)),
  Test(
    "unknown msr", unknownMSR, .requires(arch: .x86_64),
    .xfail("measured: TCG reads 0 from and ignores writes to unassigned MSRs, no #GP", when: .tcg)),
  Test(
    "tsc", tsc, .requires(arch: .x86_64),
    .xfail("measured: TCG ignores WRMSR 10h (RDTSC unchanged) and RDMSR 10h is not between two RDTSCs", when: .tcg),
    .xfail("measured: this host's nested KVM (PVM) ignores WRMSR 10h, RDTSC does not jump", when: .kvm)),
]

let efer: UInt32 = 0xC000_0080
let star: UInt32 = 0xC000_0081
let lstar: UInt32 = 0xC000_0082
let cstar: UInt32 = 0xC000_0083
let sfmask: UInt32 = 0xC000_0084
let fsBase: UInt32 = 0xC000_0100
let gsBase: UInt32 = 0xC000_0101
let kernelGSBase: UInt32 = 0xC000_0102
let tscAuxMSR: UInt32 = 0xC000_0103
let patMSR: UInt32 = 0x277
let apicBaseMSR: UInt32 = 0x1B

/// Addresses that are non-canonical for both 48- and 57-bit linear
/// addresses (WRMSR checks against the widest width the CPU supports, SDM
/// 3.3.7.1): bit 63 alone; bit 56 set with 63:57 clear; bits 63:57 set
/// with bit 56 clear.
let nonCanonical: [UInt64] = [0x8000_0000_0000_0000, 0x0100_0000_0000_0000, 0xFE00_0000_0000_0000]

#if arch(x86_64)
  /// CPUID.80000001h:EDX, 0 when the extended range stops before it.
  func extendedFeatures() -> UInt32 {
    cpuid(0x8000_0000).eax >= 0x8000_0001 ? cpuid(0x8000_0001).edx : 0
  }

  /// MAXPHYADDR: CPUID.80000008h:EAX[7:0], 36 when the leaf is absent (SDM 4.1.4).
  func physicalAddressBits() -> UInt64 {
    cpuid(0x8000_0000).eax >= 0x8000_0008 ? UInt64(cpuid(0x8000_0008).eax & 0xFF) : 36
  }
#endif

func eferRoundTrip() {
  #if arch(x86_64)
    let saved = x86_rdmsr(efer)
    note("EFER", saved, hex: true)
    // In 64-bit mode LME (bit 8) was set by boot and LMA (bit 10) by the CPU.
    expectBits(saved, set: 1 << 8, "EFER.LME is set in long mode")
    expectBits(saved, set: 1 << 10, "EFER.LMA is set in long mode")
    // SCE (bit 0) enables SYSCALL; nothing here uses it, so it toggles safely.
    x86_wrmsr(efer, saved | 1)
    expectBits(x86_rdmsr(efer), set: 1, "EFER.SCE reads back set")
    x86_wrmsr(efer, saved & ~1)
    expectBits(x86_rdmsr(efer), clear: 1, "EFER.SCE reads back clear")
    x86_wrmsr(efer, saved)
    if extendedFeatures() & 1 << 20 != 0 {
      // NXE (bit 11) only changes whether PTE bit 63 means no-execute; the
      // runtime's page tables never set bit 63, so both settings are safe.
      x86_wrmsr(efer, saved | 1 << 11)
      expectBits(x86_rdmsr(efer), set: 1 << 11, "EFER.NXE reads back set (NX reported)")
      x86_wrmsr(efer, saved & ~(1 << 11))
      expectBits(x86_rdmsr(efer), clear: 1 << 11, "EFER.NXE reads back clear")
      x86_wrmsr(efer, saved)
    } else {
      expectException(vector: 13, "EFER.NXE without NX raises #GP") { _ = x86_wrmsr_swap(efer, saved | 1 << 11) }
    }
    expectEqual(x86_rdmsr(efer), saved, "EFER restored")
    // Writing LMA (read-only status) with its current value is accepted.
    expectNoException("writing EFER with its own value (LMA included)") { x86_wrmsr(efer, saved) }
  #endif
}

func eferReserved() {
  #if arch(x86_64)
    let saved = x86_rdmsr(efer)
    // Bits 1-7 and 9 are reserved on Intel and AMD (SDM Table 2-2, APM 3.1.7).
    for bit: UInt64 in [1, 7, 9] {
      expectException(vector: 13, "EFER reserved bit 1/7/9 raises #GP") { _ = x86_wrmsr_swap(efer, saved | 1 << bit) }
    }
    // Bit 63 is reserved on both.
    expectException(vector: 13, "EFER bit 63 raises #GP") { _ = x86_wrmsr_swap(efer, saved | 1 << 63) }
    // Clearing LME while paging is on is a #GP (SDM 9.8.5, APM 14.6.1).
    expectException(vector: 13, "clearing EFER.LME with CR0.PG set raises #GP") {
      _ = x86_wrmsr_swap(efer, saved & ~(1 << 8))
    }
    expectEqual(x86_rdmsr(efer), saved, "EFER unchanged by the refused writes")
  #endif
}

func syscallMSRs() {
  #if arch(x86_64)
    // STAR: every bit is defined (EIP, SYSCALL CS/SS, SYSRET CS/SS); LSTAR
    // and CSTAR hold canonical addresses; SFMASK masks RFLAGS bits 31:0.
    let patterns: [(UInt32, UInt64)] = [
      (star, 0x0023_0010_DEAD_BEEF), (star, 0x001B_0008_0000_0000),
      (lstar, 0xFFFF_8000_0000_1000), (lstar, 0x0000_7FFF_FFFF_F000),
      (cstar, 0xFFFF_FFFF_8000_0000), (cstar, 0x0000_0000_0040_0000),
      (sfmask, 0x0004_7700), (sfmask, 0),
    ]
    for (msr, value) in patterns {
      let saved = x86_rdmsr(msr)
      x86_wrmsr(msr, value)
      expectEqual(x86_rdmsr(msr), value, "syscall MSR reads back what was written")
      x86_wrmsr(msr, saved)
      expectEqual(x86_rdmsr(msr), saved, "syscall MSR restored")
    }
  #endif
}

func syscallNonCanonical() {
  #if arch(x86_64)
    for msr in [lstar, cstar] {
      let saved = x86_rdmsr(msr)
      for value in nonCanonical {
        expectException(vector: 13, "non-canonical LSTAR/CSTAR raises #GP") { _ = x86_wrmsr_swap(msr, value) }
      }
      expectEqual(x86_rdmsr(msr), saved, "LSTAR/CSTAR unchanged")
    }
  #endif
}

func segmentBases() {
  #if arch(x86_64)
    for msr in [fsBase, gsBase, kernelGSBase] {
      for value: UInt64 in [0xFFFF_8000_1234_5000, 0x0000_7FFF_0000_0008, 0] {
        // GS_BASE points at this CPU's per-CPU block: probe it through the
        // swap, which restores it before anything reads %gs.
        expectEqual(x86_wrmsr_swap(msr, value), value, "FS/GS/KERNEL_GS base reads back what was written")
      }
    }
    // FS: a write is visible to the next RDMSR and stays until changed.
    let saved = x86_rdmsr(fsBase)
    x86_wrmsr(fsBase, 0x1000)
    expectEqual(x86_rdmsr(fsBase), 0x1000, "FS_BASE keeps its value across instructions")
    x86_wrmsr(fsBase, saved)
  #endif
}

func segmentBasesNonCanonical() {
  #if arch(x86_64)
    for msr in [fsBase, gsBase, kernelGSBase] {
      let saved = x86_rdmsr(msr)
      for value in nonCanonical {
        expectException(vector: 13, "non-canonical FS/GS/KERNEL_GS base raises #GP") { _ = x86_wrmsr_swap(msr, value) }
      }
      expectEqual(x86_rdmsr(msr), saved, "base unchanged")
    }
  #endif
}

func tscAux() {
  #if arch(x86_64)
    let hasRDTSCP = extendedFeatures() & 1 << 27 != 0
    let hasRDPID = cpuid(0).eax >= 7 && cpuid(7).ecx & 1 << 22 != 0
    guard hasRDTSCP || hasRDPID else {
      // IA32_TSC_AUX exists when RDTSCP or RDPID does (SDM vol. 4 Table 2-2).
      expectException(vector: 13, "IA32_TSC_AUX without RDTSCP/RDPID raises #GP on RDMSR") { _ = x86_rdmsr(tscAuxMSR) }
      return
    }
    let saved = x86_rdmsr(tscAuxMSR)
    for value: UInt64 in [0xFFFF_FFFF, 0x8000_0001, 0] {
      x86_wrmsr(tscAuxMSR, value)
      expectEqual(x86_rdmsr(tscAuxMSR), value, "IA32_TSC_AUX reads back")
      if hasRDTSCP {
        var aux: UInt32 = 0
        _ = withUnsafeMutablePointer(to: &aux) { x86_rdtscp($0) }
        expectEqual(UInt64(aux), value, "RDTSCP's ECX is IA32_TSC_AUX[31:0]")
      }
    }
    x86_wrmsr(tscAuxMSR, saved)
    // Bits 63:32 are reserved.
    expectException(vector: 13, "IA32_TSC_AUX bit 32 raises #GP") { _ = x86_wrmsr_swap(tscAuxMSR, 1 << 32) }
    expectEqual(x86_rdmsr(tscAuxMSR), saved, "IA32_TSC_AUX restored")
  #endif
}

func pat() {
  #if arch(x86_64)
    let saved = x86_rdmsr(patMSR)
    note("IA32_PAT", saved, hex: true)
    // Each of the 8 entries is a memory type in bits 2:0 of its byte, bits
    // 7:3 reserved; the types are 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-.
    var valid = true
    var i: UInt64 = 0
    while i < 8 {
      let entry = saved >> (8 * i) & 0xFF
      if entry > 7 || entry == 2 || entry == 3 { valid = false }
      i += 1
    }
    expect(valid, "every PAT entry holds a valid memory type")
    // Nothing before the guest programs PAT: the power-up value
    // (WB, WT, UC-, UC twice, SDM 11.12.4).
    expectEqual(saved, 0x0007_0406_0007_0406, "IA32_PAT holds its power-up value")
    // Entry 0 (the runtime's pages: PAT, PCD, PWT all 0) stays WB; the others
    // take every valid type once: 6 4 7 0 | 6 1 5 4 → 0x0405_0106_0007_0406.
    let other: UInt64 = 0x0405_0106_0007_0406
    x86_wrmsr(patMSR, other)
    expectEqual(x86_rdmsr(patMSR), other, "IA32_PAT reads back a valid value")
    x86_wrmsr(patMSR, saved)
    expectEqual(x86_rdmsr(patMSR), saved, "IA32_PAT restored")
  #endif
}

func patInvalid() {
  #if arch(x86_64)
    let saved = x86_rdmsr(patMSR)
    // Types 2 and 3 are reserved, and so is bit 3 of an entry: #GP.
    for (entry, type): (UInt64, UInt64) in [(7, 2), (7, 3), (1, 2), (3, 8)] {
      let value = saved & ~(0xFF << (8 * entry)) | type << (8 * entry)
      expectException(vector: 13, "a reserved PAT memory type raises #GP") { _ = x86_wrmsr_swap(patMSR, value) }
    }
    expectEqual(x86_rdmsr(patMSR), saved, "IA32_PAT unchanged")
  #endif
}

func mtrr() throws(TestStop) {
  #if arch(x86_64)
    guard cpuid(1).edx & 1 << 12 != 0 else { try skipTest("MTRR (1:EDX[12]) not reported") }
    let cap = x86_rdmsr(0xFE)
    note("IA32_MTRRCAP", cap, hex: true)
    expect(cap & 0xFF, .lessOrEqual, 255, "MTRRCAP VCNT (variable ranges) readable")
    let defType = x86_rdmsr(0x2FF)
    note("IA32_MTRR_DEF_TYPE", defType, hex: true)
    // Bits 63:12 and 9:8 are reserved; the default type is 0, 1, 4, 5 or 6.
    expectBits(defType, clear: ~0xCFF, "MTRR_DEF_TYPE reserved bits clear")
    let type = defType & 0xFF
    expect(type == 0 || type == 1 || type == 4 || type == 5 || type == 6, "MTRR default type is a valid MTRR type")
    expectEqual(x86_wrmsr_swap(0x2FF, defType), defType, "MTRR_DEF_TYPE accepts its own value")
    expectException(vector: 13, "MTRR_DEF_TYPE reserved bit 9 raises #GP") { _ = x86_wrmsr_swap(0x2FF, defType | 1 << 9) }
    // Type 2 is not an MTRR memory type.
    expectException(vector: 13, "MTRR default type 2 raises #GP") { _ = x86_wrmsr_swap(0x2FF, defType & ~0xFF | 2) }
  #endif
}

func apicBase() {
  #if arch(x86_64)
    let base = x86_rdmsr(apicBaseMSR)
    note("IA32_APIC_BASE", base, hex: true)
    expectEqual(Platform.currentCPU, 0, "the tests run on CPU 0")
    expectBits(base, set: 1 << 8, "BSP flag (bit 8) set on the boot CPU")
    // The runtime enabled the APIC (bit 11) and chose x2APIC (bit 10) when CPUID has it.
    expectBits(base, set: 1 << 11, "APIC global enable (bit 11) set")
    expectEqual(base >> 10 & 1 == 1, APIC.x2, "EXTD (bit 10) matches the runtime's APIC mode")
    // The base (bits MAXPHYADDR-1:12) stays at its reset value 0xFEE00000.
    let mask = (UInt64(1) << physicalAddressBits() - 1) & ~0xFFF
    expectEqual(base & mask, 0xFEE0_0000, "APIC base is 0xFEE00000")
    expectEqual(x86_wrmsr_swap(apicBaseMSR, base), base, "IA32_APIC_BASE accepts its own value")
  #endif
}

func apicBaseReserved() {
  #if arch(x86_64)
    let base = x86_rdmsr(apicBaseMSR)
    // Bits 7:0, 9 and MAXPHYADDR-63 are reserved (SDM 10.4.4, Figure 10-5).
    let high = UInt64(1) << physicalAddressBits()
    for bit: UInt64 in [1 << 0, 1 << 7, 1 << 9, high, 1 << 63] {
      expectException(vector: 13, "IA32_APIC_BASE reserved bit raises #GP") { _ = x86_wrmsr_swap(apicBaseMSR, base | bit) }
    }
    expectEqual(x86_rdmsr(apicBaseMSR), base, "IA32_APIC_BASE unchanged")
  #endif
}

func unknownMSR() {
  #if arch(x86_64)
    // Intel and AMD assign MSRs in 0-1FFFh, the 40000000h hypervisor range,
    // C0000000h-C0001FFFh and C0010000h-C0011FFFh; 20000000h and 80000000h
    // lie in none of them, so RDMSR/WRMSR there are #GP.
    for msr: UInt32 in [0x2000_0000, 0x8000_0000] {
      expectException(vector: 13, "RDMSR of an unassigned MSR raises #GP") { _ = x86_rdmsr(msr) }
      expectException(vector: 13, "WRMSR of an unassigned MSR raises #GP") { x86_wrmsr(msr, 0) }
    }
  #endif
}

func tsc() {
  #if arch(x86_64)
    // IA32_TIME_STAMP_COUNTER (10h) is the counter RDTSC reads.
    let a = x86_rdtsc()
    let m = x86_rdmsr(0x10)
    let b = x86_rdtsc()
    expect(a <= m && m <= b, "RDMSR(10h) lies between two RDTSCs")
    // Jump 2^40 cycles ahead (minutes at GHz rates: far beyond any
    // hypervisor's "same TSC" tolerance), read, then jump back. The
    // runtime's clock sees only the cycles lost between read and write.
    let jump: UInt64 = 1 << 40
    let hasAdjust = cpuid(0).eax >= 7 && cpuid(7).ebx & 1 << 1 != 0
    let adjustBefore = hasAdjust ? x86_rdmsr(0x3B) : 0
    let target = x86_rdtsc() &+ jump
    x86_wrmsr(0x10, target)
    let after = x86_rdtsc()
    let adjustAfter = hasAdjust ? x86_rdmsr(0x3B) : 0
    x86_wrmsr(0x10, x86_rdtsc() &- jump)
    let back = x86_rdtsc()
    expect(after, .greaterOrEqual, target, "RDTSC continues from the written value")
    // 2^32 cycles: about a second, a generous bound for one RDTSC later.
    expect(after &- target, .less, 1 << 32, "RDTSC right after the write is close to it")
    expect(back, .less, target, "the TSC is back below the jump after the restore")
    expect(back, .greaterOrEqual, b, "the restored TSC did not go back past the earlier reads")
    if hasAdjust {
      // A write to the TSC adds the same difference to IA32_TSC_ADJUST (SDM 17.17.3).
      let delta = adjustAfter &- adjustBefore
      expect(delta &- jump &+ (1 << 32), .less, 1 << 33, "IA32_TSC_ADJUST moved by the jump (within 2^32)")
      expect(x86_rdmsr(0x3B) &- adjustBefore &+ (1 << 32), .less, 1 << 33, "IA32_TSC_ADJUST back near its value")
    } else {
      skip("IA32_TSC_ADJUST follows TSC writes", because: "no TSC_ADJUST (7:EBX[1])")
    }
  #endif
}
