// Debug registers and debug exceptions as the Intel SDM vol. 3 chapter 17
// ("Debug, Branch Profile, TSC, and Intel RDT Features") and the AMD APM
// vol. 2 chapter 13 define them: DR0-DR3 instruction breakpoints (faults,
// RF lets the instruction run on return) and data breakpoints (traps after
// the access) of each length, DR6 status bits and DR7 controls, single-step
// with TF including the MOV SS shadow, INT1 and general detect. The test
// installs its own #DB handler (x86_64/Debug.S) on vector 1 and puts the
// runtime's back afterwards.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("dr6 dr7 fixed bits", fixedBits, .requires(arch: .x86_64)),
  Test("dr6 dr7 upper half", upperHalf, .requires(arch: .x86_64)),
  Test("execute breakpoints", executeBreakpoints, .requires(arch: .x86_64)),
  Test("simultaneous breakpoints", simultaneousBreakpoints, .requires(arch: .x86_64)),
  Test(
    "write breakpoints", writeBreakpoints, .requires(arch: .x86_64),
    .xfail("measured: under this host's nested KVM (PVM) data breakpoints (DR7 R/W 01) never raise #DB; execute breakpoints do", when: .kvm)),
  Test(
    "read-write breakpoints", readWriteBreakpoints, .requires(arch: .x86_64),
    .xfail("measured: under this host's nested KVM (PVM) data breakpoints (DR7 R/W 11) never raise #DB", when: .kvm)),
  Test("single step", singleStep, .requires(arch: .x86_64)),
  Test(
    "mov ss shadow", movSSShadow, .requires(arch: .x86_64),
    .xfail("measured: this host's nested KVM (PVM) traps right after MOV SS (RIP = the next instruction): no shadow, 7 traps for 6", when: .kvm)),
  Test("pop ss", popSS, .requires(arch: .x86_64)),
  Test(
    "general detect", generalDetect, .requires(arch: .x86_64),
    .xfail("measured: QEMU 7.2 TCG ignores DR7.GD: MOV from DR7 raises no #DB and GD stays set", when: .tcg)),
  // KVM finding: INT1 (F1) stops this host's nested KVM (PVM) with "KVM
  // internal error. Suberror: 1" (the exceptions program measured it); the
  // test runs under TCG only.
  Test(
    "int1", int1, .requires(arch: .x86_64), .requires(.tcg),
    .xfail("measured: QEMU 7.2 TCG raises #UD for INT1 (F1) instead of the #DB trap", when: .tcg)),
]

