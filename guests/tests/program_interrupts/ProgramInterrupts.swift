// Program interruptions as the z/Architecture Principles of Operation
// (chapter 6, "Program-Interruption Conditions") defines them: the
// interruption code, the instruction-length code (ILC) and the program old
// PSW for nullifying, suppressing and completing conditions, the data-
// exception code, and PER events (chapter 4, CR9-CR11). Every stub (in
// s390x/stubs.S) runs under a PSW of the test's choice through RunPSW and
// ends with SVC 0 when nothing interrupts it.
//
// Old PSW rules used throughout (PoP "Instruction-Length Code", "Types of
// Instruction Ending"): for a suppressed or completed instruction the old
// PSW points past it and the ILC is its length in halfwords; an instruction
// reached through EXECUTE reports EXECUTE's length and address.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("operation", operation),
  Test("privileged operation", privilegedOperation),
  Test("execute", execute),
  Test(
    "execute odd target", executeOddTarget,
    .xfail("measured: TCG executes the EX target at an odd address (here: operation exception of the bytes there) instead of a specification exception", when: .tcg)),
  Test("specification", specification),
  Test(
    "invalid PSW", invalidPSW,
    .xfail("measured: TCG (QEMU 7.2) loads invalid PSWs (bit 0/12/24, EA without BA, 24/31-bit address out of range, odd address) with no specification exception", when: .tcg)),
  Test("addressing", addressing),
  Test("data (AFP, vector)", dataException),
  Test(
    "data (decimal operands)", decimalData,
    .xfail("measured: QEMU 7.2 TCG has no AP/CVB: operation exception (code 1) instead of data exception", when: .tcg)),
  Test(
    "fixed-point overflow", fixedPointOverflow,
    .xfail("measured: TCG ignores PSW program-mask bit 20: cc 3 and no fixed-point-overflow interruption", when: .tcg)),
  Test("fixed-point divide", fixedPointDivide),
  Test(
    "decimal", decimal,
    .xfail("measured: QEMU 7.2 TCG has no AP/DP: operation exception (code 1) instead of decimal overflow/divide", when: .tcg)),
  Test("supervisor call", supervisorCall),
  Test("monitor event", monitorEvent),
  Test("PER instruction fetch", perInstructionFetch),
  Test("PER storage alteration", perStorageAlteration),
  Test("PER in problem state", perProblemState),
  Test(
    "PER branch", perBranch,
    .xfail("measured: TCG stores the sequential address (branch + 4) as the old PSW of a successful-branching event, not the branch target", when: .tcg)),
  Test(
    "PER with a completing exception", perWithOverflow,
    .xfail("measured: TCG presents code 0x80 alone: no fixed-point-overflow interruption (program mask bit 20 ignored)", when: .tcg)),
]

/// The stubs of s390x/stubs.S, in the order of its `pi_table`.
enum Stub: UInt64 {
  case opIlc1 = 0, opIlc2, opIlc3, privLpswe, privSsm, privLctlg, privStctg, privIske, privSske
  case privPtlb, privSigp, privStpx, privDiag, privStosm, privLrag, privSck, privEpswOk
  case exEx, exrlExrl, exExrl, exOddTarget, exDivide, exrlDivide
  case specLpsweAlign, specDsgrOdd, specLpqOdd, specCdsgAlign, specCdsOdd, specMvcleOdd
  case specStfleAlign, specLctlgAlign, loadPSW
  case addrLg, addrStg, addrMvc, dataAp, dataCvb, dataAfp, dataVector
  case fxAgr, fxAr, fxSgr, fxLcgr, fxLpgr, fxAghi, fxSlag, divDsgr, divDr, divDlgr
  case decApOverflow, decDpZero, perFetch, perStore, perBranch, perNoBranch, perFetchOverflow
  case opProblem, exOperation, mcClass, perMvc, svcEnd
}

@_extern(c, "pi_stub") func pi_stub(_ index: UInt64) -> UInt64
@_extern(c, "pi_site") func pi_site(_ index: UInt64) -> UInt64
@_extern(c, "pi_scratch") func pi_scratch() -> UInt64
@_extern(c, "pi_odd_target") func pi_odd_target() -> UInt64

