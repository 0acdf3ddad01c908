// The channel subsystem (PoO chapters 13-16, "I/O Instructions", "Basic
// I/O Functions", "I/O Interruptions") with the one virtio-ccw device
// the cell attaches (configs/guests.cfg: virtio-rng-ccw, device number
// 0x0042): STORE SUBCHANNEL over every subchannel number of set 0, MODIFY
// SUBCHANNEL to enable it, START SUBCHANNEL of a SENSE ID channel program,
// the I/O interruption (through TEST PENDING INTERRUPTION and through an
// I/O new PSW) with its parameters, TEST SUBCHANNEL status, CLEAR
// SUBCHANNEL, and the exceptions of malformed operands. SENSE ID data of a
// virtio-ccw device: control-unit type 0x3832, model = virtio device ID
// (virtio specification, "Virtio over channel I/O").

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("stsch over all subchannels", storeAll),
  Test("msch enable", modify),
  Test("ssch sense id with tpi", senseIDWithTPI),
  Test("ssch sense id with an io interruption", senseIDWithInterruption),
  Test("csch", clear),
  Test("operand checks", operandChecks),
]

@_extern(c, "css_stsch") func css_stsch(_ sid: UInt64, _ schib: UInt64) -> UInt64
@_extern(c, "css_msch") func css_msch(_ sid: UInt64, _ schib: UInt64) -> UInt64
@_extern(c, "css_ssch") func css_ssch(_ sid: UInt64, _ orb: UInt64) -> UInt64
@_extern(c, "css_tsch") func css_tsch(_ sid: UInt64, _ irb: UInt64) -> UInt64
@_extern(c, "css_csch") func css_csch(_ sid: UInt64) -> UInt64
@_extern(c, "css_tpi") func css_tpi(_ address: UInt64) -> UInt64
@_extern(c, "css_set_cr6") func css_set_cr6(_ value: UInt64)
@_extern(c, "css_wait_io") func css_wait_io(_ record: UInt64, _ spins: UInt64) -> UInt64
@_extern(c, "css_area_address") func css_area_address() -> UInt64

/// The device the cell attaches.
let deviceNumber: UInt64 = 0x0042
let virtioControlUnitType: UInt64 = 0x3832
let virtioRNGDeviceID: UInt64 = 4
/// The I/O-interruption subclass the tests use.
let isc: UInt64 = 3

let area = css_area_address()
let schib = area  // 52 bytes
let orb = area + 128  // 32 bytes, word aligned
let ccw = area + 256  // doubleword aligned
let irb = area + 512  // 96 bytes
let senseData = area + 1024
let record = area + 2048  // interruption code: SID, parameter, IIW

func byte(_ at: UInt64) -> UInt64 { UInt64(UnsafePointer<UInt8>(bitPattern: UInt(at))!.pointee) }
func be16(_ at: UInt64) -> UInt64 { byte(at) << 8 | byte(at + 1) }
func be32(_ at: UInt64) -> UInt64 { be16(at) << 16 | be16(at + 2) }
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
func fill(_ at: UInt64, _ count: Int, _ v: UInt64) {
  for i in 0..<count { put8(at + UInt64(i), v) }
}

/// The subsystem-identification word of subchannel `number` in set 0.
func sid(_ number: UInt64) -> UInt64 { 0x0001_0000 | number }

/// The subchannel of the attached device, found by STSCH (nil: none).
nonisolated(unsafe) var deviceSubchannel: UInt64? = nil

func storeAll() {
  // Every subchannel number 0-0xFFFF of set 0: cc 0 (SCHIB stored) for
  // the installed ones, cc 3 for the rest. The cell attaches one device.
  var installed = 0
  var firstWithDevice: UInt64? = nil
  var deviceNumbersValid = true
  for number: UInt64 in 0...0xFFFF {
    fill(schib, 52, 0xEE)
    let cc = css_stsch(sid(number), schib)
    if cc == 0 {
      installed += 1
      let word1 = be32(schib + 4)
      if word1 & 0x0001_0000 == 0 { deviceNumbersValid = false }  // V: device number valid
      if word1 & 0xFFFF == deviceNumber && firstWithDevice == nil { firstWithDevice = number }
    } else if cc != 3 {
      installed += 1000
    }
  }
  expectEqual(
    installed, 1, "one subchannel installed (the virtio device), cc 3 for every other number")
  expect(deviceNumbersValid, "installed subchannels have a valid device number")
  deviceSubchannel = firstWithDevice
  guard let number = firstWithDevice else {
    expect(false, "a subchannel holds device number 0x0042")
    return
  }
  note("device subchannel", number)
  fill(schib, 52, 0xEE)
  expectEqual(css_stsch(sid(number), schib), 0, "STSCH of the device's subchannel: cc 0")
  let word1 = be32(schib + 4)
  expectBits(word1, clear: 0x0080_0000, "a subchannel is disabled (E = 0) after reset")
  expectEqual(word1 >> 19 & 3, 0, "device-number valid, subchannel type 0 (I/O)")
  expect(byte(schib + 8 + 3), .greater, 0, "path-installed mask is not empty")
  expectEqual(be32(schib + 28) & 0x0000_0001, 0, "no status pending after reset")
  // Subchannel set 1 has nothing without the multiple-subchannel-set
  // facility enabled: cc 3.
  expectEqual(css_stsch(0x0003_0000, schib), 3, "STSCH in subchannel set 1: cc 3")
}

