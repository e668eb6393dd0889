package io.enclave.agent.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.network.HostRole;
import io.enclave.core.network.Network;
import io.enclave.core.network.TenantNetworking;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * VXLAN segments joining a bridge to the same bridge on other hosts. One device per segment, created from
 * the underlay namespace directly into the bridge's namespace ({@code ip -n UNDERLAY link add NAME netns NS
 * type vxlan ...}: the device lives in NS, its UDP socket stays in the underlay, and it never exists under
 * its name in the underlay, so two tenants' devices cannot clash there). Head-end replication: one all-zero
 * FDB entry per peer host (broadcast, multicast and unknown unicast go to every peer); learning fills in
 * the unicast entries.
 */
public final class VxlanPorts {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String FLOOD_MAC = "00:00:00:00:00:00";

    /** A wanted segment: {@code device} on {@code bridge} with flood entries to {@code peers}. */
    public record Segment(String device, String bridge, int vni, int mtu, List<String> peers) {
        public Segment {
            peers = List.copyOf(peers);
        }
    }

    /** An existing VXLAN device as {@code ip -j -d link show} reports it. */
    public record Device(String name, int vni, String local, int port, String master, int mtu, boolean up) {}

    private final CommandRunner runner;
    private final Underlay underlay;

    /** @param underlay null on a single host: only deletions are possible then */
    public VxlanPorts(CommandRunner runner, Underlay underlay) {
        this.runner = runner;
        this.underlay = underlay;
    }

    /**
     * Refuses a role this host cannot take (before anything is applied): peers without an underlay, or
     * this host's own underlay address among the peers (its flood entry would loop every broadcast back).
     */
    public void requireUnderlay(HostRole role) {
        if (underlay != null) {
            if (role.peers().contains(underlay.localAddress())) {
                throw new EnclaveException.InvalidRequest("hostRole.peers", "lists this host's own underlay address " + underlay.localAddress());
            }
            if (role.publicPeers().contains(underlay.localAddress())) {
                throw new EnclaveException.InvalidRequest("hostRole.publicPeers", "lists this host's own underlay address " + underlay.localAddress());
            }
            return;
        }
        if (!role.peers().isEmpty()) {
            throw new EnclaveException.InvalidRequest("hostRole.peers",
                    "this host's agent has no underlay configured, so its networks cannot span hosts");
        }
        if (!role.publicPeers().isEmpty()) {
            throw new EnclaveException.InvalidRequest("hostRole.publicPeers",
                    "this host's agent has no underlay configured, so the public network cannot span hosts");
        }
    }

    /** A tenant's segments on this host: one per network, flooding to the role's peers (none when it has no peers). */
    public static List<Segment> tenantSegments(TenantNetworking t, NetNames names) {
        List<String> peers = t.hostRole().peers();
        if (peers.isEmpty()) return List.of();
        List<Segment> out = new ArrayList<>();
        for (Network n : t.networks()) {
            out.add(new Segment(names.vxlan(n.id()), names.networkBridge(n.id()), n.vni(), n.mtu(), peers));
        }
        return out;
    }

    /** The VXLAN device of one entry of {@code ip -j -d link|addr show}, or null when it is no VXLAN. */
    static Device device(JsonNode link) {
        JsonNode info = link.path("linkinfo");
        if (!"vxlan".equals(info.path("info_kind").asText())) return null;
        JsonNode data = info.path("info_data");
        boolean up = false;
        for (JsonNode f : link.path("flags")) up |= "UP".equals(f.asText());
        return new Device(link.path("ifname").asText(), data.path("id").asInt(), data.path("local").asText(null),
                data.path("port").asInt(), link.path("master").asText(null), link.path("mtu").asInt(), up);
    }

