// General instructions of z/Architecture checked against reference models
// written from the Principles of Operation (SA22-7832, chapters 7
// "General Instructions" and 8 "Decimal Instructions"): every instruction
// under test runs in program-local assembly (s390x/emulator.S) on concrete
// operands, and a small Swift model of the instruction's definition derives
// the expected result and condition code. Table-driven: each operand
// combination is its own check; a failure notes the operands.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("add and subtract 32-bit", addSubtract32),
  Test("add and subtract 64-bit", addSubtract64),
  Test("add with carry, subtract with borrow", carryBorrow),
  Test("load complement positive negative test", loadSigned),
  Test("multiply and divide", multiplyDivide),
  Test(
    "fixed-point overflow interruption", overflowInterruption,
    .xfail(
      "measured: QEMU 7.2 TCG sets cc 3 but raises no fixed-point-overflow interruption with PSW bit 20 on",
      when: .tcg)),
  Test("logical and compare", logicalCompare),
  Test("shifts and rotates", shifts),
  Test("test under mask", testUnderMask),
  Test("icm and stcm masks", insertStoreMasks),
  Test("mvc", moveCharacters),
  Test("clc xc nc oc", compareAndBitwise),
  Test("mvn mvz", moveNumericsZones),
  Test("tr trt", translate),
  Test("tre", translateExtended),
  Test("mvcl", moveLong),
  Test("mvcle", moveLongExtended),
  Test("clcl clcle", compareLong),
  Test("compare and swap", compareAndSwap),
  Test("csst", compareSwapAndStore, .requires(feature: csstFacility)),
  Test(
    "csst fc 0 loads r3 bits 32-63", compareSwapAndStoreLoadsWord, .requires(feature: csstFacility),
    .xfail(
      "measured: QEMU 7.2 TCG loads the old word into R3 bits 0-31 instead of 32-63 (fc 0, unequal)",
      when: .tcg)),
  Test("interlocked access", interlockedAccess, .requires(feature: interlockedFacility)),
  Test("execute", execute),
  Test("cvd", convertToDecimal),
  Test(
    "cvb cvbg cvdg", convertToBinary,
    .xfail(
      "measured: QEMU 7.2 TCG raises an operation exception for CVB, CVBG and CVDG (opcodes 4F, E30E, E32E)",
      when: .tcg)),
  Test("pack unpk", packUnpack),
  Test(
    "unpk zero padding", unpackPadding,
    .xfail(
      "measured: QEMU 7.2 TCG UNPK drops the leftmost source byte's digits (F0 instead) when the first operand is longer than the digits",
      when: .tcg)),
  Test(
    "decimal arithmetic", decimalArithmetic,
    .xfail(
      "measured: QEMU 7.2 TCG raises an operation exception for AP, SP, ZAP, CP, MP, DP (QEMU 7.2 TCG lacks packed-decimal arithmetic)",
      when: .tcg)),
  Test(
    "ed", edit,
    .xfail("measured: QEMU 7.2 TCG raises an operation exception for ED", when: .tcg)),
  Test("risbg family", rotateThenSelectedBits),
  Test("compare and branch", compareAndBranch),
  Test("compare and trap", compareAndTrap),
]

@_extern(c, "emu_agr") func emu_agr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_alcr") func emu_alcr(_ a: UInt64, _ b: UInt64, _ cc: UInt64) -> UInt64
@_extern(c, "emu_algr") func emu_algr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_alr") func emu_alr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_ap") func emu_ap(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64
@_extern(c, "emu_ap_overflow_enabled") func emu_ap_overflow_enabled(
  _ first: UInt64, _ second: UInt64, _ lengths: UInt64
) -> UInt64
@_extern(c, "emu_ap_direct") func emu_ap_direct(_ first: UInt64, _ second: UInt64)
@_extern(c, "emu_ed_direct") func emu_ed_direct(_ first: UInt64, _ second: UInt64)
@_extern(c, "emu_ar") func emu_ar(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_ar_overflow_enabled") func emu_ar_overflow_enabled(_ a: UInt64, _ b: UInt64)
  -> UInt64
@_extern(c, "emu_buffer_address") func emu_buffer_address() -> UInt64
@_extern(c, "emu_cds") func emu_cds(_ regs: UnsafeMutablePointer<UInt64>, _ address: UInt64)
  -> UInt64
@_extern(c, "emu_cdsg") func emu_cdsg(_ regs: UnsafeMutablePointer<UInt64>, _ address: UInt64)
  -> UInt64
@_extern(c, "emu_cgij_10") func emu_cgij_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_12") func emu_cgij_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_14") func emu_cgij_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_2") func emu_cgij_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_4") func emu_cgij_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_6") func emu_cgij_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgij_8") func emu_cgij_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgr") func emu_cgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_10") func emu_cgrj_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_12") func emu_cgrj_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_14") func emu_cgrj_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_2") func emu_cgrj_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_4") func emu_cgrj_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_6") func emu_cgrj_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cgrj_8") func emu_cgrj_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_10") func emu_cij_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_12") func emu_cij_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_14") func emu_cij_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_2") func emu_cij_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_4") func emu_cij_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_6") func emu_cij_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cij_8") func emu_cij_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clc") func emu_clc(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_clcl") func emu_clcl(_ regs: UnsafeMutablePointer<UInt64>) -> UInt64
@_extern(c, "emu_clcle") func emu_clcle(_ regs: UnsafeMutablePointer<UInt64>, _ pad: UInt64)
  -> UInt64
@_extern(c, "emu_clear_program_mask") func emu_clear_program_mask()
@_extern(c, "emu_clgij_10") func emu_clgij_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_12") func emu_clgij_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_14") func emu_clgij_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_2") func emu_clgij_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_4") func emu_clgij_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_6") func emu_clgij_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgij_8") func emu_clgij_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgit_high") func emu_clgit_high(_ a: UInt64)
@_extern(c, "emu_clgr") func emu_clgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_10") func emu_clgrj_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_12") func emu_clgrj_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_14") func emu_clgrj_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_2") func emu_clgrj_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_4") func emu_clgrj_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_6") func emu_clgrj_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clgrj_8") func emu_clgrj_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_10") func emu_clij_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_12") func emu_clij_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_14") func emu_clij_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_2") func emu_clij_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_4") func emu_clij_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_6") func emu_clij_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clij_8") func emu_clij_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clr") func emu_clr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_10") func emu_clrj_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_12") func emu_clrj_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_14") func emu_clrj_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_2") func emu_clrj_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_4") func emu_clrj_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_6") func emu_clrj_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_clrj_8") func emu_clrj_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_cp") func emu_cp(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64
@_extern(c, "emu_cr") func emu_cr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_10") func emu_crj_10(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_12") func emu_crj_12(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_14") func emu_crj_14(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_2") func emu_crj_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_4") func emu_crj_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_6") func emu_crj_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crj_8") func emu_crj_8(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_crt_eq") func emu_crt_eq(_ a: UInt64, _ b: UInt64)
@_extern(c, "emu_cs") func emu_cs(_ compare: UInt64, _ replacement: UInt64, _ address: UInt64)
  -> UInt64
@_extern(c, "emu_csg") func emu_csg(_ compare: UInt64, _ replacement: UInt64, _ address: UInt64)
  -> UInt64
@_extern(c, "emu_csst") func emu_csst(
  _ compare: UInt64, _ first: UInt64, _ second: UInt64, _ gr0: UInt64, _ list: UInt64
) -> UInt64
@_extern(c, "emu_cvb") func emu_cvb(_ address: UInt64) -> UInt64
@_extern(c, "emu_cvbg") func emu_cvbg(_ address: UInt64) -> UInt64
@_extern(c, "emu_cvd") func emu_cvd(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_cvdg") func emu_cvdg(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_dlr") func emu_dlr(_ high: UInt64, _ low: UInt64, _ divisor: UInt64) -> UInt64
@_extern(c, "emu_dp") func emu_dp(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64
@_extern(c, "emu_dr") func emu_dr(_ high: UInt64, _ low: UInt64, _ divisor: UInt64) -> UInt64
@_extern(c, "emu_ed") func emu_ed(_ pattern: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_ex_mvi") func emu_ex_mvi(_ address: UInt64, _ byte: UInt64)
@_extern(c, "emu_ex_of_ex") func emu_ex_of_ex(_ address: UInt64)
@_extern(c, "emu_ex_r0") func emu_ex_r0(_ address: UInt64, _ byte: UInt64)
@_extern(c, "emu_exrl_mvi") func emu_exrl_mvi(_ address: UInt64, _ byte: UInt64)
@_extern(c, "emu_icm_0") func emu_icm_0(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_1") func emu_icm_1(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_10") func emu_icm_10(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_11") func emu_icm_11(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_12") func emu_icm_12(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_13") func emu_icm_13(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_14") func emu_icm_14(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_15") func emu_icm_15(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_2") func emu_icm_2(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_3") func emu_icm_3(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_4") func emu_icm_4(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_5") func emu_icm_5(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_6") func emu_icm_6(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_7") func emu_icm_7(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_8") func emu_icm_8(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_icm_9") func emu_icm_9(_ value: UInt64, _ address: UInt64) -> UInt64
@_extern(c, "emu_laa") func emu_laa(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_laag") func emu_laag(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_laal") func emu_laal(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_lan") func emu_lan(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_lang") func emu_lang(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_lao") func emu_lao(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_last_cc") func emu_last_cc() -> UInt64
@_extern(c, "emu_lax") func emu_lax(_ address: UInt64, _ operand: UInt64) -> UInt64
@_extern(c, "emu_lcgr") func emu_lcgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_lcr") func emu_lcr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_lnr") func emu_lnr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_lpgr") func emu_lpgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_lpr") func emu_lpr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_ltr") func emu_ltr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_mp") func emu_mp(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64
@_extern(c, "emu_msr") func emu_msr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_mvc") func emu_mvc(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_mvcl") func emu_mvcl(_ regs: UnsafeMutablePointer<UInt64>) -> UInt64
@_extern(c, "emu_mvcle") func emu_mvcle(_ regs: UnsafeMutablePointer<UInt64>, _ pad: UInt64)
  -> UInt64
