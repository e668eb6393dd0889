package io.enclave.server.agent;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.fence.FenceWatchdog;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.core.Ids;
import io.enclave.core.host.HostAgent;
import io.enclave.server.HostOptions;
import io.enclave.server.StateFiles;
import io.enclave.core.network.Ipv4;
import io.enclave.tls.Pem;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import javax.net.ssl.SSLContext;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code enclave-agent}: the host agent of one machine, joined to a controller elsewhere. */
@Command(name = "enclave-agent", mixinStandardHelpOptions = true,
        description = "Runs this host's Enclave agent and joins it to a controller.")
public final class AgentMain implements Callable<Integer> {
    /** File in the data directory: the controller's certificate (PEM), learnt at the join. */
    public static final String CONTROLLER_CERTIFICATE = "controller.crt";

    @Option(names = "--data-dir", defaultValue = "${ENCLAVE_DATA_DIR:-/var/lib/enclave-agent}",
            description = "This host's identity, VMs and networking. Default: ${DEFAULT-VALUE}")
    Path dataDir;

    @Option(names = "--controller", required = true,
            description = "The controller's API, e.g. https://10.0.0.1:8470/v1 (enclave-server --tls) or http://…")
    String controllerUrl;

    @Option(names = "--controller-fingerprint", defaultValue = "${ENCLAVE_CONTROLLER_FINGERPRINT:-}",
            description = "SHA-256 fingerprint of the controller's certificate (printed by enclave-server --tls);"
                    + " required with an https:// controller, whose certificate must then match it")
    String controllerFingerprint;

    @Option(names = "--join-token", defaultValue = "${ENCLAVE_JOIN_TOKEN:-}", description = "The controller's join token")
    String joinToken;

    @Option(names = "--listen", defaultValue = "${ENCLAVE_AGENT_LISTEN:-127.0.0.1}",
            description = "Address the controller calls this agent on. Default: ${DEFAULT-VALUE}")
    String listen;

    @Option(names = "--port", defaultValue = "${ENCLAVE_AGENT_PORT:-8471}", description = "0 picks a free port. Default: ${DEFAULT-VALUE}")
    int port;

    @Option(names = "--name", description = "Host name shown to the admin (default: the machine's)")
    String name;

    @Option(names = "--heartbeat-seconds", defaultValue = "2", description = "Default: ${DEFAULT-VALUE}")
    int heartbeatSeconds;

    @Option(names = "--self-fence-seconds", defaultValue = "8",
            description = "Cut off from the controller this long, kill the VMs whose disks are on shared storage (the"
                    + " controller restarts them elsewhere) and take the tenant firewalls off the public network (the"
                    + " controller may move them; its next apply brings back those that stay); not while the controller's"
                    + " machine refuses connections (the controller is down, so it moves nothing); 0 never. Keep it below the controller's --host-dead-seconds"
                    + " plus --fence-wait-seconds. Default: ${DEFAULT-VALUE}")
    int selfFenceSeconds;

    @Option(names = "--fence-watchdog-seconds", defaultValue = "15",
            description = "When this agent is gone (dead or hung) this long, a watchdog process it leaves behind kills"
                    + " this host's VMs whose disks are on shared storage, so the controller can restart them elsewhere"
                    + " without ever finding two copies. Longer than an agent restart takes, shorter than the controller's"
                    + " --host-dead-seconds plus --fence-wait-seconds; 0 runs no watchdog. Default: ${DEFAULT-VALUE}")
    int fenceWatchdogSeconds;

    @CommandLine.Mixin
    HostOptions host = new HostOptions();

