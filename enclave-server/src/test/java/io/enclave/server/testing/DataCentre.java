package io.enclave.server.testing;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.image.ImageLibrary;
import io.enclave.controller.Controller;
import io.enclave.controller.persistence.Database;
import io.enclave.server.agent.AgentMain;
import io.enclave.tls.PinnedTls;
import io.enclave.tls.TlsIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Several hosts on this machine: each host is a network namespace with its own address on a
 * "data-centre" bridge, its own data directory and its own enclave-agent process; the controller runs in
 * the test's JVM and reaches the agents over that underlay. The controller's API is HTTPS ({@code --tls}); the
 * agents pin its fingerprint, as an operator would. Every name starts with {@code em} and the underlay
 * is 10.97.0.0/24, unless the environment variable {@code ENCLAVE_TEST_DC} says {@code PREFIX:OCTET} (for
 * example {@code fm:98}), so that two checkouts can run their multi-host tests at the same time.
 */
public final class DataCentre implements AutoCloseable {
    public static final String JOIN_TOKEN = "test-join-token-0123456789abcdef";
    static final String PREFIX = setting(0, "em");
    static final String SUBNET = "10." + setting(1, "97") + ".0.";
    static final String DC_NS = PREFIX + "dc";
    static final String CONTROLLER_ADDRESS = SUBNET + "1";
    private static final Duration T = Duration.ofSeconds(30);

    private static String setting(int part, String fallback) {
        String value = System.getenv("ENCLAVE_TEST_DC");
        return value == null || value.isBlank() ? fallback : value.split(":")[part];
    }

    /** The controller's TLS identity (kept in the data-centre directory, as enclave-server keeps it in its data dir). */
    public TlsIdentity controllerIdentity() {
        return TlsIdentity.loadOrCreate(dir, "controller-tls", "enclave-controller", List.of(CONTROLLER_ADDRESS));
    }

    /** An address on the underlay that no host uses. */
    public static String unusedUnderlayAddress() {
        return SUBNET + "99";
    }

    private final ProcessCommandRunner run = new ProcessCommandRunner();
    public final Path dir;
    public final Path images;
    private volatile Controller controller;
    private volatile Database db;
    public final TestApi admin;
    private final List<Host> hosts = new ArrayList<>();

    /** One simulated host: its namespace, underlay address, data directory and agent process. */
    public final class Host {
        public final int index;
        public final String netns;
        public final String address;
        public final String netPrefix;
        public final Path dataDir;
        public final Path sharedStorage;
        private Process agent;

        Host(int index, Path sharedStorage) {
            this.index = index;
            this.netns = PREFIX + "h" + index;
            this.address = SUBNET + (10 + index);
            this.netPrefix = PREFIX + index;
            this.dataDir = dir.resolve("host" + index);
            this.sharedStorage = sharedStorage;
        }

