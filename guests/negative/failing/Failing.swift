// A guest whose checks fail on purpose: the harness's own tests assert that
// each failure is reported at the lines carrying the expect-fail marker comment.

import GuestArch
import GuestLib

/// The tests of this guest, in run order.
let guestTests = [
  Test("mixed", mixed),
  Test("after failure", afterFailure),
]

func mixed() {
  expect(1 + 1 == 2, "a passing check")
  expect(guestRunState.passed == 99, "a failing check")  // EXPECT-FAIL
  expectEqual(UInt64(7), 8, "a failing comparison")  // EXPECT-FAIL
}

func afterFailure() {
  expect(true, "the run continues after a failure")
}
