package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.TenantNetworking;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A host cut off from the controller takes its firewalls off the public network: nothing answers for their
 * public addresses any more, the rest of the public segment is untouched, and the next apply brings them back.
 */
class PublicFenceTest {
    static final String PUBLIC_IP = "198.18.0.30";
    static final String EXTERNAL = "198.18.0.130";

    NetLab lab;

    @BeforeEach
    void setUp() throws Exception {
        lab = new NetLab(new ProcessCommandRunner(), "ent8");
        lab.driver.ensurePublicNetwork(NetLab.PUBLIC);
    }

    @AfterEach
    void tearDown() {
        if (lab != null) lab.close();
    }

    @Test
    void isolatedFirewallsStopAnsweringForTheirPublicAddressUntilTheNextApply() throws Exception {
        TenantNetworking t = new TenantNetworking("ent8-tf", PUBLIC_IP, List.of(Network.of("net-f", "front", "10.0.0.0/24")),
                List.of(new Nic("vm-f1", "net-f", "52:54:00:00:0f:01", "10.0.0.10", "web")), List.of(),
                List.of(new PortForward("pf-web", Protocol.TCP, 8080, "vm-f1", "net-f", 80, null)), List.of(), List.of());
        lab.apply(t);
        String vm = lab.vm(t, "vm-f1", true);
        lab.background(vm, "serve", "80", "web");
        String ext = lab.external(EXTERNAL);
        assertThat(lab.tool(ext, "connect", PUBLIC_IP, "8080", "3").stdout()).contains("web");
        assertThat(lab.in(vm, "busybox", "ping", "-c", "1", "-W", "2", EXTERNAL).ok()).isTrue();

        List<String> down = lab.driver.isolateFirewalls();

        assertThat(down).containsExactly(lab.driver.names().publicPort("ent8-tf"));
        assertThat(lab.in(ext, "busybox", "ping", "-c", "1", "-W", "1", PUBLIC_IP).ok()).as("public address silent").isFalse();
        assertThat(lab.tool(ext, "connect", PUBLIC_IP, "8080", "2").stdout()).doesNotContain("web");
        assertThat(lab.in(vm, "busybox", "ping", "-c", "1", "-W", "1", EXTERNAL).ok()).as("no way out either").isFalse();
        assertThat(lab.in(ext, "busybox", "ping", "-c", "1", "-W", "2", NetLab.PUBLIC.gateway()).ok())
                .as("the rest of the public segment stays up").isTrue();
        assertThat(lab.in(vm, "busybox", "ping", "-c", "1", "-W", "2", "10.0.0.1").ok()).as("the tenant side keeps working").isTrue();
        assertThat(lab.driver.isolateFirewalls()).as("isolating again changes nothing").containsExactly(down.getFirst());

        lab.apply(t);

        assertThat(lab.tool(ext, "connect", PUBLIC_IP, "8080", "3").stdout()).contains("web");
        assertThat(lab.in(vm, "busybox", "ping", "-c", "1", "-W", "2", EXTERNAL).ok()).isTrue();
    }
}
