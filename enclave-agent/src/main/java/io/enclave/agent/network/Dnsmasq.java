package io.enclave.agent.network;

import io.enclave.core.network.Cidr;
import io.enclave.core.network.Ipv4;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The configuration of one network's dnsmasq: DHCP with static leases only (the platform assigns every
 * address), DNS for the tenant's VM names under {@value #DOMAIN}, no upstream resolvers. Leases and
 * names live in files dnsmasq re-reads on SIGHUP, so a VM change needs no restart.
 */
public final class Dnsmasq {
    public static final String DOMAIN = "internal";

    /** The files of one instance, all in {@code dir}. */
    public record Instance(Path dir) {
        public Path conf() { return dir.resolve("dnsmasq.conf"); }
        public Path dhcpHosts() { return dir.resolve("dhcp-hosts"); }
        public Path hosts() { return dir.resolve("hosts"); }
        public Path leases() { return dir.resolve("leases"); }
        public Path pid() { return dir.resolve("dnsmasq.pid"); }
        public Path log() { return dir.resolve("dnsmasq.log"); }
    }

    private Dnsmasq() {}

    public static String conf(Network net, String leg, Instance files) {
        Cidr cidr = Cidr.parse(net.cidr());
        List<String> lines = new ArrayList<>(List.of(
                "# Enclave dnsmasq for network " + net.id() + " (" + net.name() + ", " + net.cidr() + "); generated",
                "interface=" + leg,
                "bind-interfaces",
                "except-interface=lo",
                "no-resolv",
                "no-hosts",
                "pid-file=" + files.pid(),
                "log-facility=" + files.log(),
                "dhcp-leasefile=" + files.leases(),
                "dhcp-hostsfile=" + files.dhcpHosts(),
                "addn-hosts=" + files.hosts(),
                "dhcp-range=" + Ipv4.format(cidr.network()) + ",static," + Ipv4.format(cidr.netmask()) + ",1h",
                "dhcp-authoritative",
                "dhcp-option=option:router," + net.gateway(),
                "dhcp-option=option:dns-server," + net.gateway(),
                "dhcp-option=option:mtu," + net.mtu(),
                "domain=" + DOMAIN,
                "local=/" + DOMAIN + "/",
                "expand-hosts"));
        return String.join("\n", lines) + "\n";
    }

    /** Static leases of the NICs on {@code net}: {@code MAC,IP,NAME}. */
    public static String dhcpHosts(TenantNetworking t, Network net) {
        StringBuilder sb = new StringBuilder();
        t.nics().stream().filter(n -> n.networkId().equals(net.id()))
                .forEach(n -> sb.append(n.mac()).append(',').append(n.ip()).append(',').append(n.hostname()).append('\n'));
        return sb.toString();
    }

    /**
     * Names answered on {@code net}: the NICs on it, then the tenant's VMs that have no NIC on it (by
     * their first address), so every VM name of the tenant resolves from every network.
     */
    public static String hosts(TenantNetworking t, Network net) {
        StringBuilder sb = new StringBuilder();
        Set<String> named = new HashSet<>();
        for (Nic n : t.nics()) {
            if (n.networkId().equals(net.id()) && named.add(n.hostname())) sb.append(n.ip()).append(' ').append(n.hostname()).append('\n');
        }
        for (Nic n : t.nics()) {
            if (named.add(n.hostname())) sb.append(n.ip()).append(' ').append(n.hostname()).append('\n');
        }
        return sb.toString();
    }
}
