package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.Store;
import io.enclave.core.host.HostAgent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes from a host what it should not hold: a VM with no record in the store (what a crash left half
 * made) is destroyed; a VM whose record says it lives on another host (left behind by a migration, or
 * still running on a host that was fenced while its VM was restarted elsewhere) is released, which never
 * touches a disk on shared storage. The host's list is read before the store's: a VM's record is always
 * committed before anything of it reaches a host, so a VM being created now is never taken for an orphan.
 * VMs a migration owns are left alone.
 */
public final class OrphanSweeper {
    private static final Logger log = LoggerFactory.getLogger(OrphanSweeper.class);

    private final Store store;
    private final Predicate<String> busy;

    public OrphanSweeper(Store store) {
        this(store, vmId -> false);
    }

    public OrphanSweeper(Store store, Predicate<String> busy) {
        this.store = store;
        this.busy = busy;
    }

    /** Returns the ids destroyed or released. */
    public List<String> sweep(HostAgent agent) {
        String hostId = agent.info().id();
        List<String> onHost = agent.listVms();
        Map<String, String> homes = store.jdbi().withHandle(h -> store.vms().hostsOf(h, onHost));
        List<String> removed = new ArrayList<>();
        for (String id : onHost) {
            String home = homes.get(id);
            if (hostId.equals(home) || busy.test(id)) continue;
            try {
                if (home == null) {
                    agent.destroy(id);
                    log.warn("host {}: removed orphan vm {} (no record in the store)", hostId, id);
                } else {
                    agent.release(id);
                    log.warn("host {}: released vm {}, which lives on host {} now", hostId, id, home);
                }
                removed.add(id);
            } catch (RuntimeException e) {
                log.error("host {}: could not remove vm {}: {}", hostId, id, e.getMessage());
            }
        }
        return removed;
    }

    /** Whether the host holds nothing but its own VMs (and VMs a migration owns). */
    public boolean holdsOnlyItsOwn(HostAgent agent) {
        String hostId = agent.info().id();
        List<String> onHost = agent.listVms();
        Map<String, String> homes = store.jdbi().withHandle(h -> store.vms().hostsOf(h, onHost));
        return onHost.stream().allMatch(id -> hostId.equals(homes.get(id)) || busy.test(id));
    }
}
