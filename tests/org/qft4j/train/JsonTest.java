package org.qft4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesNestedValuesAndEscapes() {
        Object v = Json.parse(" {\"a\": [1, -2.5e1, true, null], \"s\": \"q\\\"\\n\\u00e9\\/\", \"o\": {}} ");
        assertEquals(Map.of("a", java.util.Arrays.asList(1.0, -25.0, true, null), "s", "q\"\né/", "o", Map.of()), v);
        assertEquals(List.of(), Json.parse("[]"));
    }

    @Test
    void quoteRoundTripsControlCharacters() {
        String s = "tab\there \"quoted\" back\\slash \u0001 line\nend";
        assertEquals(s, Json.parse(Json.quote(s)));
    }

    @Test
    void rejectsMalformedInputWithAPosition() {
        for (String bad : new String[] {"{\"a\":1", "[1,]", "\"open", "{\"a\" 1}", "tru", "1 2", "{1:2}"})
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        assertEquals("JSON: expected ':' at character 5", assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\" 1}")).getMessage());
    }
}
