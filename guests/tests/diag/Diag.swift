// DIAGNOSE functions a hypervisor (QEMU, KVM) provides to s390x guests, as
// their interfaces are defined (z/VM CP Programming Services for 0x44,
// 0x9C and 0x288; the IPL parameter interface of 0x308 that Linux uses;
// the virtio-ccw specification for 0x500): what completes, what the
// condition code and response registers say, which operands raise
// specification or addressing exceptions. DIAGNOSE is privileged in every
// form (PoP: privileged-operation exception in the problem state).
//
// The stubs (s390x/diag.S) set cc 2 before the DIAGNOSE so a function that
// leaves the condition code alone shows cc 2. The watchdog (0x288) needs the
// cell's `-device diag288`; its expiry is not tested: the shortest interval
// the interface accepts is 15 s, longer than a cell may take.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("privileged in problem state", problemState),
  Test("DIAGNOSE 0x44 time-slice end", diag44),
  Test(
    "DIAGNOSE 0x9C directed yield", diag9C,
    .xfail("measured: QEMU 7.2 TCG has no DIAGNOSE 0x9C: specification exception (KVM handles it as a yield)", when: .tcg)),
  Test("DIAGNOSE 0x288 watchdog", diag288),
  Test("DIAGNOSE 0x308 operand checks", diag308Checks),
  Test("DIAGNOSE 0x308 IPL parameters", diag308Parameters),
  Test("DIAGNOSE 0x500 virtio hypercall", diag500),
  Test(
    "DIAGNOSE code from a base register", diagBased,
    .xfail("measured: TCG takes instruction bits 16-31 (B2 and D2 fields: 0x6000) as the code instead of the second-operand address (base register + D2): specification exception", when: .tcg)),
]

@_extern(c, "diag_stub") func diag_stub(_ index: UInt64) -> UInt64
@_extern(c, "diag_page") func diag_page() -> UInt64

/// cc 2 before each DIAGNOSE: CGR of 5 with 1.
let ccBefore: UInt64 = 2

/// The codes with stubs in s390x/diag.S, in its table order.
let codes: [UInt64] = [0x44, 0x9C, 0x288, 0x308, 0x500, 0x10, 0x258]

/// The stub table index of `code`'s even (or odd) form.
func stubIndex(_ code: UInt64, oddR1: Bool) -> UInt64 {
  var index: UInt64 = 0
  while index < UInt64(codes.count), codes[Int(index)] != code { index &+= 1 }
  return (index * 2 + (oddR1 ? 1 : 0)) * 2
}

/// Runs DIAGNOSE `code` with R1 = r2 (or r3 when `oddR1`), R1+1 = r3,
/// R3 = r4, and GR1 = `gr1`.
func diag(
  _ code: UInt64, r2: UInt64 = 0, r3: UInt64 = 0, r4: UInt64 = 0, gr1: UInt64 = 0,
  oddR1: Bool = false, problem: Bool = false
) -> RunPSWResult {
  RunPSW.run(
    mask: RunPSW.mask64 | (problem ? RunPSW.problemState : 0),
    address: diag_stub(stubIndex(code, oddR1: oddR1)),
    registers: [0, gr1, r2, r3, r4, 0, 0, 0, 5, 1])
}

/// The address of `code`'s DIAGNOSE instruction.
func site(_ code: UInt64, oddR1: Bool = false) -> UInt64 { diag_stub(stubIndex(code, oddR1: oddR1) + 1) }

/// Checks that DIAGNOSE raised `code` (suppressed: old PSW past the 4-byte
/// DIAGNOSE, ILC 2).
func expectDiagException(
  diagnose: UInt64, _ result: RunPSWResult, _ code: UInt64, oddR1: Bool = false,
  _ name: StaticString, file: StaticString = #fileID, line: UInt = #line
) {
  note(name)
  expectEqual(result.code, code, "interruption code", file: file, line: line)
  expectEqual(result.ilc, 2, "ILC 2 (DIAGNOSE)", file: file, line: line)
  expectEqual(
    result.oldAddress, site(diagnose, oddR1: oddR1) + 4, "old PSW past DIAGNOSE", file: file,
    line: line)
}

/// Checks that DIAGNOSE completed (the stub reached its SVC).
func expectCompleted(
  _ result: RunPSWResult, _ name: StaticString, file: StaticString = #fileID, line: UInt = #line
) {
  expectEqual(result.code, RunPSW.svcFlag, name, file: file, line: line)
}

func problemState() {
  for code: UInt64 in [0x44, 0x9C, 0x288, 0x308, 0x500, 0x10, 0x258] {
    let result = diag(code, r2: 0x77, r3: 0x88, problem: true)
    expectDiagException(diagnose: code, result, 2, "DIAGNOSE in problem state: privileged operation")
    expectBits(result.oldMask, set: RunPSW.problemState, "old PSW in problem state")
    expectEqual(result.registers[2], 0x77, "R1 unchanged")
    expectEqual(result.registers[3], 0x88, "R1+1 unchanged")
  }
}

