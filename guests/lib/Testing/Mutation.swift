// Mutation: proof that a test's checks can fail. The host puts
// `harness.mutate=2,5` on the command line (`runner --mutate guest/test`);
// tests 2 and 5 then run with deliberately wrong expectations: every check
// compares what the guest measured with a value the test did not expect
// (an equality's expected value with its low bit flipped, a mask with a bit
// added, …), or, where no wrong value can be made (a Boolean, an ordering,
// a range), with the opposite of what it expects. A check whose outcome
// does not depend on its expectation (`expect(true)`, a value compared with
// itself) still passes under mutation, so a mutated test that stays green
// is a test that cannot fail. Mutated failures are never known failures,
// and a mutated run always fails: nothing of it can pass for a real result.

/// Whether test `index` runs mutated.
func isMutated(_ index: Int, _ arguments: BootArguments) -> Bool {
  arguments.integerList("harness.mutate", contains: UInt64(index)) ?? false
}

/// A value check with its expectation replaced by a wrong one.
struct MutatedCheck {
  /// Whether the wrong expectation holds.
  var passed: Bool
  /// The operands the diagnostic prints (the wrong expectation in place).
  var b: CheckValue
  var c: CheckValue
  /// Whether the check was inverted (no wrong value exists for its form).
  var inverted: Bool
}

/// The lowest set bit of `bits` (0 for 0).
@inline(__always)
func lowestSetBit(_ bits: UInt64) -> UInt64 { bits & (0 &- bits) }

/// `form`'s check of `a` against a wrong expectation made from `b`, `c`.
func mutate(_ form: ValueCheckForm, passed: Bool, _ a: CheckValue, _ b: CheckValue, _ c: CheckValue)
  -> MutatedCheck
{
  var wrongB = b
  var wrongC = c
  switch form {
  case .equal:
    wrongB.bits = b.bits ^ 1
    return MutatedCheck(passed: a.bits == wrongB.bits, b: wrongB, c: c, inverted: false)
  case .notEqual:
    // Expect anything but what was measured.
    wrongB.bits = a.bits
    return MutatedCheck(passed: false, b: wrongB, c: c, inverted: false)
  case .bitsSet:
    let extra = lowestSetBit(~a.bits)
    guard extra != 0 else { break }
    wrongB.bits = b.bits | extra
    return MutatedCheck(
      passed: a.bits & wrongB.bits == wrongB.bits, b: wrongB, c: c, inverted: false)
  case .bitsClear:
    let extra = lowestSetBit(a.bits)
    guard extra != 0 else { break }
    wrongB.bits = b.bits | extra
    return MutatedCheck(passed: a.bits & wrongB.bits == 0, b: wrongB, c: c, inverted: false)
  case .masked:
    let flip = lowestSetBit(b.bits)
    guard flip != 0 else { break }
    wrongC.bits = c.bits ^ flip
    return MutatedCheck(
      passed: a.bits & b.bits == wrongC.bits, b: b, c: wrongC, inverted: false)
  case .comparison, .closedRange, .halfOpenRange:
    break
  }
  return MutatedCheck(passed: !passed, b: b, c: c, inverted: true)
}

/// Writes the prefix of a mutated check's diagnostic.
func writeMutationPrefix(inverted: Bool) {
  Console.write(inverted ? "mutated (expectation inverted): not " : "mutated: ")
}
