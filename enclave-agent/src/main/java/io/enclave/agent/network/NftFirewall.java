package io.enclave.agent.network;

import io.enclave.core.network.Cidr;
import io.enclave.core.network.EgressRule;
import io.enclave.core.network.IngressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.OneToOneNat;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.TenantNetworking;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tenant firewall as one nft script (table {@code inet enclave}), independent of where it runs: the
 * caller names the interfaces (the light firewall's veths, or an appliance VM's eth0/eth1).
 *
 * <p>The script is one transaction: it flushes the table's rules and re-adds them, so a change is atomic.
 * It does not delete the table: the named counters (one per rule) and conntrack keep their state, so
 * established connections survive. Each rule that opens connections marks them ({@code ct mark}); an
 * established connection whose mark belongs to a rule that no longer exists is dropped, all others pass.
 */
public final class NftFirewall {
    public static final String TABLE = "enclave";
    static final String INGRESS_DROP = "s_ingress_drop";
    static final String EGRESS_DROP = "s_egress_drop";
    static final String EGRESS_ALLOW = "s_egress_allow";
    static final String INPUT_DROP = "s_input_drop";
    /** Connections opened while no egress rule existed ("everything outbound allowed"). */
    static final long EGRESS_ALLOW_MARK = 1;

    /** Interface names of the firewall's two sides. */
    public record Ports(String wan, Map<String, String> legByNetworkId) {}

    private NftFirewall() {}

    /** The nft counter of a rule id ({@code pf-1} → {@code r_pf_1}); ids never hold '_'. */
    public static String counterName(String ruleId) {
        return "r_" + ruleId.replace('-', '_');
    }

    /** The rule id of a counter name, or {@code default:...} for the built-in counters. */
    public static String ruleIdOf(String counterName) {
        if (counterName.startsWith("r_")) return counterName.substring(2).replace('_', '-');
        return "default:" + counterName.substring(2).replace('_', '-');
    }

    /** Every counter the script for {@code t} declares. */
    public static Set<String> counters(TenantNetworking t) {
        Set<String> names = new TreeSet<>(List.of(INGRESS_DROP, INPUT_DROP));
        names.add(t.egressRules().isEmpty() ? EGRESS_ALLOW : EGRESS_DROP);
        t.ingressRules().forEach(r -> names.add(counterName(r.id())));
        t.portForwards().forEach(r -> names.add(counterName(r.id())));
        t.oneToOneNats().forEach(r -> names.add(counterName(r.id())));
        t.egressRules().forEach(r -> names.add(counterName(r.id())));
        return names;
    }