func site(_ stub: Stub) -> UInt64 { pi_site(stub.rawValue) }

/// PSW program-mask bits 20 (fixed-point overflow) and 21 (decimal overflow).
let fixedOverflowMask: UInt64 = 1 << 43
let decimalOverflowMask: UInt64 = 1 << 42

/// Runs `stub` in supervisor state (key 0) unless `problem`.
func run(
  _ stub: Stub, problem: Bool = false, mask extra: UInt64 = 0, _ registers: [UInt64] = []
) -> RunPSWResult {
  RunPSW.run(
    mask: RunPSW.mask64 | extra | (problem ? RunPSW.problemState : 0),
    address: pi_stub(stub.rawValue), registers: registers)
}

/// The scratch page, as 64-bit words.
var scratch: UnsafeMutablePointer<UInt64> { UnsafeMutablePointer(bitPattern: UInt(pi_scratch()))! }
var scratchBytes: UnsafeMutablePointer<UInt8> { UnsafeMutablePointer(bitPattern: UInt(pi_scratch()))! }

/// Checks a program interruption: its code, ILC and old PSW address.
func expectInterruption(
  _ result: RunPSWResult, code: UInt64, ilc: UInt64, oldAddress: UInt64, _ name: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) {
  note(name)
  expectEqual(result.code, code, "interruption code", file: file, line: line)
  expectEqual(result.ilc, ilc, "instruction-length code", file: file, line: line)
  expectEqual(result.oldAddress, oldAddress, "old PSW address", file: file, line: line)
}

/// Checks that a suppressed or completed instruction of `length` bytes at
/// the stub's site raised `code`.
func expectAfter(
  _ result: RunPSWResult, _ stub: Stub, code: UInt64, length: UInt64, _ name: StaticString,
  file: StaticString = #fileID, line: UInt = #line
) {
  expectInterruption(
    result, code: code, ilc: length / 2, oldAddress: site(stub) + length, name, file: file,
    line: line)
}

func operation() {
  // An unassigned opcode: operation exception, suppressed; the ILC follows
  // from opcode bits 0-1 (00: one halfword, 01/10: two, 11: three).
  expectAfter(run(.opIlc1), .opIlc1, code: 1, length: 2, "opcode 00 (2 bytes)")
  expectAfter(run(.opIlc2), .opIlc2, code: 1, length: 4, "opcode 81 (4 bytes)")
  expectAfter(run(.opIlc3), .opIlc3, code: 1, length: 6, "opcode ff (6 bytes)")
  // In problem state the old PSW keeps the problem-state bit (15).
  let problem = run(.opProblem, problem: true)
  expectAfter(problem, .opProblem, code: 1, length: 2, "opcode 00 in problem state")
  expectBits(problem.oldMask, set: RunPSW.problemState, "old PSW shows problem state")
  expectBits(problem.oldMask, set: RunPSW.mask64, "old PSW keeps 64-bit addressing")
  // After the interruption RunPSW is back in supervisor state.
  expectBits(s390_psw_mask(), clear: RunPSW.problemState, "back in supervisor state")
}

func privilegedOperation() {
  // Privileged instructions in problem state: privileged-operation
  // exception (code 2), suppressed; nothing is loaded or stored.
  let operand = pi_scratch()
  scratch[0] = 0x1111_2222_3333_4444
  let cases: [(Stub, UInt64)] = [
    (.privLpswe, 4), (.privSsm, 4), (.privLctlg, 6), (.privStctg, 6), (.privIske, 4),
    (.privSske, 4), (.privPtlb, 4), (.privSigp, 4), (.privStpx, 4), (.privDiag, 4),
    (.privStosm, 4), (.privLrag, 6), (.privSck, 4),
  ]
  for (stub, length) in cases {
    let result = run(stub, problem: true, [0, 0, operand, 0x55, 0])
    expectAfter(result, stub, code: 2, length: length, "privileged instruction in problem state")
    expectBits(result.oldMask, set: RunPSW.problemState, "old PSW in problem state")
    expectEqual(result.registers[3], 0x55, "R1 unchanged (suppressed)")
  }
  expectEqual(scratch[0], 0x1111_2222_3333_4444, "no privileged store happened")
  // The same instructions in supervisor state do not raise it (STPX, STCTG,
  // IPK-like reads are harmless to run).
  expectEqual(run(.privStpx, [0, 0, operand]).code, RunPSW.svcFlag, "STPX in supervisor state")
  expectEqual(scratch[0] >> 32, s390_read_prefix(), "STPX stored the prefix")
  expectEqual(run(.privStctg, [0, 0, operand]).code, RunPSW.svcFlag, "STCTG in supervisor state")
  expectEqual(scratch[0], s390_read_cr0(), "STCTG stored CR0")
  // EPSW is not privileged: it completes in problem state.
  let epsw = run(.privEpswOk, problem: true)
  expectEqual(epsw.code, RunPSW.svcFlag, "EPSW completes in problem state")
  expectBits(epsw.registers[3], set: 1 << 16, "EPSW R1 shows the problem-state bit")
}

