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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway network lab for tests: a driver with the name prefix "ent3" and its own data directory,
 * namespaces acting as VMs (a veth in place of the NIC's TAP) and as external clients (on the public
 * bridge), and background processes. {@link #close} removes all of it, whatever state a test left.
 */
final class NetLab implements AutoCloseable {
    static final String PREFIX = "ent3";
    /** 198.18.0.0/15 is reserved for benchmarks: never a real destination. */
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final Duration T = Duration.ofSeconds(20);

    final String prefix;
    final CommandRunner runner;
    final Path dir;
    final LinuxNetworkDriver driver;
    final Path nettool;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final Set<String> tenants = new LinkedHashSet<>();
    private int next;

    NetLab() throws IOException {
        this(new ProcessCommandRunner());
    }

    NetLab(CommandRunner runner) throws IOException {
        this(runner, PREFIX);
    }

    /** A lab whose names all start with {@code prefix}, for tests that may run beside others. */
    NetLab(CommandRunner runner, String prefix) throws IOException {
        this.prefix = prefix;
        this.runner = runner;
        dir = Files.createTempDirectory(Path.of("/tmp"), prefix + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        nettool = dir.resolve("nettool.py");
        try (InputStream in = NetLab.class.getResourceAsStream("/network/nettool.py")) {
            Files.copy(in, nettool);
        }
        driver = new LinuxNetworkDriver(runner, dir.resolve("net"), prefix);
    }

    void apply(TenantNetworking t) {
        tenants.add(t.tenantId());
        driver.applyTenant(t);
    }

    /** A namespace standing in for the VM of {@code nic}: its eth0 (MAC, MTU) replaces the NIC's TAP. */
    String vm(TenantNetworking t, String vmId, boolean withAddress) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        var network = t.network(nic.networkId()).orElseThrow();
        NicAttachment a = driver.nicAttachment(t, vmId, nic.networkId());
        String ns = namespace("v");
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "" + network.mtu(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", driver.names().networkBridge(network.id()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "" + network.mtu(), "up");
        if (withAddress) {
            ok("ip", "-n", ns, "addr", "add", nic.ip() + "/" + Cidr.parse(network.cidr()).prefixLength(), "dev", "eth0");
            ok("ip", "-n", ns, "route", "add", "default", "via", network.gateway());
        }
        return ns;
    }

    /** An "external client" on the public network with address {@code ip}. */
    String external(String ip) {
        String ns = namespace("x");
        String port = prefix + "x" + ns.substring(ns.lastIndexOf('-') + 1);
        ok("ip", "-n", driver.names().publicNamespace(), "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", driver.names().publicNamespace(), "link", "set", port, "master", driver.names().publicBridge(), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "up");
        ok("ip", "-n", ns, "addr", "add", ip + "/" + PUBLIC.parsedCidr().prefixLength(), "dev", "eth0");
        return ns;
    }

    String namespace(String kind) {
        String ns = prefix + "-" + kind + ProcessHandle.current().pid() % 10000 + "x" + (next++);
        ok("ip", "netns", "add", ns);
        namespaces.add(ns);
        ok("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
        ok("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    CommandResult ok(String... argv) {
        return runner.runChecked(List.of(argv), T);
    }

    CommandResult in(String ns, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(argv));
        return runner.run(cmd, T);
    }

    /** nettool in {@code ns}: connect, udp-send ... */
    CommandResult tool(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        return in(ns, cmd.toArray(String[]::new));
    }

    /** A nettool server (serve, echo, udp-listen) in the background; returns once it listens. */
    Process background(String ns, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "python3", nettool.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        // Byte by byte: a buffered reader could swallow what the server prints later.
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals("listening")) throw new IllegalStateException("server did not start: " + line);
        return p;
    }

    /** A connection held open by nettool, echoing a line every 0.2 s; returns once the first echo came back. */
    Process hold(String ns, String host, String port, int seconds) throws IOException {
        Process p = new ProcessBuilder("ip", "netns", "exec", ns, "python3", nettool.toString(), "hold", host, port,
                Integer.toString(seconds)).redirectErrorStream(true).start();
        processes.add(p);
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals("ok 1")) throw new IllegalStateException("connection not established: " + line);
        return p;
    }

    static String output(Process p, Duration timeout) throws Exception {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) p.destroyForcibly().waitFor();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    void track(Process p) {
        processes.add(p);
    }

    @Override
    public void close() {
        List<Throwable> errors = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (String t : tenants) attempt(errors, () -> driver.removeTenant(t));
        for (String ns : namespaces) attempt(errors, () -> runner.run(List.of("ip", "netns", "del", ns), T));
        attempt(errors, driver::removePublicNetwork);
        attempt(errors, () -> {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
            return null;
        });
        if (!errors.isEmpty()) throw new IllegalStateException("lab cleanup failed: " + errors);
    }

    interface Step {
        Object run() throws Exception;
    }

    private static void attempt(List<Throwable> errors, Step step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }

    private static void attempt(List<Throwable> errors, Runnable step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }
}
