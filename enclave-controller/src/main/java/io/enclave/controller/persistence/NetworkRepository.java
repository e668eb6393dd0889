package io.enclave.controller.persistence;

import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

/** Tenant networks and the VM NICs on them. */
public final class NetworkRepository {

    /** A network as stored, with its owner and creation time. */
    public record NetworkRow(String tenantId, Network network, Instant createdAt) {}

    /** A NIC as stored: the domain NIC plus its position on the VM (eth0, eth1 …). */
    public record NicRow(Nic nic, int position) {}

    private static final RowMapper<NetworkRow> NETWORK = (rs, ctx) -> new NetworkRow(rs.getString("tenant_id"),
            new Network(rs.getString("id"), rs.getString("name"), rs.getString("cidr"), rs.getString("gateway"),
                    rs.getInt("mtu"), rs.getInt("vni")),
            Rows.instant(rs, "created_at"));

    private static final RowMapper<NicRow> NIC = (rs, ctx) -> new NicRow(new Nic(rs.getString("vm_id"),
            rs.getString("network_id"), rs.getString("mac"), rs.getString("ip"), rs.getString("hostname")),
            rs.getInt("position"));

    /** Records the network with the next free VNI (its VXLAN segment across hosts); returns the VNI. */
    public int insert(Handle h, String tenantId, Network n, Instant now) {
        int vni = h.createQuery("SELECT next_vni FROM vni_counter WHERE id = 1 FOR UPDATE").mapTo(Integer.class).one();
        h.createUpdate("UPDATE vni_counter SET next_vni = next_vni + 1 WHERE id = 1").execute();
        h.createUpdate("""
                INSERT INTO networks (id, tenant_id, name, cidr, gateway, mtu, vni, created_at)
                VALUES (:id, :t, :name, :cidr, :gw, :mtu, :vni, :now)""")
                .bind("id", n.id()).bind("t", tenantId).bind("name", n.name()).bind("cidr", n.cidr())
                .bind("gw", n.gateway()).bind("mtu", n.mtu()).bind("vni", vni).bind("now", Rows.ts(now)).execute();
        return vni;
    }

    public Optional<NetworkRow> find(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM networks WHERE id = :id AND " + scope.condition("tenant_id")))
                .bind("id", id).map(NETWORK).findOne();
    }

    public List<NetworkRow> list(Handle h, Scope scope) {
        return scope.bind(h.createQuery("SELECT * FROM networks WHERE " + scope.condition("tenant_id") + " ORDER BY name"))
                .map(NETWORK).list();
    }

    public List<Network> ofTenant(Handle h, String tenantId) {
        return h.createQuery("SELECT * FROM networks WHERE tenant_id = :t ORDER BY id").bind("t", tenantId)
                .map(NETWORK).list().stream().map(NetworkRow::network).toList();
    }

    public boolean nameTaken(Handle h, String tenantId, String name) {
        return h.createQuery("SELECT COUNT(*) FROM networks WHERE tenant_id = :t AND name = :n")
                .bind("t", tenantId).bind("n", name).mapTo(Integer.class).one() > 0;
    }

    public void delete(Handle h, String id) {
        h.createUpdate("DELETE FROM networks WHERE id = :id").bind("id", id).execute();
    }

    public void insertNic(Handle h, Nic nic, int position) {
        h.createUpdate("INSERT INTO nics (vm_id, network_id, position, mac, ip) VALUES (:vm, :net, :pos, :mac, :ip)")
                .bind("vm", nic.vmId()).bind("net", nic.networkId()).bind("pos", position).bind("mac", nic.mac())
                .bind("ip", nic.ip()).execute();
    }

    /** The NICs of a tenant's VMs, with the VM name as host name. */
    public List<NicRow> nicsOfTenant(Handle h, String tenantId) {
        return h.createQuery("""
                SELECT n.*, v.name AS hostname FROM nics n JOIN vms v ON v.id = n.vm_id
                WHERE v.tenant_id = :t ORDER BY n.vm_id, n.position""").bind("t", tenantId).map(NIC).list();
    }

    public List<NicRow> nicsOfVm(Handle h, String vmId) {
        return h.createQuery("""
                SELECT n.*, v.name AS hostname FROM nics n JOIN vms v ON v.id = n.vm_id
                WHERE n.vm_id = :vm ORDER BY n.position""").bind("vm", vmId).map(NIC).list();
    }

    /** The NICs of the VMs whose ids lie in [firstVmId, lastVmId] within the scope: one query per page of VMs. */
    public List<NicRow> nicsInRange(Handle h, Scope scope, String firstVmId, String lastVmId) {
        return scope.bind(h.createQuery("SELECT n.*, v.name AS hostname FROM nics n JOIN vms v ON v.id = n.vm_id "
                        + "WHERE v.id >= :first AND v.id <= :last AND " + scope.condition("v.tenant_id")
                        + " ORDER BY n.vm_id, n.position"))
                .bind("first", firstVmId).bind("last", lastVmId).map(NIC).list();
    }

    public List<String> ipsOn(Handle h, String networkId) {
        return h.createQuery("SELECT ip FROM nics WHERE network_id = :n").bind("n", networkId).mapTo(String.class).list();
    }

    public List<String> allMacs(Handle h) {
        return h.createQuery("SELECT mac FROM nics").mapTo(String.class).list();
    }

    public int nicCount(Handle h, String networkId) {
        return h.createQuery("SELECT COUNT(*) FROM nics WHERE network_id = :n").bind("n", networkId)
                .mapTo(Integer.class).one();
    }
}
