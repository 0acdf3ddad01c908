import Foundation

/// The source text of a guest's expectation calls. Guests cannot capture
/// their own expressions (Embedded Swift has no reflection, and the test
/// API works without macros), but the host has the sources and every check
/// line names its file and line: a failed check's report starts with the
/// call as written (`expectEqual(apic.mode, 0x1f, "mode")`), followed by
/// the values the guest printed (`expected 0x1f (31), got 0x1e (30)`).
public enum GuestSourceText {
  /// Longest excerpt returned.
  static let limit = 300

  /// The call starting on `line` (1-based) of `text`: from the first
  /// `expect…`/`require…`/`skip` identifier on the line to its balanced
  /// closing parenthesis (over following lines if needed), with a trailing
  /// closure on the same line. Nil when the line has no such call.
  public static func call(onLine line: Int, of text: String) -> String? {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard line >= 1, line <= lines.count else { return nil }
    let first = lines[line - 1]
    guard
      let start = ["expect", "require", "try require"].compactMap({ first.range(of: $0)?.lowerBound })
        .min()
    else { return nil }
    var excerpt = ""
    var depth = 0
    var opened = false
    var inString = false
    var escaped = false
    var index = line - 1
    var column = start
    scan: while index < lines.count && index < line + 8 {
      let current = lines[index]
      while column < current.endIndex {
        let character = current[column]
        excerpt.append(character)
        if inString {
          if escaped {
            escaped = false
          } else if character == "\\" {
            escaped = true
          } else if character == "\"" {
            inString = false
          }
        } else if character == "\"" {
          inString = true
        } else if character == "(" || character == "{" {
          depth += 1
          opened = true
        } else if character == ")" || character == "}" {
          depth -= 1
          if opened && depth == 0 {
            // A trailing closure that opens right after on this line.
            let rest = current[current.index(after: column)...]
            if rest.drop(while: { $0 == " " }).first == "{" {
              column = current.index(after: column)
              continue
            }
            break scan
          }
        }
        column = current.index(after: column)
      }
      index += 1
      guard index < lines.count else { break }
      column = lines[index].firstIndex(where: { $0 != " " }) ?? lines[index].endIndex
      excerpt.append(" ")
    }
    guard opened else { return nil }
    let collapsed = excerpt.split(separator: " ", omittingEmptySubsequences: true).joined(
      separator: " ")
    return collapsed.count > limit ? String(collapsed.prefix(limit)) + "…" : collapsed
  }

  /// `result` with each failed check's diagnostics preceded by its call's
  /// source text, read through `sources` (`#fileID` → path).
  public static func annotate(_ result: inout GuestResult, sources: [String: String]) {
    var cache: [String: String] = [:]
    for s in result.sections.indices {
      for c in result.sections[s].checks.indices {
        let check = result.sections[s].checks[c]
        guard check.outcome == .failed, let location = check.location,
          let path = sources[location.fileID]
        else { continue }
        if cache[path] == nil {
          cache[path] = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
        if let call = call(onLine: location.line, of: cache[path]!) {
          result.sections[s].checks[c].diagnostics.insert(call, at: 0)
        }
      }
    }
  }
}