func diag44() {
  // Voluntary time-slice end: no operands, no result, cc unchanged.
  for value: UInt64 in [0, 1, 0xFFFF_FFFF_FFFF_FFFF] {
    let result = diag(0x44, r2: value, r3: value ^ 0x55, r4: value ^ 0xAA)
    expectCompleted(result, "DIAGNOSE 0x44 completes")
    expectEqual(result.conditionCode, ccBefore, "DIAGNOSE 0x44 leaves the cc")
    expectEqual(result.registers[2], value, "DIAGNOSE 0x44 leaves R1")
    expectEqual(result.registers[3], value ^ 0x55, "DIAGNOSE 0x44 leaves R1+1")
    expectEqual(result.registers[4], value ^ 0xAA, "DIAGNOSE 0x44 leaves R3")
  }
}

func diag9C() {
  // Directed yield to the CPU whose address is in R1: completes whether or
  // not that CPU exists; registers unchanged.
  for target in [UInt64(s390_cpu_address()), 1, 0xFFFF] {
    let result = diag(0x9C, r2: target)
    expectCompleted(result, "DIAGNOSE 0x9C completes")
    expectEqual(result.registers[2], target, "DIAGNOSE 0x9C leaves R1")
  }
}

/// DIAGNOSE 0x288 function codes.
let watchdogInit: UInt64 = 0
let watchdogChange: UInt64 = 1
let watchdogCancel: UInt64 = 2

func watchdog(_ function: UInt64, timeout: UInt64 = 30, action: UInt64 = 0, oddR1: Bool = false)
  -> RunPSWResult
{
  oddR1
    ? diag(0x288, r3: function, r4: action, oddR1: true)
    : diag(0x288, r2: function, r3: timeout, r4: action)
}

func diag288() {
  // R1 must designate an even-odd pair (function, timeout): specification.
  expectDiagException(diagnose: 0x288, watchdog(watchdogInit, oddR1: true), 6, oddR1: true, "odd R1")
  // The interval is at least 15 seconds.
  expectDiagException(diagnose: 0x288, watchdog(watchdogInit, timeout: 14), 6, "interval below 15 s")
  expectDiagException(diagnose: 0x288, watchdog(watchdogInit, timeout: 0), 6, "interval 0")
  // Arm, change, cancel: each completes without an exception (the
  // interface reports errors as program exceptions, not in the cc).
  let arm = watchdog(watchdogInit, timeout: 30)
  expectCompleted(arm, "arm (init, 30 s)")
  expectEqual(arm.registers[2], watchdogInit, "arm leaves R1")
  expectEqual(arm.registers[3], 30, "arm leaves R1+1")
  expectCompleted(watchdog(watchdogChange, timeout: 60), "change to 60 s")
  expectCompleted(watchdog(watchdogCancel), "cancel")
  // Arm and cancel again: the watchdog can be re-armed.
  expectCompleted(watchdog(watchdogInit, timeout: 15), "re-arm at 15 s")
  expectCompleted(watchdog(watchdogChange, timeout: 15), "change to the 15 s minimum")
  expectDiagException(diagnose: 0x288, watchdog(watchdogChange, timeout: 3), 6, "change below 15 s")
  expectCompleted(watchdog(watchdogCancel), "cancel again")
  // An unassigned function code: specification.
  expectDiagException(diagnose: 0x288, watchdog(7), 6, "function code 7")
  // A last cancel so nothing can fire after this test (its result is not
  // part of the checks: the watchdog is already off).
  _ = watchdog(watchdogCancel)
}

func diag308Checks() {
  let page = diag_page()
  let beyond = (BootInfo.memoryBytes + 0x10_0000) & ~0xFFF
  // R1 must be even (address in R1, response in R1+1).
  expectDiagException(diagnose: 0x308, diag(0x308, r3: page, r4: 6, oddR1: true), 6, oddR1: true, "0x308 odd R1")
  // The parameter block must be on a 4 KiB boundary.
  expectDiagException(diagnose: 0x308, diag(0x308, r2: page + 8, r3: 0x5A, r4: 6), 6, "0x308 store: unaligned block")
  expectDiagException(diagnose: 0x308, diag(0x308, r2: page + 0x800, r3: 0x5A, r4: 5), 6, "0x308 set: unaligned block")
  // A block outside storage: addressing exception.
  expectDiagException(diagnose: 0x308, diag(0x308, r2: beyond, r3: 0x5A, r4: 6), 5, "0x308 store beyond storage")
  // Subcodes: bits 0-47 of R3 must be zero; 2 and 7 are not assigned.
  for subcode: UInt64 in [0x1_0000, 2, 7] {
    expectDiagException(diagnose: 0x308, diag(0x308, r2: page, r3: 0x5A, r4: subcode), 6, "0x308 unassigned subcode")
  }
}

