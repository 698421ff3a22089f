package org.qft4j.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** "--name value" options of one command, checked against the names it accepts. */
final class Options {
    private final String command;
    private final Map<String, String> values = new LinkedHashMap<>();

    Options(String command, String[] args, Set<String> accepted) {
        this.command = command;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!accepted.contains(a)) throw new IllegalArgumentException(command + ": unknown option '" + a + "' (accepted: " + String.join(" ", accepted) + ")");
            if (i + 1 >= args.length) throw new IllegalArgumentException(command + ": option " + a + " needs a value");
            values.put(a, args[++i]);
        }
    }

    String required(String name) {
        String v = values.get(name);
        if (v == null) throw new IllegalArgumentException(command + ": missing " + name);
        return v;
    }

    String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    float getFloat(String name, float dflt) {
        String v = values.get(name);
        try {
            return v == null ? dflt : Float.parseFloat(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(command + ": " + name + " must be a number, got '" + v + "'");
        }
    }

    long getLong(String name, long dflt) {
        String v = values.get(name);
        try {
            return v == null ? dflt : Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(command + ": " + name + " must be an integer, got '" + v + "'");
        }
    }
}
