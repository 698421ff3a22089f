package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesEveryKindOfValue() throws Exception {
        Object v = Json.parse(" {\"a\": [1, -0, 9223372036854775807, 9223372036854775808, 1.5e3, true, false, null],"
                + " \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"o\": {}} ");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals(List.of(1L, 0L, Long.MAX_VALUE, 9.223372036854775808E18, 1500.0, true, false, Json.NULL), m.get("a"));
        assertEquals("q\"\\/\b\f\n\r\té\ud83d\ude00", m.get("s"));
        assertEquals(Map.of(), m.get("o"));
        assertEquals(List.of("a", "s", "o"), List.copyOf(m.keySet()), "key order is kept");
    }

    @Test
    void quoteRoundTripsAnyStringIncludingLoneSurrogates() throws Exception {
        for (String s : new String[] {"", "plain", "\"\\\u0000\u001f\u007f", "é中文😀", "\ud800 lone", "lone \udc00"}) {
            StringBuilder sb = new StringBuilder();
            assertEquals(s, Json.parse(Json.quote(sb, s).toString()));
        }
    }

    @Test
    void writesWhatItParses() throws Exception {
        Map<String, Object> cfg = new java.util.LinkedHashMap<>();
        cfg.put("architectures", List.of("LlamaForCausalLM"));
        cfg.put("hidden_size", 64L);
        cfg.put("rms_norm_eps", 1e-5);
        cfg.put("tie", true);
        cfg.put("none", null);
        cfg.put("s", "q\"\n");
        String text = Json.write(cfg);
        assertEquals("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"rms_norm_eps\": 1.0E-5, \"tie\": true, "
                + "\"none\": null, \"s\": \"q\\\"\\n\"}", text);
        Map<?, ?> back = (Map<?, ?>) Json.parse(text);
        assertEquals(Json.NULL, back.get("none"));
        assertEquals(1e-5, back.get("rms_norm_eps"));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Double.NaN));
    }

    @Test
    void rejectsWhatRfc8259Rejects() {
        String[][] bad = {
            {"", "unexpected end of text, expected a value at character 0"},
            {"{\"a\":1,}", "expected a string key, found '}' at character 7"},
            {"[1 2]", "expected ',' or ']' in array, found '2' at character 3"},
            {"01", "unexpected '1' after the JSON value at character 1"},
            {"\"a\u0001\"", "raw control character U+0001 in string at character 2"},
            {"\"\\x\"", "invalid escape '\\x' at character 2"},
            {"\"\\u12g4\"", "invalid hex digit 'g' in \\u escape at character 5"},
            {"{\"k\":1,\"k\":2}", "duplicate key 'k' at character 7"},
            {"tru", "unexpected 't', expected a value at character 0"},
            {"-", "expected a digit at character 1"},
            {"1.", "expected a digit after '.' at character 2"},
            {"\"abc", "unterminated string at character 4"},
        };
        for (String[] c : bad) {
            Json.ParseException e = assertThrows(Json.ParseException.class, () -> Json.parse(c[0]), c[0]);
            assertEquals(c[1], e.getMessage(), c[0]);
        }
    }

    @Test
    void limitsNestingSoAHostileHeaderCannotOverflowTheStack() {
        String deep = "[".repeat(100_000);
        Json.ParseException e = assertThrows(Json.ParseException.class, () -> Json.parse(deep));
        assertEquals("nesting deeper than 64 at character 64", e.getMessage());
    }
}
