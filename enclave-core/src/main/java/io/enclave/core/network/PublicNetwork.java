package io.enclave.core.network;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.validation.Validator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The one network shared by every tenant's firewall (its port 2): the provider's address pool and its
 * gateway. {@code uplink} names a host interface to bridge it to; null (the default, and always in
 * tests) keeps the public network inside the host.
 */
public record PublicNetwork(String cidr, String gateway, String uplink, int mtu) {

    /** The public network's VXLAN segment between hosts (tenant networks get theirs from the controller, >= 4096). */
    public static final int VNI = 1;

    public PublicNetwork(String cidr, String gateway) {
        this(cidr, gateway, null, 1500);
    }

    public Cidr parsedCidr() {
        return Cidr.parse(cidr);
    }

    public void validate() {
        Validator v = new Validator();
        boolean cidrOk = v.present(cidr, "cidr") && check(v, Cidr.isValid(cidr), "cidr", "must be an IPv4 network such as 203.0.113.0/24 (got '" + cidr + "')");
        if (v.present(gateway, "gateway")) {
            if (!Ipv4.isValid(gateway)) v.require(false, "gateway", "must be an IPv4 address (got '" + gateway + "')");
            else if (cidrOk) v.require(Cidr.parse(cidr).isHost(Ipv4.parse(gateway)), "gateway", "must be a host address in " + cidr);
        }
        v.require(uplink == null || uplink.matches("[a-zA-Z0-9_.-]{1,15}"), "uplink", "must be an interface name");
        v.require(mtu >= 1280 && mtu <= 9000, "mtu", "must be between 1280 and 9000 (got " + mtu + ")");
        v.throwIfInvalid();
    }

    /** The lowest free pool address (not the gateway, nor any of {@code used}); 409 when the pool is exhausted. */
    public String allocate(Collection<String> used) {
        List<String> taken = new ArrayList<>(used);
        taken.add(gateway);
        return IpAllocator.nextFree(parsedCidr(), taken).orElseThrow(() -> new EnclaveException.Conflict(
                "the public address pool " + cidr + " is exhausted"));
    }

    private static boolean check(Validator v, boolean condition, String field, String reason) {
        v.require(condition, field, reason);
        return condition;
    }
}