/// Enables the device's subchannel for I/O interruptions of `isc` with the
/// interruption parameter `parameter`.
func enable(_ number: UInt64, parameter: UInt64) -> UInt64 {
  _ = css_stsch(sid(number), schib)
  put32(schib, parameter)
  var word1 = be32(schib + 4)
  word1 = word1 & ~0x3880_0000 | isc << 27 | 0x0080_0000  // ISC bits 2-4, E bit 8
  put32(schib + 4, word1)
  return css_msch(sid(number), schib)
}

func modify() throws(TestStop) {
  let number = try require(deviceSubchannel, "the device's subchannel was found")
  expectEqual(enable(number, parameter: 0x1234_5678), 0, "MSCH: cc 0")
  fill(schib, 52, 0xEE)
  expectEqual(css_stsch(sid(number), schib), 0, "STSCH after MSCH: cc 0")
  expectEqual(be32(schib), 0x1234_5678, "MSCH set the interruption parameter")
  let word1 = be32(schib + 4)
  expectBits(word1, set: 0x0080_0000, "MSCH set E (enabled)")
  expectEqual(word1 >> 27 & 7, isc, "MSCH set the ISC")
  expectEqual(word1 & 0xFFFF, deviceNumber, "device number unchanged")
}

/// SENSE ID (command 0xE4) into `senseData`, 256 bytes with SLI, format-1
/// CCW; the ORB carries `parameter`.
func startSenseID(_ number: UInt64, parameter: UInt64) -> UInt64 {
  fill(senseData, 256, 0)
  put8(ccw, 0xE4)
  put8(ccw + 1, 0x20)  // SLI: a shorter transfer is no incorrect length
  put16(ccw + 2, 256)
  put32(ccw + 4, senseData)
  fill(orb, 32, 0)
  put32(orb, parameter)
  put32(orb + 4, 0x0080_FF00)  // F (format-1 CCWs), LPM all paths
  put32(orb + 8, ccw)
  return css_ssch(sid(number), orb)
}

/// Checks the status TEST SUBCHANNEL reports for a completed SENSE ID.
func checkSenseIDStatus(_ number: UInt64) {
  fill(irb, 96, 0xEE)
  expectEqual(css_tsch(sid(number), irb), 0, "TSCH: cc 0 (status was pending)")
  let word0 = be32(irb)
  expectBits(word0, set: 0x4000, "SCSW function control: start")
  expectBits(word0, set: 0x0007, "SCSW status: primary, secondary, status pending")
  expectEqual(be32(irb + 4), ccw + 8, "SCSW CCW address: past the last CCW")
  expectEqual(byte(irb + 8), 0x0C, "device status: channel end and device end")
  expectEqual(byte(irb + 9), 0, "subchannel status: none")
  let residual = be16(irb + 10)
  expect(residual, .less, 256, "residual count: some bytes transferred")
  let transferred = 256 - residual
  expect(transferred, .greaterOrEqual, 7, "SENSE ID: at least the 7 basic bytes")
  expectEqual(byte(senseData), 0xFF, "SENSE ID byte 0 is 0xFF")
  expectEqual(be16(senseData + 1), virtioControlUnitType, "control-unit type 0x3832 (virtio-ccw)")
  expectEqual(
    byte(senseData + 3), virtioRNGDeviceID, "control-unit model = virtio device ID 4 (entropy)")
  // After TSCH the status is gone: cc 1.
  expectEqual(css_tsch(sid(number), irb), 1, "a second TSCH: cc 1 (no status pending)")
}

func senseIDWithTPI() throws(TestStop) {
  let number = try require(deviceSubchannel, "the device's subchannel was found")
  try require(expectEqual(enable(number, parameter: 0x1111_1111), 0, "MSCH enable: cc 0"))
  css_set_cr6(1 << (63 - (32 + isc)))  // CR6 bit 32 + ISC
  expectEqual(startSenseID(number, parameter: 0xCAFE_BABE), 0, "SSCH SENSE ID: cc 0 (started)")
  // TPI (I/O interruptions masked in the PSW): polls the pending
  // interruption; with a non-zero address it stores the SID and the
  // interruption parameter there.
  fill(record, 12, 0xEE)
  var cc: UInt64 = 0
  var polls = 0
  while cc == 0 && polls < 10_000_000 {
    cc = css_tpi(record)
    polls += 1
  }
  expectEqual(cc, 1, "TPI: cc 1 (an interruption code was stored)")
  expectEqual(be32(record), sid(number), "TPI: subsystem-identification word")
  expectEqual(be32(record + 4), 0xCAFE_BABE, "TPI: the ORB's interruption parameter")
  expectEqual(be32(record + 8), 0xEEEE_EEEE, "TPI with an address stores two words only")
  expectEqual(css_tpi(record), 0, "TPI again: cc 0 (the interruption was cleared)")
  checkSenseIDStatus(number)
  css_set_cr6(0)
}

