package io.enclave.server.agent;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.core.Ids;
import io.enclave.core.host.HostAgent;
import io.enclave.server.HostOptions;
import io.enclave.server.StateFiles;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code enclave-agent}: the host agent of one machine, joined to a controller elsewhere. */
@Command(name = "enclave-agent", mixinStandardHelpOptions = true,
        description = "Runs this host's Enclave agent and joins it to a controller.")
public final class AgentMain implements Callable<Integer> {

    @Option(names = "--data-dir", defaultValue = "${ENCLAVE_DATA_DIR:-/var/lib/enclave-agent}",
            description = "This host's identity, VMs and networking. Default: ${DEFAULT-VALUE}")
    Path dataDir;

    @Option(names = "--controller", required = true, description = "The controller's API, e.g. http://10.0.0.1:8470/v1")
    String controllerUrl;

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
        Files.createDirectories(dataDir);
        Files.createDirectories(host.imagesDir());
        String hostId = StateFiles.readOrCreate(dataDir.resolve("host-id"), () -> Ids.newId("host"));
        String secret = StateFiles.readOrCreate(dataDir.resolve("host-secret"), AgentMain::newSecret);
        String hostName = name != null ? name : InetAddress.getLocalHost().getHostName();

        // The address the controller calls is this host's underlay address unless told otherwise.
        host.defaultUnderlay(listen);
        HostAgent agent = host.buildAgent(hostId, hostName, dataDir, new ProcessCommandRunner());
        AgentRpcServer rpc = new AgentRpcServer(agent, secret);
        int actualPort = rpc.start(listen, port);
        String agentUrl = "http://" + listen + ":" + actualPort;
        Files.writeString(dataDir.resolve("agent-url"), agentUrl + "\n");

        String underlay = host.underlayAddress();
        ControllerLink link = new ControllerLink(controllerUrl, joinToken,
                new ControllerLink.Identity(agent.info(), agentUrl, secret, underlay, host.sharedStorageName(),
                        host.sharedStoragePath()), Duration.ofSeconds(heartbeatSeconds),
                selfFenceSeconds > 0 && agent instanceof QemuHostAgent ? Duration.ofSeconds(selfFenceSeconds) : null,
                () -> ((QemuHostAgent) agent).fenceSelf());
        try {
            link.start(Duration.ofMinutes(5));
        } catch (ControllerLink.JoinRefused e) {
            System.err.println(e.getMessage());
            rpc.close();
            return 2;
        }
        System.out.println("Agent " + hostId + " serving on " + agentUrl + ", joined " + controllerUrl);
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

    private static String newSecret() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

}
