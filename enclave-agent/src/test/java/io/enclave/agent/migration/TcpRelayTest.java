package io.enclave.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.enclave.agent.fs.FileTrees;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The relays without QEMU: a fake "QEMU" on a unix socket behind a destination relay, clients that are the source
 * relay, a plain TCP client, TLS clients with the wrong token or the wrong pin, and a destination impostor.
 */
class TcpRelayTest {
    static final TlsIdentity DESTINATION = TlsIdentity.generate("destination", List.of(), Duration.ofDays(1));
    static final TlsIdentity IMPOSTOR = TlsIdentity.generate("destination", List.of(), Duration.ofDays(1));
    static final String VM = "vm-mt9relay";

    Path dir;
    byte[] token;
    final List<AutoCloseable> open = new ArrayList<>();
    final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    final AtomicInteger qemuConnections = new AtomicInteger();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "mt9relay");
        token = new byte[TcpRelay.TOKEN_BYTES];
        ThreadLocalRandom.current().nextBytes(token);
        logged.start();
        ((Logger) LoggerFactory.getLogger(TcpRelay.class)).addAppender(logged);
    }

    @AfterEach
    void tearDown() throws Exception {
        ((Logger) LoggerFactory.getLogger(TcpRelay.class)).detachAppender(logged);
        for (AutoCloseable c : open.reversed()) c.close();
        FileTrees.delete(dir);
    }

    /**
     * A fake QEMU: per connection sends {@code head} at once, reads everything to the end, then answers the SHA-256
     * of what it read and closes (so its answer comes after the client's half-close).
     */
    Path fakeQemu(byte[] head) throws IOException {
        Path socket = dir.resolve("qemu.sock");
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        open.add(server);
        Thread.ofVirtual().start(() -> {
            while (true) {
                SocketChannel c;
                try {
                    c = server.accept();
                } catch (IOException e) {
                    return;
                }
                qemuConnections.incrementAndGet();
                Thread.ofVirtual().start(() -> {
                    try (c) {
                        write(c, head);
                        MessageDigest sha = MessageDigest.getInstance("SHA-256");
                        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                        while (c.read(b) >= 0) {
                            sha.update(b.array(), 0, b.position());
                            b.clear();
                        }
                        write(c, sha.digest());
                    } catch (Exception e) {
                        // the test sees a short answer
                    }
                });
            }
        });
        return socket;
    }

    static void write(SocketChannel c, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) c.write(b);
    }

    TcpRelay destination(Path qemu) {
        TcpRelay relay = TcpRelay.tlsToUnix(VM, VM + "-mig-in", "127.0.0.1", MigrationPortRangeTest.freeRange(20), DESTINATION,
                token, qemu);
        open.add(relay);
        return relay;
    }

    TcpRelay source(Path listen, int port, TlsIdentity pinned) {
        TcpRelay relay = TcpRelay.unixToTls(VM, VM + "-mig-out", listen, new InetSocketAddress("127.0.0.1", port),
                pinned.certificate(), token);
        open.add(relay);
        return relay;
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        ThreadLocalRandom.current().nextBytes(b);
        return b;
    }

    /** Reads until the peer closes; an error (reset) counts as closed too. Fails if nothing happens in 5 s. */
    static byte[] readUntilClosed(InputStream in) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] b = new byte[8192];
            try {
                int n;
                while ((n = in.read(b)) >= 0) got.write(b, 0, n);
            } catch (IOException e) {
                // closed by reset
            }
            return got.toByteArray();
        }).get(5, TimeUnit.SECONDS);
    }

    List<String> warnings() {
        return logged.list.stream().filter(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void carriesBothDirectionsThroughTlsWithHalfCloseAndTail() throws Exception {
        byte[] head = random(3 * 1024 * 1024 + 17);
        Path qemu = fakeQemu(head);
        TcpRelay dst = destination(qemu);
        Path out = dir.resolve("out.sock");
        source(out, dst.port(), DESTINATION);
        byte[] stream = random(5 * 1024 * 1024 + 5);
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(out))) {
            CompletableFuture<byte[]> answer = CompletableFuture.supplyAsync(() -> {
                try {
                    return readUntilClosed(Channels.newInputStream(c));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            write(c, stream);
            c.shutdownOutput(); // like QEMU's end of a stream: the answer must still come back
            byte[] got = answer.get(10, TimeUnit.SECONDS);
            assertThat(got.length).isEqualTo(head.length + 32);
            assertThat(java.util.Arrays.copyOf(got, head.length)).isEqualTo(head);
            assertThat(java.util.Arrays.copyOfRange(got, head.length, got.length))
                    .isEqualTo(MessageDigest.getInstance("SHA-256").digest(stream));
        }
        assertThat(qemuConnections.get()).isEqualTo(1);
        assertThat(warnings()).isEmpty();
    }

    @Test
    void refusesPlainTcpAndWrongOrMissingTokensWithoutTouchingQemu() throws Exception {
        TcpRelay dst = destination(fakeQemu(new byte[0]));
        // plain TCP, garbage where a ClientHello should be
        try (Socket plain = new Socket(InetAddress.getLoopbackAddress(), dst.port())) {
            plain.getOutputStream().write("QEVM\0\0\0\3garbage, not TLS".getBytes());
            plain.getOutputStream().flush();
            readUntilClosed(plain.getInputStream()); // closed within 5 s (at most a TLS alert comes back)
        }
        // TLS with the right pin but a wrong token, then garbage
        try (SSLSocket tls = tlsClient(dst.port(), DESTINATION)) {
            byte[] wrong = token.clone();
            wrong[TcpRelay.TOKEN_BYTES - 1] ^= 1;
            tls.getOutputStream().write(wrong);
            tls.getOutputStream().flush();
            try {
                tls.getOutputStream().write(random(4096));
                tls.getOutputStream().flush();
            } catch (IOException e) {
                // already closed by the relay: fine
            }
            assertThat(readUntilClosed(tls.getInputStream())).isEmpty();
        }
        // TLS, a token cut short, then the end
        try (SSLSocket tls = tlsClient(dst.port(), DESTINATION)) {
            tls.getOutputStream().write(token, 0, 5);
            tls.getOutputStream().flush();
            tls.shutdownOutput();
            assertThat(readUntilClosed(tls.getInputStream())).isEmpty();
        }
        assertThat(qemuConnections.get()).as("QEMU never saw a connection").isZero();
        List<String> warnings = warnings();
        assertThat(warnings).hasSize(3).allMatch(w -> w.contains(VM) && w.contains("refused a connection"));
        assertThat(warnings.get(1)).contains("wrong migration token");
        assertThat(warnings.get(2)).contains("no migration token");
        assertThat(String.join("\n", warnings)).doesNotContain(HexFormat.of().formatHex(token));

        // the right token does get through (the same relay, after all that)
        try (SSLSocket tls = tlsClient(dst.port(), DESTINATION)) {
            tls.getOutputStream().write(token);
            tls.getOutputStream().write("hello".getBytes());
            tls.getOutputStream().flush();
            tls.shutdownOutput();
            assertThat(readUntilClosed(tls.getInputStream()))
                    .isEqualTo(MessageDigest.getInstance("SHA-256").digest("hello".getBytes()));
        }
        assertThat(qemuConnections.get()).isEqualTo(1);
    }

    @Test
    void connectionsBeyondTheCapOfThoseWaitingForTheirTokenAreClosedAtOnce() throws Exception {
        TcpRelay dst = destination(fakeQemu(new byte[0]));
        List<SSLSocket> idle = new ArrayList<>();
        try {
            for (int i = 0; i < TcpRelay.MAX_AWAITING_TOKEN; i++) idle.add(tlsClient(dst.port(), DESTINATION));
            // one more, idle like the others: closed as soon as accepted, not after AUTH_TIMEOUT
            long started = System.nanoTime();
            try (Socket extra = new Socket(InetAddress.getLoopbackAddress(), dst.port())) {
                assertThat(readUntilClosed(extra.getInputStream())).isEmpty();
            }
            // while the idle ones hold every slot, even a genuine source is turned away
            try (Socket genuine = new Socket(InetAddress.getLoopbackAddress(), dst.port())) {
                assertThat(readUntilClosed(genuine.getInputStream())).isEmpty();
            }
            long tookMs = (System.nanoTime() - started) / 1_000_000;
            assertThat(tookMs).as("closed promptly").isLessThan(TcpRelay.AUTH_TIMEOUT.toMillis() / 4);
            assertThat(warnings()).hasSize(2).allMatch(w -> w.contains(VM) && w.contains("refused a connection from /127.0.0.1:")
                    && w.contains(TcpRelay.MAX_AWAITING_TOKEN + " connections are already waiting"));
        } finally {
            for (SSLSocket s : idle) s.close();
        }
        // the idle ones ended without a token: their slots are free again, and the genuine source gets through
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (warnings().size() < 2 + TcpRelay.MAX_AWAITING_TOKEN && System.nanoTime() < deadline) Thread.sleep(10);
        assertThat(warnings()).hasSize(2 + TcpRelay.MAX_AWAITING_TOKEN);
        try (SSLSocket tls = tlsClient(dst.port(), DESTINATION)) {
            tls.getOutputStream().write(token);
            tls.getOutputStream().write("after".getBytes());
            tls.getOutputStream().flush();
            tls.shutdownOutput();
            assertThat(readUntilClosed(tls.getInputStream()))
                    .isEqualTo(MessageDigest.getInstance("SHA-256").digest("after".getBytes()));
        }
        assertThat(qemuConnections.get()).isEqualTo(1);
    }

    @Test
    void aClientPinnedToAnotherCertificateCannotCompleteTheHandshake() throws Exception {
        TcpRelay dst = destination(fakeQemu(new byte[0]));
        try (SSLSocket tls = (SSLSocket) PinnedTls.client(null, IMPOSTOR.certificate()).getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), dst.port())) {
            assertThatThrownBy(tls::startHandshake).isInstanceOf(SSLHandshakeException.class)
                    .hasMessageContaining("not the one pinned");
        }
        assertThat(qemuConnections.get()).isZero();
    }

    @Test
    void theSourceRelayRefusesADestinationPresentingAnotherCertificate() throws Exception {
        SSLServerSocket impostor = (SSLServerSocket) PinnedTls.server(IMPOSTOR, List.of()).getServerSocketFactory()
                .createServerSocket(0, 5, InetAddress.getLoopbackAddress());
        open.add(impostor);
        CompletableFuture<Integer> received = CompletableFuture.supplyAsync(() -> {
            try (SSLSocket s = (SSLSocket) impostor.accept()) {
                s.setSoTimeout(5000);
                return s.getInputStream().readAllBytes().length;
            } catch (IOException e) {
                return -1; // the handshake failed on this side too
            }
        });
        Path out = dir.resolve("out.sock");
        source(out, impostor.getLocalPort(), DESTINATION);
        try (SocketChannel qemu = SocketChannel.open(UnixDomainSocketAddress.of(out))) {
            write(qemu, random(64 * 1024)); // QEMU's stream, which must not reach the impostor
            assertThat(readUntilClosed(Channels.newInputStream(qemu))).as("QEMU's connection is closed").isEmpty();
        }
        assertThat(received.get(10, TimeUnit.SECONDS)).as("bytes the impostor got").isLessThanOrEqualTo(0);
        assertThat(warnings()).singleElement().asString().contains(VM).contains("cannot reach the destination");

        // and the same relay set-up pinned to the certificate the server really has works
        SSLServerSocket real = (SSLServerSocket) PinnedTls.server(IMPOSTOR, List.of()).getServerSocketFactory()
                .createServerSocket(0, 5, InetAddress.getLoopbackAddress());
        open.add(real);
        CompletableFuture<Integer> got = CompletableFuture.supplyAsync(() -> {
            try (SSLSocket s = (SSLSocket) real.accept()) {
                return s.getInputStream().readAllBytes().length;
            } catch (IOException e) {
                return -1;
            }
        });
        Path out2 = dir.resolve("out2.sock");
        source(out2, real.getLocalPort(), IMPOSTOR);
        try (SocketChannel qemu = SocketChannel.open(UnixDomainSocketAddress.of(out2))) {
            write(qemu, random(1000));
            qemu.shutdownOutput();
            assertThat(got.get(10, TimeUnit.SECONDS)).as("token + stream").isEqualTo(TcpRelay.TOKEN_BYTES + 1000);
        }
    }

    static SSLSocket tlsClient(int port, TlsIdentity pinned) throws IOException {
        SSLSocket s = (SSLSocket) PinnedTls.client(null, pinned.certificate()).getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), port);
        s.startHandshake();
        return s;
    }
}