    /** The VXLAN devices in {@code ns} (one read). */
    public Map<String, Device> read(String ns) {
        CommandResult r = runner.runChecked(List.of("ip", "-n", ns, "-j", "-d", "link", "show", "type", "vxlan"), TIMEOUT);
        Map<String, Device> out = new LinkedHashMap<>();
        try {
            for (JsonNode l : JSON.readTree(r.stdout().isBlank() ? "[]" : r.stdout())) {
                Device d = device(l);
                if (d != null) out.put(d.name(), d);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse ip -j output of " + ns + ": " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * Converges the VXLAN devices of {@code ns} that {@code ours} recognises to exactly {@code wanted}:
     * creates the missing ones, re-creates those whose VNI, local address or port differ (none of them can
     * be changed in place), puts them on their bridge with the segment's MTU, converges their flood entries
     * and deletes the others. {@code have} is what exists now (from {@link #read} or the caller's own read).
     *
     * @param workDir where the batch files go (kept for a reader)
     * @return the number of changing commands (0: only reads ran)
     */
    public int converge(String ns, Map<String, Device> have, List<Segment> wanted, Predicate<String> ours, Path workDir) {
        Set<String> wantedNames = new HashSet<>();
        wanted.forEach(s -> wantedNames.add(s.device()));
        List<String> del = new ArrayList<>();
        List<String> create = new ArrayList<>();
        List<String> set = new ArrayList<>();
        Set<String> created = new HashSet<>();
        for (Device d : have.values()) {
            if (ours.test(d.name()) && !wantedNames.contains(d.name())) del.add("link del " + d.name());
        }
        for (Segment s : wanted) {
            if (underlay == null) {
                throw new IllegalStateException("VXLAN " + s.device() + " wanted but this driver has no underlay");
            }
            Device d = have.get(s.device());
            if (d != null && (d.vni() != s.vni() || !underlay.localAddress().equals(d.local()) || d.port() != underlay.port())) {
                del.add("link del " + d.name());
                d = null;
            }
            if (d == null) {
                created.add(s.device());
                create.add("link add " + s.device() + " netns " + ns + " type vxlan id " + s.vni() + " local "
                        + underlay.localAddress() + " dstport " + underlay.port() + " learning");
            }
            if (d == null || !s.bridge().equals(d.master()) || d.mtu() != s.mtu() || !d.up()) {
                set.add("link set " + s.device() + " master " + s.bridge() + " mtu " + s.mtu() + " up");
            }
        }
        boolean anyKept = wanted.stream().anyMatch(s -> !created.contains(s.device()));
        Map<String, Set<String>> flood = anyKept ? floodEntries(ns) : Map.of();
        List<String> fdb = new ArrayList<>();
        for (Segment s : wanted) {
            Set<String> present = created.contains(s.device()) ? Set.of() : flood.getOrDefault(s.device(), Set.of());
            for (String p : s.peers()) if (!present.contains(p)) fdb.add("fdb append " + FLOOD_MAC + " dev " + s.device() + " dst " + p);
            for (String p : present) if (!s.peers().contains(p)) fdb.add("fdb del " + FLOOD_MAC + " dev " + s.device() + " dst " + p);
        }

        mkdirs(workDir);
        run(List.of("ip", "-n", ns), del, workDir.resolve("vxlan-del.ip"));
        run(underlay == null || underlay.namespace() == null ? List.of("ip") : List.of("ip", "-n", underlay.namespace()),
                create, workDir.resolve("vxlan-add.ip"));
        run(List.of("ip", "-n", ns), set, workDir.resolve("vxlan-set.ip"));
        run(List.of("bridge", "-n", ns), fdb, workDir.resolve("vxlan-fdb.bridge"));
        return del.size() + create.size() + set.size() + fdb.size();
    }

    /** Flood (all-zero MAC) entries of every VXLAN device in {@code ns}: device → peer addresses. */
    public Map<String, Set<String>> floodEntries(String ns) {
        CommandResult r = runner.runChecked(List.of("bridge", "-n", ns, "-j", "fdb", "show"), TIMEOUT);
        Map<String, Set<String>> out = new LinkedHashMap<>();
        try {
            for (JsonNode e : JSON.readTree(r.stdout().isBlank() ? "[]" : r.stdout())) {
                if (FLOOD_MAC.equals(e.path("mac").asText()) && e.has("dst")) {
                    out.computeIfAbsent(e.path("ifname").asText(), k -> new LinkedHashSet<>()).add(e.path("dst").asText());
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse bridge -j fdb output of " + ns + ": " + e.getMessage(), e);
        }
        return out;
    }

    private void run(List<String> tool, List<String> cmds, Path file) {
        if (cmds.isEmpty()) return;
        try {
            Files.writeString(file, String.join("\n", cmds) + "\n");
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
        }
        List<String> argv = new ArrayList<>(tool);
        argv.addAll(List.of("-b", file.toString()));
        runner.runChecked(argv, TIMEOUT);
    }

    private static void mkdirs(Path d) {
        try {
            Files.createDirectories(d);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + d + ": " + e.getMessage(), e);
        }
    }
}
