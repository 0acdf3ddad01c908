// A guest whose checks fail on purpose: the harness's own tests assert that
// each failure is reported at the lines carrying the expect-fail marker comment.

import GuestArch
import GuestLib

func guestMain() {
  plan("failing", sections: 2)
  section("mixed") {
    check(1 + 1 == 2, "a passing check")
    check(guestTestState.passed == 99, "a failing check")  // EXPECT-FAIL
    checkEqual(UInt64(7), 8, "a failing comparison")  // EXPECT-FAIL
  }
  section("after failure") {
    check(true, "the run continues after a failure")
  }
}