    /**
     * The script converging the table to {@code t}. {@code existingCounters} are the counters the table
     * has now; those no longer needed are deleted, the others keep their values.
     */
    public static String script(TenantNetworking t, Ports ports, Set<String> existingCounters) {
        checkPorts(t, ports);
        List<String> out = new ArrayList<>();
        String tb = "inet " + TABLE;
        String wan = quote(ports.wan());
        List<String> legNames = t.networks().stream().map(n -> ports.legByNetworkId().get(n.id())).toList();
        String legs = legNames.isEmpty() ? null : "{ " + String.join(", ", legNames.stream().map(NftFirewall::quote).toList()) + " }";
        Set<Long> activeMarks = new TreeSet<>();
        activeMarks.add(0L);

        out.add("# Enclave firewall of tenant " + t.tenantId() + " (generated; apply with nft -f)");
        out.add("add table " + tb);
        out.add("flush table " + tb);
        Set<String> counters = counters(t);
        for (String c : counters) out.add("add counter " + tb + " " + c);
        for (String c : new TreeSet<>(existingCounters)) {
            if (!counters.contains(c)) out.add("delete counter " + tb + " " + c);
        }
        out.add("add chain " + tb + " prerouting { type nat hook prerouting priority dstnat; policy accept; }");
        out.add("add chain " + tb + " postrouting { type nat hook postrouting priority srcnat; policy accept; }");
        out.add("add chain " + tb + " forward { type filter hook forward priority filter; policy drop; }");
        out.add("add chain " + tb + " input { type filter hook input priority filter; policy drop; }");
        out.add("add chain " + tb + " output { type filter hook output priority filter; policy accept; }");
        out.add("add chain " + tb + " ingress");
        out.add("add chain " + tb + " egress");

        // NAT: port forwards and 1:1 addresses in, the tenant's address (or the 1:1 address) out.
        for (PortForward pf : t.portForwards()) {
            Nic nic = t.nic(pf.vmId(), pf.networkId()).orElseThrow();
            String proto = pf.protocol().nftName();
            out.add(rule(tb, "prerouting", "iifname " + wan + " ip daddr " + t.publicIp() + " " + proto + " dport "
                    + pf.publicPort() + " dnat ip to " + nic.ip() + ":" + pf.targetPort()));
        }
        for (OneToOneNat nat : t.oneToOneNats()) {
            Nic nic = t.nic(nat.vmId(), nat.networkId()).orElseThrow();
            out.add(rule(tb, "prerouting", "iifname " + wan + " ip daddr " + nat.publicIp() + " counter name "
                    + counterName(nat.id()) + " dnat ip to " + nic.ip()));
            out.add(rule(tb, "postrouting", "oifname " + wan + " ip saddr " + nic.ip() + " snat ip to " + nat.publicIp()));
        }
        if (!t.networks().isEmpty()) {
            String cidrs = "{ " + String.join(", ", t.networks().stream().map(n -> Cidr.parse(n.cidr()).toString()).toList()) + " }";
            out.add(rule(tb, "postrouting", "oifname " + wan + " ip saddr " + cidrs + " snat ip to " + t.publicIp()));
        }

        // Connections in from outside: port forwards open themselves, ingress rules open 1:1 addresses.
        for (PortForward pf : t.portForwards()) {
            Nic nic = t.nic(pf.vmId(), pf.networkId()).orElseThrow();
            long mark = mark(pf.id());
            activeMarks.add(mark);
            String proto = pf.protocol().nftName();
            out.add(rule(tb, "ingress", "ip daddr " + nic.ip() + " " + proto + " dport " + pf.targetPort()
                    + " ct original ip daddr " + t.publicIp() + " ct original proto-dst " + pf.publicPort()
                    + source(pf.sourceCidr()) + " ct mark set " + hex(mark) + " counter name " + counterName(pf.id()) + " accept"));
        }
        List<String> natIps = t.oneToOneNats().stream().map(OneToOneNat::publicIp).toList();
        for (IngressRule r : t.ingressRules()) {
            List<String> targets = r.publicIp() != null ? List.of(r.publicIp()) : natIps;
            if (targets.isEmpty()) {
                out.add("# ingress rule " + r.id() + ": no 1:1 address to open yet");
                continue;
            }
            long mark = mark(r.id());
            activeMarks.add(mark);
            out.add(rule(tb, "ingress", "ct original ip daddr { " + String.join(", ", targets) + " }"
                    + protocolAndPorts(r.protocol(), r.portFrom(), r.portTo(), "ct original proto-dst")
                    + source(r.sourceCidr()) + " ct mark set " + hex(mark) + " counter name " + counterName(r.id()) + " accept"));
        }
        out.add(rule(tb, "ingress", "counter name " + INGRESS_DROP + " drop"));

        // Connections out: everything, or only what egress rules allow.
        if (t.egressRules().isEmpty()) {
            activeMarks.add(EGRESS_ALLOW_MARK);
            out.add(rule(tb, "egress", "ct mark set " + hex(EGRESS_ALLOW_MARK) + " counter name " + EGRESS_ALLOW + " accept"));
        } else {
            for (EgressRule r : t.egressRules()) {
                long mark = mark(r.id());
                activeMarks.add(mark);
                String dest = r.destinationCidr() == null ? "" : " ip daddr " + Cidr.parse(r.destinationCidr());
                out.add(rule(tb, "egress", (dest + protocolAndPorts(r.protocol(), r.portFrom(), r.portTo(), "th dport")).strip()
                        + " ct mark set " + hex(mark) + " counter name " + counterName(r.id()) + " accept"));
            }
            out.add(rule(tb, "egress", "counter name " + EGRESS_DROP + " drop"));
        }

        // Forwarding: clamp TCP MSS to the path MTU (tenant networks are 1450), keep established
        // connections of rules that still exist, route freely between the tenant's own networks.
        out.add(rule(tb, "forward", "tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu"));
        List<String> marks = activeMarks.stream().map(NftFirewall::hex).toList();
        out.add(rule(tb, "forward", "ct state established,related ct mark != { " + String.join(", ", marks) + " } drop"));
        out.add(rule(tb, "forward", "ct state established,related accept"));
        out.add(rule(tb, "forward", "ct state invalid drop"));
        if (legs != null) {
            out.add(rule(tb, "forward", "iifname " + legs + " oifname " + legs + " accept"));
            out.add(rule(tb, "forward", "iifname " + legs + " oifname " + wan + " jump egress"));
            out.add(rule(tb, "forward", "iifname " + wan + " oifname " + legs + " jump ingress"));
        }

        // The firewall itself: DHCP, DNS and ping from the tenant's networks; nothing from outside.
        out.add(rule(tb, "input", "ct state established,related accept"));
        out.add(rule(tb, "input", "ct state invalid drop"));
        out.add(rule(tb, "input", "iif \"lo\" accept"));
        if (legs != null) {
            out.add(rule(tb, "input", "iifname " + legs + " udp dport 67 accept"));
            out.add(rule(tb, "input", "iifname " + legs + " meta l4proto { tcp, udp } th dport 53 accept"));
            out.add(rule(tb, "input", "iifname " + legs + " icmp type echo-request accept"));
        }
        out.add(rule(tb, "input", "counter name " + INPUT_DROP + " drop"));
        return String.join("\n", out) + "\n";
    }

