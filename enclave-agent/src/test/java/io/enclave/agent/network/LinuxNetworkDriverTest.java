package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.network.EgressRule;
import io.enclave.core.network.IngressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.OneToOneNat;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The light firewall and tenant networks with real namespaces, bridges, nftables and dnsmasq. */
class LinuxNetworkDriverTest {
    static final String A_PUBLIC = "198.18.0.10";
    static final String A_DB_PUBLIC = "198.18.0.11";
    static final String B_PUBLIC = "198.18.0.20";
    static final String EXTERNAL = "198.18.0.100";

    NetLab lab;

    @BeforeEach
    void setUp() throws Exception {
        lab = new NetLab();
        lab.driver.ensurePublicNetwork(NetLab.PUBLIC);
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    static TenantNetworking tenantA() {
        return new TenantNetworking("ent3-ta", A_PUBLIC, List.of(Network.of("net-a", "front", "10.0.0.0/24")),
                List.of(new Nic("vm-1", "net-a", "52:54:00:00:0a:01", "10.0.0.10", "web"),
                        new Nic("vm-2", "net-a", "52:54:00:00:0a:02", "10.0.0.11", "db")),
                List.of(new IngressRule("in-ssh", Protocol.TCP, 22, 22, "0.0.0.0/0", null)),
                List.of(new PortForward("pf-web", Protocol.TCP, 8080, "vm-1", "net-a", 80, null)),
                List.of(new OneToOneNat("nat-db", A_DB_PUBLIC, "vm-2", "net-a")), List.of());
    }

    static TenantNetworking tenantB(List<PortForward> forwards) {
        return new TenantNetworking("ent3-tb", B_PUBLIC, List.of(Network.of("net-b", "front", "10.0.0.0/24")),
                List.of(new Nic("vm-b1", "net-b", "52:54:00:00:0b:01", "10.0.0.10", "web")),
                List.of(), forwards, List.of(), List.of());
    }

    @Test
    void vmGetsItsLeaseNamesGatewayAndLeavesWithThePublicAddress() throws Exception {
        TenantNetworking a = tenantA();
        long t0 = System.nanoTime();
        lab.apply(a);
        System.out.printf("apply (fresh tenant, 1 network, 2 NICs, 3 rules): %d ms%n", (System.nanoTime() - t0) / 1_000_000);
        String web = lab.vm(a, "vm-1", false);
        CommandResult dhcp = lab.in(web, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "1", "-s", "/bin/true");
        assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.0.0.10 obtained");

        String db = lab.vm(a, "vm-2", true);
        assertThat(lab.in(db, "busybox", "ping", "-c", "1", "-W", "2", "10.0.0.1").ok()).isTrue();
        CommandResult dns = lab.in(db, "busybox", "nslookup", "web.internal", "10.0.0.1");
        assertThat(dns.stdout()).contains("10.0.0.10");

        String ext = lab.external(EXTERNAL);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.tool(db, "connect", EXTERNAL, "9000", "3").stdout()).contains("from-peer=" + A_DB_PUBLIC);
        lab.ok("ip", "-n", web, "addr", "add", "10.0.0.10/24", "dev", "eth0");
        lab.ok("ip", "-n", web, "route", "add", "default", "via", "10.0.0.1");
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "3").stdout()).contains("from-peer=" + A_PUBLIC);
        assertThat(lab.driver.ruleCounters("ent3-ta").get("default:egress-allow").packets()).isGreaterThanOrEqualTo(2);
    }

    /**
     * A network's MTU change on the light firewall: the bridge, the gateway port, the firewall's leg and the VM
     * ports take it at once, dnsmasq hands out the new MTU, and full-size packets at the new MTU pass both ways
     * through the firewall while a VM still at the old MTU has its larger frames dropped at its port.
     */
    @Test
    void anMtuChangeReachesEveryPortAndTheLeases() throws Exception {
        TenantNetworking t = tenantB(List.of());
        lab.apply(t);
        String web = lab.vm(t, "vm-b1", false);
        assertThat(lab.dhcpMtu(web)).isEqualTo(1450);
        lab.address(web, t, "vm-b1");
        String ext = lab.external(EXTERNAL);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.pingDf(web, EXTERNAL, 1450)).startsWith("reply");

        Network lowered = new Network("net-b", "front", "10.0.0.0/24", "10.0.0.1", 1400, null);
        TenantNetworking changed = new TenantNetworking(t.tenantId(), t.publicIp(), List.of(lowered), t.nics(), List.of(),
                List.of(), List.of(), List.of());
        lab.apply(changed);

        NetNames n = lab.driver.names();
        assertThat(mtu(n.tenantNamespace(t.tenantId()), n.networkBridge("net-b"))).as("bridge").isEqualTo(1400);
        assertThat(mtu(n.tenantNamespace(t.tenantId()), n.gatewayPort("net-b"))).as("gateway port").isEqualTo(1400);
        assertThat(mtu(n.tenantNamespace(t.tenantId()), n.tap("vm-b1", "net-b"))).as("VM port").isEqualTo(1400);
        assertThat(mtu(n.firewallNamespace(t.tenantId()), n.firewallLeg("net-b"))).as("firewall leg").isEqualTo(1400);
        assertThat(mtu(n.firewallNamespace(t.tenantId()), n.firewallWan())).as("public side unchanged").isEqualTo(1500);
        // A VM that has not renewed its lease still sends 1450-byte frames: its port drops them.
        assertThat(lab.pingDf(web, EXTERNAL, 1450)).startsWith("no-reply");
        assertThat(lab.dhcpMtu(web)).as("the next lease carries the new MTU").isEqualTo(1400);
        lab.ok("ip", "-n", web, "link", "set", "eth0", "mtu", "1400");
        assertThat(lab.pingDf(web, "10.0.0.1", 1400)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1400)).startsWith("reply");
        assertThat(lab.pingDf(web, EXTERNAL, 1401)).startsWith("too-big");
        assertThat(lab.tool(web, "connect", EXTERNAL, "9000", "3").stdout()).contains("ext from-peer=" + B_PUBLIC);
    }

    private int mtu(String ns, String link) throws Exception {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(lab.ok("ip", "-n", ns, "-j", "link", "show", link).stdout())
                .get(0).path("mtu").asInt();
    }

    @Test
    void outsideReachesVmsOnlyThroughForwardsAndOneToOneAddresses() throws Exception {
        TenantNetworking a = tenantA();
        lab.apply(a);
        String web = lab.vm(a, "vm-1", true);
        String db = lab.vm(a, "vm-2", true);
        lab.background(web, "serve", "80", "web");
        lab.background(db, "serve", "22", "db-ssh");
        lab.background(db, "serve", "23", "db-telnet");
        String ext = lab.external(EXTERNAL);

        assertThat(lab.tool(ext, "connect", A_PUBLIC, "8080", "3").stdout()).contains("web from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "22", "3").stdout()).contains("db-ssh from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "23", "1").ok()).isFalse();
        assertThat(lab.tool(ext, "connect", A_PUBLIC, "80", "1").ok()).isFalse();
        // A route to the private network by hand: the firewall still drops it.
        lab.ok("ip", "-n", ext, "route", "add", "10.0.0.0/24", "via", A_PUBLIC);
        assertThat(lab.tool(ext, "connect", "10.0.0.10", "80", "1").ok()).isFalse();

        Map<String, RuleCounter> counters = lab.driver.ruleCounters("ent3-ta");
        assertThat(counters.get("pf-web").packets()).isEqualTo(1);
        assertThat(counters.get("in-ssh").packets()).isEqualTo(1);
        assertThat(counters.get("nat-db").packets()).isGreaterThanOrEqualTo(2);
        assertThat(counters.get("default:ingress-drop").packets()).isGreaterThanOrEqualTo(2);
        assertThat(counters.get("default:input-drop").packets()).isGreaterThanOrEqualTo(1);
    }

    @Test
    void tenantsWithIdenticalCidrsAreIsolated() throws Exception {
        TenantNetworking a = tenantA();
        lab.apply(a);
        lab.apply(tenantB(List.of()));
        String aWeb = lab.vm(a, "vm-1", true);
        String aDb = lab.vm(a, "vm-2", true);
        String bWeb = lab.vm(tenantB(List.of()), "vm-b1", true);
        lab.background(aWeb, "serve", "80", "a-web");
        lab.background(bWeb, "serve", "80", "b-web");

        assertThat(lab.tool(aDb, "connect", "10.0.0.10", "80", "2").stdout()).contains("a-web from-peer=10.0.0.11");
        assertThat(lab.tool(aDb, "connect", B_PUBLIC, "80", "1").ok()).isFalse();
        assertThat(lab.in(aDb, "busybox", "ping", "-c", "1", "-W", "1", B_PUBLIC).ok()).isFalse();
        // B's gateway address is A's own gateway: A cannot get at B's firewall by its private address.
        assertThat(lab.in(bWeb, "busybox", "ping", "-c", "1", "-W", "1", A_PUBLIC).ok()).isFalse();

        // Only where B opens a port, and then A arrives from A's public address.
        lab.apply(tenantB(List.of(new PortForward("pf-b", Protocol.TCP, 8080, "vm-b1", null, 80, null))));
        assertThat(lab.tool(aDb, "connect", B_PUBLIC, "8080", "3").stdout()).contains("b-web from-peer=" + A_DB_PUBLIC);
        assertThat(lab.tool(aWeb, "connect", B_PUBLIC, "8080", "3").stdout()).contains("b-web from-peer=" + A_PUBLIC);
    }

    @Test
    void vmPortsCannotSpoofMacOrIpNorAnswerDhcp() throws Exception {
        TenantNetworking a = tenantA();
        lab.apply(a);
        String web = lab.vm(a, "vm-1", true);
        String db = lab.vm(a, "vm-2", true);
        lab.ok("ip", "-n", web, "neigh", "replace", "10.0.0.11", "lladdr", "52:54:00:00:0a:02", "dev", "eth0");

        Process honest = lab.background(db, "udp-listen", "5000", "3");
        lab.tool(web, "udp-send", "10.0.0.10", "4000", "10.0.0.11", "5000", "honest");
        assertThat(NetLab.output(honest, Duration.ofSeconds(4))).contains("honest from-peer=10.0.0.10");

        lab.ok("ip", "-n", web, "addr", "add", "10.0.0.99/32", "dev", "eth0");
        Process spoofedIp = lab.background(db, "udp-listen", "5000", "1");
        lab.tool(web, "udp-send", "10.0.0.99", "4000", "10.0.0.11", "5000", "spoofed-ip");
        assertThat(NetLab.output(spoofedIp, Duration.ofSeconds(3))).contains("nothing");

        Process dhcpServer = lab.background(db, "udp-listen", "68", "1");
        lab.tool(web, "udp-send", "10.0.0.10", "67", "10.0.0.11", "68", "offer");
        assertThat(NetLab.output(dhcpServer, Duration.ofSeconds(3))).contains("nothing");

        lab.ok("ip", "-n", web, "link", "set", "eth0", "address", "52:54:00:00:0a:99");
        Process spoofedMac = lab.background(db, "udp-listen", "5000", "1");
        lab.tool(web, "udp-send", "10.0.0.10", "4000", "10.0.0.11", "5000", "spoofed-mac");
        assertThat(NetLab.output(spoofedMac, Duration.ofSeconds(3))).contains("nothing");
        // ARP claiming another VM's address is dropped too: db still has web's real MAC, or none.
        CommandResult neigh = lab.in(db, "ip", "neigh", "show", "10.0.0.10");
        assertThat(neigh.stdout()).doesNotContain("52:54:00:00:0a:99");
    }

    @Test
    void reapplyingChangesNothingAndARestartedAgentConverges() throws Exception {
        TenantNetworking a = tenantA();
        lab.apply(a);
        lab.apply(tenantB(List.of()));
        String db = lab.vm(a, "vm-2", true);
        String ext = lab.external(EXTERNAL);
        lab.background(db, "serve", "22", "db-ssh");
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "22", "3").ok()).isTrue();
        Path pidFile = lab.dir.resolve("net/tenants/ent3-ta/dns/net-a/dnsmasq.pid");
        String pid = Files.readString(pidFile).strip();

        // A new agent (new driver, same data directory) given the same input: only reads.
        Recorder recorder = new Recorder();
        LinuxNetworkDriver restarted = new LinuxNetworkDriver(recorder, lab.dir.resolve("net"), NetLab.PREFIX);
        restarted.ensurePublicNetwork(NetLab.PUBLIC);
        long t0 = System.nanoTime();
        restarted.applyTenant(a);
        System.out.printf("apply (no change, restarted agent): %d ms, %d commands%n", (System.nanoTime() - t0) / 1_000_000,
                recorder.commands.size());
        assertThat(recorder.commands).allSatisfy(c -> assertThat(c).matches(
                "ip -n \\S+ -j .*|ip netns exec \\S+ nft -j list .*|ip netns exec \\S+ sysctl -q -w net.ipv4.ip_forward=1"));
        assertThat(Files.readString(pidFile).strip()).isEqualTo(pid);
        // The VM's port (a veth here) was left alone, and the flow still works.
        assertThat(lab.tool(ext, "connect", A_DB_PUBLIC, "22", "3").ok()).isTrue();

        // A change: a new VM, a rule gone. dnsmasq is told (HUP), not restarted; other counters keep counting.
        List<Nic> nics = new ArrayList<>(a.nics());
        nics.add(new Nic("vm-3", "net-a", "52:54:00:00:0a:03", "10.0.0.12", "cache"));
        TenantNetworking changed = new TenantNetworking(a.tenantId(), a.publicIp(), a.networks(), nics, a.ingressRules(),
                List.of(), a.oneToOneNats(), List.of(new EgressRule("eg-dns", Protocol.UDP, 53, 53, null)));
        recorder.commands.clear();
        t0 = System.nanoTime();
        restarted.applyTenant(changed);
        System.out.printf("apply (1 NIC added, 1 forward removed, 1 egress rule added): %d ms, %d commands%n",
                (System.nanoTime() - t0) / 1_000_000, recorder.commands.size());
        assertThat(Files.readString(pidFile).strip()).isEqualTo(pid);
        assertThat(Files.readString(lab.dir.resolve("net/tenants/ent3-ta/dns/net-a/dhcp-hosts"))).contains("52:54:00:00:0a:03,10.0.0.12,cache");
        Map<String, RuleCounter> counters = restarted.ruleCounters("ent3-ta");
        assertThat(counters).doesNotContainKey("pf-web").containsKeys("eg-dns", "default:egress-drop");
        assertThat(counters.get("in-ssh").packets()).isEqualTo(2);
        assertThat(lab.in(lab.driver.names().tenantNamespace("ent3-ta"), "ip", "link", "show",
                lab.driver.names().tap("vm-3", "net-a")).ok()).isTrue();
        // Tenant B was not touched by any of it.
        assertThat(recorder.commands).noneMatch(c -> c.contains(lab.driver.names().firewallNamespace("ent3-tb")));
    }

    @Test
    void aRuleChangeKeepsEstablishedConnectionsOfOtherRules() throws Exception {
        TenantNetworking a = tenantA();
        lab.apply(a);
        String web = lab.vm(a, "vm-1", true);
        String db = lab.vm(a, "vm-2", true);
        lab.background(web, "echo", "80");
        lab.background(db, "echo", "22");
        String ext = lab.external(EXTERNAL);
        Process kept = lab.hold(ext, A_DB_PUBLIC, "22", 4);
        Process cut = lab.hold(ext, A_PUBLIC, "8080", 4);
        // The port forward goes away: its open connection stops, the 1:1 connection (in-ssh) carries on.
        lab.apply(new TenantNetworking(a.tenantId(), a.publicIp(), a.networks(), a.nics(), a.ingressRules(), List.of(),
                a.oneToOneNats(), a.egressRules()));
        String keptOut = NetLab.output(kept, Duration.ofSeconds(6));
        String cutOut = NetLab.output(cut, Duration.ofSeconds(6));
        assertThat(keptOut).contains("ok 6").doesNotContain("broken");
        assertThat(cutOut).contains("broken");
    }

    /** Figures for docs/benchmarks.md: time of a fresh and a no-op apply, memory per tenant. */
    @Test
    void measuresApplyTimeAndMemoryPerTenant() throws Exception {
        int n = 4;
        long[] fresh = new long[n];
        long[] noop = new long[n];
        long availableBefore = meminfo("MemAvailable");
        long slabBefore = meminfo("Slab");
        List<TenantNetworking> tenants = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            TenantNetworking a = tenantA();
            TenantNetworking t = new TenantNetworking("ent3-m" + i, "198.18.0." + (40 + 2 * i), a.networks(), a.nics(),
                    a.ingressRules(), a.portForwards(), List.of(new OneToOneNat("nat-db", "198.18.0." + (41 + 2 * i), "vm-2", "net-a")),
                    a.egressRules());
            tenants.add(t);
            long t0 = System.nanoTime();
            lab.apply(t);
            fresh[i] = (System.nanoTime() - t0) / 1_000_000;
            t0 = System.nanoTime();
            lab.apply(t);
            noop[i] = (System.nanoTime() - t0) / 1_000_000;
        }
        long rssKib = 0;
        for (TenantNetworking t : tenants) {
            String pid = Files.readString(lab.dir.resolve("net/tenants/" + t.tenantId() + "/dns/net-a/dnsmasq.pid")).strip();
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) rssKib += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        System.out.printf("apply fresh tenant (1 network, 2 NICs, 3 rules) ms: %s%n", java.util.Arrays.toString(fresh));
        System.out.printf("apply unchanged tenant ms: %s%n", java.util.Arrays.toString(noop));
        System.out.printf("per tenant: dnsmasq RSS %d KiB, MemAvailable drop %d KiB, Slab growth %d KiB (whole host, noisy)%n",
                rssKib / n, (availableBefore - meminfo("MemAvailable")) / n, (meminfo("Slab") - slabBefore) / n);
        java.util.Arrays.sort(fresh);
        assertThat(fresh[n / 2]).as("median fresh apply ms").isLessThan(1000);

        // 1,000 port forwards, then a change of one of them (a whole-ruleset transaction each time).
        TenantNetworking a = tenantA();
        List<PortForward> forwards = new ArrayList<>();
        for (int i = 0; i < 1000; i++) forwards.add(new PortForward("pf-" + i, Protocol.TCP, 10000 + i, "vm-1", null, 80, null));
        TenantNetworking big = new TenantNetworking("ent3-big", "198.18.0.90", a.networks(), a.nics(), List.of(), forwards,
                List.of(), List.of());
        long t0 = System.nanoTime();
        lab.apply(big);
        long first = (System.nanoTime() - t0) / 1_000_000;
        forwards.set(500, new PortForward("pf-500b", Protocol.TCP, 20000, "vm-2", null, 22, null));
        t0 = System.nanoTime();
        lab.apply(new TenantNetworking(big.tenantId(), big.publicIp(), big.networks(), big.nics(), List.of(), forwards,
                List.of(), List.of()));
        long change = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf("1000 port forwards: fresh tenant %d ms, one rule changed %d ms%n", first, change);
        assertThat(lab.driver.ruleCounters(big.tenantId())).hasSize(1000 + 3).containsKey("pf-500b");
    }

    static long meminfo(String key) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(key + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IllegalStateException(key);
    }

    @Test
    void badInputAppliesNothing() {
        TenantNetworking a = tenantA();
        TenantNetworking bad = new TenantNetworking(a.tenantId(), a.publicIp(),
                List.of(Network.of("net-a", "front", "10.0.0.0/24"), Network.of("net-c", "back", "10.0.0.0/16")), a.nics(),
                List.of(), List.of(new PortForward("pf-x", Protocol.TCP, 70000, "vm-9", null, 80, null)), List.of(), List.of());
        assertThatThrownBy(() -> lab.apply(bad)).isInstanceOf(EnclaveException.InvalidRequest.class)
                .hasMessageContaining("networks[1].cidr").hasMessageContaining("portForwards[0].publicPort")
                .hasMessageContaining("portForwards[0].vmId");
        assertThat(Files.exists(Path.of("/run/netns", lab.driver.names().firewallNamespace(a.tenantId())))).isFalse();
    }

    /** Runs commands for real and records them. */
    static final class Recorder implements CommandRunner {
        final List<String> commands = Collections.synchronizedList(new ArrayList<>());
        final ProcessCommandRunner real = new ProcessCommandRunner();

        @Override
        public CommandResult run(List<String> command, Duration timeout) {
            commands.add(String.join(" ", command));
            return real.run(command, timeout);
        }
    }
}
