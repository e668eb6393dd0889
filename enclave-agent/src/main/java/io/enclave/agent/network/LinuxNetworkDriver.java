package io.enclave.agent.network;

import io.enclave.agent.fs.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessExit;
import io.enclave.agent.network.kernel.NetNamespaces;
import io.enclave.agent.network.kernel.Nftables;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.VmNic;
import io.enclave.core.network.Cidr;
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
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenant networks and the light firewall with network namespaces, bridges, veths, TAPs, nftables and
 * dnsmasq (see docs/network.md for the picture). Every call reads what exists first and issues only the
 * commands that close the gap, batched per namespace ({@code ip -n NS -b FILE}); nothing is kept in
 * memory but the public network's description, so a restarted agent converges from the same input.
 *
 * <p>Files live under {@code dir}: {@code tenants/<tenantId>/} holds the applied nft scripts, the ip
 * batches of the last change and one {@code dns/<networkId>/} directory per dnsmasq (config, static
 * leases, names, lease file, pid file, log). dnsmasq drops to user nobody, so these directories are
 * world-readable and {@code dir}'s parents must be traversable.
 */
public final class LinuxNetworkDriver implements NetworkDriver {
    private static final Logger log = LoggerFactory.getLogger(LinuxNetworkDriver.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path NETNS_DIR = Path.of("/run/netns");
    private static final String NO_IPV6_ALL = "net.ipv6.conf.all.disable_ipv6=1";
    private static final String NO_IPV6_DEFAULT = "net.ipv6.conf.default.disable_ipv6=1";
    private static final String IP_FORWARD = "net.ipv4.ip_forward=1";

    private final CommandRunner runner;
    private final NetNamespaces netns;
    private final Nftables nft;
    private final Path dir;
    private final NetNames names;
    private final VxlanPorts vxlans;
    private final PublicUplink uplink;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private volatile PublicNetwork publicNetwork;
    /** The public VXLAN's peers as last converged; null = not known (read the kernel on the next change). */
    private volatile Set<String> publicPeers;

    /**
     * One link as {@code ip -j -d addr show} reports it; {@code addrs} are "a.b.c.d/len"; {@code vxlan} is
     * set for VXLAN devices only.
     */
    record Link(String name, String kind, String master, int mtu, boolean up, String mac, Set<String> addrs, VxlanPorts.Device vxlan) {}

    /** A driver for a single host: tenants never span hosts, no VXLAN is ever created. */
    public LinuxNetworkDriver(CommandRunner runner, Path dir, String namePrefix) {
        this(runner, dir, namePrefix, null);
    }

    /** @param underlay this host's underlay for VXLAN between hosts; null = single host (no VXLAN) */
    public LinuxNetworkDriver(CommandRunner runner, Path dir, String namePrefix, Underlay underlay) {
        this.runner = runner;
        this.netns = new NetNamespaces(runner);
        this.nft = new Nftables(netns);
        this.dir = dir;
        this.names = new NetNames(namePrefix);
        this.vxlans = new VxlanPorts(runner, underlay);
        mkdirs(dir.resolve("tenants"));
        this.uplink = new PublicUplink(runner, names, underlay, dir.resolve("public-uplink"));
    }

    public NetNames names() {
        return names;
    }

    // ---------------------------------------------------------------- public network

    /** The public network, its VXLAN as it is (see {@link #ensurePublicNetwork(PublicNetwork, List)}). */
    @Override
    public void ensurePublicNetwork(PublicNetwork pub) {
        ensurePublicNetwork(pub, null);
    }

    /**
     * @param publicPeers underlay addresses of the other hosts: the public bridge gets a VXLAN (VNI
     *                    {@link PublicNetwork#VNI}) flooding to exactly these; empty = no VXLAN; null = leave the
     *                    VXLAN as it is (it also follows {@link HostRole#publicPeers()} given to applyTenant).
     *                    With an uplink there is never a public VXLAN.
     */
    @Override
    public synchronized void ensurePublicNetwork(PublicNetwork pub, List<String> publicPeers) {
        pub.validate();
        if (publicPeers != null) vxlans.requireUnderlay(new HostRole(true, List.of(), publicPeers));
        String ns = names.publicNamespace();
        boolean fresh = !netns.exists(ns);
        if (fresh) netns.create(ns, List.of(NO_IPV6_ALL, NO_IPV6_DEFAULT));
        Map<String, Link> links = links(ns);
        uplink.requireAvailable(pub.uplink(), links);
        String br = names.publicBridge();
        Link b = links.get(br);
        boolean anycastGateway = pub.uplink() == null;
        List<String> cmds = new ArrayList<>();
        // Without an uplink every host's bridge is the gateway, with one MAC (see PublicGateway). With an uplink
        // the bridge has no address and sends nothing, so its MAC is left as it is (one MAC on many hosts of a
        // provider's real network would make its switches flap).
        if (b == null) cmds.add("link add " + br + (anycastGateway ? " address " + PublicGateway.MAC : "") + " type bridge");
        else if (anycastGateway && !PublicGateway.MAC.equalsIgnoreCase(b.mac())) cmds.add("link set " + br + " address " + PublicGateway.MAC);
        if (b == null || b.mtu() != pub.mtu() || !b.up()) cmds.add("link set " + br + " mtu " + pub.mtu() + " up");
        // Without an uplink the bridge stands in for the gateway; with one, the provider's router is the gateway.
        addresses(cmds, br, b, pub.uplink() == null ? Set.of(pub.gateway() + "/" + pub.parsedCidr().prefixLength()) : Set.of());
        batch(ns, cmds, dir.resolve("public.ip"));
        String gatewayTable = PublicGateway.script(names.publicVxlan());
        if (anycastGateway && (fresh || !gatewayTable.equals(read(dir.resolve("public-gateway.nft")))
                || nft.json(ns, "list table bridge " + PublicGateway.TABLE).isEmpty())) {
            applyNft(ns, dir.resolve("public-gateway.nft"), gatewayTable);
        }
        uplink.converge(pub.uplink(), pub.mtu(), links);
        // With an uplink any public VXLAN goes, even when no peers are given (see convergePublicVxlan).
        if (publicPeers != null || pub.uplink() != null) {
            convergePublicVxlan(pub, vxlanDevices(links), publicPeers == null ? List.of() : publicPeers);
        }
        publicNetwork = pub;
    }

    /** The public bridge's VXLAN with flood entries to exactly {@code peers} (none: no VXLAN). */
    private synchronized void convergePublicVxlan(PublicNetwork pub, Map<String, VxlanPorts.Device> have, List<String> peers) {
        String vx = names.publicVxlan();
        // With an uplink the provider's network joins the hosts' public bridges; a VXLAN as well would make a loop.
        if (pub.uplink() != null && !peers.isEmpty()) {
            log.info("public network has uplink {}: no public VXLAN to {} (the uplink's network joins the hosts)", pub.uplink(), peers);
        }
        List<VxlanPorts.Segment> wanted = peers.isEmpty() || pub.uplink() != null ? List.of()
                : List.of(new VxlanPorts.Segment(vx, names.publicBridge(), PublicNetwork.VNI, pub.mtu(), peers));
        vxlans.converge(names.publicNamespace(), have, wanted, vx::equals, dir.resolve("public-vxlan"));
        publicPeers = Set.copyOf(peers);
    }

    /**
     * Converges the public VXLAN to {@code publicPeers} unless that list is empty or is what was converged
     * last (in this process: a restarted agent reads the kernel once). What applyTenant does with
     * {@link HostRole#publicPeers()}; for the appliance form too.
     */
    public void ensurePublicPeers(List<String> peers) {
        if (peers.isEmpty() || Set.copyOf(peers).equals(publicPeers)) return;
        synchronized (this) {
            PublicNetwork pub = publicNetwork;
            if (pub == null) throw new IllegalStateException("ensurePublicNetwork must come first");
            convergePublicVxlan(pub, vxlans.read(names.publicNamespace()), peers);
        }
    }

    @Override
    public synchronized void removePublicNetwork() {
        String ns = names.publicNamespace();
        if (Files.exists(NETNS_DIR.resolve(ns))) {
            Map<String, Link> links = links(ns);
            // Deleting the namespace would destroy a virtual uplink and send a physical one to the init namespace.
            uplink.releaseAll(links);
            // Explicitly: a namespace is torn down asynchronously, and its VXLAN would hold VNI 1 in the underlay meanwhile.
            vxlans.converge(ns, vxlanDevices(links), List.of(), names.publicVxlan()::equals, dir.resolve("public-vxlan"));
        }
        deleteNamespace(ns);
        publicNetwork = null;
        publicPeers = null;
    }

    private static Map<String, VxlanPorts.Device> vxlanDevices(Map<String, Link> links) {
        Map<String, VxlanPorts.Device> out = new LinkedHashMap<>();
        for (Link l : links.values()) if (l.vxlan() != null) out.put(l.name(), l.vxlan());
        return out;
    }

    // ---------------------------------------------------------------- tenants

    /**
     * Converges the tenant on this host. With {@code hostRole.firewall() == false} only the tenant namespace
     * is built (bridges, VM ports, port guard, VXLANs); a firewall this host ran before is removed. With
     * {@code hostRole.peers()} non-empty each network's bridge gets a VXLAN to those hosts.
     */
    @Override
    public void applyTenant(TenantNetworking t) {
        PublicNetwork pub = publicNetwork;
        if (pub == null) throw new IllegalStateException("ensurePublicNetwork must come first");
        t.validate(pub);
        HostRole role = t.hostRole();
        vxlans.requireUnderlay(role);
        boolean firewall = role.firewall();
        ensurePublicPeers(role.publicPeers());
        synchronized (lock(t.tenantId())) {
            long start = System.nanoTime();
            Path tdir = tenantDir(t.tenantId());
            mkdirs(tdir);
            String tns = names.tenantNamespace(t.tenantId());
            String fns = names.firewallNamespace(t.tenantId());
            String pns = names.publicNamespace();

            boolean firewallExists = Files.exists(NETNS_DIR.resolve(fns));
            int changes = 0;
            if (!firewall && firewallExists) {
                removeFirewall(t.tenantId(), tdir);
                changes++;
            }

            // Namespaces, sysctls and nftables are done from this process (no process start); links go
            // in one ip process per namespace, dnsmasq in one more. Process starts dominate the time of a
            // change, so reads are skipped for namespaces that were just created.
            boolean tenantFresh = !Files.exists(NETNS_DIR.resolve(tns));
            boolean firewallFresh = firewall && !firewallExists;
            if (tenantFresh) netns.create(tns, List.of(NO_IPV6_ALL, NO_IPV6_DEFAULT));
            if (firewallFresh) netns.create(fns, List.of(NO_IPV6_ALL, NO_IPV6_DEFAULT, IP_FORWARD));
            if (tenantFresh) changes++;
            if (firewallFresh) changes++;

            boolean readFirewall = firewall && !firewallFresh;
            FirewallState fwState = readFirewall ? firewallState(fns, tdir) : new FirewallState(Map.of(), null);
            Map<String, Link> fw = fwState.links();
            Map<String, Link> tn = tenantFresh ? Map.of() : links(tns);
            // A fresh firewall namespace means its veth pairs (and their public ends) are gone too.
            Map<String, Link> pb = readFirewall ? links(pns) : Map.of();
            List<String> fwDel = new ArrayList<>();
            List<String> fwCmds = new ArrayList<>();
            List<String> tnDel = new ArrayList<>();
            List<String> tnCmds = new ArrayList<>();
            List<String> pbCmds = new ArrayList<>();

            // Port 2: a veth from the public bridge to the firewall, with the tenant's public addresses.
            String wan = names.firewallWan();
            Link w = fw.get(wan);
            if (firewall) {
                Link lo = fw.get("lo");
                if (lo == null || !lo.up()) fwCmds.add("link set lo up");
                String publicPort = names.publicPort(t.tenantId());
                String pubBridge = names.publicBridge();
                int pubMtu = pub.mtu();
                if (w == null) {
                    pbCmds.add("link add " + publicPort + " mtu " + pubMtu + " master " + pubBridge + " up type veth peer name "
                            + wan + " mtu " + pubMtu + " netns " + fns);
                } else {
                    Link pp = pb.get(publicPort);
                    if (pp == null || !pubBridge.equals(pp.master()) || pp.mtu() != pubMtu || !pp.up()) {
                        pbCmds.add("link set " + publicPort + " master " + pubBridge + " mtu " + pubMtu + " up");
                    }
                }
                if (w == null || w.mtu() != pubMtu || !w.up()) fwCmds.add("link set " + wan + " mtu " + pubMtu + " up");
                Set<String> wanAddrs = new LinkedHashSet<>();
                wanAddrs.add(t.publicIp() + "/" + pub.parsedCidr().prefixLength());
                t.oneToOneNats().forEach(n -> wanAddrs.add(n.publicIp() + "/32"));
                addresses(fwCmds, wan, w, wanAddrs);
            }

            // Port 1: per network a bridge in the tenant namespace and (where the firewall runs) a veth to
            // the firewall (the gateway).
            Map<String, String> legs = new LinkedHashMap<>();
            Set<String> freshLegs = new HashSet<>();
            Set<String> wantTn = new HashSet<>();
            Set<String> wantFw = new HashSet<>(Set.of("lo", wan));
            for (Network n : t.networks()) {
                String br = names.networkBridge(n.id());
                int mtu = n.mtu();
                wantTn.add(br);
                Link b = tn.get(br);
                if (b == null) tnCmds.add("link add " + br + " type bridge");
                if (b == null || b.mtu() != mtu || !b.up()) tnCmds.add("link set " + br + " mtu " + mtu + " up");
                if (!firewall) continue;
                String g = names.gatewayPort(n.id());
                String leg = names.firewallLeg(n.id());
                legs.put(n.id(), leg);
                wantTn.add(g);
                wantFw.add(leg);
                Link l = fw.get(leg);
                if (l == null) {
                    freshLegs.add(n.id());
                    if (tn.containsKey(g)) tnDel.add("link del " + g);
                    tnCmds.add("link add " + g + " mtu " + mtu + " master " + br + " up type veth peer name " + leg
                            + " mtu " + mtu + " netns " + fns);
                } else {
                    Link gl = tn.get(g);
                    if (gl == null || !br.equals(gl.master()) || gl.mtu() != mtu || !gl.up()) {
                        tnCmds.add("link set " + g + " master " + br + " mtu " + mtu + " up");
                    }
                }
                if (l == null || l.mtu() != mtu || !l.up()) fwCmds.add("link set " + leg + " mtu " + mtu + " up");
                addresses(fwCmds, leg, l, Set.of(n.gateway() + "/" + Cidr.parse(n.cidr()).prefixLength()));
            }

            // VM ports: a persistent TAP per NIC on its network's bridge.
            Map<Nic, String> ports = new LinkedHashMap<>();
            for (Nic nic : t.nics()) {
                Network n = t.network(nic.networkId()).orElseThrow();
                String tap = names.tap(nic.vmId(), n.id());
                String br = names.networkBridge(n.id());
                ports.put(nic, tap);
                wantTn.add(tap);
                Link l = tn.get(tap);
                if (l == null) tnCmds.add("tuntap add mode tap name " + tap);
                if (l == null || !br.equals(l.master()) || l.mtu() != n.mtu() || !l.up()) {
                    tnCmds.add("link set " + tap + " master " + br + " mtu " + n.mtu() + " up");
                }
            }

            // What is ours but no longer wanted goes (a veth takes its peer with it; VXLANs are converged below).
            for (Link l : fw.values()) {
                if (!wantFw.contains(l.name()) && names.isFirewallLeg(l.name())) fwDel.add("link del " + l.name());
            }
            for (Link l : tn.values()) {
                String name = l.name();
                if (wantTn.contains(name)) continue;
                if (names.isTap(name) || names.isBridge(name)) tnDel.add("link del " + name);
                if (names.isGatewayPort(name)) {
                    String leg = names.prefix() + "n" + name.substring(names.prefix().length() + 1);
                    if (!fw.containsKey(leg)) tnDel.add("link del " + name);
                }
            }

            // The firewall's default route: the public network's gateway.
            if (firewall && (w == null || !pub.gateway().equals(fwState.gateway()))) {
                fwCmds.add("route replace default via " + pub.gateway() + " dev " + wan);
            }

            List<String> tnAll = new ArrayList<>(tnDel);
            tnAll.addAll(tnCmds);
            List<String> fwAll = new ArrayList<>(fwDel);
            fwAll.addAll(fwCmds);
            changes += pbCmds.size() + tnAll.size() + fwAll.size();
            batch(pns, pbCmds, tdir.resolve("public.ip"));
            batch(tns, tnAll, tdir.resolve("tenant.ip"));
            batch(fns, fwAll, tdir.resolve("firewall.ip"));

            // VXLANs: after the bridges they join.
            Map<String, VxlanPorts.Device> haveVx = vxlanDevices(tn);
            if (!role.peers().isEmpty() || !haveVx.isEmpty()) {
                changes += vxlans.converge(tns, haveVx, VxlanPorts.tenantSegments(t, names), names::isVxlan, tdir.resolve("vxlan"));
            }

            // Firewall rules (atomically; counters of unchanged rules keep counting) and the port guard, each
            // script kept in the tenant's directory once applied; then dnsmasq, one ip process for all networks.
            if (firewall) {
                Set<String> existing = firewallFresh ? Set.of() : counterValues(fns).keySet();
                String fwScript = NftFirewall.script(t, new NftFirewall.Ports(wan, legs), existing);
                if (!existing.equals(NftFirewall.counters(t)) || !fwScript.equals(read(tdir.resolve("firewall.nft")))) {
                    applyNft(fns, tdir.resolve("firewall.nft"), fwScript);
                    changes++;
                }
                // Always (a firewall that does not forward is a silent outage); no process, nearly free.
                if (!firewallFresh) netns.sysctl(fns, List.of(IP_FORWARD));
            }
            String guard = NftPortGuard.script(ports, names.prefix() + "t*");
            if (tenantFresh || !guard.equals(read(tdir.resolve("ports.nft")))) {
                applyNft(tns, tdir.resolve("ports.nft"), guard);
                changes++;
            }
            if (firewall) {
                List<String> dns = dnsmasqCommands(t, fns, legs, freshLegs, firewallFresh, tdir.resolve("dns"));
                batch(null, dns, tdir.resolve("dnsmasq.ip"));
                changes += dns.size();
            }
            if (firewall) removeStaleDnsmasq(t, tdir.resolve("dns"));
            log.info("tenant {}: network converged in {} ms ({} changes, firewall {}, {} peers)", t.tenantId(),
                    (System.nanoTime() - start) / 1_000_000, changes, firewall ? "here" : "elsewhere", role.peers().size());
        }
    }

    /** Applies {@code script} in {@code ns} (nft -f, atomically); {@code file} holds it once it has been applied. */
    private void applyNft(String ns, Path file, String script) {
        Path next = file.resolveSibling(file.getFileName() + ".new");
        write(next, script);
        nft.applyFile(ns, next);
        try {
            Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot move " + next + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void removeTenant(String tenantId) {
        synchronized (lock(tenantId)) {
            Path tdir = tenantDir(tenantId);
            removeFirewall(tenantId, tdir);
            String tns = names.tenantNamespace(tenantId);
            if (Files.exists(NETNS_DIR.resolve(tns))) {
                // Explicitly: a namespace is torn down asynchronously, and its VXLANs would hold their VNIs
                // in the underlay meanwhile (a re-created tenant could not take them back at once).
                vxlans.converge(tns, vxlans.read(tns), List.of(), names::isVxlan, tdir.resolve("vxlan"));
            }
            deleteNamespace(tns);
            FileTrees.delete(tdir);
            log.info("tenant {}: network removed", tenantId);
        }
        locks.remove(tenantId);
    }

    /** Stops the tenant's dnsmasq instances and deletes its firewall namespace (with the veths into it). */
    private void removeFirewall(String tenantId, Path tdir) {
        Path dns = tdir.resolve("dns");
        for (Path d : list(dns)) stopDnsmasq(new Dnsmasq.Instance(d));
        deleteNamespace(names.firewallNamespace(tenantId));
        FileTrees.delete(dns);
        FileTrees.delete(tdir.resolve("firewall.nft"));
    }

    @Override
    public Map<String, RuleCounter> ruleCounters(String tenantId) {
        String fns = names.firewallNamespace(tenantId);
        if (!Files.exists(NETNS_DIR.resolve(fns))) throw new EnclaveException.NotFound("tenant network", tenantId);
        Map<String, RuleCounter> out = new TreeMap<>();
        counterValues(fns).forEach((name, c) -> out.put(NftFirewall.ruleIdOf(name),
                new RuleCounter(NftFirewall.ruleIdOf(name), c.packets(), c.bytes())));
        return out;
    }

    @Override
    public NicAttachment nicAttachment(TenantNetworking tenant, String vmId, String networkId) {
        Nic nic = tenant.nic(vmId, networkId).orElseThrow(() -> new EnclaveException.NotFound("NIC", vmId + "/" + networkId));
        Network net = tenant.network(nic.networkId()).orElseThrow();
        return new NicAttachment(tenant.tenantId(), names.tenantNamespace(tenant.tenantId()),
                new VmNic(net.id(), names.tap(vmId, net.id()), nic.mac(), net.mtu()));
    }

    // ---------------------------------------------------------------- dnsmasq

    /** Commands (for an {@code ip -b} batch) that start or reload each network's dnsmasq as needed. */
    private List<String> dnsmasqCommands(TenantNetworking t, String fns, Map<String, String> legs, Set<String> freshLegs,
            boolean firewallFresh, Path root) {
        List<String> cmds = new ArrayList<>();
        mkdirs(root);
        for (Network n : t.networks()) {
            Dnsmasq.Instance d = new Dnsmasq.Instance(root.resolve(n.id()));
            mkdirs(d.dir());
            boolean confChanged = writeIfChanged(d.conf(), Dnsmasq.conf(n, legs.get(n.id()), d));
            boolean hostsChanged = writeIfChanged(d.dhcpHosts(), Dnsmasq.dhcpHosts(t, n));
            hostsChanged |= writeIfChanged(d.hosts(), Dnsmasq.hosts(t, n));
            Optional<Long> pid = dnsmasqPid(d);
            // bind-interfaces: a re-created leg needs a new dnsmasq.
            if (pid.isPresent() && (confChanged || firewallFresh || freshLegs.contains(n.id()))) {
                stopDnsmasq(d);
                pid = Optional.empty();
            }
            if (pid.isEmpty()) {
                cmds.add("netns exec " + fns + " dnsmasq --conf-file=" + d.conf());
            } else if (hostsChanged) {
                // dnsmasq re-reads dhcp-hosts and hosts on SIGHUP (kill runs in the batch's ip; any netns does).
                cmds.add("netns exec " + fns + " kill -HUP " + pid.get());
            }
        }
        return cmds;
    }

    private void removeStaleDnsmasq(TenantNetworking t, Path root) {
        Set<String> wanted = new HashSet<>();
        t.networks().forEach(n -> wanted.add(n.id()));
        for (Path stale : list(root)) {
            if (wanted.contains(stale.getFileName().toString())) continue;
            stopDnsmasq(new Dnsmasq.Instance(stale));
            FileTrees.delete(stale);
        }
    }

    /** The instance's pid if that process is alive and is this instance's dnsmasq. */
    static Optional<Long> dnsmasqPid(Dnsmasq.Instance d) {
        try {
            if (!Files.exists(d.pid())) return Optional.empty();
            long pid = Long.parseLong(Files.readString(d.pid()).strip());
            Path cmdline = Path.of("/proc", Long.toString(pid), "cmdline");
            if (!Files.exists(cmdline)) return Optional.empty();
            String args = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
            return args.contains("--conf-file=" + d.conf()) ? Optional.of(pid) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static void stopDnsmasq(Dnsmasq.Instance d) {
        dnsmasqPid(d).flatMap(ProcessHandle::of).ifPresent(h -> {
            h.destroy();
            if (!ProcessExit.await(h, Duration.ofSeconds(3))) {
                log.warn("dnsmasq {} (pid {}) ignored SIGTERM for 3 s: killed", d.dir(), h.pid());
                h.destroyForcibly();
            }
        });
    }

    // ---------------------------------------------------------------- kernel state

    private void deleteNamespace(String ns) {
        if (Files.exists(NETNS_DIR.resolve(ns))) runner.runChecked(List.of("ip", "netns", "delete", ns), TIMEOUT);
    }

    Map<String, Link> links(String ns) {
        CommandResult r = runner.runChecked(List.of("ip", "-n", ns, "-j", "-d", "addr", "show"), TIMEOUT);
        try {
            return parseLinks(JSON.readTree(r.stdout().isBlank() ? "[]" : r.stdout()));
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse ip -j output of " + ns + ": " + e.getMessage(), e);
        }
    }

    record FirewallState(Map<String, Link> links, String gateway) {}

    /** The firewall namespace's links and default gateway, read by one ip process. */
    private FirewallState firewallState(String fns, Path tdir) {
        Path reads = tdir.resolve("read.ip");
        writeIfChanged(reads, "addr show\nroute show default\n");
        CommandResult r = runner.runChecked(List.of("ip", "-n", fns, "-j", "-d", "-b", reads.toString()), TIMEOUT);
        try (var parser = JSON.getFactory().createParser(r.stdout())) {
            List<JsonNode> values = JSON.readValues(parser, JsonNode.class).readAll();
            if (values.size() != 2) throw new IllegalStateException("unexpected ip output for " + fns + ": " + r.stdout());
            String gateway = null;
            for (JsonNode route : values.get(1)) if (route.has("gateway")) gateway = route.get("gateway").asText();
            return new FirewallState(parseLinks(values.get(0)), gateway);
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse ip -j output of " + fns + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Link> parseLinks(JsonNode array) {
        Map<String, Link> links = new LinkedHashMap<>();
        for (JsonNode l : array) {
            Set<String> addrs = new LinkedHashSet<>();
            for (JsonNode a : l.path("addr_info")) {
                if ("inet".equals(a.path("family").asText())) addrs.add(a.path("local").asText() + "/" + a.path("prefixlen").asInt());
            }
            boolean up = false;
            for (JsonNode f : l.path("flags")) up |= "UP".equals(f.asText());
            String name = l.path("ifname").asText();
            links.put(name, new Link(name, l.path("linkinfo").path("info_kind").asText(null),
                    l.path("master").asText(null), l.path("mtu").asInt(), up, l.path("address").asText(null), addrs, VxlanPorts.device(l)));
        }
        return links;
    }

    private static void addresses(List<String> cmds, String ifname, Link link, Set<String> wanted) {
        Set<String> have = link == null ? Set.of() : link.addrs();
        for (String a : wanted) if (!have.contains(a)) cmds.add("addr add " + a + " dev " + ifname);
        for (String a : have) if (!wanted.contains(a)) cmds.add("addr del " + a + " dev " + ifname);
    }

    /** Runs {@code cmds} in {@code ns} as one {@code ip -b} batch (kept in {@code file} for a reader). */
    private void batch(String ns, List<String> cmds, Path file) {
        if (cmds.isEmpty()) return;
        write(file, String.join("\n", cmds) + "\n");
        runner.runChecked(ns == null ? List.of("ip", "-b", file.toString()) : List.of("ip", "-n", ns, "-b", file.toString()), TIMEOUT);
    }

    record Counter(long packets, long bytes) {}

    /** The firewall table's named counters (empty if the table does not exist). */
    private Map<String, Counter> counterValues(String fns) {
        Optional<String> listed = nft.json(fns, "list counters table inet " + NftFirewall.TABLE);
        Map<String, Counter> out = new TreeMap<>();
        if (listed.isEmpty()) return out;
        try {
            for (JsonNode item : JSON.readTree(listed.get()).path("nftables")) {
                JsonNode c = item.get("counter");
                if (c != null) out.put(c.path("name").asText(), new Counter(c.path("packets").asLong(), c.path("bytes").asLong()));
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse nft counters of " + fns + ": " + e.getMessage(), e);
        }
        return out;
    }

    // ---------------------------------------------------------------- files

    private Path tenantDir(String tenantId) {
        if (!TenantNetworking.ID.matcher(tenantId).matches()) throw new IllegalArgumentException("bad tenant id " + tenantId);
        return dir.resolve("tenants").resolve(tenantId);
    }

    private Object lock(String tenantId) {
        return locks.computeIfAbsent(tenantId, k -> new Object());
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean writeIfChanged(Path file, String content) {
        if (content.equals(read(file))) return false;
        write(file, content);
        return true;
    }

    private static void write(Path file, String content) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, content);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void mkdirs(Path d) {
        try {
            Files.createDirectories(d);
            Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + d + ": " + e.getMessage(), e);
        }
    }

    private static List<Path> list(Path d) {
        if (!Files.isDirectory(d)) return List.of();
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + d + ": " + e.getMessage(), e);
        }
    }


    @Override
    public List<String> isolateFirewalls() {
        return PublicFence.isolate(runner, names, 'f');
    }

}
