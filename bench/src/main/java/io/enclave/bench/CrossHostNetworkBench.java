package io.enclave.bench;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NicAttachment;
import io.enclave.agent.network.Underlay;
import io.enclave.core.network.HostRole;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
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
 * TCP throughput between two "VMs" of one tenant network on two simulated hosts (bench/network-crosshost.sh):
 * over the driver-built VXLAN (VM veth → bridge → VXLAN → underlay → VXLAN → bridge → VM veth) against
 * the same two hosts talking directly over the underlay. Hosts are namespaces {@code exbh1}/{@code exbh2}
 * with veths to a bridge in {@code exbdc} (10.97.0.0/24); the drivers use prefixes {@code exc}/{@code exd};
 * every name starts with "ex". Runs {@code runs} iperf3 runs of 5 s per path; prints medians and the ratio.
 */
public final class CrossHostNetworkBench {
    static final ProcessCommandRunner SH = new ProcessCommandRunner();
    static final Duration T = Duration.ofSeconds(20);
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");
    static final List<String> HOSTS = List.of("exbh1", "exbh2");
    static final List<String> UNDERLAY = List.of("10.97.0.1", "10.97.0.2");
    static final List<String> PREFIXES = List.of("exc", "exd");
    static final String DC = "exbdc";

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "exbench-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> namespaces = new ArrayList<>();
        List<LinuxNetworkDriver> drivers = new ArrayList<>();
        try {
            addNamespace(DC, namespaces);
            ok("ip", "-n", DC, "link", "add", "exbdcbr", "type", "bridge");
            ok("ip", "-n", DC, "link", "set", "exbdcbr", "up");
            for (int h = 0; h < 2; h++) {
                addNamespace(HOSTS.get(h), namespaces);
                ok("ip", "-n", DC, "link", "add", "exbdcp" + h, "type", "veth", "peer", "name", "exbu", "netns", HOSTS.get(h));
                ok("ip", "-n", DC, "link", "set", "exbdcp" + h, "master", "exbdcbr", "up");
                ok("ip", "-n", HOSTS.get(h), "link", "set", "exbu", "up");
                ok("ip", "-n", HOSTS.get(h), "addr", "add", UNDERLAY.get(h) + "/24", "dev", "exbu");
                LinuxNetworkDriver d = new LinuxNetworkDriver(SH, dir.resolve("host" + h), PREFIXES.get(h),
                        new Underlay(HOSTS.get(h), UNDERLAY.get(h), Underlay.VXLAN_PORT));
                drivers.add(d);
                d.ensurePublicNetwork(PUBLIC, List.of(UNDERLAY.get(1 - h)));
            }
            List<String> vms = new ArrayList<>();
            for (int h = 0; h < 2; h++) {
                TenantNetworking t = tenant(h);
                drivers.get(h).applyTenant(t);
                vms.add(vm(drivers.get(h), t, "vm-" + h, namespaces));
            }
            Stats overlay = new Stats();
            Stats direct = new Stats();
            for (int i = 0; i < runs; i++) {
                overlay.add(NetworkBench.iperf(vms.get(0), "10.0.0.10", vms.get(1), "10.0.0.10"));
                direct.add(NetworkBench.iperf(HOSTS.get(0), UNDERLAY.get(0), HOSTS.get(1), UNDERLAY.get(0)));
            }
            System.out.println("RESULT TCP VM -> VM on another host over the tenant VXLAN (MTU 1450), Gbit/s: "
                    + overlay.summary(""));
            System.out.println("RESULT TCP host -> host directly over the underlay (MTU 1500), Gbit/s: " + direct.summary(""));
            System.out.printf(Locale.ROOT, "RESULT median ratio VXLAN / underlay: %.0f %%%n",
                    100 * overlay.percentile(50) / direct.percentile(50));
        } finally {
            for (int h = 0; h < drivers.size(); h++) {
                drivers.get(h).removeTenant("exb-t");
                drivers.get(h).removePublicNetwork();
            }
            for (String ns : namespaces.reversed()) SH.run(List.of("ip", "netns", "del", ns), T);
            SH.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    /** One network (VNI 4097) with a VM on each host; the firewall on host 0. */
    static TenantNetworking tenant(int host) {
        return new TenantNetworking("exb-t", "198.18.0.10",
                List.of(new Network("net-b", "lan", "10.0.0.0/24", "10.0.0.1", Network.DEFAULT_MTU, 4097)),
                List.of(new Nic("vm-0", "net-b", "52:54:00:00:b0:00", "10.0.0.10", "a"),
                        new Nic("vm-1", "net-b", "52:54:00:00:b0:01", "10.0.0.11", "b")),
                List.of(), List.of(), List.of(), List.of())
                .withHostRole(new HostRole(host == 0, List.of(UNDERLAY.get(1 - host)), List.of(UNDERLAY.get(1 - host))));
    }

    /** A namespace standing in for the VM: its eth0 is a veth put where the NIC's TAP would be. */
    static String vm(LinuxNetworkDriver driver, TenantNetworking t, String vmId, List<String> namespaces) {
        Nic nic = t.nic(vmId, null).orElseThrow();
        NicAttachment a = driver.nicAttachment(t, vmId, nic.networkId());
        String ns = "exb-" + vmId;
        addNamespace(ns, namespaces);
        String tap = a.nic().tap();
        ok("ip", "-n", a.netns(), "link", "del", tap);
        ok("ip", "-n", a.netns(), "link", "add", tap, "mtu", "1450", "type", "veth", "peer", "name", "eth0", "netns", ns);
        ok("ip", "-n", a.netns(), "link", "set", tap, "master", driver.names().networkBridge(nic.networkId()), "up");
        ok("ip", "-n", ns, "link", "set", "eth0", "address", nic.mac(), "mtu", "1450", "up");
        ok("ip", "-n", ns, "addr", "add", nic.ip() + "/24", "dev", "eth0");
        return ns;
    }

    static void addNamespace(String ns, List<String> namespaces) {
        if (Files.exists(Path.of("/run/netns", ns))) ok("ip", "netns", "del", ns);  // left by an interrupted run
        ok("ip", "netns", "add", ns);
        namespaces.add(ns);
        ok("ip", "-n", ns, "link", "set", "lo", "up");
    }

    static void ok(String... argv) {
        SH.runChecked(List.of(argv), T);
    }
}
