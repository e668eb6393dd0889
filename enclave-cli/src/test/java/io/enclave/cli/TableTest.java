package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class TableTest {
    private static final List<Table.Column> COLUMNS = List.of(
            new Table.Column("ID", false), new Table.Column("VCPUS", true), new Table.Column("NAME", false));

    @Test
    void alignsColumnsToTheWidestCellWithTwoSpacesBetween() {
        String text = new Table(COLUMNS)
                .row(List.of("vm-1", "2", "web"))
                .row(List.of("vm-123456", "16", "database-primary"))
                .render();
        assertThat(text).isEqualTo("""
                ID         VCPUS  NAME
                vm-1           2  web
                vm-123456     16  database-primary
                """);
    }

    @Test
    void showsMissingCellsAsDashAndKeepsEachRowOnOneLine() {
        String text = new Table(COLUMNS).row(Arrays.asList(null, "", "two\nlines")).render();
        assertThat(text).isEqualTo("""
                ID  VCPUS  NAME
                -       -  two lines
                """);
    }

    @Test
    void anEmptyTableIsItsHeading() {
        assertThat(new Table(COLUMNS).render()).isEqualTo("ID  VCPUS  NAME\n");
    }

    @Test
    void linesHaveNoTrailingSpaces() {
        String text = new Table(List.of(new Table.Column("A", false), new Table.Column("LONG-HEADING", false)))
                .row(List.of("aaaa", "x")).render();
        assertThat(text.lines()).allSatisfy(line -> assertThat(line).doesNotEndWith(" "));
    }

    @Test
    void refusesRowsOfTheWrongWidth() {
        assertThatThrownBy(() -> new Table(COLUMNS).row(List.of("a", "b")))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
