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
 * (prefixes {@code exa}, {@code exb}) with that host's {@link Underlay}. Namespaces acting as VMs and
 * external clients are made as {@link NetLab} makes them. {@link #close} removes all of it whatever state a
 * test left; every name starts with "ex".
 */
final class TwoHosts implements AutoCloseable {
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final String DC = "exdc";
    static final List<String> UNDERLAY_NS = List.of("exh1", "exh2");
    static final List<String> UNDERLAY_IP = List.of("10.98.0.1", "10.98.0.2");
    static final List<String> PREFIXES = List.of("exa", "exb");
    static final Duration T = Duration.ofSeconds(20);

    final CommandRunner runner = new ProcessCommandRunner();
    final Path dir;
    final Path nettool;
    final List<NetworkDriver> drivers = new ArrayList<>();
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final List<Set<String>> tenants = List.of(new LinkedHashSet<>(), new LinkedHashSet<>());
    private int next;

    /** Makes a host's driver: its data directory, name prefix and underlay. */
    interface DriverFactory {
        NetworkDriver create(Path dir, String prefix, Underlay underlay);
    }

    /** Hosts with the light driver. */
    TwoHosts() throws IOException {
        this((dir, prefix, underlay) -> new LinuxNetworkDriver(new ProcessCommandRunner(), dir, prefix, underlay));
    }

    TwoHosts(DriverFactory factory) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "ex2h-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        nettool = dir.resolve("nettool.py");
        try (InputStream in = TwoHosts.class.getResourceAsStream("/network/nettool.py")) {
            Files.copy(in, nettool);
        }
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
        Nic nic = t.nic(vmId, null).orElseThrow();
        var network = t.network(nic.networkId()).orElseThrow();
        NicAttachment a = driver(host).nicAttachment(t, vmId, nic.networkId());
        String ns = namespace("v");
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "" + network.mtu(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", names(host).networkBridge(network.id()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "" + network.mtu(), "up");
        if (withAddress) address(ns, t, vmId);
        return ns;
    }

    void address(String ns, TenantNetworking t, String vmId) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        var network = t.network(nic.networkId()).orElseThrow();
        ok("ip", "-n", ns, "addr", "add", nic.ip() + "/" + Cidr.parse(network.cidr()).prefixLength(), "dev", "eth0");
        ok("ip", "-n", ns, "route", "add", "default", "via", network.gateway());
    }

    /** An external client on {@code host}'s public bridge with address {@code ip}. */
    String external(int host, String ip) {
        String ns = namespace("x");
        String port = "exx" + next;
        String pns = names(host).publicNamespace();
        ok("ip", "-n", pns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", pns, "link", "set", port, "master", names(host).publicBridge(), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "up");
        ok("ip", "-n", ns, "addr", "add", ip + "/" + PUBLIC.parsedCidr().prefixLength(), "dev", "eth0");
        return ns;
    }

    String namespace(String kind) {
        String ns = "ex-" + kind + ProcessHandle.current().pid() % 10000 + "x" + (next++);
        addNamespace(ns);
        return ns;
    }

    private void addNamespace(String ns) {
        ok("ip", "netns", "add", ns);
        namespaces.add(ns);
        ok("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
        ok("ip", "-n", ns, "link", "set", "lo", "up");
    }

    CommandResult ok(String... argv) {
        return runner.runChecked(List.of(argv), T);
    }

    CommandResult in(String ns, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(argv));
        return runner.run(cmd, T);
    }

    CommandResult tool(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        return in(ns, cmd.toArray(String[]::new));
    }

    /** A nettool server in the background; returns once it listens. */
    Process background(String ns, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "python3", nettool.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals("listening")) throw new IllegalStateException("server did not start: " + line);
        return p;
    }

    /** busybox udhcpc on eth0 of {@code ns}: its output (contains "lease of X obtained" on success). */
    String dhcp(String ns) {
        CommandResult r = in(ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true");
        return r.stdout() + r.stderr();
    }

    boolean ping(String ns, String ip) {
        return in(ns, "busybox", "ping", "-c", "1", "-W", "2", ip).ok();
    }

    @Override
    public void close() {
        List<Throwable> errors = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (int h = 0; h < drivers.size(); h++) {
            NetworkDriver d = drivers.get(h);
            for (String t : tenants.get(h)) attempt(errors, () -> d.removeTenant(t));
            attempt(errors, d::removePublicNetwork);
        }
        for (String ns : namespaces.reversed()) attempt(errors, () -> runner.run(List.of("ip", "netns", "del", ns), T));
        attempt(errors, () -> io.enclave.agent.fs.FileTrees.delete(dir));
        if (!errors.isEmpty()) throw new IllegalStateException("two-host lab cleanup failed: " + errors);
    }

    private static void attempt(List<Throwable> errors, Runnable step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }
}
