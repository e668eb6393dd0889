package io.enclave.agent.migration;

import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards every connection accepted on one socket to another, byte for byte, both ways, with TLS 1.3 on the
 * TCP leg: on the destination a TCP port to a QEMU unix socket, on the source a unix socket QEMU connects to, to
 * the destination's TCP port. QEMU may run in a tenant network namespace where the hosts' underlay is
 * unreachable; unix sockets in the VM's directory are reachable from any namespace, so the agent (in the host
 * namespace) carries the bytes, and QEMU only ever sees its unix sockets.
 *
 * <p>The TCP leg is authenticated both ways: the destination presents a certificate made for this one migration,
 * which the source pins (any other certificate fails the handshake before a byte is sent); the source then sends
 * the migration's one-time token ({@link #TOKEN_BYTES} bytes) as the first bytes inside TLS, and only then does
 * the destination connect to QEMU. A failed handshake or a missing or wrong token closes the connection without
 * touching QEMU (a warning names the VM). Handshake and token must arrive within {@link #AUTH_TIMEOUT}, and at
 * most {@link #MAX_AWAITING_TOKEN} connections may be at that stage at once. The destination's port is the first
 * free one of a {@link MigrationPortRange}.
 *
 * <p>Half-close: when one side ends its stream the relay ends the other side's output only (TLS 1.3
 * close_notify then TCP FIN; {@code shutdownOutput} on the unix socket), and keeps copying the other direction
 * until it ends too. JDK 11+ keeps a TLS 1.3 connection's write side open after the peer's close_notify, so an
 * answer after the peer's end (an NBD server's last replies, QEMU's closing of an incoming migration) still
 * arrives. One virtual thread accepts; per connection one authenticates, then two copy (blocking sockets).
 */
public final class TcpRelay implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);
    private static final int BUFFER = 256 * 1024;
    /** Length of a migration's one-time token, sent raw as the first bytes of every connection. */
    public static final int TOKEN_BYTES = 32;
    /** A peer must complete the handshake and (destination) send the token within this. */
    public static final Duration AUTH_TIMEOUT = Duration.ofSeconds(10);
    /**
     * Destination: at most this many connections at a time may be in their handshake or waiting for their token;
     * more are closed as soon as they are accepted, so that idle connections cannot pile up threads and sockets
     * for {@link #AUTH_TIMEOUT} each. A genuine source opens one connection per relay.
     */
    public static final int MAX_AWAITING_TOKEN = 8;

    private final String vmId;
    private final String name;
    private final Closeable listener;
    private final int tcpPort;
    private final Path unixListenPath;
    private final Set<Closeable> connections = ConcurrentHashMap.newKeySet();
    private final Set<Thread> workers = ConcurrentHashMap.newKeySet();
    private final AtomicInteger awaitingToken = new AtomicInteger();
    private volatile boolean closed;
    /** The thread accepting on the listener: close waits for it, since only then is the port free again. */
    private volatile Thread acceptor;

    private TcpRelay(String vmId, String name, Closeable listener, int tcpPort, Path unixListenPath) {
        this.vmId = vmId;
        this.name = name;
        this.listener = listener;
        this.tcpPort = tcpPort;
        this.unixListenPath = unixListenPath;
    }

    /**
     * Destination: listens on {@code address} at the first free port of {@code ports} for TLS presenting
     * {@code identity}, and forwards connections that sent {@code token} to the unix socket {@code target}.
     */
    public static TcpRelay tlsToUnix(String vmId, String name, String address, MigrationPortRange ports,
            TlsIdentity identity, byte[] token, Path target) {
        checkToken(token);
        SSLContext tls = PinnedTls.server(identity, List.of());
        ServerSocket server;
        try {
            server = ports.bindFirstFree(address);
        } catch (IOException e) {
            throw new IllegalStateException("relay " + name + ": " + e.getMessage(), e);
        }
        TcpRelay relay = new TcpRelay(vmId, name, server, server.getLocalPort(), null);
        byte[] expected = token.clone();
        UnixDomainSocketAddress upstream = UnixDomainSocketAddress.of(target);
        relay.acceptor = Thread.ofVirtual().name("relay-" + name).start(() -> relay.acceptTcp(server, raw -> relay.serveIncoming(raw, tls,
                expected, upstream)));
        return relay;
    }

    /**
     * Source: listens on the unix socket {@code listen} (replacing a stale file) and forwards each connection
     * over TLS to {@code target}, which must present exactly {@code pinned}, sending {@code token} first.
     */
    public static TcpRelay unixToTls(String vmId, String name, Path listen, InetSocketAddress target,
            X509Certificate pinned, byte[] token) {
        checkToken(token);
        SSLContext tls = PinnedTls.client(null, pinned);
        ServerSocketChannel server;
        try {
            Files.deleteIfExists(listen);
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                server.bind(UnixDomainSocketAddress.of(listen));
            } catch (IOException e) {
                server.close();
                throw e;
            }
        } catch (IOException e) {
            throw new IllegalStateException("relay " + name + ": cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        TcpRelay relay = new TcpRelay(vmId, name, server, -1, listen);
        byte[] secret = token.clone();
        relay.acceptor = Thread.ofVirtual().name("relay-" + name).start(() -> relay.acceptUnix(server, local -> relay.serveOutgoing(local,
                tls, target, secret)));
        return relay;
    }

    private static void checkToken(byte[] token) {
        if (token == null || token.length != TOKEN_BYTES) {
            throw new IllegalArgumentException("a migration token has " + TOKEN_BYTES + " bytes");
        }
    }

    /** The TCP port this relay listens on (destination relays only). */
    public int port() {
        if (tcpPort < 0) throw new IllegalStateException("relay " + name + " has no TCP port");
        return tcpPort;
    }

    private interface Handler<T> {
        void serve(T connection);
    }

    /** Destination: a connection over {@link #MAX_AWAITING_TOKEN} still authenticating is closed at once. */
    private void acceptTcp(ServerSocket server, Handler<Socket> handler) {
        while (!closed) {
            Socket raw;
            try {
                raw = server.accept();
            } catch (IOException e) {
                if (!closed) log.warn("vm {}: relay {}: accept failed, relay stops: {}", vmId, name, e.getMessage());
                return;
            }
            if (awaitingToken.incrementAndGet() > MAX_AWAITING_TOKEN) {
                awaitingToken.decrementAndGet();
                log.warn("vm {}: relay {}: refused a connection from {}: {} connections are already waiting to send their"
                        + " token", vmId, name, raw.getRemoteSocketAddress(), MAX_AWAITING_TOKEN);
                closeQuietly(raw);
                continue;
            }
            connections.add(raw);
            startWorker(() -> handler.serve(raw));
        }
    }

    private void acceptUnix(ServerSocketChannel server, Handler<SocketChannel> handler) {
        while (!closed) {
            SocketChannel local;
            try {
                local = server.accept();
            } catch (IOException e) {
                if (!closed) log.warn("vm {}: relay {}: accept failed, relay stops: {}", vmId, name, e.getMessage());
                return;
            }
            connections.add(local);
            startWorker(() -> handler.serve(local));
        }
    }

    private void startWorker(Runnable work) {
        Thread worker = Thread.ofVirtual().name("relay-" + name + "-conn").unstarted(() -> {
            try {
                work.run();
            } finally {
                workers.remove(Thread.currentThread());
            }
        });
        workers.add(worker);
        worker.start();
    }

    /** Destination: handshake, token, then QEMU's unix socket. */
    private void serveIncoming(Socket raw, SSLContext tls, byte[] expected, UnixDomainSocketAddress upstream) {
        TlsEnd remote;
        try {
            remote = authenticate(raw, tls, expected);
        } finally {
            awaitingToken.decrementAndGet();
        }
        if (remote == null) return;
        SocketChannel qemu;
        try {
            qemu = SocketChannel.open(StandardProtocolFamily.UNIX);
            connections.add(qemu);
            qemu.connect(upstream);
        } catch (IOException e) {
            log.warn("vm {}: relay {}: cannot connect to {}, dropping the connection: {}", vmId, name, upstream, e.getMessage());
            closeQuietly(raw);
            return;
        }
        relay(remote, new UnixEnd(qemu));
    }

    /** The TLS connection once the peer sent the token within {@link #AUTH_TIMEOUT}; else null, and it is closed. */
    private TlsEnd authenticate(Socket raw, SSLContext tls, byte[] expected) {
        SocketAddress peer = raw.getRemoteSocketAddress();
        try {
            raw.setSoTimeout((int) AUTH_TIMEOUT.toMillis());
            SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(raw, null, raw.getPort(), true);
            ssl.setUseClientMode(false);
            ssl.startHandshake();
            TlsEnd remote = new TlsEnd(ssl, raw);
            byte[] token = remote.in.readNBytes(TOKEN_BYTES);
            if (!MessageDigest.isEqual(token, expected)) {
                log.warn("vm {}: relay {}: refused a connection from {}: {}", vmId, name, peer,
                        token.length < TOKEN_BYTES ? "it sent no migration token" : "wrong migration token");
                closeQuietly(raw);
                return null;
            }
            raw.setSoTimeout(0);
            return remote;
        } catch (IOException e) {
            if (!closed) {
                log.warn("vm {}: relay {}: refused a connection from {}: TLS handshake or token failed: {}", vmId, name,
                        peer, e.getMessage());
            }
            closeQuietly(raw);
            return null;
        }
    }

    /** Source: TLS to the destination (pinned certificate), token, then copy. */
    private void serveOutgoing(SocketChannel local, SSLContext tls, InetSocketAddress target, byte[] token) {
        Socket raw = new Socket();
        connections.add(raw);
        TlsEnd remote;
        try {
            raw.connect(target, (int) AUTH_TIMEOUT.toMillis());
            raw.setSoTimeout((int) AUTH_TIMEOUT.toMillis());
            SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(raw, target.getHostString(), target.getPort(), true);
            ssl.startHandshake();
            remote = new TlsEnd(ssl, raw);
            remote.out.write(token);
            remote.out.flush();
            raw.setSoTimeout(0);
        } catch (IOException e) {
            log.warn("vm {}: relay {}: cannot reach the destination {} over TLS, dropping QEMU's connection: {}", vmId,
                    name, target, e.getMessage());
            closeQuietly(raw);
            closeQuietly(local);
            return;
        }
        relay(new UnixEnd(local), remote);
    }

    /** Copies both ways until both directions ended, then closes both ends. */
    private void relay(End a, End b) {
        Thread back = Thread.ofVirtual().name("relay-" + name + "-back").start(() -> pump(b, a));
        pump(a, b);
        try {
            back.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        a.close(true);
        b.close(true);
    }

    /** Copies until end of stream, then ends the other side's output so the peer sees the end too. */
    private void pump(End from, End to) {
        byte[] buffer = new byte[BUFFER];
        try {
            int n;
            while ((n = from.read(buffer)) >= 0) {
                if (n > 0) to.write(buffer, n);
            }
            to.shutdownOutput();
        } catch (IOException e) {
            if (!closed) log.debug("vm {}: relay {}: connection ended: {}", vmId, name, e.getMessage());
            from.close(false);
            to.close(false);
        }
    }

    /** One side of a relayed connection. */
    private abstract class End {
        abstract int read(byte[] buffer) throws IOException;

        abstract void write(byte[] buffer, int length) throws IOException;

        abstract void shutdownOutput() throws IOException;

        /** Graceful: both directions ended; else at once (the other direction may be blocked in a write). */
        abstract void close(boolean graceful);
    }

    private final class UnixEnd extends End {
        private final SocketChannel channel;

        UnixEnd(SocketChannel channel) {
            this.channel = channel;
        }

        @Override
        int read(byte[] buffer) throws IOException {
            return channel.read(ByteBuffer.wrap(buffer));
        }

        @Override
        void write(byte[] buffer, int length) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(buffer, 0, length);
            while (b.hasRemaining()) channel.write(b);
        }

        @Override
        void shutdownOutput() throws IOException {
            channel.shutdownOutput();
        }

        @Override
        void close(boolean graceful) {
            closeQuietly(channel);
        }
    }

    /**
     * A TLS connection layered over {@code raw}: the streams are taken once (an SSLSocket refuses them after a
     * half-close); a forced close closes {@code raw}, which never blocks on a TLS alert.
     */
    private final class TlsEnd extends End {
        private final SSLSocket ssl;
        private final Socket raw;
        final InputStream in;
        final OutputStream out;

        TlsEnd(SSLSocket ssl, Socket raw) throws IOException {
            this.ssl = ssl;
            this.raw = raw;
            this.in = ssl.getInputStream();
            this.out = ssl.getOutputStream();
        }

        @Override
        int read(byte[] buffer) throws IOException {
            return in.read(buffer);
        }

        @Override
        void write(byte[] buffer, int length) throws IOException {
            out.write(buffer, 0, length);
            out.flush();
        }

        @Override
        void shutdownOutput() throws IOException {
            ssl.shutdownOutput(); // TLS 1.3: close_notify, then FIN; reading goes on
        }

        @Override
        void close(boolean graceful) {
            if (graceful) {
                try {
                    ssl.close(); // both directions ended: nothing left to block on
                } catch (IOException e) {
                    log.debug("vm {}: relay {}: close: {}", vmId, name, e.getMessage());
                }
            }
            closeQuietly(raw); // SSLSocket.close would wait for a write blocked on a peer that does not read
        }
    }

    private void closeQuietly(Closeable c) {
        connections.remove(c);
        try {
            c.close();
        } catch (IOException e) {
            log.debug("vm {}: relay {}: close: {}", vmId, name, e.getMessage());
        }
    }

    /**
     * Stops accepting, lets open connections carry what is still in flight until their ends close them (up to
     * {@code timeout}), then closes. QEMU reports a migration completed once it wrote the last byte into its
     * socket; closing the relay at once could drop the tail of the stream.
     */
    public void drainAndClose(Duration timeout) {
        closed = true;
        closeListener();
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread worker : Set.copyOf(workers)) {
            long left = deadline - System.nanoTime();
            try {
                if (left <= 0 || !worker.join(Duration.ofNanos(left))) {
                    log.warn("vm {}: relay {}: a connection was still open after {} ms, closing it", vmId, name,
                            timeout.toMillis());
                    break;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        close();
    }

    private void closeListener() {
        try {
            listener.close();
        } catch (IOException e) {
            log.warn("vm {}: relay {}: closing the listener: {}", vmId, name, e.getMessage());
        }
        // A socket closed while a virtual thread is blocked accepting on it keeps its port until that thread has
        // woken up: wait for it, so that a relay reopened on the same port (agent restart) can bind.
        Thread t = acceptor;
        if (t != null && t != Thread.currentThread()) {
            try {
                if (!t.join(Duration.ofSeconds(5))) log.warn("vm {}: relay {}: its accept loop did not end within 5 s", vmId, name);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Closes the listener and every connection now. */
    @Override
    public void close() {
        closed = true;
        closeListener();
        for (Closeable c : Set.copyOf(connections)) closeQuietly(c);
        if (unixListenPath != null) {
            try {
                Files.deleteIfExists(unixListenPath);
            } catch (IOException e) {
                throw new IllegalStateException("relay " + name + ": cannot remove " + unixListenPath + ": " + e.getMessage(), e);
            }
        }
    }
}