/// Big-endian fields of the parameter block page.
func putWord(_ offset: UInt64, _ value: UInt32) {
  let bytes = UnsafeMutablePointer<UInt8>(bitPattern: UInt(diag_page() + offset))!
  bytes[0] = UInt8(truncatingIfNeeded: value >> 24)
  bytes[1] = UInt8(truncatingIfNeeded: value >> 16)
  bytes[2] = UInt8(truncatingIfNeeded: value >> 8)
  bytes[3] = UInt8(truncatingIfNeeded: value)
}

func getWord(_ offset: UInt64) -> UInt32 {
  let bytes = UnsafeMutablePointer<UInt8>(bitPattern: UInt(diag_page() + offset))!
  return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
}

func clearPage() {
  let words = UnsafeMutablePointer<UInt64>(bitPattern: UInt(diag_page()))!
  var index = 0
  while index < 512 {
    words[index] = 0
    index &+= 1
  }
}

/// IPL parameter block response codes (in R1+1): 0x0001 done, 0x0102 no
/// parameters to store, 0x0402 invalid block.
let responseOK: UInt64 = 0x0001
let responseNone: UInt64 = 0x0102
let responseInvalid: UInt64 = 0x0402

func diag308Parameters() {
  let page = diag_page()
  // Set (5) with a block of length 0: invalid.
  clearPage()
  let empty = diag(0x308, r2: page, r3: 0x5A, r4: 5)
  expectCompleted(empty, "0x308 set with an empty block completes")
  expectEqual(empty.registers[3], responseInvalid, "empty block: response 0x0402")
  // A block of an unknown type (0x77): invalid.
  clearPage()
  putWord(0, 0x200)
  putWord(8, 0x200 - 8)
  putWord(12, 0x7700_0000)
  let unknown = diag(0x308, r2: page, r3: 0x5A, r4: 5)
  expectEqual(unknown.registers[3], responseInvalid, "unknown block type: response 0x0402")
  // A CCW-type block (type 2) naming device 0.0.1234: accepted, and store
  // (6) gives it back.
  clearPage()
  putWord(0, 0x200)  // block length
  putWord(4, 0x0000_0001)  // version 1
  putWord(8, 0x200 - 8)  // the type-specific header's length
  putWord(12, 0x0200_0000)  // type 2 (CCW)
  putWord(108, 0x0000_1234)  // CCW body at 24: ssid at 109, device number at 110
  let set = diag(0x308, r2: page, r3: 0x5A, r4: 5)
  expectCompleted(set, "0x308 set completes")
  expectEqual(set.registers[3], responseOK, "CCW block set: response 0x0001")
  clearPage()
  let store = diag(0x308, r2: page, r3: 0x5A, r4: 6)
  expectCompleted(store, "0x308 store completes")
  expectEqual(store.registers[3], responseOK, "store after set: response 0x0001")
  expectEqual(getWord(0), 0x200, "stored block length")
  expectEqual(getWord(12) >> 24, 2, "stored block type CCW")
  expectEqual(getWord(108) & 0xFFFF, 0x1234, "stored device number")
  expectEqual(store.registers[2], page, "R1 keeps the block address")
}

func diag500() {
  // Function code in GR1; 3 = virtio-ccw notification with the subchannel
  // ID in GR2. An unassigned function code: specification exception.
  // (0-2 belonged to the old s390-virtio transport; 4 on are unassigned.)
  for function: UInt64 in [4, 0x99, 0xFFFF_FFFF] {
    expectDiagException(diagnose: 0x500, diag(0x500, gr1: function), 6, "0x500 unassigned function")
  }
  // A notification for a subchannel that does not exist (no devices in the
  // cell): the error comes back as a negative value in GR2.
  let result = diag(0x500, r2: 0x0001_FFFF, r3: 0, r4: 0, gr1: 3)
  expectCompleted(result, "0x500 notify of a missing subchannel completes")
  expect(Int64(bitPattern: result.registers[2]) < 0, "0x500 notify: negative return in GR2")
}

func diagBased() {
  // The code is the second-operand address D2(B2) (PoP: DIAGNOSE, RS
  // format): DIAG 2,4,0(6) with r6 = 0x44 is DIAGNOSE 0x44.
  let result = RunPSW.run(
    mask: RunPSW.mask64, address: diag_stub(UInt64(codes.count) * 4),
    registers: [0, 0, 0, 0, 0, 0, 0x44, 0, 5, 1])
  expectEqual(result.code, RunPSW.svcFlag, "DIAG 0(6) with r6 = 0x44 completes as 0x44")
  expectEqual(result.conditionCode, ccBefore, "as 0x44: cc unchanged")
}
