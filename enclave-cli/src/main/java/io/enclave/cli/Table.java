package io.enclave.cli;

import java.util.ArrayList;
import java.util.List;

/** Plain-text columns aligned with two spaces between them; numbers may be right-aligned. */
final class Table {
    private static final String GAP = "  ";

    /** A column's heading and whether its cells line up on the right. */
    record Column(String header, boolean rightAligned) {}

    private final List<Column> columns;
    private final List<List<String>> rows = new ArrayList<>();

    Table(List<Column> columns) {
        this.columns = List.copyOf(columns);
    }

    /** Adds a row; null or empty cells show as {@code -}, line breaks inside a cell as spaces. */
    Table row(List<String> cells) {
        if (cells.size() != columns.size()) {
            throw new IllegalArgumentException("expected " + columns.size() + " cells, got " + cells.size());
        }
        rows.add(cells.stream().map(Table::clean).toList());
        return this;
    }

    /** The heading line and one line per row, each ending in a newline, without trailing spaces. */
    String render() {
        int[] widths = new int[columns.size()];
        for (int c = 0; c < columns.size(); c++) {
            widths[c] = columns.get(c).header().length();
            for (List<String> row : rows) widths[c] = Math.max(widths[c], row.get(c).length());
        }
        StringBuilder out = new StringBuilder();
        line(out, columns.stream().map(Column::header).toList(), widths);
        for (List<String> row : rows) line(out, row, widths);
        return out.toString();
    }

    private void line(StringBuilder out, List<String> cells, int[] widths) {
        StringBuilder line = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            if (c > 0) line.append(GAP);
            String cell = cells.get(c);
            String padding = " ".repeat(widths[c] - cell.length());
            if (columns.get(c).rightAligned()) line.append(padding).append(cell);
            else line.append(cell).append(padding);
        }
        out.append(line.toString().stripTrailing()).append('\n');
    }

    private static String clean(String cell) {
        if (cell == null || cell.isEmpty()) return "-";
        return cell.replaceAll("[\\r\\n\\t]+", " ");
    }
}