func senseIDWithInterruption() throws(TestStop) {
  let number = try require(deviceSubchannel, "the device's subchannel was found")
  try require(expectEqual(enable(number, parameter: 0x2222_2222), 0, "MSCH enable: cc 0"))
  css_set_cr6(1 << (63 - (32 + isc)))
  fill(record, 12, 0xEE)
  let started = startSenseID(number, parameter: 0x0BAD_F00D)
  let arrived = css_wait_io(record, 50_000_000)
  expectEqual(started, 0, "SSCH SENSE ID: cc 0 (started)")
  try require(expectEqual(arrived, 1, "the I/O interruption arrived (PSW bit 6, CR6 ISC 3)"))
  expectEqual(be32(record), sid(number), "lowcore 0xb8: subsystem-identification word")
  expectEqual(be32(record + 4), 0x0BAD_F00D, "lowcore 0xbc: the ORB's interruption parameter")
  let iiw = be32(record + 8)
  expectEqual(iiw >> 31, 0, "lowcore 0xc0: I/O interruption, not an adapter interruption")
  expectEqual(iiw >> 27 & 7, isc, "lowcore 0xc0: the subchannel's ISC")
  checkSenseIDStatus(number)
  css_set_cr6(0)
}

func clear() throws(TestStop) {
  let number = try require(deviceSubchannel, "the device's subchannel was found")
  try require(expectEqual(enable(number, parameter: 0x3333_3333), 0, "MSCH enable: cc 0"))
  css_set_cr6(1 << (63 - (32 + isc)))
  let cc = css_csch(sid(number))
  var tpi: UInt64 = 0
  var polls = 0
  while tpi == 0 && polls < 10_000_000 {
    tpi = css_tpi(record)
    polls += 1
  }
  expectEqual(cc, 0, "CSCH: cc 0")
  expectEqual(tpi, 1, "CSCH ends with an I/O interruption")
  expectEqual(be32(record + 4), 0x3333_3333, "with the subchannel's interruption parameter")
  fill(irb, 96, 0xEE)
  expectEqual(css_tsch(sid(number), irb), 0, "TSCH after CSCH: cc 0")
  let word0 = be32(irb)
  expectBits(word0, set: 0x1000, "SCSW function control: clear")
  expectBits(word0, set: 0x0001, "SCSW status pending")
  css_set_cr6(0)
}

func operandChecks() throws(TestStop) {
  let number = try require(deviceSubchannel, "the device's subchannel was found")
  // GR1 must hold 0001 in bits 32-47 (one subchannel set, no MCSS-E):
  // operand exception (0x15) otherwise.
  expectException(vector: 0x15, "STSCH with GR1 bit 47 zero: operand exception") {
    _ = css_stsch(number, schib)
  }
  expectException(vector: 0x15, "TSCH with GR1 bit 47 zero: operand exception") {
    _ = css_tsch(number, irb)
  }
  // Operands on their boundaries: SCHIB, ORB, IRB words.
  expectException(vector: 6, "STSCH to an unaligned SCHIB: specification") {
    _ = css_stsch(sid(number), schib + 2)
  }
  expectException(vector: 6, "SSCH with an unaligned ORB: specification") {
    _ = css_ssch(sid(number), orb + 2)
  }
  // ORB word 1 bits 26-30 must be zero: operand exception.
  fill(orb, 32, 0)
  put32(orb + 4, 0x0080_FF00 | 0x20)
  put32(orb + 8, ccw)
  expectException(vector: 0x15, "SSCH with ORB reserved bits set: operand exception") {
    _ = css_ssch(sid(number), orb)
  }
  // A disabled subchannel is not operational for SSCH: cc 3.
  _ = css_stsch(sid(number), schib)
  put32(schib + 4, be32(schib + 4) & ~0x0080_0000)
  expectEqual(css_msch(sid(number), schib), 0, "MSCH disable: cc 0")
  expectEqual(startSenseID(number, parameter: 0), 3, "SSCH on a disabled subchannel: cc 3")
  // Numbers past the installed ones: cc 3 for every instruction.
  expectEqual(css_ssch(sid(number + 1), orb), 3, "SSCH of an uninstalled subchannel: cc 3")
  expectEqual(css_tsch(sid(number + 1), irb), 3, "TSCH of an uninstalled subchannel: cc 3")
  expectEqual(css_msch(sid(number + 1), schib), 3, "MSCH of an uninstalled subchannel: cc 3")
  expectEqual(css_csch(sid(number + 1)), 3, "CSCH of an uninstalled subchannel: cc 3")
}
