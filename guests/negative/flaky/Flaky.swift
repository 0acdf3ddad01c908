// A guest that fails on its first attempt and passes on every later one:
// the runner passes `harness.attempt=<n>` on each (re)run, so the host drives
// the flakiness (nothing survives a reboot in the guest). The runner's tests
// use it to prove that `--retry` reports FLAKY.

import GuestArch
import GuestLib

func guestMain() {
  plan("flaky", sections: 1)
  section("depends on the attempt") {
    let attempt = BootInfo.arguments.integer("harness.attempt") ?? 0
    check(attempt != 1, "passes except on the first attempt")  // EXPECT-FAIL on attempt 1
  }
}
