package io.enclave.server.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.agent.simulator.SimulatedHostAgent;
import io.enclave.core.host.HostInfo;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The agent's RPC on loopback: HTTPS only, and only for the client certificate it was told to trust (none
 * before the first join; the controller's after it, switched without a restart).
 */
class AgentRpcServerTest {
    private static final TlsIdentity AGENT = TlsIdentity.generate("agent", List.of("127.0.0.1"), Duration.ofDays(1));
    private static final TlsIdentity CONTROLLER = TlsIdentity.generate("controller", List.of(), Duration.ofDays(1));
    private static final TlsIdentity OTHER_CONTROLLER = TlsIdentity.generate("other", List.of(), Duration.ofDays(1));
    private AgentRpcServer rpc;

    @AfterEach
    void stop() {
        if (rpc != null) rpc.close();
    }

    @Test
    void acceptsOnlyTheTrustedControllerAndSwitchesWhenToldTo() throws Exception {
        rpc = new AgentRpcServer(AGENT, null);
        int port = rpc.start(new SimulatedHostAgent(new HostInfo("host-rpctest1", "t", 2, 1024, "simulated")), "127.0.0.1", 0);
        URI info = URI.create("https://127.0.0.1:" + port + "/agent/v1/call/info");

        // Before any join no client gets in, not even the controller-to-be.
        assertThatThrownBy(() -> call(PinnedTls.client(CONTROLLER, AGENT.certificate()), info)).isInstanceOf(IOException.class);

        rpc.trustController(CONTROLLER.certificate());
        HttpResponse<String> ok = call(PinnedTls.client(CONTROLLER, AGENT.certificate()), info);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.body()).contains("host-rpctest1");
        assertThatThrownBy(() -> call(PinnedTls.client(null, AGENT.certificate()), info)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> call(PinnedTls.client(OTHER_CONTROLLER, AGENT.certificate()), info)).isInstanceOf(IOException.class);

        // A controller with a new certificate (it rejoined): the old one is out.
        rpc.trustController(OTHER_CONTROLLER.certificate());
        assertThat(call(PinnedTls.client(OTHER_CONTROLLER, AGENT.certificate()), info).statusCode()).isEqualTo(200);
        assertThatThrownBy(() -> call(PinnedTls.client(CONTROLLER, AGENT.certificate()), info)).isInstanceOf(IOException.class);

        // Plain HTTP on the port: no HTTP answer.
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("POST /agent/v1/call/info HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer;
            try {
                answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            } catch (IOException reset) {
                answer = "";
            }
            assertThat(answer).doesNotStartWith("HTTP/").doesNotContain("host-rpctest1");
        }
    }

    @Test
    void aRestartedAgentTrustsTheControllerItKnewFromTheStart() throws Exception {
        rpc = new AgentRpcServer(AGENT, CONTROLLER.certificate());
        int port = rpc.start(new SimulatedHostAgent(new HostInfo("host-rpctest2", "t", 2, 1024, "simulated")), "127.0.0.1", 0);
        URI info = URI.create("https://127.0.0.1:" + port + "/agent/v1/call/info");
        assertThat(call(PinnedTls.client(CONTROLLER, AGENT.certificate()), info).body()).contains("host-rpctest2");
        assertThatThrownBy(() -> call(PinnedTls.client(OTHER_CONTROLLER, AGENT.certificate()), info)).isInstanceOf(IOException.class);
    }

    private static HttpResponse<String> call(SSLContext tls, URI uri) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().sslContext(tls).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        return client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString("[]")).build(), HttpResponse.BodyHandlers.ofString());
    }
}