        /** Starts (or restarts) the host's agent and waits until the controller sees it up. */
        public Host startAgent() {
            // nsenter --net, not "ip netns exec": the latter gives the agent a private mount namespace, so the
            // network namespaces the agent adds under /run/netns would not be visible to the rest of the machine.
            List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + netns,
                    ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    AgentMain.class.getName(), "--data-dir", dataDir.toString(), "--images-dir", images.toString(),
                    "--controller", "https://" + CONTROLLER_ADDRESS + ":" + controller.port() + "/v1",
                    "--controller-fingerprint", controller.tlsIdentity().fingerprint(),
                    "--join-token", JOIN_TOKEN, "--listen", address, "--port", "8471", "--name", "host" + index,
                    "--net-prefix", netPrefix, "--accel", "tcg", "--heartbeat-seconds", "1", "--self-fence-seconds", "3",
                    // after an agent restart (a JVM start, under load ~1-2 s), before the controller's HA (5 + 4 s)
                    "--fence-watchdog-seconds", "7"));
            if (sharedStorage != null) cmd.add("--shared-storage=dc-shared=" + sharedStorage);
            try {
                Files.createDirectories(dataDir);
                // Written by the agent once it listens: its absence tells a fresh start from the last run.
                Files.deleteIfExists(dataDir.resolve("agent-url"));
                agent = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("agent.log").toFile())).start();
            } catch (IOException e) {
                throw new IllegalStateException("cannot start the agent of host " + index, e);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline) {
                if (!agent.isAlive()) throw new IllegalStateException("agent of host " + index + " exited; see " + dataDir.resolve("agent.log"));
                if (Files.exists(dataDir.resolve("agent-url"))) {
                    var r = admin.get("/v1/hosts/" + id());
                    if (r.status() == 200 && r.get("status").asText().equals("up")) return this;
                }
                InProcessEnclave.sleep(200);
            }
            throw new IllegalStateException("host " + index + " did not join within 60 s; see " + dataDir.resolve("agent.log"));
        }

        public String id() {
            try {
                return Files.readString(dataDir.resolve("host-id")).strip();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        public boolean agentAlive() {
            return agent != null && agent.isAlive();
        }

        /** The host dies: its agent and every process it started (QEMU, dnsmasq) get SIGKILL at once. */
        public void kill() {
            if (agent != null) agent.destroyForcibly();
            run.run(List.of("pkill", "-9", "-f", dataDir.toString()), T);
            waitFor();
        }

        /** Cuts the host off the underlay (its agent and VMs keep running, unreachable). */
        public void partition() {
            run.runChecked(List.of("ip", "-n", netns, "link", "set", "eth0", "down"), T);
        }

        public void heal() {
            run.runChecked(List.of("ip", "-n", netns, "link", "set", "eth0", "up"), T);
        }

        /** The host's fence watchdog dies (kill -9): an agent that dies then leaves its VMs running unfenced. */
        public void killWatchdog() {
            run.run(List.of("pkill", "-9", "-f", dataDir + "/fence/fence-watchdog.sh"), T);
        }

        /** The fence watchdog's log (what it killed). */
        public String watchdogLog() {
            try {
                Path log = dataDir.resolve("fence/watchdog.log");
                return Files.exists(log) ? Files.readString(log) : "";
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Only the agent process dies (kill -9); its VMs keep running. */
        public void killAgent() {
            if (agent != null) agent.destroyForcibly();
            waitFor();
        }

        private void waitFor() {
            try {
                if (agent != null) agent.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Runs a command inside the host's namespace. */
        public CommandResult exec(String... command) {
            List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=/run/netns/" + netns));
            cmd.addAll(List.of(command));
            return run.run(cmd, T);
        }

        void cleanUp() {
            kill();
            for (String ns : namespaces()) {
                if (ns.startsWith(netPrefix)) run.run(List.of("ip", "netns", "delete", ns), T);
            }
            run.run(List.of("ip", "netns", "delete", netns), T);
        }
    }

    private DataCentre(Path dir, Path images, Controller controller, Database db, TestApi admin) {
        this.dir = dir;
        this.images = images;
        this.controller = controller;
        this.db = db;
        this.admin = admin;
    }

    /** The underlay and a controller (no host of its own) listening on it. */
    public static DataCentre start(boolean withDefaultImage) {
        ProcessCommandRunner run = new ProcessCommandRunner();
        Path dir = null;
        try {
            cleanLeftovers(run);
            dir = Files.createTempDirectory(Path.of("/tmp"), PREFIX + "dc-");
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Path images = Files.createDirectories(dir.resolve("images"));
            InProcessEnclave.makeTinyImage(images.resolve(InProcessEnclave.TINY_IMAGE));
            if (withDefaultImage) Files.createSymbolicLink(images.resolve("default"), GuestImages.ensureDefault());
            check(run, "ip", "netns", "add", DC_NS);
            check(run, "ip", "-n", DC_NS, "link", "add", DC_NS + "br", "type", "bridge");
            check(run, "ip", "-n", DC_NS, "link", "set", DC_NS + "br", "up");
            check(run, "ip", "link", "add", DC_NS + "0", "type", "veth", "peer", "name", DC_NS + "0p", "netns", DC_NS);
            check(run, "ip", "-n", DC_NS, "link", "set", DC_NS + "0p", "master", DC_NS + "br", "up");
            check(run, "ip", "addr", "add", CONTROLLER_ADDRESS + "/24", "dev", DC_NS + "0");
            check(run, "ip", "link", "set", DC_NS + "0", "up");

            Database db = Database.open(Database.h2Url(dir), null, null);
            Controller controller = newController(dir, images, db, 0);
            String token = controller.tenants().bootstrapAdminToken();
            controller.start();
            return new DataCentre(dir, images, controller, db,
                    new TestApi("https://" + CONTROLLER_ADDRESS + ":" + controller.port(), token,
                            PinnedTls.client(null, controller.tlsIdentity().certificate())));
        } catch (IOException | RuntimeException e) {
            // nothing of a failed start stays: the underlay namespace, its veth, the directory
            cleanLeftovers(run);
            if (dir != null) InProcessEnclave.deleteTree(dir);
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
    }

    /** A controller on the data centre's database, serving HTTPS with the identity kept in {@code dir}. */
    private static Controller newController(Path dir, Path images, Database db, int port) {
        Controller.Settings s = new Controller.Settings(CONTROLLER_ADDRESS, port, 4, Duration.ofSeconds(2),
                Duration.ofMinutes(5), 16.0, 1.5, JOIN_TOKEN, Duration.ofSeconds(5), Duration.ofSeconds(4),
                TlsIdentity.loadOrCreate(dir, "controller-tls", "enclave-controller", List.of(CONTROLLER_ADDRESS)), true);
        return new Controller(db, new ImageLibrary(images, new ProcessCommandRunner()), s);
    }

    public Controller controller() {
        return controller;
    }

    /** The current controller's database (to check what it stores). */
    public Database db() {
        return db;
    }

    /**
     * Stops the controller and starts a new one on the same database and port, as after a crash or an upgrade
     * (the agents and their VMs keep running meanwhile).
     */
    public void restartController() {
        int port = controller.port();
        controller.close();
        db = Database.open(Database.h2Url(dir), null, null);
        controller = newController(dir, images, db, port);
        controller.start();
    }

    /** Adds a host namespace on the underlay and starts its agent. */
    public Host addHost(Path sharedStorage) {
        Host h = new Host(hosts.size() + 1, sharedStorage);
        hosts.add(h);
        check(run, "ip", "netns", "add", h.netns);
        check(run, "ip", "-n", h.netns, "link", "set", "lo", "up");
        check(run, "ip", "-n", h.netns, "link", "add", "eth0", "type", "veth", "peer", "name", PREFIX + "h" + h.index + "p",
                "netns", DC_NS);
        check(run, "ip", "-n", DC_NS, "link", "set", PREFIX + "h" + h.index + "p", "master", DC_NS + "br", "up");
        check(run, "ip", "-n", h.netns, "addr", "add", h.address + "/24", "dev", "eth0");
        check(run, "ip", "-n", h.netns, "link", "set", "eth0", "up");
        return h.startAgent();
    }

    public List<Host> hosts() {
        return hosts;
    }

    public TestApi tenant(String name, int vcpus, long memoryMib, long diskGib, int vms) {
        TestApi.Response t = admin.post("/v1/tenants", java.util.Map.of("name", name,
                "quota", java.util.Map.of("vcpus", vcpus, "memoryMib", memoryMib, "diskGib", diskGib, "vms", vms)));
        if (t.status() != 201) throw new IllegalStateException("tenant create failed: " + t);
        TestApi.Response tok = admin.post("/v1/tenants/" + t.get("id").asText() + "/tokens", java.util.Map.of("name", "test"));
        if (tok.status() != 201) throw new IllegalStateException("token create failed: " + tok);
        return admin.withToken(tok.get("token").asText());
    }

    @Override
    public void close() {
        controller.close();
        for (Host h : hosts) h.cleanUp();
        cleanLeftovers(run);
        InProcessEnclave.deleteTree(dir);
    }

    private static void cleanLeftovers(ProcessCommandRunner run) {
        run.run(List.of("ip", "link", "delete", DC_NS + "0"), T);
        for (String ns : namespaces()) {
            if (ns.startsWith(PREFIX)) run.run(List.of("ip", "netns", "delete", ns), T);
        }
    }

    static List<String> namespaces() {
        CommandResult r = new ProcessCommandRunner().run(List.of("ip", "netns", "list"), T);
        return r.stdout().lines().map(l -> l.split(" ")[0]).filter(s -> !s.isBlank()).toList();
    }

    private static void check(ProcessCommandRunner run, String... cmd) {
        run.runChecked(List.of(cmd), T);
    }
}