func execute() {
  // EXECUTE of EXECUTE / EXECUTE RELATIVE LONG: execute exception (code 3),
  // suppressed, ILC and address of the outer instruction.
  expectAfter(run(.exEx, [0, 0, pi_stub(Stub.svcEnd.rawValue)]), .exEx, code: 3, length: 4, "EX of EX")
  expectAfter(run(.exrlExrl), .exrlExrl, code: 3, length: 6, "EXRL of EXRL")
  expectAfter(run(.exExrl), .exExrl, code: 3, length: 4, "EX of EXRL")
  // A divide exception in the target reports EX's length and address.
  let viaEx = run(.exDivide, [0, 0, 7, 9, 0])
  expectAfter(viaEx, .exDivide, code: 9, length: 4, "DSGR by zero via EX")
  expectEqual(viaEx.registers[3], 9, "dividend unchanged (suppressed)")
  expectAfter(run(.exrlDivide, [0, 0, 7, 9, 0]), .exrlDivide, code: 9, length: 6, "DSGR by zero via EXRL")
  // An unassigned opcode as the target: operation exception, EX's ILC.
  expectAfter(run(.exOperation), .exOperation, code: 1, length: 4, "EX of opcode 81")
}

func executeOddTarget() {
  // The target of EX at an odd address: specification exception (the
  // second-operand address of EXECUTE must be even). The bytes at the odd
  // address are 00 00, so an implementation that runs them anyway takes an
  // operation exception instead of going astray.
  expectAfter(
    run(.exOddTarget, [0, 0, pi_odd_target()]), .exOddTarget, code: 6, length: 4,
    "EX with an odd target address")
}

func specification() {
  let operand = pi_scratch()
  // LPSWE's operand must be doubleword aligned.
  expectAfter(run(.specLpsweAlign, [0, 0, operand]), .specLpsweAlign, code: 6, length: 4, "LPSWE unaligned operand")
  // Even-odd register pairs: R1 must be even.
  let dsgr = run(.specDsgrOdd, [0, 0, 0, 100, 5])
  expectAfter(dsgr, .specDsgrOdd, code: 6, length: 4, "DSGR with odd R1")
  expectEqual(dsgr.registers[3], 100, "DSGR odd R1: R1 unchanged")
  expectAfter(run(.specLpqOdd, [0, 0, operand]), .specLpqOdd, code: 6, length: 6, "LPQ with odd R1")
  expectAfter(run(.specCdsOdd, [0, 0, operand]), .specCdsOdd, code: 6, length: 4, "CDS with odd R1")
  expectAfter(run(.specMvcleOdd, [0, 0, operand]), .specMvcleOdd, code: 6, length: 4, "MVCLE with odd R1")
  // Quadword / doubleword operand alignment.
  expectAfter(run(.specCdsgAlign, [0, 0, operand]), .specCdsgAlign, code: 6, length: 6, "CDSG operand not on a quadword")
  expectAfter(run(.specStfleAlign, [0, 0, operand]), .specStfleAlign, code: 6, length: 4, "STFLE operand not on a doubleword")
  expectAfter(run(.specLctlgAlign, [0, 0, operand]), .specLctlgAlign, code: 6, length: 6, "LCTLG operand not on a doubleword")
}

/// LPSWE of {mask, address} from the scratch page.
func loadPSW(_ mask: UInt64, _ address: UInt64) -> RunPSWResult {
  scratch[0] = mask
  scratch[1] = address
  return run(.loadPSW, [0, 0, pi_scratch()])
}

