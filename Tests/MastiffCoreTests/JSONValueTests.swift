import MastiffCore
import Testing

@Suite struct JSONValueTests {
    @Test func parsesNestedDocuments() throws {
        let value = try #require(JSONValue.parse(#" {"a": [1, 2.5, -3e2, true, false, null], "b": {"c": "d\"\\\/\n\u00e9\ud83d\ude00"}} "#))
        #expect(value["a"] == .array([.number(1), .number(2.5), .number(-300), .bool(true), .bool(false), .null]))
        #expect(value["b"]?["c"]?.string == "d\"\\/\né😀")
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "{\"a\":1}x", "\"\u{01}\"", "01x"])
    func rejectsMalformedInput(text: String) {
        #expect(JSONValue.parse(text) == nil)
    }

    @Test func depthIsLimited() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONValue.parse(deep) == nil)
        let shallow = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(JSONValue.parse(shallow) != nil)
    }

    @Test func numbersFromStrings() {
        #expect(JSONValue.string("12.5").double == 12.5)
        #expect(JSONValue.bool(true).double == nil)
    }
}
