// A guest whose names, diagnostics and crash record carry terminal escape
// codes and bytes that are not UTF-8: the runner must print them escaped
// (`\x1b`, `\r`, `\x07`...), never raw, on a terminal or off it.

import GuestArch
import GuestLib

func guestMain() {
  plan("escapes\u{1B}]0;window title set by the guest\u{07}", sections: 1)
  section("section \u{1B}[2J\u{1B}[Hcleared the screen") {
    check(true, "a passing check")
    note("diagnostic \u{1B}[31mred\u{1B}[0m and a bell \u{07} and C1 CSI \u{9B}31m")
    note("diagnostic with\rcarriage return, back\u{08}space and DEL \u{7F}")
    Console.beginLine()
    Console.write("    # not UTF-8: ")
    Console.write(byte: 0xFF)
    Console.write(byte: 0xC3)
    Console.write(" end")
    Console.endLine()
    check(false, "check \u{1B}[31mred\u{1B}[0m name\r PASS overwritten \u{07}")
  }
  Console.diagnostic("CRASH: vector=14 name=\"\u{1B}[5mblink\u{07}\" cr2=0x\u{1B}[0m0")
}
