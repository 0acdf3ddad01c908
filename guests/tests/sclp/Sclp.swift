// The service-call logical processor as the SCLP interface defines it
// (SERVC, the SCCB header and response codes, READ SCP INFO, event
// masks and ASCII console events) and the service-signal external
// interruption (PoO: external interruption code 0x2401, the SCCB address
// in the external-interruption parameter, subclass mask CR0 bit 54),
// checked across the matrix's memory and CPU axes.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("read scp info: storage", storage),
  Test("read scp info: cpus", cpus),
  Test("sccb rules", sccbRules),
  Test("event masks", eventMasks),
  Test("service signal", serviceSignal),
  Test("long console lines", longConsoleLines),
]

@_extern(c, "sclp_servc") func sclp_servc(_ command: UInt32, _ sccb: UInt64) -> UInt64
@_extern(c, "sclp_drain") func sclp_drain()
@_extern(c, "sclp_peek") func sclp_peek()
@_extern(c, "sclp_lowcore_external") func sclp_lowcore_external() -> UInt64
@_extern(c, "sclp_service_subclass") func sclp_service_subclass(_ on: UInt64)
@_extern(c, "sclp_pages_address") func sclp_pages_address() -> UInt64

let readSCPInfo: UInt32 = 0x0002_0001
let readSCPInfoForced: UInt32 = 0x0012_0001
let writeEventData: UInt32 = 0x0076_0005
let writeEventMask: UInt32 = 0x0078_0005
let asciiConsoleMask: UInt64 = 0x0000_0040

let page = sclp_pages_address()
func byte(_ at: UInt64) -> UInt64 { UInt64(UnsafePointer<UInt8>(bitPattern: UInt(at))!.pointee) }
func be16(_ at: UInt64) -> UInt64 { byte(at) << 8 | byte(at + 1) }
func be32(_ at: UInt64) -> UInt64 { be16(at) << 16 | be16(at + 2) }
func be64(_ at: UInt64) -> UInt64 { be32(at) << 32 | be32(at + 4) }
func put8(_ at: UInt64, _ v: UInt64) {
  UnsafeMutablePointer<UInt8>(bitPattern: UInt(at))!.pointee = UInt8(truncatingIfNeeded: v)
}
func put16(_ at: UInt64, _ v: UInt64) {
  put8(at, v >> 8)
  put8(at + 1, v)
}
func put32(_ at: UInt64, _ v: UInt64) {
  put16(at, v >> 16)
  put16(at + 2, v)
}
func clear(_ at: UInt64, _ count: Int) { for i in 0..<count { put8(at + UInt64(i), 0) } }

/// Starts `command` on the SCCB at `sccb` (length already set) and waits
/// for its completion; returns the response code, nil when SERVC did not
/// accept it (cc 3) or stayed busy.
func call(_ command: UInt32, _ sccb: UInt64) -> UInt64? {
  Sclp.flush()
  var attempts = 0
  while attempts < 100_000 {
    switch sclp_servc(command, sccb) {
    case 0:
      while be16(sccb + 6) == 0 { s390_wait_service_signal() }
      return be16(sccb + 6)
    case 2: attempts += 1
    default: return nil
    }
  }
  return nil
}
/// READ SCP INFO into the first page (forced form first).
func readInfo() -> UInt64? {
  for command in [readSCPInfoForced, readSCPInfo] {
    clear(page, 4096)
    put16(page, 4096)
    if let response = call(command, page), response == 0x0010 { return response }
  }
  return be16(page + 6)
}

func mebibytes() -> UInt64 { Platform.arguments.integer("harness.mem") ?? 0 }
func smp() -> UInt64 { Platform.arguments.integer("harness.smp") ?? 0 }

