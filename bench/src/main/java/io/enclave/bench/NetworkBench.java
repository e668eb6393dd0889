package io.enclave.bench;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NicAttachment;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Issue 3 benchmarks against the real Linux network driver (bench/network.sh): time to build a tenant's
 * network + light firewall, memory per tenant, TCP throughput from an external client to a "VM" through
 * the firewall (port forward) against the same path over a plain bridge, and applying 1,000 rules.
 * VMs are namespaces whose veth takes the place of the NIC's TAP (the guest side is not what is measured).
 * Every name starts with "enb"; the public network is 198.18.0.0/24 (reserved for benchmarks).
 */
public final class NetworkBench {
    static final String P = "enb";
    static final ProcessCommandRunner SH = new ProcessCommandRunner();
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final List<String> scratch = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        int tenants = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "enb-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        LinuxNetworkDriver driver = new LinuxNetworkDriver(SH, dir.resolve("net"), P);
        List<String> made = new ArrayList<>();
        try {
            driver.ensurePublicNetwork(PUBLIC);
            long memBefore = memAvailableKib();
            Stats create = new Stats();
            for (int i = 0; i < tenants; i++) {
                TenantNetworking t = tenant(i, 0);
                long t0 = System.nanoTime();
                driver.applyTenant(t);
                create.add((System.nanoTime() - t0) / 1e6);
                made.add(t.tenantId());
            }
            long memAfter = memAvailableKib();
            System.out.println("RESULT create a tenant's network + light firewall (1 network, 1 NIC, 1 forward): "
                    + create.summary(" ms"));
            Stats again = new Stats();
            for (int i = 0; i < tenants; i++) {
                long t0 = System.nanoTime();
                driver.applyTenant(tenant(i, 0));
                again.add((System.nanoTime() - t0) / 1e6);
            }
            System.out.println("RESULT re-apply an unchanged tenant: " + again.summary(" ms"));
            long dnsmasqKib = dnsmasqRssKib(dir);
            System.out.printf(Locale.ROOT, "RESULT memory per tenant: dnsmasq RSS %.1f MiB; host MemAvailable drop %.1f MiB "
                    + "per tenant (namespaces, bridges, veths, nft, dnsmasq; noisy)%n", dnsmasqKib / 1024.0 / tenants,
                    (memBefore - memAfter) / 1024.0 / tenants);

            // Throughput: external client -> public address:5201 -> DNAT -> VM, vs a plain bridge.
            TenantNetworking t0 = tenant(0, 0);
            String vm = vmNamespace(driver, t0, "vm-000000000000");
            String ext = externalClient(driver);
            String publicIp = t0.publicIp();
            double viaFirewall = iperf(vm, "10.0.0.2", ext, publicIp);
            double plain = plainBridgeIperf();
            System.out.printf(Locale.ROOT, "RESULT TCP external client -> VM through the firewall (DNAT): %.2f Gbit/s; "
                    + "same over a plain bridge: %.2f Gbit/s; ratio %.0f %%%n", viaFirewall, plain, 100 * viaFirewall / plain);

            // 1,000 rules in one tenant.
            long t1 = System.nanoTime();
            driver.applyTenant(tenant(0, 1000));
            double thousand = (System.nanoTime() - t1) / 1e6;
            long t2 = System.nanoTime();
            driver.applyTenant(tenant(0, 999));
            double change = (System.nanoTime() - t2) / 1e6;
            System.out.printf(Locale.ROOT, "RESULT apply 1,000 port forwards at once: %.0f ms; then remove one (whole ruleset "
                    + "re-applied atomically): %.0f ms%n", thousand, change);
        } finally {
            for (String t : made) driver.removeTenant(t);
            driver.removePublicNetwork();
            for (String ns : scratch) SH.run(List.of("ip", "netns", "del", ns), Duration.ofSeconds(10));
            SH.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    static TenantNetworking tenant(int i, int extraForwards) {
        String tenantId = String.format(Locale.ROOT, "tn-%012x", i);
        String vmId = String.format(Locale.ROOT, "vm-%012x", i);
        Network net = Network.of(String.format(Locale.ROOT, "net-%012x", i), "lan", "10.0.0.0/24");
        Nic nic = new Nic(vmId, net.id(), String.format(Locale.ROOT, "52:54:00:00:%02x:02", i), "10.0.0.2", "vm");
        List<PortForward> forwards = new ArrayList<>();
        forwards.add(new PortForward("fwr-5201", Protocol.TCP, 5201, vmId, net.id(), 5201, null));
        for (int k = 0; k < extraForwards; k++) {
            forwards.add(new PortForward(String.format(Locale.ROOT, "fwr-%012x", k), Protocol.TCP, 10000 + k, vmId, net.id(), 80, null));
        }
        return new TenantNetworking(tenantId, "198.18.0." + (10 + i), List.of(net), List.of(nic), List.of(), forwards,
                List.of(), List.of());
    }

    /** A namespace standing in for the VM: its eth0 is a veth put where the NIC's TAP would be. */
    static String vmNamespace(LinuxNetworkDriver driver, TenantNetworking t, String vmId) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        NicAttachment a = driver.nicAttachment(t, vmId, nic.networkId());
        String ns = P + "-vm";
        scratch.add(ns);
        SH.run(List.of("ip", "netns", "del", ns), Duration.ofSeconds(5));
        ok("ip", "netns", "add", ns);
        String tap = a.nic().tap();
        SH.run(List.of("ip", "-n", a.netns(), "link", "del", tap), Duration.ofSeconds(5));
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", driver.names().networkBridge(nic.networkId()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "1450", "up");
        ok("ip", "-n", ns, "addr", "add", nic.ip() + "/24", "dev", "eth0");
        ok("ip", "-n", ns, "route", "add", "default", "via", "10.0.0.1");
        ok("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    static String externalClient(LinuxNetworkDriver driver) {
        String ns = P + "-ext";
        scratch.add(ns);
        SH.run(List.of("ip", "netns", "del", ns), Duration.ofSeconds(5));
        ok("ip", "netns", "add", ns);
        ok("ip", "link", "add", P + "x0", "netns", ns, "type", "veth", "peer", "name", P + "x1", "netns",
                driver.names().publicNamespace());
        ok("ip", "-n", driver.names().publicNamespace(), "link", "set", P + "x1", "master", driver.names().publicBridge(), "up");
        ok("ip", "-n", ns, "addr", "add", "198.18.0.200/24", "dev", P + "x0");
        ok("ip", "-n", ns, "link", "set", P + "x0", "up");
        return ns;
    }

    /** Two namespaces on one plain bridge: the baseline path without a firewall. */
    static double plainBridgeIperf() throws Exception {
        String br = P + "-br", a = P + "-pa", b = P + "-pb";
        for (String ns : List.of(br, a, b)) {
            scratch.add(ns);
            SH.run(List.of("ip", "netns", "del", ns), Duration.ofSeconds(5));
            ok("ip", "netns", "add", ns);
        }
        ok("ip", "-n", br, "link", "add", "br0", "type", "bridge");
        ok("ip", "-n", br, "link", "set", "br0", "up");
        int n = 0;
        for (String ns : List.of(a, b)) {
            ok("ip", "link", "add", "p" + n, "netns", br, "type", "veth", "peer", "name", "eth0", "netns", ns);
            ok("ip", "-n", br, "link", "set", "p" + n, "master", "br0", "up");
            ok("ip", "-n", ns, "addr", "add", "10.9.0." + (n + 1) + "/24", "dev", "eth0");
            ok("ip", "-n", ns, "link", "set", "eth0", "up");
            n++;
        }
        return iperf(b, "10.9.0.2", a, "10.9.0.2");
    }

    /** Gbit/s of a 5 s iperf3 run from {@code clientNs} to {@code target}, with the server in {@code serverNs}. */
    static double iperf(String serverNs, String bind, String clientNs, String target) throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", serverNs, "iperf3", "-s", "-1", "-B", bind)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Thread.sleep(500);
            CommandResult r = SH.runChecked(List.of("ip", "netns", "exec", clientNs, "iperf3", "-c", target, "-t", "5",
                    "-f", "g"), Duration.ofSeconds(30));
            for (String line : r.stdout().split("\n")) {
                if (line.contains("receiver")) {
                    String[] f = line.trim().split("\\s+");
                    for (int i = 0; i < f.length; i++) if (f[i].equals("Gbits/sec")) return Double.parseDouble(f[i - 1]);
                }
            }
            throw new IllegalStateException("no iperf3 result in " + r.stdout());
        } finally {
            server.destroyForcibly();
        }
    }

    static long memAvailableKib() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return 0;
    }

    static long dnsmasqRssKib(Path dir) {
        long total = 0;
        for (ProcessHandle p : ProcessHandle.allProcesses().toList()) {
            String cmd = String.join(" ", p.info().arguments().orElse(new String[0]));
            if (p.info().command().orElse("").endsWith("dnsmasq") && cmd.contains(dir.toString())) {
                try {
                    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                        if (line.startsWith("VmRSS:")) total += Long.parseLong(line.replaceAll("[^0-9]", ""));
                    }
                } catch (Exception gone) {
                    // exited meanwhile
                }
            }
        }
        return total;
    }

    static void ok(String... argv) {
        SH.runChecked(List.of(argv), Duration.ofSeconds(20));
    }
}
