// TEMPORARY STUB until the full parser lands.
import Foundation
public struct TimeExpressionError: Error, CustomStringConvertible, Equatable {
    public var description: String
}
public struct TimeExpression {
    public static func parse(_ text: String, now: Date, timeZone: TimeZone = .current, bootTime: Date? = nil) throws(TimeExpressionError) -> Date {
        if text == "now" { return now }
        if text.hasPrefix("@"), let v = Double(text.dropFirst()) { return Date(timeIntervalSince1970: v) }
        if let d = ISO8601DateFormatter().date(from: text) { return d }
        throw TimeExpressionError(description: "cannot read \"\(text)\" as a time")
    }
    public static func duration(_ text: String) throws(TimeExpressionError) -> TimeInterval {
        if let v = Double(text) { return v }
        throw TimeExpressionError(description: "cannot read \"\(text)\" as a duration")
    }
}