func storage() throws(TestStop) {
  try require(expectEqual(readInfo() ?? 0, 0x0010, "READ SCP INFO: normal read completion"))
  let rnsize = byte(page + 10)
  let rnmax = be16(page + 8)
  let rnsize2 = be32(page + 100)
  let rnmax2 = be64(page + 104)
  // Increment size in MiB: byte 10, or the 32-bit field at 100 when 0; the
  // count: halfword 8, or the 64-bit field at 104 when 0.
  let size = rnsize != 0 ? rnsize : rnsize2
  let count = rnmax != 0 ? rnmax : rnmax2
  note("increment MiB", size)
  note("increments", count)
  expect(size, .greater, 0, "storage increment size is reported")
  expectEqual(size & (size &- 1), 0, "storage increment size is a power of two")
  expectEqual(size * count, mebibytes(), "increments x size = -m")
  if rnsize != 0 && rnsize2 != 0 {
    expectEqual(rnsize2, rnsize, "the 32-bit increment size agrees with byte 10")
  }
  if rnmax != 0 && rnmax2 != 0 {
    expectEqual(rnmax2, rnmax, "the 64-bit increment count agrees with halfword 8")
  }
  // The storage the SCLP reports is there: the last byte is addressable,
  // the next one is not (DAT off: real addresses).
  let end = mebibytes() << 20
  expectNoException("last byte of the reported storage is addressable") { _ = s390_load(end - 8) }
  expectException(vector: 5, "first byte past the reported storage: addressing") {
    _ = s390_load(end)
  }
}

func cpus() throws(TestStop) {
  try require(expectEqual(readInfo() ?? 0, 0x0010, "READ SCP INFO: normal read completion"))
  let count = be16(page + 16)
  let offset = be16(page + 18)
  expectEqual(count, smp(), "CPU entries = -smp")
  expect(offset + 16 * count, .lessOrEqual, 4096, "CPU entries inside the SCCB")
  var addresses: [UInt64] = []
  for i in 0..<Int(count) { addresses.append(byte(page + offset + UInt64(16 * i))) }
  var distinct = true
  for i in 0..<addresses.count {
    for j in 0..<i where addresses[i] == addresses[j] { distinct = false }
  }
  expect(distinct, "CPU addresses are distinct")
  var listed = false
  for address in addresses where address == UInt64(s390_cpu_address()) { listed = true }
  expect(listed, "this CPU's address is listed")
  // Every listed CPU answers SIGP SENSE (cc 0 or 1); the first address
  // past the highest listed one is not operational (cc 3).
  var status: UInt32 = 0
  var highest: UInt64 = 0
  for address in addresses {
    let cc = s390_sigp(UInt16(address), 1, 0, &status)
    expect(cc, .lessOrEqual, 1, "SIGP SENSE to a listed CPU is accepted")
    highest = max(highest, address)
  }
  expectEqual(
    s390_sigp(UInt16(highest + 1), 1, 0, &status), 3,
    "SIGP SENSE past the listed CPUs: not operational")
}

func sccbRules() {
  // An SCCB too short for the response: insufficient SCCB length (0x0300).
  clear(page, 4096)
  put16(page, 16)
  expectEqual(call(readSCPInfo, page) ?? 0, 0x0300, "READ SCP INFO into a 16-byte SCCB: 0x0300")
  // An SCCB crossing a page boundary: boundary violation (0x0100).
  let crossing = page + 4096 - 64
  clear(crossing, 128)
  put16(crossing, 128)
  expectEqual(call(readSCPInfo, crossing) ?? 0, 0x0100, "SCCB across a 4K boundary: 0x0100")
  // An unknown command: invalid SCLP command (0x01F0).
  clear(page, 4096)
  put16(page, 4096)
  expectEqual(call(0x00EE_0001, page) ?? 0, 0x01F0, "unknown command code: 0x01F0")
  // The SCCB must be on a doubleword boundary below 2 GiB: otherwise
  // SERVC is a specification exception.
  Sclp.flush()
  expectException(vector: 6, "SERVC with an SCCB off a doubleword boundary: specification") {
    _ = sclp_servc(readSCPInfo, page + 4)
  }
  if mebibytes() > 2048 {
    // (Inside storage: with less, the address is also an addressing
    // exception, whose priority the definition leaves open.)
    expectException(vector: 6, "SERVC with an SCCB at 2 GiB: specification") {
      _ = sclp_servc(readSCPInfo, 0x8000_0000)
    }
  } else {
    skip("SERVC with an SCCB at 2 GiB: specification", because: "needs more than 2 GiB of storage")
  }
}

/// WRITE EVENT MASK with 4-byte masks; returns the response code.
func writeMasks(receive: UInt64, send: UInt64, length: UInt64 = 4) -> UInt64 {
  clear(page, 64)
  put16(page, 28)
  put16(page + 10, length)
  put32(page + 12, receive)
  put32(page + 16, send)
  return call(writeEventMask, page) ?? 0
}

