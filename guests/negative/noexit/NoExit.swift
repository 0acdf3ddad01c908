// A guest that forges a PASS on its console: a complete, well-formed
// success (plan met, every check passed, `# EXIT: STATUS=0`), and then it
// never stops the machine (no isa-debug-exit, no power-off, no SIGP STOP).
// Console text alone is never an exit: the harness must kill it after the
// exit grace and report PROTOCOL-ERROR, on every arch and backend.

import GuestArch
import GuestLib

func guestMain() {
  plan("noexit", sections: 1)
  section("looks complete") {
    check(true, "a passing check")
  }
  _ = finishTests()
  while true { _ = cycleCounter() }  // any arch: spin on its clock
}
