extension Array where Element: Comparable & AdditiveArithmetic {
  /// The middle value in sorted order; for an even count, `middle` of the
  /// two middle values (their mean); `.zero` for an empty array.
  public func median(middle: (Element, Element) -> Element) -> Element {
    guard !isEmpty else { return .zero }
    let sorted = self.sorted()
    let half = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[half] : middle(sorted[half - 1], sorted[half])
  }
}

extension Array where Element == Double {
  /// The median (the mean of the two middle values for an even count; 0
  /// when empty).
  public var median: Double { median { ($0 + $1) / 2 } }
}

extension Array where Element == Duration {
  /// The median (the mean of the two middle values for an even count;
  /// zero when empty).
  public var median: Duration { median { ($0 + $1) / 2 } }
}