@_extern(c, "emu_mvn") func emu_mvn(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_mvz") func emu_mvz(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_nc") func emu_nc(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_ngr") func emu_ngr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_nr") func emu_nr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_oc") func emu_oc(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_or") func emu_or(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_pack") func emu_pack(_ first: UInt64, _ second: UInt64, _ lengths: UInt64)
  -> UInt64
@_extern(c, "emu_risbg_0") func emu_risbg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_1") func emu_risbg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_2") func emu_risbg_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_3") func emu_risbg_3(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_4") func emu_risbg_4(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_5") func emu_risbg_5(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_6") func emu_risbg_6(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbg_7") func emu_risbg_7(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbgn_0") func emu_risbgn_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbgn_1") func emu_risbgn_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbhg_0") func emu_risbhg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risbhg_1") func emu_risbhg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risblg_0") func emu_risblg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_risblg_1") func emu_risblg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rll") func emu_rll(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rllg") func emu_rllg(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rnsbg_0") func emu_rnsbg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rnsbg_1") func emu_rnsbg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rnsbg_2") func emu_rnsbg_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rosbg_0") func emu_rosbg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rosbg_1") func emu_rosbg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rosbg_2") func emu_rosbg_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rxsbg_0") func emu_rxsbg_0(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rxsbg_1") func emu_rxsbg_1(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_rxsbg_2") func emu_rxsbg_2(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_sgr") func emu_sgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_sla") func emu_sla(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_slag") func emu_slag(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_slbr") func emu_slbr(_ a: UInt64, _ b: UInt64, _ cc: UInt64) -> UInt64
@_extern(c, "emu_slgr") func emu_slgr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_sll") func emu_sll(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_slr") func emu_slr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_sp") func emu_sp(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64
@_extern(c, "emu_sr") func emu_sr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_sra") func emu_sra(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_srag") func emu_srag(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_srl") func emu_srl(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_stcm_0") func emu_stcm_0(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_1") func emu_stcm_1(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_10") func emu_stcm_10(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_11") func emu_stcm_11(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_12") func emu_stcm_12(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_13") func emu_stcm_13(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_14") func emu_stcm_14(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_15") func emu_stcm_15(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_2") func emu_stcm_2(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_3") func emu_stcm_3(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_4") func emu_stcm_4(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_5") func emu_stcm_5(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_6") func emu_stcm_6(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_7") func emu_stcm_7(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_8") func emu_stcm_8(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_stcm_9") func emu_stcm_9(_ value: UInt64, _ address: UInt64)
@_extern(c, "emu_tm") func emu_tm(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_tmll") func emu_tmll(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_tr") func emu_tr(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_tre") func emu_tre(
  _ regs: UnsafeMutablePointer<UInt64>, _ table: UInt64, _ test: UInt64
) -> UInt64
@_extern(c, "emu_trt") func emu_trt(
  _ operand: UInt64, _ table: UInt64, _ lengthMinus1: UInt64, _ out: UnsafeMutablePointer<UInt64>
) -> UInt64
@_extern(c, "emu_unpk") func emu_unpk(_ first: UInt64, _ second: UInt64, _ lengths: UInt64)
  -> UInt64
@_extern(c, "emu_xc") func emu_xc(_ destination: UInt64, _ source: UInt64, _ lengthMinus1: UInt64)
  -> UInt64
@_extern(c, "emu_xr") func emu_xr(_ a: UInt64, _ b: UInt64) -> UInt64
@_extern(c, "emu_zap") func emu_zap(_ first: UInt64, _ second: UInt64, _ lengths: UInt64) -> UInt64

/// COMPARE AND SWAP AND STORE (facility 32).
let csstFacility = CPUFeature("compare-and-swap-and-store", .facility(32))
/// Interlocked-access facility 1 (facility 45: LAA, LAN, ...).
let interlockedFacility = CPUFeature("interlocked-access-1", .facility(45))

// MARK: Helpers

/// Checks `got == want`; on failure notes the operands.
func check<T: FixedWidthInteger>(
  _ got: T, _ want: T, _ name: StaticString, _ a: UInt64, _ b: UInt64 = 0,
  file: StaticString = #fileID, line: UInt = #line
) {
  if !expectEqual(got, want, name, file: file, line: line).passed {
    note("operand 1", a, hex: true)
    note("operand 2", b, hex: true)
  }
}

/// The last stub's condition code.
var cc: UInt64 { emu_last_cc() }

/// The 64 KiB operand buffer (page aligned, below 2 GiB).
let buffer = emu_buffer_address()
func bytes(_ offset: Int) -> UnsafeMutablePointer<UInt8> {
  UnsafeMutablePointer<UInt8>(bitPattern: UInt(buffer) + UInt(offset))!
}
func address(_ offset: Int) -> UInt64 { buffer + UInt64(offset) }

/// A deterministic byte pattern (xorshift), so storage tests have varied data.
nonisolated(unsafe) var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
func nextRandom() -> UInt64 {
  seed ^= seed << 13
  seed ^= seed >> 7
  seed ^= seed << 17
  return seed
}
func randomize(_ offset: Int, _ count: Int) {
  for i in 0..<count { bytes(offset)[i] = UInt8(truncatingIfNeeded: nextRandom()) }
}
/// Copies `count` bytes from buffer offset `from` into the model array.
func snapshot(_ offset: Int, _ count: Int) -> [UInt8] {
  var result = [UInt8](repeating: 0, count: count)
  for i in 0..<count { result[i] = bytes(offset)[i] }
  return result
}
/// The number of bytes that differ between the buffer and the model.
func differences(_ offset: Int, _ model: [UInt8]) -> Int {
  var count = 0
  for i in 0..<model.count where bytes(offset)[i] != model[i] { count += 1 }
  return count
}
func load32(_ offset: Int) -> UInt32 {
  UInt32(bytes(offset)[0]) << 24 | UInt32(bytes(offset)[1]) << 16 | UInt32(bytes(offset)[2]) << 8
    | UInt32(bytes(offset)[3])
}
func store32(_ offset: Int, _ value: UInt32) {
  for i in 0..<4 { bytes(offset)[i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i)) }
}
func load64(_ offset: Int) -> UInt64 { UInt64(load32(offset)) << 32 | UInt64(load32(offset + 4)) }
func store64(_ offset: Int, _ value: UInt64) {
  store32(offset, UInt32(truncatingIfNeeded: value >> 32))
  store32(offset + 4, UInt32(truncatingIfNeeded: value))
}

/// Results written inside exception-catching closures.
nonisolated(unsafe) var closureResult: UInt64 = 0

// MARK: Reference models: condition codes

/// Signed arithmetic: 0 zero, 1 negative, 2 positive, 3 overflow.
func signedCC(_ value: Int64, overflow: Bool) -> UInt64 {
  overflow ? 3 : value == 0 ? 0 : value < 0 ? 1 : 2
}
/// Logical add/subtract: bit 1 of the cc is the carry, bit 0 "not zero".
func logicalCC(carry: Bool, nonzero: Bool) -> UInt64 { (carry ? 2 : 0) | (nonzero ? 1 : 0) }
/// Comparison: 0 equal, 1 first low, 2 first high.
func compareCC<T: Comparable>(_ a: T, _ b: T) -> UInt64 { a == b ? 0 : a < b ? 1 : 2 }

