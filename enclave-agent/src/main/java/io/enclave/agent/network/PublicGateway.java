package io.enclave.agent.network;

import java.util.List;

/**
 * The public network's gateway when there is no uplink: every host's public bridge holds the gateway
 * address with the same MAC ({@link #MAC}), and a bridge table keeps each host's gateway local — its own
 * frames never leave through the public VXLAN, and frames from another host's gateway are dropped before
 * the bridge learns from them. So a firewall always reaches the gateway of its own host, and hosts never
 * see one another's answers for the same address (an "anycast gateway", as EVPN fabrics do it).
 */
public final class PublicGateway {
    /** Locally administered, the same on every host. */
    public static final String MAC = "02:45:4e:43:00:01";
    public static final String TABLE = "enclave_public_gateway";
    /** Counter of the host's own gateway frames kept off the VXLAN. */
    public static final String KEPT_LOCAL = "kept_local";
    /** Counter of other hosts' gateway frames dropped on arrival. */
    public static final String FOREIGN_DROPPED = "foreign_dropped";

    private PublicGateway() {}

    /** The bridge table for the public namespace ({@code vxlan}: the public VXLAN's name, present or not). */
    public static String script(String vxlan) {
        String tb = "bridge " + TABLE;
        return String.join("\n", List.of(
                "# Enclave public gateway: keeps each host's gateway local (generated; apply with nft -f)",
                "table " + tb,
                "delete table " + tb,
                "table " + tb + " {",
                "\tcounter " + KEPT_LOCAL + " { }",
                "\tcounter " + FOREIGN_DROPPED + " { }",
                "\tchain output {",
                "\t\ttype filter hook output priority 0; policy accept;",
                "\t\toifname " + NftFirewall.quote(vxlan) + " ether saddr " + MAC + " counter name " + KEPT_LOCAL + " drop",
                "\t}",
                "\tchain prerouting {",
                "\t\ttype filter hook prerouting priority -200; policy accept;",
                "\t\tiifname " + NftFirewall.quote(vxlan) + " ether saddr " + MAC + " counter name " + FOREIGN_DROPPED + " drop",
                "\t}",
                "}")) + "\n";
    }
}
