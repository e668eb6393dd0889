package io.enclave.agent.network.appliance;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.NetNames;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.agent.network.NicAttachment;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.Network;
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
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the appliance tests build around the driver: a temp directory, namespaces standing in for VMs and
 * external clients, nettool processes. {@link #close} kills the processes and removes the namespaces and the
 * directory, whatever state a test left (the caller removes the driver's tenants and public network first).
 */
final class ApplianceLab implements AutoCloseable {
    static final Duration T = Duration.ofSeconds(30);

    final String prefix;
    final CommandRunner runner = new ProcessCommandRunner();
    final Path dir;
    final Path nettool;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private int next;

    ApplianceLab(String prefix) throws IOException {
        this.prefix = prefix;
        dir = Files.createTempDirectory(Path.of("/tmp"), prefix + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        nettool = dir.resolve("nettool.py");
        try (InputStream in = ApplianceLab.class.getResourceAsStream("/network/nettool.py")) {
            Files.copy(in, nettool);
        }
    }

    /** A namespace standing in for the VM of {@code vmId}: its eth0 (a veth) replaces the NIC's TAP. */
    String vm(NetworkDriver driver, NetNames names, TenantNetworking t, String vmId, boolean withAddress) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        Network network = t.network(nic.networkId()).orElseThrow();
        NicAttachment a = driver.nicAttachment(t, vmId, nic.networkId());
        String ns = namespace("v");
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "" + network.mtu(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", names.networkBridge(network.id()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "" + network.mtu(), "up");
        if (withAddress) {
            ok("ip", "-n", ns, "addr", "add", nic.ip() + "/" + Cidr.parse(network.cidr()).prefixLength(), "dev", "eth0");
            ok("ip", "-n", ns, "route", "add", "default", "via", network.gateway());
        }
        return ns;
    }

    /** An "external client" on the public network with address {@code ip}. */
    String external(NetNames names, PublicNetwork pub, String ip) {
        String ns = namespace("x");
        String port = prefix + "x" + ns.substring(ns.lastIndexOf('-') + 1);
        String pns = names.publicNamespace();
        ok("ip", "-n", pns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", pns, "link", "set", port, "master", names.publicBridge(), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "up");
        ok("ip", "-n", ns, "addr", "add", ip + "/" + pub.parsedCidr().prefixLength(), "dev", "eth0");
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

    CommandResult tool(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        return in(ns, cmd.toArray(String[]::new));
    }

    /** A nettool server ("serve", "echo", ...) in the background, once it listens; or another program (iperf3). */
    void background(String ns, String... args) throws IOException {
        boolean nettoolServer = !args[0].equals("iperf3");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        if (nettoolServer) cmd.addAll(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        Process p = track(new ProcessBuilder(cmd).redirectErrorStream(true).start());
        if (!nettoolServer) return;
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals("listening")) throw new IllegalStateException("server did not start: " + line);
    }

    /** A process the lab kills when it closes. */
    Process track(Process p) {
        processes.add(p);
        return p;
    }

    @Override
    public void close() {
        List<Throwable> errors = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (String ns : namespaces) attempt(errors, () -> runner.run(List.of("ip", "netns", "del", ns), T));
        attempt(errors, () -> {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        });
        if (!errors.isEmpty()) throw new IllegalStateException("lab cleanup failed: " + errors);
    }

    interface Step {
        void run() throws Exception;
    }

    static void attempt(List<Throwable> errors, Step step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }
}
