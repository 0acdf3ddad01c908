// A guest that never finishes: the harness must report TIMEOUT and leave no
// QEMU process behind.

func guestMain() {
  plan("hang", sections: 1)
  section("spins forever") {
    check(true, "output before the hang")
    while true { _ = cycleCounter() }  // any arch: spin on its clock
  }
}
