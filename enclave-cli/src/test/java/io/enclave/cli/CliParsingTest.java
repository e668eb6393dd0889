package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CliParsingTest {
    private static final Map<String, String> NO_ENV = Map.of();

    @Test
    void missingUrlIsAUsageErrorThatSaysHowToGiveIt() {
        Cli.Result r = Cli.run(Map.of("ENCLAVE_TOKEN", "t"), "whoami");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).startsWith("error: no API URL: pass --url or set ENCLAVE_URL");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void missingTokenIsAUsageErrorThatSaysHowToGiveIt() {
        Cli.Result r = Cli.run(NO_ENV, "--url", "http://127.0.0.1:1", "vm", "list");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("error: no API token: pass --token or set ENCLAVE_TOKEN\n");
    }

    @Test
    void unknownSubcommandIsAUsageError() {
        Cli.Result r = Cli.run(NO_ENV, "vm", "destroy", "vm-1");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("error: Unmatched argument").contains("'destroy'")
                .contains("Try 'enclave vm --help' for usage.");
    }

    @Test
    void aGroupWithoutSubcommandIsAUsageError() {
        Cli.Result r = Cli.run(NO_ENV, "tenant");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required subcommand");
    }

    @Test
    void missingRequiredOptionIsAUsageError() {
        Cli.Result r = Cli.run(NO_ENV, "vm", "create", "web", "--vcpus", "2", "--memory-mib", "512", "--disk-gib", "1");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("Missing required option: '--image=NAME'");
    }

    @Test
    void nonNumericValueIsAUsageError() {
        Cli.Result r = Cli.run(NO_ENV, "tenant", "create", "acme", "--vcpus", "many", "--memory-mib", "1",
                "--disk-gib", "1", "--vms", "1");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("'many' is not an int");
    }

    @Test
    void unknownOutputFormatIsAUsageError() {
        Cli.Result r = Cli.run(NO_ENV, "-o", "yaml", "whoami");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("yaml").contains("table, json");
    }

    @Test
    void quotaWithoutAnyLimitIsAUsageError() throws IOException {
        try (FakeApi api = new FakeApi()) {
            Cli.Result r = Cli.run(api.env(), "tenant", "quota", "t-1");
            assertThat(r.exitCode()).isEqualTo(2);
            assertThat(r.err()).contains("give at least one of --vcpus");
            assertThat(api.requests()).isEmpty();
        }
    }

    @Test
    void helpListsTheCommandGroupsAndExitsZero() {
        Cli.Result r = Cli.run(NO_ENV, "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("whoami", "tenant", "token", "vm", "op", "image", "host", "--output");
    }

    @Test
    void globalOptionsWorkBeforeAndAfterTheSubcommand() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.on("GET", "/whoami", 200, "{\"role\":\"admin\",\"tenantId\":null,\"tokenId\":\"tok-1\"}");
            Cli.Result before = Cli.run(NO_ENV, "--url", api.url(), "--token", "a", "-o", "json", "whoami");
            Cli.Result after = Cli.run(NO_ENV, "whoami", "--url", api.url() + "/v1/", "--token", "b", "--output", "JSON");
            assertThat(before.exitCode()).isZero();
            assertThat(after.exitCode()).isZero();
            assertThat(before.out()).contains("\"role\": \"admin\"");
            assertThat(after.out()).isEqualTo(before.out());
            assertThat(api.requests()).extracting(r -> r.header("Authorization"))
                    .containsExactly("Bearer a", "Bearer b");
            assertThat(api.requests()).extracting(FakeApi.Request::path).containsOnly("/v1/whoami");
        }
    }

    @Test
    void execTakesTheCommandAfterDoubleDashWithoutExpandingAtFiles() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.on("POST", "/vms/vm-1/exec", 200, "{\"exitCode\":0,\"stdout\":\"\",\"stderr\":\"\",\"timedOut\":false}");
            Cli.Result r = Cli.run(api.env(), "vm", "exec", "vm-1", "--timeout", "5", "--", "ls", "-l", "@/etc/passwd");
            assertThat(r.exitCode()).isZero();
            assertThat(api.requests().getFirst().body())
                    .isEqualTo("{\"command\":[\"ls\",\"-l\",\"@/etc/passwd\"],\"timeoutSeconds\":5}");
        }
    }
}
