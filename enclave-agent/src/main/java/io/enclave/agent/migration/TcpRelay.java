package io.enclave.agent.migration;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards every connection accepted on one socket to another address, byte for byte, both ways: a TCP port to
 * a QEMU unix socket on the destination, a unix socket QEMU connects to on the source to the destination's TCP
 * port. QEMU may run in a tenant network namespace where the hosts' underlay is unreachable; unix sockets in
 * the VM's directory are reachable from any namespace, so the agent (in the host namespace) carries the bytes.
 * One virtual thread accepts, two per connection copy.
 */
public final class TcpRelay implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TcpRelay.class);
    private static final int BUFFER = 256 * 1024;

    private final String name;
    private final ServerSocketChannel listener;
    private final SocketAddress upstream;
    private final Path unixListenPath;
    private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
    private final Set<Thread> workers = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private TcpRelay(String name, ServerSocketChannel listener, SocketAddress upstream, Path unixListenPath) {
        this.name = name;
        this.listener = listener;
        this.upstream = upstream;
        this.unixListenPath = unixListenPath;
        Thread.ofVirtual().name("relay-" + name).start(this::acceptLoop);
    }

    /** Listens on {@code listen} (port 0: any free port) and forwards to the unix socket {@code target}. */
    public static TcpRelay tcpToUnix(String name, InetSocketAddress listen, Path target) {
        try {
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET);
            try {
                server.bind(listen);
            } catch (IOException e) {
                server.close();
                throw e;
            }
            return new TcpRelay(name, server, UnixDomainSocketAddress.of(target), null);
        } catch (IOException e) {
            throw new IllegalStateException("relay " + name + ": cannot listen on " + listen + ": " + e.getMessage(), e);
        }
    }

    /** Listens on the unix socket {@code listen} (replacing a stale file) and forwards to TCP {@code target}. */
    public static TcpRelay unixToTcp(String name, Path listen, InetSocketAddress target) {
        try {
            Files.deleteIfExists(listen);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                server.bind(UnixDomainSocketAddress.of(listen));
            } catch (IOException e) {
                server.close();
                throw e;
            }
            return new TcpRelay(name, server, target, listen);
        } catch (IOException e) {
            throw new IllegalStateException("relay " + name + ": cannot listen on " + listen + ": " + e.getMessage(), e);
        }
    }

    /** The TCP port this relay listens on (TCP listeners only). */
    public int port() {
        try {
            return ((InetSocketAddress) listener.getLocalAddress()).getPort();
        } catch (IOException | ClassCastException e) {
            throw new IllegalStateException("relay " + name + " has no TCP port: " + e.getMessage(), e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (!closed) log.warn("relay {}: accept failed, relay stops: {}", name, e.getMessage());
                return;
            }
            connections.add(client);
            Thread worker = Thread.ofVirtual().name("relay-" + name + "-conn").unstarted(() -> serve(client));
            workers.add(worker);
            worker.start();
        }
    }

    private void serve(SocketChannel client) {
        SocketChannel far;
        try {
            far = SocketChannel.open(upstream instanceof UnixDomainSocketAddress ? StandardProtocolFamily.UNIX
                    : StandardProtocolFamily.INET);
            connections.add(far);
            far.connect(upstream);
        } catch (IOException e) {
            log.warn("relay {}: cannot connect to {}, dropping the connection: {}", name, upstream, e.getMessage());
            closeQuietly(client);
            return;
        }
        Thread back = Thread.ofVirtual().name("relay-" + name + "-back").start(() -> pump(far, client));
        pump(client, far);
        try {
            back.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(client);
        closeQuietly(far);
        workers.remove(Thread.currentThread());
    }

    /** Copies until end of stream, then half-closes the other side so the peer sees the end too. */
    private void pump(SocketChannel from, SocketChannel to) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
        try {
            while (from.read(buffer) >= 0) {
                buffer.flip();
                while (buffer.hasRemaining()) to.write(buffer);
                buffer.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            if (!closed) log.debug("relay {}: connection ended: {}", name, e.getMessage());
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private void closeQuietly(SocketChannel channel) {
        connections.remove(channel);
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("relay {}: close: {}", name, e.getMessage());
        }
    }

    /**
     * Stops accepting, lets open connections carry what is still in flight until their ends close them (up to
     * {@code timeout}), then closes. QEMU reports a migration completed once it wrote the last byte into its
     * socket; closing the relay at once could drop the tail of the stream.
     */
    public void drainAndClose(java.time.Duration timeout) {
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            log.warn("relay {}: closing the listener: {}", name, e.getMessage());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread worker : Set.copyOf(workers)) {
            long left = deadline - System.nanoTime();
            try {
                if (left <= 0 || !worker.join(java.time.Duration.ofNanos(left))) {
                    log.warn("relay {}: a connection was still open after {} ms, closing it", name, timeout.toMillis());
                    break;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        close();
    }

    /** Closes the listener and every connection now. */
    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            log.warn("relay {}: closing the listener: {}", name, e.getMessage());
        }
        for (SocketChannel c : Set.copyOf(connections)) closeQuietly(c);
        if (unixListenPath != null) {
            try {
                Files.deleteIfExists(unixListenPath);
            } catch (IOException e) {
                throw new IllegalStateException("relay " + name + ": cannot remove " + unixListenPath + ": " + e.getMessage(), e);
            }
        }
    }
}
