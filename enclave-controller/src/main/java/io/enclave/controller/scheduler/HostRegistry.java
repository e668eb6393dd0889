package io.enclave.controller.scheduler;

import io.enclave.core.host.HostAgent;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The host agents this controller can reach, by host id. */
public final class HostRegistry {
    private final Map<String, HostAgent> agents = new ConcurrentHashMap<>();

    public void register(HostAgent agent) {
        agents.put(agent.info().id(), agent);
    }

    public Optional<HostAgent> get(String hostId) {
        return Optional.ofNullable(agents.get(hostId));
    }

    public Collection<HostAgent> all() {
        return agents.values();
    }
}