// Operand tables (a cell reports at most 2000 checks: the tables are the
// values where the condition codes change: zero, one, the extremes).
let values32: [UInt32] = [1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
let values64: [UInt64] = [1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000]
let signs32: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
let signs64: [UInt64] = [0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]
let shift32: [UInt32] = [0x4000_0001, 0x8000_0000, 0xFFFF_FFFF]
let shift64: [UInt64] = [0x4000_0000_0000_0001, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]
/// Operands of the logical and compare tables.
let logical32: [UInt32] = [0, 0x8000_0001, 0x7FFF_0000]

/// Signed add/subtract with overflow (two's complement: the operands'
/// signs agree and the result's differs), written out rather than taken
/// from the standard library.
func signedAdd32(_ a: UInt32, _ b: UInt32) -> (Int32, Bool) {
  let s = a &+ b
  return (Int32(bitPattern: s), (~(a ^ b) & (a ^ s)) >> 31 != 0)
}
func signedSubtract32(_ a: UInt32, _ b: UInt32) -> (Int32, Bool) {
  let s = a &- b
  return (Int32(bitPattern: s), ((a ^ b) & (a ^ s)) >> 31 != 0)
}
func signedAdd64(_ a: UInt64, _ b: UInt64) -> (Int64, Bool) {
  let s = a &+ b
  return (Int64(bitPattern: s), (~(a ^ b) & (a ^ s)) >> 63 != 0)
}
func signedSubtract64(_ a: UInt64, _ b: UInt64) -> (Int64, Bool) {
  let s = a &- b
  return (Int64(bitPattern: s), ((a ^ b) & (a ^ s)) >> 63 != 0)
}

// MARK: Binary arithmetic

func addSubtract32() {
  for a in values32 {
    for b in values32 {
      let (a64, b64) = (UInt64(a), UInt64(b))
      var (s, o) = signedAdd32(a, b)
      check(
        UInt32(truncatingIfNeeded: emu_ar(a64, b64)), UInt32(bitPattern: s), "AR: sum", a64, b64)
      check(cc, signedCC(Int64(s), overflow: o), "AR: cc", a64, b64)
      (s, o) = signedSubtract32(a, b)
      check(
        UInt32(truncatingIfNeeded: emu_sr(a64, b64)), UInt32(bitPattern: s), "SR: difference", a64,
        b64)
      check(cc, signedCC(Int64(s), overflow: o), "SR: cc", a64, b64)
      let l = a &+ b
      let carry = l < a
      check(UInt32(truncatingIfNeeded: emu_alr(a64, b64)), l, "ALR: sum", a64, b64)
      check(cc, logicalCC(carry: carry, nonzero: l != 0), "ALR: cc", a64, b64)
      let d = a &- b
      check(UInt32(truncatingIfNeeded: emu_slr(a64, b64)), d, "SLR: difference", a64, b64)
      check(cc, logicalCC(carry: a >= b, nonzero: d != 0), "SLR: cc", a64, b64)
    }
  }
}

func addSubtract64() {
  for a in values64 {
    for b in values64 {
      var (s, o) = signedAdd64(a, b)
      check(emu_agr(a, b), UInt64(bitPattern: s), "AGR: sum", a, b)
      check(cc, signedCC(s, overflow: o), "AGR: cc", a, b)
      (s, o) = signedSubtract64(a, b)
      check(emu_sgr(a, b), UInt64(bitPattern: s), "SGR: difference", a, b)
      check(cc, signedCC(s, overflow: o), "SGR: cc", a, b)
      let l = a &+ b
      let carry = l < a
      check(emu_algr(a, b), l, "ALGR: sum", a, b)
      check(cc, logicalCC(carry: carry, nonzero: l != 0), "ALGR: cc", a, b)
      check(emu_slgr(a, b), a &- b, "SLGR: difference", a, b)
      check(cc, logicalCC(carry: a >= b, nonzero: a != b), "SLGR: cc", a, b)
    }
  }
}

func carryBorrow() {
  // ALCR adds the carry (cc 2 or 3 before); SLBR subtracts the borrow (cc 0
  // or 1 before): both are a + (b or ~b) + carry on 33 bits.
  let cases: [UInt32] = [1, 0xFFFF_FFFF, 0x8000_0000]
  for a in cases {
    for b in cases {
      for ccIn: UInt64 in [1, 2] {
        let carryIn: UInt64 = ccIn >= 2 ? 1 : 0
        var wide = UInt64(a) + UInt64(b) + carryIn
        check(
          UInt32(truncatingIfNeeded: emu_alcr(UInt64(a), UInt64(b), ccIn)),
          UInt32(truncatingIfNeeded: wide), "ALCR: sum", UInt64(a), UInt64(b))
        check(
          cc, logicalCC(carry: wide >> 32 != 0, nonzero: UInt32(truncatingIfNeeded: wide) != 0),
          "ALCR: cc", UInt64(a), ccIn)
        wide = UInt64(a) + UInt64(~b) + carryIn
        check(
          UInt32(truncatingIfNeeded: emu_slbr(UInt64(a), UInt64(b), ccIn)),
          UInt32(truncatingIfNeeded: wide), "SLBR: difference", UInt64(a), UInt64(b))
        check(
          cc, logicalCC(carry: wide >> 32 != 0, nonzero: UInt32(truncatingIfNeeded: wide) != 0),
          "SLBR: cc", UInt64(a), ccIn)
      }
    }
  }
}

func loadSigned() {
  for a in signs32 {
    let s = Int32(bitPattern: a)
    let a64 = UInt64(a)
    let minimum = s == Int32.min
    // LCR: two's complement; the maximum negative number overflows.
    check(UInt32(truncatingIfNeeded: emu_lcr(0, a64)), 0 &- a, "LCR: result", a64)
    check(cc, signedCC(Int64(0 &- s), overflow: minimum), "LCR: cc", a64)
    let absolute = minimum ? s : (s < 0 ? -s : s)
    check(
      UInt32(truncatingIfNeeded: emu_lpr(0, a64)), UInt32(bitPattern: absolute), "LPR: result", a64)
    check(cc, signedCC(Int64(absolute), overflow: minimum), "LPR: cc", a64)
    let negative = minimum ? s : (s > 0 ? -s : s)
    check(
      UInt32(truncatingIfNeeded: emu_lnr(0, a64)), UInt32(bitPattern: negative), "LNR: result", a64)
    check(cc, signedCC(Int64(negative), overflow: false), "LNR: cc", a64)
    check(UInt32(truncatingIfNeeded: emu_ltr(0, a64)), a, "LTR: result", a64)
    check(cc, signedCC(Int64(s), overflow: false), "LTR: cc", a64)
  }
  for a in signs64 {
    let s = Int64(bitPattern: a)
    let minimum = s == Int64.min
    check(emu_lcgr(0, a), 0 &- a, "LCGR: result", a)
    check(cc, signedCC(0 &- s, overflow: minimum), "LCGR: cc", a)
    let absolute = minimum ? s : (s < 0 ? -s : s)
    check(emu_lpgr(0, a), UInt64(bitPattern: absolute), "LPGR: result", a)
    check(cc, signedCC(absolute, overflow: minimum), "LPGR: cc", a)
  }
}

func multiplyDivide() {
  for a in values32 {
    for b in values32 {
      check(
        UInt32(truncatingIfNeeded: emu_msr(UInt64(a), UInt64(b))), a &* b,
        "MSR: low 32 bits of the product", UInt64(a), UInt64(b))
    }
  }
  // DR: 64-bit signed dividend in the pair, quotient in the odd register,
  // remainder (with the dividend's sign) in the even one.
  let divisions: [(Int64, Int32)] = [
    (100, 7), (-100, 7), (100, -7), (-100, -7), (0, 5), (0x7FFF_FFFF, 1), (-0x8000_0000, 1),
    (0x1_0000_0000, 3),
  ]
  for (dividend, divisor) in divisions {
    let high = UInt64(UInt32(truncatingIfNeeded: dividend >> 32))
    let low = UInt64(UInt32(truncatingIfNeeded: dividend))
    let result = emu_dr(high, low, UInt64(UInt32(bitPattern: divisor)))
    let quotient = dividend / Int64(divisor)
    let remainder = dividend % Int64(divisor)
    check(
      UInt32(truncatingIfNeeded: result), UInt32(truncatingIfNeeded: quotient), "DR: quotient",
      UInt64(bitPattern: dividend), UInt64(UInt32(bitPattern: divisor)))
    check(
      UInt32(truncatingIfNeeded: result >> 32), UInt32(truncatingIfNeeded: remainder),
      "DR: remainder", UInt64(bitPattern: dividend), UInt64(UInt32(bitPattern: divisor)))
  }
  let logical: [(UInt64, UInt32)] = [
    (100, 7), (0xFFFF_FFFF, 0x10), (0x1_0000_0000, 0x2), (0xFFFF_FFFE_0000_0001, 0xFFFF_FFFF),
  ]
  for (dividend, divisor) in logical {
    let result = emu_dlr(dividend >> 32, dividend & 0xFFFF_FFFF, UInt64(divisor))
    check(
      UInt32(truncatingIfNeeded: result), UInt32(truncatingIfNeeded: dividend / UInt64(divisor)),
      "DLR: quotient", dividend, UInt64(divisor))
    check(
      UInt32(truncatingIfNeeded: result >> 32),
      UInt32(truncatingIfNeeded: dividend % UInt64(divisor)), "DLR: remainder", dividend,
      UInt64(divisor))
  }
  // A zero divisor, or a quotient that does not fit 32 bits: fixed-point
  // divide exception (code 9).
  expectException(vector: 9, "DR by zero: fixed-point divide") { _ = emu_dr(0, 5, 0) }
  expectException(vector: 9, "DR quotient too large: fixed-point divide") { _ = emu_dr(1, 0, 1) }
  expectException(vector: 9, "DR -2^31 / -1 overflows: fixed-point divide") {
    _ = emu_dr(0xFFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF)
  }
  expectException(vector: 9, "DLR by zero: fixed-point divide") { _ = emu_dlr(0, 5, 0) }
  expectException(vector: 9, "DLR quotient too large: fixed-point divide") { _ = emu_dlr(1, 0, 1) }
}

func overflowInterruption() {
  // With the fixed-point-overflow mask (PSW bit 20) on, an overflowing AR
  // completes and raises a program interruption with code 8.
  expectException(vector: 8, "AR overflow with the mask on: fixed-point overflow") {
    _ = emu_ar_overflow_enabled(0x7FFF_FFFF, 1)
  }
  emu_clear_program_mask()
  expectNoException("AR without overflow and the mask on: no interruption") {
    _ = emu_ar_overflow_enabled(1, 1)
  }
  emu_clear_program_mask()
  expectEqual(s390_psw_mask() >> 40 & 0xF, 0, "program mask back to 0")
}

func logicalCompare() {
  for a in logical32 {
    for b in logical32 {
      let (a64, b64) = (UInt64(a), UInt64(b))
      check(UInt32(truncatingIfNeeded: emu_nr(a64, b64)), a & b, "NR: result", a64, b64)
      check(cc, a & b == 0 ? 0 : 1, "NR: cc", a64, b64)
      check(UInt32(truncatingIfNeeded: emu_or(a64, b64)), a | b, "OR: result", a64, b64)
      check(cc, a | b == 0 ? 0 : 1, "OR: cc", a64, b64)
      check(UInt32(truncatingIfNeeded: emu_xr(a64, b64)), a ^ b, "XR: result", a64, b64)
      check(cc, a ^ b == 0 ? 0 : 1, "XR: cc", a64, b64)
      _ = emu_cr(a64, b64)
      check(cc, compareCC(Int32(bitPattern: a), Int32(bitPattern: b)), "CR: cc", a64, b64)
      _ = emu_clr(a64, b64)
      check(cc, compareCC(a, b), "CLR: cc", a64, b64)
    }
  }
  for a in values64 {
    for b in values64 {
      check(emu_ngr(a, b), a & b, "NGR: result", a, b)
      check(cc, a & b == 0 ? 0 : 1, "NGR: cc", a, b)
      _ = emu_cgr(a, b)
      check(cc, compareCC(Int64(bitPattern: a), Int64(bitPattern: b)), "CGR: cc", a, b)
      _ = emu_clgr(a, b)
      check(cc, compareCC(a, b), "CLGR: cc", a, b)
    }
  }
}

// MARK: Shifts

/// SHIFT LEFT SINGLE (32 or 64 bits): the sign stays, the numeric bits
/// shift; a bit unlike the sign shifted out of bit 1 is an overflow.
func shiftLeftArithmetic(_ value: UInt64, _ count: Int, bits: Int) -> (UInt64, Bool) {
  let signBit: UInt64 = 1 << UInt64(bits - 1)
  let numeric = signBit - 1
  let sign = value & signBit
  var v = value
  var overflow = false
  for _ in 0..<count {
    if (v & (signBit >> 1) != 0) != (sign != 0) { overflow = true }
    v = sign | (v << 1) & numeric
  }
  return (v, overflow)
}

func shifts() {
  let counts: [UInt64] = [0, 1, 31, 63]
  for a in shift32 {
    for n in counts {
      let a64 = UInt64(a)
      let (l, o) = shiftLeftArithmetic(a64, Int(n), bits: 32)
      check(
        UInt32(truncatingIfNeeded: emu_sla(a64, n)), UInt32(truncatingIfNeeded: l), "SLA: result",
        a64, n)
      check(
        cc, signedCC(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: l))), overflow: o),
        "SLA: cc", a64, n)
      let r = Int32(bitPattern: a) >> Int32(min(n, 31))
      check(
        UInt32(truncatingIfNeeded: emu_sra(a64, n)), UInt32(bitPattern: r), "SRA: result", a64, n)
      check(cc, signedCC(Int64(r), overflow: false), "SRA: cc", a64, n)
      check(
        UInt32(truncatingIfNeeded: emu_sll(a64, n)), n >= 32 ? 0 : a << UInt32(n), "SLL: result",
        a64, n)
      check(
        UInt32(truncatingIfNeeded: emu_srl(a64, n)), n >= 32 ? 0 : a >> UInt32(n), "SRL: result",
        a64, n)
      let k = UInt32(n % 32)
      check(
        UInt32(truncatingIfNeeded: emu_rll(a64, n)), k == 0 ? a : a << k | a >> (32 - k),
        "RLL: result", a64, n)
    }
  }
  for a in shift64 {
    for n in counts {
      let (l, o) = shiftLeftArithmetic(a, Int(n), bits: 64)
      check(emu_slag(a, n), l, "SLAG: result", a, n)
      check(cc, signedCC(Int64(bitPattern: l), overflow: o), "SLAG: cc", a, n)
      let r = Int64(bitPattern: a) >> Int64(n)
      check(emu_srag(a, n), UInt64(bitPattern: r), "SRAG: result", a, n)
      check(cc, signedCC(r, overflow: false), "SRAG: cc", a, n)
      check(emu_rllg(a, n), n == 0 ? a : a << n | a >> (64 - n), "RLLG: result", a, n)
    }
  }
  // Only the rightmost six bits of the second-operand address count.
  check(UInt32(truncatingIfNeeded: emu_sll(1, 64 + 3)), 8, "SLL: count modulo 64", 1, 67)
}

func testUnderMask() {
  let bytesUnderTest: [UInt64] = [0x00, 0xFF, 0x81, 0x3C]
  let masks: [UInt64] = [0x00, 0xFF, 0x80, 0x01, 0x0F, 0xF0, 0x81]
  for v in bytesUnderTest {
    for m in masks {
      let selected = v & m
      _ = emu_tm(v, m)
      check(cc, m == 0 || selected == 0 ? 0 : selected == m ? 3 : 1, "TM: cc", v, m)
    }
  }
  let halfwords: [UInt64] = [0x0000, 0xFFFF, 0x8001, 0x1234]
  let halfMasks: [UInt64] = [0x0000, 0xFFFF, 0x8000, 0x0001, 0xC000, 0x00FF, 0x4001]
  for v in halfwords {
    for m in halfMasks {
      let selected = v & m
      var expected: UInt64 = 3
      if m == 0 || selected == 0 {
        expected = 0
      } else if selected != m {
        // Mixed: 2 when the leftmost selected bit is one, 1 when zero.
        let leftmost = UInt64(1) << UInt64(63 - m.leadingZeroBitCount)
        expected = v & leftmost != 0 ? 2 : 1
      }
      _ = emu_tmll(0xFFFF_0000 | v, m)
      check(cc, expected, "TMLL: cc", v, m)
    }
  }
}

// MARK: ICM / STCM

let icmStubs: [(UInt64, UInt64) -> UInt64] = [
  emu_icm_0, emu_icm_1, emu_icm_2, emu_icm_3, emu_icm_4, emu_icm_5, emu_icm_6, emu_icm_7,
  emu_icm_8, emu_icm_9, emu_icm_10, emu_icm_11, emu_icm_12, emu_icm_13, emu_icm_14, emu_icm_15,
]
let stcmStubs: [(UInt64, UInt64) -> Void] = [
  emu_stcm_0, emu_stcm_1, emu_stcm_2, emu_stcm_3, emu_stcm_4, emu_stcm_5, emu_stcm_6, emu_stcm_7,
  emu_stcm_8, emu_stcm_9, emu_stcm_10, emu_stcm_11, emu_stcm_12, emu_stcm_13, emu_stcm_14,
  emu_stcm_15,
]

