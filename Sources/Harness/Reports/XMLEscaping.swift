/// Escaping shared by the XML (JUnit) and HTML report writers and the
/// libvirt domain XML.
///
/// Guest output is untrusted text: it may hold markup characters, the CDATA
/// terminator `]]>`, firmware escape sequences and other control characters
/// that XML 1.0 forbids even when escaped. Everything that reaches a report
/// goes through one of these functions.
public enum MarkupEscaping {
  /// Whether XML 1.0 allows `scalar` in a document
  /// (`#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`).
  /// Swift strings never hold surrogates, so only the C0 controls and the
  /// two non-characters U+FFFE/U+FFFF need rejecting.
  static func isAllowedInXML(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x9, 0xA, 0xD: true
    case 0x20...0xFFFD: true
    case 0x10000...0x10FFFF: true
    default: false
    }
  }

  /// `text` without the characters XML 1.0 forbids (C0 controls other than
  /// tab, newline and carriage return; U+FFFE; U+FFFF).
  static func stripForbidden(_ text: String) -> String {
    if text.unicodeScalars.allSatisfy(isAllowedInXML) { return text }
    var scalars = String.UnicodeScalarView()
    scalars.append(contentsOf: text.unicodeScalars.lazy.filter(isAllowedInXML))
    return String(scalars)
  }

  /// `text` escaped for XML or HTML character data or a quoted attribute
  /// value: `&`, `<`, `>`, `"` and `'` become entities and forbidden
  /// characters are dropped. With `attribute`, tab, newline and carriage
  /// return become character references too, so attribute-value
  /// normalization keeps them.
  public static func escape(_ text: String, attribute: Bool = false) -> String {
    var out = ""
    out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      case "\t" where attribute: out += "&#9;"
      case "\n" where attribute: out += "&#10;"
      case "\r" where attribute: out += "&#13;"
      default:
        if isAllowedInXML(scalar) { out.unicodeScalars.append(scalar) }
      }
    }
    return out
  }

  /// `text` as one or more CDATA sections. Each `]]>` in the text is split
  /// across two sections (`]]` ends the first, `>` starts the next), and
  /// forbidden characters are dropped.
  static func cdata(_ text: String) -> String {
    let clean = stripForbidden(text)
    return "<![CDATA[" + clean.replacing("]]>", with: "]]]]><![CDATA[>") + "]]>"
  }
}