func invalidPSW() {
  let target = site(.svcEnd)
  // A valid PSW in each addressing mode runs the target (SVC 5).
  let valid64 = loadPSW(RunPSW.mask64, target)
  expectEqual(valid64.code, RunPSW.svcFlag | 5, "valid 64-bit PSW runs")
  let valid31 = loadPSW(0x0000_0000_8000_0000, target)
  expectEqual(valid31.code, RunPSW.svcFlag | 5, "valid 31-bit PSW runs")
  expectEqual(valid31.oldMask & RunPSW.mask64, 0x8000_0000, "SVC old PSW in 31-bit mode")
  // PSW-format errors are recognized early, right after the PSW is loaded
  // (PoP "Early Exception Recognition"): specification exception, ILC 0,
  // the invalid PSW itself as the old PSW.
  let invalid: [(UInt64, UInt64)] = [
    (RunPSW.mask64 | 1 << 63, target),  // bit 0 must be 0
    (RunPSW.mask64 | 1 << 51, target),  // bit 12 must be 0 in z/Architecture
    (RunPSW.mask64 | 1 << 39, target),  // bit 24 must be 0
    (1 << 32, target),  // EA without BA
    (0x8000_0000, 0x1_0000_0000),  // 31-bit mode, address above 2 GiB
    (0, 0x100_0000),  // 24-bit mode, address above 16 MiB
  ]
  for (mask, address) in invalid {
    let result = loadPSW(mask, address)
    note("invalid PSW mask", mask, hex: true)
    expectEqual(result.code, 6, "invalid PSW: specification exception")
    expectEqual(result.oldMask, mask, "old PSW mask is the invalid PSW's")
    expectEqual(result.oldAddress, address, "old PSW address is the invalid PSW's")
    expectEqual(result.ilc, 0, "ILC 0 for an early exception")
  }
  // An odd instruction address: specification exception, the odd address
  // in the old PSW.
  let odd = loadPSW(RunPSW.mask64, target + 1)
  expectEqual(odd.code, 6, "odd instruction address: specification exception")
  expectEqual(odd.oldAddress, target + 1, "odd instruction address in the old PSW")
}

func addressing() {
  // Real addresses beyond the configured storage (DAT off): addressing
  // exception; the old PSW points past the instruction (suppressed or
  // terminated, both end the instruction).
  let beyond = (BootInfo.memoryBytes + 0x10_0000) & ~0xFFF
  for address in [beyond, beyond + 0x1234_5000, 0x0000_4000_0000_0000 as UInt64] {
    let load = run(.addrLg, [0, 0, address, 0x77])
    expectAfter(load, .addrLg, code: 5, length: 6, "LG beyond storage")
    expectEqual(load.registers[3], 0x77, "LG beyond storage: R1 unchanged")
    expectAfter(run(.addrStg, [0, 0, address, 0x77]), .addrStg, code: 5, length: 6, "STG beyond storage")
    expectAfter(run(.addrMvc, [0, 0, address, 0, pi_scratch()]), .addrMvc, code: 5, length: 6, "MVC to beyond storage")
  }
  // Instruction fetch beyond storage: addressing exception. The ILC is
  // unpredictable for an instruction-fetch access exception, and the old
  // PSW is the instruction address updated by that ILC.
  let fetch = loadPSW(RunPSW.mask64, beyond)
  expectEqual(fetch.code, 5, "instruction fetch beyond storage")
  expectEqual(fetch.oldAddress, beyond + 2 * fetch.ilc, "fetch: old PSW = instruction + ILC")
  // A load within storage works.
  scratch[0] = 0xABCD
  let inside = run(.addrLg, [0, 0, pi_scratch(), 0])
  expectEqual(inside.code, RunPSW.svcFlag, "LG within storage")
  expectEqual(inside.registers[3], 0xABCD, "LG within storage loads")
}

@_extern(c, "pi_efpc") func pi_efpc() -> UInt64

