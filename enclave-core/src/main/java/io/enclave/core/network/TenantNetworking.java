package io.enclave.core.network;

import io.enclave.core.validation.Validator;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Everything about one tenant's networking that a host needs to build it: its networks, its VMs' NICs,
 * its public address and its firewall rules. A host agent converges to exactly this; nothing else is kept.
 */
public record TenantNetworking(String tenantId, String publicIp, List<Network> networks, List<Nic> nics,
        List<IngressRule> ingressRules, List<PortForward> portForwards, List<OneToOneNat> oneToOneNats,
        List<EgressRule> egressRules, String firewallForm, HostRole hostRole) {

    /** The light firewall: a namespace with nftables and dnsmasq (the default). */
    public static final String LIGHT = "light";
    /** The firewall as a QEMU VM appliance running nftables and dnsmasq. */
    public static final String APPLIANCE = "vm";

    /** Networking with the light firewall. */
    public TenantNetworking(String tenantId, String publicIp, List<Network> networks, List<Nic> nics,
            List<IngressRule> ingressRules, List<PortForward> portForwards, List<OneToOneNat> oneToOneNats,
            List<EgressRule> egressRules) {
        this(tenantId, publicIp, networks, nics, ingressRules, portForwards, oneToOneNats, egressRules, LIGHT);
    }

    /** Networking of a tenant that lives on one host. */
    public TenantNetworking(String tenantId, String publicIp, List<Network> networks, List<Nic> nics,
            List<IngressRule> ingressRules, List<PortForward> portForwards, List<OneToOneNat> oneToOneNats,
            List<EgressRule> egressRules, String firewallForm) {
        this(tenantId, publicIp, networks, nics, ingressRules, portForwards, oneToOneNats, egressRules, firewallForm,
                HostRole.SINGLE_HOST);
    }

    /** The same networking as seen by a host with role {@code role}. */
    public TenantNetworking withHostRole(HostRole role) {
        return new TenantNetworking(tenantId, publicIp, networks, nics, ingressRules, portForwards, oneToOneNats,
                egressRules, firewallForm, role);
    }

    /** Ids of tenants, networks, VMs and rules: they become interface, file and nft counter names. */
    public static final Pattern ID = Pattern.compile("[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?");

    public TenantNetworking {
        firewallForm = firewallForm == null ? LIGHT : firewallForm;
        hostRole = hostRole == null ? HostRole.SINGLE_HOST : hostRole;
        if (!firewallForm.equals(LIGHT) && !firewallForm.equals(APPLIANCE)) {
            throw new IllegalArgumentException("firewall form must be light or vm, got " + firewallForm);
        }
        networks = List.copyOf(networks == null ? List.of() : networks);
        nics = List.copyOf(nics == null ? List.of() : nics);
        ingressRules = List.copyOf(ingressRules == null ? List.of() : ingressRules);
        portForwards = List.copyOf(portForwards == null ? List.of() : portForwards);
        oneToOneNats = List.copyOf(oneToOneNats == null ? List.of() : oneToOneNats);
        egressRules = List.copyOf(egressRules == null ? List.of() : egressRules);
    }

    public Optional<Network> network(String networkId) {
        return networks.stream().filter(n -> n.id().equals(networkId)).findFirst();
    }

    /** The VM's NIC on {@code networkId}, or its first NIC when networkId is null. */
    public Optional<Nic> nic(String vmId, String networkId) {
        return nics.stream().filter(n -> n.vmId().equals(vmId) && (networkId == null || n.networkId().equals(networkId)))
                .findFirst();
    }

    /** The tenant's public address and its 1:1 addresses. */
    public List<String> publicIps() {
        List<String> ips = new ArrayList<>();
        ips.add(publicIp);
        oneToOneNats.forEach(n -> ips.add(n.publicIp()));
        return ips;
    }

    /**
     * Checks everything a host could not build or that would break isolation, naming each bad field
     * (for example {@code networks[1].cidr}); throws {@link io.enclave.core.error.EnclaveException.InvalidRequest}.
     */
    public void validate(PublicNetwork pub) {
        Validator v = new Validator();
        id(v, tenantId, "tenantId");
        Cidr pool = pub.parsedCidr();
        publicAddress(v, publicIp, "publicIp", pool, pub.gateway());

        Map<String, Cidr> cidrs = new HashMap<>();
        Set<String> names = new HashSet<>();
        Set<Integer> vnis = new HashSet<>();
        for (int i = 0; i < networks.size(); i++) {
            Network n = networks.get(i);
            String f = "networks[" + i + "]";
            if (id(v, n.id(), f + ".id")) v.require(!cidrs.containsKey(n.id()), f + ".id", "is used twice");
            v.dnsLabel(n.name(), f + ".name");
            if (n.name() != null) v.require(names.add(n.name()), f + ".name", "is used twice: '" + n.name() + "'");
            Cidr cidr = cidr(v, n.cidr(), f + ".cidr");
            if (cidr != null) {
                v.require(cidr.prefixLength() >= 8 && cidr.prefixLength() <= 29, f + ".cidr",
                        "must have a prefix length between /8 and /29 (got " + n.cidr() + ")");
                for (Map.Entry<String, Cidr> other : cidrs.entrySet()) {
                    if (other.getValue() != null && other.getValue().overlaps(cidr)) {
                        v.require(false, f + ".cidr", n.cidr() + " overlaps " + other.getValue() + " of network " + other.getKey());
                    }
                }
                if (v.present(n.gateway(), f + ".gateway")) {
                    v.require(Ipv4.isValid(n.gateway()) && cidr.isHost(Ipv4.parse(n.gateway())), f + ".gateway",
                            "must be a host address in " + n.cidr() + " (got '" + n.gateway() + "')");
                }
            }
            if (n.id() != null) cidrs.putIfAbsent(n.id(), cidr);
            v.require(n.mtu() >= 576 && n.mtu() <= 9000, f + ".mtu", "must be between 576 and 9000 (got " + n.mtu() + ")");
            if (n.vni() != null) {
                // VNI 1 is the public network's segment (PublicNetwork.VNI).
                v.require(n.vni() > PublicNetwork.VNI && n.vni() <= 16_777_215, f + ".vni",
                        "must be between 2 and 16777215 (got " + n.vni() + ")");
                v.require(vnis.add(n.vni()), f + ".vni", "is used twice: " + n.vni());
            } else if (!hostRole.peers().isEmpty()) {
                v.require(false, f + ".vni", "is required when the network spans hosts (hostRole.peers is not empty)");
            }
        }

        Set<String> macs = new HashSet<>();
        Set<String> ips = new HashSet<>();
        Set<String> vmNets = new HashSet<>();
        Map<String, String> vmByHostname = new HashMap<>();
        for (int i = 0; i < nics.size(); i++) {
            Nic nic = nics.get(i);
            String f = "nics[" + i + "]";
            id(v, nic.vmId(), f + ".vmId");
            Network net = nic.networkId() == null ? null : network(nic.networkId()).orElse(null);
            v.require(net != null, f + ".networkId", "is not a network of this tenant: '" + nic.networkId() + "'");
            v.require(vmNets.add(nic.vmId() + "/" + nic.networkId()), f, "the VM has two NICs on network " + nic.networkId());
            if (v.present(nic.mac(), f + ".mac")) {
                v.require(Macs.isValidUnicast(nic.mac()), f + ".mac", "must be a lower-case unicast MAC such as 52:54:00:12:34:56 (got '" + nic.mac() + "')");
                v.require(macs.add(nic.mac()), f + ".mac", "is used twice: " + nic.mac());
            }
            if (v.present(nic.ip(), f + ".ip")) {
                Cidr cidr = net == null ? null : cidrs.get(net.id());
                boolean ok = Ipv4.isValid(nic.ip()) && (cidr == null || cidr.isHost(Ipv4.parse(nic.ip())));
                v.require(ok, f + ".ip", "must be a host address in the network's CIDR" + (net == null ? "" : " " + net.cidr())
                        + " (got '" + nic.ip() + "')");
                if (ok && net != null) {
                    v.require(!nic.ip().equals(net.gateway()), f + ".ip", "is the network's gateway " + net.gateway());
                    v.require(ips.add(net.id() + "/" + nic.ip()), f + ".ip", "is used twice on network " + net.id() + ": " + nic.ip());
                }
            }
            v.dnsLabel(nic.hostname(), f + ".hostname");
            if (nic.hostname() != null && nic.vmId() != null) {
                String owner = vmByHostname.putIfAbsent(nic.hostname(), nic.vmId());
                v.require(owner == null || owner.equals(nic.vmId()), f + ".hostname",
                        "'" + nic.hostname() + "' is the name of VM " + owner);
            }
        }

        Set<String> ruleIds = new HashSet<>();
        for (int i = 0; i < ingressRules.size(); i++) {
            IngressRule r = ingressRules.get(i);
            String f = "ingressRules[" + i + "]";
            ruleId(v, r.id(), f, ruleIds);
            ports(v, r.protocol(), r.portFrom(), r.portTo(), f);
            if (r.sourceCidr() != null) cidr(v, r.sourceCidr(), f + ".sourceCidr");
            v.require(r.publicIp() == null || oneToOneNats.stream().anyMatch(n -> r.publicIp().equals(n.publicIp())),
                    f + ".publicIp", "must be one of the tenant's 1:1 public addresses (got '" + r.publicIp() + "')");
        }
        Set<String> forwarded = new HashSet<>();
        for (int i = 0; i < portForwards.size(); i++) {
            PortForward p = portForwards.get(i);
            String f = "portForwards[" + i + "]";
            ruleId(v, p.id(), f, ruleIds);
            v.require(p.protocol() == Protocol.TCP || p.protocol() == Protocol.UDP, f + ".protocol", "must be tcp or udp");
            port(v, p.publicPort(), f + ".publicPort");
            port(v, p.targetPort(), f + ".targetPort");
            v.require(forwarded.add(p.protocol() + "/" + p.publicPort()), f + ".publicPort",
                    "is already forwarded: " + p.protocol() + " " + p.publicPort());
            v.require(p.vmId() != null && nic(p.vmId(), p.networkId()).isPresent(), f + ".vmId",
                    "is not a VM on " + (p.networkId() == null ? "one of this tenant's networks" : "network " + p.networkId())
                            + ": '" + p.vmId() + "'");
            if (p.sourceCidr() != null) cidr(v, p.sourceCidr(), f + ".sourceCidr");
        }
        Set<String> natIps = new HashSet<>();
        Set<String> natNics = new HashSet<>();
        for (int i = 0; i < oneToOneNats.size(); i++) {
            OneToOneNat n = oneToOneNats.get(i);
            String f = "oneToOneNats[" + i + "]";
            ruleId(v, n.id(), f, ruleIds);
            if (publicAddress(v, n.publicIp(), f + ".publicIp", pool, pub.gateway())) {
                v.require(!n.publicIp().equals(publicIp), f + ".publicIp", "is the tenant's own public address");
                v.require(natIps.add(n.publicIp()), f + ".publicIp", "is used twice: " + n.publicIp());
            }
            Optional<Nic> target = n.vmId() == null ? Optional.empty() : nic(n.vmId(), n.networkId());
            v.require(target.isPresent(), f + ".vmId", "is not a VM on " + (n.networkId() == null
                    ? "one of this tenant's networks" : "network " + n.networkId()) + ": '" + n.vmId() + "'");
            target.ifPresent(t -> v.require(natNics.add(t.vmId() + "/" + t.networkId()), f + ".vmId",
                    "the NIC already has a 1:1 address"));
        }
        for (int i = 0; i < egressRules.size(); i++) {
            EgressRule r = egressRules.get(i);
            String f = "egressRules[" + i + "]";
            ruleId(v, r.id(), f, ruleIds);
            ports(v, r.protocol(), r.portFrom(), r.portTo(), f);
            if (r.destinationCidr() != null) cidr(v, r.destinationCidr(), f + ".destinationCidr");
        }
        v.throwIfInvalid();
    }

    private static boolean id(Validator v, String id, String field) {
        if (!v.present(id, field)) return false;
        boolean ok = ID.matcher(id).matches();
        v.require(ok, field, "must be 1-40 characters of a-z, 0-9 and '-' (got '" + id + "')");
        return ok;
    }

    private static void ruleId(Validator v, String id, String field, Set<String> seen) {
        if (id(v, id, field + ".id")) v.require(seen.add(id), field + ".id", "is used by another rule: '" + id + "'");
    }

    private static Cidr cidr(Validator v, String text, String field) {
        if (!v.present(text, field)) return null;
        try {
            return Cidr.parse(text);
        } catch (IllegalArgumentException e) {
            v.require(false, field, "must be an IPv4 CIDR such as 10.0.0.0/24: " + e.getMessage());
            return null;
        }
    }

    private static boolean publicAddress(Validator v, String ip, String field, Cidr pool, String gateway) {
        if (!v.present(ip, field)) return false;
        boolean ok = Ipv4.isValid(ip) && pool.isHost(Ipv4.parse(ip)) && !ip.equals(gateway);
        v.require(ok, field, "must be an address of the public pool " + pool + " other than its gateway (got '" + ip + "')");
        return ok;
    }

    private static void port(Validator v, Integer port, String field) {
        if (v.present(port, field)) v.require(port >= 1 && port <= 65535, field, "must be between 1 and 65535 (got " + port + ")");
    }

    private static void ports(Validator v, Protocol protocol, Integer from, Integer to, String field) {
        if (!v.present(protocol, field + ".protocol")) return;
        if (protocol.hasPorts()) {
            port(v, from, field + ".portFrom");
            port(v, to, field + ".portTo");
            if (from != null && to != null) v.require(from <= to, field + ".portTo", "must not be below portFrom");
        } else {
            v.require(from == null && to == null, field + ".portFrom", "ports apply only to tcp and udp");
        }
    }
}
