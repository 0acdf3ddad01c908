// A guest that fails on its first attempt and passes on every later one:
// the runner passes `harness.attempt=<n>` on each (re)run, so the host drives
// the flakiness (nothing survives a reboot in the guest). The runner's tests
// use it to prove that `--retry` reports FLAKY.

import GuestArch
import GuestLib

func dependsOnTheAttempt() {
  // Attempts count from 1; a boot without the argument (outside the
  // runner) counts as a later attempt.
  let attempt = BootInfo.arguments.integer("harness.attempt") ?? 0
  expect(attempt != 1, "passes except on the first attempt")  // EXPECT-FAIL on attempt 1
}

/// The tests of this guest, in run order. (After the test: the runner's
/// regression test names the check's line, 10.)
let guestTests = [
  Test("depends on the attempt", dependsOnTheAttempt),
]