func decimalData() {
  let first = pi_scratch()
  let second = first + 64
  // AP with an invalid sign (digit 2 in the sign position): data exception,
  // DXC 0 (decimal operand data) at lowcore 147.
  scratchBytes[0] = 0x00; scratchBytes[1] = 0x00; scratchBytes[2] = 0x01; scratchBytes[3] = 0x22
  scratchBytes[64] = 0x00; scratchBytes[65] = 0x00; scratchBytes[66] = 0x00; scratchBytes[67] = 0x1C
  let ap = run(.dataAp, [0, 0, first, 0, second])
  expectAfter(ap, .dataAp, code: 7, length: 6, "AP invalid sign")
  expectEqual(ap.dataExceptionCode & 0xFF, 0, "AP invalid sign: DXC 0")
  // An invalid digit (A in a digit position).
  scratchBytes[0] = 0xA0; scratchBytes[3] = 0x1C
  let digit = run(.dataAp, [0, 0, first, 0, second])
  expectAfter(digit, .dataAp, code: 7, length: 6, "AP invalid digit")
  expectEqual(digit.dataExceptionCode & 0xFF, 0, "AP invalid digit: DXC 0")
  // With AFP-register control on (CR0 bit 45, as this runtime sets), the
  // DXC is also placed in byte 2 of the FPC.
  expectEqual((pi_efpc() >> 8) & 0xFF, 0, "FPC DXC 0 after the decimal data exception")
  // CVB of invalid packed data.
  scratch[0] = 0x0000_0000_0000_01AC
  let cvb = run(.dataCvb, [0, 0, first, 0x66])
  expectAfter(cvb, .dataCvb, code: 7, length: 4, "CVB invalid digit")
  expectEqual(cvb.registers[3], 0x66, "CVB invalid: R1 unchanged")
}

func dataException() {
  let first = pi_scratch()
  // CR0 bit 45 off: an AFP register (F1) raises DXC 1.
  let cr0 = s390_read_cr0()
  scratch[0] = cr0 & ~(1 << 18)
  let afp = run(.dataAfp, [0, 0, first])
  expectAfter(afp, .dataAfp, code: 7, length: 2, "LDR F1 with AFP off")
  expectEqual(afp.dataExceptionCode & 0xFF, 1, "AFP register: DXC 1")
  // CR0 bit 46 off: a vector instruction raises DXC 0xFE.
  scratch[0] = cr0 & ~(1 << 17)
  let vector = run(.dataVector, [0, 0, first])
  expectAfter(vector, .dataVector, code: 7, length: 6, "VLR with vector off")
  expectEqual(vector.dataExceptionCode & 0xFF, 0xFE, "vector instruction: DXC FE")
  expectEqual(s390_read_cr0(), cr0, "CR0 restored")
}

/// Fixed-point overflow cases: stub, r2, r3, length, expected r2 (the
/// result wrapped to the operand width, PoP "Signed Binary Arithmetic").
let overflowCases: [(Stub, UInt64, UInt64, UInt64, UInt64)] = [
  (.fxAgr, 0x7FFF_FFFF_FFFF_FFFF, 1, 4, 0x8000_0000_0000_0000),
  (.fxAr, 0xAAAA_AAAA_7FFF_FFFF, 1, 2, 0xAAAA_AAAA_8000_0000),
  (.fxSgr, 0x8000_0000_0000_0000, 1, 4, 0x7FFF_FFFF_FFFF_FFFF),
  (.fxLcgr, 0, 0x8000_0000_0000_0000, 4, 0x8000_0000_0000_0000),
  (.fxLpgr, 0, 0x8000_0000_0000_0000, 4, 0x8000_0000_0000_0000),
  (.fxAghi, 0x7FFF_FFFF_FFFF_FFFF, 0, 4, 0x8000_0000_0000_0000),
  // SLAG keeps the sign and shifts the 63 numeric bits: bit 1 is lost.
  (.fxSlag, 0, 0x4000_0000_0000_0001, 6, 0x0000_0000_0000_0002),
]

