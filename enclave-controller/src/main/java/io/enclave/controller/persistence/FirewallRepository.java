package io.enclave.controller.persistence;

import io.enclave.core.network.PublicNetwork;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.mapper.RowMapper;

/** The public network, each tenant's firewall, and its rules. */
public final class FirewallRepository {

    /** A tenant's firewall: its public address, form, and which generation of its networking is applied. */
    public record FirewallRow(String tenantId, String publicIp, String form, long generation, long observedGeneration,
            String phase, String message, Instant createdAt, String hostId) {}

    /** One rule of any kind; fields a kind does not use are null. */
    public record RuleRow(String id, String tenantId, String kind, String protocol, Integer portFrom, Integer portTo,
            String sourceCidr, String destinationCidr, Integer publicPort, String vmId, String networkId,
            Integer targetPort, String publicIp, Instant createdAt) {}

    private static final RowMapper<FirewallRow> FIREWALL = (rs, ctx) -> new FirewallRow(rs.getString("tenant_id"),
            rs.getString("public_ip"), rs.getString("form"), rs.getLong("generation"), rs.getLong("observed_generation"),
            rs.getString("phase"), rs.getString("message"), Rows.instant(rs, "created_at"), rs.getString("host_id"));

    private static final RowMapper<RuleRow> RULE = (rs, ctx) -> new RuleRow(rs.getString("id"), rs.getString("tenant_id"),
            rs.getString("kind"), rs.getString("protocol"), (Integer) rs.getObject("port_from"),
            (Integer) rs.getObject("port_to"), rs.getString("source_cidr"), rs.getString("destination_cidr"),
            (Integer) rs.getObject("public_port"), rs.getString("vm_id"), rs.getString("network_id"),
            (Integer) rs.getObject("target_port"), rs.getString("public_ip"), Rows.instant(rs, "created_at"));

    public Optional<PublicNetwork> publicNetwork(Handle h) {
        return h.createQuery("SELECT * FROM public_network WHERE id = 'public'")
                .map((rs, ctx) -> new PublicNetwork(rs.getString("cidr"), rs.getString("gateway"), rs.getString("uplink"),
                        rs.getInt("mtu"))).findOne();
    }

    public void savePublicNetwork(Handle h, PublicNetwork p) {
        h.createUpdate("DELETE FROM public_network WHERE id = 'public'").execute();
        h.createUpdate("INSERT INTO public_network (id, cidr, gateway, uplink, mtu) VALUES ('public', :c, :g, :u, :m)")
                .bind("c", p.cidr()).bind("g", p.gateway()).bind("u", p.uplink()).bind("m", p.mtu()).execute();
    }

    /** Every public address handed out: tenant firewalls' and 1:1 NATs'. */
    public List<String> usedPublicIps(Handle h) {
        return h.createQuery("SELECT public_ip FROM firewalls UNION SELECT public_ip FROM firewall_rules "
                + "WHERE public_ip IS NOT NULL").mapTo(String.class).list();
    }

    public Optional<FirewallRow> find(Handle h, Scope scope, String tenantId) {
        return scope.bind(h.createQuery("SELECT * FROM firewalls WHERE tenant_id = :t AND " + scope.condition("tenant_id")))
                .bind("t", tenantId).map(FIREWALL).findOne();
    }

    public List<String> tenantsWithFirewall(Handle h) {
        return h.createQuery("SELECT tenant_id FROM firewalls ORDER BY tenant_id").mapTo(String.class).list();
    }

    public void insert(Handle h, String tenantId, String publicIp, String form, Instant now) {
        h.createUpdate("""
                INSERT INTO firewalls (tenant_id, public_ip, form, generation, observed_generation, phase, created_at)
                VALUES (:t, :ip, :form, 1, 0, 'pending', :now)""")
                .bind("t", tenantId).bind("ip", publicIp).bind("form", form).bind("now", Rows.ts(now)).execute();
    }

    /** Puts the tenant's firewall on a host (it is rebuilt there from the store on the next apply). */
    public void placeOn(Handle h, String tenantId, String hostId) {
        h.createUpdate("UPDATE firewalls SET host_id = :h WHERE tenant_id = :t").bind("t", tenantId).bind("h", hostId).execute();
    }

    /** Records that something the tenant's networking is built from changed; returns the new generation. */
    public long bump(Handle h, String tenantId) {
        h.createUpdate("UPDATE firewalls SET generation = generation + 1 WHERE tenant_id = :t").bind("t", tenantId).execute();
        return h.createQuery("SELECT generation FROM firewalls WHERE tenant_id = :t").bind("t", tenantId)
                .mapTo(Long.class).findOne().orElse(0L);
    }

    public void recordObserved(Handle h, String tenantId, long generation, String phase, String message) {
        h.createUpdate("""
                UPDATE firewalls SET phase = :p, message = :m,
                  observed_generation = CASE WHEN observed_generation < :g THEN :g ELSE observed_generation END
                WHERE tenant_id = :t""")
                .bind("t", tenantId).bind("g", generation).bind("p", phase).bind("m", message).execute();
    }

    public void delete(Handle h, String tenantId) {
        h.createUpdate("DELETE FROM firewalls WHERE tenant_id = :t").bind("t", tenantId).execute();
    }

    public void insertRule(Handle h, RuleRow r) {
        h.createUpdate("""
                INSERT INTO firewall_rules (id, tenant_id, kind, protocol, port_from, port_to, source_cidr,
                  destination_cidr, public_port, vm_id, network_id, target_port, public_ip, created_at)
                VALUES (:id, :tenantId, :kind, :protocol, :portFrom, :portTo, :sourceCidr, :destinationCidr,
                  :publicPort, :vmId, :networkId, :targetPort, :publicIp, :created)""")
                .bindMethods(r).bind("created", Rows.ts(r.createdAt())).execute();
    }

    public List<RuleRow> rules(Handle h, String tenantId) {
        return h.createQuery("SELECT * FROM firewall_rules WHERE tenant_id = :t ORDER BY created_at, id")
                .bind("t", tenantId).map(RULE).list();
    }

    public Optional<RuleRow> rule(Handle h, Scope scope, String id) {
        return scope.bind(h.createQuery("SELECT * FROM firewall_rules WHERE id = :id AND " + scope.condition("tenant_id")))
                .bind("id", id).map(RULE).findOne();
    }

    public void deleteRule(Handle h, String id) {
        h.createUpdate("DELETE FROM firewall_rules WHERE id = :id").bind("id", id).execute();
    }
}
