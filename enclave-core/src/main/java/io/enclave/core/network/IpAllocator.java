package io.enclave.core.network;

import java.util.Collection;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/** Picks free host addresses in a CIDR: the lowest host address not in use. */
public final class IpAllocator {
    private IpAllocator() {}

    public static Optional<String> nextFree(Cidr cidr, Collection<String> used) {
        Set<Integer> taken = new HashSet<>();
        for (String ip : used) {
            if (ip != null && Ipv4.isValid(ip)) taken.add(Ipv4.parse(ip));
        }
        long first = Integer.toUnsignedLong(cidr.network());
        long last = Integer.toUnsignedLong(cidr.broadcast());
        for (long a = first; a <= last; a++) {
            int address = (int) a;
            if (cidr.isHost(address) && !taken.contains(address)) return Optional.of(Ipv4.format(address));
        }
        return Optional.empty();
    }

    /** The conventional gateway of a network: its first host address. */
    public static String firstHost(Cidr cidr) {
        return Ipv4.format(cidr.prefixLength() >= 31 ? cidr.network() : cidr.network() + 1);
    }
}
