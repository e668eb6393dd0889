package io.enclave.core.network;

/** The protocols a firewall rule can name. Only TCP and UDP have ports. */
public enum Protocol {
    TCP, UDP, ICMP, ANY;

    public boolean hasPorts() {
        return this == TCP || this == UDP;
    }

    /** The nft keyword ({@code tcp}, {@code udp}, {@code icmp}); null for ANY. */
    public String nftName() {
        return this == ANY ? null : name().toLowerCase(java.util.Locale.ROOT);
    }
}
