package io.enclave.core.network;

/**
 * An IPv4 prefix such as {@code 10.0.0.0/24}. {@link #parse} insists on the network address (no host
 * bits set), so a typo like {@code 10.0.0.1/24} is reported instead of silently widened.
 */
public record Cidr(int network, int prefixLength) {

    public Cidr {
        if (prefixLength < 0 || prefixLength > 32) throw new IllegalArgumentException("prefix length " + prefixLength);
        if ((network & ~mask(prefixLength)) != 0) {
            throw new IllegalArgumentException("host bits set in " + Ipv4.format(network) + "/" + prefixLength);
        }
    }

    public static Cidr parse(String text) {
        if (text == null) throw new IllegalArgumentException("no CIDR");
        int slash = text.indexOf('/');
        if (slash < 0) throw new IllegalArgumentException("not a CIDR (address/prefix): '" + text + "'");
        int address = Ipv4.parse(text.substring(0, slash));
        String len = text.substring(slash + 1);
        if (len.isEmpty() || len.length() > 2 || !len.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("not a CIDR (address/prefix): '" + text + "'");
        }
        int prefix = Integer.parseInt(len);
        if (prefix > 32) throw new IllegalArgumentException("prefix length must be 0-32: '" + text + "'");
        if ((address & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException("'" + text + "' has host bits set; the network is "
                    + Ipv4.format(address & mask(prefix)) + "/" + prefix);
        }
        return new Cidr(address, prefix);
    }

    public static boolean isValid(String text) {
        try {
            parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    public int netmask() {
        return mask(prefixLength);
    }

    public int broadcast() {
        return network | ~mask(prefixLength);
    }

    public long size() {
        return 1L << (32 - prefixLength);
    }

    public boolean contains(int address) {
        return (address & mask(prefixLength)) == network;
    }

    public boolean contains(String address) {
        return contains(Ipv4.parse(address));
    }

    /** True for an address a host may use: inside, and neither the network nor the broadcast address (for /0-/30). */
    public boolean isHost(int address) {
        if (!contains(address)) return false;
        if (prefixLength >= 31) return true;
        return address != network && address != broadcast();
    }

    public boolean overlaps(Cidr other) {
        int shorter = Math.min(prefixLength, other.prefixLength);
        return (network & mask(shorter)) == (other.network & mask(shorter));
    }

    @Override
    public String toString() {
        return Ipv4.format(network) + "/" + prefixLength;
    }
}
