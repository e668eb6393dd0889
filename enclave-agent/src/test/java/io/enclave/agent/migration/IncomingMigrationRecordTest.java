package io.enclave.agent.migration;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.fs.FileTrees;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.host.MigrationTarget;
import io.enclave.tls.Pem;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.net.InetAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an agent restarted mid-migration reopens from incoming.json (no QEMU needed for the relays): the same
 * certificate, token and ports, the file owner-only; a record from before TLS gets a fresh identity.
 */
class IncomingMigrationRecordTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final MigrationPortRange PORTS = MigrationPortRangeTest.freeRange(10);
    Path dir;
    VmFiles files;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/tmp"), "mt9rec");
        files = new VmFiles(dir);
    }

    @AfterEach
    void tearDown() {
        FileTrees.delete(dir);
    }

    @Test
    void aRestartedAgentReopensWithTheSameIdentityTokenAndPorts() throws Exception {
        byte[] token = new byte[TcpRelay.TOKEN_BYTES];
        new java.security.SecureRandom().nextBytes(token);
        TlsIdentity identity = TlsIdentity.generate("m", List.of(), Duration.ofDays(1));
        // A port of the agent's range (outside the ephemeral range): between the two reopens no outgoing connection
        // of another process can take it as its local port.
        IncomingMigration.Record written = new IncomingMigration.Record(false, "127.0.0.1", PORTS.first(), null,
                null, null, null).withSecrets(identity, token);
        Files.writeString(files.incomingFile(), JSON.writeValueAsString(written));

        MigrationTarget first;
        try (IncomingMigration reopened = IncomingMigration.reopen("vm-mt9rec", files, PORTS)) {
            first = reopened.target();
            assertThat(first.certificatePem()).isEqualTo(identity.certificatePem());
            assertThat(first.token()).isEqualTo(HexFormat.of().formatHex(token));
            assertThat(first.migrationPort()).isEqualTo(written.migrationPort());
        }
        assertThat(Files.getPosixFilePermissions(files.incomingFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(IncomingMigration.read(files).migrationPort()).isEqualTo(first.migrationPort());

        // "restart": the relays again from the file, same port, and a client with the token reaches the socket
        try (ServerSocketChannel qemu = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            qemu.bind(UnixDomainSocketAddress.of(files.migrationInSocket()));
            try (IncomingMigration again = IncomingMigration.reopen("vm-mt9rec", files, PORTS)) {
                assertThat(again.target()).isEqualTo(first);
                try (SSLSocket s = (SSLSocket) PinnedTls.client(null, Pem.certificate(first.certificatePem()))
                        .getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), first.migrationPort())) {
                    s.getOutputStream().write(token);
                    s.getOutputStream().write("stream".getBytes());
                    s.getOutputStream().flush();
                    try (SocketChannel c = qemu.accept()) {
                        ByteBuffer b = ByteBuffer.allocate(6);
                        while (b.hasRemaining() && c.read(b) >= 0) { }
                        assertThat(new String(b.array())).isEqualTo("stream");
                    }
                }
            }
        }
    }

    @Test
    void aRecordFromBeforeTlsGetsAFreshIdentityAndToken() throws Exception {
        Files.writeString(files.incomingFile(), "{\"copyStorage\":false,\"address\":\"127.0.0.1\",\"migrationPort\":0,\"nbdPort\":null}");
        try (IncomingMigration reopened = IncomingMigration.reopen("vm-mt9rec", files, PORTS)) {
            MigrationTarget t = reopened.target();
            assertThat(Pem.certificate(t.certificatePem())).isNotNull();
            assertThat(HexFormat.of().parseHex(t.token())).hasSize(TcpRelay.TOKEN_BYTES);
            assertThat(t.migrationPort()).as("no port recorded: one of the agent's range").isBetween(PORTS.first(), PORTS.last());
            assertThat(IncomingMigration.read(files).target()).isEqualTo(t);
        }
        assertThat(Files.getPosixFilePermissions(files.incomingFile())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }
}