#if arch(x86_64)
  @_extern(c, "dbg_state") func dbg_state() -> UnsafeMutablePointer<UInt64>
  @_extern(c, "dbg_handler_address") func dbg_handler_address() -> UInt64
  @_extern(c, "dbg_label") func dbg_label(_ index: Int) -> UInt64
  @_extern(c, "dbg_sidt") func dbg_sidt(_ out: UnsafeMutableRawPointer)
  @_extern(c, "dbg_get_dr0") func dbg_get_dr0() -> UInt64
  @_extern(c, "dbg_get_dr1") func dbg_get_dr1() -> UInt64
  @_extern(c, "dbg_get_dr2") func dbg_get_dr2() -> UInt64
  @_extern(c, "dbg_get_dr3") func dbg_get_dr3() -> UInt64
  @_extern(c, "dbg_get_dr6") func dbg_get_dr6() -> UInt64
  @_extern(c, "dbg_get_dr7") func dbg_get_dr7() -> UInt64
  @_extern(c, "dbg_set_dr0") func dbg_set_dr0(_ value: UInt64)
  @_extern(c, "dbg_set_dr1") func dbg_set_dr1(_ value: UInt64)
  @_extern(c, "dbg_set_dr2") func dbg_set_dr2(_ value: UInt64)
  @_extern(c, "dbg_set_dr3") func dbg_set_dr3(_ value: UInt64)
  @_extern(c, "dbg_set_dr6") func dbg_set_dr6(_ value: UInt64)
  @_extern(c, "dbg_set_dr7") func dbg_set_dr7(_ value: UInt64)
  @_extern(c, "dbg_exec") func dbg_exec()
  @_extern(c, "dbg_store1") func dbg_store1(_ address: UInt64)
  @_extern(c, "dbg_store2") func dbg_store2(_ address: UInt64)
  @_extern(c, "dbg_store4") func dbg_store4(_ address: UInt64)
  @_extern(c, "dbg_store8") func dbg_store8(_ address: UInt64)
  @_extern(c, "dbg_load1") func dbg_load1(_ address: UInt64)
  @_extern(c, "dbg_load2") func dbg_load2(_ address: UInt64)
  @_extern(c, "dbg_load4") func dbg_load4(_ address: UInt64)
  @_extern(c, "dbg_load8") func dbg_load8(_ address: UInt64)
  @_extern(c, "dbg_step") func dbg_step()
  @_extern(c, "dbg_mov_ss") func dbg_mov_ss()
  @_extern(c, "dbg_gd_read") func dbg_gd_read() -> UInt64
  @_extern(c, "dbg_icebp") func dbg_icebp()
  @_extern(c, "dbg_pop_ss") func dbg_pop_ss()

  /// Labelled addresses of Debug.S, in dbg_labels order.
  enum Label: Int {
    case exec0, exec1, exec2, exec3
    case afterStore1, afterStore2, afterStore4, afterStore8
    case afterLoad1, afterLoad2, afterLoad4, afterLoad8
    case step1, step2, step3, step4, step5, step6, step7
    case ss1, ss2, ss3, ss4, ss5, ss6, ss7, ss8
    case gdRead, afterIcebp, popSS
  }
  func address(_ label: Label) -> UInt64 { dbg_label(label.rawValue) }

  // DR6 (SDM 17.2.3): B0-B3 bits 0-3, BD 13, BS 14, BT 15.
  let BD: UInt64 = 1 << 13
  let BS: UInt64 = 1 << 14
  /// DR6 bits that read as 1 on every processor: 4-10 and 17-31 (bit 11
  /// BLD and bit 16 RTM read 1 only where those features are absent; bit
  /// 12 reads 0, as the initial value FFFF0FF0h shows).
  let dr6Ones: UInt64 = 0x7F0 | 0xFFFE_0000
  let dr6Init: UInt64 = 0xFFFF_0FF0
  /// DR7 (SDM 17.2.4): bit 10 reads as 1; GD is bit 13.
  let dr7Fixed: UInt64 = 1 << 10
  let GD: UInt64 = 1 << 13
  /// DR7 for breakpoint n: local enable, R/W and LEN fields.
  func dr7(_ n: UInt64, rw: UInt64, len: UInt64) -> UInt64 {
    dr7Fixed | 1 << (2 * n) | rw << (16 + 4 * n) | len << (18 + 4 * n)
  }
  /// LEN encodings (SDM table 17-1 / 17.2.5): 1, 2, 8 (64-bit mode), 4 bytes.
  func lenField(_ bytes: UInt64) -> UInt64 {
    switch bytes {
    case 1: return 0
    case 2: return 1
    case 8: return 2
    default: return 3
    }
  }
  let rwExecute: UInt64 = 0
  let rwWrite: UInt64 = 1
  let rwReadWrite: UInt64 = 3

  func setDR(_ n: UInt64, _ value: UInt64) {
    switch n {
    case 0: dbg_set_dr0(value)
    case 1: dbg_set_dr1(value)
    case 2: dbg_set_dr2(value)
    default: dbg_set_dr3(value)
    }
  }
  func getDR(_ n: UInt64) -> UInt64 {
    switch n {
    case 0: return dbg_get_dr0()
    case 1: return dbg_get_dr1()
    case 2: return dbg_get_dr2()
    default: return dbg_get_dr3()
    }
  }

  /// One #DB the handler logged.
  struct Hit {
    var rip, dr6, rflags, dr7: UInt64
  }
  /// The log: 32 entries of four quadwords, then the count and the limit.
  func hits() -> [Hit] {
    let s = dbg_state()
    var out: [Hit] = []
    var i = 0
    while i < min(Int(s[128]), 32) {
      out.append(Hit(rip: s[4 * i], dr6: s[4 * i + 1], rflags: s[4 * i + 2], dr7: s[4 * i + 3]))
      i += 1
    }
    return out
  }
  func hitCount() -> UInt64 { dbg_state()[128] }

  /// Runs `body` with the logging #DB handler on vector 1 (IST1), an
  /// empty log, TF cleared after `limit` hits, and the debug registers
  /// cleared before and after.
  func withHandler(limit: UInt64 = 64, _ body: () -> Void) {
    let raw = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
    dbg_sidt(raw)
    let idt = UnsafeMutablePointer<UInt64>(bitPattern: UInt(raw.loadUnaligned(fromByteOffset: 2, as: UInt64.self)))!
    raw.deallocate()
    let old = (idt[2], idt[3])
    let handler = dbg_handler_address()
    idt[2] = handler & 0xFFFF | 0x08 << 16 | 1 << 32 | 0x8E << 40 | (handler >> 16 & 0xFFFF) << 48
    idt[3] = handler >> 32
    let s = dbg_state()
    s[128] = 0
    s[129] = limit
    dbg_set_dr7(0)
    dbg_set_dr6(dr6Init)
    body()
    dbg_set_dr7(0)
    dbg_set_dr6(dr6Init)
    idt[2] = old.0
    idt[3] = old.1
  }
