import Testing

@testable import Harness

@Suite("Serial timeline")
struct SerialTimelineTests {
  @Test func linesTakeTheTimeOfTheChunkThatCompletedThem() {
    var timeline = SerialTimeline()
    // "a\nb" at 1 ms, "c\n" at 2 ms, "d\ne\n" at 5 ms.
    timeline.record(endOffset: 3, at: .milliseconds(1))
    timeline.record(endOffset: 5, at: .milliseconds(2))
    timeline.record(endOffset: 5, at: .milliseconds(3))  // nothing new: ignored
    timeline.record(endOffset: 9, at: .milliseconds(5))
    let log = "a\nbc\nd\ne\n"
    #expect(timeline.lineTimes(Array(log.utf8)) == [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(5)])
    #expect(
      timeline.timedText(log)
        == "        1.000 ms │ a\n        2.000 ms │ bc\n        5.000 ms │ d\n        5.000 ms │ e\n")
  }

  @Test func bytesNoChunkCoveredHaveNoTime() {
    var timeline = SerialTimeline()
    timeline.record(endOffset: 2, at: .microseconds(1500))
    // The rest came from a console log after the stream had lost it.
    let log = "a\nlost\ntail"
    #expect(timeline.lineTimes(Array(log.utf8)) == [.microseconds(1500), nil, nil])
    let text = timeline.timedText(log)
    #expect(text.hasPrefix("        1.500 ms │ a\n"))
    #expect(text.hasSuffix("         ?    ms │ tail\n"))
  }
}
