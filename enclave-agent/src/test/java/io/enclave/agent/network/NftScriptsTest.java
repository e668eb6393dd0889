package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.network.EgressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.TenantNetworking;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The generated scripts, read line by line (the kernel tests check what they do). */
class NftScriptsTest {
    static final NftFirewall.Ports PORTS = new NftFirewall.Ports("eth1", Map.of("net-a", "eth0"));

    @Test
    void firewallScriptNatsForwardsAndCountsEveryRule() {
        TenantNetworking a = LinuxNetworkDriverTest.tenantA();
        String script = NftFirewall.script(a, PORTS, Set.of("r_old_rule", "r_pf_web"));
        assertThat(script)
                .contains("add table inet enclave\nflush table inet enclave\n")
                .contains("add counter inet enclave r_pf_web\n")
                .contains("delete counter inet enclave r_old_rule\n")
                .contains("add rule inet enclave prerouting iifname \"eth1\" ip daddr 198.18.0.10 tcp dport 8080 dnat ip to 10.0.0.10:80")
                .contains("add rule inet enclave prerouting iifname \"eth1\" ip daddr 198.18.0.11 counter name r_nat_db dnat ip to 10.0.0.11")
                .contains("add rule inet enclave postrouting oifname \"eth1\" ip saddr 10.0.0.11 snat ip to 198.18.0.11")
                .contains("add rule inet enclave postrouting oifname \"eth1\" ip saddr { 10.0.0.0/24 } snat ip to 198.18.0.10")
                .contains("ct original ip daddr { 198.18.0.11 } meta l4proto tcp ct original proto-dst 22 ip saddr 0.0.0.0/0 ct mark set")
                .contains("add rule inet enclave ingress counter name s_ingress_drop drop")
                .contains("add rule inet enclave egress ct mark set 0x1 counter name s_egress_allow accept")
                .doesNotContain("delete counter inet enclave r_pf_web");
        assertThat(NftFirewall.ruleIdOf("r_pf_web")).isEqualTo("pf-web");
        assertThat(NftFirewall.ruleIdOf("s_ingress_drop")).isEqualTo("default:ingress-drop");
    }

    @Test
    void egressRulesReplaceTheAllowAll() {
        TenantNetworking a = LinuxNetworkDriverTest.tenantA();
        TenantNetworking b = new TenantNetworking(a.tenantId(), a.publicIp(), a.networks(), a.nics(), List.of(), List.of(),
                List.of(), List.of(new EgressRule("eg-web", Protocol.TCP, 80, 443, "192.0.2.0/24")));
        String script = NftFirewall.script(b, PORTS, Set.of());
        assertThat(script).contains("egress ip daddr 192.0.2.0/24 meta l4proto tcp th dport 80-443 ct mark set")
                .contains("counter name s_egress_drop drop").doesNotContain("s_egress_allow");
    }

    @Test
    void portGuardPinsMacAndAddress() {
        Map<Nic, String> ports = new LinkedHashMap<>();
        ports.put(new Nic("vm-1", "net-a", "52:54:00:00:0a:01", "10.0.0.10", "web"), "enct0123456789");
        String script = NftPortGuard.script(ports, "enct*");
        assertThat(script).contains("iifname vmap { \"enct0123456789\" : jump port_enct0123456789 }")
                .contains("iifname \"enct*\" counter drop")
                .contains("ether saddr != 52:54:00:00:0a:01 counter drop")
                .contains("arp saddr ip != { 10.0.0.10, 0.0.0.0 } counter drop")
                .contains("udp sport 67 counter drop")
                .contains("ip saddr != 10.0.0.10 counter drop");
        assertThat(new NetNames("enc").tap("vm-1", "net-a")).hasSize(14);
        assertThat(new NetNames("ent3").networkBridge("net-0123456789ab")).isEqualTo("ent3b23456789ab");
        Network n = Network.of("net-a", "front", "10.0.0.0/24");
        assertThat(Dnsmasq.conf(n, "encn1", new Dnsmasq.Instance(java.nio.file.Path.of("/d"))))
                .contains("dhcp-range=10.0.0.0,static,255.255.255.0,1h").contains("interface=encn1").contains("no-resolv");
    }
}