#endif

func fixedBits() {
  #if arch(x86_64)
    withHandler {
      // DR6 written with 0 reads back its always-1 bits; DR7 written with
      // 0 reads back bit 10 (SDM 17.2.3, 17.2.4).
      dbg_set_dr6(0)
      expectBits(dbg_get_dr6(), set: dr6Ones, "DR6 reserved bits 4-10, 17-31 read as 1")
      expectBits(dbg_get_dr6(), clear: 0xFFFF_FFFF_0000_0000 | 1 << 12 | BD | BS | 1 << 15 | 0xF, "DR6 bit 12, status bits and bits 63:32 read 0 after writing 0")
      dbg_set_dr6(dr6Init)
      dbg_set_dr7(0)
      expectEqual(dbg_get_dr7(), dr7Fixed, "DR7 written 0 reads 0x400 (bit 10 set)")
      // Enable and length fields read back.
      let value = dr7(0, rw: rwWrite, len: 3) | dr7(3, rw: rwReadWrite, len: 2)
      dbg_set_dr7(value)
      expectEqual(dbg_get_dr7(), value, "DR7 enables, R/W and LEN fields read back")
      dbg_set_dr7(0)
      // DR0-DR3 hold any canonical address.
      for n: UInt64 in [0, 1, 2, 3] {
        let a: UInt64 = 0x0000_7FFF_1234_5000 | n << 3
        setDR(n, a)
        expectEqual(getDR(n), a, "DR0-DR3 read back the address written")
        setDR(n, 0)
      }
      expectEqual(hitCount(), 0, "no #DB while only writing debug registers")
    }
  #endif
}

func upperHalf() {
  #if arch(x86_64)
    // Bits 63:32 of DR6 and DR7 must be written 0: MOV DR with them set
    // raises #GP(0) (SDM vol. 2 "MOV to/from Debug Registers").
    withHandler {
      expectException(vector: 13, code: 0, "MOV DR7 with bit 32 set raises #GP(0)") { dbg_set_dr7(1 << 32 | dr7Fixed) }
      expectException(vector: 13, code: 0, "MOV DR6 with bit 40 set raises #GP(0)") { dbg_set_dr6(1 << 40 | dr6Init) }
      expectEqual(dbg_get_dr7(), dr7Fixed, "DR7 unchanged after the refused write")
    }
  #endif
}

func simultaneousBreakpoints() {
  #if arch(x86_64)
    // Two enabled breakpoints on one instruction: one #DB whose DR6 has
    // both B bits (SDM 17.2.3: DR6 reports every condition met).
    withHandler {
      let target = address(.exec2)
      dbg_set_dr0(target)
      dbg_set_dr2(target)
      dbg_set_dr3(address(.exec1))
      dbg_set_dr7(dr7(0, rw: rwExecute, len: 0) | dr7(2, rw: rwExecute, len: 0) | dr7(3, rw: rwExecute, len: 0))
      dbg_exec()
      dbg_set_dr7(0)
      let log = hits()
      expectEqual(UInt64(log.count), 2, "two instructions with breakpoints: two #DB")
      expectEqual(log.count > 0 ? log[0].rip : 0, address(.exec1), "first #DB at DR3's instruction")
      expectBits(log.count > 0 ? log[0].dr6 : 0, set: 1 << 3, "first #DB: DR6.B3")
      expectBits(log.count > 0 ? log[0].dr6 : 0, clear: 0x5, "first #DB: B0 and B2 clear")
      expectEqual(log.count > 1 ? log[1].rip : 0, target, "second #DB at the shared instruction")
      expectBits(log.count > 1 ? log[1].dr6 : 0, set: 0x5, "second #DB: DR6.B0 and B2 both set")
      dbg_set_dr0(0)
      dbg_set_dr2(0)
      dbg_set_dr3(0)
    }
  #endif
}