func fixedPointOverflow() {
  for (stub, r2, r3, length, result) in overflowCases {
    // Program mask bit 20 on: fixed-point-overflow exception (code 8), the
    // instruction completed: result stored, condition code 3.
    let enabled = run(stub, mask: fixedOverflowMask, [0, 0, r2, r3])
    expectAfter(enabled, stub, code: 8, length: length, "overflow with mask bit 20")
    expectEqual(enabled.registers[2], result, "overflow completed: result stored")
    expectEqual(enabled.conditionCode, 3, "overflow completed: cc 3")
    expectBits(enabled.oldMask, set: fixedOverflowMask, "old PSW keeps the program mask")
    // Mask bit 20 off: no interruption, cc 3.
    let masked = run(stub, [0, 0, r2, r3])
    expectEqual(masked.code, RunPSW.svcFlag, "overflow without mask bit 20: no interruption")
    expectEqual(masked.registers[2], result, "masked overflow: result stored")
    expectEqual(masked.conditionCode, 3, "masked overflow: cc 3")
  }
  // No overflow: cc from the sign of the result, no interruption.
  let plain = run(.fxAgr, mask: fixedOverflowMask, [0, 0, 5, 0xFFFF_FFFF_FFFF_FFF0])
  expectEqual(plain.code, RunPSW.svcFlag, "AGR without overflow: no interruption")
  expectEqual(plain.conditionCode, 1, "AGR 5 + (-16): cc 1 (negative)")
}

func fixedPointDivide() {
  // Fixed-point divide exception (code 9), suppressed: the register pair
  // keeps the dividend.
  let cases: [(Stub, UInt64, UInt64, UInt64, UInt64)] = [
    (.divDsgr, 0x1234, 100, 0, 4),  // divisor 0
    (.divDsgr, 0, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 4),  // -2^63 / -1
    (.divDr, 1, 0, 1, 2),  // 2^32 / 1 does not fit 32 bits
    (.divDr, 0, 10, 0, 2),  // divisor 0
    (.divDlgr, 1, 0, 1, 4),  // 2^64 / 1 does not fit 64 bits
    (.divDlgr, 0, 10, 0, 4),  // divisor 0
  ]
  for (stub, r2, r3, r4, length) in cases {
    let result = run(stub, [0, 0, r2, r3, r4])
    expectAfter(result, stub, code: 9, length: length, "divide exception")
    expectEqual(result.registers[2], r2, "divide suppressed: R1 unchanged")
    expectEqual(result.registers[3], r3, "divide suppressed: R1+1 unchanged")
  }
  let fine = run(.divDsgr, [0, 0, 0, 100, 7])
  expectEqual(fine.code, RunPSW.svcFlag, "DSGR 100 / 7 completes")
  expectEqual(fine.registers[2], 2, "DSGR remainder")
  expectEqual(fine.registers[3], 14, "DSGR quotient")
}

func decimal() {
  let first = pi_scratch()
  let second = first + 64
  // 999+ + 1+ in three digits: decimal overflow (code 0x0A) with mask bit
  // 21, completed: the low digits (000+) stored, cc 3.
  for enabled in [true, false] {
    scratchBytes[0] = 0x99; scratchBytes[1] = 0x9C
    scratchBytes[64] = 0x00; scratchBytes[65] = 0x1C
    let result = run(.decApOverflow, mask: enabled ? decimalOverflowMask : 0, [0, 0, first, 0, second])
    if enabled {
      expectAfter(result, .decApOverflow, code: 0x0A, length: 6, "AP overflow with mask bit 21")
    } else {
      expectEqual(result.code, RunPSW.svcFlag, "AP overflow without mask bit 21: no interruption")
    }
    expectEqual(result.conditionCode, 3, "AP overflow: cc 3")
    expectEqual(scratchBytes[0], 0x00, "AP overflow: result digits 00")
    expectEqual(scratchBytes[1], 0x0C, "AP overflow: result 0+")
  }
  // Division by a zero divisor: decimal divide (code 0x0B), suppressed.
  var index = 0
  while index < 8 {
    scratchBytes[index] = 0
    index &+= 1
  }
  scratchBytes[6] = 0x12; scratchBytes[7] = 0x3C
  scratchBytes[64] = 0x00; scratchBytes[65] = 0x0C
  let divide = run(.decDpZero, [0, 0, first, 0, second])
  expectAfter(divide, .decDpZero, code: 0x0B, length: 6, "DP by zero")
  expectEqual(scratch[0], 0x123C, "DP suppressed: dividend unchanged")
}

