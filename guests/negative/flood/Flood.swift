// A guest that floods its console with check lines and never ends: the
// harness must stop it at the cell's output limit (PROTOCOL-ERROR, QEMU
// killed, the log keeping its head and tail) and stay small while doing it.
// `flood.line=1` on the command line makes it write one endless line instead.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("floods", floods),
]

func floods() {
  if BootInfo.arguments.integer("flood.line") == 1 {
    Console.beginLine()
    while true { Console.write("x") }
  }
  while true { expect(true, "flooding the console with passing checks") }
}
