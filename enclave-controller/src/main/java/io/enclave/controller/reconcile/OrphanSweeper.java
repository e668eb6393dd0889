package io.enclave.controller.reconcile;

import io.enclave.controller.persistence.Store;
import io.enclave.core.host.HostAgent;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes from a host every VM that has no record in the store, such as what a crash left half made.
 * The host's list is read before the store's: a VM's record is always committed before anything of it
 * reaches a host, so a VM being created now is never taken for an orphan.
 */
public final class OrphanSweeper {
    private static final Logger log = LoggerFactory.getLogger(OrphanSweeper.class);

    private final Store store;

    public OrphanSweeper(Store store) {
        this.store = store;
    }

    /** Returns the ids removed. */
    public List<String> sweep(HostAgent agent) {
        List<String> onHost = agent.listVms();
        Set<String> known = new HashSet<>(store.jdbi().withHandle(h -> store.vms().idsOnHost(h, agent.info().id())));
        List<String> orphans = onHost.stream().filter(id -> !known.contains(id)).toList();
        for (String id : orphans) {
            try {
                agent.destroy(id);
                log.warn("host {}: removed orphan vm {} (no record in the store)", agent.info().id(), id);
            } catch (RuntimeException e) {
                log.error("host {}: could not remove orphan vm {}: {}", agent.info().id(), id, e.getMessage());
            }
        }
        return orphans;
    }
}
