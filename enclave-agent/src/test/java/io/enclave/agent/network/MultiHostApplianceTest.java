package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.appliance.ApplianceNetworkDriver;
import io.enclave.core.network.HostRole;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The VM-appliance firewall with the tenant network across two simulated hosts ({@link TwoHosts}, drivers
 * {@link FirewallFormsDriver}): the appliance (QEMU TCG, images/firewall) runs on host 1, a VM on host 2
 * reaches it over the VXLAN.
 */
class MultiHostApplianceTest {
    static final Path IMAGE = Path.of(System.getenv().getOrDefault("ENCLAVE_FIREWALL_IMAGE",
            "/var/cache/enclave/appliances/firewall"));
    static final String PUBLIC_IP = "198.18.0.30";
    static final String EXTERNAL = "198.18.0.100";

    TwoHosts lab;
    final List<ApplianceNetworkDriver> appliances = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        if (!Files.exists(IMAGE.resolve("vmlinuz"))) {
            throw new IllegalStateException("firewall appliance image not built at " + IMAGE + ": run images/firewall/build.sh");
        }
        lab = new TwoHosts((dir, prefix, underlay) -> {
            var runner = new ProcessCommandRunner();
            var appliance = new ApplianceNetworkDriver(runner, dir.resolve("vm"), prefix, IMAGE, "qemu-system-x86_64", 160, 1,
                    Duration.ofSeconds(90), underlay);
            appliances.add(appliance);
            return new FirewallFormsDriver(new LinuxNetworkDriver(runner, dir.resolve("light"), prefix, underlay), appliance);
        });
        for (int h = 1; h <= 2; h++) lab.driver(h).ensurePublicNetwork(TwoHosts.PUBLIC, List.of(TwoHosts.peerOf(h)));
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    static TenantNetworking tenant(int host) {
        return new TenantNetworking("ex-ta", PUBLIC_IP,
                List.of(new Network("net-a", "front", "10.0.0.0/24", "10.0.0.1", Network.DEFAULT_MTU, 4201)),
                List.of(new Nic("vm-1", "net-a", "52:54:00:00:3a:01", "10.0.0.10", "web"),
                        new Nic("vm-2", "net-a", "52:54:00:00:3a:02", "10.0.0.11", "app")),
                List.of(), List.of(new PortForward("pf-app", Protocol.TCP, 8080, "vm-2", null, 80, null)), List.of(), List.of(),
                TenantNetworking.APPLIANCE,
                new HostRole(host == 1, List.of(TwoHosts.peerOf(host)), List.of(TwoHosts.peerOf(host))));
    }

    @Test
    void vmOnTheSecondHostUsesTheApplianceOnTheFirst() throws Exception {
        long t0 = System.nanoTime();
        lab.apply(1, tenant(1));
        long t1 = System.nanoTime();
        lab.apply(2, tenant(2));
        System.out.printf("appliance host apply %d ms, bridging-only host %d ms%n", (t1 - t0) / 1_000_000,
                (System.nanoTime() - t1) / 1_000_000);
        assertThat(new VxlanPorts(lab.runner, null).read(lab.names(1).tenantNamespace("ex-ta")))
                .containsKey(lab.names(1).vxlan("net-a"));

        String app = lab.vm(2, tenant(2), "vm-2", false);
        assertThat(lab.dhcp(app)).contains("lease of 10.0.0.11 obtained");
        lab.address(app, tenant(2), "vm-2");
        assertThat(lab.ping(app, "10.0.0.1")).as("the appliance's leg, on the other host").isTrue();

        String ext = lab.external(2, EXTERNAL);
        lab.background(ext, "serve", "9000", "ext");
        assertThat(lab.tool(app, "connect", EXTERNAL, "9000", "5").stdout()).contains("ext from-peer=" + PUBLIC_IP);
        lab.background(app, "serve", "80", "app");
        assertThat(lab.tool(ext, "connect", PUBLIC_IP, "8080", "5").stdout()).contains("app from-peer=" + EXTERNAL);
        assertThat(lab.tool(ext, "connect", PUBLIC_IP, "80", "1").ok()).isFalse();

        // Unchanged re-apply on both hosts: the appliance keeps running.
        long pid = appliances.get(0).appliancePid("ex-ta").orElseThrow();
        assertThat(appliances.get(1).appliancePid("ex-ta")).isEmpty();
        lab.apply(1, tenant(1));
        lab.apply(2, tenant(2));
        assertThat(appliances.get(0).appliancePid("ex-ta")).contains(pid);
        assertThat(lab.driver(1).ruleCounters("ex-ta").get("pf-app").packets()).isEqualTo(1);
    }
}