func executeBreakpoints() {
  #if arch(x86_64)
    // An instruction breakpoint is a fault: RIP = the instruction, DR6.Bn
    // set; RF in the saved RFLAGS lets it complete on return (SDM 17.3.1.1).
    let targets: [Label] = [.exec0, .exec1, .exec2, .exec3]
    for n: UInt64 in [0, 1, 2, 3] {
      withHandler {
        let target = address(targets[Int(n)])
        setDR(n, target)
        dbg_set_dr7(dr7(n, rw: rwExecute, len: 0))
        dbg_exec()
        dbg_set_dr7(0)
        let log = hits()
        expectEqual(UInt64(log.count), 1, "execute breakpoint hits once (RF on return)")
        expectEqual(log.first?.rip ?? 0, target, "execute breakpoint is a fault: RIP = the instruction")
        expectBits(log.first?.dr6 ?? 0, set: 1 << n, "execute breakpoint sets DR6.Bn")
        expectBits(log.first?.dr6 ?? 0, clear: BS | BD, "execute breakpoint: BS and BD clear")
        setDR(n, 0)
      }
      // Global enable Gn (bit 2n + 1) works like the local one.
      withHandler {
        let target = address(targets[Int(n)])
        setDR(n, target)
        dbg_set_dr7(dr7Fixed | 2 << (2 * n))
        dbg_exec()
        dbg_set_dr7(0)
        let log = hits()
        expectEqual(UInt64(log.count), 1, "execute breakpoint enabled by Gn hits once")
        expectBits(log.first?.dr6 ?? 0, set: 1 << n, "Gn breakpoint sets DR6.Bn")
        setDR(n, 0)
      }
      // Disabled (L0-L3 and G0-G3 clear): no #DB.
      withHandler {
        setDR(n, address(targets[Int(n)]))
        dbg_set_dr7(dr7Fixed | rwExecute << (16 + 4 * n))
        dbg_exec()
        expectEqual(hitCount(), 0, "disabled execute breakpoint does not hit")
        setDR(n, 0)
      }
    }
  #endif
}

#if arch(x86_64)
  typealias Access = @convention(c) (UInt64) -> Void
  let stores: [(UInt64, Access, Label)] = [
    (1, dbg_store1, .afterStore1), (2, dbg_store2, .afterStore2), (4, dbg_store4, .afterStore4), (8, dbg_store8, .afterStore8),
  ]
  let loads: [(UInt64, Access, Label)] = [
    (1, dbg_load1, .afterLoad1), (2, dbg_load2, .afterLoad2), (4, dbg_load4, .afterLoad4), (8, dbg_load8, .afterLoad8),
  ]

  /// For breakpoint `n` of `length` bytes at `base + 16` with `rw`, runs
  /// accesses of every size at offsets around it; a hit is expected when
  /// the accessed bytes overlap the breakpoint's (SDM 17.2.5) and the
  /// access kind matches R/W. A data breakpoint is a trap: RIP = the next
  /// instruction, DR6.Bn set.
  func dataBreakpoints(_ n: UInt64, rw: UInt64, length: UInt64, base: UInt64) {
    let watched = base + 16
    for (kind, accesses) in [(UInt64(1), stores), (UInt64(0), loads)] {
      for (size, access, after) in accesses {
        for offset: Int64 in [-8, -1, 0, Int64(length) - 1, Int64(length)] {
          // Natural alignment of the access, as compilers emit them.
          let at = UInt64(Int64(watched) + offset) & ~(size - 1)
          let overlaps = at < watched + length && watched < at + size
          let kindMatches = rw == rwReadWrite || kind == 1
          let expected = overlaps && kindMatches
          withHandler {
            setDR(n, watched)
            dbg_set_dr7(dr7(n, rw: rw, len: lenField(length)))
            access(at)
            dbg_set_dr7(0)
            setDR(n, 0)
            let log = hits()
            if expected {
              expectEqual(UInt64(log.count), 1, "overlapping access of the watched kind hits once")
              expectEqual(log.first?.rip ?? 0, address(after), "data breakpoint is a trap: RIP = the next instruction")
              expectBits(log.first?.dr6 ?? 0, set: 1 << n, "data breakpoint sets DR6.Bn")
            } else {
              expectEqual(UInt64(log.count), 0, "access outside the range or of another kind does not hit")
            }
          }
        }
      }
    }
  }
#endif

func writeBreakpoints() {
  #if arch(x86_64)
    let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
    defer { buffer.deallocate() }
    let base = UInt64(UInt(bitPattern: buffer) + 15) & ~15
    // Each length on a different register.
    for (n, length) in [(UInt64(0), UInt64(1)), (1, 2), (2, 4), (3, 8)] {
      dataBreakpoints(n, rw: rwWrite, length: length, base: base)
    }
  #endif
}