    public static void main(String[] args) {
        System.exit(new CommandLine(new AgentMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (joinToken == null || joinToken.isBlank()) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--join-token (or ENCLAVE_JOIN_TOKEN) is required");
        }
        SSLContext controllerTls = null;
        if (controllerUrl.startsWith("https://")) {
            if (controllerFingerprint == null || controllerFingerprint.isBlank()) {
                throw new CommandLine.ParameterException(new CommandLine(this),
                        "--controller-fingerprint is required with an https:// controller");
            }
            try {
                controllerFingerprint = PinnedTls.normalizeFingerprint(controllerFingerprint);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--controller-fingerprint: " + e.getMessage());
            }
            controllerTls = PinnedTls.clientPinnedByFingerprint(null, controllerFingerprint);
        } else if (controllerFingerprint != null && !controllerFingerprint.isBlank()) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--controller-fingerprint needs an https:// --controller");
        } else {
            System.err.println("warning: the controller is plain http: the join token and this host's secret cross the"
                    + " network in clear (run enclave-server --tls and pass --controller-fingerprint)");
        }
        Files.createDirectories(dataDir);
        // First thing: a restarted agent renews the lease before its watchdog takes it for gone.
        if (fenceWatchdogSeconds > 0) {
            FenceWatchdog.start(dataDir, Duration.ofSeconds(fenceWatchdogSeconds), new ProcessCommandRunner());
        }
        Files.createDirectories(host.imagesDir());
        String hostId = StateFiles.readOrCreate(dataDir.resolve("host-id"), () -> Ids.newId("host"));
        String secret = StateFiles.readOrCreate(dataDir.resolve("host-secret"), AgentMain::newSecret);
        String hostName = name != null ? name : InetAddress.getLocalHost().getHostName();

        // The RPC's TLS identity lives as long as the host id; the controller pins its certificate at the first join.
        // Set up meanwhile the host agent is built: both take a while, and a restarted agent must rejoin quickly.
        CompletableFuture<Tls> tlsReady = CompletableFuture.supplyAsync(() -> {
            TlsIdentity identity = TlsIdentity.loadOrCreate(dataDir, "agent-tls", "enclave-agent " + hostId,
                    Ipv4.isValid(listen) ? List.of(listen) : List.of());
            Path file = dataDir.resolve(CONTROLLER_CERTIFICATE);
            try {
                X509Certificate known = Files.exists(file) ? Pem.certificate(Files.readString(file)) : null;
                return new Tls(identity, new AgentRpcServer(identity, known), file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });

        // The address the controller calls is this host's underlay address unless told otherwise.
        host.defaultUnderlay(listen);
        HostAgent agent = host.buildAgent(hostId, hostName, dataDir, new ProcessCommandRunner());
        Tls tlsSetUp = tlsReady.join();
        TlsIdentity tls = tlsSetUp.identity();
        AgentRpcServer rpc = tlsSetUp.rpc();
        Path controllerCertFile = tlsSetUp.controllerCertificateFile();
        int actualPort = rpc.start(agent, listen, port);
        String agentUrl = "https://" + listen + ":" + actualPort;
        Files.writeString(dataDir.resolve("agent-url"), agentUrl + "\n");

        String underlay = host.underlayAddress();
        ControllerLink link = new ControllerLink(controllerUrl, joinToken,
                new ControllerLink.Identity(agent.info(), agentUrl, tls.certificatePem(), secret, underlay,
                        host.sharedStorageName(), host.sharedStoragePath()), Duration.ofSeconds(heartbeatSeconds),
                selfFenceSeconds > 0 && agent instanceof QemuHostAgent ? Duration.ofSeconds(selfFenceSeconds) : null,
                () -> ((QemuHostAgent) agent).fenceSelf(),
                pem -> trustController(rpc, controllerCertFile, pem, controllerFingerprint), controllerTls);
        try {
            link.start(Duration.ofMinutes(5));
        } catch (ControllerLink.JoinRefused e) {
            System.err.println(e.getMessage());
            rpc.close();
            return 2;
        }
        System.out.println("Agent " + hostId + " serving on " + agentUrl + " (certificate sha256 " + tls.fingerprint()
                + "), joined " + controllerUrl);
        System.out.flush();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            link.close();
            rpc.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }

    /** The controller's certificate from a join: kept in the data directory and the only client the RPC accepts. */
    private static void trustController(AgentRpcServer rpc, Path file, String pem, String pinnedFingerprint) {
        X509Certificate certificate = Pem.certificate(pem);
        // Over a pinned https:// link the controller's certificate is the one pinned (the same identity serves both).
        if (pinnedFingerprint != null && !pinnedFingerprint.isBlank() && !Pem.fingerprint(certificate).equals(pinnedFingerprint)) {
            throw new ControllerLink.JoinRefused("the controller's certificate (sha256 " + Pem.fingerprint(certificate)
                    + ") is not the one --controller-fingerprint names");
        }
        X509Certificate current = rpc.trustedController();
        try {
            if (current != null && Arrays.equals(current.getEncoded(), certificate.getEncoded())) return;
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, Pem.of(certificate));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException("cannot keep the controller's certificate in " + file + ": " + e.getMessage(), e);
        }
        rpc.trustController(certificate);
        System.out.println("Trusting the controller's certificate sha256 " + Pem.fingerprint(certificate));
    }

    private record Tls(TlsIdentity identity, AgentRpcServer rpc, Path controllerCertificateFile) {}

    private static String newSecret() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

}
