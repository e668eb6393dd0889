package io.enclave.agent.migration;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.QmpException;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.host.MigrationTarget;
import io.enclave.tls.Pem;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.SecureRandom;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Destination side of one live migration, once the VM's QEMU runs with {@code -incoming defer}: QEMU listens for
 * the migration stream (and, when the storage is copied, serves its empty disk over NBD) on unix sockets in the
 * VM's directory, and TCP relays on the listen address carry the source's connections to them. What it set up is
 * recorded in the VM's {@code incoming.json}, so an agent restarted meanwhile can pick it up again.
 *
 * <p>The relays speak TLS 1.3 with an identity made for this migration and accept only connections that send
 * the migration's one-time token first ({@link TcpRelay}); the certificate and the token travel to the source in
 * the {@link MigrationTarget}. Key and token are kept in {@code incoming.json} (mode 0600) and never logged.
 */
public final class IncomingMigration implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The NBD export name, and the boot disk's qcow2 node (see QemuCommandLine). */
    public static final String DISK_NODE = "disk0";
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final Duration IDENTITY_VALIDITY = Duration.ofDays(7);

    /**
     * What {@code incoming.json} holds (owner-only: it holds secrets): the relays' ports, the migration's TLS
     * identity (certificate PEM, PKCS#8 private key in base64) and its one-time token (hex).
     */
    public record Record(boolean copyStorage, String address, int migrationPort, Integer nbdPort, String certificatePem,
            String privateKey, String token) {
        MigrationTarget target() {
            return new MigrationTarget(address, migrationPort, nbdPort, certificatePem, token);
        }

        boolean secured() {
            return certificatePem != null && privateKey != null && token != null;
        }

        TlsIdentity identity() {
            try {
                return new TlsIdentity(KeyFactory.getInstance("EC").generatePrivate(
                        new PKCS8EncodedKeySpec(Base64.getDecoder().decode(privateKey))), Pem.certificate(certificatePem));
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                throw new IllegalStateException("the migration's TLS identity in incoming.json is unreadable: "
                        + e.getClass().getSimpleName(), e);
            }
        }

        Record withPorts(int migration, Integer nbd) {
            return new Record(copyStorage, address, migration, nbd, certificatePem, privateKey, token);
        }

        Record withSecrets(TlsIdentity identity, byte[] token) {
            return new Record(copyStorage, address, migrationPort, nbdPort, identity.certificatePem(),
                    Base64.getEncoder().encodeToString(identity.privateKey().getEncoded()), HexFormat.of().formatHex(token));
        }

        /** Without the key and the token. */
        @Override
        public String toString() {
            return "IncomingMigration.Record[copyStorage=" + copyStorage + ", " + address + ", migrationPort="
                    + migrationPort + ", nbdPort=" + nbdPort + "]";
        }
    }

    private final String vmId;
    private final VmFiles files;
    private final Record record;
    private final List<TcpRelay> relays;

    private IncomingMigration(String vmId, VmFiles files, Record record, List<TcpRelay> relays) {
        this.vmId = vmId;
        this.files = files;
        this.record = record;
        this.relays = relays;
    }

    /**
     * Tells the waiting QEMU where to listen, exports the {@code disks} if the storage is copied (the boot disk,
     * its boot volume's top node, hot-plugged volumes: each writable under its export name), and opens the relays
     * on free ports of {@code ports}.
     */
    public static IncomingMigration open(String vmId, VmFiles files, boolean copyStorage, List<MigratingDisk> disks,
            String listenAddress, MigrationPortRange ports) {
        QmpClient qmp = new QmpClient(files.qmpSocket());
        qmp.execute("migrate-incoming", Map.of("uri", "unix:" + files.migrationInSocket()));
        if (copyStorage) {
            qmp.execute("nbd-server-start", Map.of("addr", Map.of("type", "unix",
                    "data", Map.of("path", files.nbdInSocket().toString()))));
            // Exporting activates the node (an incoming QEMU holds its images inactive) so the mirror can write.
            for (MigratingDisk disk : disks) {
                qmp.execute("block-export-add", Map.of("type", "nbd", "id", disk.exportId(), "node-name", disk.node(),
                        "name", disk.export(), "writable", true));
            }
        }
        return relay(vmId, files, fresh(vmId, new Record(copyStorage, listenAddress, 0, copyStorage ? 0 : null, null, null,
                null)), ports);
    }

    /** A new TLS identity and one-time token for this one migration. */
    private static Record fresh(String vmId, Record record) {
        byte[] token = new byte[TcpRelay.TOKEN_BYTES];
        RANDOM.nextBytes(token);
        return record.withSecrets(TlsIdentity.generate("enclave migration of " + vmId, List.of(), IDENTITY_VALIDITY), token);
    }

    /**
     * After an agent restart: the relays again, on the ports recorded (QEMU still listens on its sockets); a port
     * not recorded (0) is taken from {@code ports}.
     */
    public static IncomingMigration reopen(String vmId, VmFiles files, MigrationPortRange ports) {
        Record recorded = read(files);
        // recorded by an agent from before migrations had TLS: a new identity and token (new target for the source)
        return relay(vmId, files, recorded.secured() ? recorded : fresh(vmId, recorded), ports);
    }

    /** The recorded port, or a free one of {@code ports} when none is recorded yet. */
    private static MigrationPortRange portFor(Integer recorded, MigrationPortRange ports) {
        return recorded == null || recorded == 0 ? ports : MigrationPortRange.single(recorded);
    }

    private static IncomingMigration relay(String vmId, VmFiles files, Record wanted, MigrationPortRange ports) {
        List<TcpRelay> relays = new ArrayList<>();
        try {
            TlsIdentity identity = wanted.identity();
            byte[] token = HexFormat.of().parseHex(wanted.token());
            TcpRelay migration = TcpRelay.tlsToUnix(vmId, vmId + "-mig-in", wanted.address(),
                    portFor(wanted.migrationPort(), ports), identity, token, files.migrationInSocket());
            relays.add(migration);
            Integer nbdPort = null;
            if (wanted.copyStorage()) {
                TcpRelay nbd = TcpRelay.tlsToUnix(vmId, vmId + "-nbd-in", wanted.address(),
                        portFor(wanted.nbdPort(), ports), identity, token, files.nbdInSocket());
                relays.add(nbd);
                nbdPort = nbd.port();
            }
            Record record = wanted.withPorts(migration.port(), nbdPort);
            writeOwnerOnly(files.incomingFile(), JSON.writeValueAsString(record));
            return new IncomingMigration(vmId, files, record, relays);
        } catch (IOException | RuntimeException e) {
            relays.forEach(TcpRelay::close);
            throw new IllegalStateException("vm " + vmId + ": cannot open the migration relays: " + e.getMessage(), e);
        }
    }

    /** Written to a new owner-only file, then moved over {@code file}: never readable by others, not even briefly. */
    private static void writeOwnerOnly(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    public static boolean recorded(VmFiles files) {
        return Files.exists(files.incomingFile());
    }

    public static Record read(VmFiles files) {
        try {
            return JSON.readValue(files.incomingFile().toFile(), Record.class);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + files.incomingFile() + ": " + e.getMessage(), e);
        }
    }

    public MigrationTarget target() {
        return record.target();
    }

    /**
     * The migration is over and the guest runs here: stops serving the disk, closes the relays and forgets
     * the record. Works on a QEMU whose agent restarted since (the record says what to stop).
     */
    public static void finish(String vmId, VmFiles files, IncomingMigration open) {
        if (open != null) open.close();
        if (!recorded(files)) return;
        if (read(files).copyStorage()) stopNbd(vmId, new QmpClient(files.qmpSocket()));
        try {
            Files.deleteIfExists(files.incomingFile());
            Files.deleteIfExists(files.migrationInSocket());
            Files.deleteIfExists(files.nbdInSocket());
        } catch (IOException e) {
            throw new IllegalStateException("vm " + vmId + ": cannot remove the migration files: " + e.getMessage(), e);
        }
    }

    private static void stopNbd(String vmId, QmpClient qmp) {
        for (var export : qmp.execute("query-block-exports")) {
            String id = export.path("id").asText();
            if (id.startsWith(MigratingDisk.JOB_PREFIX)) qmp.execute("block-export-del", Map.of("id", id));
        }
        try {
            qmp.execute("nbd-server-stop");
        } catch (QmpException e) {
            // A repeated completeIncoming finds the server already stopped; anything else is an error.
            if (!e.getMessage().contains("not running")) {
                throw new IllegalStateException("vm " + vmId + ": cannot stop the NBD server: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public void close() {
        relays.forEach(TcpRelay::close);
    }
}