func insertStoreMasks() {
  let sources: [UInt32] = [0x8122_0344, 0x0080_FF01]
  let register: UInt64 = 0xAAAA_AAAA_5555_5555
  for source in sources {
    for mask in 0..<16 {
      store32(0, source)
      // ICM: the selected bytes of bits 32-63 take the next source bytes.
      var expected = register
      var next = 0
      var firstBit: Int = -1
      var allZero = true
      for position in 0..<4 where mask & (8 >> position) != 0 {
        let byte = UInt64(bytes(0)[next])
        next += 1
        let shift = UInt64(24 - 8 * position)
        expected = expected & ~(0xFF << shift) | byte << shift
        if firstBit < 0 { firstBit = Int(byte >> 7) }
        if byte != 0 { allZero = false }
      }
      let got = icmStubs[mask](register, address(0))
      check(got, expected, "ICM: register", UInt64(source), UInt64(mask))
      check(
        cc, mask == 0 || allZero ? 0 : firstBit == 1 ? 1 : 2, "ICM: cc", UInt64(source),
        UInt64(mask))
      // STCM: the selected bytes, stored contiguously; the rest unchanged.
      store32(8, 0xEEEE_EEEE)
      let value = UInt64(source) | 0x1234_5678_0000_0000
      stcmStubs[mask](value, address(8))
      var model: [UInt8] = [0xEE, 0xEE, 0xEE, 0xEE]
      var out = 0
      for position in 0..<4 where mask & (8 >> position) != 0 {
        model[out] = UInt8(truncatingIfNeeded: value >> UInt64(24 - 8 * position))
        out += 1
      }
      check(
        load32(8),
        UInt32(model[0]) << 24 | UInt32(model[1]) << 16 | UInt32(model[2]) << 8 | UInt32(model[3]),
        "STCM: stored bytes", UInt64(source), UInt64(mask))
    }
  }
}

// MARK: Storage to storage

/// The model of MVC: one byte at a time, left to right (so an overlap
/// one byte on propagates the first byte).
func modelMove(_ model: inout [UInt8], to destination: Int, from source: Int, count: Int) {
  for i in 0..<count { model[destination + i] = model[source + i] }
}

func moveCharacters() {
  // (destination, source, length) within a 1 KiB window at offset 0.
  let cases: [(Int, Int, Int, StaticString)] = [
    (0, 512, 1, "MVC 1 byte"), (0, 512, 16, "MVC 16 bytes"), (0, 512, 256, "MVC 256 bytes"),
    (3, 700, 77, "MVC unaligned 77 bytes"), (1, 0, 255, "MVC one byte on: propagates byte 0"),
    (8, 0, 64, "MVC 8 bytes on: repeats the first 8"),
    (0, 1, 100, "MVC one byte back: shifts left"),
    (100, 100, 50, "MVC onto itself: unchanged"), (255, 0, 200, "MVC crossing the 256 offset"),
  ]
  for (destination, source, length, name) in cases {
    randomize(0, 1024)
    var model = snapshot(0, 1024)
    modelMove(&model, to: destination, from: source, count: length)
    _ = emu_mvc(address(destination), address(source), UInt64(length - 1))
    check(differences(0, model), 0, name, UInt64(destination), UInt64(source))
  }
  // Across a page boundary.
  randomize(4000, 200)
  var model = snapshot(4000, 200)
  modelMove(&model, to: 0, from: 100, count: 100)
  _ = emu_mvc(address(4000), address(4100), 99)
  check(differences(4000, model), 0, "MVC across a page boundary", 4000, 4100)
}

func compareAndBitwise() {
  // CLC: cc from the first unequal byte (unsigned), 0 when equal.
  let lengths = [1, 2, 7, 64, 256]
  for length in lengths {
    for position in [-1, 0, length / 2, length - 1] {
      for direction in [1, -1] {
        randomize(0, 256)
        for i in 0..<length { bytes(256)[i] = bytes(0)[i] }
        var expected: UInt64 = 0
        if position >= 0 {
          let original = bytes(0)[position]
          let changed =
            direction > 0
            ? (original == 0xFF ? 0xFE : original &+ 1) : (original == 0 ? 1 : original &- 1)
          bytes(256)[position] = changed
          expected = original < changed ? 1 : 2
        }
        _ = emu_clc(address(0), address(256), UInt64(length - 1))
        check(cc, expected, "CLC: cc", UInt64(length), UInt64(bitPattern: Int64(position)))
      }
    }
  }
  // XC / NC / OC: bytewise, cc 0 when every result byte is zero.
  for length in [1, 5, 32, 256] {
    for op in 0..<3 {
      randomize(0, 512)
      if length == 5 { for i in 0..<length { bytes(256)[i] = bytes(0)[i] } }  // XC of equal data: zero
      var model = snapshot(0, 512)
      var nonzero = false
      for i in 0..<length {
        let a = model[i]
        let b = model[256 + i]
        model[i] = op == 0 ? a ^ b : op == 1 ? a & b : a | b
        if model[i] != 0 { nonzero = true }
      }
      let name: StaticString = op == 0 ? "XC: result" : op == 1 ? "NC: result" : "OC: result"
      let ccName: StaticString = op == 0 ? "XC: cc" : op == 1 ? "NC: cc" : "OC: cc"
      let stub = op == 0 ? emu_xc : op == 1 ? emu_nc : emu_oc
      _ = stub(address(0), address(256), UInt64(length - 1))
      check(differences(0, model), 0, name, UInt64(length), UInt64(op))
      check(cc, nonzero ? 1 : 0, ccName, UInt64(length), UInt64(op))
    }
  }
  // XC of a field with itself clears it.
  randomize(0, 100)
  _ = emu_xc(address(0), address(0), 99)
  check(
    differences(0, [UInt8](repeating: 0, count: 100)), 0, "XC of a field with itself: zeros", 100)
  check(cc, 0, "XC of a field with itself: cc 0", 100)
}

func moveNumericsZones() {
  for length in [1, 9, 256] {
    randomize(0, 512)
    var model = snapshot(0, 512)
    for i in 0..<length { model[i] = model[i] & 0xF0 | model[256 + i] & 0x0F }
    _ = emu_mvn(address(0), address(256), UInt64(length - 1))
    check(differences(0, model), 0, "MVN: right digits moved", UInt64(length))
    model = snapshot(0, 512)
    for i in 0..<length { model[i] = model[i] & 0x0F | model[256 + i] & 0xF0 }
    _ = emu_mvz(address(0), address(256), UInt64(length - 1))
    check(differences(0, model), 0, "MVZ: zones moved", UInt64(length))
  }
}

func translate() {
  let table = 1024
  // TR: every byte replaced by the table entry it indexes.
  for length in [1, 17, 256] {
    randomize(0, 256)
    randomize(table, 256)
    var model = snapshot(0, 256)
    for i in 0..<length { model[i] = bytes(table)[Int(model[i])] }
    _ = emu_tr(address(0), address(table), UInt64(length - 1))
    check(differences(0, model), 0, "TR: bytes translated", UInt64(length))
  }
  // TRT: the first byte whose function byte is non-zero: r1 its address,
  // r2 bits 56-63 the function byte; cc 1 before the last byte, 2 at the
  // last byte, 0 (registers unchanged) when every function byte is zero.
  for i in 0..<256 { bytes(table)[i] = 0 }
  bytes(table)[0x40] = 0x11
  bytes(table)[0xFF] = 0x22
  let out = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(2048)))!
  for (length, hit, byte) in [
    (10, -1, 0x40), (10, 3, 0x40), (10, 9, 0xFF), (1, 0, 0xFF), (256, 200, 0x40), (256, 255, 0x40),
  ] {
    for i in 0..<length { bytes(0)[i] = UInt8(i % 0x3F) }  // function byte 0 (table zero for 0..0x3E)
    if hit >= 0 { bytes(0)[hit] = UInt8(byte) }
    _ = emu_trt(address(0), address(table), UInt64(length - 1), out)
    let expected: UInt64 = hit < 0 ? 0 : hit == length - 1 ? 2 : 1
    check(cc, expected, "TRT: cc", UInt64(length), UInt64(bitPattern: Int64(hit)))
    check(
      out[0], hit < 0 ? 0x1111 : address(hit), "TRT: r1", UInt64(length),
      UInt64(bitPattern: Int64(hit)))
    let function: UInt64 = byte == 0x40 ? 0x11 : 0x22
    check(
      out[1], hit < 0 ? 0x2222_2222_2222_2222 : 0x2222_2222_2222_2200 | function, "TRT: r2",
      UInt64(length), UInt64(bitPattern: Int64(hit)))
  }
}

func translateExtended() {
  let table = 4096
  randomize(table, 256)
  let regs = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(8192)))!
  for (length, stopAt) in [(0, -1), (1, -1), (100, -1), (100, 0), (100, 57), (3000, 2999)] {
    let test: UInt8 = 0xA5
    for i in 0..<length { bytes(0)[i] = UInt8(truncatingIfNeeded: nextRandom()) | 1 }
    for i in 0..<length where bytes(0)[i] == test { bytes(0)[i] = 0x01 }
    if stopAt >= 0 { bytes(0)[stopAt] = test }
    var model = snapshot(0, max(length, 1))
    let processed = stopAt >= 0 ? stopAt : length
    for i in 0..<processed { model[i] = bytes(table)[Int(model[i])] }
    regs[0] = address(0)
    regs[1] = UInt64(length)
    _ = emu_tre(regs, address(table), UInt64(test))
    // cc 0: all translated; cc 1: stopped at the test byte (not translated).
    check(cc, stopAt >= 0 ? 1 : 0, "TRE: cc", UInt64(length), UInt64(bitPattern: Int64(stopAt)))
    check(
      regs[0], address(processed), "TRE: first-operand address", UInt64(length),
      UInt64(bitPattern: Int64(stopAt)))
    check(
      regs[1], UInt64(length - processed), "TRE: first-operand length", UInt64(length),
      UInt64(bitPattern: Int64(stopAt)))
    if length > 0 {
      check(
        differences(0, model), 0, "TRE: bytes translated up to the test byte", UInt64(length),
        UInt64(bitPattern: Int64(stopAt)))
    }
  }
}

// MARK: Long moves and compares

func moveLong() {
  let regs = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(16384)))!
  // (destination length, source length, pad)
  for (l1, l2, pad) in [
    (100, 100, 0x40), (100, 30, 0x00), (30, 100, 0x5A), (0, 10, 0x11), (10, 0, 0xEE),
    (5000, 4000, 0x77),
  ] {
    randomize(0, 10240)
    var model = snapshot(0, 10240)
    let destination = 5120
    let moved = min(l1, l2)
    modelMove(&model, to: destination, from: 0, count: moved)
    for i in moved..<max(l1, moved) { model[destination + i] = UInt8(pad) }
    regs[0] = address(destination)
    regs[1] = UInt64(l1)
    regs[2] = address(0)
    regs[3] = UInt64(pad) << 24 | UInt64(l2)
    _ = emu_mvcl(regs)
    check(cc, compareCC(l1, l2), "MVCL: cc compares the lengths", UInt64(l1), UInt64(l2))
    check(differences(0, model), 0, "MVCL: bytes moved and padded", UInt64(l1), UInt64(l2))
    check(
      regs[0], address(destination + l1), "MVCL: first address advanced", UInt64(l1), UInt64(l2))
    check(regs[1] & 0xFF_FFFF, 0, "MVCL: first length 0", UInt64(l1), UInt64(l2))
    check(
      regs[2], address(moved), "MVCL: second address advanced by the bytes moved", UInt64(l1),
      UInt64(l2))
    check(
      regs[3] & 0xFF_FFFF, UInt64(l2 - moved), "MVCL: second length reduced", UInt64(l1), UInt64(l2)
    )
    check(regs[3] >> 24 & 0xFF, UInt64(pad), "MVCL: pad byte kept", UInt64(l1), UInt64(l2))
  }
  // Destructive overlap (the destination starts inside the source): cc 3,
  // nothing moved.
  randomize(0, 64)
  let model = snapshot(0, 64)
  regs[0] = address(1)
  regs[1] = 20
  regs[2] = address(0)
  regs[3] = 20
  _ = emu_mvcl(regs)
  check(cc, 3, "MVCL destructive overlap: cc 3", 1, 0)
  check(differences(0, model), 0, "MVCL destructive overlap: nothing moved", 1, 0)
  check(regs[1], 20, "MVCL destructive overlap: length unchanged", 1, 0)
}

