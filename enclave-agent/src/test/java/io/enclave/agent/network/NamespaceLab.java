package io.enclave.agent.network;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.fs.FileTrees;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.Network;
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
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the network test labs share: a temp directory with nettool, namespaces standing in for VMs (a veth
 * in place of the NIC's TAP) and for external clients (on a public bridge), and background processes.
 * {@link #close} kills the processes, lets the subclass remove what its drivers built
 * ({@link #removeDriverState}), then deletes the namespaces and the directory, whatever state a test left.
 * Every name starts with the lab's prefix.
 */
public abstract class NamespaceLab implements AutoCloseable {
    public final String prefix;
    public final CommandRunner runner;
    public final Path dir;
    public final Path nettool;
    public final Duration timeout;
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private int next;

    protected NamespaceLab(CommandRunner runner, String prefix, Duration timeout) throws IOException {
        this.prefix = prefix;
        this.runner = runner;
        this.timeout = timeout;
        dir = Files.createTempDirectory(Path.of("/tmp"), prefix + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        nettool = dir.resolve("nettool.py");
        try (InputStream in = NamespaceLab.class.getResourceAsStream("/network/nettool.py")) {
            Files.copy(in, nettool);
        }
    }

    protected NamespaceLab(String prefix, Duration timeout) throws IOException {
        this(new ProcessCommandRunner(), prefix, timeout);
    }

    /** A namespace standing in for the VM of {@code vmId}: its eth0 (MAC, MTU) replaces the NIC's TAP. */
    public String vm(NetworkDriver driver, NetNames names, TenantNetworking t, String vmId, boolean withAddress) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        Network network = t.network(nic.networkId()).orElseThrow();
        NicAttachment a = driver.nicAttachment(t, vmId, nic.networkId());
        String ns = namespace("v");
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "" + network.mtu(), "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", names.networkBridge(network.id()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "" + network.mtu(), "up");
        if (withAddress) address(ns, t, vmId);
        return ns;
    }

    /** Gives the VM stand-in {@code ns} its NIC's address and the network's gateway as default route. */
    public void address(String ns, TenantNetworking t, String vmId) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        Network network = t.network(nic.networkId()).orElseThrow();
        ok("ip", "-n", ns, "addr", "add", nic.ip() + "/" + Cidr.parse(network.cidr()).prefixLength(), "dev", "eth0");
        ok("ip", "-n", ns, "route", "add", "default", "via", network.gateway());
    }

    /** An "external client" on the public bridge of {@code names} with address {@code ip}. */
    public String external(NetNames names, PublicNetwork pub, String ip) {
        String ns = namespace("x");
        String port = prefix + "x" + ns.substring(ns.lastIndexOf('-') + 1);
        String pns = names.publicNamespace();
        ok("ip", "-n", pns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", pns, "link", "set", port, "master", names.publicBridge(), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "up");
        ok("ip", "-n", ns, "addr", "add", ip + "/" + pub.parsedCidr().prefixLength(), "dev", "eth0");
        return ns;
    }

    /** A fresh namespace (lo up, no IPv6) that the lab deletes when it closes. */
    public String namespace(String kind) {
        String ns = prefix + "-" + kind + ProcessHandle.current().pid() % 10000 + "x" + (next++);
        addNamespace(ns);
        return ns;
    }

    /** Namespace {@code ns}, by that exact name, deleted when the lab closes (after those made later). */
    protected void addNamespace(String ns) {
        ok("ip", "netns", "add", ns);
        namespaces.add(ns);
        ok("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
        ok("ip", "-n", ns, "link", "set", "lo", "up");
    }

    public CommandResult ok(String... argv) {
        return runner.runChecked(List.of(argv), timeout);
    }

    public CommandResult in(String ns, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(argv));
        return runner.run(cmd, timeout);
    }

    /** nettool in {@code ns}: connect, udp-send ... */
    public CommandResult tool(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        return in(ns, cmd.toArray(String[]::new));
    }

    /** A nettool server ("serve", "echo", "udp-listen", ...) in the background, once it listens; or another program (iperf3). */
    public Process background(String ns, String... args) throws IOException {
        boolean nettoolServer = !args[0].equals("iperf3");
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        if (nettoolServer) cmd.addAll(List.of("python3", nettool.toString()));
        cmd.addAll(List.of(args));
        Process p = track(new ProcessBuilder(cmd).redirectErrorStream(true).start());
        if (nettoolServer) expectFirstLine(p, "listening", "server did not start");
        return p;
    }

    /** A connection held open by nettool, echoing a line every 0.2 s; returns once the first echo came back. */
    public Process hold(String ns, String host, String port, int seconds) throws IOException {
        Process p = track(new ProcessBuilder("ip", "netns", "exec", ns, "python3", nettool.toString(), "hold", host, port,
                Integer.toString(seconds)).redirectErrorStream(true).start());
        expectFirstLine(p, "ok 1", "connection not established");
        return p;
    }

    /** busybox udhcpc on eth0 of {@code ns}: its output (contains "lease of X obtained" on success). */
    public String dhcp(String ns) {
        CommandResult r = in(ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true");
        return r.stdout() + r.stderr();
    }

    /** An ICMP echo of {@code bytes} bytes with DF set from {@code ns} (nettool ping-df: "reply", "too-big" or "no-reply"). */
    public String pingDf(String ns, String host, int bytes) {
        return tool(ns, "ping-df", host, Integer.toString(bytes), "3").stdout().strip();
    }

    /** A DHCP exchange from {@code ns}'s eth0 asking for option 26; the MTU the lease carries. */
    public int dhcpMtu(String ns) throws IOException {
        Path script = dir.resolve("udhcpc-mtu.sh");
        if (!Files.exists(script)) {
            Files.writeString(script, "#!/bin/sh\n[ \"$1\" = bound ] && echo \"dhcp-mtu=$mtu\"\nexit 0\n");
            script.toFile().setExecutable(true);
        }
        CommandResult r = in(ns, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "6", "-T", "2", "-O", "mtu",
                "-s", script.toString());
        Matcher m = Pattern.compile("dhcp-mtu=(\\d+)").matcher(r.stdout());
        if (!m.find()) throw new AssertionError("no MTU in the DHCP lease: " + r.stdout() + r.stderr());
        return Integer.parseInt(m.group(1));
    }

    public boolean ping(String ns, String ip) {
        return in(ns, "busybox", "ping", "-c", "1", "-W", "2", ip).ok();
    }

    /** A process the lab kills when it closes. */
    public Process track(Process p) {
        processes.add(p);
        return p;
    }

    /** All a process printed, once it ended (killed after {@code timeout}). */
    public static String output(Process p, Duration timeout) throws Exception {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) p.destroyForcibly().waitFor();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** Byte by byte: a buffered reader could swallow what the process prints later. */
    private static void expectFirstLine(Process p, String expected, String failure) throws IOException {
        StringBuilder line = new StringBuilder();
        InputStream in = p.getInputStream();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) line.append((char) c);
        if (!line.toString().equals(expected)) throw new IllegalStateException(failure + ": " + line);
    }

    /** Removes the tenants and public networks the lab's drivers built; failures go to {@code errors}. */
    protected abstract void removeDriverState(List<Throwable> errors);

    @Override
    public void close() {
        List<Throwable> errors = new ArrayList<>();
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        removeDriverState(errors);
        for (String ns : namespaces.reversed()) attempt(errors, () -> runner.run(List.of("ip", "netns", "del", ns), timeout));
        attempt(errors, () -> FileTrees.delete(dir));
        if (!errors.isEmpty()) throw new IllegalStateException(getClass().getSimpleName() + " cleanup failed: " + errors);
    }

    /** Runs {@code step}; what it throws goes to {@code errors} (clean-up goes on). */
    public static void attempt(List<Throwable> errors, Runnable step) {
        try {
            step.run();
        } catch (Throwable e) {
            errors.add(e);
        }
    }
}
