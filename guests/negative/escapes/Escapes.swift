// A guest whose names, diagnostics and crash record carry terminal escape
// codes and bytes that are not UTF-8: the runner must print them escaped
// (`\x1b`, `\r`, `\x07`...), never raw, on a terminal or off it.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("section \u{1B}[2J\u{1B}[Hcleared the screen", clearsTheScreen),
  Test("window title \u{1B}]0;window title set by the guest\u{07}", setsTheWindowTitle),
]

func clearsTheScreen() {
  expect(true, "a passing check")
  note("diagnostic \u{1B}[31mred\u{1B}[0m and a bell \u{07} and C1 CSI \u{9B}31m")
  note("diagnostic with\rcarriage return, back\u{08}space and DEL \u{7F}")
  Console.beginLine()
  Console.write("    # not UTF-8: ")
  Console.write(byte: 0xFF)
  Console.write(byte: 0xC3)
  Console.write(" end")
  Console.endLine()
  expect(false, "check \u{1B}[31mred\u{1B}[0m name\r PASS overwritten \u{07}")
}

/// The guest's name used to carry the window-title sequence; the name is
/// the program's now, so a test name carries it.
func setsTheWindowTitle() {
  expect(true, "a passing check")
  // A crash record that is not one (no exception happened): its fields
  // reach the runner's reason and crash lines.
  Console.diagnostic("CRASH: vector=14 name=\"\u{1B}[5mblink\u{07}\" cr2=0x\u{1B}[0m0")
}