func moveLongExtended() {
  let regs = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(16384)))!
  for (l1, l2, pad) in [
    (100, 100, 0x40), (100, 30, 0x00), (30, 100, 0x5A), (0, 10, 0x11), (9000, 1000, 0x33),
  ] {
    randomize(0, 1024)
    for i in 0..<10240 { bytes(5120)[i] = 0xCC }
    var model = snapshot(0, 5120 + 10240)
    let destination = 5120
    let moved = min(l1, l2)
    modelMove(&model, to: destination, from: 0, count: moved)
    for i in moved..<max(l1, moved) { model[destination + i] = UInt8(pad) }
    regs[0] = address(destination)
    regs[1] = UInt64(l1)
    regs[2] = address(0)
    regs[3] = UInt64(l2)
    // The pad is bits 56-63 of the second-operand address.
    _ = emu_mvcle(regs, 0x1200 | UInt64(pad))
    check(cc, compareCC(l1, l2), "MVCLE: cc compares the lengths", UInt64(l1), UInt64(l2))
    check(differences(0, model), 0, "MVCLE: bytes moved and padded", UInt64(l1), UInt64(l2))
    check(
      regs[0], address(destination + l1), "MVCLE: first address advanced", UInt64(l1), UInt64(l2))
    check(regs[1], 0, "MVCLE: first length 0", UInt64(l1), UInt64(l2))
    check(regs[2], address(moved), "MVCLE: second address advanced", UInt64(l1), UInt64(l2))
    check(regs[3], UInt64(l2 - moved), "MVCLE: second length reduced", UInt64(l1), UInt64(l2))
  }
}

func compareLong() {
  let regs = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(16384)))!
  // (length 1, length 2, pad, index of a difference or -1, second higher)
  let cases: [(Int, Int, UInt8, Int, Bool)] = [
    (50, 50, 0x40, -1, true), (50, 50, 0x40, 0, true), (50, 50, 0x40, 49, false),
    (60, 50, 0x40, -1, true), (50, 60, 0x40, -1, true), (60, 50, 0x40, 55, true),
    (50, 60, 0x40, 55, false), (0, 0, 0, -1, true), (0, 5, 0x40, -1, true),
    (300, 10, 0x00, 200, false),
  ]
  for extended in [false, true] {
    for (l1, l2, pad, index, higher) in cases {
      randomize(0, 512)
      for i in 0..<max(l1, l2) { bytes(512)[i] = bytes(0)[i] }
      // Past the shorter operand's length, it is compared as the pad byte:
      // make the longer operand's extra bytes the pad.
      for i in l2..<max(l1, l2) { bytes(0)[i] = pad }
      for i in l1..<max(l1, l2) { bytes(512)[i] = pad }
      var expected: UInt64 = 0
      var stop = max(l1, l2)
      if index >= 0 {
        // Make the operands differ at `index`: real bytes where the operand
        // is that long, otherwise against the pad.
        stop = index
        let inFirst = index < l1
        let inSecond = index < l2
        if inFirst && inSecond {
          bytes(0)[index] = higher ? 0x80 : 0x81
          bytes(512)[index] = higher ? 0x81 : 0x80
        } else if inFirst {
          bytes(0)[index] = higher ? pad &- 1 : pad &+ 1
        } else {
          bytes(512)[index] = higher ? pad &+ 1 : pad &- 1
        }
        expected = higher ? 1 : 2
      }
      regs[0] = address(0)
      regs[1] = UInt64(l1)
      regs[2] = address(512)
      regs[3] = extended ? UInt64(l2) : UInt64(pad) << 24 | UInt64(l2)
      _ = extended ? emu_clcle(regs, UInt64(pad)) : emu_clcl(regs)
      let done1 = min(stop, l1)
      let done2 = min(stop, l2)
      if extended {
        check(cc, expected, "CLCLE: cc", UInt64(l1), UInt64(bitPattern: Int64(index)))
        check(
          regs[0], address(done1), "CLCLE: first address at the difference", UInt64(l1), UInt64(l2))
        check(regs[1], UInt64(l1 - done1), "CLCLE: first length remaining", UInt64(l1), UInt64(l2))
        check(
          regs[2], address(512 + done2), "CLCLE: second address at the difference", UInt64(l1),
          UInt64(l2))
        check(regs[3], UInt64(l2 - done2), "CLCLE: second length remaining", UInt64(l1), UInt64(l2))
      } else {
        check(cc, expected, "CLCL: cc", UInt64(l1), UInt64(bitPattern: Int64(index)))
        check(
          regs[0], address(done1), "CLCL: first address at the difference", UInt64(l1), UInt64(l2))
        check(
          regs[1] & 0xFF_FFFF, UInt64(l1 - done1), "CLCL: first length remaining", UInt64(l1),
          UInt64(l2))
        check(
          regs[2], address(512 + done2), "CLCL: second address at the difference", UInt64(l1),
          UInt64(l2))
        check(
          regs[3] & 0xFF_FFFF, UInt64(l2 - done2), "CLCL: second length remaining", UInt64(l1),
          UInt64(l2))
      }
    }
  }
}

// MARK: Compare and swap

func compareAndSwap() {
  // CS: equal -> the replacement is stored, cc 0; unequal -> the first
  // operand register is loaded from storage, cc 1.
  for (stored, compare) in [
    (UInt32(5), UInt32(5)), (5, 6), (0xFFFF_FFFF, 0xFFFF_FFFF), (0x8000_0000, 0),
  ] {
    store32(0, stored)
    let register = emu_cs(UInt64(compare) | 0xAB00_0000_0000_0000, 0x1234_5678, address(0))
    let equal = stored == compare
    check(cc, equal ? 0 : 1, "CS: cc", UInt64(stored), UInt64(compare))
    check(load32(0), equal ? 0x1234_5678 : stored, "CS: storage", UInt64(stored), UInt64(compare))
    check(
      register, 0xAB00_0000_0000_0000 | UInt64(equal ? compare : stored),
      "CS: first-operand register (bits 32-63)", UInt64(stored), UInt64(compare))
  }
  for (stored, compare) in [(UInt64(0x1_0000_0005), UInt64(0x1_0000_0005)), (0x1_0000_0005, 5)] {
    store64(8, stored)
    let register = emu_csg(compare, 0xFEDC_BA98_7654_3210, address(8))
    let equal = stored == compare
    check(cc, equal ? 0 : 1, "CSG: cc", stored, compare)
    check(load64(8), equal ? 0xFEDC_BA98_7654_3210 : stored, "CSG: storage", stored, compare)
    check(
      register, stored, "CSG: first-operand register holds the old value either way", stored,
      compare)
  }
  let regs = UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(16384)))!
  for equal in [true, false] {
    store64(16, 0x1111_1111_2222_2222)
    regs[0] = 0x1111_1111
    regs[1] = equal ? 0x2222_2222 : 0x2222_2223
    regs[2] = 0x3333_3333
    regs[3] = 0x4444_4444
    _ = emu_cds(regs, address(16))
    check(cc, equal ? 0 : 1, "CDS: cc", equal ? 1 : 0)
    check(
      load64(16), equal ? 0x3333_3333_4444_4444 : 0x1111_1111_2222_2222, "CDS: storage",
      equal ? 1 : 0)
    check(
      regs[1] & 0xFFFF_FFFF, 0x2222_2222, "CDS: odd register holds the old low word", equal ? 1 : 0)
    store64(32, 0xA)
    store64(40, 0xB)
    regs[0] = 0xA
    regs[1] = equal ? 0xB : 0xC
    regs[2] = 0xDEAD
    regs[3] = 0xBEEF
    _ = emu_cdsg(regs, address(32))
    check(cc, equal ? 0 : 1, "CDSG: cc", equal ? 1 : 0)
    check(
      load64(32) << 16 | load64(40), equal ? 0xDEAD_0000 | 0xBEEF : 0xA_0000 | 0xB, "CDSG: storage",
      equal ? 1 : 0)
    check(regs[1], 0xB, "CDSG: odd register holds the old low doubleword", equal ? 1 : 0)
  }
  // Operands off their natural boundary: specification exception.
  expectException(vector: 6, "CS on a halfword boundary: specification") {
    _ = emu_cs(0, 0, address(2))
  }
  expectException(vector: 6, "CSG on a word boundary: specification") {
    _ = emu_csg(0, 0, address(4))
  }
  expectException(vector: 6, "CDSG on a doubleword boundary: specification") {
    _ = emu_cdsg(UnsafeMutablePointer<UInt64>(bitPattern: UInt(address(16384)))!, address(8))
  }
}

func compareSwapAndStore() {
  // GR0: function code (bits 56-63: 0 = 4 bytes, 1 = 8 bytes) and store
  // characteristic (bits 48-55: store 2^sc bytes); GR1: the parameter list
  // (quadword aligned): replacement value left-justified at byte 0, store
  // value left-justified at byte 16.
  let list = 256
  for fc: UInt64 in [0, 1] {
    for sc: UInt64 in [0, 1, 2, 3] {
      if sc == 0 && Platform.arguments.value(of: "harness.accel", hasItem: "tcg") {
        // QEMU 7.2 TCG aborts (assertion in extract32: a zero-length
        // alignment mask) on CSST with store characteristic 0.
        skip(
          "CSST sc 0 (1-byte store)", because: "QEMU 7.2 TCG aborts on CSST store characteristic 0")
        continue
      }
      for equal in [true, false] {
        for i in 0..<64 { bytes(0)[i] = 0xEE }
        if fc == 0 { store32(0, 0x0102_0304) } else { store64(0, 0x0102_0304_0506_0708) }
        store64(list, 0xA1A2_A3A4_A5A6_A7A8)
        store64(list + 16, 0xB1B2_B3B4_B5B6_B7B8)
        let stored: UInt64 = fc == 0 ? 0x0102_0304 : 0x0102_0304_0506_0708
        let compare = equal ? stored : stored ^ 1
        let register = emu_csst(
          fc == 0 ? compare | 0x7700_0000_0000_0000 : compare, address(0), address(32),
          sc << 8 | fc, address(list))
        check(cc, equal ? 0 : 1, "CSST: cc", fc << 8 | sc, equal ? 1 : 0)
        let firstNow = fc == 0 ? UInt64(load32(0)) : load64(0)
        let replacement: UInt64 = fc == 0 ? 0xA1A2_A3A4 : 0xA1A2_A3A4_A5A6_A7A8
        check(
          firstNow, equal ? replacement : stored, "CSST: first operand", fc << 8 | sc, equal ? 1 : 0
        )
        var model = [UInt8](repeating: 0xEE, count: 16)
        if equal { for i in 0..<(1 << Int(sc)) { model[i] = UInt8(0xB1 + i) } }
        check(
          differences(32, model), 0, "CSST: second operand stored only when equal", fc << 8 | sc,
          equal ? 1 : 0)
        if !equal && fc == 1 {
          check(register, stored, "CSST fc 1: R3 loaded from the first operand when unequal", sc, 0)
        }
      }
    }
  }
  expectException(vector: 6, "CSST first operand off a doubleword (fc 1): specification") {
    _ = emu_csst(0, address(4), address(32), 1, address(list))
  }
  expectException(vector: 6, "CSST second operand off its 4-byte boundary (sc 2): specification") {
    _ = emu_csst(0, address(0), address(34), 2 << 8, address(list))
  }
}

