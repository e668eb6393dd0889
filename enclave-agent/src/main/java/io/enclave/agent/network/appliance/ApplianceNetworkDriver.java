package io.enclave.agent.network.appliance;

import io.enclave.agent.fs.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessExit;
import io.enclave.agent.network.LinuxNetworkDriver;
import io.enclave.agent.network.NetNames;
import io.enclave.agent.network.NetworkDriver;
import io.enclave.agent.network.NftFirewall;
import io.enclave.agent.network.NftPortGuard;
import io.enclave.agent.network.NicAttachment;
import io.enclave.agent.network.Underlay;
import io.enclave.agent.network.VxlanPorts;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.GuestAgentClient;
import io.enclave.agent.qemu.QemuCommandLine;
import io.enclave.agent.qemu.QmpClient;
import io.enclave.agent.qemu.QmpException;
import io.enclave.agent.qemu.VmFiles;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.ExecResult;
import io.enclave.core.host.VmNic;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.network.HostRole;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenant networks with the VM-appliance form of the tenant firewall: the same {@link NetworkDriver} contract
 * and behaviour as {@link LinuxNetworkDriver}, but the firewall is a QEMU VM (image {@code images/firewall}:
 * busybox, nftables, dnsmasq, qemu-ga) instead of a network namespace.
 *
 * <p>Host side, per tenant: the tenant namespace with one bridge per network and the VMs' TAPs behind the
 * port guard, exactly as in the light form; the public namespace and bridge are the light driver's. The
 * appliance's QEMU runs in the tenant namespace and opens its TAPs there: {@code <p>l<net>} (port 1, one per
 * network, put on that network's bridge) and {@code <p>w<tenant>} (port 2), which is then moved into the public
 * namespace onto the public bridge. A TAP keeps working when moved (its file descriptor stays QEMU's); it is
 * not persistent, so it disappears with QEMU and a restarted appliance gets fresh ones. This needs no extra
 * veth or bridge in the path and no second namespace for QEMU.
 *
 * <p>Guest side: {@link ApplianceConfig} (addresses, route, {@code nft -f}, dnsmasq) pushed as one script
 * through the guest agent; unchanged configuration is detected by the hash the appliance recorded, so a
 * repeated apply costs one guest-agent exec. A restarted agent re-adopts a running appliance by its pidfile
 * (and the QEMU command line naming that pidfile).
 *
 * <p>A change of the set of networks does not restart the appliance: the NIC of an added network is hot-plugged
 * over QMP ({@code netdev_add} of its leg TAP, {@code device_add virtio-net-pci} with its MAC; ACPI hot-plug on
 * the {@code pc} machine's root bus, handled by the guest kernel's acpiphp), the NIC of a removed network is
 * unplugged ({@code device_del}, {@code DEVICE_DELETED}, {@code netdev_del}), and the guest configuration, which
 * finds interfaces by MAC, is pushed as for any change; flows on the other networks carry on. An MTU change of a
 * network replugs that network's NIC with the new {@code host_mtu} (see {@link #converge}). What is plugged is
 * read from QEMU on every apply (see {@link #converge}), so a restarted agent converges whatever step it stopped
 * at. The appliance is restarted only when hot-plug fails (logged with the reason) or when port 2 itself would
 * change.
 */
public final class ApplianceNetworkDriver implements NetworkDriver {
    private static final Logger log = LoggerFactory.getLogger(ApplianceNetworkDriver.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Path NETNS_DIR = Path.of("/run/netns");

    /**
     * What one apply did, for callers that measure (times in ms; {@code bootMs} is 0 if nothing booted,
     * {@code hotplugMs} is the check of a running appliance's NICs with any hot-plug or unplug until the guest
     * sees the change, 0 if the appliance was not running; {@code hotplugFailure} is why the running appliance's NICs
     * could not be changed in place, so that it was restarted, or null).
     */
    public record ApplyReport(boolean booted, long bootMs, boolean pushed, long configMs, long totalMs, long qemuPid, long hotplugMs,
            String hotplugFailure) {}

    private final CommandRunner runner;
    private final Path dir;
    private final NetNames names;
    private final LinuxNetworkDriver light;
    private final VxlanPorts vxlans;
    private final Path image;
    private final String qemuBinary;
    private final long memoryMib;
    private final int vcpus;
    private final Duration bootTimeout;
    private final int tbSizeMib = Integer.getInteger("enclave.appliance.tbSizeMib", 32);
    private static final Duration UNPLUG_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration GUEST_NIC_TIMEOUT = Duration.ofSeconds(20);
    /** False: a change of the set of networks restarts the appliance (the behaviour before hot-plug; for measurements). */
    private volatile boolean hotplug = !Boolean.getBoolean("enclave.appliance.noHotplug");
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private volatile PublicNetwork publicNetwork;

    /**
     * @param dir        data directory (tenants/{@code <tenant>}/ holds the appliance's files)
     * @param image      the built appliance image directory ({@code vmlinuz}, {@code initrd.img}, {@code disk.qcow2})
     * @param memoryMib  appliance memory (128-192 MiB is enough)
     */
    public ApplianceNetworkDriver(CommandRunner runner, Path dir, String namePrefix, Path image, String qemuBinary,
            long memoryMib, int vcpus, Duration bootTimeout) {
        this(runner, dir, namePrefix, image, qemuBinary, memoryMib, vcpus, bootTimeout, null);
    }

    /** @param underlay this host's underlay for VXLAN between hosts; null = single host */
    public ApplianceNetworkDriver(CommandRunner runner, Path dir, String namePrefix, Path image, String qemuBinary,
            long memoryMib, int vcpus, Duration bootTimeout, Underlay underlay) {
        this.runner = runner;
        this.dir = dir;
        this.names = new NetNames(namePrefix);
        this.light = new LinuxNetworkDriver(runner, dir.resolve("light"), namePrefix, underlay);
        this.vxlans = new VxlanPorts(runner, underlay);
        this.image = image;
        this.qemuBinary = qemuBinary;
        this.memoryMib = memoryMib;
        this.vcpus = vcpus;
        this.bootTimeout = bootTimeout;
        mkdirs(dir.resolve("tenants"));
    }

    public NetNames names() {
        return names;
    }

    /** Turns NIC hot-plug off (a change of the set of networks then restarts the appliance) or back on. */
    public void hotplug(boolean enabled) {
        hotplug = enabled;
    }

    /** Port 1 TAP of the appliance on a network (tenant namespace, on the network's bridge). */
    String legTap(String networkId) {
        return names.prefix() + "l" + tag(networkId);
    }

    /** Port 2 TAP of the appliance (public namespace, on the public bridge). */
    String wanTap(String tenantId) {
        return names.prefix() + "w" + tag(tenantId);
    }

    private static String tag(String id) {
        return ApplianceConfig.hash(id).substring(0, 10);
    }

    @Override
    public void ensurePublicNetwork(PublicNetwork network) {
        ensurePublicNetwork(network, null);
    }

    @Override
    public void ensurePublicNetwork(PublicNetwork network, List<String> publicPeers) {
        light.ensurePublicNetwork(network, publicPeers);
        publicNetwork = network;
    }

    @Override
    public void removePublicNetwork() {
        light.removePublicNetwork();
        publicNetwork = null;
    }

    @Override
    public void applyTenant(TenantNetworking tenant) {
        apply(tenant);
    }

    /**
     * {@link #applyTenant}, reporting what it did. On a host where the firewall does not run
     * ({@code hostRole.firewall() == false}) only the bridging part is built, exactly as the light driver
     * builds it (an appliance this host ran before is stopped).
     */
    public ApplyReport apply(TenantNetworking t) {
        PublicNetwork pub = publicNetwork;
        if (pub == null) throw new IllegalStateException("ensurePublicNetwork must come first");
        t.validate(pub);
        HostRole role = t.hostRole();
        vxlans.requireUnderlay(role);
        if (!role.firewall()) {
            long start = System.nanoTime();
            synchronized (locks.computeIfAbsent(t.tenantId(), k -> new Object())) {
                Path tdir = dir.resolve("tenants").resolve(t.tenantId());
                new Appliance(tdir.resolve("appliance")).stop();
                FileTrees.delete(tdir);
            }
            light.applyTenant(t);
            return new ApplyReport(false, 0, false, 0, (System.nanoTime() - start) / 1_000_000, -1, 0, null);
        }
        light.ensurePublicPeers(role.publicPeers());
        synchronized (locks.computeIfAbsent(t.tenantId(), k -> new Object())) {
            long start = System.nanoTime();
            Path tdir = dir.resolve("tenants").resolve(t.tenantId());
            mkdirs(tdir);
            String tns = names.tenantNamespace(t.tenantId());
            boolean fresh = !Files.exists(NETNS_DIR.resolve(tns));
            if (fresh) {
                runner.runChecked(List.of("ip", "netns", "add", tns), TIMEOUT);
                runner.runChecked(List.of("ip", "netns", "exec", tns, "sysctl", "-q", "-w",
                        "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"), TIMEOUT);
            }
            tenantSide(t, tns, fresh, tdir);
            // VXLANs join the same bridges as the appliance's port-1 TAPs, so VMs on other hosts reach its legs.
            Map<String, VxlanPorts.Device> haveVx = fresh ? Map.of() : vxlans.read(tns);
            List<VxlanPorts.Segment> segments = VxlanPorts.tenantSegments(t, names);
            if (!segments.isEmpty() || !haveVx.isEmpty()) vxlans.converge(tns, haveVx, segments, names::isVxlan, tdir.resolve("vxlan"));

            // The appliance: re-adopted if it runs; NICs of added/removed networks hot-plugged, restarted only if that fails.
            Appliance vm = new Appliance(tdir.resolve("appliance"));
            List<VmNic> nics = layout(t, pub);
            boolean booted = false;
            long bootMs = 0;
            long hotplugMs = 0;
            String failure = null;
            Optional<Long> pid = vm.pid();
            if (pid.isPresent()) {
                long h0 = System.nanoTime();
                failure = converge(t, vm, nics);
                hotplugMs = (System.nanoTime() - h0) / 1_000_000;
                if (failure != null) {
                    log.warn("tenant {}: appliance NICs not hot-plugged ({}), restarting the appliance", t.tenantId(), failure);
                    vm.stop();
                    pid = Optional.empty();
                }
            }
            if (pid.isEmpty()) {
                long b0 = System.nanoTime();
                vm.start(t, tns, nics);
                booted = true;
                pid = vm.pid();
                attachTaps(t, pub, tns, nics);
                vm.awaitAgent(bootTimeout);
                bootMs = (System.nanoTime() - b0) / 1_000_000;
                log.info("tenant {}: firewall appliance booted in {} ms (pid {})", t.tenantId(), bootMs, pid.orElse(-1L));
            } else {
                attachTaps(t, pub, tns, nics);
            }

            // Guest configuration: one read (applied hash + counters), one push if anything differs.
            long c0 = System.nanoTime();
            ExecResult state = vm.agent().exec(List.of("/bin/sh", "-c", "cat " + ApplianceConfig.APPLIED
                    + " 2>/dev/null; echo; " + IFNAMES + "; nft -j list counters table inet " + NftFirewall.TABLE + " 2>/dev/null"), TIMEOUT);
            String applied = state.stdout().lines().findFirst().orElse("").strip();
            Set<String> existing = counterValues(state.stdout()).keySet();
            List<String> macs = nics.stream().map(VmNic::mac).toList();
            Map<String, String> ifnames = ifnameByMac(state.stdout());
            if (!ifnames.keySet().containsAll(macs)) ifnames = vm.awaitGuestNics(macs, List.of(), GUEST_NIC_TIMEOUT);
            String script = ApplianceConfig.script(t, pub, macs, ifnames, existing);
            boolean pushed = false;
            if (!applied.equals(ApplianceConfig.appliedHash(script)) || !existing.equals(NftFirewall.counters(t))) {
                // counters that must go make a second pass needed (the script deletes them, then it is stable)
                writeString(tdir.resolve("appliance.sh"), script);
                ExecResult r = vm.agent().exec(List.of("/bin/sh", "-s"), script.getBytes(StandardCharsets.UTF_8), TIMEOUT);
                if (r.exitCode() != 0) {
                    throw new IllegalStateException("tenant " + t.tenantId() + ": appliance configuration failed (exit "
                            + r.exitCode() + (r.timedOut() ? ", timed out" : "") + "): " + r.stderr().strip());
                }
                pushed = true;
            }
            long configMs = (System.nanoTime() - c0) / 1_000_000;
            long totalMs = (System.nanoTime() - start) / 1_000_000;
            log.info("tenant {}: appliance network converged in {} ms (hot-plug {} ms, boot {} ms, config {} ms, pushed {})",
                    t.tenantId(), totalMs, hotplugMs, bootMs, configMs, pushed);
            return new ApplyReport(booted, bootMs, pushed, configMs, totalMs, pid.orElse(-1L), hotplugMs, failure);
        }
    }

    /**
     * The appliance's NICs: port 2 first (eth0 on the command line), then one per network in {@code networks()}
     * order, MACs and TAP names derived from the ids (so a NIC is the same NIC whether it was on the command line
     * or hot-plugged, and a restarted agent recognises it).
     */
    List<VmNic> layout(TenantNetworking t, PublicNetwork pub) {
        List<VmNic> nics = new ArrayList<>();
        nics.add(new VmNic("public", wanTap(t.tenantId()), mac(t.tenantId() + "/public"), pub.mtu()));
        for (Network n : t.networks()) nics.add(new VmNic(n.id(), legTap(n.id()), mac(t.tenantId() + "/" + n.id()), n.mtu()));
        return nics;
    }

    private static String mac(String seed) {
        String h = ApplianceConfig.hash(seed);
        return "02:e7:" + h.substring(0, 2) + ":" + h.substring(2, 4) + ":" + h.substring(4, 6) + ":" + h.substring(6, 8);
    }

    /**
     * Makes the running appliance's NICs those of {@code nics}: unplugs the NICs of removed networks
     * ({@code device_del}, {@code DEVICE_DELETED}, {@code netdev_del}) and plugs those of added ones
     * ({@code netdev_add} of the leg TAP, opened by QEMU in the tenant namespace, then {@code device_add
     * virtio-net-pci} with the NIC's MAC on a free slot of the i440fx root bus, which the guest kernel's acpiphp
     * handles), then waits until the guest has (or no longer has) those interfaces. What is plugged is read
     * from QEMU ({@code qom-list}/{@code qom-get}) each time, never assumed from the recorded layout, so an
     * agent that stopped half-way (after a {@code device_add}, before recording) converges on the next apply;
     * the layout file is rewritten after every step from QEMU's answer. Returns null when the appliance has
     * the wanted NICs, else why not (the caller restarts it). If QEMU cannot be asked what is plugged, the apply
     * fails instead: an unanswered QMP must not cost the tenant a firewall restart when nothing changed.
     */
    private String converge(TenantNetworking t, Appliance vm, List<VmNic> nics) {
        QmpClient.Session session;
        Map<String, PluggedNic> plugged;
        try {
            session = new QmpClient(vm.files.qmpSocket()).session();
        } catch (QmpException e) {
            throw new IllegalStateException("tenant " + t.tenantId() + ": cannot ask the appliance which NICs it has: " + e.getMessage(), e);
        }
        try (QmpClient.Session qmp = session) {
            try {
                plugged = plugged(qmp);
            } catch (QmpException e) {
                throw new IllegalStateException("tenant " + t.tenantId() + ": cannot ask the appliance which NICs it has: "
                        + e.getMessage(), e);
            }
            return converge(t, vm, nics, qmp, plugged);
        }
    }

    private String converge(TenantNetworking t, Appliance vm, List<VmNic> nics, QmpClient.Session qmp, Map<String, PluggedNic> plugged) {
        try {
            Map<String, VmNic> wanted = new LinkedHashMap<>();
            for (VmNic nic : nics) wanted.put(nic.mac(), nic);
            VmNic wan = nics.getFirst();
            PluggedNic wanNow = plugged.get(wan.mac());
            if (wanNow == null || wanNow.mtu() != wan.mtu()) return "port 2 NIC " + wan.mac() + " is not plugged as wanted: " + plugged.values();
            List<PluggedNic> remove = new ArrayList<>();
            for (PluggedNic p : plugged.values()) {
                VmNic w = wanted.get(p.mac());
                // An MTU change replugs the NIC rather than only pushing the new MTU to the guest: virtio-net caps the
                // guest's MTU at the host_mtu the device was created with, and QEMU cannot change host_mtu on a
                // plugged device, so a push alone would handle a decrease but never an increase.
                if (w == null || w.mtu() != p.mtu()) remove.add(p);
            }
            List<VmNic> add = new ArrayList<>();
            for (VmNic w : nics) {
                PluggedNic p = plugged.get(w.mac());
                if (p == null || remove.contains(p)) add.add(w);
            }
            vm.record(plugged.values());
            if (remove.isEmpty() && add.isEmpty()) return null;
            if (!hotplug) return "hot-plug disabled; NICs to add " + add + ", to remove " + remove;
            log.info("tenant {}: appliance NICs: hot-unplugging {}, hot-plugging {}", t.tenantId(),
                    remove.stream().map(PluggedNic::mac).toList(), add.stream().map(VmNic::mac).toList());
            for (PluggedNic p : remove) {
                try {
                    qmp.execute("device_del", Map.of("id", p.device()));
                    qmp.awaitEvent("DEVICE_DELETED", e -> p.device().equals(e.path("data").path("device").asText()), UNPLUG_TIMEOUT);
                    if (!p.netdev().isEmpty()) qmp.execute("netdev_del", Map.of("id", p.netdev()));
                } catch (QmpException e) {
                    throw new IllegalStateException("unplugging NIC " + p.mac() + " (device " + p.device() + "): " + e.getMessage(), e);
                }
                vm.record(plugged(qmp).values());
            }
            for (VmNic w : add) {
                String id = legDevice(w.networkId());
                try {
                    // A netdev of this leg without its NIC holds the TAP: left by an agent stopped between netdev_add and
                    // device_add, or between DEVICE_DELETED and netdev_del (same id whether plugged or on the command line).
                    qmp.execute("netdev_del", Map.of("id", legNetdev(w.networkId())));
                } catch (QmpException e) {
                    // normally there is none
                }
                try {
                    qmp.execute("netdev_add", Map.of("type", "tap", "id", legNetdev(w.networkId()), "ifname", w.tap(), "script", "no",
                            "downscript", "no"));
                    qmp.execute("device_add", Map.of("driver", "virtio-net-pci", "id", id, "netdev", legNetdev(w.networkId()), "mac",
                            w.mac(), "host_mtu", w.mtu()));
                } catch (QmpException e) {
                    throw new IllegalStateException("plugging the NIC of network " + w.networkId() + " (" + w.mac() + ", TAP " + w.tap()
                            + "): " + e.getMessage(), e);
                }
                vm.record(plugged(qmp).values());
            }
            vm.awaitGuestNics(add.stream().map(VmNic::mac).toList(),
                    remove.stream().map(PluggedNic::mac).filter(m -> !wanted.containsKey(m)).toList(), GUEST_NIC_TIMEOUT);
            return null;
        } catch (RuntimeException e) {
            return e.getMessage();
        }
    }

    /** QEMU device id of the appliance's NIC on a network (hot-plugged or on the command line). */
    static String legDevice(String networkId) {
        return "hp" + tag(networkId);
    }

    /** QEMU netdev id of that NIC's TAP backend. */
    static String legNetdev(String networkId) {
        return legDevice(networkId) + "n";
    }

    /** A virtio-net NIC plugged into the appliance, as QEMU reports it. */
    record PluggedNic(String mac, int mtu, String device, String netdev) {}

    /** The appliance's virtio-net NICs by MAC, from QEMU ({@code /machine/peripheral}: devices with an id). */
    private static Map<String, PluggedNic> plugged(QmpClient.Session qmp) {
        Map<String, PluggedNic> out = new LinkedHashMap<>();
        for (JsonNode child : qmp.execute("qom-list", Map.of("path", "/machine/peripheral"))) {
            if (!child.path("type").asText().equals("child<virtio-net-pci>")) continue;
            String path = "/machine/peripheral/" + child.path("name").asText();
            String mac = qmp.execute("qom-get", Map.of("path", path, "property", "mac")).asText();
            int mtu = qmp.execute("qom-get", Map.of("path", path, "property", "host_mtu")).asInt();
            String netdev = qmp.execute("qom-get", Map.of("path", path, "property", "netdev")).asText();
            out.put(mac, new PluggedNic(mac, mtu, child.path("name").asText(), netdev));
        }
        return out;
    }

    /** Guest shell: one line {@code if <name> <mac>} per interface. */
    private static final String IFNAMES = "for d in /sys/class/net/*; do echo \"if ${d##*/} $(cat $d/address)\"; done";

    /** mac → interface name from {@link #IFNAMES} lines (other lines ignored). */
    static Map<String, String> ifnameByMac(String output) {
        Map<String, String> out = new TreeMap<>();
        for (String line : output.lines().toList()) {
            String[] f = line.strip().split(" ");
            if (f.length == 3 && f[0].equals("if")) out.put(f[2], f[1]);
        }
        return out;
    }

    /** Bridges, VM TAPs and the port guard in the tenant namespace (as the light form has them, minus the firewall legs). */
    private void tenantSide(TenantNetworking t, String tns, boolean fresh, Path tdir) {
        Map<String, JsonNode> links = fresh ? Map.of() : links(tns);
        List<String> cmds = new ArrayList<>();
        if (fresh || !isUp(links.get("lo"))) cmds.add("link set lo up");
        Set<String> want = new TreeSet<>();
        for (Network n : t.networks()) {
            String br = names.networkBridge(n.id());
            want.add(br);
            want.add(legTap(n.id()));
            JsonNode b = links.get(br);
            if (b == null) cmds.add("link add " + br + " type bridge");
            if (b == null || b.path("mtu").asInt() != n.mtu() || !isUp(b)) cmds.add("link set " + br + " mtu " + n.mtu() + " up");
        }
        Map<Nic, String> ports = new LinkedHashMap<>();
        for (Nic nic : t.nics()) {
            Network n = t.network(nic.networkId()).orElseThrow();
            String tap = names.tap(nic.vmId(), n.id());
            String br = names.networkBridge(n.id());
            ports.put(nic, tap);
            want.add(tap);
            JsonNode l = links.get(tap);
            if (l == null) cmds.add("tuntap add mode tap name " + tap);
            if (l == null || !br.equals(l.path("master").asText()) || l.path("mtu").asInt() != n.mtu() || !isUp(l)) {
                cmds.add("link set " + tap + " master " + br + " mtu " + n.mtu() + " up");
            }
        }
        List<String> del = new ArrayList<>();
        for (String name : links.keySet()) {
            if (want.contains(name)) continue;
            if (names.isTap(name) || names.isBridge(name)) del.add("link del " + name);
        }
        del.addAll(cmds);
        batch(tns, del, tdir.resolve("tenant.ip"));
        String guard = NftPortGuard.script(ports, names.prefix() + "t*");
        Path guardFile = tdir.resolve("ports.nft");
        if (fresh || !guard.equals(read(guardFile))) {
            writeString(guardFile, guard);
            runner.runChecked(List.of("ip", "netns", "exec", tns, "nft", "-f", guardFile.toString()), TIMEOUT);
        }
    }

    /** Legs on their bridges; port 2 moved to the public namespace onto the public bridge. Idempotent. */
    private void attachTaps(TenantNetworking t, PublicNetwork pub, String tns, List<VmNic> nics) {
        String pns = names.publicNamespace();
        Map<String, JsonNode> tl = links(tns);
        List<String> tcmds = new ArrayList<>();
        for (int i = 1; i < nics.size(); i++) {
            VmNic nic = nics.get(i);
            String br = names.networkBridge(nic.networkId());
            JsonNode l = tl.get(nic.tap());
            if (l == null) throw new IllegalStateException("appliance TAP " + nic.tap() + " missing in " + tns);
            if (!br.equals(l.path("master").asText()) || l.path("mtu").asInt() != nic.mtu() || !isUp(l)) {
                tcmds.add("link set " + nic.tap() + " master " + br + " mtu " + nic.mtu() + " up");
            }
        }
        String wan = nics.getFirst().tap();
        if (tl.containsKey(wan)) tcmds.add("link set " + wan + " netns " + pns);
        batch(tns, tcmds, null);
        JsonNode w = links(pns).get(wan);
        if (w == null) throw new IllegalStateException("appliance TAP " + wan + " is in neither " + tns + " nor " + pns);
        if (!names.publicBridge().equals(w.path("master").asText()) || w.path("mtu").asInt() != pub.mtu() || !isUp(w)) {
            batch(pns, List.of("link set " + wan + " master " + names.publicBridge() + " mtu " + pub.mtu() + " up"), null);
        }
    }

    @Override
    public void removeTenant(String tenantId) {
        synchronized (locks.computeIfAbsent(tenantId, k -> new Object())) {
            Path tdir = dir.resolve("tenants").resolve(tenantId);
            new Appliance(tdir.resolve("appliance")).stop();
            // The bridging part (VXLANs first), and what a non-firewall role left under the light driver's directory.
            light.removeTenant(tenantId);
            FileTrees.delete(tdir);
            log.info("tenant {}: network and firewall appliance removed", tenantId);
        }
        locks.remove(tenantId);
    }

    @Override
    public Map<String, RuleCounter> ruleCounters(String tenantId) {
        Appliance vm = new Appliance(dir.resolve("tenants").resolve(tenantId).resolve("appliance"));
        if (vm.pid().isEmpty()) throw new EnclaveException.NotFound("tenant firewall appliance", tenantId);
        ExecResult r = vm.agent().exec(List.of("/usr/sbin/nft", "-j", "list", "counters", "table", "inet", NftFirewall.TABLE), TIMEOUT);
        if (r.exitCode() != 0) throw new IllegalStateException("nft list counters in the appliance: " + r.stderr().strip());
        Map<String, RuleCounter> out = new TreeMap<>();
        counterValues(r.stdout()).forEach((name, c) -> out.put(NftFirewall.ruleIdOf(name),
                new RuleCounter(NftFirewall.ruleIdOf(name), c[0], c[1])));
        return out;
    }

    @Override
    public NicAttachment nicAttachment(TenantNetworking tenant, String vmId, String networkId) {
        Nic nic = tenant.nic(vmId, networkId).orElseThrow(() -> new EnclaveException.NotFound("NIC", vmId + "/" + networkId));
        Network net = tenant.network(nic.networkId()).orElseThrow();
        return new NicAttachment(tenant.tenantId(), names.tenantNamespace(tenant.tenantId()),
                new VmNic(net.id(), names.tap(vmId, net.id()), nic.mac(), net.mtu()));
    }

    /** The appliance's QEMU pid, if it runs. */
    public Optional<Long> appliancePid(String tenantId) {
        return new Appliance(dir.resolve("tenants").resolve(tenantId).resolve("appliance")).pid();
    }

    /** The MACs of the NICs plugged into the running appliance, as QEMU reports them (for tests and diagnostics). */
    public List<String> applianceNicMacs(String tenantId) {
        Appliance vm = new Appliance(dir.resolve("tenants").resolve(tenantId).resolve("appliance"));
        if (vm.pid().isEmpty()) throw new EnclaveException.NotFound("tenant firewall appliance", tenantId);
        try (QmpClient.Session qmp = new QmpClient(vm.files.qmpSocket()).session()) {
            return List.copyOf(plugged(qmp).keySet());
        }
    }

    /** The appliance's guest agent (for tests and diagnostics). */
    public GuestAgentClient applianceAgent(String tenantId) {
        return new Appliance(dir.resolve("tenants").resolve(tenantId).resolve("appliance")).agent();
    }

    // ---------------------------------------------------------------- the appliance VM

    /** One appliance's QEMU process and files, all under {@code dir}. */
    private final class Appliance {
        final VmFiles files;

        Appliance(Path dir) {
            this.files = new VmFiles(dir);
        }

        Path layoutFile() {
            return files.dir().resolve("layout");
        }

        GuestAgentClient agent() {
            return new GuestAgentClient(files.guestAgentSocket());
        }

        /** The pid if alive and that process's command line names our pidfile (pids get reused). */
        Optional<Long> pid() {
            try {
                if (!Files.exists(files.pidFile())) return Optional.empty();
                long pid = Long.parseLong(Files.readString(files.pidFile()).strip());
                Path cmdline = Path.of("/proc", Long.toString(pid), "cmdline");
                if (!Files.exists(cmdline)) return Optional.empty();
                String args = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
                return args.contains(files.pidFile().toString()) ? Optional.of(pid) : Optional.empty();
            } catch (IOException | NumberFormatException e) {
                return Optional.empty();
            }
        }

        void start(TenantNetworking t, String tns, List<VmNic> nics) {
            if (files.dir().toString().length() > VmFiles.MAX_DIR_LENGTH) {
                throw new IllegalStateException("appliance directory too long for unix sockets: " + files.dir());
            }
            FileTrees.delete(files.dir());
            mkdirs(files.dir());
            runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", image.resolve("disk.qcow2").toString(),
                    "-F", "qcow2", files.disk().toString()), TIMEOUT);
            BootImage boot = new BootImage(image.resolve("disk.qcow2").toString(), "qcow2", image.resolve("vmlinuz").toString(),
                    image.resolve("initrd.img").toString(), "console=ttyS0 root=/dev/vda rw quiet", true);
            VmRuntimeSpec spec = new VmRuntimeSpec("fw-" + t.tenantId(), t.tenantId(), "firewall", vcpus, memoryMib, 1, boot,
                    nics, tns);
            List<String> argv = new ArrayList<>(QemuCommandLine.build(qemuBinary, spec, files, Accelerator.TCG));
            // TCG's translation cache defaults to 1 GiB and is touched as it fills: cap it (see docs/network.md).
            if (tbSizeMib > 0) argv.set(argv.indexOf("-accel") + 1, "tcg,tb-size=" + tbSizeMib);
            // QemuCommandLine names NIC i "nic<i>" on netdev "net<i>"; the legs get the ids a hot-plugged leg gets, so a
            // leftover netdev of a leg is found by its network whichever way the NIC came.
            List<PluggedNic> layout = new ArrayList<>();
            layout.add(new PluggedNic(nics.getFirst().mac(), nics.getFirst().mtu(), "nic0", "net0"));
            for (int i = 1; i < nics.size(); i++) {
                String net = nics.get(i).networkId();
                replaceArg(argv, "tap,id=net" + i + ",", "tap,id=" + legNetdev(net) + ",");
                replaceArg(argv, "virtio-net-pci,netdev=net" + i + ",id=nic" + i + ",",
                        "virtio-net-pci,netdev=" + legNetdev(net) + ",id=" + legDevice(net) + ",");
                layout.add(new PluggedNic(nics.get(i).mac(), nics.get(i).mtu(), legDevice(net), legNetdev(net)));
            }
            record(layout);
            runner.runChecked(argv, TIMEOUT);
        }

        private static void replaceArg(List<String> argv, String prefix, String replacement) {
            for (int j = 0; j < argv.size(); j++) {
                if (argv.get(j).startsWith(prefix)) {
                    argv.set(j, replacement + argv.get(j).substring(prefix.length()));
                    return;
                }
            }
            throw new IllegalStateException("QEMU command line has no argument starting " + prefix + " (QemuCommandLine changed?)");
        }

        /** Records what is plugged (one line per NIC: mac, MTU, QEMU device id, netdev id); for people and logs. */
        void record(java.util.Collection<PluggedNic> nics) {
            StringBuilder b = new StringBuilder();
            for (PluggedNic n : nics) b.append(n.mac()).append(' ').append(n.mtu()).append(' ').append(n.device()).append(' ')
                    .append(n.netdev()).append('\n');
            writeString(layoutFile(), b.toString());
        }

        /**
         * Waits until the guest has an interface for every MAC of {@code present} and none for {@code absent};
         * returns the guest's mac → interface name.
         */
        Map<String, String> awaitGuestNics(List<String> present, List<String> absent, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                ExecResult r = agent().exec(List.of("/bin/sh", "-c", IFNAMES), TIMEOUT);
                Map<String, String> names = ifnameByMac(r.stdout());
                if (names.keySet().containsAll(present) && absent.stream().noneMatch(names::containsKey)) return names;
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the appliance's guest did not see its NICs change within " + timeout.toSeconds()
                            + " s (wanted " + present + ", gone " + absent + ", has " + names + ")");
                }
                sleep(100);
            }
        }

        void awaitAgent(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            GuestAgentClient qga = agent();
            while (!qga.ping(Duration.ofMillis(500))) {
                if (pid().isEmpty()) throw new IllegalStateException("appliance QEMU exited; see " + files.qemuLog());
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("appliance guest agent not up within " + timeout.toSeconds() + " s");
                }
                sleep(200);
            }
        }

        void stop() {
            Optional<Long> pid = pid();
            if (pid.isEmpty()) return;
            try {
                new QmpClient(files.qmpSocket()).execute("quit");
            } catch (RuntimeException e) {
                log.info("appliance {}: QMP quit failed ({}), killing", files.dir(), e.getMessage());
            }
            ProcessHandle.of(pid.get()).ifPresent(h -> {
                if (!ProcessExit.await(h, Duration.ofSeconds(5))) {
                    h.destroyForcibly();
                    // If it is still there, the pid check of the next start reports it.
                    ProcessExit.await(h, Duration.ofSeconds(5));
                }
            });
        }
    }

    // ---------------------------------------------------------------- helpers

    /** name → {packets, bytes} from {@code nft -j list counters} output (other lines ignored). */
    static Map<String, long[]> counterValues(String output) {
        Map<String, long[]> out = new TreeMap<>();
        for (String line : output.lines().toList()) {
            if (!line.startsWith("{")) continue;
            try {
                for (JsonNode item : JSON.readTree(line).path("nftables")) {
                    JsonNode c = item.get("counter");
                    if (c != null) out.put(c.path("name").asText(), new long[] {c.path("packets").asLong(), c.path("bytes").asLong()});
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot parse nft -j output: " + e.getMessage(), e);
            }
        }
        return out;
    }

    private Map<String, JsonNode> links(String ns) {
        String out = runner.runChecked(List.of("ip", "-n", ns, "-j", "-d", "link", "show"), TIMEOUT).stdout();
        Map<String, JsonNode> links = new HashMap<>();
        try {
            for (JsonNode l : JSON.readTree(out.isBlank() ? "[]" : out)) links.put(l.path("ifname").asText(), l);
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse ip -j output of " + ns + ": " + e.getMessage(), e);
        }
        return links;
    }

    private static boolean isUp(JsonNode link) {
        if (link == null) return false;
        for (JsonNode f : link.path("flags")) if (f.asText().equals("UP")) return true;
        return false;
    }

    private void batch(String ns, List<String> cmds, Path file) {
        if (cmds.isEmpty()) return;
        try {
            Path f = file != null ? file : Files.createTempFile(dir, "batch", ".ip");
            Files.writeString(f, String.join("\n", cmds) + "\n");
            List<String> argv = new ArrayList<>(List.of("ip"));
            if (ns != null) argv.addAll(List.of("-n", ns));
            argv.addAll(List.of("-b", f.toString()));
            try {
                runner.runChecked(argv, TIMEOUT);
            } finally {
                if (file == null) Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot write an ip batch: " + e.getMessage(), e);
        }
    }

    private static String read(Path p) {
        try {
            return Files.exists(p) ? Files.readString(p) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void writeString(Path p, String s) {
        try {
            Files.writeString(p, s);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + p + ": " + e.getMessage(), e);
        }
    }

    private static void mkdirs(Path p) {
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + p + ": " + e.getMessage(), e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** Port 2 TAPs ({@link #wanTap}) of this host's appliances go down. */
    @Override
    public List<String> isolateFirewalls() {
        return io.enclave.agent.network.PublicFence.isolate(runner, names, 'w');
    }

}
