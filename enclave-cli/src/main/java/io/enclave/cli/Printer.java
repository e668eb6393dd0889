package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Writes results on stdout: the API's JSON pretty-printed, or tables and {@code key: value} lines. */
final class Printer {
    private final PrintStream out;
    private final OutputFormat format;

    Printer(PrintStream out, OutputFormat format) {
        this.out = out;
        this.format = format;
    }

    boolean json() {
        return format == OutputFormat.json;
    }

    /** A list of resources: the JSON as answered ({@code document}), or a table of {@code items}. */
    void list(JsonNode document, Iterable<JsonNode> items, List<Views.Field> fields) {
        if (json()) printJson(document);
        else out.print(Views.table(fields, items).render());
    }

    /** A list answered as a JSON array. */
    void list(JsonNode array, List<Views.Field> fields) {
        list(array, array, fields);
    }

    /** One resource: its JSON, or one {@code key: value} line per field, nested objects as {@code a.b}. */
    void show(JsonNode resource) {
        if (json()) {
            printJson(resource);
            return;
        }
        List<Map.Entry<String, String>> lines = new ArrayList<>();
        flatten("", resource, lines);
        int width = lines.stream().mapToInt(e -> e.getKey().length()).max().orElse(0) + 1;
        for (Map.Entry<String, String> line : lines) {
            String key = line.getKey() + ":";
            out.println((key + " ".repeat(width - key.length()) + " " + line.getValue()).stripTrailing());
        }
    }

    /**
     * One resource with a list inside it: its JSON; or its {@code key: value} lines without {@code arrayField},
     * then an empty line and a table of that list ({@code arrayField: -} when the list is empty).
     */
    void show(JsonNode resource, String arrayField, List<Views.Field> fields) {
        JsonNode array = resource.path(arrayField);
        if (json() || !resource.isObject() || !array.isArray()) {
            show(resource);
            return;
        }
        ObjectNode rest = ((ObjectNode) resource).deepCopy();
        if (array.isEmpty()) rest.putNull(arrayField);
        else rest.remove(arrayField);
        show(rest);
        if (!array.isEmpty()) {
            out.println();
            out.print(Views.table(fields, array).render());
        }
    }

    /** A sentence for table output (a resource that was deleted); nothing in JSON output. */
    void note(String text) {
        if (!json()) out.println(text);
    }

    void printJson(JsonNode node) {
        out.println(Json.pretty(node));
    }

    void raw(byte[] bytes) {
        out.write(bytes, 0, bytes.length);
        out.flush();
    }

    static void flatten(String prefix, JsonNode node, List<Map.Entry<String, String>> lines) {
        if (node.isObject() && (!node.isEmpty() || prefix.isEmpty())) {
            node.properties().forEach(e -> flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(),
                    e.getValue(), lines));
        } else if (node.isArray()) {
            List<String> items = new ArrayList<>();
            boolean scalars = true;
            for (JsonNode item : node) {
                scalars &= item.isValueNode();
                items.add(item.isValueNode() ? item.asText() : item.toString());
            }
            lines.add(Map.entry(prefix, scalars ? String.join(", ", items) : node.toString()));
        } else {
            lines.add(Map.entry(prefix, node.isNull() ? "-" : node.isValueNode() ? node.asText() : node.toString()));
        }
    }
}
