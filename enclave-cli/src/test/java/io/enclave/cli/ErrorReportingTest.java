package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ErrorReportingTest {
    @Test
    void printsTheMessageAndOneLinePerFieldAndExitsOne() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.on("POST", "/vms", 400, """
                    {"error":{"status":400,"code":"invalid_request","message":"the request is invalid",
                      "fields":[{"field":"name","reason":"must be a DNS label"},
                                {"field":"memoryMib","reason":"must be at least 64, got 1"}]}}""");
            Cli.Result r = Cli.run(api.env(), "vm", "create", "Web", "--vcpus", "1", "--memory-mib", "1",
                    "--disk-gib", "1", "--image", "alpine");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("""
                    error: the request is invalid
                      name: must be a DNS label
                      memoryMib: must be at least 64, got 1
                    """);
            assertThat(r.out()).isEmpty();
        }
    }

    @Test
    void serverErrorsExitOneWithTheirMessage() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.on("GET", "/hosts", 500,
                    "{\"error\":{\"status\":500,\"code\":\"internal_error\",\"message\":\"database is down\",\"fields\":[]}}");
            Cli.Result r = Cli.run(api.env(), "host", "list");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("error: database is down\n");
        }
    }

    @Test
    void anAnswerWithoutErrorBodyIsReportedWithItsStatus() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.onText("GET", "/images", 502, "text/html", "<html>\n<body>Bad Gateway</body></html>");
            Cli.Result r = Cli.run(api.env(), "image", "list");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err()).isEqualTo("error: HTTP 502 from GET /images: <html> <body>Bad Gateway</body></html>\n");
        }
    }

    @Test
    void apiExceptionKeepsStatusCodeAndFields() {
        ApiException e = ApiClient.errorOf(422, """
                {"error":{"status":422,"code":"quota_exceeded","message":"over quota",
                  "fields":[{"field":"vcpus","reason":"4 more than the 2 left"}]}}""".getBytes(), "POST", "/vms");
        assertThat(e.status()).isEqualTo(422);
        assertThat(e.code()).isEqualTo("quota_exceeded");
        assertThat(e.fields()).containsExactly(new ApiException.FieldError("vcpus", "4 more than the 2 left"));
        assertThat(e.exitCode()).isEqualTo(1);
    }

    @Test
    void connectionRefusedNamesTheUrl() throws IOException {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Cli.Result r = Cli.run(Map.of("ENCLAVE_URL", "http://127.0.0.1:" + port, "ENCLAVE_TOKEN", "t"), "vm", "list");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).startsWith("error: cannot connect to the Enclave API at http://127.0.0.1:" + port
                + "/v1: connection refused");
    }

    @Test
    void deleteWithNoContentPrintsAConfirmation() throws IOException {
        try (FakeApi api = new FakeApi()) {
            api.on("DELETE", "/tenants/t-1", 204, "");
            Cli.Result table = Cli.run(api.env(), "tenant", "delete", "t-1");
            Cli.Result json = Cli.run(api.env(), "-o", "json", "tenant", "delete", "t-1");
            assertThat(table.exitCode()).isZero();
            assertThat(table.out()).isEqualTo("tenant t-1 deleted\n");
            assertThat(json.exitCode()).isZero();
            assertThat(json.out()).isEmpty();
        }
    }
}
