package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.network.LinuxNetworkDriverTest.Recorder;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.network.HostRole;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Tenant networks and the public network across two simulated hosts ({@link TwoHosts}): VXLAN per network
 * from each host's underlay namespace, the firewall on one host only.
 */
class MultiHostNetworkTest {
    static final String T1_PUBLIC = "198.18.0.10";
    static final String T2_PUBLIC = "198.18.0.20";
    static final String EXTERNAL = "198.18.0.100";
    static final ObjectMapper JSON = new ObjectMapper();

    TwoHosts lab;

    @BeforeEach
    void setUp() throws Exception {
        lab = new TwoHosts();
        for (int h = 1; h <= 2; h++) lab.driver(h).ensurePublicNetwork(TwoHosts.PUBLIC, List.of(TwoHosts.peerOf(h)));
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @AfterAll
    static void nothingIsLeft() {
        var runner = new io.enclave.agent.exec.ProcessCommandRunner();
        String netns = runner.runChecked("ip", "netns", "list").stdout();
        assertThat(netns.lines()).noneMatch(l -> l.matches("(exa-|exb-|exh[12]|exdc|ex-[vx]).*"));
        String links = runner.runChecked("ip", "-o", "link").stdout();
        assertThat(links.lines()).noneMatch(l -> l.matches("\\d+: (exa|exb|exdc|exu|exx)\\S*:.*"));
    }

    /** Tenant 1: one network, web on host 1, app on host 2, a port forward to app; firewall on {@code fwHost}. */
    static TenantNetworking tenant1(int host, int fwHost, List<String> peers) {
        TenantNetworking t = new TenantNetworking("ex-t1", T1_PUBLIC,
                List.of(new Network("net-1", "front", "10.0.0.0/24", "10.0.0.1", Network.DEFAULT_MTU, 4101)),
                List.of(new Nic("vm-1", "net-1", "52:54:00:00:1a:01", "10.0.0.10", "web"),
                        new Nic("vm-2", "net-1", "52:54:00:00:1a:02", "10.0.0.11", "app")),
                List.of(), List.of(new PortForward("pf-app", Protocol.TCP, 8080, "vm-2", null, 80, null)), List.of(), List.of());
        return t.withHostRole(new HostRole(host == fwHost, peers, List.of(TwoHosts.peerOf(host))));
    }

    static TenantNetworking tenant1(int host) {
        return tenant1(host, 1, List.of(TwoHosts.peerOf(host)));
    }

    /** Tenant 2: the same CIDR and addresses as tenant 1's VMs, its own VNI, firewall on host 2. */
    static TenantNetworking tenant2(int host) {
        TenantNetworking t = new TenantNetworking("ex-t2", T2_PUBLIC,
                List.of(new Network("net-2", "front", "10.0.0.0/24", "10.0.0.1", Network.DEFAULT_MTU, 4102)),
                List.of(new Nic("vm-3", "net-2", "52:54:00:00:2a:03", "10.0.0.10", "web"),
                        new Nic("vm-4", "net-2", "52:54:00:00:2a:04", "10.0.0.11", "app")),
                List.of(), List.of(), List.of(), List.of());
        return t.withHostRole(new HostRole(host == 2, List.of(TwoHosts.peerOf(host)), List.of(TwoHosts.peerOf(host))));
    }

    @Test
    void vmOnTheSecondHostUsesTheFirewallOnTheFirst() throws Exception {
        long t0 = System.nanoTime();
        lab.apply(1, tenant1(1));
        long fw = System.nanoTime();
        lab.apply(2, tenant1(2));
        System.out.printf("apply: firewall host %d ms, bridging-only host %d ms%n", (fw - t0) / 1_000_000,
                (System.nanoTime() - fw) / 1_000_000);
        String tns2 = lab.names(2).tenantNamespace("ex-t1");
        assertThat(Files.exists(Path.of("/run/netns", lab.names(2).firewallNamespace("ex-t1")))).isFalse();

        // The VXLAN on host 2: on the network's bridge, same MTU as the bridge and the VM ports.
        JsonNode vx = JSON.readTree(lab.ok("ip", "-n", tns2, "-j", "-d", "link", "show", lab.names(2).vxlan("net-1")).stdout()).get(0);
        assertThat(vx.path("master").asText()).isEqualTo(lab.names(2).networkBridge("net-1"));
        assertThat(vx.path("mtu").asInt()).isEqualTo(1450);
        assertThat(vx.path("linkinfo").path("info_data").path("id").asInt()).isEqualTo(4101);
        JsonNode br = JSON.readTree(lab.ok("ip", "-n", tns2, "-j", "link", "show", lab.names(2).networkBridge("net-1")).stdout()).get(0);
        assertThat(br.path("mtu").asInt()).isEqualTo(1450);
        assertThat(new VxlanPorts(lab.runner, null).floodEntries(tns2))
                .isEqualTo(Map.of(lab.names(2).vxlan("net-1"), Set.of(TwoHosts.peerOf(2))));

        // DHCP from host 1's dnsmasq, over the VXLAN.
        String app = lab.vm(2, tenant1(2), "vm-2", false);
        assertThat(lab.dhcp(app)).contains("lease of 10.0.0.11 obtained");
        lab.address(app, tenant1(2), "vm-2");
        String web = lab.vm(1, tenant1(1), "vm-1", true);
        assertThat(lab.ping(app, "10.0.0.1")).as("gateway on the other host").isTrue();
        assertThat(lab.ping(app, "10.0.0.10")).as("VM on the other host").isTrue();
        assertThat(lab.ping(web, "10.0.0.11")).isTrue();

        // Out through host 1's firewall (SNAT) and back over the public VXLAN to a client on host 2.
        String ext = lab.external(2, EXTERNAL);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.tool(app, "connect", EXTERNAL, "9000", "3").stdout()).contains("ext from-peer=" + T1_PUBLIC);

        // In only through the port forward.
        lab.background(app, "serve", "80", "app");
        assertThat(lab.tool(ext, "connect", T1_PUBLIC, "8080", "3").stdout()).contains("app from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", T1_PUBLIC, "80", "1").ok()).isFalse();
        lab.ok("ip", "-n", ext, "route", "add", "10.0.0.0/24", "via", T1_PUBLIC);
        assertThat(lab.tool(ext, "connect", "10.0.0.11", "80", "1").ok()).isFalse();
        assertThat(lab.driver(1).ruleCounters("ex-t1").get("pf-app").packets()).isEqualTo(1);
    }

    @Test
    void tenantsWithTheSameCidrAreIsolatedAcrossHosts() throws Exception {
        for (int h = 1; h <= 2; h++) {
            lab.apply(h, tenant1(h));
            lab.apply(h, tenant2(h));
        }
        String t1web = lab.vm(1, tenant1(1), "vm-1", true);
        String t1app = lab.vm(2, tenant1(2), "vm-2", true);
        String t2web = lab.vm(1, tenant2(1), "vm-3", true);
        String t2app = lab.vm(2, tenant2(2), "vm-4", true);
        lab.background(t1app, "serve", "80", "t1-app");
        lab.background(t2app, "serve", "80", "t2-app");

        // Each tenant reaches its own VM on the other host at 10.0.0.11, never the other tenant's.
        assertThat(lab.tool(t1web, "connect", "10.0.0.11", "80", "3").stdout()).contains("t1-app from-peer=10.0.0.10");
        assertThat(lab.tool(t2web, "connect", "10.0.0.11", "80", "3").stdout()).contains("t2-app from-peer=10.0.0.10");
        // Tenant 2's gateway (firewall on host 2) answers tenant 2 only; tenant 1's MACs never show up in tenant 2.
        assertThat(lab.ping(t2web, "10.0.0.1")).isTrue();
        String neigh = lab.in(t2web, "ip", "neigh", "show").stdout();
        assertThat(neigh).doesNotContain("52:54:00:00:1a:");
        assertThat(lab.in(t1web, "ip", "neigh", "show").stdout()).doesNotContain("52:54:00:00:2a:");
        // Each tenant leaves through its own firewall, on its own host.
        String ext = lab.external(1, EXTERNAL);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.tool(t2web, "connect", EXTERNAL, "9000", "3").stdout()).contains("from-peer=" + T2_PUBLIC);
        assertThat(lab.tool(t1app, "connect", EXTERNAL, "9000", "3").stdout()).contains("from-peer=" + T1_PUBLIC);
        // And cannot get at the other's VMs from outside either.
        assertThat(lab.tool(t2web, "connect", T1_PUBLIC, "8080", "3").stdout()).contains("t1-app from-peer=" + T2_PUBLIC);
        assertThat(lab.tool(t1web, "connect", T2_PUBLIC, "80", "1").ok()).isFalse();
    }

    @Test
    void everyHostIsThePublicGatewayItselfWithOneMacAndNeverAnswersForAnother() throws Exception {
        String gw = TwoHosts.PUBLIC.gateway();
        for (int h = 1; h <= 2; h++) {
            JsonNode br = JSON.readTree(lab.ok("ip", "-n", lab.names(h).publicNamespace(), "-j", "link", "show",
                    lab.names(h).publicBridge()).stdout()).get(0);
            assertThat(br.path("address").asText()).as("host %d's public bridge", h).isEqualTo(PublicGateway.MAC);
        }
        String ext1 = lab.external(1, "198.18.0.101");
        String ext2 = lab.external(2, "198.18.0.102");

        // A client on host 2 reaches the gateway; its ARP request was flooded to host 1 too, whose answer was
        // kept off the VXLAN, so host 2's bridge never learned the gateway's MAC from the other host.
        assertThat(lab.ping(ext2, gw)).isTrue();
        assertThat(lab.in(ext2, "ip", "neigh", "show", gw).stdout()).contains(PublicGateway.MAC);
        assertThat(gatewayCounter(1, PublicGateway.KEPT_LOCAL)).as("host 1 answered, its answer stayed home").isPositive();
        assertThat(gatewayMacLearnedFromVxlan(2)).isFalse();
        assertThat(lab.ping(ext1, "198.18.0.102")).as("the public segment still spans the hosts").isTrue();

        // Without host 1's table, host 1's answer crosses and host 2 drops it on arrival; the next
        // ensurePublicNetwork puts the missing table back.
        lab.ok("ip", "netns", "exec", lab.names(1).publicNamespace(), "nft", "delete", "table", "bridge", PublicGateway.TABLE);
        lab.in(ext2, "ip", "neigh", "flush", "dev", "eth0");
        assertThat(lab.ping(ext2, gw)).isTrue();
        assertThat(gatewayCounter(2, PublicGateway.FOREIGN_DROPPED)).as("host 1's answer dropped on host 2").isPositive();
        assertThat(gatewayMacLearnedFromVxlan(2)).isFalse();
        lab.driver(1).ensurePublicNetwork(TwoHosts.PUBLIC, List.of(TwoHosts.peerOf(1)));
        assertThat(gatewayCounter(1, PublicGateway.KEPT_LOCAL)).as("table back, counting from zero").isZero();
    }

    private long gatewayCounter(int host, String counter) throws Exception {
        JsonNode out = JSON.readTree(lab.ok("ip", "netns", "exec", lab.names(host).publicNamespace(), "nft", "-j", "list", "counter",
                "bridge", PublicGateway.TABLE, counter).stdout());
        for (JsonNode item : out.path("nftables")) if (item.has("counter")) return item.get("counter").path("packets").asLong();
        throw new AssertionError("no counter " + counter + " on host " + host + ": " + out);
    }

    private boolean gatewayMacLearnedFromVxlan(int host) throws Exception {
        JsonNode fdb = JSON.readTree(lab.ok("bridge", "-n", lab.names(host).publicNamespace(), "-j", "fdb", "show", "br",
                lab.names(host).publicBridge()).stdout());
        // Entries the bridge learned (not the VXLAN device's own "self" table of remote MACs, which it keeps anyway).
        for (JsonNode e : fdb) {
            boolean self = false;
            for (JsonNode f : e.path("flags")) self |= "self".equals(f.asText());
            if (!self && PublicGateway.MAC.equals(e.path("mac").asText()) && lab.names(host).publicVxlan().equals(e.path("ifname").asText())) {
                System.out.println("bridge learned the gateway MAC from the VXLAN: " + e);
                return true;
            }
        }
        return false;
    }

    @Test
    void reapplyingReadsOnlyPeersConvergeTheFirewallMovesAndRemovalLeavesNoVxlan() throws Exception {
        for (int h = 1; h <= 2; h++) lab.apply(h, tenant1(h));

        // New agents (same data directories) given the same input: only reads.
        for (int h = 1; h <= 2; h++) {
            Recorder recorder = new Recorder();
            LinuxNetworkDriver restarted = new LinuxNetworkDriver(recorder, lab.dir.resolve("host" + h), TwoHosts.PREFIXES.get(h - 1),
                    new Underlay(TwoHosts.UNDERLAY_NS.get(h - 1), TwoHosts.UNDERLAY_IP.get(h - 1), Underlay.VXLAN_PORT));
            restarted.ensurePublicNetwork(TwoHosts.PUBLIC, List.of(TwoHosts.peerOf(h)));
            restarted.applyTenant(tenant1(h));
            restarted.applyTenant(tenant1(h));
            System.out.printf("host %d: ensurePublicNetwork + 2 applies, unchanged: %d commands%n", h, recorder.commands.size());
            assertThat(recorder.commands).allSatisfy(c -> assertThat(c).matches(
                    "ip -n \\S+ -j .*|ip netns exec \\S+ nft -j list .*|ip netns exec \\S+ sysctl -q -w net.ipv4.ip_forward=1"
                            + "|bridge -n \\S+ -j fdb show"));
        }

        // A third host joins, then leaves: its flood entry comes and goes, the other stays.
        String tns1 = lab.names(1).tenantNamespace("ex-t1");
        String vx1 = lab.names(1).vxlan("net-1");
        VxlanPorts reader = new VxlanPorts(lab.runner, null);
        lab.apply(1, tenant1(1, 1, List.of("10.98.0.2", "10.98.0.9")));
        assertThat(reader.floodEntries(tns1).get(vx1)).containsExactlyInAnyOrder("10.98.0.2", "10.98.0.9");
        lab.apply(1, tenant1(1));
        assertThat(reader.floodEntries(tns1).get(vx1)).containsExactly("10.98.0.2");

        // The firewall moves to host 2: host 1 loses its firewall namespace and dnsmasq; a VM on host 1
        // gets its lease from host 2.
        String pid = Files.readString(lab.dir.resolve("host1/tenants/ex-t1/dns/net-1/dnsmasq.pid")).strip();
        lab.apply(1, tenant1(1, 2, List.of(TwoHosts.peerOf(1))));
        lab.apply(2, tenant1(2, 2, List.of(TwoHosts.peerOf(2))));
        assertThat(Files.exists(Path.of("/run/netns", lab.names(1).firewallNamespace("ex-t1")))).isFalse();
        assertThat(Files.exists(Path.of("/proc", pid))).isFalse();
        assertThat(Files.exists(Path.of("/run/netns", lab.names(2).firewallNamespace("ex-t1")))).isTrue();
        String web = lab.vm(1, tenant1(1, 2, List.of(TwoHosts.peerOf(1))), "vm-1", false);
        assertThat(lab.dhcp(web)).contains("lease of 10.0.0.10 obtained");

        // Peers gone (the tenant is back on one host): no VXLAN.
        lab.apply(2, tenant1(2, 2, List.of()));
        assertThat(reader.read(lab.names(2).tenantNamespace("ex-t1"))).isEmpty();

        for (int h = 1; h <= 2; h++) {
            lab.driver(h).removeTenant("ex-t1");
            assertThat(Files.exists(Path.of("/run/netns", lab.names(h).tenantNamespace("ex-t1")))).isFalse();
            assertThat(reader.read(TwoHosts.UNDERLAY_NS.get(h - 1))).isEmpty();
        }
        // VNI 4101 is free again in both underlays at once: the tenant can come straight back.
        lab.apply(1, tenant1(1));
        lab.apply(2, tenant1(2));
        assertThat(reader.read(lab.names(2).tenantNamespace("ex-t1"))).containsKey(lab.names(2).vxlan("net-1"));
    }

    @Test
    void anUplinkJoinsThePublicBridgeAndGoesBackOnRemoval() throws Exception {
        // The provider's router: a namespace behind a veth whose other end is in host 1's underlay namespace.
        String router = lab.namespace("r");
        lab.ok("ip", "-n", "exh1", "link", "add", "exup0", "type", "veth", "peer", "name", "eth0", "netns", router);
        lab.ok("ip", "-n", router, "link", "set", "eth0", "up");
        lab.ok("ip", "-n", router, "addr", "add", "198.18.0.1/24", "dev", "eth0");
        assertThatThrownBy(() -> lab.driver(1).ensurePublicNetwork(new PublicNetwork("198.18.0.0/24", "198.18.0.1", "exnope", 1500)))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("uplink").hasMessageContaining("exnope");
        assertThat(lab.ok("ip", "-n", lab.names(1).publicNamespace(), "-4", "addr", "show", lab.names(1).publicBridge()).stdout())
                .as("nothing changed").contains("198.18.0.1/24");

        PublicNetwork withUplink = new PublicNetwork("198.18.0.0/24", "198.18.0.1", "exup0", 1500);
        lab.driver(1).ensurePublicNetwork(withUplink, List.of(TwoHosts.peerOf(1)));
        String pns = lab.names(1).publicNamespace();
        JsonNode up = JSON.readTree(lab.ok("ip", "-n", pns, "-j", "link", "show", "exup0").stdout()).get(0);
        assertThat(up.path("master").asText()).isEqualTo(lab.names(1).publicBridge());
        assertThat(lab.in("exh1", "ip", "link", "show", "exup0").ok()).isFalse();
        // The uplink's network joins the hosts: no public VXLAN as well (it would make a loop).
        assertThat(new VxlanPorts(lab.runner, null).read(pns)).isEmpty();
        // The router is the gateway now: the bridge gives the address up.
        assertThat(lab.ok("ip", "-n", pns, "-4", "addr", "show", lab.names(1).publicBridge()).stdout()).doesNotContain("198.18.0.1");

        // A VM on host 2 leaves through host 1's firewall and the uplink; the router reaches it through a port forward.
        lab.apply(1, tenant1(1));
        lab.apply(2, tenant1(2));
        String app = lab.vm(2, tenant1(2), "vm-2", true);
        lab.background(router, "serve", "9000", "router");
        assertThat(lab.tool(app, "connect", "198.18.0.1", "9000", "3").stdout()).contains("router from-peer=" + T1_PUBLIC);
        lab.background(app, "serve", "80", "app");
        assertThat(lab.tool(router, "connect", T1_PUBLIC, "8080", "3").stdout()).contains("app from-peer=198.18.0.1");

        // Unchanged: nothing moves. Removal gives the interface back to the underlay namespace, its peer intact.
        lab.driver(1).ensurePublicNetwork(withUplink, List.of(TwoHosts.peerOf(1)));
        assertThat(lab.in(pns, "ip", "link", "show", "exup0").ok()).isTrue();
        lab.driver(1).removeTenant("ex-t1");
        lab.driver(1).removePublicNetwork();
        assertThat(lab.in("exh1", "ip", "link", "show", "exup0").ok()).isTrue();
        assertThat(lab.in(router, "ip", "link", "show", "eth0").ok()).isTrue();
    }

    @Test
    void badHostRolesAreRefusedBeforeAnythingIsApplied() throws Exception {
        TenantNetworking t = tenant1(1);
        TenantNetworking noVni = new TenantNetworking(t.tenantId(), t.publicIp(), List.of(Network.of("net-1", "front", "10.0.0.0/24")),
                t.nics(), List.of(), List.of(), List.of(), List.of()).withHostRole(t.hostRole());
        assertThatThrownBy(() -> lab.apply(1, noVni)).isInstanceOf(EnclaveException.InvalidRequest.class)
                .hasMessageContaining("networks[0].vni");
        TenantNetworking twoNets = new TenantNetworking(t.tenantId(), t.publicIp(), List.of(t.networks().getFirst(),
                new Network("net-9", "back", "10.9.0.0/24", "10.9.0.1", 1450, 4101)), t.nics(), List.of(), List.of(), List.of(),
                List.of()).withHostRole(t.hostRole());
        assertThatThrownBy(() -> lab.apply(1, twoNets)).isInstanceOf(EnclaveException.InvalidRequest.class)
                .hasMessageContaining("networks[1].vni");
        assertThatThrownBy(() -> new HostRole(false, List.of("fe80::1"), List.of()))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("hostRole.peers[0]");
        assertThatThrownBy(() -> new HostRole(false, List.of(), List.of("host-2")))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("hostRole.publicPeers[0]");
        assertThatThrownBy(() -> lab.apply(1, tenant1(1, 1, List.of("10.98.0.2", "10.98.0.1"))))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("own underlay address");
        // A driver without an underlay cannot take part.
        LinuxNetworkDriver single = new LinuxNetworkDriver(lab.runner, lab.dir.resolve("single"), "exa");
        single.ensurePublicNetwork(TwoHosts.PUBLIC);
        assertThatThrownBy(() -> single.applyTenant(t)).isInstanceOf(EnclaveException.InvalidRequest.class)
                .hasMessageContaining("hostRole.peers");
        assertThat(Files.exists(Path.of("/run/netns", lab.names(1).tenantNamespace(t.tenantId())))).isFalse();
    }
}
