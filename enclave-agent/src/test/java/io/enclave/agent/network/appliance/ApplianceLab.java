package io.enclave.agent.network.appliance;

import io.enclave.agent.network.NamespaceLab;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * What the appliance tests build around the driver: the stand-ins of {@link NamespaceLab}. The tests remove
 * the driver's tenants and public network themselves before {@link #close} (the appliance outlives a test case).
 */
final class ApplianceLab extends NamespaceLab {
    static final Duration T = Duration.ofSeconds(30);

    ApplianceLab(String prefix) throws IOException {
        super(prefix, T);
    }

    @Override
    protected void removeDriverState(List<Throwable> errors) {
        // the tests do it (see the class comment)
    }
}
