package io.enclave.agent.network;

import io.enclave.agent.network.appliance.ApplianceNetworkDriver;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.RuleCounter;
import io.enclave.core.network.TenantNetworking;
import java.util.List;
import java.util.Map;

/**
 * A host's network driver for both firewall forms: each tenant's networking goes to the light driver
 * (namespace + nftables) or to the VM-appliance driver, as its {@link TenantNetworking#firewallForm()}
 * says. The form is chosen with the tenant's first network and does not change afterwards.
 */
public final class FirewallFormsDriver implements NetworkDriver {
    private final LinuxNetworkDriver light;
    private final ApplianceNetworkDriver appliance;

    /** @param appliance null on a host without the appliance image: the "vm" form is then refused */
    public FirewallFormsDriver(LinuxNetworkDriver light, ApplianceNetworkDriver appliance) {
        this.light = light;
        this.appliance = appliance;
    }

    @Override
    public void ensurePublicNetwork(PublicNetwork network) {
        ensurePublicNetwork(network, null);
    }

    @Override
    public void ensurePublicNetwork(PublicNetwork network, List<String> publicPeers) {
        light.ensurePublicNetwork(network, publicPeers);
        if (appliance != null) appliance.ensurePublicNetwork(network, publicPeers);
    }

    @Override
    public void removePublicNetwork() {
        light.removePublicNetwork();
    }

    @Override
    public List<String> isolateFirewalls() {
        List<String> down = new java.util.ArrayList<>(light.isolateFirewalls());
        if (appliance != null) down.addAll(appliance.isolateFirewalls());
        return down;
    }

    @Override
    public void applyTenant(TenantNetworking tenant) {
        driverFor(tenant).applyTenant(tenant);
    }

    @Override
    public void removeTenant(String tenantId) {
        if (appliance != null) appliance.removeTenant(tenantId);
        light.removeTenant(tenantId);
    }

    @Override
    public Map<String, RuleCounter> ruleCounters(String tenantId) {
        if (appliance != null && appliance.appliancePid(tenantId).isPresent()) return appliance.ruleCounters(tenantId);
        return light.ruleCounters(tenantId);
    }

    @Override
    public NicAttachment nicAttachment(TenantNetworking tenant, String vmId, String networkId) {
        return driverFor(tenant).nicAttachment(tenant, vmId, networkId);
    }

    private NetworkDriver driverFor(TenantNetworking tenant) {
        if (!TenantNetworking.APPLIANCE.equals(tenant.firewallForm())) return light;
        if (appliance == null) {
            throw new IllegalStateException("this host has no firewall appliance image: build images/firewall/build.sh");
        }
        return appliance;
    }
}