func supervisorCall() {
  // SVC: interruption code = the SVC number, ILC 1, old PSW past it.
  let result = run(.svcEnd)
  expectEqual(result.code, RunPSW.svcFlag | 5, "SVC 5 interruption code")
  expectEqual(result.ilc, 1, "SVC ILC 1")
  expectEqual(result.oldAddress, site(.svcEnd) + 2, "SVC old PSW past the SVC")
  let problem = run(.svcEnd, problem: true)
  expectEqual(problem.code, RunPSW.svcFlag | 5, "SVC works in problem state")
  expectBits(problem.oldMask, set: RunPSW.problemState, "SVC old PSW in problem state")
}

/// CR9 event bits (32 branch, 33 instruction fetch, 34 storage alteration).
let perBranchEvent: UInt64 = 1 << 31
let perFetchEvent: UInt64 = 1 << 30
let perStoreEvent: UInt64 = 1 << 29

/// Runs `body` with CR9-CR11 set and restores them after.
func withPER(_ events: UInt64, from start: UInt64, to end: UInt64, _ body: () -> Void) {
  let saved = (s390_store_control(9), s390_store_control(10), s390_store_control(11))
  s390_load_control(9, events)
  s390_load_control(10, start)
  s390_load_control(11, end)
  body()
  s390_load_control(9, saved.0)
  s390_load_control(10, saved.1)
  s390_load_control(11, saved.2)
}

func perInstructionFetch() {
  let target = site(.perFetch)
  withPER(perFetchEvent, from: target, to: target) {
    // The fetch of AGHI in the range: PER event after it completes; PER
    // code bit 1 (0x40), PER address = the instruction, interruption code
    // 0x80 alone.
    let result = run(.perFetch, mask: RunPSW.perMask, [0, 0, 41])
    expectAfter(result, .perFetch, code: 0x80, length: 4, "instruction-fetch event")
    expectEqual(result.perCode & 0xF0, 0x40, "PER code: instruction fetch")
    expectEqual(result.perAddress, target, "PER address = the fetched instruction")
    expectEqual(result.registers[2], 42, "the instruction completed")
    // Without PSW bit 1 no event.
    let off = run(.perFetch, [0, 0, 41])
    expectEqual(off.code, RunPSW.svcFlag, "no PER event with PSW bit 1 off")
  }
  // A range that misses the stub: no event.
  withPER(perFetchEvent, from: target + 0x10_0000, to: target + 0x10_0100) {
    expectEqual(run(.perFetch, mask: RunPSW.perMask, [0, 0, 1]).code, RunPSW.svcFlag, "no event outside the range")
  }
}

func perStorageAlteration() {
  let word = pi_scratch() + 128
  let target = site(.perStore)
  withPER(perStoreEvent, from: word, to: word + 7) {
    let result = run(.perStore, mask: RunPSW.perMask, [0, 0, word, 0x5A5A])
    expectAfter(result, .perStore, code: 0x80, length: 6, "storage-alteration event")
    expectEqual(result.perCode & 0xF0, 0x20, "PER code: storage alteration")
    expectEqual(result.perAddress, target, "PER address = the storing instruction")
    expectEqual(scratch[16], 0x5A5A, "the store completed")
    // A store outside the range: no event.
    let outside = run(.perStore, mask: RunPSW.perMask, [0, 0, word + 64, 1])
    expectEqual(outside.code, RunPSW.svcFlag, "no event for a store outside the range")
  }
}

func perBranch() {
  let branch = site(.perBranch)
  // Without branch-address control (CR9 bit 40) the range applies to the
  // branch target; cover the whole stub.
  withPER(perBranchEvent, from: branch, to: branch + 16) {
    let result = run(.perBranch, mask: RunPSW.perMask)
    expectEqual(result.code, 0x80, "successful-branching event")
    expectEqual(result.perCode & 0xF0, 0x80, "PER code: successful branching")
    expectEqual(result.perAddress, branch, "PER address = the branch instruction")
    expectEqual(result.oldAddress, branch + 6, "old PSW = the branch target")
    // A branch not taken is no event.
    let notTaken = run(.perNoBranch, mask: RunPSW.perMask, [0, 0, 3])
    expectEqual(notTaken.code, RunPSW.svcFlag, "no event for a branch not taken")
  }
}

