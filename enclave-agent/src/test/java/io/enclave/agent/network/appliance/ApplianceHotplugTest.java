package io.enclave.agent.network.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.QmpException;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.host.VmNic;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
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
import org.slf4j.LoggerFactory;

/**
 * NIC hot-plug of the VM-appliance firewall with a real appliance (QEMU TCG, images/firewall, booted once for
 * the class): a network added to and removed from a running tenant changes the appliance's NICs without
 * restarting it, and a connection held open on the other network carries on; an MTU change replugs that network's
 * NIC, also without a restart; a hot-plug step that fails restarts it (the last case, as it reboots the
 * appliance). "VMs" and the external client
 * are namespaces, as in {@link ApplianceFirewallTest}. Everything is named {@link #PREFIX}... and removed in
 * {@link #tearDown}, whatever state a test left.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ApplianceHotplugTest {
    /** Name prefix of every namespace, link and temp dir: "ent8", or -Denclave.test.prefix to run beside another checkout. */
    static final String PREFIX = System.getProperty("enclave.test.prefix", "ent8");
    static final String TENANT = PREFIX + "-th";
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final String T_PUBLIC = "198.18.0.30";
    static final String EXTERNAL = "198.18.0.101";
    static final Duration T = Duration.ofSeconds(30);
    static final Network NET_A = Network.of("net-a", "front", "10.0.0.0/24");
    /** Listed before net-a, so the added NIC is not simply the next ethN of the networks' order. */
    static final Network NET_B = Network.of("net-b", "back", "10.0.1.0/24");
    static final Nic WEB = new Nic("vm-1", "net-a", "52:54:00:00:0a:01", "10.0.0.10", "web");
    static final Nic BACK = new Nic("vm-3", "net-b", "52:54:00:00:0b:01", "10.0.1.10", "back");

    ApplianceLab lab;
    ApplianceNetworkDriver driver;
    long pid;
    String ext;
    String web;

    static TenantNetworking one() {
        return new TenantNetworking(TENANT, T_PUBLIC, List.of(NET_A), List.of(WEB), List.of(), List.of(), List.of(), List.of());
    }

    /** {@link #one()} with net-a at {@code mtu}. */
    static TenantNetworking one(int mtu) {
        Network a = new Network(NET_A.id(), NET_A.name(), NET_A.cidr(), NET_A.gateway(), mtu, NET_A.vni());
        return new TenantNetworking(TENANT, T_PUBLIC, List.of(a), List.of(WEB), List.of(), List.of(), List.of(), List.of());
    }

    static TenantNetworking two() {
        return new TenantNetworking(TENANT, T_PUBLIC, List.of(NET_B, NET_A), List.of(WEB, BACK), List.of(), List.of(), List.of(),
                List.of());
    }

    @BeforeAll
    void setUp() throws Exception {
        if (!Files.exists(ApplianceFirewallTest.IMAGE.resolve("vmlinuz"))) {
            throw new IllegalStateException("firewall appliance image not built at " + ApplianceFirewallTest.IMAGE
                    + ": run images/firewall/build.sh (scripts/test.sh does)");
        }
        lab = new ApplianceLab(PREFIX);
        try {
            driver = new ApplianceNetworkDriver(lab.runner, lab.dir.resolve("net"), PREFIX, ApplianceFirewallTest.IMAGE,
                    "qemu-system-x86_64", 160, 1, Duration.ofSeconds(90));
            driver.ensurePublicNetwork(PUBLIC);
            ApplianceNetworkDriver.ApplyReport first = driver.apply(one());
            assertThat(first.booted()).isTrue();
            pid = first.qemuPid();
            ext = lab.external(driver.names(), PUBLIC, EXTERNAL);
            lab.background(ext, "serve", "9000", "ext");
            lab.background(ext, "echo", "7000");
            web = lab.vm(driver, driver.names(), one(), "vm-1", true);
        } catch (Throwable e) {
            tearDown();
            throw e;
        }
    }

    @AfterAll
    void tearDown() {
        List<Throwable> errors = new ArrayList<>();
        if (driver != null) {
            Optional<Long> running = driver.appliancePid(TENANT);
            ApplianceLab.attempt(errors, () -> driver.removeTenant(TENANT));
            running.flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly); // only if the QMP quit failed
            ApplianceLab.attempt(errors, driver::removePublicNetwork);
        }
        if (lab != null) ApplianceLab.attempt(errors, lab::close);
        if (!errors.isEmpty()) throw new IllegalStateException("cleanup failed: " + errors);
    }

    @Test
    @Order(1)
    void aNetworkIsHotPluggedAndUnpluggedWhileAFlowOnTheOtherNetworkCarriesOn() throws Exception {
        String macB = nicMac(two(), "net-b");
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2).doesNotContain(macB);
        // A connection VM (net-a) -> external client through the appliance's SNAT, echoing every 0.2 s.
        Path holdLog = lab.dir.resolve("hold.log");
        Process held = new ProcessBuilder("ip", "netns", "exec", web, "python3", lab.nettool.toString(), "hold", EXTERNAL, "7000", "600")
                .redirectErrorStream(true).redirectOutput(holdLog.toFile()).start();
        lab.track(held);
        awaitOks(holdLog, 3);

        ApplianceNetworkDriver.ApplyReport added = driver.apply(two());
        System.out.printf("appliance hot-plug: add a network, whole apply %d ms (NIC hot-plug until the guest sees it %d ms, "
                + "configuration %d ms)%n", added.totalMs(), added.hotplugMs(), added.configMs());
        assertThat(added.booted()).isFalse();
        assertThat(added.qemuPid()).isEqualTo(pid);
        assertThat(driver.appliancePid(TENANT)).contains(pid);
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(3).contains(macB);
        assertThat(guestMacs()).contains(macB);

        // A VM on the new network: its lease from the appliance's dnsmasq on the new leg, its gateway, the outside via SNAT.
        vmOnNetB();
        assertThat(driver.apply(two()).pushed()).as("converged: a second apply pushes nothing").isFalse();
        int oksAfterAdd = awaitOks(holdLog, 1);

        ApplianceNetworkDriver.ApplyReport removed = driver.apply(one());
        System.out.printf("appliance hot-plug: remove a network, whole apply %d ms (NIC unplug %d ms)%n",
                removed.totalMs(), removed.hotplugMs());
        assertThat(removed.booted()).isFalse();
        assertThat(removed.qemuPid()).isEqualTo(pid);
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2).doesNotContain(macB);
        assertThat(guestMacs()).doesNotContain(macB).contains(nicMac(one(), "net-a"));
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);
        assertThat(driver.apply(one()).pushed()).isFalse();

        // A restarted agent re-adopts the appliance as it is now: no boot, no plug, nothing pushed.
        ApplianceNetworkDriver restarted = new ApplianceNetworkDriver(lab.runner, lab.dir.resolve("net"), PREFIX, ApplianceFirewallTest.IMAGE,
                "qemu-system-x86_64", 160, 1, Duration.ofSeconds(90));
        restarted.ensurePublicNetwork(PUBLIC);
        ApplianceNetworkDriver.ApplyReport again = restarted.apply(one());
        assertThat(again.booted()).isFalse();
        assertThat(again.pushed()).isFalse();

        // The held connection never broke: still running, every echo answered within nettool's 1 s.
        int oksAtEnd = awaitOks(holdLog, oksAfterAdd + 5);
        assertThat(held.isAlive()).isTrue();
        String log = Files.readString(holdLog);
        assertThat(log).doesNotContain("broken");
        System.out.printf("appliance hot-plug: held connection answered %d echoes across the add and the removal%n", oksAtEnd);
        held.destroyForcibly().waitFor();
    }

    /**
     * An agent that stopped after QEMU had the new NIC (netdev_add and device_add done, nothing recorded, the guest
     * not configured): the next apply finds the NIC plugged, plugs nothing twice and configures the guest. Then one
     * that stopped in the middle of an unplug, and one that stopped between netdev_add and device_add.
     */
    @Test
    @Order(2)
    void anApplyAfterAPlugOrUnplugTheAgentDidNotFinishConverges() throws Exception {
        TenantNetworking t = two();
        VmNic b = driver.layout(t, PUBLIC).stream().filter(n -> n.networkId().equals("net-b")).findFirst().orElseThrow();
        Path qmp = lab.dir.resolve("net/tenants").resolve(TENANT).resolve("appliance");
        var client = new io.enclave.agent.qemu.QmpClient(new io.enclave.agent.qemu.VmFiles(qmp).qmpSocket());
        // What converge() does for the NIC, then "the agent stops".
        client.execute("netdev_add", java.util.Map.of("type", "tap", "id", "hpxn", "ifname", b.tap(), "script", "no", "downscript", "no"));
        client.execute("device_add", java.util.Map.of("driver", "virtio-net-pci", "id", "hpx", "netdev", "hpxn", "mac", b.mac(),
                "host_mtu", b.mtu()));
        ApplianceNetworkDriver.ApplyReport r = driver.apply(t);
        assertThat(r.booted()).isFalse();
        assertThat(r.qemuPid()).isEqualTo(pid);
        assertThat(r.pushed()).isTrue();
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(3);
        assertThat(driver.apply(t).pushed()).isFalse();
        String back = lab.vm(driver, driver.names(), t, "vm-3", true);
        assertThat(lab.in(back, "busybox", "ping", "-c", "1", "-W", "3", "10.0.1.1").ok()).isTrue();
        ApplianceNetworkDriver.ApplyReport removed = driver.apply(one());
        assertThat(removed.booted()).isFalse();
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2).doesNotContain(b.mac());

        // An agent stopped between DEVICE_DELETED and netdev_del: the leg's netdev still holds its TAP. Plugging the NIC
        // again deletes that netdev first instead of failing on the busy TAP (and restarting the appliance).
        assertThat(driver.apply(t).booted()).isFalse();
        try (var session = client.session()) {
            session.execute("device_del", java.util.Map.of("id", ApplianceNetworkDriver.legDevice("net-b")));
            session.awaitEvent("DEVICE_DELETED", e -> e.path("data").path("device").asText()
                    .equals(ApplianceNetworkDriver.legDevice("net-b")), Duration.ofSeconds(30));
        }
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2).doesNotContain(b.mac());
        ApplianceNetworkDriver.ApplyReport replugged = driver.apply(t);
        assertThat(replugged.booted()).isFalse();
        assertThat(replugged.qemuPid()).isEqualTo(pid);
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(3).contains(b.mac());
        assertThat(driver.apply(one()).booted()).isFalse();

        // An agent stopped between netdev_add and device_add: the same.
        client.execute("netdev_add", java.util.Map.of("type", "tap", "id", ApplianceNetworkDriver.legNetdev("net-b"), "ifname", b.tap(),
                "script", "no", "downscript", "no"));
        ApplianceNetworkDriver.ApplyReport plugged = driver.apply(t);
        assertThat(plugged.booted()).isFalse();
        assertThat(plugged.qemuPid()).isEqualTo(pid);
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(3).contains(b.mac());
        assertThat(driver.apply(one()).booted()).isFalse();
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2);
    }

    /**
     * An MTU change of a network with the appliance running: that network's NIC is replugged with the new host_mtu
     * (no restart); the bridge, the leg TAP, the VM ports and the guest's leg take the new MTU and dnsmasq hands it
     * out. Down from 1450 to 1400, then up to 1500, above the host_mtu the appliance booted with (what a
     * configuration push alone could not do: the guest cannot go above its device's host_mtu), then back to 1450.
     */
    @Test
    @Order(3)
    void anMtuChangeReplugsThatNetworksNicWithoutRestartingTheAppliance() throws Exception {
        assertThat(lab.pingDf(web, EXTERNAL, 1450)).as("before the change: a full-size packet of net-a").startsWith("reply");

        ApplianceNetworkDriver.ApplyReport lowered = driver.apply(one(1400));
        System.out.printf("appliance MTU change 1450 -> 1400: whole apply %d ms (NIC replug until the guest sees it %d ms, "
                + "configuration %d ms)%n", lowered.totalMs(), lowered.hotplugMs(), lowered.configMs());
        assertThat(lowered.booted()).isFalse();
        assertThat(lowered.hotplugFailure()).isNull();
        assertThat(lowered.qemuPid()).isEqualTo(pid);
        assertThat(driver.appliancePid(TENANT)).contains(pid);
        assertThat(lowered.pushed()).isTrue();
        assertMtuOfNetA(1400);
        // A VM that has not renewed its lease yet still sends 1450-byte frames: the host side of the network drops them.
        assertThat(lab.pingDf(web, EXTERNAL, 1450)).startsWith("no-reply");
        // Its next lease carries the new MTU (option 26); the stand-in applies it as a guest's DHCP client would.
        assertThat(lab.dhcpMtu(web)).isEqualTo(1400);
        lab.ok("ip", "-n", web, "link", "set", "eth0", "mtu", "1400");
        assertThat(lab.pingDf(web, NET_A.gateway(), 1400)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1400)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1401)).startsWith("too-big");
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);
        assertThat(driver.apply(one(1400)).pushed()).as("converged: a second apply pushes nothing").isFalse();

        ApplianceNetworkDriver.ApplyReport raised = driver.apply(one(1500));
        System.out.printf("appliance MTU change 1400 -> 1500: whole apply %d ms (NIC replug %d ms)%n", raised.totalMs(),
                raised.hotplugMs());
        assertThat(raised.booted()).isFalse();
        assertThat(raised.hotplugFailure()).isNull();
        assertThat(raised.qemuPid()).isEqualTo(pid);
        assertMtuOfNetA(1500);
        assertThat(lab.dhcpMtu(web)).isEqualTo(1500);
        lab.ok("ip", "-n", web, "link", "set", "eth0", "mtu", "1500");
        assertThat(lab.pingDf(web, NET_A.gateway(), 1500)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1500)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1501)).startsWith("too-big");
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);

        // Back to the default for the tests that follow.
        ApplianceNetworkDriver.ApplyReport restored = driver.apply(one());
        assertThat(restored.booted()).isFalse();
        assertThat(restored.qemuPid()).isEqualTo(pid);
        assertMtuOfNetA(1450);
        lab.ok("ip", "-n", web, "link", "set", "eth0", "mtu", "1450");
        assertThat(lab.pingDf(web, EXTERNAL, 1450)).startsWith("reply");
    }

    /**
     * The fallback with hot-plug on: a real hot-plug step fails (the appliance's PCI bus is full, filled over QMP
     * with test devices, so QEMU refuses the new NIC's device_add: "PCI: no slot/function available"), the appliance
     * is restarted with the new NIC set, the failure is logged and reported, and afterwards both the new and the old
     * network work.
     */
    @Test
    @Order(4)
    void aFailedHotPlugRestartsTheApplianceAndBothNetworksWork() throws Exception {
        ApplianceNetworkDriver.ApplyReport before = driver.apply(one());
        assertThat(before.booted()).isFalse();
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2);
        String fullBus = fillPciBus();

        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        Logger driverLog = (Logger) LoggerFactory.getLogger(ApplianceNetworkDriver.class);
        driverLog.addAppender(logged);
        ApplianceNetworkDriver.ApplyReport restarted;
        try {
            restarted = driver.apply(two());
        } finally {
            driverLog.detachAppender(logged);
        }
        System.out.printf("appliance hot-plug failed (%s): restart apply %d ms (boot %d ms)%n", restarted.hotplugFailure(),
                restarted.totalMs(), restarted.bootMs());
        assertThat(restarted.hotplugFailure()).contains("plugging the NIC of network net-b").contains("device_add").contains(fullBus);
        assertThat(logged.list).anySatisfy(e -> {
            assertThat(e.getLevel()).isEqualTo(Level.WARN);
            assertThat(e.getFormattedMessage()).contains("restarting the appliance").contains(fullBus);
        });
        assertThat(restarted.booted()).isTrue();
        assertThat(restarted.qemuPid()).isNotEqualTo(pid);
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).as("the old appliance QEMU").isNotEqualTo(Optional.of(true));
        assertThat(driver.appliancePid(TENANT)).contains(restarted.qemuPid());
        pid = restarted.qemuPid();
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(3).contains(nicMac(two(), "net-b"));

        // The new network: lease, gateway, SNAT.
        vmOnNetB();
        // The old one.
        CommandResult webDhcp = lab.in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(webDhcp.stdout() + webDhcp.stderr()).contains("lease of 10.0.0.10 obtained");
        assertThat(lab.in(web, "busybox", "ping", "-c", "1", "-W", "3", NET_A.gateway()).ok()).isTrue();
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);

        ApplianceNetworkDriver.ApplyReport again = driver.apply(two());
        assertThat(again.booted()).isFalse();
        assertThat(again.pushed()).isFalse();
        assertThat(driver.apply(one()).booted()).as("back to one network by unplug on the restarted appliance").isFalse();
    }

    /**
     * Figures for docs/benchmarks.md: the apply that adds a network, hot-plug against the restart it replaces
     * (the same driver with hot-plug off), {@code -Denclave.test.hotplugRuns} of each, interleaved. A benchmark,
     * not part of the suite: run by bench/appliance-hotplug.sh.
     */
    @Test
    @Order(5)
    void measuresAddingANetworkHotPlugAgainstRestart() throws Exception {
        Integer runs = Integer.getInteger("enclave.test.hotplugRuns");
        org.junit.jupiter.api.Assumptions.assumeTrue(runs != null, "benchmark: bench/appliance-hotplug.sh");
        int n = runs;
        long[] hot = new long[n];
        long[] restart = new long[n];
        System.out.println("appliance hot-plug: load average before: " + loadAverage());
        // Interleaved, so that the load other work puts on the machine weighs on both alike.
        for (int i = 0; i < n; i++) {
            ApplianceNetworkDriver.ApplyReport h = driver.apply(two());
            assertThat(h.booted()).isFalse();
            hot[i] = h.totalMs();
            assertThat(driver.apply(one()).booted()).isFalse();

            driver.hotplug(false);
            ApplianceNetworkDriver.ApplyReport r = driver.apply(two());
            assertThat(r.booted()).isTrue();
            restart[i] = r.totalMs();
            pid = r.qemuPid();
            // net-b's NIC is on the restarted QEMU's command line now: unplugging it works the same.
            driver.hotplug(true);
            ApplianceNetworkDriver.ApplyReport back = driver.apply(one());
            assertThat(back.booted()).isFalse();
            assertThat(back.qemuPid()).isEqualTo(pid);
        }
        assertThat(driver.applianceNicMacs(TENANT)).hasSize(2);
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);
        System.out.println("appliance hot-plug: load average after: " + loadAverage());
        System.out.printf("appliance hot-plug: apply adding a network, hot-plug %s ms (median %d), restart %s ms (median %d)%n",
                Arrays.toString(hot), median(hot), Arrays.toString(restart), median(restart));
        assertThat(median(hot)).isLessThan(median(restart));
    }

    // ---------------------------------------------------------------- lab

    static long median(long[] values) {
        long[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static String loadAverage() throws Exception {
        return Files.readString(Path.of("/proc/loadavg")).strip();
    }

    String nicMac(TenantNetworking t, String networkId) {
        return driver.layout(t, PUBLIC).stream().filter(n -> n.networkId().equals(networkId)).findFirst().orElseThrow().mac();
    }

    /**
     * Fills the running appliance's PCI root bus with test devices over QMP until QEMU refuses one; returns QEMU's
     * refusal (the error the driver's device_add of a NIC then gets too). The devices go with the appliance's restart.
     */
    String fillPciBus() {
        try (QmpClient.Session qmp = new QmpClient(new VmFiles(lab.dir.resolve("net/tenants").resolve(TENANT).resolve("appliance"))
                .qmpSocket()).session()) {
            for (int i = 0; i < 32; i++) {
                try {
                    qmp.execute("device_add", Map.of("driver", "pci-testdev", "id", PREFIX + "fill" + i));
                } catch (QmpException e) {
                    assertThat(i).as("test devices plugged before the bus was full").isPositive();
                    assertThat(e.getMessage()).contains("no slot");
                    String m = e.getMessage();
                    return m.substring(m.indexOf("PCI:"), m.indexOf(" for ", m.indexOf("PCI:"))); // without the device's name
                }
            }
        }
        throw new AssertionError("32 test devices fitted on the appliance's PCI bus: it never filled up");
    }

    /** net-a's MTU in QEMU (the leg's host_mtu), in the guest (the leg's interface) and on the host (bridge, leg TAP, VM port). */
    void assertMtuOfNetA(int mtu) throws Exception {
        try (QmpClient.Session qmp = new QmpClient(new VmFiles(lab.dir.resolve("net/tenants").resolve(TENANT).resolve("appliance"))
                .qmpSocket()).session()) {
            assertThat(qmp.execute("qom-get", Map.of("path", "/machine/peripheral/" + ApplianceNetworkDriver.legDevice("net-a"),
                    "property", "host_mtu")).asInt()).as("host_mtu of net-a's NIC").isEqualTo(mtu);
        }
        String mac = nicMac(one(), "net-a");
        String guest = driver.applianceAgent(TENANT).exec(List.of("/bin/sh", "-c",
                "for d in /sys/class/net/*; do echo \"$(cat $d/address) $(cat $d/mtu)\"; done"), T).stdout();
        assertThat(guest.lines()).as("guest interfaces (MAC MTU)").contains(mac + " " + mtu);

        String tns = driver.names().tenantNamespace(TENANT);
        Map<String, JsonNode> links = new HashMap<>();
        for (JsonNode l : new ObjectMapper().readTree(lab.ok("ip", "-n", tns, "-j", "link", "show").stdout())) {
            links.put(l.path("ifname").asText(), l);
        }
        String bridge = driver.names().networkBridge("net-a");
        assertThat(links.get(bridge).path("mtu").asInt()).as("bridge").isEqualTo(mtu);
        JsonNode leg = links.get(driver.legTap("net-a"));
        assertThat(leg.path("mtu").asInt()).as("appliance leg TAP").isEqualTo(mtu);
        assertThat(leg.path("master").asText()).isEqualTo(bridge);
        assertThat(links.get(driver.names().tap("vm-1", "net-a")).path("mtu").asInt()).as("VM port").isEqualTo(mtu);
    }

    /** A VM stand-in on net-b (vm-3) gets its lease from the appliance, reaches its gateway and the outside via SNAT. */
    void vmOnNetB() throws Exception {
        String back = lab.vm(driver, driver.names(), two(), "vm-3", false);
        CommandResult dhcp = lab.in(back, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.1.10 obtained");
        lab.ok("ip", "-n", back, "addr", "add", "10.0.1.10/24", "dev", "eth0");
        lab.ok("ip", "-n", back, "route", "add", "default", "via", "10.0.1.1");
        assertThat(lab.in(back, "busybox", "ping", "-c", "1", "-W", "3", "10.0.1.1").ok()).isTrue();
        assertThat(lab.tool(back, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + T_PUBLIC);
    }

    String guestMacs() {
        return driver.applianceAgent(TENANT).exec(List.of("/bin/sh", "-c", "cat /sys/class/net/*/address"), T).stdout();
    }

    /** Waits (up to 20 s) until the hold log has at least {@code atLeast} "ok" lines; returns how many it has. */
    static int awaitOks(Path log, int atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            int oks = Files.exists(log) ? (int) Files.readAllLines(log).stream().filter(l -> l.startsWith("ok ")).count() : 0;
            if (oks >= atLeast) return oks;
            if (System.nanoTime() > deadline) {
                throw new AssertionError("held connection: " + oks + " echoes, wanted " + atLeast + ": "
                        + (Files.exists(log) ? Files.readString(log) : ""));
            }
            Thread.sleep(100);
        }
    }
}
