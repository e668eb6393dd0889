package io.enclave.agent.network.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.core.network.IngressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.OneToOneNat;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

    ApplianceLab lab;
    ApplianceNetworkDriver driver;
    ApplianceNetworkDriver.ApplyReport first;
    String ext;

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
        lab = new ApplianceLab(PREFIX);
        try {
            driver = newDriver();
            driver.ensurePublicNetwork(PUBLIC);
            first = driver.apply(tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of()));
            System.out.printf("appliance: boot to guest agent %d ms, first configuration push %d ms, whole apply %d ms%n",
                    first.bootMs(), first.configMs(), first.totalMs());
            ext = lab.external(driver.names(), PUBLIC, EXTERNAL);
        } catch (Throwable e) {
            tearDown();
            throw e;
        }
    }

    ApplianceNetworkDriver newDriver() {
        return new ApplianceNetworkDriver(lab.runner, lab.dir.resolve("net"), PREFIX, IMAGE, "qemu-system-x86_64", 160, 1,
                Duration.ofSeconds(90));
    }

    @AfterAll
    void tearDown() {
        List<Throwable> errors = new ArrayList<>();
        if (driver != null) {
            Optional<Long> pid = driver.appliancePid(TA);
            ApplianceLab.attempt(errors, () -> driver.removeTenant(TA));
            pid.flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly); // only if the QMP quit failed
            ApplianceLab.attempt(errors, driver::removePublicNetwork);
        }
        if (lab != null) ApplianceLab.attempt(errors, lab::close);
        if (!errors.isEmpty()) throw new IllegalStateException("cleanup failed: " + errors);
    }

    @Test
    @Order(1)
    void vmGetsItsLeaseFromTheAppliancesDnsmasqAndReachesItsGateway() {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        String web = vm(driver, a, "vm-1", false);
        CommandResult dhcp = lab.in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.0.10 obtained");
        lab.ok("ip", "-n", web, "addr", "add", "10.0.0.10/24", "dev", "eth0");
        lab.ok("ip", "-n", web, "route", "add", "default", "via", "10.0.0.1");
        assertThat(lab.in(web, "busybox", "ping", "-c", "1", "-W", "3", "10.0.0.1").ok()).isTrue();
        assertThat(lab.in(web, "busybox", "nslookup", "db.internal", "10.0.0.1").stdout()).contains("10.0.0.11");
    }

    @Test
    @Order(2)
    void vmsLeaveWithTheTenantsPublicAddress() throws Exception {
        TenantNetworking a = tenantA(TA, A_PUBLIC, A_DB_PUBLIC, List.of());
        String web = vmNamespace("vm-1").orElseGet(() -> vm(driver, a, "vm-1", true));
        String db = vm(driver, a, "vm-2", true);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + A_PUBLIC);
        assertThat(lab.tool(db, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + A_DB_PUBLIC);
        assertThat(driver.ruleCounters(TA).get("default:egress-allow").packets()).isGreaterThanOrEqualTo(2);
    }

    @Test
    @Order(3)
    void outsideGetsInOnlyThroughForwardsAndOneToOneAddresses() throws Exception {
        String web = vmNamespace("vm-1").orElseThrow();
        String db = vmNamespace("vm-2").orElseThrow();
        lab.background(web, "serve", "80", "web");
        lab.background(db, "serve", "22", "db-ssh");
        lab.background(db, "serve", "23", "db-telnet");
        Map<String, RuleCounter> before = driver.ruleCounters(TA);

        assertThat(lab.tool(ext, "connect", A_PUBLIC, "8080", "5").stdout()).contains("web from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "22", "5").stdout()).contains("db-ssh from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "23", "1").ok()).isFalse();
        assertThat(lab.tool(ext, "connect", A_PUBLIC, "80", "1").ok()).isFalse();
        lab.ok("ip", "-n", ext, "route", "add", "10.0.0.0/24", "via", A_PUBLIC);
        assertThat(lab.tool(ext, "connect", "10.0.0.10", "80", "1").ok()).isFalse();

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
        assertThat(lab.tool(ext, "connect", A_PUBLIC, "2222", "5").stdout()).contains("db-ssh");
        Map<String, RuleCounter> c = restarted.ruleCounters(TA);
        assertThat(c.get("pf-extra").packets()).isEqualTo(1);
        assertThat(c.get("in-ssh").packets()).isEqualTo(sshBefore);
        assertThat(restarted.apply(changed).pushed()).isFalse();
        assertThat(restarted.apply(a).pushed()).isTrue();
        assertThat(restarted.apply(a).pushed()).as("stale counters deleted once, then stable").isFalse();
        assertThat(restarted.ruleCounters(TA)).doesNotContainKey("pf-extra");
        assertThat(lab.tool(ext, "connect", A_PUBLIC, "2222", "1").ok()).isFalse();
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
        lab.background(web, "iperf3", "-s", "-p", "5201");
        double viaAppliance = iperf(A_PUBLIC);

        // The light form of the same tenant shape, on the same public bridge.
        LinuxNetworkDriver light = new LinuxNetworkDriver(lab.runner, lab.dir.resolve("light"), PREFIX);
        light.ensurePublicNetwork(PUBLIC);
        TenantNetworking l = tenantA(TL, LIGHT_PUBLIC, null, List.of());
        try {
            light.applyTenant(l);
            String lweb = vm(light, l, "vm-1", true);
            lab.background(lweb, "iperf3", "-s", "-p", "5201");
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
        assertThat(lab.tool(ext, "connect", A_PUBLIC, "8080", "5").stdout()).contains("web from-peer=" + EXTERNAL);
        String web = vmNamespace("vm-1").orElseThrow();
        CommandResult dhcp = lab.in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.0.10 obtained");
        assertThat(driver.ruleCounters(TA).get("pf-web").packets()).isEqualTo(1);
    }

    double iperf(String target) throws Exception {
        Thread.sleep(300);
        CommandResult r = lab.runner.run(List.of("ip", "netns", "exec", ext, "iperf3", "-c", target, "-p", "5201", "-t", "3", "-J"),
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

    /** A namespace standing in for the VM of {@code vmId} on driver {@code d} (remembered when it is the appliance's). */
    String vm(NetworkDriver d, TenantNetworking t, String vmId, boolean withAddress) {
        String ns = lab.vm(d, driver.names(), t, vmId, withAddress);
        if (d == driver) vmNamespaces.put(vmId, ns);
        return ns;
    }
}
