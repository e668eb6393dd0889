package io.enclave.agent.network;

import io.enclave.core.network.Nic;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Anti-spoofing on VM ports: an nft {@code bridge} table in the tenant namespace that lets each VM port
 * send only from its own MAC and IPv4 address (ARP included), lets it ask for DHCP but never answer as a
 * DHCP server, and drops everything else (IPv6 included: tenant networks are IPv4 only). A port of ours
 * without a NIC entry drops everything. Replaced atomically as a whole.
 */
public final class NftPortGuard {
    public static final String TABLE = "enclave_ports";

    private NftPortGuard() {}

    /**
     * @param portByNic the port (TAP) of each NIC
     * @param portPattern an nft wildcard matching all VM ports (such as {@code "enct*"})
     */
    public static String script(Map<Nic, String> portByNic, String portPattern) {
        String tb = "bridge " + TABLE;
        List<String> out = new ArrayList<>();
        out.add("# Enclave VM port guard (generated; apply with nft -f)");
        out.add("table " + tb);
        out.add("delete table " + tb);
        out.add("table " + tb + " {");
        out.add("\tchain prerouting {");
        out.add("\t\ttype filter hook prerouting priority -200; policy accept;");
        if (!portByNic.isEmpty()) {
            List<String> entries = new ArrayList<>();
            portByNic.values().stream().sorted().forEach(p -> entries.add(NftFirewall.quote(p) + " : jump " + chain(p)));
            out.add("\t\tiifname vmap { " + String.join(", ", entries) + " }");
        }
        out.add("\t\tiifname \"" + portPattern + "\" counter drop");
        out.add("\t}");
        portByNic.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> {
            Nic nic = e.getKey();
            out.add("\tchain " + chain(e.getValue()) + " {");
            out.add("\t\tether saddr != " + nic.mac() + " counter drop");
            out.add("\t\tarp saddr ether != " + nic.mac() + " counter drop");
            out.add("\t\tarp saddr ip != { " + nic.ip() + ", 0.0.0.0 } counter drop");
            out.add("\t\tether type arp accept");
            out.add("\t\tip saddr 0.0.0.0 udp sport 68 udp dport 67 accept");
            out.add("\t\tudp sport 67 counter drop");
            out.add("\t\tip saddr != " + nic.ip() + " counter drop");
            out.add("\t\tether type ip accept");
            out.add("\t\tcounter drop");
            out.add("\t}");
        });
        out.add("}");
        return String.join("\n", out) + "\n";
    }

    static String chain(String port) {
        return "port_" + port;
    }
}
