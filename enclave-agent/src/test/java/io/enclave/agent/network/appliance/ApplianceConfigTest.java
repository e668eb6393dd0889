package io.enclave.agent.network.appliance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The appliance script addresses NICs by the names their MACs have in the guest (no VM needed). */
class ApplianceConfigTest {
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final TenantNetworking T = new TenantNetworking("t-1", "198.18.0.30",
            List.of(Network.of("net-b", "back", "10.0.1.0/24"), Network.of("net-a", "front", "10.0.0.0/24")),
            List.of(new Nic("vm-1", "net-a", "52:54:00:00:0a:01", "10.0.0.10", "web")), List.of(), List.of(), List.of(), List.of());
    static final List<String> MACS = List.of("02:e7:00:00:00:01", "02:e7:00:00:00:0b", "02:e7:00:00:00:0a");

    @Test
    void legsFollowTheGuestsNamesForTheMacsNotTheNetworksOrder() {
        // net-a was there first (eth1), net-b was hot-plugged later (eth2) although it comes first in networks().
        Map<String, String> guest = Map.of("02:e7:00:00:00:01", "eth0", "02:e7:00:00:00:0a", "eth1", "02:e7:00:00:00:0b", "eth2");
        assertThat(ApplianceConfig.legs(T, MACS, guest)).containsExactly(Map.entry("net-b", "eth2"), Map.entry("net-a", "eth1"));
        String script = ApplianceConfig.script(T, PUBLIC, MACS, guest, Set.of());
        assertThat(script).contains("mac eth2 02:e7:00:00:00:0b", "addrs eth2 10.0.1.1/24", "mac eth1 02:e7:00:00:00:0a",
                "addrs eth1 10.0.0.1/24", "mac eth0 02:e7:00:00:00:01");
        // The dnsmasq of a network that is gone is stopped; the script stays valid shell.
        assertThat(script).contains("case ' net-b net-a ' in");
        assertThat(shSyntaxOk(script)).isTrue();
        // Other names for the same MACs give another script (so it is pushed again).
        Map<String, String> renamed = Map.of("02:e7:00:00:00:01", "eth0", "02:e7:00:00:00:0a", "eth2", "02:e7:00:00:00:0b", "eth1");
        assertThat(ApplianceConfig.appliedHash(ApplianceConfig.script(T, PUBLIC, MACS, renamed, Set.of())))
                .isNotEqualTo(ApplianceConfig.appliedHash(script));
    }

    @Test
    void aNicTheGuestDoesNotHaveIsAnError() {
        Map<String, String> guest = Map.of("02:e7:00:00:00:01", "eth0", "02:e7:00:00:00:0a", "eth1");
        assertThatThrownBy(() -> ApplianceConfig.script(T, PUBLIC, MACS, guest, Set.of()))
                .hasMessageContaining("02:e7:00:00:00:0b");
    }

    static boolean shSyntaxOk(String script) {
        try {
            Process p = new ProcessBuilder("sh", "-n").redirectErrorStream(true).start();
            try (OutputStream out = p.getOutputStream()) {
                out.write(script.getBytes(StandardCharsets.UTF_8));
            }
            String err = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            if (rc != 0) System.out.println("sh -n: " + err);
            return rc == 0;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
