package io.enclave.agent.network;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Two simulated hosts on one machine: underlay namespaces {@code exh1}/{@code exh2} (10.98.0.1, 10.98.0.2)
 * joined by a "data centre" bridge in namespace {@code exdc}, and a {@link LinuxNetworkDriver} per host
 * (prefixes {@code exa}, {@code exb}) with that host's {@link Underlay}, plus the stand-ins of
 * {@link NamespaceLab}. {@link #close} removes all of it whatever state a test left; every name starts with "ex".
 */
final class TwoHosts extends NamespaceLab {
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final String DC = "exdc";
    static final List<String> UNDERLAY_NS = List.of("exh1", "exh2");
    static final List<String> UNDERLAY_IP = List.of("10.98.0.1", "10.98.0.2");
    static final List<String> PREFIXES = List.of("exa", "exb");

    final List<NetworkDriver> drivers = new ArrayList<>();
    private final List<Set<String>> tenants = List.of(new LinkedHashSet<>(), new LinkedHashSet<>());

    /** Makes a host's driver: its data directory, name prefix and underlay. */
    interface DriverFactory {
        NetworkDriver create(Path dir, String prefix, Underlay underlay);
    }

    /** Hosts with the light driver. */
    TwoHosts() throws IOException {
        this((dir, prefix, underlay) -> new LinuxNetworkDriver(new ProcessCommandRunner(), dir, prefix, underlay));
    }

    TwoHosts(DriverFactory factory) throws IOException {
        super("ex", Duration.ofSeconds(20));
        try {
            addNamespace(DC);
            ok("ip", "-n", DC, "link", "add", "exdcbr", "type", "bridge");
            ok("ip", "-n", DC, "link", "set", "exdcbr", "up");
            for (int h = 0; h < 2; h++) {
                String ns = UNDERLAY_NS.get(h);
                addNamespace(ns);
                String port = "exdcp" + (h + 1);
                ok("ip", "-n", DC, "link", "add", port, "type", "veth", "peer", "name", "exu", "netns", ns);
                ok("ip", "-n", DC, "link", "set", port, "master", "exdcbr", "up");
                ok("ip", "-n", ns, "link", "set", "exu", "up");
                ok("ip", "-n", ns, "addr", "add", UNDERLAY_IP.get(h) + "/24", "dev", "exu");
                drivers.add(factory.create(dir.resolve("host" + (h + 1)), PREFIXES.get(h),
                        new Underlay(ns, UNDERLAY_IP.get(h), Underlay.VXLAN_PORT)));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    NetworkDriver driver(int host) {
        return drivers.get(host - 1);
    }

    NetNames names(int host) {
        return new NetNames(PREFIXES.get(host - 1));
    }

    /** The other host's underlay address. */
    static String peerOf(int host) {
        return UNDERLAY_IP.get(2 - host);
    }

    void apply(int host, TenantNetworking t) {
        tenants.get(host - 1).add(t.tenantId());
        driver(host).applyTenant(t);
    }

    /** A namespace standing in for the VM of {@code vmId} on {@code host} (a veth in place of its TAP). */
    String vm(int host, TenantNetworking t, String vmId, boolean withAddress) {
        return vm(driver(host), names(host), t, vmId, withAddress);
    }

    /** An external client on {@code host}'s public bridge with address {@code ip}. */
    String external(int host, String ip) {
        return external(names(host), PUBLIC, ip);
    }

    @Override
    protected void removeDriverState(List<Throwable> errors) {
        for (int h = 0; h < drivers.size(); h++) {
            NetworkDriver d = drivers.get(h);
            for (String t : tenants.get(h)) attempt(errors, () -> d.removeTenant(t));
            attempt(errors, d::removePublicNetwork);
        }
    }
}
