package io.enclave.agent.network;

import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A throwaway network lab for tests: a driver with the name prefix "ent3" (or another) and its own data
 * directory, plus the stand-ins of {@link NamespaceLab}. {@link #close} removes all of it, whatever state a
 * test left.
 */
final class NetLab extends NamespaceLab {
    static final String PREFIX = "ent3";
    /** 198.18.0.0/15 is reserved for benchmarks: never a real destination. */
    static final PublicNetwork PUBLIC = new PublicNetwork("198.18.0.0/24", "198.18.0.1");

    final LinuxNetworkDriver driver;
    private final Set<String> tenants = new LinkedHashSet<>();

    NetLab() throws IOException {
        this(new ProcessCommandRunner());
    }

    NetLab(CommandRunner runner) throws IOException {
        this(runner, PREFIX);
    }

    /** A lab whose names all start with {@code prefix}, for tests that may run beside others. */
    NetLab(CommandRunner runner, String prefix) throws IOException {
        super(runner, prefix, Duration.ofSeconds(20));
        driver = new LinuxNetworkDriver(runner, dir.resolve("net"), prefix);
    }

    void apply(TenantNetworking t) {
        tenants.add(t.tenantId());
        driver.applyTenant(t);
    }

    String vm(TenantNetworking t, String vmId, boolean withAddress) {
        return vm(driver, driver.names(), t, vmId, withAddress);
    }

    String external(String ip) {
        return external(driver.names(), PUBLIC, ip);
    }

    @Override
    protected void removeDriverState(List<Throwable> errors) {
        for (String t : tenants) attempt(errors, () -> driver.removeTenant(t));
        attempt(errors, driver::removePublicNetwork);
    }
}
