package io.enclave.core.host;

import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What the controller asks of the agent that owns one host. Every call is idempotent: calling it again
 * after a crash or a timeout converges to the same result. Implementations: the in-process agent for a
 * single machine; a remote client for many hosts.
 */
public interface HostAgent {

    HostInfo info();

    /** The VMs the host holds anything of (disk, process, files). */
    List<String> listVms();

    VmRuntimeStatus status(String vmId);

    /** Creates the VM's boot disk (an overlay of the image, of the requested size) if it is not there. */
    void createDisk(VmRuntimeSpec spec);

    /** Starts QEMU for the VM if it is not running. */
    void start(VmRuntimeSpec spec);

    /** Asks the guest to power down (ACPI) and records when it was asked. */
    void powerDown(String vmId);

    /** Ends the VM's QEMU process now. */
    void forceStop(String vmId);

    /** Hard-resets the running guest. */
    void reset(String vmId);

    /** Resumes a paused guest. */
    void resume(String vmId);

    /** Forgets a QEMU process that died by itself, keeping the disk. */
    void clearDeadProcess(String vmId);

    /** Removes everything of the VM from the host: process, disk, sockets, logs. */
    void destroy(String vmId);

    /** The last {@code maxBytes} of the VM's serial console output. */
    String console(String vmId, int maxBytes);

    /** Runs a command inside the guest through its guest agent and waits for it. */
    ExecResult exec(String vmId, List<String> command, Duration timeout);

    /**
     * Converges the public network and one tenant's networks, VM ports, firewall and DHCP/DNS on this
     * host to exactly {@code tenant}. Idempotent; the firewall's rules change atomically.
     */
    void applyNetworking(PublicNetwork publicNetwork, TenantNetworking tenant);

    /** Removes everything of the tenant's networking from this host. */
    void removeNetworking(String tenantId);

    /** Hit counters of the tenant's firewall rules, by rule id. */
    Map<String, RuleCounter> ruleCounters(String tenantId);
}
