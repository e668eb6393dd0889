package io.enclave.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import org.junit.jupiter.api.Test;

/** How the agent tells "the controller is not running" (no self-fencing) from "I am cut off" (self-fencing). */
class ControllerLinkTest {

    @Test
    void aPortNobodyListensOnRefusesAListeningOneDoesNot() throws Exception {
        try (ServerSocket listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            URI up = URI.create("http://127.0.0.1:" + listening.getLocalPort() + "/v1/");
            assertThat(ControllerLink.refusesConnections(up)).isFalse();
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        assertThat(ControllerLink.refusesConnections(URI.create("http://127.0.0.1:" + port + "/v1/"))).isTrue();
    }
}
