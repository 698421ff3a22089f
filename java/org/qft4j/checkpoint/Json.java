package org.qft4j.checkpoint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small strict JSON (RFC 8259) reader and writer that safetensors headers need. Values map to
 * {@code LinkedHashMap<String,Object>} (key order kept), {@code List<Object>}, {@code String},
 * {@code Long} (integers that fit), {@code Double} (every other number), {@code Boolean} and {@link #NULL}.
 * Headers come from untrusted files, so the reader rejects duplicate keys, nesting deeper than
 * {@link #MAX_DEPTH}, and anything after the top-level value except whitespace.
 */
public final class Json {
    public static final int MAX_DEPTH = 64;
    /** The JSON null value (a map value or list element; Java null never appears in a parse result). */
    public static final Object NULL = new Object() {
        @Override
        public String toString() { return "null"; }
    };

    /** A syntax error at a character offset of the text. */
    public static final class ParseException extends Exception {
        final int offset;
        /** The repeated key when the error is a duplicate key, else null. */
        final String duplicateKey;

        ParseException(String message, int offset) {
            this(message, offset, null);
        }

        ParseException(String message, int offset, String duplicateKey) {
            super(message + " at character " + offset);
            this.offset = offset;
            this.duplicateKey = duplicateKey;
        }
    }

    private final String s;
    private int pos;

    private Json(String s) {
        this.s = s;
    }

    public static Object parse(String text) throws ParseException {
        Json p = new Json(text);
        p.skipWhitespace();
        Object v = p.value(0);
        p.skipWhitespace();
        if (p.pos != text.length()) throw p.error("unexpected '" + p.describeChar() + "' after the JSON value");
        return v;
    }

    private Object value(int depth) throws ParseException {
        if (pos >= s.length()) throw error("unexpected end of text, expected a value");
        char c = s.charAt(pos);
        switch (c) {
            case '{': return object(depth + 1);
            case '[': return array(depth + 1);
            case '"': return string();
            case 't': literal("true"); return Boolean.TRUE;
            case 'f': literal("false"); return Boolean.FALSE;
            case 'n': literal("null"); return NULL;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("unexpected '" + describeChar() + "', expected a value");
        }
    }

    private Map<String, Object> object(int depth) throws ParseException {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        pos++;
        Map<String, Object> out = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            return out;
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') throw error("expected a string key, found '" + describeChar() + "'");
            int keyAt = pos;
            String key = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            Object v = value(depth);
            if (out.putIfAbsent(key, v) != null) throw new ParseException("duplicate key '" + key + "'", keyAt, key);
            skipWhitespace();
            char c = peek();
            pos++;
            if (c == '}') return out;
            if (c != ',') { pos--; throw error("expected ',' or '}' in object, found '" + describeChar() + "'"); }
        }
    }

    private List<Object> array(int depth) throws ParseException {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        pos++;
        List<Object> out = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            return out;
        }
        while (true) {
            skipWhitespace();
            out.add(value(depth));
            skipWhitespace();
            char c = peek();
            pos++;
            if (c == ']') return out;
            if (c != ',') { pos--; throw error("expected ',' or ']' in array, found '" + describeChar() + "'"); }
        }
    }

    private String string() throws ParseException {
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos++);
            if (c == '"') return sb.toString();
            if (c < 0x20) { pos--; throw error("raw control character U+" + String.format("%04X", (int) c) + " in string"); }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= s.length()) throw error("unterminated escape");
            char e = s.charAt(pos++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u': sb.append(hex4()); break;
                default: pos--; throw error("invalid escape '\\" + describeChar() + "'");
            }
        }
    }

    private char hex4() throws ParseException {
        if (pos + 4 > s.length()) throw error("truncated \\u escape");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos), 16);
            if (d < 0) throw error("invalid hex digit '" + describeChar() + "' in \\u escape");
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    private Object number() throws ParseException {
        int start = pos;
        if (peek() == '-') pos++;
        if (peek() == '0') pos++;
        else if (!digits()) throw error("expected a digit");
        boolean integer = true;
        if (peek() == '.') {
            pos++;
            integer = false;
            if (!digits()) throw error("expected a digit after '.'");
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            integer = false;
            if (peek() == '+' || peek() == '-') pos++;
            if (!digits()) throw error("expected a digit in the exponent");
        }
        String text = s.substring(start, pos);
        if (integer) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooLarge) {
                return Double.parseDouble(text);
            }
        }
        return Double.parseDouble(text);
    }

    private boolean digits() {
        int start = pos;
        while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
        return pos > start;
    }

    private void literal(String word) throws ParseException {
        if (!s.startsWith(word, pos)) throw error("unexpected '" + describeChar() + "', expected a value");
        pos += word.length();
    }

    private void expect(char c) throws ParseException {
        if (peek() != c) throw error("expected '" + c + "', found '" + describeChar() + "'");
        pos++;
    }

    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private void skipWhitespace() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }

    private String describeChar() {
        if (pos >= s.length()) return "end of text";
        char c = s.charAt(pos);
        return c < 0x20 || c > 0x7e ? String.format("U+%04X", (int) c) : String.valueOf(c);
    }

    private ParseException error(String message) {
        return new ParseException(message, pos);
    }

    /** Appends {@code value} as a JSON string literal, escaping quotes, backslashes and control characters. */
    /**
     * Writes maps (keys as strings), lists, strings, numbers, booleans and null/{@link #NULL} as JSON, with
     * ", " and ": " separators (config.json files are read by people too).
     */
    public static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v) {
        if (v == null || v == NULL) {
            out.append("null");
        } else if (v instanceof String) {
            quote(out, (String) v);
        } else if (v instanceof Map<?, ?>) {
            out.append('{');
            String sep = "";
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                quote(out.append(sep), String.valueOf(e.getKey())).append(": ");
                write(out, e.getValue());
                sep = ", ";
            }
            out.append('}');
        } else if (v instanceof List<?>) {
            out.append('[');
            String sep = "";
            for (Object o : (List<?>) v) {
                write(out.append(sep), o);
                sep = ", ";
            }
            out.append(']');
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON has no " + d);
            out.append(d);
        } else if (v instanceof Number || v instanceof Boolean) {
            out.append(v);
        } else {
            throw new IllegalArgumentException("cannot write " + v.getClass().getSimpleName() + " as JSON");
        }
    }

    /** {@code value} as a JSON string literal. */
    public static String quote(String value) {
        return quote(new StringBuilder(), value).toString();
    }

    /** Appends {@code value} as a JSON string literal to {@code out}. */
    public static StringBuilder quote(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20 || Character.isSurrogate(c) && !validSurrogateAt(value, i)) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        return out.append('"');
    }

    /** A lone surrogate cannot be encoded as UTF-8, so it is written as a \\u escape instead. */
    private static boolean validSurrogateAt(String v, int i) {
        char c = v.charAt(i);
        if (Character.isHighSurrogate(c)) return i + 1 < v.length() && Character.isLowSurrogate(v.charAt(i + 1));
        return i > 0 && Character.isHighSurrogate(v.charAt(i - 1));
    }
}