func readWriteBreakpoints() {
  #if arch(x86_64)
    let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
    defer { buffer.deallocate() }
    let base = UInt64(UInt(bitPattern: buffer) + 15) & ~15
    for (n, length) in [(UInt64(3), UInt64(1)), (2, 2), (1, 4), (0, 8)] {
      dataBreakpoints(n, rw: rwReadWrite, length: length, base: base)
    }
  #endif
}

func singleStep() {
  #if arch(x86_64)
    // TF: a trap after each instruction that began with TF = 1 (not after
    // the POPF that sets it, but after the POPF that clears it), DR6.BS
    // set, TF set in the saved RFLAGS (SDM 17.3.1.4).
    withHandler {
      dbg_step()
      let log = hits()
      let expected: [Label] = [.step2, .step3, .step4, .step5, .step6, .step7]
      expectEqual(UInt64(log.count), UInt64(expected.count), "one single-step trap per instruction")
      for (i, label) in expected.enumerated() where i < log.count {
        expectEqual(log[i].rip, address(label), "single-step trap: RIP = the next instruction")
        expectBits(log[i].dr6, set: BS, "single-step trap sets DR6.BS")
        expectBits(log[i].dr6, clear: 0xF, "single-step trap: B0-B3 clear")
        // The last trap follows the POPF that cleared TF.
        if i + 1 < expected.count {
          expectBits(log[i].rflags, set: 1 << 8, "single-step trap: TF set in the saved RFLAGS")
        } else {
          expectBits(log[i].rflags, clear: 1 << 8, "trap after the POPF that clears TF: TF clear in the saved RFLAGS")
        }
      }
    }
  #endif
}

func movSSShadow() {
  #if arch(x86_64)
    // MOV SS holds debug exceptions until the next instruction completes
    // (SDM 6.8.3): no trap between MOV SS and the NOP after it; one trap
    // after the NOP.
    withHandler {
      dbg_mov_ss()
      let log = hits()
      let expected: [Label] = [.ss2, .ss4, .ss5, .ss6, .ss7, .ss8]
      expectEqual(UInt64(log.count), UInt64(expected.count), "single-step traps with one MOV SS shadow")
      for (i, label) in expected.enumerated() where i < log.count {
        expectEqual(log[i].rip, address(label), "trap RIPs skip the instruction after MOV SS")
        expectBits(log[i].dr6, set: BS, "each trap sets DR6.BS")
      }
      var sawShadowed = false
      for hit in log where hit.rip == address(.ss3) { sawShadowed = true }
      expect(!sawShadowed, "no trap between MOV SS and the next instruction")
    }
  #endif
}

func popSS() {
  #if arch(x86_64)
    // POP SS (17) is invalid in 64-bit mode (SDM vol. 2 "POP"), so its
    // shadow cannot be stepped here: #UD.
    let caught = catchException { dbg_pop_ss() }
    expectEqual(caught?.vector ?? 99, 6, "POP SS in 64-bit mode raises #UD")
    expectEqual(caught?.instruction ?? 0, address(.popSS), "#UD RIP = POP SS")
  #endif
}

func generalDetect() {
  #if arch(x86_64)
    // DR7.GD: the next MOV to or from a debug register raises #DB as a
    // fault with DR6.BD, and the CPU clears GD on entry to the handler
    // (SDM 17.2.4, 17.3.1.2).
    withHandler {
      dbg_set_dr7(dr7Fixed | GD)
      let value = dbg_gd_read()
      let log = hits()
      expectEqual(UInt64(log.count), 1, "MOV from DR7 with GD raises one #DB")
      expectEqual(log.first?.rip ?? 0, address(.gdRead), "general detect is a fault: RIP = the MOV")
      expectBits(log.first?.dr6 ?? 0, set: BD, "general detect sets DR6.BD")
      expectBits(log.first?.dr7 ?? GD, clear: GD, "DR7.GD is clear in the handler")
      expectBits(value, clear: GD, "the MOV re-executed after the handler reads DR7 without GD")
    }
  #endif
}

func int1() {
  #if arch(x86_64)
    // INT1 (F1) raises #DB as a trap (RIP after it) and sets none of
    // B0-B3, BS, BD (SDM vol. 2 "INT1", 17.3.1).
    withHandler {
      let caught = catchException { dbg_icebp() }
      expect(caught == nil, "INT1 raises no other exception")
      let log = hits()
      expectEqual(UInt64(log.count), 1, "INT1 raises one #DB")
      expectEqual(log.first?.rip ?? 0, address(.afterIcebp), "INT1 #DB is a trap: RIP after it")
      expectBits(log.first?.dr6 ?? 0xFFFF, clear: 0xF | BS | BD, "INT1: DR6 B0-B3, BS, BD clear")
    }
  #endif
}
