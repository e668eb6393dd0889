package io.enclave.core.vm;

import io.enclave.core.validation.Validator;

/** Bounds on a VM spec that come from the hosts, not from the tenant's quota. */
public record VmLimits(int maxVcpus, long maxMemoryMib, long maxDiskGib) {

    public static final long MIN_MEMORY_MIB = 64;

    /** Checks every field of {@code spec}, naming each bad one; {@code imageExists} tells if the image is known. */
    public void validate(VmSpec spec, boolean imageExists, Validator v) {
        v.dnsLabel(spec.name(), "name");
        v.require(spec.vcpus() >= 1 && spec.vcpus() <= maxVcpus, "vcpus",
                "must be between 1 and " + maxVcpus + " (the largest host's CPU count), got " + spec.vcpus());
        v.require(spec.memoryMib() >= MIN_MEMORY_MIB && spec.memoryMib() <= maxMemoryMib, "memoryMib",
                "must be between " + MIN_MEMORY_MIB + " and " + maxMemoryMib + " MiB (the largest host's memory), got "
                        + spec.memoryMib());
        v.require(spec.diskGib() >= 1 && spec.diskGib() <= maxDiskGib, "diskGib",
                "must be between 1 and " + maxDiskGib + " GiB, got " + spec.diskGib());
        if (v.present(spec.image(), "image")) {
            v.require(imageExists, "image", "unknown image '" + spec.image() + "'");
        }
        VmPlacement p = spec.placement();
        if (p.antiAffinityGroup() != null) v.dnsLabel(p.antiAffinityGroup(), "antiAffinityGroup");
        v.require(!p.highlyAvailable() || p.sharedStorage(), "highlyAvailable",
                "needs storage 'shared': a VM can only be restarted on another host if its disk is reachable there");
    }
}