/// CSST fc 0 (4-byte compare) with unequal operands: the first operand is
/// loaded into bits 32-63 of R3; bits 0-31 stay.
func compareSwapAndStoreLoadsWord() {
  let list = 256
  for sc: UInt64 in [1, 2, 3] {
    store32(0, 0x0102_0304)
    store64(list, 0xA1A2_A3A4_A5A6_A7A8)
    store64(list + 16, 0xB1B2_B3B4_B5B6_B7B8)
    let register = emu_csst(0x7700_0000_0102_0305, address(0), address(32), sc << 8, address(list))
    check(cc, 1, "CSST fc 0 unequal: cc 1", sc)
    check(
      register & 0xFFFF_FFFF, 0x0102_0304, "CSST fc 0 unequal: R3 bits 32-63 = first operand", sc,
      register)
    check(register >> 32, 0x7700_0000, "CSST fc 0 unequal: R3 bits 0-31 unchanged", sc, register)
  }
}

func interlockedAccess() {
  let cases: [(UInt32, UInt32)] = [
    (0x7FFF_FFFF, 1), (0xFFFF_FFFF, 1), (0x8000_0000, 0xFFFF_FFFF), (0xF0F0_F0F0, 0x0FF0_0FF0),
  ]
  for (old, operand) in cases {
    let (o64, p64) = (UInt64(old), UInt64(operand))
    store32(0, old)
    let (sum, overflow) = signedAdd32(old, operand)
    check(
      UInt32(truncatingIfNeeded: emu_laa(address(0), p64)), old, "LAA: loads the old value", o64,
      p64)
    check(cc, signedCC(Int64(sum), overflow: overflow), "LAA: cc of the sum", o64, p64)
    check(load32(0), UInt32(bitPattern: sum), "LAA: stores the sum", o64, p64)
    store32(0, old)
    let logical = old &+ operand
    let carry = logical < old
    _ = emu_laal(address(0), p64)
    check(cc, logicalCC(carry: carry, nonzero: logical != 0), "LAAL: cc", o64, p64)
    check(load32(0), logical, "LAAL: stores the sum", o64, p64)
    for (op, stub) in [(0, emu_lan), (1, emu_lao), (2, emu_lax)] {
      store32(0, old)
      let result = op == 0 ? old & operand : op == 1 ? old | operand : old ^ operand
      let got = UInt32(truncatingIfNeeded: stub(address(0), p64))
      let nameValue: StaticString =
        op == 0
        ? "LAN: loads the old value"
        : op == 1 ? "LAO: loads the old value" : "LAX: loads the old value"
      let nameStore: StaticString =
        op == 0
        ? "LAN: stores the result" : op == 1 ? "LAO: stores the result" : "LAX: stores the result"
      let nameCC: StaticString = op == 0 ? "LAN: cc" : op == 1 ? "LAO: cc" : "LAX: cc"
      check(got, old, nameValue, o64, p64)
      check(cc, result == 0 ? 0 : 1, nameCC, o64, p64)
      check(load32(0), result, nameStore, o64, p64)
    }
  }
  store64(8, 0x7FFF_FFFF_FFFF_FFFF)
  check(emu_laag(address(8), 1), 0x7FFF_FFFF_FFFF_FFFF, "LAAG: loads the old value", 0, 1)
  check(cc, 3, "LAAG: overflow cc 3", 0, 1)
  check(load64(8), 0x8000_0000_0000_0000, "LAAG: stores the wrapped sum", 0, 1)
  store64(8, 0xFF00)
  _ = emu_lang(address(8), 0x00FF)
  check(cc, 0, "LANG: zero result cc 0", 0xFF00, 0xFF)
  expectException(vector: 6, "LAA off a word boundary: specification") {
    _ = emu_laa(address(2), 1)
  }
}

// MARK: Execute

func execute() {
  // EX/EXRL OR bits 56-63 of R1 into byte 1 of the target (MVI's
  // immediate); R1 = 0 means no OR.
  for byte: UInt64 in [0x00, 0x5A, 0xFF] {
    bytes(0)[0] = 0x99
    emu_ex_mvi(address(0), byte | 0xFF00)
    check(UInt64(bytes(0)[0]), byte, "EX of MVI: immediate ORed from R1 bits 56-63", byte)
    bytes(0)[0] = 0x99
    emu_exrl_mvi(address(0), byte)
    check(UInt64(bytes(0)[0]), byte, "EXRL of MVI: immediate ORed from R1", byte)
    bytes(0)[0] = 0x99
    emu_ex_r0(address(0), byte)
    check(UInt64(bytes(0)[0]), 0, "EXRL with R1 = 0: no OR", byte)
  }
  // The target of EX must not be EX/EXRL: execute exception (code 3).
  expectException(vector: 3, "EXRL of EX: execute exception") { emu_ex_of_ex(address(0)) }
  // The lengths of the SS stubs all go through EXRL: MVC with 0..255.
}

// MARK: Decimal

/// Packs `value` into `length` bytes (sign C for plus, D for minus).
func packDecimal(_ value: Int64, length: Int, plusSign: UInt8 = 0xC) -> [UInt8] {
  var magnitude = value < 0 ? UInt64(0 &- value) : UInt64(value)
  var result = [UInt8](repeating: 0, count: length)
  result[length - 1] = value < 0 ? 0xD : plusSign
  var nibble = 1
  while nibble < 2 * length {
    let digit = UInt8(magnitude % 10)
    magnitude /= 10
    let index = length - 1 - nibble / 2
    result[index] |= nibble % 2 == 1 ? digit << 4 : digit
    nibble += 1
  }
  return result
}
/// The value of a packed field (nil: invalid digit or sign).
func unpackDecimal(_ field: [UInt8]) -> Int64? {
  var value: Int64 = 0
  for i in 0..<field.count {
    let high = Int64(field[i] >> 4)
    let low = Int64(field[i] & 0xF)
    if high > 9 { return nil }
    value = value * 10 + high
    if i < field.count - 1 {
      if low > 9 { return nil }
      value = value * 10 + low
    } else {
      if low < 0xA { return nil }
      if low == 0xB || low == 0xD { value = -value }
    }
  }
  return value
}
func put(_ offset: Int, _ field: [UInt8]) {
  for i in 0..<field.count { bytes(offset)[i] = field[i] }
}
func powerOf10(_ n: Int) -> Int64 {
  var p: Int64 = 1
  for _ in 0..<n { p *= 10 }
  return p
}

func convertToDecimal() {
  let values: [Int32] = [0, 1, -1, 123_456_789, -987_654_321, Int32.max, Int32.min, 10]
  for v in values {
    emu_cvd(UInt64(UInt32(bitPattern: v)), address(0))
    check(
      differences(0, packDecimal(Int64(v), length: 8)), 0, "CVD: packed, sign C/D",
      UInt64(UInt32(bitPattern: v)))
  }
}

/// CVB (or CVBG) of the packed field at `offset`, nil when it raised a
/// program interruption.
func convertedToBinary(_ offset: Int, wide: Bool = false) -> UInt64? {
  closureResult = 0xDEAD
  let caught = catchException {
    closureResult = wide ? emu_cvbg(address(offset)) : emu_cvb(address(offset))
  }
  return caught == nil ? closureResult : nil
}

func convertToBinary() {
  for v: Int64 in [0, -1, 1_234_567_890_123_456_789, Int64.min + 1, Int64.max] {
    for i in 0..<16 { bytes(0)[i] = 0xEE }
    expectNoException("CVDG: no interruption") { emu_cvdg(UInt64(bitPattern: v), address(0)) }
    check(
      differences(0, packDecimal(v, length: 16)), 0, "CVDG: packed 16 bytes", UInt64(bitPattern: v))
  }
  let values: [Int32] = [0, 1, -1, 123_456_789, -987_654_321, Int32.max, Int32.min, 10]
  for v in values {
    put(16, packDecimal(Int64(v), length: 8))
    let got = convertedToBinary(16).map { UInt32(truncatingIfNeeded: $0) }
    check(
      got ?? 0xDEAD, UInt32(bitPattern: v), "CVB: binary from packed", UInt64(UInt32(bitPattern: v))
    )
  }
  for v: Int64 in [0, -1, 1_234_567_890_123_456_789, Int64.min + 1, Int64.max] {
    put(32, packDecimal(v, length: 16))
    check(
      convertedToBinary(32, wide: true) ?? 0xDEAD, UInt64(bitPattern: v),
      "CVBG: binary from packed", UInt64(bitPattern: v))
  }
  // Alternate plus signs A, E, F and minus B are accepted.
  for sign: UInt8 in [0xA, 0xE, 0xF] {
    put(16, packDecimal(42, length: 8, plusSign: sign))
    check(convertedToBinary(16) ?? 0xDEAD, 42, "CVB: alternate plus sign", UInt64(sign))
  }
  put(16, packDecimal(42, length: 8))
  bytes(16)[7] = 0x2B
  check(
    UInt32(truncatingIfNeeded: convertedToBinary(16) ?? 0xDEAD), UInt32(bitPattern: -42),
    "CVB: sign B is minus", 0xB)
  // Invalid digit or sign: data exception; out of range: fixed-point divide.
  put(16, packDecimal(42, length: 8))
  bytes(16)[3] = 0xA0
  expectException(vector: 7, "CVB with an invalid digit: data exception") {
    _ = emu_cvb(address(16))
  }
  put(16, packDecimal(42, length: 8))
  bytes(16)[7] = 0x25
  expectException(vector: 7, "CVB with an invalid sign: data exception") {
    _ = emu_cvb(address(16))
  }
  put(16, packDecimal(2_147_483_648, length: 8))
  expectException(vector: 9, "CVB of 2^31: fixed-point divide") { _ = emu_cvb(address(16)) }
}

func packUnpack() {
  // PACK: right to left, the rightmost byte with its nibbles swapped, then
  // the right nibbles two to a byte; zeros when the source runs out.
  let zonedCases: [[UInt8]] = [
    [0xF1, 0xF2, 0xF3, 0xC4], [0xF9], [0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xD8],
    [0x12, 0x34, 0x56],
  ]
  for zoned in zonedCases {
    for l1 in [1, 2, 3, 5] {
      put(0, zoned)
      for i in 0..<8 { bytes(64)[i] = 0xEE }
      var model = [UInt8](repeating: 0xEE, count: 8)
      var source = zoned.count - 1
      var target = l1 - 1
      model[target] = zoned[source] << 4 | zoned[source] >> 4
      source -= 1
      target -= 1
      while target >= 0 {
        let low = source >= 0 ? zoned[source] & 0xF : 0
        source -= 1
        let high = source >= 0 ? zoned[source] & 0xF : 0
        source -= 1
        model[target] = high << 4 | low
        target -= 1
      }
      _ = emu_pack(address(64), address(0), UInt64((l1 - 1) << 4 | (zoned.count - 1)))
      check(differences(64, model), 0, "PACK: packed digits", UInt64(zoned.count), UInt64(l1))
    }
  }
  unpackCases(padding: false)
}

