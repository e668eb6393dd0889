package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PrinterTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

    private Printer printer(OutputFormat format) {
        return new Printer(new PrintStream(bytes, true, StandardCharsets.UTF_8), format);
    }

    private String printed() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static JsonNode json(String text) throws IOException {
        return Json.read(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void vmListTableHasTheAgreedColumns() throws IOException {
        JsonNode vms = json("""
                [{"id":"vm-1","name":"web","phase":"running","desiredState":"running","vcpus":2,"memoryMib":2048,
                  "diskGib":20,"hostId":"host-a","guestReady":true,"tenantId":"t-1",
                  "nics":[{"networkId":"net-1","mac":"52:54:00:00:00:01","ip":"10.0.0.2"},
                          {"networkId":"net-2","mac":"52:54:00:00:00:02","ip":"10.1.0.2"}]},
                 {"id":"vm-22","name":"db","phase":"pending","desiredState":"running","vcpus":16,"memoryMib":65536,
                  "diskGib":500,"hostId":null,"guestReady":false,"nics":[]}]""");
        printer(OutputFormat.table).list(vms, Views.VMS);
        assertThat(printed()).isEqualTo("""
                ID     NAME  PHASE    DESIRED  VCPUS       MEM    DISK  HOST    IP        GUEST
                vm-1   web   running  running      2   2048MiB   20GiB  host-a  10.0.0.2  ready
                vm-22  db    pending  running     16  65536MiB  500GiB  -       -         -
                """);
    }

    @Test
    void tenantListShowsUsageOfQuota() throws IOException {
        printer(OutputFormat.table).list(json("""
                [{"id":"t-1","name":"acme","quota":{"vcpus":8,"memoryMib":8192,"diskGib":100,"vms":4},
                  "usage":{"vcpus":2,"memoryMib":2048,"diskGib":20,"vms":1},"createdAt":"2025-01-02T03:04:05.123456Z"}]"""),
                Views.TENANTS);
        assertThat(printed()).isEqualTo("""
                ID   NAME  VCPUS           MEM       DISK  VMS  CREATED
                t-1  acme    2/8  2048/8192MiB  20/100GiB  1/4  2025-01-02T03:04:05Z
                """);
    }

    @Test
    void showPrintsAlignedKeyValueLinesWithNestedObjectsDotted() throws IOException {
        printer(OutputFormat.table).show(json("""
                {"id":"t-1","name":"acme","quota":{"vcpus":8,"vms":4},"message":null}"""));
        assertThat(printed()).isEqualTo("""
                id:          t-1
                name:        acme
                quota.vcpus: 8
                quota.vms:   4
                message:     -
                """);
    }

    @Test
    void jsonOutputIsTheAnswerUnchangedAndPretty() throws IOException {
        String answer = """
                {"items":[{"id":"vm-1","generation":9007199254740993,"message":null,"extra":{"b":1,"a":[true]}}],"next":null}""";
        printer(OutputFormat.json).list(json(answer), json(answer).path("items"), Views.VMS);
        assertThat(json(printed())).isEqualTo(json(answer));
        assertThat(printed()).startsWith("{\n  \"items\": [\n").contains("9007199254740993")
                .containsSubsequence("\"b\"", "\"a\"");
    }

    @Test
    void noteIsSilentInJsonOutput() {
        printer(OutputFormat.json).note("tenant t-1 deleted");
        assertThat(printed()).isEmpty();
    }

    @Test
    void sizesAreShownInBinaryUnits() {
        assertThat(Units.bytes(512)).isEqualTo("512B");
        assertThat(Units.bytes(10L << 30)).isEqualTo("10GiB");
        assertThat(Units.bytes(1536L << 20)).isEqualTo("1.5GiB");
    }
}
