/// Makes attacker-chosen bytes safe to print on a terminal.
///
/// Process names, executables and command lines are chosen by whoever runs the process: a
/// name can hold escape sequences that move the cursor or recolour the screen, newlines
/// that fake a line of output, bidirectional overrides that reorder text, or bytes that are
/// not UTF-8. Text output shows every such byte visibly and unambiguously instead.
public enum SafeText {
    /// Escapes `bytes` for one line of terminal output: `\n`, `\t`, `\r`, `\e` and `\\` for
    /// those, `\xNN` for other control bytes and bytes that are not valid UTF-8, `\u{NNNN}`
    /// for C1 controls and invisible or direction-changing code points.
    public static func escape(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var out = ""
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let b = input[i]
            if b < 0x80 {
                out += escapeASCII(b)
                i += 1
                continue
            }
            if let (scalar, length) = decodeScalar(input, at: i) {
                if isUnsafe(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
                i += length
            } else {
                out += hex(b)
                i += 1
            }
        }
        return out
    }

    /// Escapes a Swift string (already valid Unicode) the same way.
    public static func line(_ text: String) -> String {
        escape(Array(text.utf8))
    }

    @inline(__always)
    static func escapeASCII(_ b: UInt8) -> String {
        switch b {
        case 0x0a: return "\\n"
        case 0x09: return "\\t"
        case 0x0d: return "\\r"
        case 0x1b: return "\\e"
        case 0x5c: return "\\\\"
        case 0x00..<0x20, 0x7f: return hex(b)
        default: return String(UnicodeScalar(b))
        }
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xf)])
    }

    /// C1 controls, Unicode's default-ignorable code points (zero-width characters, Hangul
    /// fillers, variation selectors, tag characters, the byte-order mark...), bidirectional
    /// formatting characters (U+061C and U+200E/F are among the ignorables), interlinear
    /// annotation marks, line and paragraph separators: invisible, or able to change how the
    /// rest of the line reads.
    public static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x80...0x9f, 0xad, 0x200b...0x200f, 0x2028...0x202e, 0x2060...0x206f, 0xfeff, 0xfff9...0xfffb:
            return true
        case 0x34f, 0x61c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180b...0x180f, 0x3164, 0xfe00...0xfe0f,
             0xffa0, 0xfff0...0xfff8, 0x1bca0...0x1bca3, 0x1d173...0x1d17a, 0xe0000...0xe0fff:
            // Default_Ignorable_Code_Point (DerivedCoreProperties.txt), listed so the answer
            // does not depend on the Unicode tables of the Swift runtime in use.
            return true
        default:
            return s.properties.isDefaultIgnorableCodePoint
        }
    }

    /// Strict UTF-8 decoding of one scalar (no overlongs, no surrogates).
    static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let b0 = b[i]
        let length: Int
        var value: UInt32
        switch b0 {
        case 0xc2...0xdf: length = 2; value = UInt32(b0 & 0x1f)
        case 0xe0...0xef: length = 3; value = UInt32(b0 & 0x0f)
        case 0xf0...0xf4: length = 4; value = UInt32(b0 & 0x07)
        default: return nil
        }
        guard i + length <= b.count else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xc0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3f)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard value >= minimum, value <= 0x10ffff, !(0xd800...0xdfff).contains(value),
              let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
