package io.enclave.core.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NetworkMathTest {

    @Test
    void parsesAndFormatsAddressesStrictly() {
        assertThat(Ipv4.format(Ipv4.parse("192.168.0.255"))).isEqualTo("192.168.0.255");
        assertThat(Ipv4.format(Ipv4.parse("255.255.255.255"))).isEqualTo("255.255.255.255");
        for (String bad : new String[] {"1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "a.b.c.d", "1..2.3", ""}) {
            assertThat(Ipv4.isValid(bad)).as(bad).isFalse();
        }
    }

    @Test
    void cidrsContainOverlapAndRejectHostBits() {
        Cidr c = Cidr.parse("10.0.0.0/24");
        assertThat(c.contains("10.0.0.200")).isTrue();
        assertThat(c.contains("10.0.1.0")).isFalse();
        assertThat(c.isHost(Ipv4.parse("10.0.0.0"))).isFalse();
        assertThat(c.isHost(Ipv4.parse("10.0.0.255"))).isFalse();
        assertThat(Ipv4.format(c.netmask())).isEqualTo("255.255.255.0");
        assertThat(c.overlaps(Cidr.parse("10.0.0.128/25"))).isTrue();
        assertThat(c.overlaps(Cidr.parse("10.0.0.0/8"))).isTrue();
        assertThat(c.overlaps(Cidr.parse("10.0.1.0/24"))).isFalse();
        assertThat(Cidr.parse("0.0.0.0/0").contains("8.8.8.8")).isTrue();
        assertThatThrownBy(() -> Cidr.parse("10.0.0.1/24")).hasMessageContaining("host bits").hasMessageContaining("10.0.0.0/24");
        assertThat(Cidr.isValid("10.0.0.0/33")).isFalse();
        assertThat(Cidr.isValid("10.0.0.0")).isFalse();
    }

    @Test
    void allocatesTheLowestFreeHostAddress() {
        Cidr c = Cidr.parse("10.0.0.0/29");
        assertThat(IpAllocator.firstHost(c)).isEqualTo("10.0.0.1");
        assertThat(IpAllocator.nextFree(c, List.of("10.0.0.1", "10.0.0.2"))).contains("10.0.0.3");
        assertThat(IpAllocator.nextFree(c, List.of("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6")))
                .isEmpty();
        PublicNetwork pub = new PublicNetwork("203.0.113.0/30", "203.0.113.1");
        assertThat(pub.allocate(List.of())).isEqualTo("203.0.113.2");
        assertThatThrownBy(() -> pub.allocate(List.of("203.0.113.2"))).hasMessageContaining("exhausted");
    }

    @Test
    void macsAreStableUnicastAndAvoidTakenOnes() {
        String a = Macs.generate("vm-1/net-1", Set.of());
        assertThat(a).isEqualTo(Macs.generate("vm-1/net-1", Set.of())).startsWith("52:54:00:");
        assertThat(Macs.isValidUnicast(a)).isTrue();
        assertThat(Macs.generate("vm-1/net-1", Set.of(a))).isNotEqualTo(a);
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 200; i++) seen.add(Macs.generate("vm-" + i, seen));
        assertThat(seen).hasSize(200);
        assertThat(Macs.isValidUnicast("01:00:5e:00:00:01")).isFalse();
        assertThat(Macs.isValidUnicast("52:54:00:AA:00:01")).isFalse();
    }
}