/// UNPK: each digit becomes a zoned byte F0-F9, the rightmost byte has its
/// nibbles swapped; zoned zeros (F0) when the source runs out.
func unpackPadding() { unpackCases(padding: true) }

func unpackCases(padding: Bool) {
  let packedCases: [[UInt8]] = [[0x12, 0x34, 0x5C], [0x7D], [0x98, 0x76, 0x54, 0x32, 0x1F]]
  for packed in packedCases {
    for l1 in [1, 3, 6, 10] where (l1 > 2 * packed.count - 1) == padding {
      put(0, packed)
      for i in 0..<16 { bytes(64)[i] = 0xEE }
      var model = [UInt8](repeating: 0xEE, count: 16)
      var source = packed.count - 1
      var target = l1 - 1
      model[target] = packed[source] << 4 | packed[source] >> 4
      source -= 1
      target -= 1
      var lowNext = true
      while target >= 0 {
        var digit: UInt8 = 0
        if source >= 0 { digit = lowNext ? packed[source] & 0xF : packed[source] >> 4 }
        if !lowNext { source -= 1 }
        lowNext.toggle()
        model[target] = 0xF0 | digit
        target -= 1
      }
      _ = emu_unpk(address(64), address(0), UInt64((l1 - 1) << 4 | (packed.count - 1)))
      if !expectEqual(differences(64, model), 0, "UNPK: zoned digits").passed {
        note("source bytes", UInt64(packed.count))
        note("result length", UInt64(l1))
        note("result bytes 0-7", load64(64), hex: true)
        note("result bytes 8-15", load64(72), hex: true)
      }
    }
  }
}

/// Runs a decimal instruction that must complete; an interruption is a
/// failed check (noting the interruption code) instead of a crash.
func decimal(
  _ stub: @escaping (UInt64, UInt64, UInt64) -> UInt64, _ first: UInt64, _ second: UInt64,
  _ lengths: UInt64, _ name: StaticString, file: StaticString = #fileID, line: UInt = #line
) {
  let caught = catchException { _ = stub(first, second, lengths) }
  if !expect(caught == nil, name, file: file, line: line).passed {
    note("interruption code", caught?.vector ?? 0)
  }
}

func decimalArithmetic() {
  // (first, second, first length, second length)
  let cases: [(Int64, Int64, Int, Int)] = [
    (-5, 5, 3, 2), (999, 1, 2, 2), (-99_999, -1, 3, 2), (12_345, -678, 4, 2), (500, -501, 2, 2),
    (9_999_999, 9_999_999, 4, 4),
  ]
  for (a, b, l1, l2) in cases {
    let lengths = UInt64((l1 - 1) << 4 | (l2 - 1))
    let digits = 2 * l1 - 1
    let limit = powerOf10(digits)
    for op in 0..<4 {
      put(0, packDecimal(a, length: l1))
      put(32, packDecimal(b, length: l2))
      if op == 3 {
        // CP: the comparison, no store.
        decimal(emu_cp, address(0), address(32), lengths, "CP: no interruption")
        check(cc, compareCC(a, b), "CP: cc", UInt64(bitPattern: a), UInt64(bitPattern: b))
        continue
      }
      let exact = op == 0 ? a + b : op == 1 ? a - b : b
      let overflow = exact >= limit || exact <= -limit
      let truncated = exact % limit
      // The result keeps the sign of the exact result; a zero without
      // overflow is positive.
      var expected = packDecimal(truncated, length: l1)
      if overflow && exact < 0 { expected[l1 - 1] = expected[l1 - 1] & 0xF0 | 0xD }
      let stub = op == 0 ? emu_ap : op == 1 ? emu_sp : emu_zap
      decimal(
        stub, address(0), address(32), lengths,
        op == 0 ? "AP: no interruption" : op == 1 ? "SP: no interruption" : "ZAP: no interruption")
      let expectedCC = overflow ? 3 : signedCC(exact, overflow: false)
      let nameResult: StaticString =
        op == 0 ? "AP: sum" : op == 1 ? "SP: difference" : "ZAP: result"
      let nameCC: StaticString = op == 0 ? "AP: cc" : op == 1 ? "SP: cc" : "ZAP: cc"
      check(differences(0, expected), 0, nameResult, UInt64(bitPattern: a), UInt64(bitPattern: b))
      check(cc, expectedCC, nameCC, UInt64(bitPattern: a), UInt64(bitPattern: b))
    }
  }
  // The same without EXECUTE: AP 0(3),0(2) of 1 + 2.
  put(0, packDecimal(1, length: 3))
  put(32, packDecimal(2, length: 2))
  let direct = catchException { emu_ap_direct(address(0), address(32)) }
  if !expect(direct == nil, "AP (not executed): no interruption").passed {
    note("interruption code", direct?.vector ?? 0)
  }
  check(differences(0, packDecimal(3, length: 3)), 0, "AP (not executed): sum", 1, 2)
  // ZAP of negative zero gives positive zero.
  put(32, [0x00, 0x0D])
  decimal(emu_zap, address(0), address(32), 0x21, "ZAP: no interruption")
  check(differences(0, [0x00, 0x00, 0x0C]), 0, "ZAP of -0: +0", 0)
  check(cc, 0, "ZAP of -0: cc 0", 0)
  // MP: the product, sign by the rules of algebra; L2 < L1 and the first
  // operand needs L2 bytes of leading zeros.
  for (a, b) in [(Int64(12), Int64(34)), (-25, 4), (999, -999), (7, 0)] {
    put(0, packDecimal(a, length: 5))
    put(32, packDecimal(b, length: 2))
    decimal(emu_mp, address(0), address(32), 0x41, "MP: no interruption")
    var expected = packDecimal(a * b, length: 5)
    if a * b == 0 && (a < 0) != (b < 0) { expected[4] = 0x0D }
    check(differences(0, expected), 0, "MP: product", UInt64(bitPattern: a), UInt64(bitPattern: b))
  }
  // DP: quotient (L1 - L2 bytes) then remainder (L2 bytes).
  for (a, b) in [(Int64(100), Int64(7)), (-100, 7), (12_345, -12), (6, 3)] {
    put(0, packDecimal(a, length: 6))
    put(32, packDecimal(b, length: 2))
    decimal(emu_dp, address(0), address(32), 0x51, "DP: no interruption")
    let quotient = packDecimal(a / b, length: 4)
    let remainder = packDecimal(a % b, length: 2)
    var expected = [UInt8](repeating: 0, count: 6)
    for i in 0..<4 { expected[i] = quotient[i] }
    for i in 0..<2 { expected[4 + i] = remainder[i] }
    if a % b == 0 && a < 0 { expected[5] = expected[5] & 0xF0 | 0xD }
    check(
      differences(0, expected), 0, "DP: quotient and remainder", UInt64(bitPattern: a),
      UInt64(bitPattern: b))
  }
  // Exceptions: invalid sign (data, 7), overflow with the decimal-overflow
  // mask on (decimal overflow, 0xA), division by zero (decimal divide, 0xB).
  put(0, packDecimal(1, length: 2))
  put(32, [0x1A, 0x25])
  expectException(vector: 7, "AP with an invalid sign: data exception") {
    _ = emu_ap(address(0), address(32), 0x11)
  }
  put(0, packDecimal(999, length: 2))
  put(32, packDecimal(1, length: 1))
  expectException(vector: 0xA, "AP overflow with the mask on: decimal overflow") {
    _ = emu_ap_overflow_enabled(address(0), address(32), 0x10)
  }
  emu_clear_program_mask()
  check(
    differences(0, [0x00, 0x0C]), 0, "AP overflow with the mask on: result stored (completed)", 999,
    1)
  put(0, packDecimal(100, length: 4))
  put(32, packDecimal(0, length: 2))
  expectException(vector: 0xB, "DP by zero: decimal divide") {
    _ = emu_dp(address(0), address(32), 0x31)
  }
  put(0, packDecimal(100, length: 4))
  put(32, packDecimal(3, length: 2))
  expectException(vector: 7, "MP without enough leading zeros: data exception") {
    _ = emu_mp(address(0), address(32), 0x31)
  }
}

/// The model of EDIT: the pattern is processed left to right with the
/// source digits; returns the edited field and the condition code.
func modelEdit(_ pattern: [UInt8], _ source: [UInt8]) -> ([UInt8], UInt64) {
  var result = pattern
  let fill = pattern[0]
  var significance = false
  var sourceIndex = 0
  var rightHalf = false
  var fieldNonzero = false
  var anyDigit = false
  for i in 0..<pattern.count {
    let p = pattern[i]
    if p == 0x20 || p == 0x21 {
      let byte = source[sourceIndex]
      let digit = rightHalf ? byte & 0xF : byte >> 4
      anyDigit = true
      if digit != 0 { fieldNonzero = true }
      if digit != 0 || significance {
        result[i] = 0xF0 | digit
      } else {
        result[i] = fill
      }
      if digit != 0 || p == 0x21 { significance = true }
      if rightHalf {
        rightHalf = false
        sourceIndex += 1
      } else {
        let low = byte & 0xF
        if low >= 0xA {
          // A sign in the right half: plus turns significance off.
          if low != 0xB && low != 0xD { significance = false }
          sourceIndex += 1
        } else {
          rightHalf = true
        }
      }
    } else if p == 0x22 {
      result[i] = fill
      significance = false
      fieldNonzero = false
      anyDigit = false
    } else {
      result[i] = significance ? p : fill
    }
  }
  let cc: UInt64 = !anyDigit || !fieldNonzero ? 0 : significance ? 1 : 2
  return (result, cc)
}

func edit() {
  // Fill 0x40 (blank); 0x20 digit selector, 0x21 significance starter,
  // 0x22 field separator; 0x6B comma, 0x4B period, 0x60 minus, message.
  let patterns: [[UInt8]] = [
    [0x40, 0x20, 0x20, 0x6B, 0x20, 0x21, 0x20, 0x4B, 0x20, 0x20, 0x40, 0xC3, 0xD9],
    [0x5C, 0x20, 0x20, 0x20, 0x20, 0x20],
    [0x40, 0x21, 0x20, 0x20, 0x22, 0x20, 0x20, 0x20],
  ]
  let sources: [[UInt8]] = [
    [0x00, 0x12, 0x34, 0x5D], [0x00, 0x00, 0x00, 0x0C], [0x12, 0x34, 0x56, 0x7C],
    [0x00, 0x00, 0x05, 0x0D],
  ]
  // ED without EXECUTE on the first pattern (13 bytes).
  put(0, patterns[0])
  put(64, [0x00, 0x12, 0x34, 0x5D, 0x00, 0x0C, 0x00, 0x0C])
  let (directModel, _) = modelEdit(patterns[0], [0x00, 0x12, 0x34, 0x5D, 0x00, 0x0C, 0x00, 0x0C])
  let direct = catchException { emu_ed_direct(address(0), address(64)) }
  if !expect(direct == nil, "ED (not executed): no interruption").passed {
    note("interruption code", direct?.vector ?? 0)
  }
  check(differences(0, directModel), 0, "ED (not executed): edited field", 13)
  for pattern in patterns {
    for source in sources {
      // The source, then spare digits for patterns with more selectors.
      var digits = [UInt8](repeating: 0x0C, count: source.count + 4)
      for i in 0..<source.count { digits[i] = source[i] }
      digits[source.count] = 0
      digits[source.count + 2] = 0
      put(0, pattern)
      put(64, digits)
      let (model, expectedCC) = modelEdit(pattern, digits)
      let caught = catchException { _ = emu_ed(address(0), address(64), UInt64(pattern.count - 1)) }
      if !expect(caught == nil, "ED: no interruption").passed {
        note("interruption code", caught?.vector ?? 0)
      }
      check(differences(0, model), 0, "ED: edited field", UInt64(pattern.count), UInt64(source[3]))
      check(cc, expectedCC, "ED: cc", UInt64(pattern.count), UInt64(source[3]))
    }
  }
}

