package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.tls.TlsIdentity;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The CLI against a controller with a self-signed certificate (enclave-server --tls), pinned by fingerprint. */
class PinnedControllerTest {
    static final TlsIdentity CONTROLLER = TlsIdentity.generate("enclave-controller", List.of("127.0.0.1"), Duration.ofDays(1));
    static final TlsIdentity IMPOSTOR = TlsIdentity.generate("enclave-controller", List.of("127.0.0.1"), Duration.ofDays(1));

    FakeApi api;

    @BeforeEach
    void setUp() throws Exception {
        api = new FakeApi(CONTROLLER);
        api.on("GET", "/vms", 200, "{\"items\":[],\"next\":null}");
    }

    @AfterEach
    void tearDown() {
        api.close();
    }

    Map<String, String> env(String fingerprint) {
        Map<String, String> env = new HashMap<>(Map.of("ENCLAVE_URL", api.url() + "/v1", "ENCLAVE_TOKEN", "secret-token"));
        if (fingerprint != null) env.put("ENCLAVE_FINGERPRINT", fingerprint);
        return env;
    }

    @Test
    void theControllersFingerprintLetsTheCliIn() {
        Cli.Result byEnv = Cli.run(env(CONTROLLER.fingerprint()), "vm", "list");
        String withColons = CONTROLLER.fingerprint().toUpperCase().replaceAll("(..)(?!$)", "$1:");
        Cli.Result byFlag = Cli.run(env(null), "--fingerprint", withColons, "vm", "list");

        assertThat(byEnv.exitCode()).as(byEnv.err()).isZero();
        assertThat(byFlag.exitCode()).as(byFlag.err()).isZero();
        assertThat(api.requests("GET", "/vms")).hasSize(2);
    }

    @Test
    void anotherCertificateOrNoPinIsRefusedBeforeAnythingIsSent() {
        Cli.Result wrongPin = Cli.run(env(IMPOSTOR.fingerprint()), "vm", "list");
        Cli.Result noPin = Cli.run(env(null), "vm", "list");

        assertThat(wrongPin.exitCode()).isNotZero();
        assertThat(wrongPin.err()).contains("certificate this client does not trust").contains("--fingerprint");
        assertThat(noPin.exitCode()).as("a self-signed certificate is not trusted by the system's CAs").isNotZero();
        assertThat(api.requests()).as("the token never reached the server").isEmpty();
    }

    @Test
    void aBadFingerprintOrOneForPlainHttpIsAUsageError() {
        Cli.Result garbage = Cli.run(env("abc123"), "vm", "list");
        Map<String, String> plain = new HashMap<>(env(CONTROLLER.fingerprint()));
        plain.put("ENCLAVE_URL", "http://127.0.0.1:1/v1");
        Cli.Result overHttp = Cli.run(plain, "vm", "list");

        assertThat(garbage.exitCode()).isEqualTo(2);
        assertThat(garbage.err()).contains("fingerprint").contains("64 hex digits");
        assertThat(overHttp.exitCode()).isEqualTo(2);
        assertThat(overHttp.err()).contains("needs an https:// API URL");
    }
}
