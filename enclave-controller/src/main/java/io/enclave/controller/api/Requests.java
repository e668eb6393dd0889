package io.enclave.controller.api;

import java.util.List;

/**
 * Request bodies of the public API. Fields are boxed so that a missing one is told apart from a zero;
 * any field not listed here is rejected.
 */
public final class Requests {
    private Requests() {}

    public record QuotaBody(Integer vcpus, Long memoryMib, Long diskGib, Integer vms) {}

    public record CreateTenant(String name, QuotaBody quota) {}

    public record CreateToken(String name) {}

    public record CreateVm(String name, Integer vcpus, Long memoryMib, Long diskGib, String image, Boolean start,
            String tenantId, List<String> networks, Boolean highlyAvailable, String antiAffinityGroup, String storage,
            BootVolume bootVolume) {}

    /** {@code pool}: a pool's name or id. */
    public record BootVolume(String pool, Integer copies) {}

    public record JoinHost(String hostId, String name, Integer cpus, Long memoryMib, String accelerator, String agentUrl,
            String agentCertificate, String agentSecret, String underlayAddress, String sharedStorage,
            String sharedStoragePath) {}

    public record Heartbeat(Integer cpus, Long memoryMib) {}

    public record MigrateVm(String hostId, Boolean copyStorage, Boolean cold) {}

    public record SetPublicNetwork(String cidr, String gateway, String uplink, Integer mtu) {}

    public record CreateNetwork(String name, String cidr, String tenantId, String firewallForm) {}

    public record AddIngressRule(String protocol, Integer portFrom, Integer portTo, String sourceCidr, String tenantId) {}

    public record AddEgressRule(String protocol, Integer portFrom, Integer portTo, String destinationCidr, String tenantId) {}

    public record AddPortForward(String protocol, Integer publicPort, String vmId, String networkId, Integer targetPort,
            String sourceCidr, String tenantId) {}

    public record AddOneToOneNat(String vmId, String networkId, String tenantId) {}

    public record StopVm(Integer timeoutSeconds) {}

    public record ExecInVm(List<String> command, Integer timeoutSeconds) {}

    public record ImportImage(String name, String path, String kernel, String initrd, String cmdline, Boolean guestAgent) {}

    public record RegisterDevice(String path, String hostId) {}

    public record CreatePool(String name, List<String> deviceIds) {}

    public record CreateVolume(String name, String pool, Long sizeGib, Integer copies, String tenantId) {}

    public record GrowVolume(Long sizeGib) {}

    public record AttachVolume(String vmId) {}

    public record CreateSnapshot(String name) {}

    public record ResyncVolume(String deviceId) {}
}
