package io.enclave.agent.network.appliance;

import io.enclave.agent.network.Dnsmasq;
import io.enclave.agent.network.NftFirewall;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.Network;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole configuration of a firewall appliance as one shell script run inside it (through the guest
 * agent, {@code sh -s} with the script on stdin): link MTUs and addresses, the default route,
 * {@code ip_forward}, the {@link NftFirewall} ruleset applied with one {@code nft -f} (atomic; counters and
 * conntrack stay), and one {@link Dnsmasq} per tenant network. The script converges: addresses are only
 * replaced when they differ, a dnsmasq is restarted only when its configuration changed and sent SIGHUP when
 * only its hosts files did. Its last line records its own hash in {@value #APPLIED}, which is how the host
 * knows that nothing needs pushing (also after an agent restart).
 *
 * <p>NICs are addressed by MAC: the driver reads the guest's interface names ({@code /sys/class/net/<if>/address})
 * and passes them in, because hot-plug and unplug leave them in no fixed order (a NIC plugged after one was
 * removed takes the lowest free {@code ethN}). Port 2 is the first NIC ({@code eth0} in practice), port 1 one
 * NIC per tenant network. The script checks every NIC's MAC before touching it, and stops the dnsmasq of a
 * network that is no longer there.
 */
public final class ApplianceConfig {
    /** Where the appliance keeps its configuration (tmpfs: a rebooted appliance starts empty). */
    static final String RUN = "/run/enclave";
    static final String APPLIED = RUN + "/applied";

    private ApplianceConfig() {}

    /**
     * The guest interface of each network, found by its NIC's MAC ({@code macs} in layout order: WAN first, then
     * one per network in {@link TenantNetworking#networks()} order; {@code ifnameByMac} as the guest reports it).
     */
    static Map<String, String> legs(TenantNetworking t, List<String> macs, Map<String, String> ifnameByMac) {
        Map<String, String> legs = new LinkedHashMap<>();
        int i = 1;
        for (Network n : t.networks()) legs.put(n.id(), ifname(macs.get(i++), ifnameByMac));
        return legs;
    }

    private static String ifname(String mac, Map<String, String> ifnameByMac) {
        String name = ifnameByMac.get(mac);
        if (name == null) throw new IllegalStateException("the appliance has no interface with MAC " + mac + " (it has " + ifnameByMac + ")");
        return name;
    }

    /**
     * The script converging the appliance to {@code t}. {@code macs} are the NICs' MACs in layout order (WAN
     * first), {@code ifnameByMac} the guest's interface names, {@code existingCounters} the nft counters the
     * appliance has now (see {@link NftFirewall#script}).
     */
    static String script(TenantNetworking t, PublicNetwork pub, List<String> macs, Map<String, String> ifnameByMac,
            Set<String> existingCounters) {
        // The recorded hash is that of the canonical script (counters as wanted), so a push that had to
        // delete stale counters is not repeated by the next apply.
        String canonical = body(t, pub, macs, ifnameByMac, NftFirewall.counters(t));
        return body(t, pub, macs, ifnameByMac, existingCounters) + "echo " + hash(canonical) + " > " + APPLIED + "\n";
    }

    private static String body(TenantNetworking t, PublicNetwork pub, List<String> macs, Map<String, String> ifnameByMac,
            Set<String> existingCounters) {
        Map<String, String> legs = legs(t, macs, ifnameByMac);
        String wan = ifname(macs.getFirst(), ifnameByMac);
        List<String> s = new ArrayList<>();
        s.add("# Enclave firewall appliance configuration for tenant " + t.tenantId() + "; generated, run with sh -s");
        s.add("PATH=/sbin:/bin:/usr/sbin:/usr/bin");
        s.add("die() { echo \"enclave-appliance: $*\" >&2; exit 1; }");
        s.add("mac() { [ \"$(cat /sys/class/net/$1/address 2>/dev/null)\" = \"$2\" ] || die \"$1 is not the NIC $2\"; }");
        s.add("link() { ip link set \"$1\" mtu \"$2\" up || die \"cannot set up $1\"; }");
        // addresses of a link: replaced only when the set differs
        s.add("addrs() { dev=$1; shift; want=$(for a in \"$@\"; do echo \"$a\"; done | sort);"
                + " have=$(ip -4 -o addr show dev \"$dev\" | awk '{ print $4 }' | sort);"
                + " [ \"$want\" = \"$have\" ] && return 0; ip addr flush dev \"$dev\";"
                + " for a in \"$@\"; do ip addr add \"$a\" dev \"$dev\" || die \"cannot add $a to $dev\"; done; }");
        // put FILE: stdin into FILE; returns 0 if the content changed
        s.add("put() { cat > \"$1.new\"; if cmp -s \"$1.new\" \"$1\"; then rm -f \"$1.new\"; return 1; fi; mv \"$1.new\" \"$1\"; }");
        s.add("rm -f " + APPLIED);
        s.add("mkdir -p " + RUN + "/dns");
        s.add("echo 1 > /proc/sys/net/ipv4/ip_forward || die ip_forward");

        int prefix = pub.parsedCidr().prefixLength();
        List<String> wanAddrs = new ArrayList<>();
        wanAddrs.add(t.publicIp() + "/" + prefix);
        t.oneToOneNats().forEach(n -> wanAddrs.add(n.publicIp() + "/32"));
        s.add("mac " + wan + " " + macs.getFirst());
        s.add("link " + wan + " " + pub.mtu());
        s.add("addrs " + wan + " " + String.join(" ", wanAddrs));
        int i = 1;
        for (Network n : t.networks()) {
            String dev = legs.get(n.id());
            s.add("mac " + dev + " " + macs.get(i++));
            s.add("link " + dev + " " + n.mtu());
            s.add("addrs " + dev + " " + n.gateway() + "/" + Cidr.parse(n.cidr()).prefixLength());
        }
        s.add("ip route replace default via " + pub.gateway() + " dev " + wan + " || die 'default route'");

        // The ruleset, one transaction.
        String nft = NftFirewall.script(t, new NftFirewall.Ports(wan, legs), existingCounters);
        s.add("put " + RUN + "/firewall.nft <<'ENCLAVE_EOF'");
        s.add(nft.stripTrailing());
        s.add("ENCLAVE_EOF");
        s.add("nft -f " + RUN + "/firewall.nft || { rm -f " + RUN + "/firewall.nft; die 'nft -f failed'; }");

        // The dnsmasq of a network that is gone (its NIC was unplugged) stops, before any interface name is reused.
        List<String> ids = t.networks().stream().map(Network::id).toList();
        s.add("for d in " + RUN + "/dns/*/; do [ -d \"$d\" ] || continue; n=${d%/}; n=${n##*/};"
                + " case ' " + String.join(" ", ids) + " ' in *\" $n \"*) continue ;; esac;"
                + " pid=$(cat \"${d}" + new Dnsmasq.Instance(Path.of("x")).pid().getFileName() + "\" 2>/dev/null);"
                + " [ -n \"$pid\" ] && kill \"$pid\" 2>/dev/null; rm -rf \"$d\"; done");
        // One dnsmasq per network, bound to its leg.
        for (Network n : t.networks()) {
            Dnsmasq.Instance d = new Dnsmasq.Instance(Path.of(RUN, "dns", n.id()));
            String dir = d.dir().toString();
            s.add("mkdir -p " + dir + "; chmod 0755 " + dir + "; conf=0; hosts=0");
            s.add("put " + d.conf() + " <<'ENCLAVE_EOF' && conf=1");
            s.add(Dnsmasq.conf(n, legs.get(n.id()), d).stripTrailing());
            s.add("ENCLAVE_EOF");
            s.add("put " + d.dhcpHosts() + " <<'ENCLAVE_EOF' && hosts=1");
            s.add(Dnsmasq.dhcpHosts(t, n) + "ENCLAVE_EOF");
            s.add("put " + d.hosts() + " <<'ENCLAVE_EOF' && hosts=1");
            s.add(Dnsmasq.hosts(t, n) + "ENCLAVE_EOF");
            s.add("pid=$(cat " + d.pid() + " 2>/dev/null); [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null || pid=");
            s.add("if [ -n \"$pid\" ] && [ $conf = 1 ]; then kill \"$pid\"; j=0;"
                    + " while kill -0 \"$pid\" 2>/dev/null && [ $j -lt 100 ]; do usleep 20000; j=$((j + 1)); done; pid=; fi");
            s.add("if [ -z \"$pid\" ]; then dnsmasq --conf-file=" + d.conf() + " || die 'dnsmasq " + n.id() + "';"
                    + " elif [ $hosts = 1 ]; then kill -HUP \"$pid\"; fi");
        }
        return String.join("\n", s) + "\n";
    }

    /** The hash the script records in {@value #APPLIED} (its last line). */
    static String appliedHash(String script) {
        String last = script.substring(script.lastIndexOf('\n', script.length() - 2) + 1);
        return last.split(" ")[1];
    }

    static String hash(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)))
                    .substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
