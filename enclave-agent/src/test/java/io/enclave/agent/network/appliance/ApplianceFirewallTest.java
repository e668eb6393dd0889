package io.enclave.agent.network.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.agent.network.NicAttachment;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.IngressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.OneToOneNat;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The VM-appliance firewall with a real appliance (QEMU TCG, images/firewall, booted once for the class),
 * the light form's key cases: DHCP from the appliance's dnsmasq, egress SNAT, port forward and 1:1 in,
 * default drop, counters, idempotent apply and re-adoption by a restarted agent. "VMs" and the external
 * client are namespaces (a veth in place of a NIC's TAP). Everything is named {@link #PREFIX}... and removed in
 * {@link #tearDown}, whatever state a test left.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApplianceFirewallTest {
    /** Name prefix of every namespace, link and temp dir: "ent7", or -Denclave.test.prefix to run beside another checkout. */
    static final String PREFIX = System.getProperty("enclave.test.prefix", "ent7");
    static final String TA = PREFIX + "-ta";
    static final String TL = PREFIX + "-tl";
    /** Where scripts/test.sh builds the appliance image (outside the tenant image library). */
    static final Path IMAGE = Path.of(System.getenv().getOrDefault("ENCLAVE_FIREWALL_IMAGE",
            "/var/cache/enclave/appliances/firewall"));
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final String A_PUBLIC = "198.18.0.10";
    static final String A_DB_PUBLIC = "198.18.0.11";
    static final String LIGHT_PUBLIC = "198.18.0.20";
    static final String EXTERNAL = "198.18.0.100";
    static final Duration T = Duration.ofSeconds(30);

    final CommandRunner runner = new ProcessCommandRunner();
    final List<String> namespaces = new ArrayList<>();
    final List<Process> processes = new ArrayList<>();
    Path dir;
    Path nettool;
    ApplianceNetworkDriver driver;
    ApplianceNetworkDriver.ApplyReport first;
    String ext;
    int next;

    static TenantNetworking tenantA(String tenantId, String publicIp, String natIp, List<PortForward> extra) {
        List<PortForward> forwards = new ArrayList<>(List.of(
                new PortForward("pf-web", Protocol.TCP, 8080, "vm-1", "net-a", 80, null),
                new PortForward("pf-iperf", Protocol.TCP, 5201, "vm-1", "net-a", 5201, null)));
        forwards.addAll(extra);
        return new TenantNetworking(tenantId, publicIp, List.of(Network.of("net-a", "front", "10.0.0.0/24")),
                List.of(new Nic("vm-1", "net-a", "52:54:00:00:0a:01", "10.0.0.10", "web"),
                        new Nic("vm-2", "net-a", "52:54:00:00:0a:02", "10.0.0.11", "db")),
                List.of(new IngressRule("in-ssh", Protocol.TCP, 22, 22, "0.0.0.0/0", null)), forwards,
                natIp == null ? List.of() : List.of(new OneToOneNat("nat-db", natIp, "vm-2", "net-a")), List.of());
    }

    @BeforeAll
    void setUp() throws Exception {
        if (!Files.exists(IMAGE.resolve("vmlinuz"))) {
            throw new IllegalStateException("firewall appliance image not built at " + IMAGE
                    + ": run images/firewall/build.sh (scripts/test.sh does)");
        }
        dir = Files.createTempDirectory(Path.of("/tmp"), PREFIX + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        nettool = dir.resolve("nettool.py");
        try (InputStream in = ApplianceFirewallTest.class.getResourceAsStream("/network/nettool.py")) {
            Files.copy(in, nettool);
        }
        try {
            driver = newDriver();
            driver.ensurePublicNetwork(PUBLIC);
            first = driver.apply(tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of()));
            System.out.printf("appliance: boot to guest agent %d ms, first configuration push %d ms, whole apply %d ms%n",
                    first.bootMs(), first.configMs(), first.totalMs());
            ext = external(EXTERNAL);
        } catch (Throwable e) {
            tearDown();
            throw e;
        }
    }

    ApplianceNetworkDriver newDriver() {
        return new ApplianceNetworkDriver(runner, dir.resolve("net"), PREFIX, IMAGE, "qemu-system-x86_64", 160, 1,
                Duration.ofSeconds(90));
    }

    @AfterAll
    void tearDown() {
        List<Throwable> errors = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        if (driver != null) {
            Optional<Long> pid = driver.appliancePid(TA);
            attempt(errors, () -> driver.removeTenant(TA));
            pid.flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly); // only if the QMP quit failed
        }
        for (String ns : namespaces) attempt(errors, () -> runner.run(List.of("ip", "netns", "del", ns), T));
        if (driver != null) attempt(errors, driver::removePublicNetwork);
        if (dir != null) {
            attempt(errors, () -> {
                try (Stream<Path> walk = Files.walk(dir)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        if (!errors.isEmpty()) throw new IllegalStateException("cleanup failed: " + errors);
    }

    @Test
    @Order(1)
    void vmGetsItsLeaseFromTheAppliancesDnsmasqAndReachesItsGateway() {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        String web = vm(driver, a, "vm-1", false);
        CommandResult dhcp = in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.0.10 obtained");
        ok("ip", "-n", web, "addr", "add", "10.0.0.10/24", "dev", "eth0");
        ok("ip", "-n", web, "route", "add", "default", "via", "10.0.0.1");
        assertThat(in(web, "busybox", "ping", "-c", "1", "-W", "3", "10.0.0.1").ok()).isTrue();
        assertThat(in(web, "busybox", "nslookup", "db.internal", "10.0.0.1").stdout()).contains("10.0.0.11");
    }

    @Test
    @Order(2)
    void vmsLeaveWithTheTenantsPublicAddress() throws Exception {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        String web = vmNamespace("vm-1").orElseGet(() -> vm(driver, a, "vm-1", true));
        String db = vm(driver, a, "vm-2", true);
        background(ext, "serve", "9000", "ext");
        assertThat(tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + A_PUBLIC);
        assertThat(tool(db, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + A_DB_PUBLIC);
        assertThat(driver.ruleCounters(TA).get("default:egress-allow").packets()).isGreaterThanOrEqualTo(2);
    }

    @Test
    @Order(3)
    void outsideGetsInOnlyThroughForwardsAndOneToOneAddresses() throws Exception {
        String web = vmNamespace("vm-1").orElseThrow();
        String db = vmNamespace("vm-2").orElseThrow();
        background(web, "serve", "80", "web");
        background(db, "serve", "22", "db-ssh");
        background(db, "serve", "23", "db-telnet");
        Map<String, RuleCounter> before = driver.ruleCounters(TA);

        assertThat(tool(ext, "connect", A_PUBLIC, "8080", "5").stdout()).contains("web from-peer=" + EXTERNAL);
        assertThat(tool(ext, "connect", A_DB_PUBLIC, "22", "5").stdout()).contains("db-ssh from-peer=" + EXTERNAL);
        assertThat(tool(ext, "connect", A_DB_PUBLIC, "23", "1").ok()).isFalse();
        assertThat(tool(ext, "connect", A_PUBLIC, "80", "1").ok()).isFalse();
        ok("ip", "-n", ext, "route", "add", "10.0.0.0/24", "via", A_PUBLIC);
        assertThat(tool(ext, "connect", "10.0.0.10", "80", "1").ok()).isFalse();

        Map<String, RuleCounter> c = driver.ruleCounters(TA);
        assertThat(c.get("pf-web").packets() - before.get("pf-web").packets()).isEqualTo(1);
        assertThat(c.get("in-ssh").packets() - before.get("in-ssh").packets()).isEqualTo(1);
        assertThat(c.get("default:ingress-drop").packets() - before.get("default:ingress-drop").packets()).isGreaterThanOrEqualTo(2);
        assertThat(c.get("default:input-drop").packets() - before.get("default:input-drop").packets()).isGreaterThanOrEqualTo(1);
    }

    @Test
    @Order(4)
    void reapplyPushesNothingAndARestartedAgentReadoptsTheAppliance() {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        long pid = first.qemuPid();
        ApplianceNetworkDriver restarted = newDriver();
        restarted.ensurePublicNetwork(PUBLIC);
        ApplianceNetworkDriver.ApplyReport same = restarted.apply(a);
        System.out.printf("appliance: unchanged apply by a restarted agent %d ms (config read %d ms)%n", same.totalMs(), same.configMs());
        assertThat(same.booted()).isFalse();
        assertThat(same.pushed()).isFalse();
        assertThat(same.qemuPid()).isEqualTo(pid);
        long sshBefore = restarted.ruleCounters(TA).get("in-ssh").packets();

        // A rule change: pushed through the guest agent, one nft transaction; other counters keep their values.
        TenantNetworking changed = tenantA(TA, A_PUBLIC, A_DB_PUBLIC,
                List.of(new PortForward("pf-extra", Protocol.TCP, 2222, "vm-2", "net-a", 22, null)));
        ApplianceNetworkDriver.ApplyReport change = restarted.apply(changed);
        System.out.printf("appliance: rule change applied through the guest agent in %d ms (whole apply %d ms)%n",
                change.configMs(), change.totalMs());
        assertThat(change.pushed()).isTrue();
        assertThat(change.qemuPid()).isEqualTo(pid);
        assertThat(tool(ext, "connect", A_PUBLIC, "2222", "5").stdout()).contains("db-ssh");
        Map<String, RuleCounter> c = restarted.ruleCounters(TA);
        assertThat(c.get("pf-extra").packets()).isEqualTo(1);
        assertThat(c.get("in-ssh").packets()).isEqualTo(sshBefore);
        assertThat(restarted.apply(changed).pushed()).isFalse();
        assertThat(restarted.apply(a).pushed()).isTrue();
        assertThat(restarted.apply(a).pushed()).as("stale counters deleted once, then stable").isFalse();
        assertThat(restarted.ruleCounters(TA)).doesNotContainKey("pf-extra");
        assertThat(tool(ext, "connect", A_PUBLIC, "2222", "1").ok()).isFalse();
    }

    /** Figures: appliance memory, iperf3 external client → VM through the appliance vs the light form. */
    @Test
    @Order(5)
    void measuresMemoryAndThroughputAgainstTheLightForm() throws Exception {
        long rss = 0;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(first.qemuPid()), "status"))) {
            if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        System.out.printf("appliance: QEMU RSS %d MiB (guest memory 160 MiB)%n", rss / 1024);
        assertThat(rss).isPositive();

        String web = vmNamespace("vm-1").orElseThrow();
        background(web, "iperf3", "-s", "-p", "5201");
        double viaAppliance = iperf(A_PUBLIC);

        // The light form of the same tenant shape, on the same public bridge.
        LinuxNetworkDriver light = new LinuxNetworkDriver(runner, dir.resolve("light"), PREFIX);
        light.ensurePublicNetwork(PUBLIC);
        TenantNetworking l = tenantA(TL, LIGHT_PUBLIC, null, List.of());
        try {
            light.applyTenant(l);
            String lweb = vm(light, l, "vm-1", true);
            background(lweb, "iperf3", "-s", "-p", "5201");
            double viaLight = iperf(LIGHT_PUBLIC);
            System.out.printf("iperf3 external -> VM namespace (3 s, TCP): appliance %.3f Gbit/s, light %.3f Gbit/s (%.1f %%)%n",
                    viaAppliance, viaLight, 100 * viaAppliance / viaLight);
        } finally {
            light.removeTenant(TL);
        }
        assertThat(viaAppliance).isPositive();
    }

    @Test
    @Order(6)
    void aKilledApplianceIsRebootedAndReconfiguredByTheNextApply() throws Exception {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        ProcessHandle qemu = ProcessHandle.of(first.qemuPid()).orElseThrow();
        qemu.destroyForcibly();
        qemu.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(driver.appliancePid(TA)).isEmpty();

        ApplianceNetworkDriver.ApplyReport again = driver.apply(a);
        System.out.printf("appliance: restart after kill, boot %d ms, configuration %d ms%n", again.bootMs(), again.configMs());
        assertThat(again.booted()).isTrue();
        assertThat(again.pushed()).isTrue();
        first = again; // tearDown and later figures refer to the running appliance
        assertThat(tool(ext, "connect", A_PUBLIC, "8080", "5").stdout()).contains("web from-peer=" + EXTERNAL);
        String web = vmNamespace("vm-1").orElseThrow();
        CommandResult dhcp = in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.0.10 obtained");
        assertThat(driver.ruleCounters(TA).get("pf-web").packets()).isEqualTo(1);
    }

    double iperf(String target) throws Exception {
        Thread.sleep(300);
        CommandResult r = runner.run(List.of("ip", "netns", "exec", ext, "iperf3", "-c", target, "-p", "5201", "-t", "3", "-J"),
                Duration.ofSeconds(40));
        assertThat(r.ok()).as("iperf3: " + r.stderr()).isTrue();
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
        return json.path("end").path("sum_received").path("bits_per_second").asDouble() / 1e9;
    }

    // ---------------------------------------------------------------- lab

    final Map<String, String> vmNamespaces = new java.util.HashMap<>();

    Optional<String> vmNamespace(String vmId) {
        return Optional.ofNullable(vmNamespaces.get(vmId));
    }

    /** A namespace standing in for the VM of {@code vmId}: its eth0 (a veth) replaces the NIC's TAP. */
    String vm(NetworkDriver d, TenantNetworking t, String vmId, boolean withAddress) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        Network network = t.network(nic.networkId()).orElseThrow();
        NicAttachment a = d.nicAttachment(t, vmId, nic.networkId());
        String ns = namespace("v");
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "" + network.mtu(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", driver.names().networkBridge(network.id()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "" + network.mtu(), "up");
        if (withAddress) {
            ok("ip", "-n", ns, "addr", "add", nic.ip() + "/" + Cidr.parse(network.cidr()).prefixLength(), "dev", "eth0");
            ok("ip", "-n", ns, "route", "add", "default", "via", network.gateway());
        }
        if (d == driver) vmNamespaces.put(vmId, ns);
        return ns;
    }

    String external(String ip) {
        String ns = namespace("x");
        String port = PREFIX + "x" + ns.substring(ns.lastIndexOf('-') + 1);
        String pns = driver.names().publicNamespace();
        ok("ip", "-n", pns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", pns, "link", "set", port, "master", driver.names().publicBridge(), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "up");
        ok("ip", "-n", ns, "addr", "add", ip + "/" + PUBLIC.parsedCidr().prefixLength(), "dev", "eth0");
        return ns;
    }

    String namespace(String kind) {
        String ns = PREFIX + "-" + kind + ProcessHandle.current().pid() % 10000 + "x" + (next++);
        ok("ip", "netns", "add", ns);
        namespaces.add(ns);
        ok("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
        ok("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    CommandResult ok(String... argv) {
        return runner.runChecked(List.of(argv), T);
    }

    CommandResult in(String ns, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(argv));
        return runner.run(cmd, T);
    }

    CommandResult tool(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        return in(ns, cmd.toArray(String[]::new));
    }

    /** A nettool server ("serve", ...) or another program (iperf3) in the background. */
    void background(String ns, String... args) throws Exception {
        boolean nettoolServer = !args[0].equals("iperf3");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        if (nettoolServer) cmd.addAll(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        if (!nettoolServer) return;
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals("listening")) throw new IllegalStateException("server did not start: " + line);
    }

    interface Step {
        void run() throws Exception;
    }

    static void attempt(List<Throwable> errors, Step step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }
}
