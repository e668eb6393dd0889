package io.enclave.agent.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A unix-socket connection that exchanges one JSON document per line, with a deadline on every read.
 * Shared by the QMP and guest-agent clients, which differ only in their handshake.
 */
final class JsonLineChannel implements Closeable {
    static final ObjectMapper JSON = new ObjectMapper();

    private final SocketChannel channel;
    private final Selector selector;
    private final ByteBuffer readBuffer = ByteBuffer.allocate(64 * 1024);
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    private JsonLineChannel(SocketChannel channel, Selector selector) {
        this.channel = channel;
        this.selector = selector;
    }

    static JsonLineChannel open(Path socket) throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.configureBlocking(false);
            Selector selector = Selector.open();
            channel.register(selector, SelectionKey.OP_READ);
            return new JsonLineChannel(channel, selector);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
    }

    void send(Object message) throws IOException {
        byte[] bytes = (JSON.writeValueAsString(message) + "\n").getBytes(StandardCharsets.UTF_8);
        sendRaw(bytes);
    }

    void sendRaw(byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            if (channel.write(buffer) == 0) Thread.onSpinWait();
        }
    }

    /** Reads the next JSON line; bytes that are not JSON (such as the 0xFF sync delimiter) are skipped. */
    JsonNode read(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = nextLine();
            if (line != null) {
                String trimmed = stripNonJson(line);
                if (!trimmed.isEmpty()) return JSON.readTree(trimmed);
                continue;
            }
            long remainingMs = (deadline - System.nanoTime()) / 1_000_000;
            if (remainingMs <= 0) throw new java.net.SocketTimeoutException("no answer within " + timeout.toMillis() + " ms");
            selector.select(remainingMs);
            selector.selectedKeys().clear();
            readBuffer.clear();
            int n = channel.read(readBuffer);
            if (n < 0) throw new IOException("connection closed by peer");
            pending.write(readBuffer.array(), 0, n);
        }
    }

    private String nextLine() {
        byte[] bytes = pending.toByteArray();
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '\n') {
                String line = new String(bytes, 0, i, StandardCharsets.UTF_8);
                pending.reset();
                pending.write(bytes, i + 1, bytes.length - i - 1);
                return line;
            }
        }
        return null;
    }

    private static String stripNonJson(String line) {
        int start = line.indexOf('{');
        return start < 0 ? "" : line.substring(start).strip();
    }

    @Override
    public void close() throws IOException {
        try {
            selector.close();
        } finally {
            channel.close();
        }
    }
}
