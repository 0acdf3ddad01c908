// A guest that forges a PASS on its console: a complete, well-formed
// success (plan met, every check passed, `# EXIT: STATUS=0`), and then it
// never stops the machine (no isa-debug-exit, no power-off, no SIGP STOP).
// Console text alone is never an exit: the harness must kill it after the
// exit grace and report PROTOCOL-ERROR, on every arch and backend.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("looks complete", looksComplete),
]

func looksComplete() {
  expect(true, "a passing check")
  // The rest of a passing report, written the way the runner writes it
  // once this test returns: the test's result line, the totals and the
  // exit line. Then, instead of returning (the runner would stop the
  // machine), it spins.
  let test = guestTests[0]
  KTAP.writeResult(
    depth: 0, ok: true, number: 1, name: KTAPText(test.name),
    trailer: KTAPTrailer(
      fileID: test.file, line: test.line, cpu: PlatformHooks.currentCPU(),
      time: PlatformHooks.nanoseconds()))
  KTAP.writeTotals(passed: 1, failed: 0, skipped: 0, xfailed: 0, xpassed: 0)
  writeExitLine(.passed)
  while true { _ = cycleCounter() }  // any arch: spin on its clock
}