func perWithOverflow() {
  // A fixed-point overflow (completing) and an instruction-fetch event of
  // the same instruction are presented together: code 0x88.
  let target = site(.perFetchOverflow)
  withPER(perFetchEvent, from: target, to: target) {
    let result = run(.perFetchOverflow, mask: RunPSW.perMask | fixedOverflowMask, [0, 0, 0x7FFF_FFFF_FFFF_FFFF, 1])
    expectAfter(result, .perFetchOverflow, code: 0x88, length: 4, "overflow + PER fetch")
    expectEqual(result.perAddress, target, "PER address with the overflow")
  }
}

func monitorEvent() {
  // MONITOR CALL with the class's mask bit in CR8 (bits 48-63) one: a
  // monitor event (code 0x40), the instruction completed; the class number
  // at lowcore 148-149, the monitor code (the second-operand address) at
  // 176. With the mask bit zero MONITOR CALL does nothing. Here through EX
  // (ILC and address of the EX).
  let savedCR8 = s390_store_control(8)
  let enabled: UInt64 = 1 << (15 - 1) | 1 << (15 - 5) | 1 << (15 - 15)
  s390_load_control(8, (savedCR8 & ~0xFFFF) | enabled)
  var results: [RunPSWResult] = []
  var monitorClass: UInt64 = 0
  while monitorClass < 16 {
    results.append(run(.mcClass, [0, 0, 0x1000 * monitorClass, monitorClass]))
    monitorClass &+= 1
  }
  let badClass = run(.mcClass, [0, 0, 0, 16])
  s390_load_control(8, savedCR8)
  monitorClass = 0
  while monitorClass < 16 {
    let result = results[Int(monitorClass)]
    if enabled & (1 << (15 - monitorClass)) != 0 {
      expectAfter(result, .mcClass, code: 0x40, length: 4, "MONITOR CALL of an enabled class")
      let classField = UInt64(result.lowcore[0x94 - 0x80]) << 8 | UInt64(result.lowcore[0x95 - 0x80])
      expectEqual(classField, monitorClass, "monitor class number at 148")
      var code: UInt64 = 0
      var index = 0xB0 - 0x80
      while index < 0xB8 - 0x80 {
        code = code << 8 | UInt64(result.lowcore[index])
        index &+= 1
      }
      expectEqual(code, 0x1000 * monitorClass + 0x123, "monitor code = second-operand address")
    } else {
      expectEqual(result.code, RunPSW.svcFlag, "MONITOR CALL of a masked class does nothing")
    }
    monitorClass &+= 1
  }
  // Class field bits 8-11 must be zero: specification exception.
  expectAfter(badClass, .mcClass, code: 6, length: 4, "MONITOR CALL class 16")
}

func perProblemState() {
  // PER events are recognized in the problem state too.
  let target = site(.perFetch)
  withPER(perFetchEvent, from: target, to: target) {
    let result = run(.perFetch, problem: true, mask: RunPSW.perMask, [0, 0, 1])
    expectAfter(result, .perFetch, code: 0x80, length: 4, "problem-state instruction-fetch event")
    expectBits(result.oldMask, set: RunPSW.problemState | RunPSW.perMask, "old PSW: problem state and PER")
    expectEqual(result.perAddress, target, "problem-state PER address")
  }
  // A storage-alteration range covering only the last 8 of 16 bytes an
  // MVC stores: the event is still recognized.
  let buffer = pi_scratch() + 256
  withPER(perStoreEvent, from: buffer + 8, to: buffer + 15) {
    let overlap = run(.perMvc, problem: true, mask: RunPSW.perMask, [0, 0, buffer, 0, pi_scratch()])
    expectAfter(overlap, .perMvc, code: 0x80, length: 6, "MVC partly in the range")
    expectEqual(overlap.perCode & 0xF0, 0x20, "MVC: storage-alteration PER code")
    expectEqual(overlap.perAddress, site(.perMvc), "MVC: PER address")
    let outside = run(.perMvc, problem: true, mask: RunPSW.perMask, [0, 0, buffer + 16, 0, pi_scratch()])
    expectEqual(outside.code, RunPSW.svcFlag, "MVC after the range: no event")
  }
}
