package io.enclave.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PinnedTlsTest {
    static final TlsIdentity SERVER = TlsIdentity.generate("server", List.of("127.0.0.1"), Duration.ofDays(1));
    static final TlsIdentity CLIENT = TlsIdentity.generate("client", List.of(), Duration.ofDays(1));
    static final TlsIdentity STRANGER = TlsIdentity.generate("server", List.of("127.0.0.1"), Duration.ofDays(1));

    /** One byte from client to server over a handshake; the server's answer byte comes back. */
    private static int exchange(SSLContext serverContext, boolean needClientAuth, SSLContext clientContext) throws Exception {
        try (SSLServerSocket listener = (SSLServerSocket) serverContext.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            listener.setNeedClientAuth(needClientAuth);
            CompletableFuture<Integer> served = CompletableFuture.supplyAsync(() -> {
                try (SSLSocket s = (SSLSocket) listener.accept()) {
                    int b = s.getInputStream().read();
                    s.getOutputStream().write(b + 1);
                    s.getOutputStream().flush();
                    return b;
                } catch (IOException e) {
                    return -1;
                }
            });
            try (SSLSocket s = (SSLSocket) clientContext.getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
                s.getOutputStream().write(41);
                s.getOutputStream().flush();
                int answer = s.getInputStream().read();
                assertThat(served.get()).isEqualTo(41);
                return answer;
            }
        }
    }

    @Test
    void peersPresentingThePinnedCertificatesTalk() throws Exception {
        int answer = exchange(PinnedTls.server(SERVER, List.of(CLIENT.certificate())), true,
                PinnedTls.client(CLIENT, SERVER.certificate()));
        assertThat(answer).isEqualTo(42);
    }

    @Test
    void aServerWithAnotherKeyIsRefusedEvenWithTheSameNameAndAddress() {
        assertThatThrownBy(() -> exchange(PinnedTls.server(STRANGER, List.of()), false,
                PinnedTls.client(null, SERVER.certificate())))
                .isInstanceOf(IOException.class);
    }

    @Test
    void aClientWithoutThePinnedCertificateIsRefused() {
        SSLContext server = PinnedTls.server(SERVER, List.of(CLIENT.certificate()));
        assertThatThrownBy(() -> exchange(server, true, PinnedTls.client(STRANGER, SERVER.certificate())))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> exchange(server, true, PinnedTls.client(null, SERVER.certificate())))
                .isInstanceOf(IOException.class);
    }

    @Test
    void aFingerprintPinAcceptsExactlyThatServer() throws Exception {
        SSLContext server = PinnedTls.server(SERVER, List.of());
        assertThat(exchange(server, false, PinnedTls.clientPinnedByFingerprint(null, SERVER.fingerprint()))).isEqualTo(42);
        String withColons = SERVER.fingerprint().toUpperCase().replaceAll("(..)(?!$)", "$1:");
        assertThat(exchange(server, false, PinnedTls.clientPinnedByFingerprint(null, withColons))).isEqualTo(42);
        assertThatThrownBy(() -> exchange(server, false, PinnedTls.clientPinnedByFingerprint(null, STRANGER.fingerprint())))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> PinnedTls.clientPinnedByFingerprint(null, "abc")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void identityIsWrittenOwnerOnlyAndReadBackTheSame(@TempDir Path dir) throws Exception {
        TlsIdentity first = TlsIdentity.loadOrCreate(dir, "agent", "host1", List.of("10.0.0.1"));
        TlsIdentity again = TlsIdentity.loadOrCreate(dir, "agent", "host1", List.of("10.0.0.1"));
        assertThat(again.fingerprint()).isEqualTo(first.fingerprint()).hasSize(64);
        assertThat(again.privateKey().getEncoded()).isEqualTo(first.privateKey().getEncoded());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("agent.key")))).isEqualTo("rw-------");
        assertThat(Pem.certificate(first.certificatePem())).isEqualTo(first.certificate());
    }

    @Test
    void garbageIsNotACertificate() {
        assertThatThrownBy(() -> Pem.certificate("hello")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("CERTIFICATE");
        assertThatThrownBy(() -> Pem.certificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an X.509 certificate");
    }
}