// MARK: RISBG family

func rotateLeft(_ v: UInt64, _ n: UInt64) -> UInt64 {
  n & 63 == 0 ? v : v << (n & 63) | v >> (64 - (n & 63))
}
/// Bits `start` through `end` (big-endian numbering, wrapping) set.
func bitMask(_ start: UInt64, _ end: UInt64) -> UInt64 {
  var mask: UInt64 = 0
  var bit = start
  while true {
    mask |= 1 << (63 - bit)
    if bit == end { break }
    bit = (bit + 1) & 63
  }
  return mask
}

enum RotateKind { case insert, insertNoCC, and, or, xor, high, low }
struct RotateCase {
  var stub: (UInt64, UInt64) -> UInt64
  var kind: RotateKind
  var i3: UInt64, i4: UInt64, i5: UInt64
  var name: StaticString
}

func rotateThenSelectedBits() {
  let cases: [RotateCase] = [
    RotateCase(stub: emu_risbg_0, kind: .insert, i3: 0, i4: 63, i5: 0, name: "RISBG 0,63,0"),
    RotateCase(stub: emu_risbg_1, kind: .insert, i3: 32, i4: 63, i5: 0, name: "RISBG 32,63,0"),
    RotateCase(stub: emu_risbg_2, kind: .insert, i3: 0, i4: 31, i5: 32, name: "RISBG 0,31,32"),
    RotateCase(
      stub: emu_risbg_3, kind: .insert, i3: 56, i4: 7, i5: 8, name: "RISBG 56,7,8 (wrapping)"),
    RotateCase(stub: emu_risbg_4, kind: .insert, i3: 40, i4: 47, i5: 60, name: "RISBG 40,47,60"),
    RotateCase(stub: emu_risbg_5, kind: .insert, i3: 60, i4: 131, i5: 4, name: "RISBG 60,3,4 zero"),
    RotateCase(stub: emu_risbg_6, kind: .insert, i3: 0, i4: 128, i5: 1, name: "RISBG 0,0,1 zero"),
    RotateCase(
      stub: emu_risbg_7, kind: .insert, i3: 48, i4: 143, i5: 16, name: "RISBG 48,15,16 zero"),
    RotateCase(
      stub: emu_risbgn_0, kind: .insertNoCC, i3: 8, i4: 23, i5: 12, name: "RISBGN 8,23,12"),
    RotateCase(
      stub: emu_risbgn_1, kind: .insertNoCC, i3: 62, i4: 129, i5: 63, name: "RISBGN 62,1,63 zero"),
    RotateCase(stub: emu_rnsbg_0, kind: .and, i3: 0, i4: 63, i5: 0, name: "RNSBG 0,63,0"),
    RotateCase(stub: emu_rnsbg_1, kind: .and, i3: 32, i4: 47, i5: 16, name: "RNSBG 32,47,16"),
    RotateCase(stub: emu_rnsbg_2, kind: .and, i3: 136, i4: 15, i5: 8, name: "RNSBG test 8,15,8"),
    RotateCase(stub: emu_rosbg_0, kind: .or, i3: 0, i4: 63, i5: 0, name: "ROSBG 0,63,0"),
    RotateCase(stub: emu_rosbg_1, kind: .or, i3: 56, i4: 63, i5: 56, name: "ROSBG 56,63,56"),
    RotateCase(stub: emu_rosbg_2, kind: .or, i3: 168, i4: 7, i5: 0, name: "ROSBG test 40,7,0"),
    RotateCase(stub: emu_rxsbg_0, kind: .xor, i3: 0, i4: 63, i5: 0, name: "RXSBG 0,63,0"),
    RotateCase(stub: emu_rxsbg_1, kind: .xor, i3: 16, i4: 31, i5: 32, name: "RXSBG 16,31,32"),
    RotateCase(stub: emu_rxsbg_2, kind: .xor, i3: 128, i4: 63, i5: 1, name: "RXSBG test 0,63,1"),
    RotateCase(stub: emu_risbhg_0, kind: .high, i3: 0, i4: 31, i5: 32, name: "RISBHG 0,31,32"),
    RotateCase(stub: emu_risbhg_1, kind: .high, i3: 8, i4: 143, i5: 0, name: "RISBHG 8,15,0 zero"),
    RotateCase(stub: emu_risblg_0, kind: .low, i3: 32, i4: 63, i5: 0, name: "RISBLG 32,63,0"),
    RotateCase(stub: emu_risblg_1, kind: .low, i3: 40, i4: 183, i5: 8, name: "RISBLG 40,55,8 zero"),
  ]
  let operands: [(UInt64, UInt64)] = [
    (0xFFFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF), (0, 0x8000_0000_0000_0001),
    (0xAAAA_AAAA_5555_5555, 0xF0F0_0F0F_FF00_00FF),
  ]
  let tcg = Platform.arguments.value(of: "harness.accel", hasItem: "tcg")
  for c in cases {
    if tcg && c.i3 & 0x80 != 0 && c.kind != .insert && c.kind != .insertNoCC {
      // QEMU 7.2 TCG aborts ("tcg fatal error", tcg/tcg.c:3243) translating
      // RNSBG, ROSBG and RXSBG with the test-only bit (each measured): the
      // process dies, so these cannot be checks there.
      skip(c.name, because: "QEMU 7.2 TCG aborts (tcg fatal error) on R*SBG with the test-only bit")
      continue
    }
    for (first, second) in operands {
      let rotated = rotateLeft(second, c.i5)
      let zero = c.i4 & 0x80 != 0
      let testOnly = c.i3 & 0x80 != 0
      var expected = first
      var expectedCC: UInt64? = nil
      switch c.kind {
      case .insert, .insertNoCC:
        let mask = bitMask(c.i3 & 63, c.i4 & 63)
        expected = (zero ? 0 : first & ~mask) | rotated & mask
        if c.kind == .insert { expectedCC = signedCC(Int64(bitPattern: expected), overflow: false) }
      case .and, .or, .xor:
        let mask = bitMask(c.i3 & 63, c.i4 & 63)
        let selected =
          (c.kind == .and ? first & rotated : c.kind == .or ? first | rotated : first ^ rotated)
          & mask
        expectedCC = selected == 0 ? 0 : 1
        if !testOnly { expected = first & ~mask | selected }
      case .high, .low:
        // Bit positions within the word: I3/I4 bits 3-7.
        let offset: UInt64 = c.kind == .high ? 0 : 32
        let mask = bitMask((c.i3 & 31) + offset, (c.i4 & 31) + offset)
        let word: UInt64 = c.kind == .high ? 0xFFFF_FFFF_0000_0000 : 0x0000_0000_FFFF_FFFF
        let inserted = (zero ? 0 : first & ~mask & word) | rotated & mask
        expected = first & ~word | inserted
      }
      let got = c.stub(first, second)
      check(got, expected, c.name, first, second)
      if let expectedCC { check(cc, expectedCC, c.name, first, second) }
    }
  }
}

// MARK: Compare and branch, compare and trap

func compareAndBranch() {
  let masks: [UInt64] = [2, 4, 8, 12]
  let crj: [(UInt64, UInt64) -> UInt64] = [emu_crj_2, emu_crj_4, emu_crj_8, emu_crj_12]
  let cgrj: [(UInt64, UInt64) -> UInt64] = [emu_cgrj_2, emu_cgrj_4, emu_cgrj_8, emu_cgrj_12]
  let clrj: [(UInt64, UInt64) -> UInt64] = [emu_clrj_2, emu_clrj_4, emu_clrj_8, emu_clrj_12]
  let clgrj: [(UInt64, UInt64) -> UInt64] = [emu_clgrj_2, emu_clgrj_4, emu_clgrj_8, emu_clgrj_12]
  let cij: [(UInt64, UInt64) -> UInt64] = [emu_cij_2, emu_cij_4, emu_cij_8, emu_cij_12]
  let clij: [(UInt64, UInt64) -> UInt64] = [emu_clij_2, emu_clij_4, emu_clij_8, emu_clij_12]
  let cgij: [(UInt64, UInt64) -> UInt64] = [emu_cgij_2, emu_cgij_4, emu_cgij_8, emu_cgij_12]
  let clgij: [(UInt64, UInt64) -> UInt64] = [emu_clgij_2, emu_clgij_4, emu_clgij_8, emu_clgij_12]
  /// Branch taken when the mask bit of the relation (8 equal, 4 low, 2 high) is one.
  func taken(_ relation: UInt64, _ mask: UInt64) -> UInt64 { mask & (8 >> relation) != 0 ? 1 : 0 }
  let pairs: [(UInt64, UInt64)] = [
    (5, 5), (0xFFFF_FFFF, 1), (0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF),
  ]
  for (a, b) in pairs {
    let (a32, b32) = (UInt32(truncatingIfNeeded: a), UInt32(truncatingIfNeeded: b))
    for index in 0..<masks.count {
      let mask = masks[index]
      check(
        crj[index](a, b), taken(compareCC(Int32(bitPattern: a32), Int32(bitPattern: b32)), mask),
        "CRJ: branch", a, mask)
      check(
        cgrj[index](a, b), taken(compareCC(Int64(bitPattern: a), Int64(bitPattern: b)), mask),
        "CGRJ: branch", a, mask)
      check(clrj[index](a, b), taken(compareCC(a32, b32), mask), "CLRJ: branch", a, mask)
      check(clgrj[index](a, b), taken(compareCC(a, b), mask), "CLGRJ: branch", a, mask)
    }
  }
  // Immediate forms: CIJ/CGIJ against -10 (sign-extended), CLIJ/CLGIJ
  // against 200 (zero-extended).
  for a: UInt64 in [0xFFFF_FFFF_FFFF_FFF6, 0, 200, 0xFFFF_FFFF_FFFF_FFFF] {
    let a32 = UInt32(truncatingIfNeeded: a)
    for index in 0..<masks.count {
      let mask = masks[index]
      check(
        cij[index](a, 0), taken(compareCC(Int32(bitPattern: a32), -10), mask), "CIJ: branch", a,
        mask)
      check(
        cgij[index](a, 0), taken(compareCC(Int64(bitPattern: a), -10), mask), "CGIJ: branch", a,
        mask)
      check(clij[index](a, 0), taken(compareCC(a32, 200), mask), "CLIJ: branch", a, mask)
      check(clgij[index](a, 0), taken(compareCC(a, 200), mask), "CLGIJ: branch", a, mask)
    }
  }
}

func compareAndTrap() {
  // A trap is a data exception with DXC 0xFF (lowcore byte 0x93).
  expectException(vector: 7, "CRTE equal: trap (data exception)") { emu_crt_eq(7, 7) }
  expectEqual(s390_lowcore_load16(0x92) & 0xFF, 0xFF, "CRTE trap: DXC 0xFF")
  expectNoException("CRTE unequal: no trap") { emu_crt_eq(7, 8) }
  expectException(vector: 7, "CLGITH 101 > 100: trap") { emu_clgit_high(101) }
  expectNoException("CLGITH 100: no trap") { emu_clgit_high(100) }
  expectNoException("CLGITH 0: no trap") { emu_clgit_high(0) }
}
