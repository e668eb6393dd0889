package io.enclave.server;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.migration.MigrationPortRange;
import io.enclave.agent.network.FirewallFormsDriver;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.Underlay;
import io.enclave.agent.network.appliance.ApplianceNetworkDriver;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.AcceleratorProbe;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.simulator.SimulatedHostAgent;
import io.enclave.agent.storage.QemuStorageDriver;
import io.enclave.core.host.HostAgent;
import io.enclave.core.host.HostInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The options of a host agent, shared by the all-in-one server and the stand-alone agent. */
public final class HostOptions {

    @Option(names = "--images-dir", defaultValue = "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}",
            description = "Image library. Default: ${DEFAULT-VALUE}")
    Path imagesDir;

    @Option(names = "--host-driver", defaultValue = "qemu",
            description = "qemu (real VMs) or simulator (SIMULATOR: runs no VM; control-plane scale tests only)")
    String hostDriver;

    @Option(names = "--accel", defaultValue = "${ENCLAVE_ACCEL:-auto}", description = "auto, kvm or tcg")
    String accel;

    @Option(names = "--firewall-image", defaultValue = "${ENCLAVE_FIREWALL_IMAGE:-/var/cache/enclave/appliances/firewall}",
            description = "The VM-appliance firewall image (images/firewall/build.sh). Default: ${DEFAULT-VALUE}")
    Path firewallImage;

    @Option(names = "--net-prefix", defaultValue = "${ENCLAVE_NET_PREFIX:-enc}",
            description = "Prefix (1-4 characters) of every namespace and interface the host agent makes. Default: ${DEFAULT-VALUE}")
    String netPrefix;

    @Option(names = "--underlay-address", defaultValue = "${ENCLAVE_UNDERLAY_ADDRESS:-}",
            description = "This host's address on the network between hosts (VXLAN tunnels, migration streams)")
    String underlayAddress;

    @Option(names = "--shared-storage", defaultValue = "${ENCLAVE_SHARED_STORAGE:-}",
            description = "NAME=PATH: storage this host shares with others (same NAME everywhere), mounted at PATH")
    String sharedStorage;

    @Option(names = "--migration-ports", defaultValue = "${ENCLAVE_MIGRATION_PORTS:-61000-61999}",
            description = "FIRST-LAST: TCP ports the relays of incoming live migrations listen on, the first free one"
                    + " each; keep them outside the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range)."
                    + " Default: ${DEFAULT-VALUE}")
    String migrationPorts;

    @Option(names = "--simulated-hosts", defaultValue = "1",
            description = "With --host-driver simulator: how many simulated hosts (SIMULATOR: control-plane scale tests only)")
    int simulatedHosts;

    public int simulatedHosts() {
        return "simulator".equals(hostDriver) ? simulatedHosts : 1;
    }

    /** The i-th simulated host (i ≥ 1), beside the first one {@link #buildAgent} makes. */
    public HostAgent simulatedHost(String hostId, String hostName, int i) {
        return new SimulatedHostAgent(new HostInfo(hostId + "-s" + i, hostName + "-simulated-" + i, 64, 256L << 10, "simulated"));
    }

    public Path imagesDir() {
        return imagesDir;
    }

    /** Uses {@code address} as the underlay address unless one was given. */
    public void defaultUnderlay(String address) {
        if (underlayAddress() == null) underlayAddress = address;
    }

    public String underlayAddress() {
        return underlayAddress == null || underlayAddress.isBlank() ? null : underlayAddress;
    }

    /** The shared storage's name, or null. */
    public String sharedStorageName() {
        return sharedStorage == null || sharedStorage.isBlank() ? null : sharedStorage.split("=", 2)[0];
    }

    public String sharedStoragePath() {
        if (sharedStorageName() == null) return null;
        String[] parts = sharedStorage.split("=", 2);
        if (parts.length != 2 || !parts[1].startsWith("/")) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--shared-storage must be NAME=/absolute/path");
        }
        return parts[1];
    }

    /** Builds this machine's host agent, keeping its VMs and networking under {@code dataDir}. */
    public HostAgent buildAgent(String hostId, String hostName, Path dataDir, ProcessCommandRunner runner) {
        return switch (hostDriver) {
            case "qemu" -> {
                Accelerator a = switch (accel) {
                    case "kvm" -> Accelerator.KVM;
                    case "tcg" -> Accelerator.TCG;
                    default -> AcceleratorProbe.probe(runner, "qemu-system-x86_64");
                };
                MigrationPortRange ports = migrationPortRange();
                yield new QemuHostAgent(QemuHostAgent.localHostInfo(hostId, hostName, a), dataDir.resolve("vms"), runner,
                        a, "qemu-system-x86_64", networkDriver(runner, dataDir), new QemuStorageDriver(runner), ports);
            }
            // One large simulated host, so that control-plane scale runs are not limited by this machine; or
            // several of a common server's size, for placement runs.
            case "simulator" -> simulatedHosts > 1 ? simulatedHost(hostId, hostName, 0)
                    : new SimulatedHostAgent(new HostInfo(hostId, hostName + "-simulated", 4096, 64L << 20, "simulated"));
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "--host-driver must be qemu or simulator, got '" + hostDriver + "'");
        };
    }

    /** The parsed --migration-ports; a bad value is a usage error naming the option. */
    public MigrationPortRange migrationPortRange() {
        try {
            return MigrationPortRange.parse(migrationPorts);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--migration-ports: " + e.getMessage());
        }
    }

    /** Both firewall forms; the VM-appliance form only where its image has been built. */
    private FirewallFormsDriver networkDriver(ProcessCommandRunner runner, Path dataDir) {
        Underlay underlay = underlayAddress() == null ? null : new Underlay(null, underlayAddress(), Underlay.VXLAN_PORT);
        LinuxNetworkDriver light = new LinuxNetworkDriver(runner, dataDir.resolve("network"), netPrefix, underlay);
        ApplianceNetworkDriver appliance = Files.exists(firewallImage.resolve("manifest.json"))
                ? new ApplianceNetworkDriver(runner, dataDir.resolve("network-appliance"), netPrefix, firewallImage,
                        "qemu-system-x86_64", 160, 1, Duration.ofMinutes(3), underlay)
                : null;
        return new FirewallFormsDriver(light, appliance);
    }
}
