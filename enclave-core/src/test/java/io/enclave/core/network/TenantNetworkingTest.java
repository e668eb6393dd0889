package io.enclave.core.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import java.util.List;
import org.junit.jupiter.api.Test;

class TenantNetworkingTest {
    static final PublicNetwork PUB = new PublicNetwork("203.0.113.0/24", "203.0.113.1");

    static TenantNetworking valid() {
        return new TenantNetworking("tn-1", "203.0.113.10",
                List.of(Network.of("net-a", "front", "10.0.0.0/24"), Network.of("net-b", "back", "10.1.0.0/24")),
                List.of(new Nic("vm-1", "net-a", "52:54:00:00:00:01", "10.0.0.10", "web"),
                        new Nic("vm-1", "net-b", "52:54:00:00:00:02", "10.1.0.10", "web"),
                        new Nic("vm-2", "net-b", "52:54:00:00:00:03", "10.1.0.11", "db")),
                List.of(new IngressRule("in-1", Protocol.TCP, 22, 22, "198.51.100.0/24", null)),
                List.of(new PortForward("pf-1", Protocol.TCP, 8080, "vm-1", "net-a", 80, null)),
                List.of(new OneToOneNat("nat-1", "203.0.113.11", "vm-2", "net-b")),
                List.of(new EgressRule("eg-1", Protocol.UDP, 53, 53, "0.0.0.0/0")));
    }

    @Test
    void aValidTenantPasses() {
        assertThatCode(() -> valid().validate(PUB)).doesNotThrowAnyException();
        assertThat(valid().publicIps()).containsExactly("203.0.113.10", "203.0.113.11");
    }

    static List<String> errors(TenantNetworking t) {
        var e = catchThrowableOfType(EnclaveException.InvalidRequest.class, () -> t.validate(PUB));
        assertThat(e).as("expected InvalidRequest").isNotNull();
        return e.fields().stream().map(FieldError::field).toList();
    }

    @Test
    void networksThatSpanHostsNeedDistinctVnis() {
        TenantNetworking v = valid();
        assertThat(v.hostRole()).isEqualTo(HostRole.SINGLE_HOST);
        HostRole spanning = new HostRole(false, List.of("10.98.0.2"), List.of("10.98.0.2", "10.98.0.3"));
        assertThat(errors(v.withHostRole(spanning))).containsExactly("networks[0].vni", "networks[1].vni");
        TenantNetworking withVnis = new TenantNetworking("tn-1", v.publicIp(),
                List.of(new Network("net-a", "front", "10.0.0.0/24", "10.0.0.1", 1450, 4096),
                        new Network("net-b", "back", "10.1.0.0/24", "10.1.0.1", 1450, 4097)),
                v.nics(), v.ingressRules(), v.portForwards(), v.oneToOneNats(), v.egressRules(), null, spanning);
        assertThatCode(() -> withVnis.validate(PUB)).doesNotThrowAnyException();
        assertThat(withVnis.withHostRole(null).hostRole()).isEqualTo(HostRole.SINGLE_HOST);
        assertThat(errors(new TenantNetworking("tn-1", v.publicIp(),
                List.of(new Network("net-a", "front", "10.0.0.0/24", "10.0.0.1", 1450, PublicNetwork.VNI),
                        new Network("net-b", "back", "10.1.0.0/24", "10.1.0.1", 1450, 16_777_216)),
                List.of(), null, null, null, null).withHostRole(spanning))).containsExactly("networks[0].vni", "networks[1].vni");
        assertThat(errors(new TenantNetworking("tn-1", v.publicIp(),
                List.of(new Network("net-a", "front", "10.0.0.0/24", "10.0.0.1", 1450, 4096),
                        new Network("net-b", "back", "10.1.0.0/24", "10.1.0.1", 1450, 4096)),
                List.of(), null, null, null, null).withHostRole(spanning))).containsExactly("networks[1].vni");
    }

    @Test
    void hostRolesTakeIpv4UnderlayAddressesOnly() {
        var e = catchThrowableOfType(EnclaveException.InvalidRequest.class,
                () -> new HostRole(true, List.of("10.98.0.2", "host-3"), List.of()));
        assertThat(e.fields()).extracting(FieldError::field).containsExactly("hostRole.peers[1]");
        e = catchThrowableOfType(EnclaveException.InvalidRequest.class, () -> new HostRole(true, List.of(), List.of("::1")));
        assertThat(e.fields()).extracting(FieldError::field).containsExactly("hostRole.publicPeers[0]");
        List<String> peers = new java.util.ArrayList<>(List.of("10.98.0.2"));
        HostRole role = new HostRole(true, peers, null);
        peers.add("10.98.0.3");
        assertThat(role.peers()).containsExactly("10.98.0.2");
        assertThat(role.publicPeers()).isEmpty();
    }

    @Test
    void badCidrsOverlapsAndAddressesNameTheField() {
        TenantNetworking v = valid();
        assertThat(errors(new TenantNetworking("tn-1", v.publicIp(),
                List.of(Network.of("net-a", "front", "10.0.0.0/24"), Network.of("net-b", "back", "10.0.0.128/25"),
                        new Network("net-c", "third", "10.2.0.1/24", "10.2.0.1", 1450, null)), List.of(), null, null, null, null)))
                .containsExactly("networks[1].cidr", "networks[2].cidr");
        assertThat(errors(new TenantNetworking("tn-1", "198.51.100.1", v.networks(), v.nics(), null, null, null, null)))
                .containsExactly("publicIp");
        assertThat(errors(new TenantNetworking("tn-1", v.publicIp(), v.networks(),
                List.of(new Nic("vm-1", "net-a", "52:54:00:00:00:01", "10.0.0.1", "web"),
                        new Nic("vm-2", "net-x", "52:54:00:00:00:01", "10.0.0.300", "Bad_Name")), null, null, null, null)))
                .containsExactly("nics[0].ip", "nics[1].networkId", "nics[1].mac", "nics[1].ip", "nics[1].hostname");
    }

    @Test
    void badPortsAndForeignTargetsAreRejected() {
        TenantNetworking v = valid();
        assertThat(errors(new TenantNetworking("tn-1", v.publicIp(), v.networks(), v.nics(),
                List.of(new IngressRule("in-1", Protocol.TCP, 0, 70000, "10.0.0.0/33", null),
                        new IngressRule("in-2", Protocol.ICMP, 1, 1, null, "203.0.113.99")),
                List.of(new PortForward("pf-1", Protocol.TCP, 8080, "vm-other-tenant", null, 80, null),
                        new PortForward("in-1", Protocol.ICMP, 8080, "vm-1", "net-a", 0, null)),
                List.of(new OneToOneNat("nat-1", "203.0.113.10", "vm-1", "net-c")), null)))
                .containsExactly("ingressRules[0].portFrom", "ingressRules[0].portTo", "ingressRules[0].sourceCidr",
                        "ingressRules[1].portFrom", "ingressRules[1].publicIp",
                        "portForwards[0].vmId", "portForwards[1].id", "portForwards[1].protocol",
                        "portForwards[1].targetPort", "oneToOneNats[0].publicIp", "oneToOneNats[0].vmId");
    }
}