    /** The connection mark of a rule: 31 bits of its id's hash, never 0 or 1. */
    static long mark(String ruleId) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(ruleId.getBytes(StandardCharsets.UTF_8));
            long m = ((h[0] & 0x7fL) << 24) | ((h[1] & 0xffL) << 16) | ((h[2] & 0xffL) << 8) | (h[3] & 0xffL);
            return m < 2 ? m + 2 : m;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String protocolAndPorts(Protocol protocol, Integer from, Integer to, String portExpr) {
        if (protocol == Protocol.ANY) return "";
        String s = " meta l4proto " + protocol.nftName();
        if (protocol.hasPorts() && from != null) {
            s += " " + portExpr + " " + (from.equals(to) || to == null ? from.toString() : from + "-" + to);
        }
        return s;
    }

    private static String source(String cidr) {
        return cidr == null ? "" : " ip saddr " + Cidr.parse(cidr);
    }

    private static String rule(String table, String chain, String body) {
        return "add rule " + table + " " + chain + " " + body;
    }

    private static String hex(long mark) {
        return "0x" + Long.toHexString(mark);
    }

    static String quote(String ifname) {
        if (!ifname.matches("[a-zA-Z0-9_.-]{1,15}")) throw new IllegalArgumentException("bad interface name " + ifname);
        return "\"" + ifname + "\"";
    }

    /** Every network needs its leg named. */
    static void checkPorts(TenantNetworking t, Ports ports) {
        Set<String> missing = new LinkedHashSet<>();
        for (Network n : t.networks()) if (!ports.legByNetworkId().containsKey(n.id())) missing.add(n.id());
        if (!missing.isEmpty()) throw new IllegalArgumentException("no firewall leg for networks " + missing);
    }
}
