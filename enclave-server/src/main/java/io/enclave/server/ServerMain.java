package io.enclave.server;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.image.ImageLibrary;
import io.enclave.agent.network.FirewallFormsDriver;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.appliance.ApplianceNetworkDriver;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.AcceleratorProbe;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.storage.QemuStorageDriver;
import io.enclave.agent.simulator.SimulatedHostAgent;
import io.enclave.controller.Controller;
import io.enclave.controller.persistence.Database;
import io.enclave.core.Ids;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.HostInfo;
import io.enclave.core.network.Ipv4;
import io.enclave.tls.TlsIdentity;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code enclave-server}: one process running the controller and this machine's host agent. */
@Command(name = "enclave-server", mixinStandardHelpOptions = true,
        description = "Runs the Enclave controller with a host agent for this machine.")
public final class ServerMain implements Callable<Integer> {

    @Option(names = "--data-dir", defaultValue = "${ENCLAVE_DATA_DIR:-/var/lib/enclave}",
            description = "State of this controller and host (database, VMs). Default: ${DEFAULT-VALUE}")
    Path dataDir;


    @Option(names = "--listen", defaultValue = "${ENCLAVE_LISTEN:-127.0.0.1}", description = "Default: ${DEFAULT-VALUE}")
    String listen;

    @Option(names = "--port", defaultValue = "${ENCLAVE_PORT:-8470}", description = "0 picks a free port. Default: ${DEFAULT-VALUE}")
    int port;

    @Option(names = "--db-url", defaultValue = "${ENCLAVE_DB_URL:-}",
            description = "JDBC URL (jdbc:postgresql://…); empty means embedded H2 in the data directory")
    String dbUrl;

    @Option(names = "--db-user", defaultValue = "${ENCLAVE_DB_USER:-}")
    String dbUser;

    @Option(names = "--db-password", defaultValue = "${ENCLAVE_DB_PASSWORD:-}")
    String dbPassword;

    @Option(names = "--admin-token", defaultValue = "${ENCLAVE_ADMIN_TOKEN:-}",
            description = "Also accept this secret as an admin token")
    String adminToken;



    @Option(names = "--cpu-overcommit", defaultValue = "16.0", description = "vCPUs per host CPU. Default: ${DEFAULT-VALUE}")
    double cpuOvercommit;

    @Option(names = "--memory-overcommit", defaultValue = "1.5", description = "Guest memory per host memory. Default: ${DEFAULT-VALUE}")
    double memoryOvercommit;



    @CommandLine.Mixin
    HostOptions host = new HostOptions();

    @Option(names = "--join-token", defaultValue = "${ENCLAVE_JOIN_TOKEN:-}",
            description = "Secret other hosts' agents present to join (enclave-agent --join-token); empty: only this host")
    String joinToken;

    @Option(names = "--host-dead-seconds", defaultValue = "10",
            description = "A remote host silent this long is declared down. Default: ${DEFAULT-VALUE}")
    int hostDeadSeconds;

    @Option(names = "--fence-wait-seconds", defaultValue = "10",
            description = "After a host is declared down, wait this long (longer than the agents' --self-fence-seconds"
                    + " minus --host-dead-seconds) before restarting its highly-available VMs elsewhere. Default: ${DEFAULT-VALUE}")
    int fenceWaitSeconds;

    @Option(names = "--tls", description = "Serve the API over HTTPS only, with the controller's self-signed certificate"
            + " (kept in the data directory; its SHA-256 fingerprint is printed at start: agents pin it with"
            + " --controller-fingerprint)")
    boolean tls;

    @Option(names = "--no-local-host", description = "Run only the controller; every host runs enclave-agent")
    boolean noLocalHost;

    @Option(names = "--resync-seconds", defaultValue = "5", description = "How often every VM is re-checked")
    int resyncSeconds;

    /** The controller's TLS identity: in the data directory (never the database), kept across restarts. */
    private TlsIdentity tlsIdentity() {
        return TlsIdentity.loadOrCreate(dataDir, "controller-tls", "enclave-controller",
                Ipv4.isValid(listen) ? List.of(listen) : List.of());
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ServerMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(dataDir);
        String hostId = StateFiles.readOrCreate(dataDir.resolve("host-id"), () -> Ids.newId("host"));
        String hostName = InetAddress.getLocalHost().getHostName();

        ProcessCommandRunner runner = new ProcessCommandRunner();
        Files.createDirectories(host.imagesDir());
        HostAgent agent = noLocalHost ? null : host.buildAgent(hostId, hostName, dataDir, runner);

        Database db = Database.open(dbUrl.isBlank() ? Database.h2Url(dataDir) : dbUrl,
                dbUser.isBlank() ? null : dbUser, dbPassword.isBlank() ? null : dbPassword);
        Controller.Settings settings = Controller.Settings.defaults(port).withResyncEvery(Duration.ofSeconds(resyncSeconds));
        settings = new Controller.Settings(listen, port, settings.reconcileWorkers(), settings.resyncEvery(),
                settings.guestReadyTimeout(), cpuOvercommit, memoryOvercommit, null, null, null, null, tls)
                .withJoinToken(joinToken.isBlank() ? null : joinToken, Duration.ofSeconds(hostDeadSeconds),
                        Duration.ofSeconds(fenceWaitSeconds))
                .withTlsIdentity(tlsIdentity());
        Controller controller = new Controller(db, new ImageLibrary(host.imagesDir(), runner), settings);
        if (agent != null) controller.addHost(agent, host.underlayAddress(), host.sharedStorageName(), host.sharedStoragePath());
        for (int i = 1; agent != null && i < host.simulatedHosts(); i++) controller.addHost(host.simulatedHost(hostId, hostName, i));

        Path tokenFile = dataDir.resolve("admin-token");
        String bootstrap = controller.tenants().bootstrapAdminToken();
        if (bootstrap != null) {
            Files.writeString(tokenFile, bootstrap + "\n");
            Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        }
        if (!adminToken.isBlank()) controller.tenants().ensureAdminToken(adminToken);

        controller.start();
        String url = (tls ? "https://" : "http://") + listen + ":" + controller.port() + "/v1";
        Files.writeString(dataDir.resolve("api-url"), url + "\n");
        System.out.println("Enclave API:  " + url);
        if (tls) System.out.println("TLS:          sha256 " + controller.tlsIdentity().fingerprint());
        System.out.println("Admin token:  " + (bootstrap != null ? bootstrap : "(see " + tokenFile + ")"));
        if (agent != null) {
            System.out.println("Host:         " + agent.info().id() + " (" + agent.info().cpus() + " CPUs, "
                    + agent.info().memoryMib() + " MiB, " + agent.info().accelerator() + ")");
        }
        System.out.flush();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            controller.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
