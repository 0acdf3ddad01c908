import Harness
import Testing

@Suite("Median")
struct MedianTests {
  @Test func oddCountIsTheMiddleValueOfTheSortedValues() {
    #expect([5.0, 1.0, 3.0].median == 3.0)
  }

  @Test func evenCountIsTheMeanOfTheTwoMiddleValues() {
    #expect([4.0, 1.0, 10.0, 2.0].median == 3.0)
    #expect([Duration.milliseconds(30), .milliseconds(10)].median == .milliseconds(20))
  }

  @Test func emptyIsZero() {
    #expect([Double]().median == 0)
    #expect([Duration]().median == .zero)
  }
}