func eventMasks() {
  // The console's own masks again: the SCLP answers with what it can
  // receive and send; both include the ASCII console (event type 0x1A).
  expectEqual(
    writeMasks(receive: asciiConsoleMask, send: asciiConsoleMask), 0x0020,
    "WRITE EVENT MASK: normal completion")
  expectBits(be32(page + 20), set: asciiConsoleMask, "the SCLP receives ASCII console data")
  expectBits(be32(page + 24), set: asciiConsoleMask, "the SCLP sends ASCII console data")
  // A zero mask length is invalid (0x74F0).
  expectEqual(
    writeMasks(receive: 0, send: 0, length: 0), 0x74F0,
    "WRITE EVENT MASK with mask length 0: 0x74F0")
  expectEqual(
    writeMasks(receive: asciiConsoleMask, send: asciiConsoleMask), 0x0020, "console masks restored")
  note("console still works after the mask tests")
}

func serviceSignal() {
  // Each accepted request ends with one service-signal external
  // interruption: code 0x2401, the SCCB address in the parameter (its
  // rightmost bits may flag pending events). Nothing is written to the
  // console between the request and the interruption (a console request
  // would be signalled too, its parameter merged with this one).
  Sclp.flush()
  sclp_drain()
  clear(page, 4096)
  put16(page, 4096)
  let accepted = sclp_servc(readSCPInfo, page)
  if accepted == 0 { s390_wait_service_signal() }
  let external = sclp_lowcore_external()
  let response = be16(page + 6)
  expectEqual(accepted, 0, "SERVC READ SCP INFO: cc 0 (accepted)")
  expectEqual(external >> 32, 0x2401, "external interruption code 0x2401 (service signal)")
  expectEqual(external & 0xFFFF_FFF8, page, "external parameter = the SCCB address")
  expectEqual(response, 0x0010, "the response code is stored before the signal")
  // With the service-signal subclass (CR0 bit 54) off the signal stays
  // pending; it is taken once the subclass is on again.
  Sclp.flush()
  sclp_drain()
  sclp_service_subclass(0)
  clear(page, 4096)
  put16(page, 4096)
  let acceptedMasked = sclp_servc(readSCPInfo, page)
  var spins = 0
  while be16(page + 6) == 0 && spins < 100_000_000 { spins += 1 }  // the response, no interruption
  sclp_peek()
  let whileMasked = sclp_lowcore_external()
  sclp_service_subclass(1)
  if acceptedMasked == 0 { s390_wait_service_signal() }
  let late = sclp_lowcore_external()
  expectEqual(acceptedMasked, 0, "SERVC with the subclass off: cc 0")
  expectEqual(whileMasked >> 32, 0, "no interruption while CR0 bit 54 is off")
  expectEqual(late >> 32, 0x2401, "the pending service signal arrives once CR0 bit 54 is on")
  expectEqual(late & 0xFFFF_FFF8, page, "with this SCCB's address")
}

func longConsoleLines() {
  // One ASCII console event of 3000 bytes (a KTAP diagnostic line), on
  // this program's SCCB: normal completion and the buffer accepted.
  let length: UInt64 = 3000
  Sclp.flush()
  clear(page, 4096)
  put16(page, 8 + 6 + length)
  put16(page + 8, 6 + length)
  put8(page + 10, 0x1A)
  let text = page + 14
  let prefix: [UInt8] = [0x20, 0x20, 0x20, 0x20, 0x23, 0x20]  // "    # "
  for i in 0..<Int(length) {
    let c: UInt8 = i < prefix.count ? prefix[i] : i == Int(length) - 1 ? 0x0A : UInt8(0x61 + i % 26)
    put8(text + UInt64(i), UInt64(c))
  }
  expectEqual(
    call(writeEventData, page) ?? 0, 0x0020,
    "WRITE EVENT DATA of a 3000-byte line: normal completion")
  expectBits(byte(page + 11), set: 0x80, "the event buffer was accepted")
  // The runtime's console writes 1024 bytes per event: a 2500-byte line
  // goes out in three, the last at the newline (a broken line would be a
  // KTAP error on the host).
  Console.beginLine()
  Console.write("    # ")
  for i in 0..<2500 { Console.write(byte: UInt8(0x41 + i % 26)) }
  Console.write(byte: 10)
  Console.endLine()
  expectEqual(Sclp.pending, 0, "the console wrote the 2500-byte line out at its newline")
}
